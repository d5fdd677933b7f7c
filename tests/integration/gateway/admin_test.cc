// The admin listener of a real `portcullis run`: /healthz, /readyz (503 while draining),
// /status as JSON, and /metrics whose values move as traffic flows (upstream latency included),
// whose certificate and CRL gauges follow the files, and which Prometheus' own
// `promtool check metrics` accepts.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

// agent-1 may reach "echo" and call the tool "allowed" only.
constexpr char kPolicy[] = R"({
  "rules": [{
    "name": "agents",
    "match": [{"cn": "agent-1"}],
    "grant": {"echo": {"tools": ["allowed"]}}
  }]
})";

std::string ToolCall(const std::string& tool) {
  return R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":")" + tool +
         R"(","arguments":{}}})";
}

// The value of the sample `series` (name plus labels exactly as exposed) in a /metrics page.
std::optional<double> MetricValue(const std::string& page, const std::string& series) {
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return std::nullopt;
}

// promtool from Debian's prometheus package (scripts/setup installs it), or "".
std::string FindPromtool() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/promtool";
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

class GatewayAdmin : public GatewayTestBase {
 protected:
  void StartGateway(GatewayConfig config) {
    config.extra.push_back(R"("admin": {"listen": "127.0.0.1:0"})");
    Status s = gateway_.Start(config);
    ASSERT_TRUE(s.ok()) << s.message();
    std::smatch m;
    ASSERT_TRUE(
        gateway_.process().WaitForLog(R"(admin listening on 127\.0\.0\.1:(\d+))", kWaitMs, &m))
        << gateway_.Log();
    admin_port_ = static_cast<uint16_t>(std::stoi(m[1].str()));
  }

  Result<HttpResponse> AdminGet(const std::string& path) {
    auto socket = RawSocket::Connect("127.0.0.1", admin_port_, kRequestMs);
    if (!socket.ok()) {
      return socket.status();
    }
    return testing::Request(**socket, "GET", path, {}, {}, kRequestMs);
  }

  std::string Metrics() {
    auto response = AdminGet("/metrics");
    EXPECT_TRUE(response.ok()) << response.error();
    if (!response.ok()) {
      return "";
    }
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    return response->body;
  }

  // Waits (bounded) until `series` reaches at least `at_least`: a reactor counts right after
  // it answers, so the client may be a moment ahead of the scrape.
  bool WaitForMetric(const std::string& series, double at_least, std::string* page = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
    std::string last;
    while (true) {
      last = Metrics();
      std::optional<double> value = MetricValue(last, series);
      if (value && *value >= at_least) {
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << series << " did not reach " << at_least << "; /metrics:\n" << last;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (page != nullptr) {
      *page = last;
    }
    return true;
  }

  rapidjson::Document StatusJson() {
    auto response = AdminGet("/status");
    EXPECT_TRUE(response.ok()) << response.error();
    rapidjson::Document doc;
    if (response.ok()) {
      EXPECT_EQ(response->status, 200);
      EXPECT_EQ(response->Header("Content-Type"), "application/json");
      doc.Parse(response->body.c_str(), response->body.size());
      EXPECT_FALSE(doc.HasParseError()) << response->body;
    }
    return doc;
  }

  GatewayProcess gateway_;
  uint16_t admin_port_ = 0;
};

TEST_F(GatewayAdmin, HealthzAndReadyzAnswer200WhileServing) {
  StartGateway(GatewayConfig());
  auto health = AdminGet("/healthz");
  ASSERT_TRUE(health.ok()) << health.error();
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");
  auto ready = AdminGet("/readyz");
  ASSERT_TRUE(ready.ok()) << ready.error();
  EXPECT_EQ(ready->status, 200);
  auto post = RawSocket::Connect("127.0.0.1", admin_port_, kRequestMs);
  ASSERT_TRUE(post.ok());
  auto refused = testing::Request(**post, "POST", "/readyz", {}, "x", kRequestMs);
  ASSERT_TRUE(refused.ok()) << refused.error();
  EXPECT_EQ(refused->status, 405);
}

TEST_F(GatewayAdmin, MetricsMoveAsTrafficFlows) {
  EchoUpstream upstream;
  ASSERT_TRUE(upstream.ok()) << upstream.error();
  GatewayConfig config;
  config.reactors = 2;
  config.AddUpstream("echo", upstream.url());
  config.policy = kPolicy;
  StartGateway(config);

  std::string before = Metrics();
  EXPECT_EQ(MetricValue(before, R"(portcullis_tls_handshakes_total{result="ok"})"), 0.0) << before;
  EXPECT_EQ(MetricValue(before, R"(portcullis_upstream_duration_seconds_count{upstream="echo"})"),
            0.0)
      << before;
  EXPECT_EQ(MetricValue(before, R"(portcullis_active_connections{reactor="1"})"), 0.0) << before;

  // A good client: one handshake, an allowed ping, an allowed and a denied tool call.
  auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
  ASSERT_TRUE(client.ok()) << client.error();
  for (const std::string& body : {std::string(kPing), ToolCall("allowed"), ToolCall("forbidden")}) {
    auto response =
        testing::Request(**client, "POST", "/mcp/echo", JsonHeaders(), body, kRequestMs);
    ASSERT_TRUE(response.ok()) << response.error();
    ASSERT_EQ(response->status, 200) << response->body;
  }
  std::string page;
  ASSERT_TRUE(WaitForMetric(
      R"(portcullis_requests_total{upstream="echo",method="tools/call",decision="deny"})", 1,
      &page));
  EXPECT_EQ(MetricValue(page, R"(portcullis_tls_handshakes_total{result="ok"})"), 1.0) << page;
  EXPECT_EQ(MetricValue(page, R"(portcullis_requests_total{upstream="echo",method="ping",)"
                              R"(decision="allow"})"),
            1.0)
      << page;
  EXPECT_EQ(MetricValue(page, R"(portcullis_requests_total{upstream="echo",method="tools/call",)"
                              R"(decision="allow"})"),
            1.0)
      << page;
  EXPECT_EQ(MetricValue(page, "portcullis_denials_total"), 1.0) << page;
  EXPECT_EQ(MetricValue(page, R"(portcullis_responses_total{status_class="2xx"})"), 3.0) << page;
  EXPECT_GT(MetricValue(page, "portcullis_response_body_bytes_total").value_or(0), 0.0) << page;
  EXPECT_GT(MetricValue(page, "portcullis_request_body_bytes_total").value_or(0), 0.0) << page;
  EXPECT_EQ(MetricValue(page, "portcullis_request_duration_seconds_count"), 3.0) << page;
  EXPECT_EQ(MetricValue(page, R"(portcullis_request_duration_seconds_bucket{le="+Inf"})"), 3.0);
  EXPECT_EQ(MetricValue(page, "portcullis_tls_handshake_duration_seconds_count"), 1.0) << page;
  // The ping and the allowed call went to the upstream; the denied call never left the gateway.
  EXPECT_EQ(MetricValue(page, R"(portcullis_upstream_duration_seconds_count{upstream="echo"})"),
            2.0)
      << page;
  EXPECT_EQ(MetricValue(page, R"(portcullis_upstream_duration_seconds_bucket{upstream="echo",)"
                              R"(le="+Inf"})"),
            2.0)
      << page;
  EXPECT_GT(
      MetricValue(page, R"(portcullis_upstream_duration_seconds_sum{upstream="echo"})").value_or(0),
      0.0)
      << page;
  // The client is still connected: one active connection, on whichever reactor took it.
  double active = MetricValue(page, R"(portcullis_active_connections{reactor="0"})").value_or(0) +
                  MetricValue(page, R"(portcullis_active_connections{reactor="1"})").value_or(0);
  EXPECT_EQ(active, 1.0) << page;
  // An unknown upstream name is not a label value.
  auto unknown =
      testing::Request(**client, "POST", "/mcp/no-such-upstream", JsonHeaders(), kPing, kRequestMs);
  ASSERT_TRUE(unknown.ok()) << unknown.error();
  EXPECT_EQ(unknown->status, 404);
  ASSERT_TRUE(WaitForMetric(
      R"x(portcullis_requests_total{upstream="(none)",method="none",decision="none"})x", 1, &page));
  EXPECT_EQ(page.find("no-such-upstream"), std::string::npos);

  // A client whose certificate expired is refused, and the reason is counted.
  Attempt expired = TryRequest(gateway_.port(), ClientOptions(pki().expired_client()), "/mcp/echo");
  EXPECT_FALSE(expired.served);
  ASSERT_TRUE(WaitForMetric(
      R"(portcullis_tls_handshake_failures_total{reason="CERTIFICATE_EXPIRED"})", 1, &page));
  EXPECT_EQ(MetricValue(page, R"(portcullis_tls_handshakes_total{result="failed"})"), 1.0) << page;

  // Plaintext on the TLS port.
  auto plain = RawSocket::Connect("127.0.0.1", gateway_.port(), kRequestMs);
  ASSERT_TRUE(plain.ok()) << plain.error();
  ASSERT_TRUE((*plain)->WriteAll("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  EXPECT_TRUE((*plain)->ReadUntilClose(kWaitMs).ok());
  ASSERT_TRUE(
      WaitForMetric(R"(portcullis_tls_handshake_failures_total{reason="NOT_TLS"})", 1, &page));
  EXPECT_EQ(MetricValue(page, R"(portcullis_tls_handshakes_total{result="failed"})"), 2.0) << page;
  EXPECT_GE(MetricValue(page, "portcullis_connections_accepted_total").value_or(0), 3.0) << page;
}

TEST_F(GatewayAdmin, UpstreamErrorsAreCountedByUpstreamAndKind) {
  ClosedPort closed;
  GatewayConfig config;
  config.AddUpstream("down", "http://127.0.0.1:" + std::to_string(closed.port()) + "/mcp");
  StartGateway(config);
  Attempt attempt = TryRequest(gateway_.port(), ClientOptions(pki().client()), "/mcp/down");
  ASSERT_TRUE(attempt.served) << attempt.detail;
  EXPECT_EQ(attempt.response.status, 502);
  std::string page;
  ASSERT_TRUE(WaitForMetric(R"(portcullis_upstream_errors_total{upstream="down",kind="refused"})",
                            1, &page));
  EXPECT_EQ(MetricValue(page, R"(portcullis_responses_total{status_class="5xx"})"), 1.0) << page;
}

TEST_F(GatewayAdmin, PromtoolAcceptsTheMetricsPage) {
  EchoUpstream upstream;
  ASSERT_TRUE(upstream.ok()) << upstream.error();
  GatewayConfig config;
  config.AddUpstream("echo", upstream.url());
  // An upstream CA and a CRL, so that their gauges (the upstream CA with one label more than
  // the other certificates of its family) are on the page too.
  config.AddUpstream("billing", "https://127.0.0.1:9/mcp", R"("ca": ")" + pki().ca().cert + "\"");
  config.tls.push_back(R"("crl": [")" + pki().crl() + R"("])");
  config.extra.push_back(R"("audit": {"path": "audit.jsonl"})");
  StartGateway(config);
  // Traffic first, so that labelled series and histogram buckets are filled in.
  Attempt ok = TryRequest(gateway_.port(), ClientOptions(pki().client()), "/mcp/echo");
  ASSERT_TRUE(ok.served) << ok.detail;
  Attempt refused =
      TryRequest(gateway_.port(), ClientOptions(pki().other_ca_client()), "/mcp/echo");
  EXPECT_FALSE(refused.served);
  std::string page;
  ASSERT_TRUE(WaitForMetric(R"(portcullis_tls_handshakes_total{result="failed"})", 1, &page));
  EXPECT_GE(MetricValue(page, "portcullis_audit_records_total").value_or(0), 3.0) << page;
  EXPECT_NE(page.find("portcullis_upstream_duration_seconds_bucket{upstream=\"echo\""),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("portcullis_certificate_expiry_seconds{role=\"upstream_ca\""),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("portcullis_crl_next_update_seconds{"), std::string::npos) << page;

  // scripts/setup installs Debian's prometheus package: a missing promtool is a broken
  // machine, not a reason to skip.
  std::string promtool = FindPromtool();
  ASSERT_FALSE(promtool.empty())
      << "promtool not found in PATH; run scripts/setup (Debian package \"prometheus\")";
  std::string file = gateway_.dir().Write("metrics.txt", page);
  testing::ChildProcess check;
  Status s = check.Start({"/bin/sh", "-c", "exec \"$0\" check metrics < \"$1\"", promtool, file});
  ASSERT_TRUE(s.ok()) << s.message();
  std::optional<int> status = check.Wait(kWaitMs);
  EXPECT_EQ(status, std::optional<int>(0)) << "promtool check metrics:\n"
                                           << check.Stdout() << check.Stderr() << "\n/metrics:\n"
                                           << page;
  // promtool prints lint findings (e.g. a counter without _total) and may still exit 0.
  EXPECT_EQ(check.Stdout() + check.Stderr(), "") << page;
}

TEST_F(GatewayAdmin, StatusDescribesTheRunningGateway) {
  GatewayConfig config;
  config.reactors = 2;
  StartGateway(config);
  rapidjson::Document doc = StatusJson();
  ASSERT_TRUE(doc.IsObject());
  EXPECT_STREQ(doc["version"].GetString(), PORTCULLIS_VERSION);
  EXPECT_GE(doc["uptime_s"].GetDouble(), 0.0);
  EXPECT_TRUE(doc["ready"].GetBool());
  EXPECT_EQ(doc["reactors"].GetUint(), 2u);
  ASSERT_EQ(doc["connections"]["per_reactor"].Size(), 2u);
  const auto& server = doc["tls"]["server_certificate"];
  ASSERT_TRUE(server.IsObject());
  EXPECT_NE(std::string(server["subject"].GetString()).find("CN=localhost"), std::string::npos);
  EXPECT_EQ(std::string(server["file"].GetString()), pki().server().cert);
  EXPECT_GT(server["seconds_left"].GetInt64(), 0);
  EXPECT_TRUE(server["not_after"].IsString());
  ASSERT_EQ(doc["tls"]["client_cas"].Size(), 1u);
  const auto& ca = doc["tls"]["client_cas"][0];
  EXPECT_NE(std::string(ca["subject"].GetString()).find("CN=Portcullis Test CA"),
            std::string::npos);
  EXPECT_GT(ca["seconds_left"].GetInt64(), 0);
  EXPECT_EQ(std::string(doc["policy"]["sha256"].GetString()).size(), 64u);
  EXPECT_EQ(doc["policy"]["rules"].GetUint(), 1u);
  EXPECT_EQ(doc["config"]["generation"].GetUint(), 1u);
  EXPECT_TRUE(doc["reloads"]["last"].IsNull());

  std::string page = Metrics();
  EXPECT_GT(
      MetricValue(page, R"(portcullis_certificate_expiry_seconds{role="server",file=")" +
                            pki().server().cert + R"(",subject=")" + server["subject"].GetString() +
                            R"(",serial=")" + server["serial"].GetString() + R"("})")
          .value_or(-1),
      0.0)
      << page;
}

// The value of the first sample whose line starts with `prefix` (a series cut short, for labels
// such as a CA's random serial that the test does not know).
std::optional<double> MetricValueByPrefix(const std::string& page, const std::string& prefix) {
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.compare(0, prefix.size(), prefix) == 0) {
      return std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
    }
  }
  return std::nullopt;
}

TEST_F(GatewayAdmin, UpstreamCaAndCrlGaugesFollowTheFiles) {
  // The CRL is a copy in the gateway's folder, so that the test can replace it.
  std::string crl = gateway_.dir().Write("ca.crl", TempDir::ReadFile(pki().crl()));
  GatewayConfig config;
  config.tls.push_back(R"("crl": [")" + crl + R"("])");
  // Nothing listens at port 9: only the CA file matters here.
  config.AddUpstream("billing", "https://127.0.0.1:9/mcp",
                     R"("ca": ")" + pki().other_ca().cert + "\"");
  StartGateway(config);

  const std::string issuer = "CN=Portcullis Test CA,O=Portcullis Test";
  const std::string crl_series =
      R"(portcullis_crl_next_update_seconds{file=")" + crl + R"(",issuer=")" + issuer + R"("})";
  std::string page = Metrics();
  // The test CA publishes CRLs for 30 days.
  std::optional<double> left = MetricValue(page, crl_series);
  ASSERT_TRUE(left.has_value()) << page;
  EXPECT_GT(*left, 29.0 * 86400) << page;
  EXPECT_LE(*left, 30.0 * 86400) << page;
  std::optional<double> ca_left = MetricValueByPrefix(
      page,
      R"(portcullis_certificate_expiry_seconds{role="upstream_ca",upstream="billing",file=")" +
          pki().other_ca().cert + R"(",subject="CN=Other Test CA,O=Other Org",serial=")");
  ASSERT_TRUE(ca_left.has_value()) << page;
  EXPECT_GT(*ca_left, 0.0) << page;
  rapidjson::Document doc = StatusJson();
  ASSERT_TRUE(doc.IsObject());
  ASSERT_EQ(doc["tls"]["crls"].Size(), 1u);
  EXPECT_EQ(std::string(doc["tls"]["crls"][0]["issuer"].GetString()), issuer);
  ASSERT_EQ(doc["tls"]["upstream_cas"].Size(), 1u);
  EXPECT_STREQ(doc["tls"]["upstream_cas"][0]["upstream"].GetString(), "billing");

  // A CRL published for 5 days replaces it (renamed over, as a deploy does): the gauge follows
  // the TLS reload.
  std::string fresh = gateway_.dir().File("fresh.crl");
  Result<std::string> made =
      testing::RunOpenssl({"ca", "-config", pki().dir() + "/ca/ca.cnf", "-gencrl",
                           "-crl_nextupdate", TestPki::OpensslDate(5 * 86400), "-out", fresh});
  ASSERT_TRUE(made.ok()) << made.error();
  size_t from = gateway_.LogSize();
  ASSERT_EQ(std::rename(fresh.c_str(), crl.c_str()), 0);
  ASSERT_TRUE(gateway_.WaitForLog("TLS material reloaded", from)) << gateway_.Log();
  page = Metrics();
  left = MetricValue(page, crl_series);
  ASSERT_TRUE(left.has_value()) << page;
  EXPECT_GT(*left, 4.0 * 86400) << page;
  EXPECT_LE(*left, 5.0 * 86400) << page;
}

TEST_F(GatewayAdmin, ReloadsShowInStatusAndMetrics) {
  StartGateway(GatewayConfig());
  std::string policy_path = gateway_.dir().File("policy.json");
  size_t from = gateway_.LogSize();
  gateway_.dir().Write("policy.json", R"({"rules": [
    {"name": "one", "match": [{"cn": "agent-1"}], "grant": {"*": {"tools": ["*"]}}},
    {"name": "two", "match": [{"cn": "agent-2"}], "grant": {"*": {"tools": ["*"]}}}]})");
  ASSERT_TRUE(gateway_.process().Signal(SIGHUP));
  ASSERT_TRUE(gateway_.WaitForLog("policy reloaded", from)) << gateway_.Log();
  rapidjson::Document doc = StatusJson();
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(doc["config"]["generation"].GetUint(), 2u);
  EXPECT_EQ(doc["policy"]["rules"].GetUint(), 2u);
  EXPECT_STREQ(doc["reloads"]["last"]["result"].GetString(), "ok");
  std::string page = Metrics();
  EXPECT_EQ(MetricValue(page, "portcullis_config_generation"), 2.0) << page;
  EXPECT_EQ(MetricValue(page, R"(portcullis_config_reloads_total{result="ok"})"), 1.0) << page;
  EXPECT_EQ(MetricValue(page, "portcullis_policy_rules"), 2.0) << page;

  // A broken policy is refused; the last good one stays and the failure shows.
  from = gateway_.LogSize();
  gateway_.dir().Write("policy.json", R"({"rules": [ {"name": )");
  ASSERT_TRUE(gateway_.process().Signal(SIGHUP));
  ASSERT_TRUE(gateway_.WaitForLog("not loaded", from)) << gateway_.Log();
  doc = StatusJson();
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(doc["config"]["generation"].GetUint(), 2u);
  EXPECT_STREQ(doc["reloads"]["last"]["result"].GetString(), "failed");
  EXPECT_TRUE(doc["reloads"]["last"]["error"].IsString());
  page = Metrics();
  EXPECT_GE(MetricValue(page, R"(portcullis_config_reloads_total{result="failed"})").value_or(0),
            1.0)
      << page;
  EXPECT_EQ(MetricValue(page, "portcullis_config_last_reload_successful"), 0.0) << page;
}

TEST_F(GatewayAdmin, ReadyzIs503WhileDrainingAndHealthzStays200) {
  // The upstream never answers, so the request stays in flight for as long as the test needs.
  EchoUpstream upstream(EchoUpstream::Mode::kSilent);
  ASSERT_TRUE(upstream.ok()) << upstream.error();
  GatewayConfig config;
  config.AddUpstream("slow", upstream.url());
  config.limits = {R"("drain_timeout_ms": 20000)"};
  StartGateway(config);

  auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
  ASSERT_TRUE(client.ok()) << client.error();
  ASSERT_TRUE((*client)
                  ->WriteAll(testing::SerializeRequest("POST", "/mcp/slow", JsonHeaders(), kPing))
                  .ok());
  ASSERT_TRUE(upstream.WaitForRequests(1, kWaitMs)) << gateway_.Log();

  size_t from = gateway_.LogSize();
  ASSERT_TRUE(gateway_.process().Signal(SIGTERM));
  ASSERT_TRUE(gateway_.WaitForLog("SIGTERM: draining", from)) << gateway_.Log();
  auto ready = AdminGet("/readyz");
  ASSERT_TRUE(ready.ok()) << ready.error() << "\n" << gateway_.Log();
  EXPECT_EQ(ready->status, 503);
  EXPECT_EQ(ready->body, "draining\n");
  auto health = AdminGet("/healthz");
  ASSERT_TRUE(health.ok()) << health.error();
  EXPECT_EQ(health->status, 200);
  std::string page = Metrics();
  EXPECT_EQ(MetricValue(page, "portcullis_ready"), 0.0) << page;
  rapidjson::Document doc = StatusJson();
  ASSERT_TRUE(doc.IsObject());
  EXPECT_TRUE(doc["draining"].GetBool());
  EXPECT_EQ(doc["connections"]["active"].GetUint(), 1u);

  // The client gives up; with nothing in flight the drain ends and the process exits 0.
  client->reset();
  EXPECT_EQ(gateway_.process().Wait(kWaitMs), std::optional<int>(0)) << gateway_.Log();
}

}  // namespace
}  // namespace portcullis::gateway_test
