// LatencyHistogram: durations in nanoseconds, with percentiles to within 1%.
//
// Log-linear buckets in the manner of HdrHistogram: exact below 256 ns, then 128 buckets per
// power of two, so every recorded value is reported within 0.8% and a histogram is a fixed 64 KiB
// however long the run (a 60 s run at 100 k requests/s would otherwise keep 6 M samples).
// min, max and the mean are exact. Merge() adds another thread's histogram. Not thread-safe:
// each worker thread records into its own and the main thread merges them at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace portcullis::bench {

class LatencyHistogram {
 public:
  LatencyHistogram();

  void Record(uint64_t ns);
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  uint64_t min_ns() const { return count_ == 0 ? 0 : min_; }
  uint64_t max_ns() const { return max_; }
  double mean_ns() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }
  // The value at percentile p (0 < p <= 100): the smallest recorded value such that p% of
  // the values are at most it, to within a bucket (reported as the bucket's midpoint, clamped
  // to [min, max]). 0 for an empty histogram.
  uint64_t Percentile(double p) const;

 private:
  static constexpr int kSubBits = 7;  // 128 buckets per power of two
  static size_t IndexOf(uint64_t ns);
  static uint64_t LowOf(size_t index);
  static uint64_t HighOf(size_t index);

  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  // Sum in ns: overflows only after 584 years of summed latency.
  uint64_t sum_ = 0;
};

}  // namespace portcullis::bench
