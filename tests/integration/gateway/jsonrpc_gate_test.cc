// What the gateway refuses itself, before anything reaches an upstream: JSON-RPC batches
// (-32600), malformed JSON (-32700), Mcp-Method/Mcp-Name headers that disagree with the body
// (-32020), unknown upstreams (404, -32004) and methods other than POST/GET/DELETE (405).
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

class GatewayJsonRpcGate : public GatewayTestBase {
 protected:
  void SetUp() override {
    GatewayTestBase::SetUp();
    ASSERT_TRUE(upstream_.ok()) << upstream_.error();
    GatewayConfig config;
    config.AddUpstream("echo", upstream_.url());
    Status s = gateway_.Start(config);
    ASSERT_TRUE(s.ok()) << s.message();
    auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
    ASSERT_TRUE(client.ok()) << client.error();
    client_ = std::move(client).value();
  }

  void TearDown() override {
    // Nothing refused here may have reached the upstream.
    EXPECT_EQ(upstream_.request_count(), expected_forwarded_);
  }

  HttpResponse Send(const std::string& method, const std::string& path, const std::string& body,
                    const HeaderList& extra = {}) {
    auto response = testing::Request(*client_, method, path, JsonHeaders(extra), body, kRequestMs);
    EXPECT_TRUE(response.ok()) << response.error();
    return response.ok() ? std::move(response).value() : HttpResponse();
  }

  static void ExpectJsonRpcError(const HttpResponse& response, int status, int code) {
    EXPECT_EQ(response.status, status) << response.body;
    EXPECT_EQ(response.Header("Content-Type").value_or(""), "application/json");
    EXPECT_EQ(JsonRpcErrorCode(response.body), code) << response.body;
  }

  EchoUpstream upstream_;
  GatewayProcess gateway_;
  std::unique_ptr<TlsClient> client_;
  size_t expected_forwarded_ = 0;
};

TEST_F(GatewayJsonRpcGate, BatchIsRefusedWith32600) {
  HttpResponse response = Send(
      "POST", "/mcp/echo",
      R"([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}])");
  ExpectJsonRpcError(response, 400, -32600);
}

TEST_F(GatewayJsonRpcGate, MalformedJsonIsRefusedWith32700) {
  HttpResponse response = Send("POST", "/mcp/echo", R"({"jsonrpc":"2.0","id":1,"method":)");
  ExpectJsonRpcError(response, 400, -32700);
  // The connection survives a refused request (the error is not a framing error).
  HttpResponse second = Send("POST", "/mcp/echo", "not json at all");
  ExpectJsonRpcError(second, 400, -32700);
}

TEST_F(GatewayJsonRpcGate, McpMethodHeaderMismatchIsRefusedWith32020) {
  HttpResponse response =
      Send("POST", "/mcp/echo", R"({"jsonrpc":"2.0","id":9,"method":"tools/list"})",
           {{"Mcp-Method", "tools/call"}});
  ExpectJsonRpcError(response, 400, -32020);
  EXPECT_EQ(JsonRpcIdText(response.body), "9") << response.body;
}

TEST_F(GatewayJsonRpcGate, McpNameHeaderMismatchIsRefusedWith32020) {
  HttpResponse response = Send(
      "POST", "/mcp/echo",
      R"({"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"echo","arguments":{}}})",
      {{"Mcp-Method", "tools/call"}, {"Mcp-Name", "delete_everything"}});
  ExpectJsonRpcError(response, 400, -32020);
}

TEST_F(GatewayJsonRpcGate, UnknownUpstreamIs404With32004) {
  HttpResponse response = Send("POST", "/mcp/nosuchserver", kPing);
  ExpectJsonRpcError(response, 404, -32004);
  HttpResponse not_mcp = Send("POST", "/elsewhere", kPing);
  ExpectJsonRpcError(not_mcp, 404, -32004);
}

TEST_F(GatewayJsonRpcGate, PutIs405) {
  HttpResponse response = Send("PUT", "/mcp/echo", kPing);
  EXPECT_EQ(response.status, 405) << response.body;
  std::string allow = response.Header("Allow").value_or("");
  EXPECT_NE(allow.find("POST"), std::string::npos) << allow;
  EXPECT_EQ(allow.find("PUT"), std::string::npos) << allow;
}

TEST_F(GatewayJsonRpcGate, MatchingHeadersPass) {
  // The control for the mismatch tests: agreeing headers go through to the upstream.
  auto response = testing::Request(
      *client_, "POST", "/mcp/echo",
      JsonHeaders({{"Mcp-Method", "tools/call"}, {"Mcp-Name", "echo"}}),
      R"({"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"echo","arguments":{}}})",
      kRequestMs);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 200) << response->body;
  ASSERT_TRUE(upstream_.WaitForRequests(1, kWaitMs));
  std::vector<EchoUpstream::Request> requests = upstream_.requests();
  EXPECT_EQ(ValuesOf(requests[0].headers, "Mcp-Method"), std::vector<std::string>{"tools/call"});
  EXPECT_EQ(ValuesOf(requests[0].headers, "Mcp-Name"), std::vector<std::string>{"echo"});
  expected_forwarded_ = 1;
}

}  // namespace
}  // namespace portcullis::gateway_test
