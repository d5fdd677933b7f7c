// The Prometheus text exposition: escaping, number formatting, families, histograms.
#include "gateway/admin/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace portcullis::admin {
namespace {

TEST(PrometheusText, EscapesBackslashQuoteAndNewlineInLabelValues) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue(R"(CN=a\,b "quoted")"), R"(CN=a\\,b \"quoted\")");
  EXPECT_EQ(EscapeLabelValue("two\nlines"), "two\\nlines");
  EXPECT_EQ(EscapeLabelValue(""), "");
}

TEST(PrometheusText, EscapesBackslashAndNewlineButNotQuotesInHelp) {
  EXPECT_EQ(EscapeHelp(R"(say "hi" \ bye)"), R"(say "hi" \\ bye)");
  EXPECT_EQ(EscapeHelp("a\nb"), "a\\nb");
}

TEST(PrometheusText, FormatsNumbersAsTheFormatSpellsThem) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(0.0005), "0.0005");
  EXPECT_EQ(FormatValue(1.5), "1.5");
  EXPECT_EQ(FormatValue(10), "10");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
}

TEST(PrometheusText, WritesHelpTypeAndSamples) {
  PrometheusText out;
  out.Family("portcullis_things_total", "counter", "Things.\nCounted.");
  out.Sample("portcullis_things_total", {}, uint64_t{3});
  out.Sample("portcullis_things_total", {{"kind", "a\"b"}, {"upstream", "x"}},
             uint64_t{18446744073709551615u});
  out.Family("portcullis_left_seconds", "gauge", "Left.");
  out.Sample("portcullis_left_seconds", {{"role", "server"}}, int64_t{-5});
  out.Sample("portcullis_left_seconds", {}, 2.25);
  EXPECT_EQ(out.text(),
            "# HELP portcullis_things_total Things.\\nCounted.\n"
            "# TYPE portcullis_things_total counter\n"
            "portcullis_things_total 3\n"
            "portcullis_things_total{kind=\"a\\\"b\",upstream=\"x\"} 18446744073709551615\n"
            "# HELP portcullis_left_seconds Left.\n"
            "# TYPE portcullis_left_seconds gauge\n"
            "portcullis_left_seconds{role=\"server\"} -5\n"
            "portcullis_left_seconds 2.25\n");
}

TEST(PrometheusText, HistogramBucketsAreCumulativeAndCountEqualsInf) {
  PrometheusText out;
  const std::vector<uint64_t> bounds = {500, 1000, 2000000};
  const std::vector<uint64_t> counts = {1, 0, 2, 4};  // the last is (2 s, +Inf)
  out.Family("portcullis_request_duration_seconds", "histogram", "Latency.");
  out.Histogram("portcullis_request_duration_seconds", {{"upstream", "a"}}, bounds, counts,
                12500000);
  EXPECT_EQ(out.text(),
            "# HELP portcullis_request_duration_seconds Latency.\n"
            "# TYPE portcullis_request_duration_seconds histogram\n"
            "portcullis_request_duration_seconds_bucket{upstream=\"a\",le=\"0.0005\"} 1\n"
            "portcullis_request_duration_seconds_bucket{upstream=\"a\",le=\"0.001\"} 1\n"
            "portcullis_request_duration_seconds_bucket{upstream=\"a\",le=\"2\"} 3\n"
            "portcullis_request_duration_seconds_bucket{upstream=\"a\",le=\"+Inf\"} 7\n"
            "portcullis_request_duration_seconds_sum{upstream=\"a\"} 12.5\n"
            "portcullis_request_duration_seconds_count{upstream=\"a\"} 7\n");
}

}  // namespace
}  // namespace portcullis::admin
