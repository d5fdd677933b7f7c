#include "bench/harness/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace portcullis::bench {
namespace {

// Values below 2^(kSubBits+1) have their own bucket; above, a value v with highest bit b falls in
// group g = b - kSubBits, where v >> g lies in [2^kSubBits, 2^(kSubBits+1)): index g*2^kSubBits +
// (v >> g). The groups are contiguous, and 64-bit values need fewer than 64 * 2^kSubBits buckets.
constexpr size_t kBuckets = size_t{64} << 7;

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBuckets, 0) {}

size_t LatencyHistogram::IndexOf(uint64_t ns) {
  if (ns < (uint64_t{1} << (kSubBits + 1))) {
    return static_cast<size_t>(ns);
  }
  int top = 63 - std::countl_zero(ns);
  int group = top - kSubBits;
  return (static_cast<size_t>(group) << kSubBits) + static_cast<size_t>(ns >> group);
}

uint64_t LatencyHistogram::LowOf(size_t index) {
  if (index < (size_t{1} << (kSubBits + 1))) {
    return index;
  }
  size_t group = (index >> kSubBits) - 1;
  uint64_t mantissa = index - (group << kSubBits);
  return mantissa << group;
}

uint64_t LatencyHistogram::HighOf(size_t index) {
  if (index < (size_t{1} << (kSubBits + 1))) {
    return index;
  }
  size_t group = (index >> kSubBits) - 1;
  uint64_t mantissa = index - (group << kSubBits);
  return ((mantissa + 1) << group) - 1;
}

void LatencyHistogram::Record(uint64_t ns) {
  ++buckets_[IndexOf(ns)];
  ++count_;
  min_ = std::min(min_, ns);
  max_ = std::max(max_, ns);
  sum_ += ns;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) {
    buckets_[i] += other.buckets_[i];
  }
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

uint64_t LatencyHistogram::Percentile(double p) const {
  if (count_ == 0) {
    return 0;
  }
  p = std::clamp(p, 0.0, 100.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      uint64_t mid = LowOf(i) + (HighOf(i) - LowOf(i)) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace portcullis::bench
