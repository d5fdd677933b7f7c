// Sessions bound to the identity that opened them: the Mcp-Session-Id a client gets is a sealed
// token, not the upstream's id; the upstream always sees its own id; another identity presenting
// the token gets 403 -32003; a garbage, tampered or foreign token gets 404 -32008; none of those
// reach the upstream. With the real mcp-example-server and with a ScriptedUpstream that shows
// which id it received.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/gateway/policy_fixture.h"

namespace portcullis::gateway_test {
namespace {

constexpr char kUpstreamSessionId[] = "upstream-session-7";

const std::string kPolicy = std::string(R"({
  "rules": [
    {"name": "agent-one", "match": [{"spiffe_id": ")") +
                            testing::kGoodClientSpiffeId + R"("}],
     "grant": {"*": {"tools": ["*"]}}},
    {"name": "agent-two", "match": [{"spiffe_id": ")" +
                            kAgentTwoSpiffe + R"("}],
     "grant": {"*": {"tools": ["*"]}}}
  ]
})";

bool IsHex32(const std::string& s) {
  return s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The value of Mcp-Session-Id in a recorded upstream request, or "(none)".
std::string SessionHeaderOf(const ScriptedUpstream::Request& request) {
  std::vector<std::string> values = ValuesOf(request.headers, "Mcp-Session-Id");
  if (values.empty()) {
    return "(none)";
  }
  std::string all;
  for (const std::string& v : values) {
    all += (all.empty() ? "" : ", ") + v;
  }
  return all;
}

class GatewayPolicySession : public PolicyTestBase {
 protected:
  void SetUp() override {
    PolicyTestBase::SetUp();
    Status s = example_.Start();
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE(scripted_.ok()) << scripted_.error();
    GatewayConfig config;
    config.AddUpstream("example", example_.url());
    config.AddUpstream("scripted", scripted_.url());
    config.policy = kPolicy;
    s = gateway_.Start(config);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  // The scripted upstream: initialize opens kUpstreamSessionId; any later request must carry
  // exactly that id (404 otherwise, like a real server); "rotate" hands out a new id.
  static ScriptedReply Answer(const ScriptedUpstream::Request& request) {
    std::string id = JsonRpcIdText(request.body);
    if (id.empty()) {
      return JsonReply("", {}, 202);  // a notification
    }
    std::string result = R"({"jsonrpc":"2.0","id":)" + id + R"(,"result":{}})";
    if (request.body.find("\"initialize\"") != std::string::npos) {
      return JsonReply(result, {{"Mcp-Session-Id", kUpstreamSessionId}});
    }
    if (SessionHeaderOf(request) != kUpstreamSessionId) {
      return JsonReply(R"({"jsonrpc":"2.0","id":)" + id +
                           R"(,"error":{"code":-32001,"message":"Session not found"}})",
                       {}, 404);
    }
    if (request.body.find("\"rotate\"") != std::string::npos) {
      return JsonReply(result, {{"Mcp-Session-Id", "upstream-session-8"}});
    }
    // Echo the session header back, as some servers do on every reply.
    return JsonReply(result, {{"Mcp-Session-Id", kUpstreamSessionId}});
  }

  std::unique_ptr<McpClient> Connect(const CertKey& cert, const std::string& upstream,
                                     bool session) {
    auto client = McpClient::Connect(gateway_.port(), cert, "/mcp/" + upstream, session);
    EXPECT_TRUE(client.ok()) << client.error();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  // POSTs `body` with `session` as Mcp-Session-Id from a fresh connection of `cert`.
  HttpResponse PostWithSession(const CertKey& cert, const std::string& upstream,
                               const std::string& session, const std::string& body = kPing) {
    auto client = Connect(cert, upstream, false);
    if (!client) {
      return {};
    }
    auto response = client->Post(
        body, {{"Mcp-Session-Id", session}, {"MCP-Protocol-Version", kProtocolVersion}});
    EXPECT_TRUE(response.ok()) << response.error();
    return response.ok() ? *response : HttpResponse{};
  }

  ExampleServer example_;
  ScriptedUpstream scripted_{&GatewayPolicySession::Answer};
  GatewayProcess gateway_;
};

TEST_F(GatewayPolicySession, ClientGetsASealedIdThatWorks) {
  auto one = Connect(agent_one(), "example", true);
  ASSERT_TRUE(one);
  // The example server's ids are 32 hex digits; the client holds something else.
  EXPECT_FALSE(IsHex32(one->session())) << one->session();
  EXPECT_GT(one->session().size(), 32u);
  // The upstream accepts the calls, so it received its own id (it answers 404 otherwise).
  auto call = one->Post(ToolsCall(2, "echo", R"({"message":"sealed"})"));
  ASSERT_TRUE(call.ok()) << call.error();
  EXPECT_EQ(call->status, 200) << call->body;
  EXPECT_NE(call->body.find("sealed"), std::string::npos) << call->body;
  // DELETE with the sealed id ends the upstream's session.
  auto end = one->Send("DELETE");
  ASSERT_TRUE(end.ok()) << end.error();
  EXPECT_EQ(end->status, 200) << end->body;
  auto after = one->Post(kPing);
  ASSERT_TRUE(after.ok()) << after.error();
  EXPECT_EQ(after->status, 404) << after->body;
}

TEST_F(GatewayPolicySession, UpstreamSeesItsOwnIdAndTheClientNever) {
  auto one = Connect(agent_one(), "scripted", true);
  ASSERT_TRUE(one);
  EXPECT_NE(one->session(), kUpstreamSessionId);
  EXPECT_EQ(one->session().find(kUpstreamSessionId), std::string::npos);
  auto call = one->Post(ToolsCall(3, "anything"));
  ASSERT_TRUE(call.ok()) << call.error();
  EXPECT_EQ(call->status, 200) << call->body;
  // The upstream repeated its id on the reply: the client sees the token it already holds.
  EXPECT_EQ(call->Header("Mcp-Session-Id").value_or("(none)"), one->session());
  // Every request after initialize reached the upstream with the upstream's own id.
  std::vector<ScriptedUpstream::Request> seen = scripted_.requests();
  ASSERT_EQ(seen.size(), 3u);  // initialize, notifications/initialized, tools/call
  EXPECT_EQ(SessionHeaderOf(seen[0]), "(none)");
  EXPECT_EQ(SessionHeaderOf(seen[1]), kUpstreamSessionId);
  EXPECT_EQ(SessionHeaderOf(seen[2]), kUpstreamSessionId);
}

TEST_F(GatewayPolicySession, NewUpstreamIdIsSealedAgain) {
  auto one = Connect(agent_one(), "scripted", true);
  ASSERT_TRUE(one);
  auto rotated = one->Post(ToolsCall(4, "rotate"));
  ASSERT_TRUE(rotated.ok()) << rotated.error();
  std::string fresh = rotated->Header("Mcp-Session-Id").value_or("");
  EXPECT_FALSE(fresh.empty()) << rotated->status << " " << rotated->body;
  EXPECT_NE(fresh, "upstream-session-8");
  EXPECT_NE(fresh, one->session());
}

TEST_F(GatewayPolicySession, AnotherIdentityReplayingTheIdIs403AndNotForwarded) {
  auto one = Connect(agent_one(), "scripted", true);
  ASSERT_TRUE(one);
  size_t before = scripted_.request_count();
  auto two = Connect(agent_two(), "scripted", false);
  ASSERT_TRUE(two);
  for (const char* method : {"POST", "GET", "DELETE"}) {
    HeaderList session = {{"Mcp-Session-Id", one->session()},
                          {"MCP-Protocol-Version", kProtocolVersion}};
    auto response = std::string(method) == "POST" ? two->Post(ToolsCall(5, "x"), session)
                                                  : two->Send(method, session);
    ASSERT_TRUE(response.ok()) << response.error();
    EXPECT_EQ(response->status, 403) << method << ": " << response->body;
    EXPECT_EQ(JsonRpcErrorCode(response->body), -32003) << response->body;
    EXPECT_EQ(JsonRpcErrorMessage(response->body).rfind("forbidden: ", 0), 0u) << response->body;
  }
  EXPECT_EQ(scripted_.request_count(), before) << "a replayed session reached the upstream";
  // The owner's session is untouched (the replayed DELETE did not end it).
  auto call = one->Post(ToolsCall(6, "x"));
  ASSERT_TRUE(call.ok()) << call.error();
  EXPECT_EQ(call->status, 200) << call->body;
}

TEST_F(GatewayPolicySession, AnotherIdentityReplayingARealSessionIs403) {
  // The same with the real example server.
  auto one = Connect(agent_one(), "example", true);
  ASSERT_TRUE(one);
  HttpResponse replay = PostWithSession(agent_two(), "example", one->session(),
                                        ToolsCall(7, "echo", R"({"message":"stolen"})"));
  EXPECT_EQ(replay.status, 403) << replay.body;
  EXPECT_EQ(JsonRpcErrorCode(replay.body), -32003) << replay.body;
  EXPECT_EQ(replay.body.find("stolen"), std::string::npos) << replay.body;
}

TEST_F(GatewayPolicySession, SameIdentityOnAnotherConnectionKeepsItsSession) {
  auto one = Connect(agent_one(), "example", true);
  ASSERT_TRUE(one);
  HttpResponse again = PostWithSession(agent_one(), "example", one->session(),
                                       ToolsCall(8, "echo", R"({"message":"mine"})"));
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_NE(again.body.find("mine"), std::string::npos) << again.body;
}

TEST_F(GatewayPolicySession, GarbageOrTamperedIdIs404AndNotForwarded) {
  auto one = Connect(agent_one(), "scripted", true);
  ASSERT_TRUE(one);
  size_t before = scripted_.request_count();
  std::string tampered = one->session();
  size_t middle = tampered.size() / 2;
  tampered[middle] = tampered[middle] == 'A' ? 'B' : 'A';
  for (const std::string& bad :
       {std::string("garbage"), std::string(kUpstreamSessionId), tampered,
        one->session().substr(0, one->session().size() - 4), one->session() + "AAAA",
        std::string(200, 'A'), std::string("not base64 !")}) {
    HttpResponse response = PostWithSession(agent_one(), "scripted", bad);
    EXPECT_EQ(response.status, 404) << "\"" << bad << "\": " << response.body;
    EXPECT_EQ(JsonRpcErrorCode(response.body), -32008) << response.body;
  }
  EXPECT_EQ(scripted_.request_count(), before)
      << "a bad session id reached the upstream: " << SessionHeaderOf(scripted_.requests().back());
}

TEST_F(GatewayPolicySession, RawUpstreamIdOfTheRealServerIsRefused) {
  // A client that learnt the upstream's own id (32 hex digits) cannot use it past the gateway.
  HttpResponse response =
      PostWithSession(agent_one(), "example", "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(response.status, 404) << response.body;
  EXPECT_EQ(JsonRpcErrorCode(response.body), -32008) << response.body;
}

TEST_F(GatewayPolicySession, IdOfOneUpstreamIsUnknownAtAnother) {
  auto one = Connect(agent_one(), "example", true);
  ASSERT_TRUE(one);
  size_t before = scripted_.request_count();
  HttpResponse response = PostWithSession(agent_one(), "scripted", one->session());
  EXPECT_EQ(response.status, 404) << response.body;
  EXPECT_EQ(JsonRpcErrorCode(response.body), -32008) << response.body;
  EXPECT_EQ(scripted_.request_count(), before);
}

TEST_F(GatewayPolicySession, EveryPresentedIdIsChecked) {
  // Two Mcp-Session-Id headers: the second cannot ride along unchecked behind a good first.
  auto one = Connect(agent_one(), "scripted", true);
  ASSERT_TRUE(one);
  size_t before = scripted_.request_count();
  auto response = one->Post(kPing, {{"Mcp-Session-Id", kUpstreamSessionId}});
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 404) << response->body;
  EXPECT_EQ(scripted_.request_count(), before);
}

}  // namespace
}  // namespace portcullis::gateway_test
