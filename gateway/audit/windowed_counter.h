// WindowedCounter: counts events per subject (a peer address, an identity) over a sliding
// window and says when a subject's count reaches a threshold — once per window, never once
// per event, so a flood of events yields one report per window (DESIGN §5, anomaly detectors).
//
// The sliding window is approximated with two fixed windows, the current one and the one
// before it, weighted by how much of the previous window still lies inside the last
// `window_s` seconds (the "sliding window counter" of Cloudflare's and nginx's rate limiters):
//   estimate = current_count + previous_count * (1 - elapsed_in_current / window_s)
// It costs two counters per subject whatever the threshold, and unlike plain fixed windows it
// catches a burst that straddles a window boundary. A subject's windows start at its first
// event and stay aligned to it. With every event inside one window the estimate is the exact
// count, so a detector fires exactly at its threshold.
//
// Memory is bounded: at most `max_subjects` subjects are tracked. When the table is full,
// subjects whose windows have both passed are swept out (at most once per window_s, so a full
// table of live subjects costs no scan per event), and the events of subjects that still find
// no room are counted under one shared overflow subject, so a flood spread over many
// addresses is still reported, as subject kOverflowSubject.
//
// Time is passed in by the caller (seconds, monotonic); there is no clock inside, so tests
// are deterministic. Time going backwards counts as no time passing.
// Not thread-safe: the owner (AnomalyMonitor) holds a lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace portcullis::audit {

class WindowedCounter {
 public:
  static constexpr std::string_view kOverflowSubject = "*";
  // Distinct samples counted per subject and window (what was denied, which malformation,
  // ...), each cut to kMaxSampleBytes: enough to tell an operator what the burst was made of.
  // Samples past the first kMaxSamples distinct ones are counted in the total only.
  static constexpr size_t kMaxSamples = 5;
  static constexpr size_t kMaxSampleBytes = 160;

  // What Add() reports when a subject's count reaches the threshold.
  struct Burst {
    std::string subject;
    uint64_t count = 0;                  // events in the last window_s (the weighted estimate)
    uint64_t current_window_count = 0;   // events since the current fixed window began
    uint64_t previous_window_count = 0;  // events in the fixed window before it
    // The current window's distinct samples with their counts, in order of first appearance.
    std::vector<std::pair<std::string, uint64_t>> samples;
    bool overflow = false;  // subject is kOverflowSubject: the table was full
  };

  // threshold == 0 disables the counter (Add never reports). window_s <= 0 is taken as 1.
  WindowedCounter(uint32_t threshold, double window_s, size_t max_subjects);

  // Counts one event of `subject` at `now_s`; `sample` (may be empty) is kept for the report.
  // Returns a Burst the first time in a window that the count reaches the threshold.
  std::optional<Burst> Add(std::string_view subject, double now_s, std::string_view sample = {});

  uint32_t threshold() const { return threshold_; }
  double window_s() const { return window_s_; }
  size_t max_subjects() const { return max_subjects_; }
  // Subjects tracked now (the overflow subject not included).
  size_t size() const { return subjects_.size(); }

 private:
  struct Window {
    double start = 0;  // start of the current fixed window
    uint64_t current = 0;
    uint64_t previous = 0;
    bool fired = false;  // reported in the current fixed window
    std::vector<std::pair<std::string, uint64_t>> samples;
  };

  // Moves `w` forward to the fixed window holding `now_s`.
  void Advance(Window& w, double now_s) const;
  // True once both of w's windows lie entirely before now_s: it counts for nothing any more.
  bool Expired(const Window& w, double now_s) const;
  void Sweep(double now_s);
  std::optional<Burst> Count(Window& w, std::string_view subject, double now_s,
                             std::string_view sample, bool overflow);

  uint32_t threshold_;
  double window_s_;
  size_t max_subjects_;
  std::unordered_map<std::string, Window> subjects_;
  Window overflow_;
  bool overflow_started_ = false;
  std::optional<double> last_sweep_s_;
};

}  // namespace portcullis::audit
