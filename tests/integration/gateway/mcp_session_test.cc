// A whole sessionful MCP conversation (Streamable HTTP, 2025-11-25) through the gateway to the
// real mcp-example-server: initialize, the initialized notification, tools/list, tools/call,
// and DELETE to end the session.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

class GatewayMcpSession : public GatewayTestBase {
 protected:
  void SetUp() override {
    GatewayTestBase::SetUp();
    Status s = example_.Start();
    ASSERT_TRUE(s.ok()) << s.message();
    GatewayConfig config;
    config.AddUpstream("example", example_.url());
    s = gateway_.Start(config);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  ExampleServer example_;
  GatewayProcess gateway_;
};

TEST_F(GatewayMcpSession, FullSessionfulFlow) {
  auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
  ASSERT_TRUE(client.ok()) << client.error();
  const std::string path = "/mcp/example";

  // initialize: the session id passes back to the client.
  auto init = testing::Request(**client, "POST", path, JsonHeaders(), kInitialize, kRequestMs);
  ASSERT_TRUE(init.ok()) << init.error();
  ASSERT_EQ(init->status, 200) << init->body;
  std::string session = init->Header("Mcp-Session-Id").value_or("");
  // The gateway seals the upstream's id to this client's identity (mcp/session_seal.h): an
  // opaque token of visible ASCII, as MCP requires of session ids.
  ASSERT_FALSE(session.empty());
  for (char c : session) ASSERT_TRUE(c >= 0x21 && c <= 0x7e) << session;
  rapidjson::Document doc = ParseJson(init->body);
  ASSERT_TRUE(doc.IsObject()) << init->body;
  EXPECT_EQ(JsonRpcIdText(init->body), "1");
  EXPECT_STREQ(doc["result"]["protocolVersion"].GetString(), kProtocolVersion);
  EXPECT_STREQ(doc["result"]["serverInfo"]["name"].GetString(), "mcp-example-server");

  HeaderList in_session =
      JsonHeaders({{"Mcp-Session-Id", session}, {"MCP-Protocol-Version", kProtocolVersion}});

  // notifications/initialized: 202, no body.
  auto ack = testing::Request(**client, "POST", path, in_session, kInitialized, kRequestMs);
  ASSERT_TRUE(ack.ok()) << ack.error();
  EXPECT_EQ(ack->status, 202) << ack->body;
  EXPECT_TRUE(ack->body.empty()) << ack->body;

  // tools/list names the three tools.
  auto list = testing::Request(**client, "POST", path, in_session,
                               R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", kRequestMs);
  ASSERT_TRUE(list.ok()) << list.error();
  ASSERT_EQ(list->status, 200) << list->body;
  doc = ParseJson(list->body);
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("result")) << list->body;
  std::set<std::string> names;
  for (const auto& tool : doc["result"]["tools"].GetArray()) {
    names.insert(tool["name"].GetString());
  }
  EXPECT_EQ(names, (std::set<std::string>{"echo", "add", "slow_count"})) << list->body;

  // tools/call echo returns the message.
  auto call =
      testing::Request(**client, "POST", path, in_session,
                       R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo",)"
                       R"("arguments":{"message":"through the portcullis"}}})",
                       kRequestMs);
  ASSERT_TRUE(call.ok()) << call.error();
  ASSERT_EQ(call->status, 200) << call->body;
  doc = ParseJson(call->body);
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("result")) << call->body;
  EXPECT_EQ(JsonRpcIdText(call->body), "3");
  EXPECT_STREQ(doc["result"]["content"][0]["text"].GetString(), "through the portcullis");
  EXPECT_FALSE(doc["result"]["isError"].GetBool());

  // A request without the session id is refused by the server, and the refusal comes through.
  auto no_session = testing::Request(**client, "POST", path, JsonHeaders(),
                                     R"({"jsonrpc":"2.0","id":4,"method":"ping"})", kRequestMs);
  ASSERT_TRUE(no_session.ok()) << no_session.error();
  EXPECT_EQ(no_session->status, 400) << no_session->body;

  // DELETE ends the session; the id is unknown afterwards.
  auto end = testing::Request(
      **client, "DELETE", path,
      {{"Mcp-Session-Id", session}, {"MCP-Protocol-Version", kProtocolVersion}}, "", kRequestMs);
  ASSERT_TRUE(end.ok()) << end.error();
  EXPECT_EQ(end->status, 200) << end->body;
  auto after = testing::Request(**client, "POST", path, in_session,
                                R"({"jsonrpc":"2.0","id":5,"method":"ping"})", kRequestMs);
  ASSERT_TRUE(after.ok()) << after.error();
  EXPECT_EQ(after->status, 404) << after->body;
}

TEST_F(GatewayMcpSession, GetIsForwardedAndTheUpstreams405ComesBack) {
  auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
  ASSERT_TRUE(client.ok()) << client.error();
  Result<std::string> session = OpenMcpSession(**client, "/mcp/example");
  ASSERT_TRUE(session.ok()) << session.error();
  auto get = testing::Request(**client, "GET", "/mcp/example",
                              {{"Mcp-Session-Id", *session},
                               {"Accept", "text/event-stream"},
                               {"MCP-Protocol-Version", kProtocolVersion}},
                              "", kRequestMs);
  ASSERT_TRUE(get.ok()) << get.error();
  // The example server has no server-initiated stream: its own 405 (Allow: POST, DELETE) must
  // come through, not the gateway's.
  EXPECT_EQ(get->status, 405) << get->body;
  EXPECT_EQ(get->Header("Allow").value_or(""), "POST, DELETE");
}

}  // namespace
}  // namespace portcullis::gateway_test
