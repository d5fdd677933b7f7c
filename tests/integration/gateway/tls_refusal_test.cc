// Clients the gateway must refuse at the TLS level, each with the classified reason in the log:
// no certificate, an unknown CA, expired, not yet valid, revoked by a CRL, the wrong key usage,
// TLS 1.1, and plain HTTP on the TLS port. Nothing of theirs may reach the upstream.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

class GatewayTlsRefusal : public GatewayTestBase {
 protected:
  void SetUp() override {
    GatewayTestBase::SetUp();
    ASSERT_TRUE(upstream_->ok()) << upstream_->error();
  }

  void StartGateway(std::vector<std::string> tls_extra = {}) {
    GatewayConfig config;
    config.tls = std::move(tls_extra);
    config.AddUpstream("echo", upstream_->url());
    Status started = gateway_->Start(config);
    ASSERT_TRUE(started.ok()) << started.message();
  }

  // `options` must not get a request served, and the gateway must log `reason` for it.
  void ExpectRefused(const TlsClientOptions& options, const std::string& reason) {
    SCOPED_TRACE("TLS " + (options.version.empty() ? std::string("default") : options.version) +
                 ", expecting " + reason);
    size_t log_from = gateway_->LogSize();
    Attempt attempt = TryRequest(gateway_->port(), options, "/mcp/echo");
    EXPECT_FALSE(attempt.served) << "HTTP " << attempt.response.status << ": "
                                 << attempt.response.body;
    EXPECT_FALSE(attempt.detail.empty());
    EXPECT_TRUE(
        gateway_->WaitForLog(R"(tls: 127\.0\.0\.1:\d+ handshake failed: )" + reason, log_from))
        << "client saw: " << attempt.detail << "\ngateway log since the attempt:\n"
        << gateway_->Log().substr(std::min(log_from, gateway_->Log().size()));
    EXPECT_EQ(upstream_->request_count(), 0u);
    // The gateway still serves good clients after the refusal.
    Attempt good =
        TryRequest(gateway_->port(), ClientOptions(pki().client(), options.version), "/mcp/echo");
    EXPECT_TRUE(good.served && good.response.status == 200) << good.detail;
    upstream_->WaitForRequests(1, kWaitMs);
    ASSERT_EQ(upstream_->request_count(), 1u);
    Result<std::string> fingerprint = TestPki::Fingerprint(pki().client().cert);
    ASSERT_TRUE(fingerprint.ok());
    std::vector<std::string> xfcc =
        ValuesOf(upstream_->requests()[0].headers, "X-Forwarded-Client-Cert");
    ASSERT_EQ(xfcc.size(), 1u);
    EXPECT_EQ(XfccValues(xfcc[0], "Hash"), std::vector<std::string>{*fingerprint});
  }

  // Runs ExpectRefused for `cert` over TLS 1.3 and then 1.2, each against a fresh gateway so
  // the upstream counts start at zero.
  void ExpectRefusedAtBothVersions(const CertKey& cert, const std::string& reason,
                                   std::vector<std::string> tls_extra = {}) {
    for (const char* version : {"1.3", "1.2"}) {
      upstream_ = std::make_unique<EchoUpstream>();
      gateway_ = std::make_unique<GatewayProcess>();
      ASSERT_TRUE(upstream_->ok());
      StartGateway(tls_extra);
      ExpectRefused(ClientOptions(cert, version), reason);
    }
  }

  // Replaced wholesale when a test starts over with a fresh pair.
  std::unique_ptr<EchoUpstream> upstream_ = std::make_unique<EchoUpstream>();
  std::unique_ptr<GatewayProcess> gateway_ = std::make_unique<GatewayProcess>();
};

TEST_F(GatewayTlsRefusal, NoClientCertificate) {
  ExpectRefusedAtBothVersions(CertKey{"", ""}, "NO_CLIENT_CERTIFICATE");
}

TEST_F(GatewayTlsRefusal, CertificateFromAnotherCa) {
  ExpectRefusedAtBothVersions(pki().other_ca_client(), "CERTIFICATE_VERIFY_FAILED");
}

TEST_F(GatewayTlsRefusal, ExpiredCertificate) {
  ExpectRefusedAtBothVersions(pki().expired_client(), "CERTIFICATE_EXPIRED");
}

TEST_F(GatewayTlsRefusal, NotYetValidCertificate) {
  ExpectRefusedAtBothVersions(pki().not_yet_valid_client(), "CERTIFICATE_NOT_YET_VALID");
}

TEST_F(GatewayTlsRefusal, CertificateRevokedByCrl) {
  ExpectRefusedAtBothVersions(pki().revoked_client(), "CERTIFICATE_REVOKED",
                              {"\"crl\": [\"" + pki().crl() + "\"]"});
}

TEST_F(GatewayTlsRefusal, RevokedCertificateWithoutCrlConfiguredIsAccepted) {
  // The control for the test above: the certificate itself is fine, only the CRL refuses it.
  StartGateway();
  Attempt attempt =
      TryRequest(gateway_->port(), ClientOptions(pki().revoked_client(), "1.3"), "/mcp/echo");
  EXPECT_TRUE(attempt.served && attempt.response.status == 200) << attempt.detail;
}

TEST_F(GatewayTlsRefusal, ServerAuthOnlyCertificate) {
  ExpectRefusedAtBothVersions(pki().server_auth_client(), "CERTIFICATE_USAGE_INVALID");
}

TEST_F(GatewayTlsRefusal, Tls11Client) {
  StartGateway();
  size_t log_from = gateway_->LogSize();
  Attempt attempt = TryRequest(gateway_->port(), ClientOptions(pki().client(), "1.1"), "/mcp/echo");
  EXPECT_FALSE(attempt.handshake_ok) << "negotiated " << attempt.version;
  EXPECT_FALSE(attempt.served);
  // At least refused with a logged reason; the right reason is PROTOCOL_VERSION.
  EXPECT_TRUE(gateway_->WaitForLog(R"(handshake failed: )", log_from)) << gateway_->Log();
  EXPECT_TRUE(gateway_->WaitForLog(R"(handshake failed: PROTOCOL_VERSION)", log_from, 2000))
      << "client saw: " << attempt.detail << "\nlog:\n"
      << gateway_->Log().substr(log_from);
  EXPECT_EQ(upstream_->request_count(), 0u);
}

TEST_F(GatewayTlsRefusal, PlainHttpOnTheTlsPortGets400AndClose) {
  StartGateway();
  size_t log_from = gateway_->LogSize();
  auto socket = RawSocket::Connect("127.0.0.1", gateway_->port(), kRequestMs);
  ASSERT_TRUE(socket.ok()) << socket.error();
  ASSERT_TRUE((*socket)
                  ->WriteAll("POST /mcp/echo HTTP/1.1\r\nHost: localhost\r\n"
                             "Content-Type: application/json\r\nContent-Length: " +
                             std::to_string(std::string(kPing).size()) + "\r\n\r\n" + kPing)
                  .ok());
  auto response = testing::ReadResponse(**socket, kRequestMs);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 400);
  EXPECT_EQ(response->Header("Content-Type").value_or(""), "text/plain");
  EXPECT_NE(response->body.find("HTTPS"), std::string::npos) << response->body;
  // ...and then the connection is closed.
  auto rest = (*socket)->ReadUntilClose(kRequestMs);
  EXPECT_TRUE(rest.ok()) << rest.error();
  EXPECT_TRUE(gateway_->WaitForLog(R"(tls: 127\.0\.0\.1:\d+ handshake failed: NOT_TLS)", log_from))
      << gateway_->Log();
  EXPECT_EQ(upstream_->request_count(), 0u);
}

}  // namespace
}  // namespace portcullis::gateway_test
