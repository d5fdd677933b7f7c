// Several reactors (one libuv loop per thread, each with its own SO_REUSEPORT listener): many
// short connections are all served, and connections are spread over both reactors.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

class GatewayReactors : public GatewayTestBase {
 protected:
  void SetUp() override {
    GatewayTestBase::SetUp();
    ASSERT_TRUE(upstream_.ok()) << upstream_.error();
    GatewayConfig config;
    config.reactors = 2;
    config.AddUpstream("echo", upstream_.url());
    Status s = gateway_.Start(config, {{"PORTCULLIS_LOG_LEVEL", "debug"}});
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE(gateway_.WaitForLog(R"(listening on 127\.0\.0\.1:\d+ \(2 reactors\))"))
        << gateway_.Log();
  }

  EchoUpstream upstream_;
  GatewayProcess gateway_;
};

TEST_F(GatewayReactors, ManyShortConnectionsAreAllServed) {
  constexpr int kConnections = 200;
  Result<std::string> fingerprint = TestPki::Fingerprint(pki().client().cert);
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.error();
  int served = 0;
  for (int i = 0; i < kConnections; ++i) {
    std::string body = R"({"jsonrpc":"2.0","id":)" + std::to_string(i) + R"(,"method":"ping"})";
    Attempt attempt = TryRequest(gateway_.port(), ClientOptions(pki().client()), "/mcp/echo", body);
    if (!attempt.served || attempt.response.status != 200 ||
        JsonRpcIdText(attempt.response.body) != std::to_string(i)) {
      ADD_FAILURE() << "connection " << i << ": " << attempt.detail << " HTTP "
                    << attempt.response.status << " " << attempt.response.body;
      continue;
    }
    ++served;
  }
  EXPECT_EQ(served, kConnections);
  ASSERT_TRUE(upstream_.WaitForRequests(kConnections, kWaitMs));
  for (const EchoUpstream::Request& request : upstream_.requests()) {
    std::vector<std::string> xfcc = ValuesOf(request.headers, "X-Forwarded-Client-Cert");
    ASSERT_EQ(xfcc.size(), 1u);
    EXPECT_EQ(XfccValues(xfcc[0], "Hash"), std::vector<std::string>{*fingerprint});
  }
  // Each connection's handshake was logged once.
  std::string log = gateway_.Log();
  size_t handshakes = 0;
  for (size_t pos = log.find("handshake ok"); pos != std::string::npos;
       pos = log.find("handshake ok", pos + 1)) {
    ++handshakes;
  }
  EXPECT_EQ(handshakes, static_cast<size_t>(kConnections));
}

TEST_F(GatewayReactors, ConnectionsAreSpreadOverBothReactors) {
  // At SIGTERM each reactor logs (at debug level) "reactor N: draining K connections": the
  // connections it holds open right then, which is what this test is about. With many connections held open, both reactors must hold some: the kernel
  // spreads SO_REUSEPORT connections by a hash of the 4-tuple (all on one of two reactors has a
  // probability of 2^-31 here).
  constexpr int kOpen = 32;
  std::vector<std::unique_ptr<TlsClient>> clients;
  for (int i = 0; i < kOpen; ++i) {
    auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
    ASSERT_TRUE(client.ok()) << client.error();
    // One request each, so the gateway has surely finished the handshake and holds it idle.
    auto response =
        testing::Request(**client, "POST", "/mcp/echo", JsonHeaders(), kPing, kRequestMs);
    ASSERT_TRUE(response.ok()) << response.error();
    ASSERT_EQ(response->status, 200);
    clients.push_back(std::move(client).value());
  }
  ASSERT_TRUE(gateway_.process().Signal(SIGTERM));
  ASSERT_TRUE(gateway_.WaitForLog(R"(reactor 0: draining \d+ connections)")) << gateway_.Log();
  ASSERT_TRUE(gateway_.WaitForLog(R"(reactor 1: draining \d+ connections)")) << gateway_.Log();
  std::string log = gateway_.Log();
  std::regex line(R"(reactor (\d+): draining (\d+) connections)");
  std::map<int, int> open_per_reactor;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator();
       ++it) {
    open_per_reactor[std::stoi((*it)[1].str())] = std::stoi((*it)[2].str());
  }
  ASSERT_EQ(open_per_reactor.size(), 2u) << log;
  EXPECT_GT(open_per_reactor[0], 0) << log;
  EXPECT_GT(open_per_reactor[1], 0) << log;
  EXPECT_EQ(open_per_reactor[0] + open_per_reactor[1], kOpen) << log;
  // Idle connections are closed by the drain, and the gateway exits cleanly.
  for (auto& client : clients) {
    auto rest = client->ReadUntilClose(kWaitMs);
    EXPECT_TRUE(rest.ok()) << rest.error();
  }
  EXPECT_EQ(gateway_.process().Wait(kWaitMs), std::optional<int>(0)) << gateway_.Log();
  EXPECT_TRUE(gateway_.WaitForLog(R"(stopped after \d+ connections)")) << gateway_.Log();
}

}  // namespace
}  // namespace portcullis::gateway_test
