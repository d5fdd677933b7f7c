// portcullis-bench, the load and handshake harness, run as users run it: the built binary
// against a real `portcullis run` (mcp-example-server as the upstream, certificates from the
// shared test PKI), in each mode, with small counts and --json. The checks are on what the JSON
// says and on counts adding up, never on timings.
#include <unistd.h>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

constexpr int kBenchTimeoutMs = 60000;

std::string BenchPath() { return std::string(PORTCULLIS_BIN_DIR) + "/portcullis-bench"; }

struct BenchRun {
  int exit_status = -1;
  std::string out;
  std::string err;
  rapidjson::Document json;
};

uint64_t U64(const rapidjson::Value& object, const char* key) {
  EXPECT_TRUE(object.IsObject() && object.HasMember(key)) << "missing \"" << key << "\"";
  if (!object.IsObject() || !object.HasMember(key) || !object[key].IsUint64()) {
    return UINT64_MAX;
  }
  return object[key].GetUint64();
}

// Sum of the values of a {"name": count} object.
uint64_t SumOf(const rapidjson::Value& object) {
  uint64_t sum = 0;
  if (object.IsObject()) {
    for (const auto& member : object.GetObject()) {
      sum += member.value.GetUint64();
    }
  }
  return sum;
}

class PortcullisBench : public GatewayTestBase {
 protected:
  void SetUp() override {
    GatewayTestBase::SetUp();
    if (access(BenchPath().c_str(), X_OK) != 0) {
      GTEST_SKIP() << BenchPath() << " is not built (ninja portcullis-bench)";
    }
  }

  void StartGateway(bool session_tickets = false) {
    Status upstream = example_.Start();
    ASSERT_TRUE(upstream.ok()) << upstream.message();
    GatewayConfig config;
    if (session_tickets) {
      config.tls.push_back(R"("session_tickets": true)");
    }
    config.AddUpstream("example", example_.url());
    Status started = gateway_.Start(config);
    ASSERT_TRUE(started.ok()) << started.message();
  }

  std::string Target() const { return "127.0.0.1:" + std::to_string(gateway_.port()); }
  // The upstream itself, plain HTTP (for --plain).
  std::string UpstreamTarget() const { return "127.0.0.1:" + std::to_string(example_.port()); }

  std::vector<std::string> Mtls(const CertKey& client) const {
    return {"--ca", pki().ca().cert, "--cert", client.cert, "--key", client.key};
  }
  std::vector<std::string> Mtls() const { return Mtls(pki().client()); }

  // portcullis-bench MODE TARGET args... --json --quiet; the JSON is parsed when exit is 0 or 1.
  BenchRun Bench(const std::string& mode, const std::vector<std::string>& args, bool json = true) {
    return BenchAt(Target(), mode, args, json);
  }
  BenchRun BenchAt(const std::string& target, const std::string& mode,
                   const std::vector<std::string>& args, bool json = true) {
    std::vector<std::string> argv = {BenchPath(), mode, target};
    argv.insert(argv.end(), args.begin(), args.end());
    if (json) {
      argv.push_back("--json");
    }
    argv.push_back("--quiet");
    BenchRun run;
    Result<testing::CommandResult> result = testing::RunCommand(argv, kBenchTimeoutMs);
    EXPECT_TRUE(result.ok()) << result.error();
    if (!result.ok()) {
      return run;
    }
    run.exit_status = result->exit_status;
    run.out = result->out;
    run.err = result->err;
    if (json && (run.exit_status == 0 || run.exit_status == 1)) {
      run.json.Parse(run.out.c_str(), run.out.size());
      EXPECT_FALSE(run.json.HasParseError()) << "not one JSON object:\n" << run.out;
      EXPECT_TRUE(run.json.IsObject()) << run.out;
      // Exactly one object, on one line.
      EXPECT_EQ(run.out.find('\n'), run.out.size() - 1) << run.out;
    }
    return run;
  }

  // Fields every mode reports, and the count identity attempts = ok + failures.
  void ExpectCommonFields(const BenchRun& run, const char* ok_key) {
    ExpectCommonFields(run, ok_key, Target());
  }
  void ExpectCommonFields(const BenchRun& run, const char* ok_key, const std::string& target) {
    const rapidjson::Document& j = run.json;
    ASSERT_TRUE(j.IsObject()) << run.out << run.err;
    for (const char* key :
         {"mode", "target", "tls", "threads", "concurrency", "count", "duration_s", "elapsed_s",
          "interrupted", "attempts", "failures", "failure_reasons", "failure_details",
          "setup_failures", "setup_failure_reasons", "latency_us", "server"}) {
      EXPECT_TRUE(j.HasMember(key)) << "missing \"" << key << "\" in " << run.out;
    }
    EXPECT_EQ(U64(j, "attempts"), U64(j, ok_key) + U64(j, "failures")) << run.out;
    EXPECT_EQ(SumOf(j["failure_reasons"]), U64(j, "failures")) << run.out;
    EXPECT_EQ(std::string(j["target"].GetString()), target);
    const rapidjson::Value& latency = j["latency_us"];
    for (const char* key : {"count", "min", "mean", "p50", "p90", "p99", "max"}) {
      EXPECT_TRUE(latency.HasMember(key)) << "latency_us." << key << " missing: " << run.out;
    }
    EXPECT_EQ(U64(latency, "count"), U64(j, ok_key)) << run.out;
    if (U64(latency, "count") > 0) {
      EXPECT_LE(latency["min"].GetDouble(), latency["p50"].GetDouble());
      EXPECT_LE(latency["p50"].GetDouble(), latency["p90"].GetDouble());
      EXPECT_LE(latency["p90"].GetDouble(), latency["p99"].GetDouble());
      EXPECT_LE(latency["p99"].GetDouble(), latency["max"].GetDouble());
    }
    EXPECT_FALSE(j["interrupted"].GetBool());
  }

  ExampleServer example_;
  GatewayProcess gateway_;
};

// ---- handshake -----------------------------------------------------------------------------

class PortcullisBenchVersions : public PortcullisBench,
                                public ::testing::WithParamInterface<std::string> {};

TEST_P(PortcullisBenchVersions, FullHandshakesAllSucceedAndAddUp) {
  StartGateway();
  std::vector<std::string> args = Mtls();
  args.insert(args.end(), {"--count", "12", "--concurrency", "3", "--tls", GetParam(),
                           "--server-pid", std::to_string(gateway_.process().pid())});
  BenchRun run = Bench("handshake", args);
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  ExpectCommonFields(run, "handshakes");
  const rapidjson::Document& j = run.json;
  EXPECT_EQ(U64(j, "handshakes"), 12u);
  EXPECT_EQ(U64(j, "failures"), 0u);
  EXPECT_EQ(U64(j, "resumed"), 0u);
  // The client sends close_notify after its Finished; the gateway answers with its own
  // (RFC 8446 §6.1), so every acceptance is confirmed rather than a silent close.
  EXPECT_EQ(U64(j, "without_close_notify"), 0u) << run.out;
  EXPECT_TRUE(j.HasMember("handshakes_per_s") && j["handshakes_per_s"].IsNumber());
  ASSERT_TRUE(j["versions"].IsObject());
  std::string version = GetParam() == "1.3" ? "TLSv1.3" : "TLSv1.2";
  EXPECT_EQ(U64(j["versions"], version.c_str()), 12u) << run.out;
  EXPECT_EQ(std::string(j["tls"]["version"].GetString()), GetParam());
  EXPECT_TRUE(j["tls"]["mtls"].GetBool());

  const rapidjson::Value& server = j["server"];
  ASSERT_TRUE(server.IsObject()) << run.out;
  EXPECT_EQ(server["pid"].GetInt(), gateway_.process().pid());
  for (const char* key :
       {"cpu_us", "cpu_us_per_op", "rss_kb_before", "rss_kb_after", "rss_delta_kb", "threads"}) {
    EXPECT_TRUE(server.HasMember(key)) << "server." << key << " missing: " << run.out;
  }
  EXPECT_GT(U64(server, "rss_kb_after"), 0u);
}

INSTANTIATE_TEST_SUITE_P(PortcullisBench, PortcullisBenchVersions, ::testing::Values("1.3", "1.2"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "1.3" ? std::string("Tls13") : std::string("Tls12");
                         });

TEST_F(PortcullisBench, HandshakeSharesTheCountBetweenThreads) {
  StartGateway();
  std::vector<std::string> args = Mtls();
  args.insert(args.end(), {"--count", "11", "--concurrency", "4", "--threads", "2"});
  BenchRun run = Bench("handshake", args);
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  ExpectCommonFields(run, "handshakes");
  EXPECT_EQ(U64(run.json, "handshakes"), 11u);
  EXPECT_EQ(U64(run.json, "threads"), 2u);
}

TEST_F(PortcullisBench, ResumeWithTicketsResumesEveryMeasuredHandshake) {
  StartGateway(/*session_tickets=*/true);
  std::vector<std::string> args = Mtls();
  // TLS 1.3 tickets; each connection offers the ticket the previous one received.
  args.insert(args.end(), {"--count", "6", "--concurrency", "1", "--tls", "1.3", "--resume"});
  BenchRun run = Bench("handshake", args);
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err << "\ngateway log:\n" << gateway_.Log();
  ExpectCommonFields(run, "handshakes");
  EXPECT_EQ(U64(run.json, "handshakes"), 6u);
  EXPECT_EQ(U64(run.json, "resumed"), 6u) << run.out;
  EXPECT_TRUE(run.json["tls"]["resume"].GetBool());
}

TEST_F(PortcullisBench, ResumeAgainstTheDefaultConfigMakesFullHandshakes) {
  StartGateway();  // the gateway resumes nothing by default
  std::vector<std::string> args = Mtls();
  args.insert(args.end(), {"--count", "4", "--concurrency", "2", "--resume"});
  BenchRun run = Bench("handshake", args);
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  EXPECT_EQ(U64(run.json, "handshakes"), 4u);
  EXPECT_EQ(U64(run.json, "resumed"), 0u);
}

TEST_F(PortcullisBench, WrongCaFailsEveryHandshakeWithCertificateVerifyFailed) {
  StartGateway();
  BenchRun run = Bench("handshake", {"--ca", pki().other_ca().cert, "--cert", pki().client().cert,
                                     "--key", pki().client().key, "--count", "5"});
  ASSERT_EQ(run.exit_status, 1) << run.out << run.err;
  ExpectCommonFields(run, "handshakes");
  EXPECT_EQ(U64(run.json, "handshakes"), 0u);
  EXPECT_EQ(U64(run.json, "failures"), 5u);
  EXPECT_EQ(U64(run.json["failure_reasons"], "CERTIFICATE_VERIFY_FAILED"), 5u) << run.out;
  ASSERT_TRUE(run.json["failure_details"].HasMember("CERTIFICATE_VERIFY_FAILED"));
}

TEST_P(PortcullisBenchVersions, RefusedClientCertificatesAreNamed) {
  StartGateway();
  // No certificate at all: TLS 1.3 gets certificate_required; a TLS 1.2 refusal is inferred
  // from the server's CertificateRequest followed by a close.
  BenchRun none =
      Bench("handshake", {"--ca", pki().ca().cert, "--count", "3", "--tls", GetParam()});
  ASSERT_EQ(none.exit_status, 1) << none.out << none.err;
  ExpectCommonFields(none, "handshakes");
  EXPECT_EQ(U64(none.json["failure_reasons"], "NO_CLIENT_CERTIFICATE"), 3u) << none.out;
  EXPECT_FALSE(none.json["tls"]["mtls"].GetBool());

  // A certificate from a CA the gateway does not trust.
  std::vector<std::string> args = Mtls(pki().other_ca_client());
  args.insert(args.end(), {"--count", "3", "--tls", GetParam()});
  BenchRun impostor = Bench("handshake", args);
  ASSERT_EQ(impostor.exit_status, 1) << impostor.out << impostor.err;
  EXPECT_EQ(U64(impostor.json, "handshakes"), 0u) << impostor.out;
  EXPECT_EQ(U64(impostor.json["failure_reasons"], "CERTIFICATE_VERIFY_FAILED"), 3u) << impostor.out;
}

TEST_F(PortcullisBench, NothingListeningIsConnectionRefused) {
  ClosedPort closed;
  std::vector<std::string> argv = {
      BenchPath(), "handshake",     "127.0.0.1:" + std::to_string(closed.port()),
      "--ca",      pki().ca().cert, "--count",
      "3",         "--json",        "--quiet"};
  Result<testing::CommandResult> result = testing::RunCommand(argv, kBenchTimeoutMs);
  ASSERT_TRUE(result.ok()) << result.error();
  ASSERT_EQ(result->exit_status, 1) << result->out << result->err;
  rapidjson::Document j = ParseJson(result->out);
  ASSERT_TRUE(j.IsObject()) << result->out;
  EXPECT_EQ(U64(j["failure_reasons"], "CONNECTION_REFUSED"), 3u) << result->out;
}

// ---- request -------------------------------------------------------------------------------

TEST_F(PortcullisBench, StatelessRequestsAllSucceed) {
  StartGateway();
  std::vector<std::string> args = Mtls();
  args.insert(args.end(), {"--count", "25", "--concurrency", "3", "--server-pid",
                           std::to_string(gateway_.process().pid())});
  BenchRun run = Bench("request", args);
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  ExpectCommonFields(run, "requests");
  const rapidjson::Document& j = run.json;
  EXPECT_EQ(U64(j, "requests"), 25u);
  EXPECT_EQ(U64(j, "failures"), 0u);
  EXPECT_EQ(U64(j["status"], "200"), 25u) << run.out;
  EXPECT_EQ(U64(j, "setup_failures"), 0u);
  EXPECT_EQ(U64(j, "connections"), 0u) << "keep-alive connections were reopened: " << run.out;
  EXPECT_EQ(std::string(j["path"].GetString()), "/mcp/example");
  EXPECT_TRUE(j["rate"].IsNull());
  EXPECT_TRUE(j["server"].IsObject());
  EXPECT_TRUE(j.HasMember("sse") && j["sse"].HasMember("replies"));
}

TEST_F(PortcullisBench, InitOpensASessionPerConnection) {
  StartGateway();
  std::vector<std::string> args = Mtls();
  args.insert(args.end(), {"--count", "12", "--concurrency", "2", "--init"});
  BenchRun run = Bench("request", args);
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  ExpectCommonFields(run, "requests");
  EXPECT_EQ(U64(run.json, "requests"), 12u);
  EXPECT_EQ(U64(run.json["status"], "200"), 12u) << run.out;
}

TEST_F(PortcullisBench, SessionRequestsWithoutInitFailWithTheServersStatus) {
  StartGateway();
  // A session-era body with no Mcp-Session-Id: the sessionful example server answers 400.
  TempDir dir("bench-body");
  std::string body = dir.Write(
      "body.json",
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}})");
  std::vector<std::string> args = Mtls();
  args.insert(args.end(), {"--count", "4", "--body-file", body, "--header",
                           "MCP-Protocol-Version: 2025-11-25"});
  BenchRun run = Bench("request", args);
  ASSERT_EQ(run.exit_status, 1) << run.out << run.err;
  ExpectCommonFields(run, "requests");
  EXPECT_EQ(U64(run.json, "requests"), 0u);
  EXPECT_EQ(U64(run.json["failure_reasons"], "HTTP_400"), 4u) << run.out;
  EXPECT_EQ(U64(run.json["status"], "400"), 4u) << run.out;
}

TEST_F(PortcullisBench, SseRepliesCountEventsAndSpacing) {
  StartGateway();
  std::vector<std::string> args = Mtls();
  args.insert(args.end(), {"--count", "4", "--concurrency", "2", "--init", "--sse"});
  BenchRun run = Bench("request", args);
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  ExpectCommonFields(run, "requests");
  const rapidjson::Value& sse = run.json["sse"];
  EXPECT_EQ(U64(sse, "replies"), 4u) << run.out;
  uint64_t events = U64(sse, "events");
  // slow_count with a progress token: progress notifications, then the response, one event each.
  EXPECT_GT(events, 4u) << run.out;
  EXPECT_EQ(U64(sse["first_event_us"], "count"), 4u) << run.out;
  EXPECT_EQ(U64(sse["event_gap_us"], "count"), events - 4) << run.out;
}

TEST_F(PortcullisBench, OpenLoopRateSendsEveryScheduledRequest) {
  StartGateway();
  std::vector<std::string> args = Mtls();
  args.insert(args.end(), {"--count", "20", "--concurrency", "2", "--rate", "200"});
  BenchRun run = Bench("request", args);
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  ExpectCommonFields(run, "requests");
  EXPECT_EQ(U64(run.json, "requests"), 20u);
  EXPECT_EQ(U64(run.json, "backlog"), 0u);
  EXPECT_TRUE(run.json["rate"].IsNumber());
}

TEST_F(PortcullisBench, DurationBoundsAClosedLoop) {
  StartGateway();
  std::vector<std::string> args = Mtls();
  args.insert(args.end(), {"--duration", "0.5", "--concurrency", "2"});
  BenchRun run = Bench("request", args);
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  ExpectCommonFields(run, "requests");
  EXPECT_GT(U64(run.json, "requests"), 0u);
  EXPECT_EQ(U64(run.json, "failures"), 0u);
  EXPECT_TRUE(run.json["count"].IsNull());
}

TEST_F(PortcullisBench, RequestsWithTheWrongCaAllFail) {
  StartGateway();
  BenchRun run = Bench("request", {"--ca", pki().other_ca().cert, "--cert", pki().client().cert,
                                   "--key", pki().client().key, "--count", "3"});
  ASSERT_EQ(run.exit_status, 1) << run.out << run.err;
  ExpectCommonFields(run, "requests");
  EXPECT_EQ(U64(run.json["failure_reasons"], "CERTIFICATE_VERIFY_FAILED"), 3u) << run.out;
  // The connections set up before the measurement failed the same way.
  EXPECT_GT(U64(run.json["setup_failure_reasons"], "CERTIFICATE_VERIFY_FAILED"), 0u) << run.out;
}

// ---- request --plain: straight to the upstream, the baseline a proxy's cost is measured against

TEST_F(PortcullisBench, PlainRequestsStraightToTheUpstreamAllSucceed) {
  ASSERT_TRUE(example_.Start().ok());
  BenchRun run = BenchAt(UpstreamTarget(), "request",
                         {"--plain", "--path", "/mcp", "--count", "25", "--concurrency", "3",
                          "--server-pid", std::to_string(example_.process().pid())});
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  ExpectCommonFields(run, "requests", UpstreamTarget());
  const rapidjson::Document& j = run.json;
  EXPECT_TRUE(j["tls"].IsNull()) << "no plain marker: " << run.out;
  EXPECT_EQ(U64(j, "requests"), 25u);
  EXPECT_EQ(U64(j, "failures"), 0u);
  EXPECT_EQ(U64(j["status"], "200"), 25u) << run.out;
  EXPECT_EQ(U64(j, "setup_failures"), 0u);
  EXPECT_EQ(U64(j, "connections"), 0u) << "keep-alive connections were reopened: " << run.out;
  EXPECT_EQ(std::string(j["path"].GetString()), "/mcp");
  ASSERT_TRUE(j["server"].IsObject()) << run.out;
  EXPECT_EQ(j["server"]["pid"].GetInt(), example_.process().pid());
}

TEST_F(PortcullisBench, PlainOpenLoopRateSendsEveryScheduledRequest) {
  ASSERT_TRUE(example_.Start().ok());
  BenchRun run = BenchAt(
      UpstreamTarget(), "request",
      {"--plain", "--path", "/mcp", "--count", "20", "--concurrency", "2", "--rate", "200"});
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  ExpectCommonFields(run, "requests", UpstreamTarget());
  EXPECT_TRUE(run.json["tls"].IsNull()) << run.out;
  EXPECT_EQ(U64(run.json, "requests"), 20u);
  EXPECT_EQ(U64(run.json["status"], "200"), 20u) << run.out;
  EXPECT_EQ(U64(run.json, "backlog"), 0u);
  EXPECT_TRUE(run.json["rate"].IsNumber());
}

TEST_F(PortcullisBench, PlainInitAndSseWorkAgainstTheUpstream) {
  ASSERT_TRUE(example_.Start().ok());
  BenchRun run = BenchAt(
      UpstreamTarget(), "request",
      {"--plain", "--path", "/mcp", "--count", "4", "--concurrency", "2", "--init", "--sse"});
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  ExpectCommonFields(run, "requests", UpstreamTarget());
  EXPECT_EQ(U64(run.json, "requests"), 4u);
  EXPECT_EQ(U64(run.json["sse"], "replies"), 4u) << run.out;
  EXPECT_EQ(U64(run.json["sse"]["first_event_us"], "count"), 4u) << run.out;
}

TEST_F(PortcullisBench, PlainTextReportSaysPlainHttp) {
  ASSERT_TRUE(example_.Start().ok());
  BenchRun run = BenchAt(UpstreamTarget(), "request", {"--plain", "--path", "/mcp", "--count", "3"},
                         /*json=*/false);
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  EXPECT_NE(run.out.find(": plain HTTP"), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find("TLS 1."), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("requests    3 ok, 0 failed"), std::string::npos) << run.out;
}

TEST_F(PortcullisBench, PlainIsRefusedOutsideRequestModeAndWithTlsFlags) {
  const std::string target = "127.0.0.1:1";
  std::vector<std::vector<std::string>> cases = {
      {"handshake", "--plain"},
      {"idle", "--plain"},
      {"request", "--plain", "--cert", "/x.pem", "--key", "/x.key"},
      {"request", "--plain", "--key", "/x.key"},
      {"request", "--plain", "--ca", "/x.pem"},
      {"request", "--insecure", "--plain"},
      {"request", "--plain", "--sni", "localhost"},
      {"request", "--plain", "--tls", "1.3"},
      {"request", "--plain", "--resume"},
      {"request", "--plain", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"},
      {"request", "--plain=yes"},
  };
  for (const std::vector<std::string>& args : cases) {
    std::vector<std::string> argv = {BenchPath(), args[0], target};
    argv.insert(argv.end(), args.begin() + 1, args.end());
    Result<testing::CommandResult> result = testing::RunCommand(argv, kBenchTimeoutMs);
    ASSERT_TRUE(result.ok()) << result.error();
    EXPECT_EQ(result->exit_status, 2) << args[0] << " " << args.back() << ": " << result->err;
    EXPECT_NE(result->err.find("portcullis-bench: "), std::string::npos) << result->err;
    EXPECT_NE(result->err.find("--plain"), std::string::npos) << result->err;
    EXPECT_TRUE(result->out.empty()) << result->out;
  }
}

// ---- idle ----------------------------------------------------------------------------------

TEST_F(PortcullisBench, IdleConnectionsStayOpenForTheHold) {
  StartGateway();
  std::vector<std::string> args = Mtls();
  args.insert(args.end(), {"--count", "10", "--concurrency", "3", "--hold", "0.3", "--server-pid",
                           std::to_string(gateway_.process().pid())});
  BenchRun run = Bench("idle", args);
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  ExpectCommonFields(run, "opened");
  const rapidjson::Document& j = run.json;
  EXPECT_EQ(U64(j, "opened"), 10u);
  EXPECT_EQ(U64(j, "open_at_end"), 10u);
  EXPECT_EQ(U64(j, "closed_early"), 0u);
  EXPECT_EQ(SumOf(j["versions"]), 10u);
  ASSERT_TRUE(j["server"].IsObject()) << run.out;
  EXPECT_TRUE(j["server"].HasMember("rss_bytes_per_connection")) << run.out;
}

TEST_F(PortcullisBench, IdleConnectionsRefusedAfterTheHandshakeAreClosedEarly) {
  StartGateway();
  // TLS 1.3: the gateway judges the client certificate after the client finished, so the
  // connections open and are then closed with an alert.
  std::vector<std::string> args = Mtls(pki().other_ca_client());
  // The hold only has to outlast one round trip and a certificate check.
  args.insert(args.end(), {"--count", "3", "--hold", "2", "--tls", "1.3"});
  BenchRun run = Bench("idle", args);
  ASSERT_EQ(run.exit_status, 1) << run.out << run.err;
  EXPECT_EQ(U64(run.json, "opened"), 3u) << run.out;
  EXPECT_EQ(U64(run.json, "closed_early"), 3u) << run.out;
  EXPECT_EQ(U64(run.json, "open_at_end"), 0u) << run.out;
  EXPECT_EQ(U64(run.json["closed_reasons"], "CERTIFICATE_VERIFY_FAILED"), 3u) << run.out;
}

// ---- command line --------------------------------------------------------------------------

TEST_F(PortcullisBench, TextReportNamesTheFigures) {
  StartGateway();
  std::vector<std::string> args = Mtls();
  args.insert(args.end(), {"--count", "3"});
  BenchRun run = Bench("handshake", args, /*json=*/false);
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("handshakes  3 ok, 0 failed"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("latency     p50 "), std::string::npos) << run.out;
}

TEST_F(PortcullisBench, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {BenchPath()},
           {BenchPath(), "handshake"},
           {BenchPath(), "flood", "127.0.0.1:1"},
           {BenchPath(), "handshake", "127.0.0.1:1", "--rate", "10"},
           {BenchPath(), "handshake", "127.0.0.1:1", "--concurrency", "1000000"},
           {BenchPath(), "handshake", "127.0.0.1:1", "--cert", "/x.pem"},
           {BenchPath(), "idle", "127.0.0.1:1", "--count", "1000000"},
           {BenchPath(), "handshake", "127.0.0.1:1", "--ca", "/nonexistent/ca.pem"},
       }) {
    Result<testing::CommandResult> result = testing::RunCommand(argv, kBenchTimeoutMs);
    ASSERT_TRUE(result.ok()) << result.error();
    EXPECT_EQ(result->exit_status, 2) << argv.back() << ": " << result->err;
    EXPECT_NE(result->err.find("portcullis-bench: "), std::string::npos) << result->err;
    EXPECT_TRUE(result->out.empty()) << result->out;
  }
  Result<testing::CommandResult> help = testing::RunCommand({BenchPath(), "--help"}, 10000);
  ASSERT_TRUE(help.ok()) << help.error();
  EXPECT_EQ(help->exit_status, 0);
  EXPECT_NE(help->out.find("usage: portcullis-bench MODE HOST:PORT"), std::string::npos);
}

}  // namespace
}  // namespace portcullis::gateway_test
