// Streamable HTTP to an HTTP upstream is proxied byte for byte (DESIGN §4a): a GET (the
// server's stream, resumed with Last-Event-ID) reaches the upstream with that header, and a
// client's JSON-RPC *response* to a server request is forwarded like any message (other
// gateways answer it with 500).
#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

class StreamPassthrough : public GatewayTestBase {};

TEST_F(StreamPassthrough, GetCarriesLastEventIdAndResponsesAreForwarded) {
  EchoUpstream upstream;
  ASSERT_TRUE(upstream.ok()) << upstream.error();
  GatewayConfig config;
  config.AddUpstream("echo", upstream.url());
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.Start(config).ok());
  auto client = TlsClient::Connect("127.0.0.1", gateway.port(), ClientOptions(pki().client()));
  ASSERT_TRUE(client.ok()) << client.error();

  auto get = testing::Request(**client, "GET", "/mcp/echo",
                              {{"Accept", "text/event-stream"}, {"Last-Event-ID", "stream-3/41"}},
                              "", kRequestMs);
  ASSERT_TRUE(get.ok()) << get.error();
  EXPECT_EQ(get->status, 200);

  const std::string answer =
      R"({"jsonrpc":"2.0","id":"srv-1","result":{"action":"accept","content":{"ok":true}}})";
  auto post = testing::Request(**client, "POST", "/mcp/echo", JsonHeaders(), answer, kRequestMs);
  ASSERT_TRUE(post.ok()) << post.error();
  EXPECT_EQ(post->status, 200) << post->body;  // whatever the upstream answered

  std::vector<EchoUpstream::Request> seen = upstream.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(ValuesOf(seen[0].headers, "Last-Event-ID"), std::vector<std::string>{"stream-3/41"});
  EXPECT_EQ(seen[1].method, "POST");
  EXPECT_EQ(seen[1].body, answer);
}

}  // namespace
}  // namespace portcullis::gateway_test
