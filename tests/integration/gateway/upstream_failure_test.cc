// Upstream failures become JSON-RPC errors for the client: an upstream that refuses connections
// is 502 (-32000), one that accepts and never answers within response_timeout_ms is 504
// (-32001). Both carry the request's id, and the client's connection stays usable.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

class GatewayUpstreamFailure : public GatewayTestBase {
 protected:
  void SetUp() override {
    GatewayTestBase::SetUp();
    ASSERT_NE(closed_.port(), 0);
    ASSERT_TRUE(silent_.ok()) << silent_.error();
    ASSERT_TRUE(echo_.ok()) << echo_.error();
    GatewayConfig config;
    config.AddUpstream("down", "http://127.0.0.1:" + std::to_string(closed_.port()) + "/mcp");
    config.AddUpstream("silent", silent_.url(), R"("response_timeout_ms": 300)");
    config.AddUpstream("echo", echo_.url());
    Status s = gateway_.Start(config);
    ASSERT_TRUE(s.ok()) << s.message();
    auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
    ASSERT_TRUE(client.ok()) << client.error();
    client_ = std::move(client).value();
  }

  // After an upstream failure the same client connection still gets served.
  void ExpectConnectionStillServes() {
    auto response =
        testing::Request(*client_, "POST", "/mcp/echo", JsonHeaders(), kPing, kRequestMs);
    ASSERT_TRUE(response.ok()) << response.error();
    EXPECT_EQ(response->status, 200) << response->body;
  }

  ClosedPort closed_;
  EchoUpstream silent_{EchoUpstream::Mode::kSilent};
  EchoUpstream echo_;
  GatewayProcess gateway_;
  std::unique_ptr<TlsClient> client_;
};

TEST_F(GatewayUpstreamFailure, RefusedUpstreamIs502) {
  auto response =
      testing::Request(*client_, "POST", "/mcp/down", JsonHeaders(),
                       R"({"jsonrpc":"2.0","id":"req-502","method":"ping"})", kRequestMs);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 502) << response->body;
  EXPECT_EQ(response->Header("Content-Type").value_or(""), "application/json");
  EXPECT_EQ(JsonRpcErrorCode(response->body), -32000) << response->body;
  EXPECT_EQ(JsonRpcIdText(response->body), "\"req-502\"") << response->body;
  ExpectConnectionStillServes();
}

TEST_F(GatewayUpstreamFailure, SilentUpstreamIs504) {
  auto response = testing::Request(*client_, "POST", "/mcp/silent", JsonHeaders(),
                                   R"({"jsonrpc":"2.0","id":504,"method":"ping"})", kWaitMs);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 504) << response->body;
  EXPECT_EQ(JsonRpcErrorCode(response->body), -32001) << response->body;
  EXPECT_EQ(JsonRpcIdText(response->body), "504") << response->body;
  // The request did reach the silent upstream: this is a timeout, not a connect failure.
  EXPECT_EQ(silent_.request_count(), 1u);
  ExpectConnectionStillServes();
}

TEST_F(GatewayUpstreamFailure, RepeatedTimeoutsLeaveOtherUpstreamsWorking) {
  // After a 504 on one upstream the other upstreams are unaffected, and a retry on the silent
  // one times out the same way (no stale pooled connection is reused for it).
  for (int i = 0; i < 2; ++i) {
    auto response =
        testing::Request(*client_, "POST", "/mcp/silent", JsonHeaders(), kPing, kWaitMs);
    ASSERT_TRUE(response.ok()) << response.error();
    EXPECT_EQ(response->status, 504) << response->body;
    ExpectConnectionStillServes();
  }
  EXPECT_EQ(silent_.request_count(), 2u);
}

}  // namespace
}  // namespace portcullis::gateway_test
