// PrometheusText: builds a /metrics page in the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): "# HELP" and "# TYPE" once
// per family, then its samples, each `name{label="value",...} value`.
//
// Label values and help texts are escaped here (label values: backslash, double quote and
// newline; help: backslash and newline), so certificate subjects or upstream names cannot
// break a line. Families must not repeat: the caller writes each family's samples together.
// A plain value builder; not thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portcullis::admin {

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

// `text` as a label value: \ → \\, " → \", newline → \n.
std::string EscapeLabelValue(std::string_view text);
// `text` as a HELP docstring: \ → \\, newline → \n.
std::string EscapeHelp(std::string_view text);
// A sample value: integers exactly, other numbers in their shortest round-trip form,
// and NaN, +Inf, -Inf as the format spells them.
std::string FormatValue(double value);

class PrometheusText {
 public:
  // The Content-Type of the page.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // Starts a family: its HELP and TYPE lines. `type` is "counter", "gauge" or "histogram".
  void Family(std::string_view name, std::string_view type, std::string_view help);
  // One sample of the current family (`name` may carry a suffix such as _bucket).
  void Sample(std::string_view name, const Labels& labels, uint64_t value);
  void Sample(std::string_view name, const Labels& labels, int64_t value);
  void Sample(std::string_view name, const Labels& labels, double value);
  // The samples of one histogram: cumulative _bucket lines (le = each bound in seconds, then
  // "+Inf"), _sum (seconds) and _count. `counts` are per bucket, not cumulative, with one
  // more entry than `bounds_us` (the +Inf bucket).
  void Histogram(std::string_view name, const Labels& labels, std::span<const uint64_t> bounds_us,
                 std::span<const uint64_t> counts, uint64_t sum_us);

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void AppendLabels(const Labels& labels);
  std::string out_;
};

}  // namespace portcullis::admin
