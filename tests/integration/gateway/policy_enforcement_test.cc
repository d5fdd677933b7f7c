// The policy enforced over real TLS with two identities (issue 3): each sees its own lists,
// allowed calls reach the real mcp-example-server, refused calls get a JSON-RPC -32003 in a 200
// and never reach the upstream (the EchoUpstream's request log proves it), and an identity
// without a grant for an upstream gets 403 before anything is forwarded.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/gateway/policy_fixture.h"

namespace portcullis::gateway_test {
namespace {

constexpr char kPolicy[] = R"({
  // agent-1, by SPIFFE ID glob: some tools, the prompt and the resource of the example server;
  // every tool of the echo upstream but delete_*.
  "rules": [
    {
      "name": "ci-agents",
      "match": [{"spiffe_id": "spiffe://example.org/ns/ci/sa/*"}],
      "grant": {
        "example": {"tools": ["echo", "slow_*"], "prompts": ["greet"],
                    "resources": ["example://**"]},
        "echo": {"tools": ["*"], "deny_tools": ["delete_*"]}
      }
    },
    // agent-2, by CN: only "add" on the example server, and no echo upstream at all.
    {
      "name": "web-agents",
      "match": [{"cn": "agent-2"}],
      "grant": {"example": {"tools": ["add"]}}
    }
  ]
})";

class GatewayPolicyEnforcement : public PolicyTestBase {
 protected:
  void SetUp() override {
    PolicyTestBase::SetUp();
    Status s = example_.Start();
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE(echo_.ok()) << echo_.error();
    GatewayConfig config;
    config.AddUpstream("example", example_.url());
    config.AddUpstream("echo", echo_.url());
    config.policy = kPolicy;
    s = gateway_.Start(config);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  std::unique_ptr<McpClient> Connect(const CertKey& cert, const std::string& upstream,
                                     bool session = true) {
    auto client = McpClient::Connect(gateway_.port(), cert, "/mcp/" + upstream, session);
    EXPECT_TRUE(client.ok()) << client.error();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  // POSTs `body`; the reply must be HTTP 200.
  std::string Ok200(McpClient& client, const std::string& body) {
    auto response = client.Post(body);
    EXPECT_TRUE(response.ok()) << response.error();
    if (!response.ok()) {
      return "";
    }
    EXPECT_EQ(response->status, 200) << body << " -> " << response->body;
    return response->body;
  }

  // The reply to `body` is a 200 carrying JSON-RPC error -32003 "forbidden: ..." that names
  // `what`, with the request's id.
  void ExpectForbidden(McpClient& client, const std::string& body, const std::string& what) {
    std::string reply = Ok200(client, body);
    EXPECT_EQ(JsonRpcErrorCode(reply), -32003) << body << " -> " << reply;
    std::string message = JsonRpcErrorMessage(reply);
    EXPECT_EQ(message.rfind("forbidden: ", 0), 0u) << message;
    EXPECT_NE(message.find(what), std::string::npos)
        << "the reason should name " << what << ": " << message;
    EXPECT_EQ(JsonRpcIdText(reply), JsonRpcIdText(body)) << reply;
    EXPECT_FALSE(HasResult(reply)) << reply;
  }

  ExampleServer example_;
  EchoUpstream echo_;
  GatewayProcess gateway_;
};

// ---- Lists ------------------------------------------------------------------------------------

TEST_F(GatewayPolicyEnforcement, EachIdentitySeesItsOwnToolsList) {
  auto one = Connect(agent_one(), "example");
  auto two = Connect(agent_two(), "example");
  ASSERT_TRUE(one && two);
  EXPECT_EQ(ToolNames(Ok200(*one, JsonRpc(2, "tools/list"))), (NameSet{"echo", "slow_count"}));
  EXPECT_EQ(ToolNames(Ok200(*two, JsonRpc(2, "tools/list"))), (NameSet{"add"}));
}

TEST_F(GatewayPolicyEnforcement, FilteredListKeepsTheEntriesWholeAndTheContentLengthRight) {
  auto one = Connect(agent_one(), "example");
  ASSERT_TRUE(one);
  auto response = one->Post(JsonRpc(5, "tools/list"));
  ASSERT_TRUE(response.ok()) << response.error();
  ASSERT_EQ(response->status, 200);
  // The body was rewritten: it must still be one JSON document, exactly as long as announced
  // (the HTTP client framed it by Content-Length or chunks and parsed it whole).
  rapidjson::Document doc = ParseJson(response->body);
  ASSERT_TRUE(doc.IsObject()) << response->body;
  EXPECT_EQ(JsonRpcIdText(response->body), "5");
  for (const auto& tool : doc["result"]["tools"].GetArray()) {
    EXPECT_TRUE(tool.HasMember("inputSchema")) << response->body;
    EXPECT_TRUE(tool.HasMember("description")) << response->body;
  }
  EXPECT_EQ(response->Header("Content-Type").value_or("").find("application/json"), 0u);
}

TEST_F(GatewayPolicyEnforcement, PromptsAndResourcesListsAreFiltered) {
  auto one = Connect(agent_one(), "example");
  auto two = Connect(agent_two(), "example");
  ASSERT_TRUE(one && two);
  EXPECT_EQ(ListedNames(Ok200(*one, JsonRpc(3, "prompts/list")), "prompts", "name"),
            NameSet{"greet"});
  EXPECT_EQ(ListedNames(Ok200(*two, JsonRpc(3, "prompts/list")), "prompts", "name"), NameSet{});
  EXPECT_EQ(ListedNames(Ok200(*one, JsonRpc(4, "resources/list")), "resources", "uri"),
            NameSet{"example://greeting"});
  EXPECT_EQ(ListedNames(Ok200(*two, JsonRpc(4, "resources/list")), "resources", "uri"), NameSet{});
  // The example server has no templates; the (empty) list still comes through as a list.
  EXPECT_EQ(ListedNames(Ok200(*one, JsonRpc(6, "resources/templates/list")), "resourceTemplates",
                        "uriTemplate"),
            NameSet{});
}

// ---- Calls ------------------------------------------------------------------------------------

TEST_F(GatewayPolicyEnforcement, AllowedCallsSucceed) {
  auto one = Connect(agent_one(), "example");
  auto two = Connect(agent_two(), "example");
  ASSERT_TRUE(one && two);
  std::string echo = Ok200(*one, ToolsCall(10, "echo", R"({"message":"let me in"})"));
  ASSERT_TRUE(HasResult(echo)) << echo;
  EXPECT_NE(echo.find("let me in"), std::string::npos) << echo;
  std::string add = Ok200(*two, ToolsCall(11, "add", R"({"a":2,"b":3})"));
  ASSERT_TRUE(HasResult(add)) << add;
  rapidjson::Document doc = ParseJson(add);
  EXPECT_EQ(doc["result"]["structuredContent"]["sum"].GetDouble(), 5.0) << add;
  std::string prompt = Ok200(*one, PromptsGet(12, "greet"));
  EXPECT_TRUE(HasResult(prompt)) << prompt;
  std::string resource = Ok200(*one, ResourcesRead(13, "example://greeting"));
  EXPECT_TRUE(HasResult(resource)) << resource;
}

TEST_F(GatewayPolicyEnforcement, RefusedCallsGetForbiddenInA200) {
  auto one = Connect(agent_one(), "example");
  auto two = Connect(agent_two(), "example");
  ASSERT_TRUE(one && two);
  ExpectForbidden(*two, ToolsCall(20, "echo"), "echo");
  ExpectForbidden(*one, ToolsCall(21, "add", R"({"a":1,"b":1})"), "add");
  ExpectForbidden(*two, PromptsGet(22, "greet"), "greet");
  ExpectForbidden(*two, ResourcesRead(23, "example://greeting"), "example://greeting");
  ExpectForbidden(*two, Completion(24, "ref/prompt", "greet"), "greet");
  // A string id comes back as it was sent.
  ExpectForbidden(*two,
                  R"({"jsonrpc":"2.0","id":"call-\"7\"","method":"tools/call",)"
                  R"("params":{"name":"slow_count","arguments":{"n":1}}})",
                  "slow_count");
  // The sessions still work after the refusals.
  EXPECT_TRUE(HasResult(Ok200(*two, ToolsCall(25, "add", R"({"a":1,"b":2})"))));
  EXPECT_TRUE(HasResult(Ok200(*one, ToolsCall(26, "echo"))));
}

TEST_F(GatewayPolicyEnforcement, RefusedRequestsNeverReachTheUpstream) {
  auto one = Connect(agent_one(), "echo", /*session=*/false);
  ASSERT_TRUE(one);
  ExpectForbidden(*one, ToolsCall(30, "delete_everything"), "delete_everything");
  ExpectForbidden(*one, PromptsGet(31, "greet"), "greet");
  ExpectForbidden(*one, ResourcesRead(32, "file:///etc/passwd"), "file:///etc/passwd");
  ExpectForbidden(*one, JsonRpc(33, "resources/subscribe", R"({"uri":"file:///etc/passwd"})"),
                  "file:///etc/passwd");
  ExpectForbidden(*one, Completion(34, "ref/resource", "file:///etc/{x}"), "file:///etc/{x}");
  ExpectForbidden(*one, JsonRpc(35, "logging/setLevel", R"({"level":"debug"})"),
                  "logging/setLevel");
  // tools/call without a name names nothing the policy could allow.
  auto nameless = one->Post(JsonRpc(36, "tools/call", R"({"arguments":{}})"));
  ASSERT_TRUE(nameless.ok()) << nameless.error();
  EXPECT_NE(JsonRpcErrorCode(nameless->body), 0) << nameless->body;
  EXPECT_EQ(echo_.request_count(), 0u)
      << "a refused request reached the upstream: " << echo_.requests().front().body;
  // The upstream is there and counting: an allowed call reaches it.
  std::string allowed = Ok200(*one, ToolsCall(37, "echo"));
  EXPECT_TRUE(HasResult(allowed)) << allowed;
  ASSERT_EQ(echo_.request_count(), 1u);
  EXPECT_NE(echo_.requests()[0].body.find("\"echo\""), std::string::npos);
}

TEST_F(GatewayPolicyEnforcement, DecisionIsOnTheUnescapedName) {
  // "delete\u005fall" is delete_all to the upstream's JSON parser: it must be judged as such.
  auto one = Connect(agent_one(), "echo", /*session=*/false);
  ASSERT_TRUE(one);
  std::string reply = Ok200(*one, R"({"jsonrpc":"2.0","id":40,"method":"tools/call",)"
                                  R"("params":{"name":"delete\u005fall","arguments":{}}})");
  EXPECT_EQ(JsonRpcErrorCode(reply), -32003) << reply;
  EXPECT_EQ(echo_.request_count(), 0u);
}

TEST_F(GatewayPolicyEnforcement, StatelessRequestsAreJudgedOnTheirBody) {
  // 2026-07-28: no session; the headers must mirror the body, and the policy decides on the
  // body's params.name.
  auto two = Connect(agent_two(), "example", /*session=*/false);
  auto one = Connect(agent_one(), "example", /*session=*/false);
  ASSERT_TRUE(one && two);
  auto stateless = [](const std::string& tool, const std::string& args) {
    return R"({"jsonrpc":"2.0","id":50,"method":"tools/call","params":{"name":")" + tool +
           R"(","arguments":)" + args +
           R"(,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})";
  };
  auto headers = [](const std::string& tool) {
    return HeaderList{
        {"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/call"}, {"Mcp-Name", tool}};
  };
  auto refused = two->Post(stateless("echo", R"({"message":"x"})"), headers("echo"));
  ASSERT_TRUE(refused.ok()) << refused.error();
  EXPECT_EQ(refused->status, 200) << refused->body;
  EXPECT_EQ(JsonRpcErrorCode(refused->body), -32003) << refused->body;
  auto allowed = two->Post(stateless("add", R"({"a":4,"b":5})"), headers("add"));
  ASSERT_TRUE(allowed.ok()) << allowed.error();
  EXPECT_EQ(allowed->status, 200) << allowed->body;
  EXPECT_TRUE(HasResult(allowed->body)) << allowed->body;
  auto list = one->Post(R"({"jsonrpc":"2.0","id":51,"method":"tools/list","params":{"_meta":{)"
                        R"("io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})",
                        {{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/list"}});
  ASSERT_TRUE(list.ok()) << list.error();
  EXPECT_EQ(ToolNames(list->body), (NameSet{"echo", "slow_count"})) << list->body;
}

// ---- No grant for the upstream: 403 -------------------------------------------------------------

TEST_F(GatewayPolicyEnforcement, UngrantedUpstreamIs403AndNothingIsForwarded) {
  auto two = Connect(agent_two(), "echo", /*session=*/false);
  ASSERT_TRUE(two);
  for (const std::string& body : {ToolsCall(60, "echo"), JsonRpc(61, "tools/list"),
                                  std::string(kInitialize), std::string(kPing)}) {
    auto response = two->Post(body);
    ASSERT_TRUE(response.ok()) << response.error();
    EXPECT_EQ(response->status, 403) << body << " -> " << response->body;
    EXPECT_EQ(JsonRpcErrorCode(response->body), -32003) << response->body;
    EXPECT_EQ(JsonRpcErrorMessage(response->body).rfind("forbidden: ", 0), 0u) << response->body;
  }
  for (const char* method : {"GET", "DELETE"}) {
    auto response = two->Send(method, {{"Mcp-Session-Id", "whatever"}});
    ASSERT_TRUE(response.ok()) << response.error();
    EXPECT_EQ(response->status, 403) << method << " -> " << response->body;
    EXPECT_EQ(JsonRpcErrorCode(response->body), -32003) << response->body;
  }
  EXPECT_EQ(echo_.request_count(), 0u);
}

TEST_F(GatewayPolicyEnforcement, IdentityMatchedByNoRuleIs403Everywhere) {
  for (const char* upstream : {"example", "echo"}) {
    auto client = Connect(stranger(), upstream, /*session=*/false);
    ASSERT_TRUE(client);
    auto response = client->Post(kInitialize);
    ASSERT_TRUE(response.ok()) << response.error();
    EXPECT_EQ(response->status, 403) << response->body;
    EXPECT_EQ(JsonRpcErrorCode(response->body), -32003) << response->body;
    // The refusal does not tell a stranger what exists behind the gateway.
    EXPECT_EQ(response->body.find("tools"), std::string::npos) << response->body;
  }
  EXPECT_EQ(echo_.request_count(), 0u);
}

TEST_F(GatewayPolicyEnforcement, UnknownUpstreamIsStill404) {
  auto one = Connect(agent_one(), "nope", /*session=*/false);
  ASSERT_TRUE(one);
  auto response = one->Post(kPing);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 404) << response->body;
}

}  // namespace
}  // namespace portcullis::gateway_test
