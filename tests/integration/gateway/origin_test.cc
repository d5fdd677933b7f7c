// DESIGN §4a: a request carrying an Origin the config does not allow gets 403 before anything
// else is looked at (a browser page cannot drive the gateway with a user's certificate);
// clients without an Origin header (every non-browser MCP client) are not affected.
#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

class GatewayOrigin : public GatewayTestBase {};

TEST_F(GatewayOrigin, OnlyListedOriginsPass) {
  ExampleServer upstream;
  ASSERT_TRUE(upstream.Start().ok());
  GatewayConfig config;
  config.AddUpstream("example", upstream.url());
  config.extra.push_back(R"("allowed_origins": ["https://console.example.com"])");
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.Start(config).ok());

  Attempt none =
      TryRequest(gateway.port(), ClientOptions(pki().client()), "/mcp/example", kInitialize);
  ASSERT_TRUE(none.served) << none.detail;
  EXPECT_EQ(none.response.status, 200) << none.response.body;

  Attempt listed = TryRequest(gateway.port(), ClientOptions(pki().client()), "/mcp/example",
                              kInitialize, {{"Origin", "https://console.example.com"}});
  ASSERT_TRUE(listed.served) << listed.detail;
  EXPECT_EQ(listed.response.status, 200) << listed.response.body;

  Attempt other = TryRequest(gateway.port(), ClientOptions(pki().client()), "/mcp/example",
                             kInitialize, {{"Origin", "https://evil.example"}});
  ASSERT_TRUE(other.served) << other.detail;
  EXPECT_EQ(other.response.status, 403);
  EXPECT_EQ(JsonRpcErrorCode(other.response.body), -32003) << other.response.body;
}

}  // namespace
}  // namespace portcullis::gateway_test
