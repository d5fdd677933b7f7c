// The audit log's TLS events (issue 4, DESIGN §5): every failure reason the gateway can see
// on its TLS port, produced by a real failing handshake, appears as one tls.handshake_failed
// with that reason and the client's own address and port as "peer"; a good handshake appears
// as tls.handshake with the client's identity and the negotiated version.
//
// Certificate failures use TLS 1.3, where the client's handshake completes before the server
// judges its certificate: the test holds a connected socket and reads its local port before
// the refusal arrives. TLS 1.1 and the partial handshakes are sent through a RawSocket.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/gateway/audit_fixture.h"

namespace portcullis::gateway_test {
namespace {

class GatewayAuditTls : public AuditTestBase {
 protected:
  void SetUp() override {
    AuditTestBase::SetUp();
    ASSERT_TRUE(upstream_.ok()) << upstream_.error();
  }

  void StartGateway(std::vector<std::string> tls_extra = {}) {
    GatewayConfig config;
    config.tls = std::move(tls_extra);
    config.AddUpstream("echo", upstream_.url());
    Status s = gateway_.Start(config);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  std::string RefusedTls13Client(const CertKey& cert) {
    return gateway_test::RefusedTls13Client(gateway_.port(), cert);
  }
  std::string RawClient(const std::string& bytes, bool reset_after = false,
                        bool close_after = false) {
    return RawHandshake(gateway_.port(), bytes, reset_after, close_after);
  }

  // Exactly one tls.handshake_failed for `peer`, with `reason`; no other event for it.
  void ExpectFailure(const AuditLog& log, const std::string& peer, const std::string& reason) {
    SCOPED_TRACE(reason + " from " + peer);
    auto records = log.ForPeer("tls.handshake_failed", peer);
    ASSERT_EQ(records.size(), 1u) << log.Summary();
    const rapidjson::Value& r = *records[0];
    EXPECT_EQ(JStr(r, "reason"), reason) << JStr(r, "detail");
    EXPECT_FALSE(JStr(r, "detail").empty());
    EXPECT_FALSE(JStr(r, "conn").empty());
    EXPECT_TRUE(log.ForPeer("tls.handshake", peer).empty());
    EXPECT_TRUE(log.ForPeer("mcp.request", peer).empty());
  }

  EchoUpstream upstream_;
  AuditGateway gateway_;
};

TEST_F(GatewayAuditTls, EachRefusedCertificateIsRecordedWithItsReasonAndPeer) {
  StartGateway({"\"crl\": [\"" + pki().crl() + "\"]"});
  struct Case {
    CertKey cert;
    std::string reason;
    std::string peer;
  };
  std::vector<Case> cases = {
      {CertKey{"", ""}, "NO_CLIENT_CERTIFICATE", ""},
      {pki().other_ca_client(), "CERTIFICATE_VERIFY_FAILED", ""},
      {pki().expired_client(), "CERTIFICATE_EXPIRED", ""},
      {pki().not_yet_valid_client(), "CERTIFICATE_NOT_YET_VALID", ""},
      {pki().revoked_client(), "CERTIFICATE_REVOKED", ""},
      {pki().server_auth_client(), "CERTIFICATE_USAGE_INVALID", ""},
  };
  for (Case& c : cases) {
    c.peer = RefusedTls13Client(c.cert);
  }
  AuditLog log = gateway_.StopAndRead();
  EXPECT_TRUE(log.bad_lines().empty());
  for (const Case& c : cases) {
    ExpectFailure(log, c.peer, c.reason);
  }
  EXPECT_EQ(log.Events("tls.handshake_failed").size(), cases.size()) << log.Summary();
  EXPECT_EQ(upstream_.request_count(), 0u);
}

TEST_F(GatewayAuditTls, ProtocolVersionNotTlsAndResetAreRecordedWithTheirPeer) {
  StartGateway();
  const std::string hello11 = ClientHello(0x0302);
  const std::string hello12 = ClientHello(0x0303);
  std::string tls11_peer = RawClient(hello11);
  std::string plain_peer = RawClient("GET /mcp/echo HTTP/1.1\r\nHost: localhost\r\n\r\n");
  std::string binary_peer = RawClient(std::string("\x00\x01\x02\x03", 4));
  std::string fin_peer = RawClient(hello12.substr(0, 20), false, /*close_after=*/true);
  // A real TLS 1.1 client too (its socket is not ours, so only the reason is checked).
  Attempt tls11 = TryRequest(gateway_.port(), ClientOptions(pki().client(), "1.1"), "/mcp/echo");
  EXPECT_FALSE(tls11.handshake_ok) << "negotiated " << tls11.version;
  // A port probe that connects and closes without a byte is not a handshake failure.
  {
    auto probe = RawSocket::Connect("127.0.0.1", gateway_.port(), kRequestMs);
    ASSERT_TRUE(probe.ok()) << probe.error();
  }
  // The FIN case ends on the client's side at once: wait until the gateway has recorded every
  // failure before stopping it (a drain closes connections still in their handshake).
  gateway_.WaitFor(
      [&](const AuditLog& log) { return log.Events("tls.handshake_failed").size() >= 5; });

  AuditLog log = gateway_.StopAndRead();
  EXPECT_TRUE(log.bad_lines().empty());
  ExpectFailure(log, tls11_peer, "PROTOCOL_VERSION");
  ExpectFailure(log, plain_peer, "NOT_TLS");
  ExpectFailure(log, binary_peer, "NOT_TLS");
  ExpectFailure(log, fin_peer, "CONNECTION_RESET");
  auto plain = log.ForPeer("tls.handshake_failed", plain_peer);
  if (!plain.empty()) {
    EXPECT_EQ(JStr(*plain[0], "detail"), "first byte 0x47");  // 'G'
  }
  // The TLS 1.1 client's record: the one PROTOCOL_VERSION not from our raw socket.
  int other_protocol_version = 0;
  for (const rapidjson::Value* r : log.Events("tls.handshake_failed")) {
    if (JStr(*r, "reason") == "PROTOCOL_VERSION" && JStr(*r, "peer") != tls11_peer) {
      ++other_protocol_version;
      EXPECT_EQ(JStr(*r, "peer").rfind("127.0.0.1:", 0), 0u) << JStr(*r, "peer");
    }
  }
  EXPECT_EQ(other_protocol_version, 1) << log.Summary();
  EXPECT_EQ(log.Events("tls.handshake_failed").size(), 5u) << log.Summary();
  EXPECT_EQ(upstream_.request_count(), 0u);
}

// DESIGN §5: tls.handshake_failed carries "any identity seen". A refused certificate was seen
// in full (it failed on its dates, its revocation, its usage or its issuer, not on being
// unreadable), and the operator needs to know WHOSE certificate it was: which agent is still
// using an expired or revoked certificate. Its fingerprint, at least, must be in the record.
TEST_F(GatewayAuditTls, RefusedCertificatesAreNamedInTheirRecord) {
  StartGateway({"\"crl\": [\"" + pki().crl() + "\"]"});
  struct Case {
    CertKey cert;
    std::string reason;
    std::string peer;
  };
  std::vector<Case> cases = {
      {pki().expired_client(), "CERTIFICATE_EXPIRED", ""},
      {pki().revoked_client(), "CERTIFICATE_REVOKED", ""},
      {pki().server_auth_client(), "CERTIFICATE_USAGE_INVALID", ""},
      {pki().other_ca_client(), "CERTIFICATE_VERIFY_FAILED", ""},
  };
  for (Case& c : cases) {
    c.peer = RefusedTls13Client(c.cert);
  }
  AuditLog log = gateway_.StopAndRead();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.reason);
    auto records = log.ForPeer("tls.handshake_failed", c.peer);
    ASSERT_EQ(records.size(), 1u) << log.Summary();
    const rapidjson::Value& r = *records[0];
    EXPECT_EQ(JStr(r, "reason"), c.reason);
    Result<std::string> fingerprint = TestPki::Fingerprint(c.cert.cert);
    ASSERT_TRUE(fingerprint.ok());
    ASSERT_TRUE(JHas(r, "identity") && r["identity"].IsObject())
        << "no identity in the record of a refused certificate";
    EXPECT_EQ(JStr(r["identity"], "fingerprint_sha256"), *fingerprint);
  }
}

// Clients that send the start of a ClientHello and then reset the connection (RST). Each one
// must be recorded with its own address: the address is what the handshake-failure detector
// counts, and what an operator blocks. A reset can reach the gateway's kernel before the
// gateway has accepted the connection; the peer's address is known at that point all the same
// (accept(2) returns it), so the record must still name it.
TEST_F(GatewayAuditTls, ResetHandshakesAreRecordedWithTheirPeer) {
  StartGateway();
  const std::string hello12 = ClientHello(0x0303);
  constexpr size_t kResets = 10;
  std::vector<std::string> peers;
  for (size_t i = 0; i < kResets; ++i) {
    peers.push_back(RawClient(hello12.substr(0, 20), /*reset_after=*/true));
  }
  gateway_.WaitFor(
      [&](const AuditLog& log) { return log.Events("tls.handshake_failed").size() >= kResets; });
  AuditLog log = gateway_.StopAndRead();
  EXPECT_EQ(log.Events("tls.handshake_failed").size(), kResets) << log.Summary();
  for (const rapidjson::Value* r : log.Events("tls.handshake_failed")) {
    EXPECT_EQ(JStr(*r, "reason"), "CONNECTION_RESET");
    EXPECT_EQ(JStr(*r, "peer").rfind("127.0.0.1:", 0), 0u)
        << "a handshake failure without its peer address: conn " << JStr(*r, "conn")
        << ", detail \"" << JStr(*r, "detail") << "\"";
  }
  for (const std::string& peer : peers) {
    EXPECT_EQ(log.ForPeer("tls.handshake_failed", peer).size(), 1u) << peer;
  }
}

TEST_F(GatewayAuditTls, StalledHandshakesAreRecordedAsHandshakeTimeout) {
  StartGateway({R"("handshake_timeout_ms": 300)"});
  const std::string hello12 = ClientHello(0x0303);
  std::string one_byte_peer = RawClient(std::string("\x16", 1));
  std::string half_hello_peer = RawClient(hello12.substr(0, hello12.size() / 2));
  AuditLog log = gateway_.StopAndRead();
  ExpectFailure(log, one_byte_peer, "HANDSHAKE_TIMEOUT");
  ExpectFailure(log, half_hello_peer, "HANDSHAKE_TIMEOUT");
  EXPECT_EQ(log.Events("tls.handshake_failed").size(), 2u) << log.Summary();
}

TEST_F(GatewayAuditTls, GoodHandshakesCarryTheIdentityAndVersion) {
  StartGateway();
  Result<std::string> fingerprint = TestPki::Fingerprint(pki().client().cert);
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.error();
  Result<std::string> spki = TestPki::SpkiSha256(pki().client().cert);
  ASSERT_TRUE(spki.ok()) << spki.error();

  struct Seen {
    std::string peer;
    std::string version;
    std::string cipher;
  };
  std::vector<Seen> seen;
  for (const char* version : {"1.3", "1.2"}) {
    auto client =
        TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client(), version));
    ASSERT_TRUE(client.ok()) << client.error();
    seen.push_back({LocalPeer((*client)->fd()), (*client)->version(), (*client)->cipher()});
    auto response =
        testing::Request(**client, "POST", "/mcp/echo", JsonHeaders(), kPing, kRequestMs);
    ASSERT_TRUE(response.ok()) << response.error();
    EXPECT_EQ(response->status, 200);
  }
  AuditLog log = gateway_.StopAndRead();
  EXPECT_TRUE(log.bad_lines().empty());
  EXPECT_TRUE(log.Events("tls.handshake_failed").empty()) << log.Summary();
  for (const Seen& s : seen) {
    SCOPED_TRACE(s.version + " from " + s.peer);
    auto records = log.ForPeer("tls.handshake", s.peer);
    ASSERT_EQ(records.size(), 1u) << log.Summary();
    const rapidjson::Value& r = *records[0];
    ASSERT_TRUE(JHas(r, "identity") && r["identity"].IsObject());
    const rapidjson::Value& id = r["identity"];
    EXPECT_EQ(JStr(id, "cn"), kGoodClientCn);
    EXPECT_EQ(JStr(id, "spiffe_id"), kGoodClientSpiffeId);
    EXPECT_EQ(JStr(id, "fingerprint_sha256"), *fingerprint);
    EXPECT_EQ(JStr(id, "spki_sha256"), *spki);
    EXPECT_EQ(JStr(id, "serial"), kGoodClientSerialHex);
    EXPECT_NE(JStr(id, "issuer").find("Portcullis Test CA"), std::string::npos)
        << JStr(id, "issuer");
    ASSERT_TRUE(JHas(id, "dns") && id["dns"].IsArray() && id["dns"].Size() == 1);
    EXPECT_EQ(std::string(id["dns"][0].GetString()), kGoodClientDns);
    ASSERT_TRUE(JHas(r, "tls") && r["tls"].IsObject());
    EXPECT_EQ(JStr(r["tls"], "version"), s.version);
    EXPECT_EQ(JStr(r["tls"], "cipher"), s.cipher);
    EXPECT_EQ(JStr(r["tls"], "sni"), "localhost");
    ASSERT_TRUE(JHas(r["tls"], "resumed") && r["tls"]["resumed"].IsBool());
    EXPECT_FALSE(r["tls"]["resumed"].GetBool());
    EXPECT_TRUE(JInt(r, "handshake_us").has_value());
    // The request on that connection carries the same conn and the identity summary.
    auto requests = log.ForPeer("mcp.request", s.peer);
    ASSERT_EQ(requests.size(), 1u) << log.Summary();
    EXPECT_EQ(JStr(*requests[0], "conn"), JStr(r, "conn"));
    ASSERT_TRUE(JHas(*requests[0], "identity"));
    EXPECT_EQ(JStr((*requests[0])["identity"], "fingerprint_sha256"), *fingerprint);
    EXPECT_EQ(JStr((*requests[0])["identity"], "cn"), kGoodClientCn);
  }
}

}  // namespace
}  // namespace portcullis::gateway_test
