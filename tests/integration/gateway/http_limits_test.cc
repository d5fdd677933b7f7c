// HTTP/1.1 limits on the TLS listener: header size (431), body size (413, declared or chunked),
// the header timeout (408, then close), the keep-alive idle timeout, and keep-alive itself.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

constexpr int kMaxHeaderBytes = 4096;
constexpr int kMaxBodyBytes = 2048;
constexpr int kShortTimeoutMs = 300;

class GatewayHttpLimits : public GatewayTestBase {
 protected:
  void SetUp() override {
    GatewayTestBase::SetUp();
    ASSERT_TRUE(upstream_.ok()) << upstream_.error();
  }

  // Limits small enough to reach in a test; header and idle timeouts given per test.
  void StartGateway(int header_timeout_ms = 10000, int idle_timeout_ms = 60000) {
    GatewayConfig config;
    config.AddUpstream("echo", upstream_.url());
    config.limits = {
        "\"max_header_bytes\": " + std::to_string(kMaxHeaderBytes),
        "\"max_body_bytes\": " + std::to_string(kMaxBodyBytes),
        "\"header_timeout_ms\": " + std::to_string(header_timeout_ms),
        "\"idle_timeout_ms\": " + std::to_string(idle_timeout_ms),
    };
    Status s = gateway_.Start(config);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  std::unique_ptr<TlsClient> Connect() {
    auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
    EXPECT_TRUE(client.ok()) << client.error();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  // After an error response, the gateway closes the connection (bounded wait).
  static void ExpectClosed(TlsClient& client) {
    auto rest = client.ReadUntilClose(kWaitMs);
    EXPECT_TRUE(rest.ok()) << "connection not closed: " << rest.error();
  }

  EchoUpstream upstream_;
  GatewayProcess gateway_;
};

TEST_F(GatewayHttpLimits, OversizedHeadersGet431AndClose) {
  StartGateway();
  std::unique_ptr<TlsClient> client = Connect();
  ASSERT_NE(client, nullptr);
  std::string big(2 * kMaxHeaderBytes, 'a');
  auto response = testing::Request(*client, "POST", "/mcp/echo", JsonHeaders({{"X-Padding", big}}),
                                   kPing, kRequestMs);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 431) << response->body;
  EXPECT_FALSE(response->keep_alive);
  ExpectClosed(*client);
  EXPECT_EQ(upstream_.request_count(), 0u);
}

TEST_F(GatewayHttpLimits, HeadersJustUnderTheLimitAreServed) {
  // The control for the test above: the limit is the configured one, not something smaller.
  StartGateway();
  std::unique_ptr<TlsClient> client = Connect();
  ASSERT_NE(client, nullptr);
  std::string padding(kMaxHeaderBytes / 2, 'a');
  auto response = testing::Request(*client, "POST", "/mcp/echo",
                                   JsonHeaders({{"X-Padding", padding}}), kPing, kRequestMs);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 200) << response->body;
}

TEST_F(GatewayHttpLimits, DeclaredOversizedBodyGets413) {
  StartGateway();
  std::unique_ptr<TlsClient> client = Connect();
  ASSERT_NE(client, nullptr);
  // Only the head: the gateway must answer from Content-Length alone, without the body.
  ASSERT_TRUE(client
                  ->WriteAll("POST /mcp/echo HTTP/1.1\r\nHost: localhost\r\n"
                             "Content-Type: application/json\r\nContent-Length: " +
                             std::to_string(4 * kMaxBodyBytes) + "\r\n\r\n")
                  .ok());
  auto response = testing::ReadResponse(*client, kRequestMs);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 413) << response->body;
  EXPECT_NE(JsonRpcErrorCode(response->body), 0) << response->body;
  ExpectClosed(*client);
  EXPECT_EQ(upstream_.request_count(), 0u);
}

TEST_F(GatewayHttpLimits, ChunkedOversizedBodyGets413) {
  StartGateway();
  std::unique_ptr<TlsClient> client = Connect();
  ASSERT_NE(client, nullptr);
  // A JSON string that grows past the limit, in chunks of 512 bytes.
  std::string body = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":")" +
                     std::string(2 * kMaxBodyBytes, 'x') + "\"}}";
  std::string wire =
      "POST /mcp/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (size_t i = 0; i < body.size(); i += 512) {
    std::string chunk = body.substr(i, 512);
    char size[16];
    snprintf(size, sizeof(size), "%zx\r\n", chunk.size());
    wire += size + chunk + "\r\n";
  }
  wire += "0\r\n\r\n";
  ASSERT_TRUE(client->WriteAll(wire).ok());
  auto response = testing::ReadResponse(*client, kRequestMs);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 413) << response->body;
  ExpectClosed(*client);
  EXPECT_EQ(upstream_.request_count(), 0u);
}

TEST_F(GatewayHttpLimits, ChunkedBodyUnderTheLimitIsForwarded) {
  StartGateway();
  std::unique_ptr<TlsClient> client = Connect();
  ASSERT_NE(client, nullptr);
  std::string body = kPing;
  std::string wire =
      "POST /mcp/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  char size[16];
  snprintf(size, sizeof(size), "%zx\r\n", body.size());
  wire += size + body + "\r\n0\r\n\r\n";
  ASSERT_TRUE(client->WriteAll(wire).ok());
  auto response = testing::ReadResponse(*client, kRequestMs);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 200) << response->body;
  ASSERT_EQ(upstream_.request_count(), 1u);
  EXPECT_EQ(upstream_.requests()[0].body, body);
}

TEST_F(GatewayHttpLimits, PartialRequestGets408ThenClose) {
  StartGateway(/*header_timeout_ms=*/kShortTimeoutMs);
  std::unique_ptr<TlsClient> client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->WriteAll("POST /mcp/echo HTTP/1.1\r\nHost: loc").ok());
  // The gateway answers once header_timeout_ms has passed; the wait here is only a bound.
  auto response = testing::ReadResponse(*client, kWaitMs);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 408) << response->body;
  EXPECT_FALSE(response->keep_alive);
  ExpectClosed(*client);
  EXPECT_EQ(upstream_.request_count(), 0u);
}

TEST_F(GatewayHttpLimits, IdleConnectionIsClosedAfterAResponse) {
  StartGateway(/*header_timeout_ms=*/10000, /*idle_timeout_ms=*/kShortTimeoutMs);
  std::unique_ptr<TlsClient> client = Connect();
  ASSERT_NE(client, nullptr);
  auto response = testing::Request(*client, "POST", "/mcp/echo", JsonHeaders(), kPing, kRequestMs);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(response->keep_alive);
  // Nothing more is sent: the gateway closes the connection (with close_notify).
  auto rest = client->ReadUntilClose(kWaitMs);
  ASSERT_TRUE(rest.ok()) << "idle connection not closed: " << rest.error();
  EXPECT_TRUE(rest->empty());
  EXPECT_TRUE(client->close_notify_received());
}

TEST_F(GatewayHttpLimits, IdleConnectionIsClosedWithoutAnyRequest) {
  StartGateway(/*header_timeout_ms=*/10000, /*idle_timeout_ms=*/kShortTimeoutMs);
  std::unique_ptr<TlsClient> client = Connect();
  ASSERT_NE(client, nullptr);
  auto rest = client->ReadUntilClose(kWaitMs);
  ASSERT_TRUE(rest.ok()) << "idle connection not closed: " << rest.error();
}

TEST_F(GatewayHttpLimits, KeepAliveServesManyRequestsOnOneConnection) {
  StartGateway();
  std::unique_ptr<TlsClient> client = Connect();
  ASSERT_NE(client, nullptr);
  constexpr int kRequests = 10;
  for (int i = 0; i < kRequests; ++i) {
    std::string body =
        R"({"jsonrpc":"2.0","id":)" + std::to_string(100 + i) + R"(,"method":"ping"})";
    auto response = testing::Request(*client, "POST", "/mcp/echo", JsonHeaders(), body, kRequestMs);
    ASSERT_TRUE(response.ok()) << "request " << i << ": " << response.error();
    EXPECT_EQ(response->status, 200);
    EXPECT_TRUE(response->keep_alive);
    EXPECT_EQ(JsonRpcIdText(response->body), std::to_string(100 + i));
  }
  EXPECT_EQ(upstream_.request_count(), static_cast<size_t>(kRequests));
  // One TLS connection from the client; the gateway's upstream pool reused its connection too.
  EXPECT_EQ(upstream_.connections_accepted(), 1);
}

TEST_F(GatewayHttpLimits, PipelinedRequestsAreAnsweredInOrder) {
  StartGateway();
  std::unique_ptr<TlsClient> client = Connect();
  ASSERT_NE(client, nullptr);
  std::string wire;
  for (int i = 0; i < 3; ++i) {
    wire += testing::SerializeRequest(
        "POST", "/mcp/echo", JsonHeaders(),
        R"({"jsonrpc":"2.0","id":)" + std::to_string(200 + i) + R"(,"method":"ping"})");
  }
  ASSERT_TRUE(client->WriteAll(wire).ok());
  for (int i = 0; i < 3; ++i) {
    auto response = testing::ReadResponse(*client, kRequestMs);
    ASSERT_TRUE(response.ok()) << "response " << i << ": " << response.error();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(JsonRpcIdText(response->body), std::to_string(200 + i));
  }
}

}  // namespace
}  // namespace portcullis::gateway_test
