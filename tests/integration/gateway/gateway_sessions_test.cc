// Sessions the gateway runs itself (issue 5): stdio upstreams behind Streamable HTTP (sessionful
// and 2026-07-28 stateless), legacy HTTP+SSE clients in front of stdio and HTTP upstreams, the
// hand-over of a session's requests between reactors, max_sessions, a crashing server's
// errors and backoff, idle sessions, identity binding, and no process left behind.
//
// Real parts only: the gateway binary over mTLS with the shared test PKI, the real
// mcp-example-server as the stdio child (and as an HTTP upstream), /bin/sh for a server that
// dies.
#include <signal.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "tests/integration/gateway/audit_fixture.h"
#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

using testing::SseEvent;
using testing::SseReader;

constexpr char kToolsList[] = R"({"jsonrpc":"2.0","id":"list-1","method":"tools/list"})";
constexpr char kEcho[] = R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo",)"
                         R"("arguments":{"message":"through a pipe"}}})";

// The single JSON-RPC message of an SSE reply body (the last "data:" payload).
std::string LastEventData(const std::string& body) {
  size_t at = body.rfind("data: ");
  if (at == std::string::npos) return "";
  size_t end = body.find('\n', at);
  return body.substr(at + 6, end == std::string::npos ? std::string::npos : end - at - 6);
}

HeaderList SessionHeaders(const std::string& session) {
  return JsonHeaders({{"Mcp-Session-Id", session}, {"MCP-Protocol-Version", kProtocolVersion}});
}

bool ProcessAlive(int pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

// Children of `parent` in state Z, from /proc/*/stat ("pid (comm) S ppid ...").
int ZombieChildren(int parent) {
  int zombies = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(stat.c_str() + paren + 1, " %c %d", &state, &ppid) != 2) continue;
    if (ppid == parent && state == 'Z') ++zombies;
  }
  return zombies;
}

class GatewaySessions : public GatewayTestBase {
 protected:
  // The stdio upstream "files" runs the example server through a shell that first writes its
  // pid to a file, so the test can watch the process.
  std::string StdioUpstream(const std::string& name, const std::string& more = "") {
    std::string pid_dir = dir_.path();
    std::string command =
        "echo $$ >> " + pid_dir + "/" + name + ".pids; exec " + ExampleServerPath();
    std::string member =
        "\"" + name + "\": {\"command\": [\"/bin/sh\", \"-c\", " + JsonString(command) + "]";
    if (!more.empty()) member += ", " + more;
    return member + "}";
  }
  std::vector<int> Pids(const std::string& name) {
    std::vector<int> pids;
    std::ifstream in(dir_.path() + "/" + name + ".pids");
    for (int pid; in >> pid;) pids.push_back(pid);
    return pids;
  }
  std::unique_ptr<TlsClient> Connect(const CertKey& cert) {
    auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(cert));
    EXPECT_TRUE(client.ok()) << client.error();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  TempDir dir_{"sessions"};
  AuditGateway gateway_;
};

TEST_F(GatewaySessions, StdioSessionServesInitializeListCallAndDelete) {
  GatewayConfig config;
  config.upstreams.push_back(StdioUpstream("files"));
  ASSERT_TRUE(gateway_.Start(config).ok());
  auto client = Connect(pki().client());
  ASSERT_TRUE(client);

  auto init =
      testing::Request(*client, "POST", "/mcp/files", JsonHeaders(), kInitialize, kRequestMs);
  ASSERT_TRUE(init.ok()) << init.error();
  ASSERT_EQ(init->status, 200) << init->body;
  EXPECT_EQ(init->Header("Content-Type"), "text/event-stream");
  EXPECT_EQ(init->Header("X-Accel-Buffering"), "no");
  std::optional<std::string> session = init->Header("Mcp-Session-Id");
  ASSERT_TRUE(session && !session->empty());
  std::string reply = LastEventData(init->body);
  EXPECT_EQ(JsonRpcIdText(reply), "1") << reply;  // the client's id, restored
  EXPECT_NE(reply.find("serverInfo"), std::string::npos) << reply;

  auto ack = testing::Request(*client, "POST", "/mcp/files", SessionHeaders(*session), kInitialized,
                              kRequestMs);
  ASSERT_TRUE(ack.ok()) << ack.error();
  EXPECT_EQ(ack->status, 202);

  auto list = testing::Request(*client, "POST", "/mcp/files", SessionHeaders(*session), kToolsList,
                               kRequestMs);
  ASSERT_TRUE(list.ok()) << list.error();
  ASSERT_EQ(list->status, 200);
  std::string tools = LastEventData(list->body);
  EXPECT_EQ(JsonRpcIdText(tools), "\"list-1\"");
  EXPECT_NE(tools.find("\"echo\""), std::string::npos) << tools;

  auto call =
      testing::Request(*client, "POST", "/mcp/files", SessionHeaders(*session), kEcho, kRequestMs);
  ASSERT_TRUE(call.ok()) << call.error();
  EXPECT_NE(call->body.find("through a pipe"), std::string::npos) << call->body;

  std::vector<int> pids = Pids("files");
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_TRUE(ProcessAlive(pids[0]));

  auto del =
      testing::Request(*client, "DELETE", "/mcp/files", SessionHeaders(*session), "", kRequestMs);
  ASSERT_TRUE(del.ok()) << del.error();
  EXPECT_EQ(del->status, 200);
  // The process ends (stdin closed) and is reaped: no zombie under the gateway.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
  while (ProcessAlive(pids[0]) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(ProcessAlive(pids[0]));
  EXPECT_EQ(ZombieChildren(gateway_.process().process().pid()), 0);

  auto after = testing::Request(*client, "POST", "/mcp/files", SessionHeaders(*session), kToolsList,
                                kRequestMs);
  ASSERT_TRUE(after.ok()) << after.error();
  EXPECT_EQ(after->status, 404);
  EXPECT_EQ(JsonRpcErrorCode(after->body), -32008);

  AuditLog log = gateway_.StopAndRead();
  EXPECT_EQ(log.Events("mcp.session_opened").size(), 1u);
  ASSERT_EQ(log.Events("mcp.session_closed").size(), 1u);
  EXPECT_EQ(JStr(*log.Events("mcp.session_closed")[0], "reason"), "the client ended the session");
}

TEST_F(GatewaySessions, ProgressArrivesBeforeTheResult) {
  GatewayConfig config;
  config.upstreams.push_back(StdioUpstream("files"));
  ASSERT_TRUE(gateway_.Start(config).ok());
  auto client = Connect(pki().client());
  ASSERT_TRUE(client);
  auto session = OpenMcpSession(*client, "/mcp/files");
  ASSERT_TRUE(session.ok()) << session.error();

  const std::string call =
      R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"slow_count",)"
      R"("arguments":{"n":3,"interval_ms":50},"_meta":{"progressToken":"p-1"}}})";
  auto reader =
      SseReader::Open(*client, "POST", "/mcp/files", SessionHeaders(*session), call, kRequestMs);
  ASSERT_TRUE(reader.ok()) << reader.error();
  ASSERT_EQ((*reader)->response().status, 200);
  std::vector<std::string> order;
  while (true) {
    auto event = (*reader)->Next(kWaitMs);
    ASSERT_TRUE(event.ok()) << event.error();
    if (!event->has_value()) break;
    const std::string& data = (*event)->data;
    order.push_back(data.find("notifications/progress") != std::string::npos ? "progress"
                                                                             : "result");
    if (order.back() == "progress") {
      EXPECT_NE(data.find("\"p-1\""), std::string::npos) << data;
    } else {
      EXPECT_EQ(JsonRpcIdText(data), "9") << data;
    }
  }
  ASSERT_GE(order.size(), 2u);
  EXPECT_EQ(order.back(), "result");
  EXPECT_EQ(order.front(), "progress");
}

// Requests for one session arrive on connections accepted by both reactors: each is handed to
// the reactor that owns the session and its answer comes back.
TEST_F(GatewaySessions, RequestsOnAnyReactorReachTheSession) {
  GatewayConfig config;
  config.reactors = 2;
  config.upstreams.push_back(StdioUpstream("files"));
  ASSERT_TRUE(gateway_.Start(config).ok());
  auto opener = Connect(pki().client());
  ASSERT_TRUE(opener);
  auto session = OpenMcpSession(*opener, "/mcp/files");
  ASSERT_TRUE(session.ok()) << session.error();

  constexpr int kConnections = 16;
  for (int i = 0; i < kConnections; ++i) {
    auto client = Connect(pki().client());
    ASSERT_TRUE(client);
    std::string body =
        R"({"jsonrpc":"2.0","id":)" + std::to_string(100 + i) +
        R"(,"method":"tools/call","params":{"name":"echo","arguments":{"message":"c)" +
        std::to_string(i) + R"("}}})";
    auto reply =
        testing::Request(*client, "POST", "/mcp/files", SessionHeaders(*session), body, kRequestMs);
    ASSERT_TRUE(reply.ok()) << reply.error();
    ASSERT_EQ(reply->status, 200) << reply->body;
    std::string data = LastEventData(reply->body);
    EXPECT_EQ(JsonRpcIdText(data), std::to_string(100 + i));
    EXPECT_NE(data.find("\"c" + std::to_string(i) + "\""), std::string::npos) << data;
  }
  EXPECT_EQ(Pids("files").size(), 1u);  // one session, one process

  AuditLog log = gateway_.StopAndRead();
  std::set<char> reactors;
  for (const rapidjson::Value* r : log.Events("mcp.request")) {
    if (JStr(*r, "method") == "tools/call" && JInt(*r, "status") == std::optional<int64_t>(200)) {
      reactors.insert(JStr(*r, "conn").front());
    }
  }
  // With 16 connections spread by SO_REUSEPORT, both reactors served some (the chance that one
  // took all is 2^-15).
  EXPECT_EQ(reactors.size(), 2u);
}

TEST_F(GatewaySessions, StatelessRequestsShareOneWarmProcess) {
  GatewayConfig config;
  config.upstreams.push_back(StdioUpstream("files"));
  ASSERT_TRUE(gateway_.Start(config).ok());
  auto client = Connect(pki().client());
  ASSERT_TRUE(client);
  for (int i = 0; i < 3; ++i) {
    std::string body = R"({"jsonrpc":"2.0","id":)" + std::to_string(i) +
                       R"(,"method":"tools/list","params":{"_meta":{)"
                       R"("io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})";
    auto reply = testing::Request(
        *client, "POST", "/mcp/files",
        JsonHeaders({{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/list"}}), body,
        kRequestMs);
    ASSERT_TRUE(reply.ok()) << reply.error();
    ASSERT_EQ(reply->status, 200) << reply->body;
    EXPECT_FALSE(reply->HasHeader("Mcp-Session-Id"));
    std::string data = LastEventData(reply->body);
    EXPECT_EQ(JsonRpcIdText(data), std::to_string(i));
    EXPECT_NE(data.find("\"echo\""), std::string::npos) << data;
  }
  EXPECT_EQ(Pids("files").size(), 1u);
}

TEST_F(GatewaySessions, SessionsAreBoundToTheIdentityThatOpenedThem) {
  GatewayConfig config;
  config.upstreams.push_back(StdioUpstream("files"));
  ASSERT_TRUE(gateway_.Start(config).ok());
  auto owner = Connect(pki().client());
  ASSERT_TRUE(owner);
  auto session = OpenMcpSession(*owner, "/mcp/files");
  ASSERT_TRUE(session.ok()) << session.error();
  auto other_cert = pki().IssueClient("session-thief");
  ASSERT_TRUE(other_cert.ok()) << other_cert.error();
  auto thief = Connect(*other_cert);
  ASSERT_TRUE(thief);
  auto stolen = testing::Request(*thief, "POST", "/mcp/files", SessionHeaders(*session), kToolsList,
                                 kRequestMs);
  ASSERT_TRUE(stolen.ok()) << stolen.error();
  EXPECT_EQ(stolen->status, 403);
  auto forged = testing::Request(*owner, "POST", "/mcp/files", SessionHeaders("AAAA" + *session),
                                 kToolsList, kRequestMs);
  ASSERT_TRUE(forged.ok()) << forged.error();
  EXPECT_EQ(forged->status, 404);
  auto missing =
      testing::Request(*owner, "POST", "/mcp/files", JsonHeaders(), kToolsList, kRequestMs);
  ASSERT_TRUE(missing.ok()) << missing.error();
  EXPECT_EQ(missing->status, 400);
}

TEST_F(GatewaySessions, MaxSessionsRefusesTheNextWith503) {
  GatewayConfig config;
  config.upstreams.push_back(StdioUpstream("files", R"("max_sessions": 1)"));
  ASSERT_TRUE(gateway_.Start(config).ok());
  auto client = Connect(pki().client());
  ASSERT_TRUE(client);
  auto first = OpenMcpSession(*client, "/mcp/files");
  ASSERT_TRUE(first.ok()) << first.error();
  auto second =
      testing::Request(*client, "POST", "/mcp/files", JsonHeaders(), kInitialize, kRequestMs);
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_EQ(second->status, 503);
  EXPECT_TRUE(second->HasHeader("Retry-After"));
  EXPECT_NE(second->body.find("max_sessions"), std::string::npos) << second->body;
  // Ending the first frees its place.
  auto del =
      testing::Request(*client, "DELETE", "/mcp/files", SessionHeaders(*first), "", kRequestMs);
  ASSERT_TRUE(del.ok()) << del.error();
  auto third = OpenMcpSession(*client, "/mcp/files");
  EXPECT_TRUE(third.ok()) << third.error();
}

// A server that dies while a request waits: the request gets a JSON-RPC error, the audit log
// upstream.exited, and a server that keeps dying is respawned only after a growing pause.
TEST_F(GatewaySessions, ACrashFailsTheRequestAndRespawningBacksOff) {
  GatewayConfig config;
  config.upstreams.push_back(R"("dies": {"command": ["/bin/sh", "-c", "read line; exit 3"]})");
  ASSERT_TRUE(gateway_.Start(config).ok());
  auto client = Connect(pki().client());
  ASSERT_TRUE(client);
  auto first =
      testing::Request(*client, "POST", "/mcp/dies", JsonHeaders(), kInitialize, kRequestMs);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_EQ(first->status, 200);
  std::string error = LastEventData(first->body);
  EXPECT_EQ(JsonRpcErrorCode(error), -32000) << error;
  EXPECT_EQ(JsonRpcIdText(error), "1") << error;

  bool backed_off = false;
  for (int i = 0; i < 10 && !backed_off; ++i) {
    auto again =
        testing::Request(*client, "POST", "/mcp/dies", JsonHeaders(), kInitialize, kRequestMs);
    ASSERT_TRUE(again.ok()) << again.error();
    if (again->status == 503) {
      backed_off = true;
      EXPECT_TRUE(again->HasHeader("Retry-After"));
    }
  }
  EXPECT_TRUE(backed_off) << "a server dying at once was respawned 10 times without a pause";
  AuditLog log = gateway_.StopAndRead();
  ASSERT_FALSE(log.Events("upstream.exited").empty());
  EXPECT_NE(JStr(*log.Events("upstream.exited")[0], "reason").find("3"), std::string::npos);
}

TEST_F(GatewaySessions, IdleSessionsEnd) {
  GatewayConfig config;
  config.limits.push_back(R"("session_idle_timeout_ms": 300)");
  config.upstreams.push_back(StdioUpstream("files"));
  ASSERT_TRUE(gateway_.Start(config).ok());
  auto client = Connect(pki().client());
  ASSERT_TRUE(client);
  auto session = OpenMcpSession(*client, "/mcp/files");
  ASSERT_TRUE(session.ok()) << session.error();
  AuditLog log =
      gateway_.WaitFor([](const AuditLog& l) { return !l.Events("mcp.session_closed").empty(); });
  ASSERT_EQ(log.Events("mcp.session_closed").size(), 1u);
  EXPECT_NE(JStr(*log.Events("mcp.session_closed")[0], "reason").find("idle"), std::string::npos);
  auto late = testing::Request(*client, "POST", "/mcp/files", SessionHeaders(*session), kToolsList,
                               kRequestMs);
  ASSERT_TRUE(late.ok()) << late.error();
  EXPECT_EQ(late->status, 404);
}

// ---- Legacy HTTP+SSE clients ---------------------------------------------------------------

class LegacySse : public GatewaySessions {
 protected:
  // Opens GET /sse/{upstream}, reads the endpoint event, and runs initialize through it.
  void OpenAndInitialize(const std::string& upstream) {
    stream_client_ = Connect(pki().client());
    ASSERT_TRUE(stream_client_);
    auto reader = SseReader::Open(*stream_client_, "GET", "/sse/" + upstream,
                                  {{"Accept", "text/event-stream"}}, "", kRequestMs);
    ASSERT_TRUE(reader.ok()) << reader.error();
    reader_ = std::move(reader).value();
    ASSERT_EQ(reader_->response().status, 200);
    ASSERT_TRUE(reader_->is_event_stream());
    auto endpoint = reader_->Next(kWaitMs);
    ASSERT_TRUE(endpoint.ok() && endpoint->has_value());
    EXPECT_EQ((*endpoint)->event, "endpoint");
    endpoint_ = (*endpoint)->data;
    ASSERT_EQ(endpoint_.rfind("/messages/" + upstream + "?sessionId=", 0), 0u) << endpoint_;
    post_client_ = Connect(pki().client());
    ASSERT_TRUE(post_client_);
    Post(kInitialize);
    std::string init = NextMessage();
    EXPECT_EQ(JsonRpcIdText(init), "1") << init;
    EXPECT_NE(init.find("serverInfo"), std::string::npos) << init;
    Post(kInitialized);
  }
  void Post(const std::string& body) {
    std::string path = endpoint_.substr(0, endpoint_.find('?'));
    std::string query = endpoint_.substr(endpoint_.find('?'));
    auto reply =
        testing::Request(*post_client_, "POST", path + query, JsonHeaders(), body, kRequestMs);
    ASSERT_TRUE(reply.ok()) << reply.error();
    EXPECT_EQ(reply->status, 202) << reply->body;
  }
  std::string NextMessage() {
    auto event = reader_->Next(kWaitMs);
    EXPECT_TRUE(event.ok()) << event.error();
    if (!event.ok() || !event->has_value()) return "";
    EXPECT_EQ((*event)->event, "message");
    return (*event)->data;
  }

  std::unique_ptr<TlsClient> stream_client_, post_client_;
  std::unique_ptr<SseReader> reader_;
  std::string endpoint_;
};

TEST_F(LegacySse, InFrontOfAStdioServer) {
  GatewayConfig config;
  config.reactors = 2;
  config.upstreams.push_back(StdioUpstream("files"));
  ASSERT_TRUE(gateway_.Start(config).ok());
  OpenAndInitialize("files");
  Post(kToolsList);
  std::string tools = NextMessage();
  EXPECT_EQ(JsonRpcIdText(tools), "\"list-1\"");
  EXPECT_NE(tools.find("\"slow_count\""), std::string::npos) << tools;
  Post(kEcho);
  EXPECT_NE(NextMessage().find("through a pipe"), std::string::npos);
  std::vector<int> pids = Pids("files");
  ASSERT_EQ(pids.size(), 1u);
  // Closing the stream ends the session and its process.
  stream_client_.reset();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
  while (ProcessAlive(pids[0]) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(ProcessAlive(pids[0]));
  auto late =
      testing::Request(*post_client_, "POST", endpoint_, JsonHeaders(), kToolsList, kRequestMs);
  ASSERT_TRUE(late.ok()) << late.error();
  EXPECT_EQ(late->status, 404);
}

TEST_F(LegacySse, InFrontOfAStreamableHttpServer) {
  ExampleServer upstream;
  ASSERT_TRUE(upstream.Start().ok());
  GatewayConfig config;
  config.AddUpstream("web", upstream.url());
  ASSERT_TRUE(gateway_.Start(config).ok());
  OpenAndInitialize("web");
  Post(kToolsList);
  std::string tools = NextMessage();
  EXPECT_EQ(JsonRpcIdText(tools), "\"list-1\"");
  EXPECT_NE(tools.find("\"echo\""), std::string::npos) << tools;
  Post(R"({"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"slow_count",)"
       R"("arguments":{"n":2,"interval_ms":20},"_meta":{"progressToken":7}}})");
  std::string progress = NextMessage();
  EXPECT_NE(progress.find("notifications/progress"), std::string::npos) << progress;
  std::string last;
  for (int i = 0; i < 5 && JsonRpcIdText(last) != "12"; ++i) last = NextMessage();
  EXPECT_EQ(JsonRpcIdText(last), "12") << last;
}

TEST_F(LegacySse, PolicyStillJudgesEveryPost) {
  GatewayConfig config;
  config.upstreams.push_back(StdioUpstream("files"));
  config.policy = R"({"rules": [{"name": "echo-only", "match": [{"issuer": "**"}],
                      "grant": {"files": {"tools": ["echo"]}}}]})";
  ASSERT_TRUE(gateway_.Start(config).ok());
  OpenAndInitialize("files");
  std::string path = endpoint_;
  auto refused = testing::Request(
      *post_client_, "POST", path, JsonHeaders(),
      R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}})",
      kRequestMs);
  ASSERT_TRUE(refused.ok()) << refused.error();
  EXPECT_EQ(refused->status, 200);
  EXPECT_EQ(JsonRpcErrorCode(refused->body), -32003) << refused->body;
  Post(kToolsList);
  std::string tools = NextMessage();
  EXPECT_NE(tools.find("\"echo\""), std::string::npos) << tools;
  EXPECT_EQ(tools.find("\"add\""), std::string::npos) << tools;  // filtered
}

}  // namespace
}  // namespace portcullis::gateway_test
