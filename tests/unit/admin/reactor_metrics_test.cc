// Per-reactor metrics (gateway/reactor/metrics.h) and their exposition summed over reactors
// (gateway/admin/metrics_render.h): bucket choice, bounded labels, sums, gauges per reactor.
#include "gateway/reactor/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/admin/metrics_render.h"
#include "gateway/tls/handshake_failure.h"

namespace portcullis::reactor {
namespace {

Config ConfigWithUpstreams(std::vector<std::string> names) {
  Config config;
  for (const std::string& name : names) {
    config.upstreams[name].name = name;
  }
  return config;
}

bool Contains(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(ReactorMetrics, HistogramBucketBoundsAreInclusive) {
  EXPECT_EQ(LatencyHistogram::BucketIndex(0), 0u);
  EXPECT_EQ(LatencyHistogram::BucketIndex(500), 0u);  // le="0.0005" includes 0.5 ms
  EXPECT_EQ(LatencyHistogram::BucketIndex(501), 1u);
  EXPECT_EQ(LatencyHistogram::BucketIndex(1000), 1u);
  EXPECT_EQ(LatencyHistogram::BucketIndex(9999999), kLatencyBucketsUs.size() - 1);
  EXPECT_EQ(LatencyHistogram::BucketIndex(10000000), kLatencyBucketsUs.size() - 1);
  EXPECT_EQ(LatencyHistogram::BucketIndex(10000001), kLatencyBucketsUs.size());  // +Inf
  EXPECT_EQ(LatencyHistogram::BucketIndex(UINT64_MAX), kLatencyBucketsUs.size());

  LatencyHistogram h;
  h.Observe(400);
  h.Observe(700);
  h.Observe(60000000);
  EXPECT_EQ(h.buckets[0].load(), 1u);
  EXPECT_EQ(h.buckets[1].load(), 1u);
  EXPECT_EQ(h.buckets[kLatencyBucketsUs.size()].load(), 1u);
  EXPECT_EQ(h.sum_us.load(), 60001100u);
}

TEST(ReactorMetrics, EveryClassifiedHandshakeReasonHasItsOwnLabel) {
  // Every reason the classifier can return must be a label value of its own, or a new reason
  // would silently be counted as HANDSHAKE_FAILURE.
  std::vector<int> codes = {tls::kResumedWithoutCertificate, tls::kBadIdentity,
                            tls::kHandshakeTimeout, tls::kNotTls, tls::kConnectionReset};
  for (int code = -2000; code <= 0; ++code) {
    codes.push_back(code);
  }
  for (int code : codes) {
    std::string_view reason = tls::ClassifyHandshakeError(code);
    EXPECT_EQ(kHandshakeFailureReasonLabels[HandshakeFailureReasonIndex(reason)], reason)
        << "code " << code;
  }
  EXPECT_EQ(kHandshakeFailureReasonLabels[HandshakeFailureReasonIndex("SOMETHING_NEW")],
            "HANDSHAKE_FAILURE");
}

TEST(ReactorMetrics, MethodLabelsAreBounded) {
  EXPECT_EQ(kMethodLabels[MethodIndex("tools/call")], "tools/call");
  EXPECT_EQ(kMethodLabels[MethodIndex("initialize")], "initialize");
  EXPECT_EQ(kMethodLabels[MethodIndex("notifications/initialized")], "notifications/initialized");
  EXPECT_EQ(kMethodLabels[MethodIndex("tools/call-but-not-really")], "other");
  EXPECT_EQ(kMethodLabels[MethodIndex(std::string(5000, 'x'))], "other");
  EXPECT_EQ(kMethodLabels[MethodIndex("")], "none");
  EXPECT_EQ(kDecisionLabels[DecisionIndex("allow")], "allow");
  EXPECT_EQ(kDecisionLabels[DecisionIndex("deny")], "deny");
  EXPECT_EQ(kDecisionLabels[DecisionIndex("")], "none");
  EXPECT_EQ(kStatusClassLabels[StatusClassIndex(200)], "2xx");
  EXPECT_EQ(kStatusClassLabels[StatusClassIndex(499)], "4xx");
  EXPECT_EQ(kStatusClassLabels[StatusClassIndex(0)], "5xx");
}

TEST(ReactorMetrics, UpstreamErrorKindsFollowTheEnum) {
  for (size_t i = 0; i < kUpstreamErrorKindCount; ++i) {
    EXPECT_EQ(kUpstreamErrorKindLabels[i],
              upstream::UpstreamErrorName(static_cast<upstream::UpstreamError>(i)));
  }
}

TEST(ReactorMetrics, RequestsCountByUpstreamMethodAndDecision) {
  Config config = ConfigWithUpstreams({"zeta", "alpha"});
  ReactorMetrics m(config);
  ASSERT_EQ(m.upstream_names(), (std::vector<std::string>{"alpha", "zeta"}));
  EXPECT_EQ(m.UpstreamIndex("zeta"), 1u);
  EXPECT_EQ(m.UpstreamIndex("client-chosen-name"), 2u);  // "(none)"

  RequestAudit audit;
  audit.Begin("POST", "/mcp/zeta", 1000, 40);
  audit.server = "zeta";
  audit.method = "tools/call";
  audit.decision = "deny";
  m.ObserveRequest(audit, 200, 90, 3000);
  audit.Begin("POST", "/mcp/nope", 1000, 2);
  audit.server = "nope";
  m.ObserveRequest(audit, 404, 10, 1500);

  EXPECT_EQ(m.requests(1, MethodIndex("tools/call"), DecisionIndex("deny")), 1u);
  EXPECT_EQ(m.requests(2, MethodIndex(""), DecisionIndex("")), 1u);
  EXPECT_EQ(m.denials.load(), 1u);
  EXPECT_EQ(m.request_bytes.load(), 42u);
  EXPECT_EQ(m.response_bytes.load(), 100u);
  EXPECT_EQ(m.responses[StatusClassIndex(200)].load(), 1u);
  EXPECT_EQ(m.responses[StatusClassIndex(404)].load(), 1u);
  EXPECT_EQ(m.request_latency.sum_us.load(), 2500u);

  m.ObserveUpstreamError("alpha", upstream::UpstreamError::kRefused);
  EXPECT_EQ(m.upstream_errors(0, static_cast<size_t>(upstream::UpstreamError::kRefused)), 1u);
}

TEST(ReactorMetricsRender, SumsCountersAndShowsGaugesPerReactor) {
  Config config = ConfigWithUpstreams({"files"});
  ReactorMetrics r0(config);
  ReactorMetrics r1(config);
  r0.ObserveHandshake(false, 800);
  r1.ObserveHandshake(true, 300);
  r1.ObserveHandshakeFailure("CERTIFICATE_EXPIRED");
  r0.ObserveHandshakeFailure("NOT_TLS");
  r1.ObserveHandshakeFailure("NOT_TLS");
  r0.active_connections.store(2);
  r1.active_connections.store(5);
  RequestAudit audit;
  audit.Begin("POST", "/mcp/files", 0, 1);
  audit.server = "files";
  audit.method = "tools/list";
  audit.decision = "allow";
  r0.ObserveRequest(audit, 200, 1, 100);
  r1.ObserveRequest(audit, 200, 1, 100);
  r1.ObserveUpstreamError("files", upstream::UpstreamError::kResponseTimeout);

  const ReactorMetrics* reactors[] = {&r0, &r1};
  admin::PrometheusText out;
  admin::AppendReactorMetrics(reactors, &out);
  const std::string& text = out.text();
  EXPECT_TRUE(Contains(text, R"(portcullis_tls_handshakes_total{result="ok"} 2)")) << text;
  EXPECT_TRUE(Contains(text, R"(portcullis_tls_handshakes_total{result="failed"} 3)"));
  EXPECT_TRUE(Contains(text, "portcullis_tls_resumptions_total 1"));
  EXPECT_TRUE(Contains(text, R"(portcullis_tls_handshake_failures_total{reason="NOT_TLS"} 2)"));
  EXPECT_TRUE(
      Contains(text, R"(portcullis_tls_handshake_failures_total{reason="CERTIFICATE_EXPIRED"} 1)"));
  EXPECT_TRUE(
      Contains(text, R"(portcullis_tls_handshake_failures_total{reason="HANDSHAKE_TIMEOUT"} 0)"));
  EXPECT_TRUE(Contains(text, R"(portcullis_active_connections{reactor="0"} 2)"));
  EXPECT_TRUE(Contains(text, R"(portcullis_active_connections{reactor="1"} 5)"));
  EXPECT_TRUE(Contains(
      text,
      R"(portcullis_requests_total{upstream="files",method="tools/list",decision="allow"} 2)"));
  // Combinations that never happened are left out.
  EXPECT_EQ(text.find(R"(method="tools/call")"), std::string::npos);
  EXPECT_TRUE(Contains(
      text, R"(portcullis_upstream_errors_total{upstream="files",kind="response_timeout"} 1)"));
  EXPECT_TRUE(
      Contains(text, R"(portcullis_upstream_errors_total{upstream="files",kind="refused"} 0)"));
  EXPECT_TRUE(Contains(text, R"(portcullis_responses_total{status_class="2xx"} 2)"));
  // 800 µs and 300 µs: one in (0, 0.5 ms], one in (0.5 ms, 1 ms].
  EXPECT_TRUE(Contains(text, R"(portcullis_tls_handshake_duration_seconds_bucket{le="0.0005"} 1)"));
  EXPECT_TRUE(Contains(text, R"(portcullis_tls_handshake_duration_seconds_bucket{le="0.001"} 2)"));
  EXPECT_TRUE(Contains(text, R"(portcullis_tls_handshake_duration_seconds_bucket{le="+Inf"} 2)"));
  EXPECT_TRUE(Contains(text, "portcullis_tls_handshake_duration_seconds_sum 0.0011"));
  EXPECT_TRUE(Contains(text, "portcullis_tls_handshake_duration_seconds_count 2"));
  // Each family's HELP and TYPE appear once.
  size_t first = text.find("# TYPE portcullis_tls_handshakes_total counter");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(text.find("# TYPE portcullis_tls_handshakes_total", first + 1), std::string::npos);
}

TEST(ReactorMetricsRender, UpstreamLatencyIsAHistogramPerHttpUpstream) {
  Config config = ConfigWithUpstreams({"billing", "files", "quiet"});
  config.upstreams["files"].kind = UpstreamConfig::Kind::kStdio;
  ReactorMetrics r0(config);
  ReactorMetrics r1(config);
  r0.ObserveUpstreamLatency("billing", 700);
  r1.ObserveUpstreamLatency("billing", 30000);
  r1.ObserveUpstreamLatency("billing", 12000000);  // past the last bound: +Inf only
  EXPECT_EQ(r1.upstream_latency(r1.UpstreamIndex("billing")).sum_us.load(), 12030000u);

  const ReactorMetrics* reactors[] = {&r0, &r1};
  admin::PrometheusText out;
  admin::AppendReactorMetrics(reactors, &out);
  const std::string& text = out.text();
  EXPECT_TRUE(Contains(text, "# TYPE portcullis_upstream_duration_seconds histogram")) << text;
  EXPECT_TRUE(Contains(
      text, R"(portcullis_upstream_duration_seconds_bucket{upstream="billing",le="0.0005"} 0)"));
  EXPECT_TRUE(Contains(
      text, R"(portcullis_upstream_duration_seconds_bucket{upstream="billing",le="0.001"} 1)"));
  EXPECT_TRUE(Contains(
      text, R"(portcullis_upstream_duration_seconds_bucket{upstream="billing",le="0.05"} 2)"));
  EXPECT_TRUE(Contains(
      text, R"(portcullis_upstream_duration_seconds_bucket{upstream="billing",le="10"} 2)"));
  EXPECT_TRUE(Contains(
      text, R"(portcullis_upstream_duration_seconds_bucket{upstream="billing",le="+Inf"} 3)"));
  EXPECT_TRUE(Contains(text, R"(portcullis_upstream_duration_seconds_sum{upstream="billing"} )"
                             "12.0307"));
  EXPECT_TRUE(
      Contains(text, R"(portcullis_upstream_duration_seconds_count{upstream="billing"} 3)"));
  // An HTTP upstream nothing was sent to yet is there, at zero, so that rate() works at once.
  EXPECT_TRUE(Contains(text, R"(portcullis_upstream_duration_seconds_count{upstream="quiet"} 0)"));
  // A stdio upstream has no HTTP round trip, and nothing unrouted was ever proxied.
  EXPECT_EQ(text.find(R"(portcullis_upstream_duration_seconds_count{upstream="files"})"),
            std::string::npos);
  EXPECT_EQ(text.find(R"x(portcullis_upstream_duration_seconds_count{upstream="(none)"})x"),
            std::string::npos);
}

TEST(ReactorMetricsRender, UpstreamLatencyFamilyIsThereWithoutUpstreams) {
  // Dashboards and alerts that name the family must find it on every gateway.
  ReactorMetrics r0(Config{});
  const ReactorMetrics* reactors[] = {&r0};
  admin::PrometheusText out;
  admin::AppendReactorMetrics(reactors, &out);
  EXPECT_TRUE(Contains(out.text(), "# TYPE portcullis_upstream_duration_seconds histogram"));
  EXPECT_EQ(out.text().find("portcullis_upstream_duration_seconds_bucket"), std::string::npos);
}

}  // namespace
}  // namespace portcullis::reactor
