// What the audit log says about requests, sessions, upstream failures and the gateway's own
// life (issue 4, DESIGN §5): the fields of mcp.request and mcp.denied, a record for a client
// that went away (499), mcp.session_opened/closed, upstream.refused, gateway.started,
// config.reload and gateway.stopped; and hostile strings (quotes, newlines, control bytes, NUL,
// invalid UTF-8, a 1 MB tool name) that can neither break a line nor the chain.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "tests/integration/gateway/audit_fixture.h"
#include "tests/integration/gateway/policy_fixture.h"

namespace portcullis::gateway_test {
namespace {

constexpr char kPolicy[] = R"({
  "rules": [{
    "name": "agents",
    "match": [{"issuer": "**"}],
    "grant": {
      "echo": {"tools": ["**"], "resources": ["**"], "prompts": ["**"]},
      "example": {"tools": ["**"]},
      "silent": {"tools": ["**"]},
      "down": {"tools": ["**"]},
      "locked": {"tools": ["only_this_one"]}
    }
  }]
})";

class GatewayAuditRequest : public AuditTestBase {
 protected:
  void SetUp() override {
    AuditTestBase::SetUp();
    ASSERT_TRUE(echo_.ok()) << echo_.error();
    ASSERT_TRUE(silent_.ok()) << silent_.error();
  }

  void StartGateway(bool with_example = false) {
    GatewayConfig config;
    config.AddUpstream("echo", echo_.url());
    config.AddUpstream("locked", echo_.url());
    config.AddUpstream("silent", silent_.url());
    config.AddUpstream("down", "http://127.0.0.1:" + std::to_string(closed_.port()) + "/mcp");
    if (with_example) {
      Status s = example_.Start();
      ASSERT_TRUE(s.ok()) << s.message();
      config.AddUpstream("example", example_.url());
    } else {
      config.AddUpstream("example", echo_.url());
    }
    config.policy = kPolicy;
    config.limits = {R"("drain_timeout_ms": 2000)"};
    Status s = gateway_.Start(config);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  std::unique_ptr<TlsClient> Connect() {
    auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
    EXPECT_TRUE(client.ok()) << client.error();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  // The one mcp.request (or other `event`) whose "id" is `id_json`.
  static const rapidjson::Value* ById(const AuditLog& log, const std::string& id_json,
                                      const char* event = "mcp.request") {
    const rapidjson::Value* found = nullptr;
    for (const rapidjson::Value* r : log.Events(event)) {
      if (JStr(*r, "id") == id_json) {
        EXPECT_EQ(found, nullptr) << "two " << event << " records for id " << id_json;
        found = r;
      }
    }
    EXPECT_NE(found, nullptr) << "no " << event << " for id " << id_json << "\n" << log.Summary();
    return found;
  }

  EchoUpstream echo_;
  EchoUpstream silent_{EchoUpstream::Mode::kSilent};
  ClosedPort closed_;
  ExampleServer example_;
  AuditGateway gateway_;
};

TEST_F(GatewayAuditRequest, AllowedAndDeniedCallsCarryEveryField) {
  StartGateway();
  auto client = Connect();
  ASSERT_TRUE(client);
  const std::string peer = LocalPeer(client->fd());
  const std::string allowed = ToolCallBody("41", "lookup");
  const std::string denied = ToolCallBody("\"q-42\"", "delete_everything");
  const std::string read = R"({"jsonrpc":"2.0","id":43,"method":"resources/read",)"
                           R"("params":{"uri":"file:///etc/motd"}})";
  const std::string prompt = R"({"jsonrpc":"2.0","id":44,"method":"prompts/get",)"
                             R"("params":{"name":"greet"}})";
  auto a = testing::Request(*client, "POST", "/mcp/echo", JsonHeaders(), allowed, kRequestMs);
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(a->status, 200);
  auto d = testing::Request(*client, "POST", "/mcp/locked", JsonHeaders(), denied, kRequestMs);
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(JsonRpcErrorCode(d->body), -32003) << d->body;
  for (const std::string& body : {read, prompt}) {
    auto r = testing::Request(*client, "POST", "/mcp/echo", JsonHeaders(), body, kRequestMs);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->status, 200);
  }
  Result<std::string> fingerprint = TestPki::Fingerprint(pki().client().cert);
  ASSERT_TRUE(fingerprint.ok());
  AuditLog log = gateway_.StopAndRead();
  EXPECT_TRUE(log.bad_lines().empty());
  EXPECT_EQ(log.Events("mcp.request").size(), 4u) << log.Summary();

  const rapidjson::Value* r = ById(log, "41");
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(JStr(*r, "conn").empty());
  EXPECT_EQ(JStr(*r, "peer"), peer);
  ASSERT_TRUE(JHas(*r, "identity") && (*r)["identity"].IsObject());
  EXPECT_EQ(JStr((*r)["identity"], "cn"), kGoodClientCn);
  EXPECT_EQ(JStr((*r)["identity"], "spiffe_id"), kGoodClientSpiffeId);
  EXPECT_EQ(JStr((*r)["identity"], "fingerprint_sha256"), *fingerprint);
  EXPECT_EQ(JStr(*r, "http_method"), "POST");
  EXPECT_EQ(JStr(*r, "path"), "/mcp/echo");
  EXPECT_EQ(JStr(*r, "server"), "echo");
  EXPECT_EQ(JStr(*r, "method"), "tools/call");
  EXPECT_EQ(JStr(*r, "tool"), "lookup");
  EXPECT_EQ(JStr(*r, "decision"), "allow");
  EXPECT_EQ(JStr(*r, "rule"), "agents");
  EXPECT_EQ(JInt(*r, "status"), std::optional<int64_t>(200));
  EXPECT_TRUE(JInt(*r, "latency_us").has_value());
  EXPECT_EQ(JInt(*r, "bytes_in"), std::optional<int64_t>(static_cast<int64_t>(allowed.size())));
  EXPECT_EQ(JInt(*r, "bytes_out"), std::optional<int64_t>(static_cast<int64_t>(a->body.size())));
  EXPECT_FALSE(JHas(*r, "reason"));
  EXPECT_TRUE(log.Events("mcp.denied").size() == 1u) << log.Summary();

  // The refusal: mcp.request and mcp.denied, the same fields plus why.
  for (const char* event : {"mcp.request", "mcp.denied"}) {
    SCOPED_TRACE(event);
    const rapidjson::Value* x = ById(log, R"("q-42")", event);
    ASSERT_NE(x, nullptr);
    EXPECT_EQ(JStr(*x, "peer"), peer);
    EXPECT_EQ(JStr(*x, "server"), "locked");
    EXPECT_EQ(JStr(*x, "method"), "tools/call");
    EXPECT_EQ(JStr(*x, "tool"), "delete_everything");
    EXPECT_EQ(JStr(*x, "decision"), "deny");
    EXPECT_EQ(JInt(*x, "status"), std::optional<int64_t>(200));  // a JSON-RPC error in a 200
    EXPECT_NE(JStr(*x, "reason").find("delete_everything"), std::string::npos)
        << JStr(*x, "reason");
    EXPECT_EQ(JStr(*x, "conn"), JStr(*r, "conn"));
  }
  EXPECT_EQ(echo_.request_count(), 3u);  // the denied call never reached the upstream

  const rapidjson::Value* res = ById(log, "43");
  ASSERT_NE(res, nullptr);
  EXPECT_EQ(JStr(*res, "method"), "resources/read");
  EXPECT_EQ(JStr(*res, "resource"), "file:///etc/motd");
  const rapidjson::Value* pr = ById(log, "44");
  ASSERT_NE(pr, nullptr);
  EXPECT_EQ(JStr(*pr, "method"), "prompts/get");
  EXPECT_EQ(JStr(*pr, "prompt"), "greet");
}

TEST_F(GatewayAuditRequest, AClientThatWentAwayIsRecordedAs499) {
  StartGateway();
  auto client = Connect();
  ASSERT_TRUE(client);
  const std::string peer = LocalPeer(client->fd());
  ASSERT_TRUE(client
                  ->WriteAll(testing::SerializeRequest("POST", "/mcp/silent", JsonHeaders(),
                                                       ToolCallBody("99", "wait")))
                  .ok());
  ASSERT_TRUE(silent_.WaitForRequests(1, kWaitMs));
  client->Reset();
  client.reset();
  gateway_.WaitFor([](const AuditLog& log) { return !log.Events("mcp.request").empty(); });
  AuditLog log = gateway_.StopAndRead();
  const rapidjson::Value* r = ById(log, "99");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(JStr(*r, "peer"), peer);
  EXPECT_EQ(JStr(*r, "server"), "silent");
  EXPECT_EQ(JStr(*r, "tool"), "wait");
  EXPECT_EQ(JInt(*r, "status"), std::optional<int64_t>(499));
  EXPECT_FALSE(JStr(*r, "reason").empty());
}

// The same on a keep-alive connection that has already carried an answered request: the
// record of the abandoned request must not inherit the earlier response's status or size.
TEST_F(GatewayAuditRequest, AClientThatWentAwayAfterAnEarlierAnswerIsStill499) {
  StartGateway();
  auto client = Connect();
  ASSERT_TRUE(client);
  auto first = testing::Request(*client, "POST", "/mcp/echo", JsonHeaders(),
                                ToolCallBody("1", "first"), kRequestMs);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_EQ(first->status, 200);
  ASSERT_TRUE(client
                  ->WriteAll(testing::SerializeRequest("POST", "/mcp/silent", JsonHeaders(),
                                                       ToolCallBody("2", "wait")))
                  .ok());
  ASSERT_TRUE(silent_.WaitForRequests(1, kWaitMs));
  client->Reset();
  client.reset();
  gateway_.WaitFor([](const AuditLog& log) { return log.Events("mcp.request").size() >= 2; });
  AuditLog log = gateway_.StopAndRead();
  const rapidjson::Value* answered = ById(log, "1");
  ASSERT_NE(answered, nullptr);
  EXPECT_EQ(JInt(*answered, "status"), std::optional<int64_t>(200));
  const rapidjson::Value* abandoned = ById(log, "2");
  ASSERT_NE(abandoned, nullptr);
  EXPECT_EQ(JStr(*abandoned, "server"), "silent");
  EXPECT_EQ(JInt(*abandoned, "status"), std::optional<int64_t>(499))
      << "the abandoned request was recorded with the status of the connection's previous "
         "response";
  EXPECT_EQ(JInt(*abandoned, "bytes_out"), std::optional<int64_t>(0))
      << "the abandoned request was recorded with the size of the previous response";
}

// Requests answered by the gateway itself with a 4xx are recorded exactly once each, with the
// status the client saw: unknown route, wrong method, bad JSON, a body over the limit, bad
// HTTP, and a request whose headers never finish.
TEST_F(GatewayAuditRequest, EveryLocalAnswerIsRecordedOnce) {
  GatewayConfig config;
  config.AddUpstream("echo", echo_.url());
  config.limits = {R"("max_body_bytes": 2048)", R"("header_timeout_ms": 300)"};
  ASSERT_TRUE(gateway_.Start(config).ok());
  std::vector<int> seen;
  {
    auto client = Connect();
    ASSERT_TRUE(client);
    for (auto [method, path, body] : std::vector<std::tuple<std::string, std::string, std::string>>{
             {"POST", "/nowhere", kPing},
             {"POST", "/mcp/nope", kPing},
             {"PUT", "/mcp/echo", kPing},
             {"POST", "/mcp/echo", "{not json"},
             {"POST", "/mcp/echo", std::string(4096, ' ')}}) {
      auto r = testing::Request(*client, method, path, JsonHeaders(), body, kRequestMs);
      ASSERT_TRUE(r.ok()) << method << " " << path << ": " << r.error();
      seen.push_back(r->status);
      if (!r->keep_alive) {
        break;
      }
    }
  }
  {
    auto client = Connect();
    ASSERT_TRUE(client);
    ASSERT_TRUE(client->WriteAll("BOGUS\x01 / HTTP/1.1\r\n\r\n").ok());
    auto r = testing::ReadResponse(*client, kRequestMs);
    ASSERT_TRUE(r.ok()) << r.error();
    seen.push_back(r->status);
  }
  {
    auto client = Connect();
    ASSERT_TRUE(client);
    ASSERT_TRUE(client->WriteAll("POST /mcp/echo HTTP/1.1\r\nHost: x\r\n").ok());
    auto r = testing::ReadResponse(*client, kWaitMs);
    ASSERT_TRUE(r.ok()) << r.error();
    seen.push_back(r->status);
  }
  EXPECT_EQ(seen, (std::vector<int>{404, 404, 405, 400, 413, 501, 408}));
  AuditLog log = gateway_.StopAndRead();
  std::vector<int> recorded;
  for (const rapidjson::Value* r : log.Events("mcp.request")) {
    recorded.push_back(static_cast<int>(JInt(*r, "status").value_or(0)));
    EXPECT_EQ(JStr(*r, "decision"), "none") << JStr(*r, "path");
  }
  EXPECT_EQ(recorded, seen) << log.Summary();
  EXPECT_EQ(echo_.request_count(), 0u);
}

TEST_F(GatewayAuditRequest, UpstreamRefusalIsRecordedWithTheRequest) {
  StartGateway();
  Attempt attempt = TryRequest(gateway_.port(), ClientOptions(pki().client()), "/mcp/down",
                               ToolCallBody("5", "anything"));
  ASSERT_TRUE(attempt.served) << attempt.detail;
  EXPECT_EQ(attempt.response.status, 502);
  AuditLog log = gateway_.StopAndRead();
  const rapidjson::Value* request = ById(log, "5");
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(JInt(*request, "status"), std::optional<int64_t>(502));
  auto refused = log.Events("upstream.refused");
  ASSERT_EQ(refused.size(), 1u) << log.Summary();
  EXPECT_EQ(JStr(*refused[0], "server"), "down");
  EXPECT_EQ(JStr(*refused[0], "conn"), JStr(*request, "conn"));
  EXPECT_FALSE(JStr(*refused[0], "detail").empty());
  EXPECT_EQ(JInt(*refused[0], "status"), std::optional<int64_t>(502));
}

TEST_F(GatewayAuditRequest, SessionsAreOpenedAndClosedInTheLog) {
  StartGateway(/*with_example=*/true);
  auto client = Connect();
  ASSERT_TRUE(client);
  const std::string peer = LocalPeer(client->fd());
  Result<std::string> session = OpenMcpSession(*client, "/mcp/example");
  ASSERT_TRUE(session.ok()) << session.error();
  auto end = testing::Request(
      *client, "DELETE", "/mcp/example",
      {{"Mcp-Session-Id", *session}, {"MCP-Protocol-Version", kProtocolVersion}}, "", kRequestMs);
  ASSERT_TRUE(end.ok()) << end.error();
  EXPECT_EQ(end->status, 200) << end->body;
  AuditLog log = gateway_.StopAndRead();
  auto opened = log.Events("mcp.session_opened");
  ASSERT_EQ(opened.size(), 1u) << log.Summary();
  EXPECT_EQ(JStr(*opened[0], "peer"), peer);
  EXPECT_EQ(JStr(*opened[0], "server"), "example");
  EXPECT_EQ(JStr(*opened[0], "session").size(), 16u) << JStr(*opened[0], "session");
  EXPECT_EQ(JStr(*opened[0], "session").find(*session), std::string::npos)
      << "the log must not hold a usable session id";
  EXPECT_EQ(JStr((*opened[0])["identity"], "cn"), kGoodClientCn);
  auto closed = log.Events("mcp.session_closed");
  ASSERT_EQ(closed.size(), 1u) << log.Summary();
  EXPECT_EQ(JStr(*closed[0], "server"), "example");
  EXPECT_EQ(JStr(*closed[0], "conn"), JStr(*opened[0], "conn"));
  // initialize, notifications/initialized and DELETE: three requests.
  EXPECT_EQ(log.Events("mcp.request").size(), 3u) << log.Summary();
}

TEST_F(GatewayAuditRequest, GatewayLifeAndPolicyReloadsAreRecorded) {
  StartGateway();
  const std::string policy_path = gateway_.process().dir().File("policy.json");
  std::string changed = kPolicy;
  changed.replace(changed.find("\"agents\""), 8, "\"agents-v2\"");
  ReplaceFile(policy_path, changed);
  gateway_.process().process().Signal(SIGHUP);
  gateway_.WaitFor([](const AuditLog& log) { return !log.Events("config.reload").empty(); });
  ReplaceFile(policy_path, "{ not a policy");
  gateway_.process().process().Signal(SIGHUP);
  gateway_.WaitFor([](const AuditLog& log) {
    for (const rapidjson::Value* r : log.Events("config.reload")) {
      if (JHas(*r, "ok") && (*r)["ok"].IsBool() && !(*r)["ok"].GetBool()) {
        return true;
      }
    }
    return false;
  });
  EXPECT_TRUE(TryRequest(gateway_.port(), ClientOptions(pki().client()), "/mcp/echo").served);
  AuditLog log = gateway_.StopAndRead();
  ASSERT_GE(log.size(), 2u);
  const rapidjson::Value& started = log.at(0);
  EXPECT_EQ(JStr(started, "event"), "gateway.started");
  EXPECT_FALSE(JStr(started, "version").empty());
  EXPECT_EQ(JStr(started, "config"), gateway_.process().config_path());
  EXPECT_EQ(JStr(started, "policy_sha256").size(), 64u);
  EXPECT_EQ(JInt(started, "reactors"), std::optional<int64_t>(1));
  const rapidjson::Value& stopped = log.at(log.size() - 1);
  EXPECT_EQ(JStr(stopped, "event"), "gateway.stopped");
  EXPECT_EQ(JInt(stopped, "connections"), std::optional<int64_t>(1));

  auto reloads = log.Events("config.reload");
  ASSERT_GE(reloads.size(), 2u) << log.Summary();
  // The good reload (SIGHUP or the file watcher, whichever came first) is recorded once.
  const rapidjson::Value& good = *reloads[0];
  ASSERT_TRUE(JHas(good, "ok") && good["ok"].IsBool());
  EXPECT_TRUE(good["ok"].GetBool());
  EXPECT_EQ(JStr(good, "previous_sha256"), JStr(started, "policy_sha256"));
  EXPECT_EQ(JStr(good, "sha256").size(), 64u);
  EXPECT_NE(JStr(good, "sha256"), JStr(good, "previous_sha256"));
  EXPECT_EQ(JInt(good, "rules"), std::optional<int64_t>(1));
  EXPECT_EQ(JStr(good, "file"), policy_path);
  EXPECT_FALSE(JStr(good, "trigger").empty());
  // Every later one is the broken file, refused, keeping the good policy.
  for (size_t i = 1; i < reloads.size(); ++i) {
    const rapidjson::Value& bad = *reloads[i];
    ASSERT_TRUE(JHas(bad, "ok") && bad["ok"].IsBool());
    EXPECT_FALSE(bad["ok"].GetBool());
    EXPECT_FALSE(JStr(bad, "error").empty());
    EXPECT_EQ(JStr(bad, "kept_sha256"), JStr(good, "sha256"));
  }
  // The request after the failed reload was decided by the good policy's renamed rule.
  auto requests = log.Events("mcp.request");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(JStr(*requests[0], "rule"), "agents-v2");
}

// Strings from the network that try to break the log: each must stay inside its field, come
// back exactly (valid UTF-8) or with U+FFFD (invalid), and leave every line one JSON object
// and the chain intact.
TEST_F(GatewayAuditRequest, HostileStringsCannotBreakALineOrTheChain) {
  StartGateway();
  const std::vector<std::string> names = {
      R"(quote"and\backslash)",
      "new\nline\r\n{\"ts\":\"forged\",\"event\":\"gateway.stopped\"}\n",
      std::string("ctl\x01\x07\x1b[31mred\x7f", 14),
      "unicode \xe3\x83\x84\xe3\x83\xbc\xe3\x83\xab \xf0\x9f\x94\x91",
      "\"}],\"seq\":1,\"prev\":\"0000\",\"hash\":\"x\"}",
  };
  auto client = Connect();
  ASSERT_TRUE(client);
  int id = 100;
  std::vector<std::pair<std::string, std::string>> sent;  // id JSON, tool name
  for (const std::string& name : names) {
    for (const char* upstream : {"/mcp/echo", "/mcp/locked"}) {  // allowed, then denied
      std::string id_json = std::to_string(id++);
      auto r = testing::Request(*client, "POST", upstream, JsonHeaders(),
                                ToolCallBody(id_json, name), kRequestMs);
      ASSERT_TRUE(r.ok()) << r.error();
      EXPECT_EQ(r->status, 200) << r->body;
      sent.emplace_back(id_json, name);
    }
  }
  // Names the gateway refuses to judge (400, -32600), recorded all the same: a NUL byte, and a
  // lone low surrogate (valid JSON text that decodes to invalid UTF-8).
  const std::vector<std::string> refused_bodies = {
      ToolCallBody("\"nul\"", std::string("nul\0inside", 10)),
      R"({"jsonrpc":"2.0","id":"s\udc80","method":"tools/call","params":{"name":"bad\udc80"}})",
  };
  for (const std::string& body : refused_bodies) {
    auto r = testing::Request(*client, "POST", "/mcp/echo", JsonHeaders(), body, kRequestMs);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->status, 400) << r->body;
  }
  // A 1 MB tool name, and a string id full of quotes.
  const std::string huge(1000000, 'A');
  const std::string quotes_id = JsonString(std::string(5000, '"'));
  auto h = testing::Request(*client, "POST", "/mcp/echo", JsonHeaders(),
                            ToolCallBody(quotes_id, huge), kRequestMs);
  ASSERT_TRUE(h.ok()) << h.error();
  EXPECT_EQ(h->status, 200);
  // Raw bytes that are not UTF-8 in the request target.
  auto raw = testing::Request(*client, "POST", "/mcp/e\xff\xfe%22x", JsonHeaders(),
                              ToolCallBody("7", "x"), kRequestMs);
  EXPECT_TRUE(raw.ok()) << raw.error();

  AuditLog log = gateway_.StopAndRead();
  // One JSON object per line, no more lines than records, and the chain verifies.
  EXPECT_TRUE(log.bad_lines().empty())
      << log.bad_lines().size()
      << " bad line(s), first: " << (log.bad_lines().empty() ? "" : log.bad_lines()[0]);
  std::string text = TempDir::ReadFile(gateway_.audit_path());
  EXPECT_EQ(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')), log.size());
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(JInt(log.at(i), "seq"), std::optional<int64_t>(static_cast<int64_t>(i + 1)));
  }
  EXPECT_EQ(log.Events("gateway.stopped").size(), 1u);
  EXPECT_TRUE(log.Events("forged").empty());
  CommandResult verify = RunVerify({gateway_.audit_path()}, /*strict=*/true);
  EXPECT_EQ(verify.exit_status, 0) << verify.out << verify.err;

  for (const auto& [id_json, name] : sent) {
    const rapidjson::Value* r = ById(log, id_json);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(JStr(*r, "tool"), name) << "id " << id_json;
  }
  EXPECT_EQ(log.Events("mcp.denied").size(), names.size());
  for (const rapidjson::Value* d : log.Events("mcp.denied")) {
    EXPECT_FALSE(JStr(*d, "reason").empty());
  }

  for (const char* id : {R"("nul")", R"("s\udc80")"}) {
    const rapidjson::Value* r = ById(log, id);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(JInt(*r, "status"), std::optional<int64_t>(400));
    EXPECT_NE(JStr(*r, "reason").find("NUL"), std::string::npos) << JStr(*r, "reason");
  }

  const rapidjson::Value* big = nullptr;
  for (const rapidjson::Value* r : log.Events("mcp.request")) {
    if (JStr(*r, "tool").rfind("AAAA", 0) == 0) {
      big = r;
    }
  }
  ASSERT_NE(big, nullptr) << log.Summary();
  EXPECT_LE(JStr(*big, "tool").size(), audit::Record::kMaxFieldBytes);
  EXPECT_EQ(JStr(*big, "tool"), huge.substr(0, JStr(*big, "tool").size()));
  ASSERT_TRUE(JHas(*big, "tool_truncated") && (*big)["tool_truncated"].IsBool());
  EXPECT_TRUE((*big)["tool_truncated"].GetBool());
  EXPECT_EQ(JInt(*big, "bytes_in"),
            std::optional<int64_t>(static_cast<int64_t>(ToolCallBody(quotes_id, huge).size())));
  ASSERT_TRUE(JHas(*big, "id_truncated"));  // 10 KB of escaped quotes
  EXPECT_LE(JStr(*big, "id").size(), audit::Record::kMaxFieldBytes);

  // The raw bytes of the target: each invalid byte became U+FFFD (no such upstream: 404).
  if (raw.ok()) {
    EXPECT_EQ(raw->status, 404);
    std::vector<std::string> paths;
    for (const rapidjson::Value* r : log.Events("mcp.request")) {
      if (JInt(*r, "status") == std::optional<int64_t>(404)) {
        paths.push_back(JStr(*r, "path"));
      }
    }
    EXPECT_EQ(paths, std::vector<std::string>{"/mcp/e\xef\xbf\xbd\xef\xbf\xbd%22x"});
  }
}

}  // namespace
}  // namespace portcullis::gateway_test
