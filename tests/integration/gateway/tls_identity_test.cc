// A good client certificate is accepted over TLS 1.3 and 1.2, and the identity it carries reaches
// the upstream in X-Forwarded-Client-Cert; what the client says about itself does not.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

class GatewayTlsIdentity : public GatewayTestBase,
                           public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    GatewayTestBase::SetUp();
    ASSERT_TRUE(upstream_.ok()) << upstream_.error();
    GatewayConfig config;
    config.AddUpstream("echo", upstream_.url());
    config.AddUpstream("echo-auth", upstream_.url(), R"("pass_authorization": true)");
    Status started = gateway_.Start(config);
    ASSERT_TRUE(started.ok()) << started.message();
  }

  // One POST through the gateway with the good client certificate and this test's version.
  HttpResponse Post(const std::string& path, const HeaderList& extra = {}) {
    Attempt attempt =
        TryRequest(gateway_.port(), ClientOptions(pki().client(), GetParam()), path, kPing, extra);
    EXPECT_TRUE(attempt.served) << attempt.detail;
    return attempt.response;
  }

  EchoUpstream upstream_;
  GatewayProcess gateway_;
};

TEST_P(GatewayTlsIdentity, GoodCertificateIsAcceptedAtTheRequestedVersion) {
  auto client =
      TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client(), GetParam()));
  ASSERT_TRUE(client.ok()) << client.error();
  EXPECT_EQ((*client)->version(), "TLSv" + GetParam());
  auto response = testing::Request(**client, "POST", "/mcp/echo", JsonHeaders(), kPing, kRequestMs);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 200) << response->body;
  // The upstream's answer comes back whole, id and all.
  EXPECT_EQ(JsonRpcIdText(response->body), "7") << response->body;
}

TEST_P(GatewayTlsIdentity, EveryIdentityFieldReachesTheUpstream) {
  Result<std::string> fingerprint = TestPki::Fingerprint(pki().client().cert);
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.error();
  HttpResponse response = Post("/mcp/echo");
  ASSERT_EQ(response.status, 200) << response.body;

  HeaderList seen = EchoedHeaders(response.body);
  std::vector<std::string> xfcc = ValuesOf(seen, "X-Forwarded-Client-Cert");
  ASSERT_EQ(xfcc.size(), 1u) << response.body;
  SCOPED_TRACE("X-Forwarded-Client-Cert: " + xfcc[0]);

  EXPECT_EQ(XfccValues(xfcc[0], "Hash"), std::vector<std::string>{*fingerprint});
  std::vector<std::string> subject = XfccValues(xfcc[0], "Subject");
  ASSERT_EQ(subject.size(), 1u);
  EXPECT_NE(subject[0].find(std::string("CN=") + testing::kGoodClientCn), std::string::npos);
  EXPECT_NE(subject[0].find("O=Example"), std::string::npos);
  EXPECT_EQ(XfccValues(xfcc[0], "URI"), std::vector<std::string>{testing::kGoodClientSpiffeId});
  EXPECT_EQ(XfccValues(xfcc[0], "DNS"), std::vector<std::string>{testing::kGoodClientDns});

  // The upstream's own record agrees with what it echoed.
  std::vector<EchoUpstream::Request> requests = upstream_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(ValuesOf(requests[0].headers, "X-Forwarded-Client-Cert"), xfcc);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].body, kPing);
}

TEST_P(GatewayTlsIdentity, ClientSentForwardedCertHeaderIsNotPassed) {
  Result<std::string> fingerprint = TestPki::Fingerprint(pki().client().cert);
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.error();
  const std::string forged =
      "Hash=0000000000000000000000000000000000000000000000000000000000000000;"
      "Subject=\"CN=admin\";URI=\"spiffe://example.org/ns/prod/sa/admin\"";
  HttpResponse response =
      Post("/mcp/echo", {{"X-Forwarded-Client-Cert", forged}, {"x-forwarded-client-cert", forged}});
  ASSERT_EQ(response.status, 200) << response.body;
  std::vector<std::string> xfcc = ValuesOf(EchoedHeaders(response.body), "X-Forwarded-Client-Cert");
  ASSERT_EQ(xfcc.size(), 1u) << response.body;
  EXPECT_EQ(XfccValues(xfcc[0], "Hash"), std::vector<std::string>{*fingerprint}) << xfcc[0];
  EXPECT_EQ(xfcc[0].find("admin"), std::string::npos) << xfcc[0];
}

TEST_P(GatewayTlsIdentity, AuthorizationIsNotPassedByDefault) {
  HttpResponse response = Post("/mcp/echo", {{"Authorization", "Bearer client-secret"}});
  ASSERT_EQ(response.status, 200) << response.body;
  HeaderList seen = EchoedHeaders(response.body);
  ASSERT_FALSE(seen.empty()) << response.body;
  EXPECT_TRUE(ValuesOf(seen, "Authorization").empty()) << response.body;
  EXPECT_EQ(response.body.find("client-secret"), std::string::npos) << response.body;
}

TEST_P(GatewayTlsIdentity, AuthorizationIsPassedWhenTheUpstreamAsksForIt) {
  HttpResponse response = Post("/mcp/echo-auth", {{"Authorization", "Bearer client-secret"}});
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(ValuesOf(EchoedHeaders(response.body), "Authorization"),
            std::vector<std::string>{"Bearer client-secret"})
      << response.body;
}

INSTANTIATE_TEST_SUITE_P(GatewayTls, GatewayTlsIdentity, ::testing::Values("1.3", "1.2"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "1.3" ? std::string("Tls13") : std::string("Tls12");
                         });

}  // namespace
}  // namespace portcullis::gateway_test
