#include "gateway/audit/windowed_counter.h"

#include <algorithm>
#include <cmath>

namespace portcullis::audit {

namespace {

// Guards the comparison against rounding in the weighted estimate (10 * (1 - 0.0) is exact,
// but 3 * (1 - 2/3) need not be).
constexpr double kEpsilon = 1e-9;

}  // namespace

WindowedCounter::WindowedCounter(uint32_t threshold, double window_s, size_t max_subjects)
    : threshold_(threshold),
      window_s_(window_s > 0 ? window_s : 1.0),
      max_subjects_(max_subjects) {}

void WindowedCounter::Advance(Window& w, double now_s) const {
  double elapsed = now_s - w.start;
  if (!(elapsed >= window_s_)) {  // also false for NaN and for time going backwards
    return;
  }
  double windows = std::floor(elapsed / window_s_);
  w.previous = windows < 2 ? w.current : 0;
  w.current = 0;
  w.start += windows * window_s_;
  w.fired = false;
  w.samples.clear();
}

bool WindowedCounter::Expired(const Window& w, double now_s) const {
  return now_s - w.start >= 2 * window_s_;
}

void WindowedCounter::Sweep(double now_s) {
  last_sweep_s_ = now_s;
  std::erase_if(subjects_, [&](const auto& entry) { return Expired(entry.second, now_s); });
}

std::optional<WindowedCounter::Burst> WindowedCounter::Add(std::string_view subject, double now_s,
                                                           std::string_view sample) {
  if (threshold_ == 0) {
    return std::nullopt;
  }
  auto it = subjects_.find(std::string(subject));
  if (it == subjects_.end()) {
    if (subjects_.size() >= max_subjects_ &&
        (!last_sweep_s_ || !(now_s - *last_sweep_s_ < window_s_))) {
      Sweep(now_s);
    }
    if (subjects_.size() >= max_subjects_) {
      if (!overflow_started_) {
        overflow_started_ = true;
        overflow_.start = now_s;
      }
      return Count(overflow_, kOverflowSubject, now_s, sample, /*overflow=*/true);
    }
    Window fresh;
    fresh.start = now_s;
    it = subjects_.emplace(std::string(subject), std::move(fresh)).first;
  }
  return Count(it->second, subject, now_s, sample, /*overflow=*/false);
}

std::optional<WindowedCounter::Burst> WindowedCounter::Count(Window& w, std::string_view subject,
                                                             double now_s, std::string_view sample,
                                                             bool overflow) {
  Advance(w, now_s);
  ++w.current;
  if (!sample.empty()) {
    std::string_view cut = sample.substr(0, kMaxSampleBytes);
    auto it = std::find_if(w.samples.begin(), w.samples.end(),
                           [&](const auto& s) { return s.first == cut; });
    if (it != w.samples.end()) {
      ++it->second;
    } else if (w.samples.size() < kMaxSamples) {
      w.samples.emplace_back(std::string(cut), 1);
    }
  }
  if (w.fired) {
    return std::nullopt;
  }
  double into_window = std::clamp((now_s - w.start) / window_s_, 0.0, 1.0);
  if (std::isnan(into_window)) {
    into_window = 0;
  }
  double estimate = static_cast<double>(w.current) +
                    static_cast<double>(w.previous) * (1.0 - into_window) + kEpsilon;
  if (estimate < threshold_) {
    return std::nullopt;
  }
  w.fired = true;
  Burst burst;
  burst.subject = std::string(subject);
  burst.count = static_cast<uint64_t>(std::floor(estimate));
  burst.current_window_count = w.current;
  burst.previous_window_count = w.previous;
  burst.samples = w.samples;
  burst.overflow = overflow;
  return burst;
}

}  // namespace portcullis::audit
