// SIGTERM drains the gateway: the listener closes at once (new connections are refused), idle
// connections are closed, a request in flight (a streaming slow_count call) runs to its final
// result, and then the process exits 0.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

using testing::SseReader;

class GatewayDrain : public GatewayTestBase {
 protected:
  void SetUp() override {
    GatewayTestBase::SetUp();
    Status s = example_.Start();
    ASSERT_TRUE(s.ok()) << s.message();
    GatewayConfig config;
    config.AddUpstream("example", example_.url());
    // Long enough that only a connection left behind by the drain would hit it.
    config.limits = {R"("drain_timeout_ms": 20000)"};
    // Debug level for the per-reactor "draining" line, logged once the listener is closed.
    s = gateway_.Start(config, {{"PORTCULLIS_LOG_LEVEL", "debug"}});
    ASSERT_TRUE(s.ok()) << s.message();
  }

  ExampleServer example_;
  GatewayProcess gateway_;
};

TEST_F(GatewayDrain, InFlightStreamFinishesNewConnectionsRefusedExitZero) {
  auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
  ASSERT_TRUE(client.ok()) << client.error();
  Result<std::string> session = OpenMcpSession(**client, "/mcp/example");
  ASSERT_TRUE(session.ok()) << session.error();
  // A second client, connected and idle.
  auto idle = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
  ASSERT_TRUE(idle.ok()) << idle.error();

  const std::string call =
      R"({"jsonrpc":"2.0","id":77,"method":"tools/call","params":{"name":"slow_count",)"
      R"("arguments":{"n":4,"interval_ms":300},"_meta":{"progressToken":"drain"}}})";
  auto reader = SseReader::Open(
      **client, "POST", "/mcp/example",
      JsonHeaders({{"Mcp-Session-Id", *session}, {"MCP-Protocol-Version", kProtocolVersion}}), call,
      kRequestMs);
  ASSERT_TRUE(reader.ok()) << reader.error();
  ASSERT_EQ((*reader)->response().status, 200);
  ASSERT_TRUE((*reader)->is_event_stream());
  // The call is in flight once its first progress event is here.
  auto first = (*reader)->Next(kWaitMs);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_TRUE(first->has_value());
  ASSERT_NE((*first)->data.find("notifications/progress"), std::string::npos) << (*first)->data;

  size_t log_from = gateway_.LogSize();
  ASSERT_TRUE(gateway_.process().Signal(SIGTERM));
  ASSERT_TRUE(gateway_.WaitForLog(R"(reactor 0: draining)", log_from)) << gateway_.Log();

  // New connections are refused now.
  auto late = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
  EXPECT_FALSE(late.ok()) << "a new connection was accepted after SIGTERM";

  // The idle connection is closed.
  auto idle_rest = (*idle)->ReadUntilClose(kWaitMs);
  EXPECT_TRUE(idle_rest.ok()) << "idle connection not closed by the drain: " << idle_rest.error();

  // The in-flight call runs to its final result.
  std::string result;
  int progress = 1;
  while (result.empty()) {
    auto next = (*reader)->Next(kWaitMs);
    ASSERT_TRUE(next.ok()) << next.error() << "\n" << gateway_.Log();
    ASSERT_TRUE(next->has_value()) << "stream ended before the result";
    if ((*next)->data.find("notifications/progress") != std::string::npos) {
      ++progress;
    } else {
      result = (*next)->data;
    }
  }
  EXPECT_EQ(progress, 4);
  EXPECT_EQ(JsonRpcIdText(result), "77") << result;
  EXPECT_NE(result.find("counted to 4"), std::string::npos) << result;
  auto end = (*reader)->Next(kWaitMs);
  ASSERT_TRUE(end.ok()) << end.error();
  EXPECT_FALSE(end->has_value());

  // With its exchange done, the draining gateway closes that connection too, and exits 0.
  // (The bound is far below drain_timeout_ms: a connection left idle would hold the exit until
  // the drain timeout.)
  auto rest = (*client)->ReadUntilClose(5000);
  EXPECT_TRUE(rest.ok()) << "connection not closed after its exchange finished during the drain: "
                         << rest.error();
  std::optional<int> status = gateway_.process().Wait(5000);
  EXPECT_EQ(status, std::optional<int>(0)) << gateway_.Log();
  EXPECT_TRUE(gateway_.WaitForLog(R"(stopped after \d+ connections)", log_from, 1000))
      << gateway_.Log();
}

TEST_F(GatewayDrain, SigintDrainsTheSameWay) {
  auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
  ASSERT_TRUE(client.ok()) << client.error();
  Result<std::string> session = OpenMcpSession(**client, "/mcp/example");
  ASSERT_TRUE(session.ok()) << session.error();
  ASSERT_TRUE(gateway_.process().Signal(SIGINT));
  auto rest = (*client)->ReadUntilClose(kWaitMs);
  EXPECT_TRUE(rest.ok()) << rest.error();
  EXPECT_EQ(gateway_.process().Wait(kWaitMs), std::optional<int>(0)) << gateway_.Log();
  EXPECT_TRUE(gateway_.WaitForLog("SIGINT: draining")) << gateway_.Log();
}

}  // namespace
}  // namespace portcullis::gateway_test
