// TLS session resumption and identity. By default the gateway resumes nothing. With
// "session_tickets": true a ticket may resume, but a resumed connection must never be served
// without the client's identity: wolfSSL 5.5.4 resumes a TLS 1.3 ticket without the peer
// certificate once its 33-entry session cache has turned over (notes/wolfssl-libuv.md §4), and
// the gateway must refuse such a connection rather than serve it anonymously.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

using testing::TlsSessionPtr;

class GatewayResumption : public GatewayTestBase {
 protected:
  void SetUp() override {
    GatewayTestBase::SetUp();
    ASSERT_TRUE(upstream_.ok()) << upstream_.error();
    Result<std::string> fingerprint = TestPki::Fingerprint(pki().client().cert);
    ASSERT_TRUE(fingerprint.ok()) << fingerprint.error();
    fingerprint_ = *fingerprint;
  }

  void StartGateway(bool session_tickets) {
    GatewayConfig config;
    if (session_tickets) {
      config.tls.push_back(R"("session_tickets": true)");
    }
    config.AddUpstream("echo", upstream_.url());
    Status started = gateway_.Start(config);
    ASSERT_TRUE(started.ok()) << started.message();
  }

  // A full handshake and one request; returns the session for resumption (the TLS 1.3 ticket
  // arrives after the handshake, so it is taken after the response was read).
  TlsSessionPtr FullSession(const std::string& version) {
    auto client =
        TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client(), version));
    EXPECT_TRUE(client.ok()) << client.error();
    if (!client.ok()) {
      return nullptr;
    }
    EXPECT_FALSE((*client)->resumed());
    auto response =
        testing::Request(**client, "POST", "/mcp/echo", JsonHeaders(), kPing, kRequestMs);
    EXPECT_TRUE(response.ok()) << response.error();
    if (response.ok()) {
      EXPECT_EQ(response->status, 200);
      ExpectIdentity(*response);
    }
    return (*client)->TakeSession();
  }

  Attempt Resume(const std::string& version, WOLFSSL_SESSION* session) {
    TlsClientOptions options = ClientOptions(pki().client(), version);
    options.session = session;
    return TryRequest(gateway_.port(), options, "/mcp/echo");
  }

  // The upstream saw exactly this client's certificate in this response's request.
  void ExpectIdentity(const HttpResponse& response) {
    std::vector<std::string> xfcc =
        ValuesOf(EchoedHeaders(response.body), "X-Forwarded-Client-Cert");
    ASSERT_EQ(xfcc.size(), 1u) << response.body;
    EXPECT_EQ(XfccValues(xfcc[0], "Hash"), std::vector<std::string>{fingerprint_}) << xfcc[0];
    std::vector<std::string> subject = XfccValues(xfcc[0], "Subject");
    ASSERT_EQ(subject.size(), 1u) << xfcc[0];
    EXPECT_NE(subject[0].find("CN=agent-1"), std::string::npos) << xfcc[0];
  }

  EchoUpstream upstream_;
  GatewayProcess gateway_;
  std::string fingerprint_;
};

class GatewayResumptionOff : public GatewayResumption,
                             public ::testing::WithParamInterface<std::string> {};

TEST_P(GatewayResumptionOff, SecondConnectionIsAFullHandshakeAndWorks) {
  StartGateway(/*session_tickets=*/false);
  TlsSessionPtr session = FullSession(GetParam());
  Attempt attempt = Resume(GetParam(), session.get());
  if (!attempt.handshake_ok &&
      attempt.detail.find("wolfSSL_set_session refused") != std::string::npos) {
    // The gateway handed out nothing resumable (no ticket, no cached session id), so the client
    // cannot even offer the session: "not resumed" too. The next connection is a full one.
    RecordProperty("session_offered", "no");
    attempt = TryRequest(gateway_.port(), ClientOptions(pki().client(), GetParam()), "/mcp/echo");
  }
  ASSERT_TRUE(attempt.served) << attempt.detail;
  EXPECT_FALSE(attempt.resumed) << "default config resumed a TLS " << GetParam() << " session";
  EXPECT_EQ(attempt.response.status, 200);
  ExpectIdentity(attempt.response);
}

INSTANTIATE_TEST_SUITE_P(GatewayResumption, GatewayResumptionOff, ::testing::Values("1.3", "1.2"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "1.3" ? std::string("Tls13") : std::string("Tls12");
                         });

TEST_F(GatewayResumption, TicketsOnResumeRightAwayKeepsTheIdentity) {
  StartGateway(/*session_tickets=*/true);
  TlsSessionPtr session = FullSession("1.3");
  ASSERT_NE(session, nullptr) << "no TLS 1.3 ticket from the gateway with session_tickets on";
  Attempt attempt = Resume("1.3", session.get());
  ASSERT_TRUE(attempt.served) << "resuming a fresh ticket failed: " << attempt.detail
                              << "\ngateway log:\n"
                              << gateway_.Log();
  EXPECT_TRUE(attempt.resumed) << "session_tickets is on but the fresh ticket did not resume";
  EXPECT_EQ(attempt.response.status, 200);
  ExpectIdentity(attempt.response);
}

// TLS 1.2 tickets cannot carry the identity in wolfSSL 5.5.4, so the gateway issues none: a
// TLS 1.2 client reconnecting with its session gets a full handshake, never a refusal.
TEST_F(GatewayResumption, TicketsOnTls12ClientsGetAFullHandshake) {
  StartGateway(/*session_tickets=*/true);
  TlsSessionPtr session = FullSession("1.2");
  ASSERT_NE(session, nullptr);
  Attempt attempt = Resume("1.2", session.get());
  if (!attempt.handshake_ok &&
      attempt.detail.find("wolfSSL_set_session refused") != std::string::npos) {
    // The session holds neither a ticket nor a session id: there is nothing to offer, so the
    // client's next connection is a full handshake by construction.
    return;
  }
  ASSERT_TRUE(attempt.served) << "a TLS 1.2 reconnect was refused: " << attempt.detail
                              << "\ngateway log:\n"
                              << gateway_.Log();
  EXPECT_FALSE(attempt.resumed);
  EXPECT_EQ(attempt.response.status, 200);
  ExpectIdentity(attempt.response);
}

TEST_F(GatewayResumption, TicketsOnOldTicketIsNeverServedWithoutIdentity) {
  StartGateway(/*session_tickets=*/true);
  TlsSessionPtr oldest = FullSession("1.3");
  ASSERT_NE(oldest, nullptr);
  // More full sessions than wolfSSL's default 33-entry session cache holds.
  constexpr int kChurn = 100;
  for (int i = 0; i < kChurn; ++i) {
    TlsSessionPtr ignored = FullSession("1.3");
    if (::testing::Test::HasFatalFailure() || ::testing::Test::HasNonfatalFailure()) {
      FAIL() << "full session " << i << " failed";
    }
  }
  size_t requests_before = upstream_.request_count();
  size_t log_from = gateway_.LogSize();
  Attempt attempt = Resume("1.3", oldest.get());
  if (attempt.served) {
    // Served: then with the full, correct identity, whether it resumed or not.
    EXPECT_EQ(attempt.response.status, 200) << attempt.response.body;
    ExpectIdentity(attempt.response);
    std::vector<EchoUpstream::Request> requests = upstream_.requests();
    ASSERT_EQ(requests.size(), requests_before + 1);
    std::vector<std::string> xfcc = ValuesOf(requests.back().headers, "X-Forwarded-Client-Cert");
    ASSERT_EQ(xfcc.size(), 1u);
    EXPECT_EQ(XfccValues(xfcc[0], "Hash"), std::vector<std::string>{fingerprint_});
  } else {
    // Refused: nothing reached the upstream, and the gateway says why.
    EXPECT_EQ(upstream_.request_count(), requests_before);
    EXPECT_TRUE(gateway_.WaitForLog("handshake failed", log_from, 2000)) << gateway_.Log();
  }
  RecordProperty(
      "old_ticket_outcome",
      attempt.served ? (attempt.resumed ? "resumed-with-identity" : "full-handshake") : "refused");
}

}  // namespace
}  // namespace portcullis::gateway_test
