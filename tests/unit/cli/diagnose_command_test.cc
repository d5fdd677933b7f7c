// `portcullis diagnose`: target parsing, the fix table, and both report formats, on values made
// here (the handshakes themselves are in tests/integration/gateway/diagnose_test.cc).
#include "gateway/cli/diagnose_command.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <sstream>
#include <string>

namespace portcullis::cli {
namespace {

TEST(DiagnoseCommand, ParsesTargets) {
  Result<DiagnoseTarget> v4 = ParseDiagnoseTarget("127.0.0.1:8443");
  ASSERT_TRUE(v4.ok()) << v4.error();
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8443);
  Result<DiagnoseTarget> v6 = ParseDiagnoseTarget("[::1]:9443");
  ASSERT_TRUE(v6.ok()) << v6.error();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9443);
  Result<DiagnoseTarget> name = ParseDiagnoseTarget("billing.internal");
  ASSERT_TRUE(name.ok()) << name.error();
  EXPECT_EQ(name->host, "billing.internal");
  EXPECT_EQ(name->port, 443) << "the HTTPS port by default";
  EXPECT_EQ(ParseDiagnoseTarget("[::1]")->port, 443);
}

TEST(DiagnoseCommand, RejectsBadTargets) {
  EXPECT_EQ(ParseDiagnoseTarget("::1:8443").error(),
            "an IPv6 address needs brackets, e.g. \"[::1]:8443\"");
  EXPECT_EQ(ParseDiagnoseTarget("host:").error(), "missing port after ':' in \"host:\"");
  EXPECT_EQ(ParseDiagnoseTarget(":8443").error(), "missing host in \":8443\"");
  EXPECT_FALSE(ParseDiagnoseTarget("host:0").ok());
  EXPECT_FALSE(ParseDiagnoseTarget("host:65536").ok());
  EXPECT_FALSE(ParseDiagnoseTarget("host:84x3").ok());
  EXPECT_FALSE(ParseDiagnoseTarget("[::1").ok());
  EXPECT_FALSE(ParseDiagnoseTarget("[::1]8443").ok());
}

TEST(DiagnoseCommand, EveryReasonHasAFixForItsSide) {
  using tls::FailureSide;
  EXPECT_EQ(tls::FixFor("CERTIFICATE_EXPIRED", FailureSide::kServer),
            "the server's certificate has expired: renew it and reload the server");
  EXPECT_EQ(tls::FixFor("CERTIFICATE_EXPIRED", FailureSide::kClient),
            "your client certificate has expired: renew it");
  EXPECT_NE(tls::FixFor("NO_CLIENT_CERTIFICATE", FailureSide::kClient).find("--cert"),
            std::string_view::npos);
  for (const char* reason :
       {"UNKNOWN_HOST", "CONNECTION_REFUSED", "CONNECT_TIMEOUT", "CONNECT_FAILED",
        "CONNECTION_RESET", "NOT_TLS", "HANDSHAKE_TIMEOUT", "PROTOCOL_VERSION", "NO_SHARED_CIPHER",
        "CERTIFICATE_VERIFY_FAILED", "CERTIFICATE_NOT_YET_VALID", "CERTIFICATE_REVOKED",
        "CERTIFICATE_USAGE_INVALID", "HOSTNAME_MISMATCH", "HANDSHAKE_FAILURE"}) {
    EXPECT_NE(tls::FixFor(reason, FailureSide::kServer),
              "read the detail above and the server's log")
        << reason;
  }
  EXPECT_EQ(tls::AlertName(116), "certificate_required");
  EXPECT_EQ(tls::AlertName(48), "unknown_ca");
  EXPECT_EQ(tls::AlertName(255), "?");
}

tls::Diagnosis ExpiredServer() {
  tls::Diagnosis d;
  d.target = "gw.example:8443";
  d.address = "192.0.2.10:8443";
  d.servername = "gw.example";
  d.sni_sent = true;
  d.trust = "/etc/ca.crt";
  d.connected = true;
  d.handshake_done = false;
  d.version = "TLSv1.3";
  d.cipher = "TLS13-AES128-GCM-SHA256";
  d.name_checked = true;
  d.name_matches = true;
  tls::ChainCertificate leaf;
  leaf.identity.subject = "CN=gw.example,O=Example";
  leaf.identity.cn = "gw.example";
  leaf.identity.issuer = "CN=Example CA";
  leaf.identity.serial_hex = "0a";
  leaf.identity.dns_sans = {"gw.example"};
  leaf.identity.ip_sans = {"192.0.2.10"};
  leaf.identity.not_before = 1700000000;  // 2023-11-14T22:13:20Z
  leaf.identity.not_after = 1710000000;   // 2024-03-09T16:00:00Z
  leaf.identity.cert_sha256 = std::string(64, 'a');
  leaf.key = "ECDSA P-256";
  leaf.expired = true;
  leaf.days_left = -3;
  d.chain.push_back(leaf);
  tls::ChainCertificate broken;
  broken.error = "cannot parse the certificate";
  d.chain.push_back(broken);
  d.reason = "CERTIFICATE_EXPIRED";
  d.side = tls::FailureSide::kServer;
  d.detail = "ASN date error, current date after (-151)";
  d.fix = std::string(tls::FixFor(d.reason, d.side));
  return d;
}

TEST(DiagnoseCommand, TextReportNamesTheReasonAndTheFix) {
  std::string text = FormatDiagnosisText(ExpiredServer());
  for (const char* expected : {
           "portcullis diagnose gw.example:8443\n",
           "  address      192.0.2.10:8443\n",
           "  servername   gw.example (sent as SNI)\n",
           "  protocol     TLSv1.3, TLS13-AES128-GCM-SHA256\n",
           "chain (2 certificates as sent by the server, leaf first):\n",
           "  [0] subject  CN=gw.example,O=Example\n",
           "      SANs     DNS:gw.example, IP:192.0.2.10\n",
           "      valid    2023-11-14T22:13:20Z .. 2024-03-09T16:00:00Z (EXPIRED 3 days ago)\n",
           "  [1] unreadable: cannot parse the certificate\n",
           "  name         \"gw.example\" is named by the leaf certificate\n",
           "result: FAILED: CERTIFICATE_EXPIRED (server)\n",
           "  detail  ASN date error, current date after (-151)\n",
           "  fix     the server's certificate has expired: renew it and reload the server\n",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n---\n" << text;
  }
}

TEST(DiagnoseCommand, JsonReportIsOneObject) {
  std::string json = FormatDiagnosisJson(ExpiredServer());
  ASSERT_EQ(json.back(), '\n');
  EXPECT_EQ(json.find('\n'), json.size() - 1) << "one line";
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  ASSERT_FALSE(doc.HasParseError()) << json;
  EXPECT_FALSE(doc["verified"].GetBool());
  EXPECT_STREQ(doc["failure"]["reason"].GetString(), "CERTIFICATE_EXPIRED");
  EXPECT_STREQ(doc["failure"]["side"].GetString(), "server");
  EXPECT_STREQ(doc["tls"]["version"].GetString(), "TLSv1.3");
  ASSERT_EQ(doc["chain"].Size(), 2u);
  EXPECT_STREQ(doc["chain"][0]["not_after"].GetString(), "2024-03-09T16:00:00Z");
  EXPECT_EQ(doc["chain"][0]["days_left"].GetInt(), -3);
  EXPECT_TRUE(doc["chain"][0]["expired"].GetBool());
  EXPECT_STREQ(doc["chain"][0]["san"]["dns"][0].GetString(), "gw.example");
  EXPECT_STREQ(doc["chain"][1]["error"].GetString(), "cannot parse the certificate");

  tls::Diagnosis ok = ExpiredServer();
  ok.verified = true;
  rapidjson::Document ok_doc;
  ok_doc.Parse(FormatDiagnosisJson(ok).c_str());
  EXPECT_TRUE(ok_doc["failure"].IsNull());
}

TEST(DiagnoseCommand, UsageErrorsExitWithTwoBeforeConnecting) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"--json"},
           {"a:1", "b:2"},
           {"a:1", "--cert", "c.pem"},
           {"a:1", "--key", "k.pem"},
           {"a:1", "--ca"},
           {"a:1", "--ca="},
           {"a:1", "--timeout-ms", "0"},
           {"a:1", "--what"},
       }) {
    std::ostringstream out, err;
    EXPECT_EQ(DiagnoseCommand(args, out, err), 2) << err.str();
    EXPECT_TRUE(out.str().empty());
    EXPECT_EQ(err.str().rfind("portcullis diagnose: ", 0), 0u) << err.str();
  }
  std::ostringstream out, err;
  EXPECT_EQ(DiagnoseCommand({"--help"}, out, err), 0);
  EXPECT_NE(out.str().find("usage: portcullis diagnose HOST:PORT"), std::string::npos);
}

}  // namespace
}  // namespace portcullis::cli
