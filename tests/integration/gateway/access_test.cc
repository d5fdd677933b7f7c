// Address filtering on the TLS listener ("access": allow/deny CIDR lists): a refused address
// gets no TLS at all (the connection is closed before the handshake), is logged with the rule
// that refused it and audited as tls.refused_address; an allowed address is served as usual.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/gateway/ops_fixture.h"

namespace portcullis::gateway_test {
namespace {

class GatewayAccess : public GatewayTestBase {
 protected:
  void SetUp() override {
    GatewayTestBase::SetUp();
    ASSERT_TRUE(upstream_.ok()) << upstream_.error();
  }

  void StartGateway(const std::string& access, const std::string& listen = "127.0.0.1:0") {
    Status started =
        gateway_.Start(GatewayConfigText(listen, {"\"access\": " + access}, upstream_.url()));
    ASSERT_TRUE(started.ok()) << started.message();
  }

  Attempt Try(const std::string& host) {
    return TryRequest(host, gateway_.port(), ClientOptions(pki().client()), "/mcp/echo");
  }

  // TryRequest of the shared fixture connects to 127.0.0.1 only; this one takes the host.
  static Attempt TryRequest(const std::string& host, uint16_t port, const TlsClientOptions& options,
                            const std::string& path) {
    Attempt attempt;
    auto client = TlsClient::Connect(host, port, options);
    if (!client.ok()) {
      attempt.detail = client.error();
      return attempt;
    }
    attempt.handshake_ok = true;
    auto response = testing::Request(**client, "POST", path, JsonHeaders(), kPing, kRequestMs);
    if (!response.ok()) {
      attempt.detail = response.error();
      return attempt;
    }
    attempt.served = true;
    attempt.response = std::move(response).value();
    return attempt;
  }

  // The connection must be closed before any TLS, with the rule in the log and the audit log.
  void ExpectRefused(const std::string& host, const std::string& rule) {
    SCOPED_TRACE("connecting from " + host + ", expecting refusal by \"" + rule + "\"");
    Attempt attempt = Try(host);
    EXPECT_FALSE(attempt.handshake_ok) << "the handshake must not even start";
    EXPECT_FALSE(attempt.served);
    std::string escaped_rule = std::regex_replace(rule, std::regex(R"([.\[\]/])"), R"(\$&)");
    EXPECT_TRUE(gateway_.WaitForLog("connection from \\S+ refused: access " + escaped_rule))
        << gateway_.Log();
    std::string line = gateway_.WaitForAuditLine(
        {"\"event\":\"tls.refused_address\"", "\"rule\":\"" + rule + "\""});
    EXPECT_FALSE(line.empty()) << "audit log:\n" << TempDir::ReadFile(gateway_.AuditPath());
    EXPECT_NE(line.find("\"peer\":\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"conn\":\""), std::string::npos) << line;
    EXPECT_EQ(gateway_.Log().find("handshake failed"), std::string::npos)
        << "a refused address must never reach the TLS layer:\n"
        << gateway_.Log();
    EXPECT_EQ(upstream_.request_count(), 0u);
  }

  void ExpectServed(const std::string& host) {
    SCOPED_TRACE("connecting from " + host + ", expecting to be served");
    Attempt attempt = Try(host);
    EXPECT_TRUE(attempt.served) << attempt.detail << "\n" << gateway_.Log();
    EXPECT_EQ(attempt.response.status, 200) << attempt.response.body;
  }

  // A second gateway with another `access`, which must serve 127.0.0.1. (On Linux a loopback
  // client always speaks from 127.0.0.1, whichever 127/8 address it connects to, so the other
  // side of each rule is shown by changing the rule rather than the address.)
  void ExpectServedWith(const std::string& access) {
    SCOPED_TRACE("a gateway with access " + access);
    ConfiguredGateway other;
    Status started =
        other.Start(GatewayConfigText("127.0.0.1:0", {"\"access\": " + access}, upstream_.url()));
    ASSERT_TRUE(started.ok()) << started.message();
    Attempt attempt =
        TryRequest("127.0.0.1", other.port(), ClientOptions(pki().client()), "/mcp/echo");
    EXPECT_TRUE(attempt.served) << attempt.detail << "\n" << other.Log();
    EXPECT_EQ(attempt.response.status, 200) << attempt.response.body;
  }

  EchoUpstream upstream_;
  ConfiguredGateway gateway_;
};

TEST_F(GatewayAccess, DeniedAddressIsRefusedBeforeTheHandshake) {
  StartGateway(R"({"deny": ["127.0.0.1/32"]})");
  ExpectRefused("127.0.0.1", "deny 127.0.0.1/32");
  // A deny list refuses only what it lists.
  ExpectServedWith(R"({"deny": ["127.0.0.2/32", "10.0.0.0/8"]})");
}

TEST_F(GatewayAccess, AddressOutsideTheAllowListIsRefused) {
  StartGateway(R"({"allow": ["10.0.0.0/8"]})");
  ExpectRefused("127.0.0.1", "not in allow");
}

TEST_F(GatewayAccess, AllowedAddressIsServed) {
  StartGateway(R"({"allow": ["10.0.0.0/8", "127.0.0.0/8"], "deny": ["192.0.2.0/24"]})");
  ExpectServed("127.0.0.1");
  ExpectServed("127.0.0.1");
  EXPECT_EQ(TempDir::ReadFile(gateway_.AuditPath()).find("tls.refused_address"), std::string::npos);
}

TEST_F(GatewayAccess, DenyBeatsAllow) {
  StartGateway(R"({"allow": ["127.0.0.0/8"], "deny": ["127.0.0.0/24"]})");
  ExpectRefused("127.0.0.1", "deny 127.0.0.0/24");
  ExpectServedWith(R"({"allow": ["127.0.0.0/8"], "deny": ["127.0.1.0/24"]})");
}

TEST_F(GatewayAccess, FiltersIpv6Peers) {
  if (!CanBindIpv6Loopback()) {
    GTEST_SKIP() << "[::1] cannot be bound on this machine (no IPv6 loopback)";
  }
  {
    SCOPED_TRACE("allow ::1/128");
    StartGateway(R"({"allow": ["::1/128"]})", "[::1]:0");
    ExpectServed("::1");
  }
  ConfiguredGateway second;
  Status started = second.Start(
      GatewayConfigText("[::1]:0", {R"("access": {"deny": ["::/64"]})"}, upstream_.url()));
  ASSERT_TRUE(started.ok()) << started.message();
  Attempt attempt = TryRequest("::1", second.port(), ClientOptions(pki().client()), "/mcp/echo");
  EXPECT_FALSE(attempt.handshake_ok);
  EXPECT_TRUE(second.WaitForLog(R"(connection from \[::1\]:\d+ refused: access deny ::/64)"))
      << second.Log();
  EXPECT_FALSE(second.WaitForAuditLine({"tls.refused_address", "\"peer\":\"[::1]:"}).empty());
}

TEST_F(GatewayAccess, CheckReportsABadBlockWithItsLocation) {
  std::string config = GatewayConfigText(
      "127.0.0.1:0", {"\"access\": {\"allow\": [\"10.1.2.3/8\"]}"}, upstream_.url());
  std::string path = gateway_.dir().Write("bad.json", config);
  Result<testing::CommandResult> check =
      testing::RunCommand({PortcullisPath(), "check", "--config", path}, 30000);
  ASSERT_TRUE(check.ok()) << check.error();
  EXPECT_EQ(check->exit_status, 1) << check->out << check->err;
  std::string all = check->out + check->err;
  size_t access_at = config.find("\"access\"");
  int line = 1 + static_cast<int>(std::count(config.begin(), config.begin() + access_at, '\n'));
  EXPECT_NE(all.find(path + ":" + std::to_string(line) + ":"), std::string::npos) << all;
  EXPECT_NE(all.find("/access/allow/0: \"10.1.2.3/8\" has host bits set; did you mean "
                     "\"10.0.0.0/8\"?"),
            std::string::npos)
      << all;
}

}  // namespace
}  // namespace portcullis::gateway_test
