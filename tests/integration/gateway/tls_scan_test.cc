// A TLS scanner's view of a running Portcullis: testssl.sh (Debian package testssl.sh, binary
// `testssl`) against the TLS listener, judged on its JSON output. No SSLv2/3, TLS 1.0 or 1.1;
// no NULL, anonymous, export, RC4/LOW, 3DES or CBC suites; forward secrecy on every suite; no
// finding rated HIGH or CRITICAL.
//
// testssl 3.0 cannot present a client certificate, so it sees what every client sees before the
// client-certificate step: the protocol and cipher offer, the server certificate, and the
// ServerHello-level vulnerabilities (it reports the HTTP-level checks as prevented by client
// authentication). sslscan was tried and rejected: its hand-made ClientHellos fail against
// wolfSSL (BUFFER_ERROR on TLS 1.2, random key shares refused on TLS 1.3), so it reports
// TLS 1.2 and 1.3 as disabled.
//
// The scan is split in two tests (~25 s each here) so that each stays far from ctest's 120 s
// per-test timeout on a loaded 2-core machine; testssl's own timeouts bound every connection.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "tests/integration/gateway/ops_fixture.h"

namespace portcullis::gateway_test {
namespace {

using testing::FindProgram;

constexpr int kScanTimeoutMs = 110000;

struct Finding {
  std::string id;
  std::string severity;
  std::string finding;
};

class GatewayTlsScan : public GatewayTestBase {
 protected:
  void SetUp() override {
    GatewayTestBase::SetUp();
    testssl_ = FindProgram("testssl");
    ASSERT_FALSE(testssl_.empty())
        << "testssl is not installed (Debian package testssl.sh; scripts/setup installs it)";
    // A server certificate of our own that names a CRL distribution point, as a production
    // certificate would: without one testssl rates revocation HIGH ("Neither CRL nor OCSP URI
    // provided"), a finding about the test certificate rather than the gateway. Nothing is
    // fetched from it (testssl contacts no CRL or OCSP server without --phone-out).
    Result<CertKey> cert = pki().IssueClient(
        "scan-server",
        {"extendedKeyUsage = serverAuth", "subjectAltName = DNS:localhost, IP:127.0.0.1",
         "crlDistributionPoints = URI:http://127.0.0.1:9/portcullis-test-ca.crl"},
        [] {
          testing::CertIssueOptions options;
          options.subject = "/O=Portcullis Test/CN=localhost";
          return options;
        }());
    ASSERT_TRUE(cert.ok()) << cert.error();
    Status started =
        gateway_.Start(GatewayConfigText("127.0.0.1:0", {}, "", cert->cert, cert->key));
    ASSERT_TRUE(started.ok()) << started.message();
  }

  // Runs testssl with `checks` and returns its findings (the flat JSON array of
  // {"id", "severity", "finding", ...}).
  std::vector<Finding> Scan(const std::vector<std::string>& checks) {
    std::string json_path = gateway_.dir().File("testssl.json");
    std::vector<std::string> argv = {
        testssl_,   "--quiet",       "--color",           "0",      "--warnings",        "off",
        "--nodns",  "none",          "--connect-timeout", "10",     "--openssl-timeout", "10",
        "--add-ca", pki().ca().cert, "--jsonfile",        json_path};
    argv.insert(argv.end(), checks.begin(), checks.end());
    argv.push_back("127.0.0.1:" + std::to_string(gateway_.port()));
    Result<testing::CommandResult> run = testing::RunCommand(argv, kScanTimeoutMs);
    std::vector<Finding> findings;
    if (!run.ok()) {
      ADD_FAILURE() << "testssl did not finish: " << run.error();
      return findings;
    }
    output_ = run->out + run->err;
    std::string text = TempDir::ReadFile(json_path);
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    if (doc.HasParseError() || !doc.IsArray()) {
      ADD_FAILURE() << "testssl wrote no JSON array (exit " << run->exit_status << "):\n"
                    << text << "\n"
                    << output_;
      return findings;
    }
    for (const auto& item : doc.GetArray()) {
      if (!item.IsObject()) {
        continue;
      }
      auto field = [&](const char* key) {
        return item.HasMember(key) && item[key].IsString() ? std::string(item[key].GetString())
                                                           : std::string();
      };
      findings.push_back({field("id"), field("severity"), field("finding")});
    }
    return findings;
  }

  const Finding* Find(const std::vector<Finding>& findings, const std::string& id) {
    for (const Finding& f : findings) {
      if (f.id == id) {
        return &f;
      }
    }
    ADD_FAILURE() << "testssl reported nothing for \"" << id << "\"\n" << output_;
    return nullptr;
  }

  void ExpectFinding(const std::vector<Finding>& findings, const std::string& id,
                     const std::string& prefix) {
    if (const Finding* f = Find(findings, id)) {
      EXPECT_EQ(f->finding.rfind(prefix, 0), 0u)
          << id << ": " << f->finding << " (" << f->severity << ")";
    }
  }

  void ExpectNothingHighOrCritical(const std::vector<Finding>& findings) {
    for (const Finding& f : findings) {
      EXPECT_TRUE(f.severity != "HIGH" && f.severity != "CRITICAL")
          << f.id << " rated " << f.severity << ": " << f.finding;
    }
  }

  std::string testssl_;
  std::string output_;
  ConfiguredGateway gateway_;
};

TEST_F(GatewayTlsScan, OffersOnlyModernProtocolsAndForwardSecretAeadSuites) {
  // -p protocols, -s cipher categories, -f forward secrecy, -E every cipher per protocol.
  std::vector<Finding> findings = Scan({"-p", "-s", "-f", "-E"});
  ASSERT_FALSE(findings.empty());
  for (const char* old : {"SSLv2", "SSLv3", "TLS1", "TLS1_1"}) {
    ExpectFinding(findings, old, "not offered");
  }
  ExpectFinding(findings, "TLS1_2", "offered");
  ExpectFinding(findings, "TLS1_3", "offered");
  for (const char* weak : {"cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT",
                           "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"}) {
    ExpectFinding(findings, weak, "not offered");
  }
  ExpectFinding(findings, "cipherlist_STRONG", "offered");
  ExpectFinding(findings, "PFS", "offered");
  // Every suite offered, one finding each: "TLS 1.2   xc02b   ECDHE-ECDSA-AES128-GCM-SHA256
  // ECDH 253   AESGCM   128   TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".
  int suites = 0;
  for (const Finding& f : findings) {
    if (f.id.rfind("cipher-tls", 0) != 0 && f.id.rfind("cipher-ssl", 0) != 0) {
      continue;
    }
    ++suites;
    EXPECT_EQ(f.id.rfind("cipher-tls1_2", 0) == 0 || f.id.rfind("cipher-tls1_3", 0) == 0, true)
        << "a suite offered below TLS 1.2: " << f.finding;
    bool forward_secret = f.finding.find(" ECDH ") != std::string::npos ||
                          f.finding.find(" DH ") != std::string::npos;
    EXPECT_TRUE(forward_secret) << "no forward secrecy: " << f.finding;
    bool aead = f.finding.find("AESGCM") != std::string::npos ||
                f.finding.find("CHACHA20") != std::string::npos ||
                f.finding.find("AESCCM") != std::string::npos;
    EXPECT_TRUE(aead) << "not an AEAD suite: " << f.finding;
    for (const char* bad : {"NULL", "anon", "EXP", "RC4", "3DES", "DES-CBC", "CBC", "MD5"}) {
      EXPECT_EQ(f.finding.find(bad), std::string::npos) << bad << " in: " << f.finding;
    }
  }
  EXPECT_GE(suites, 2) << "the per-cipher scan found no suites at all:\n" << output_;
  ExpectNothingHighOrCritical(findings);
}

TEST_F(GatewayTlsScan, HasNoVulnerabilityOrCertificateFindingRatedHighOrCritical) {
  // -U every vulnerability check, -S server defaults and the certificate.
  std::vector<Finding> findings = Scan({"-U", "-S"});
  ASSERT_FALSE(findings.empty());
  for (const char* id : {"heartbleed", "CCS", "ticketbleed", "ROBOT", "CRIME_TLS", "POODLE_SSL",
                         "SWEET32", "FREAK", "DROWN", "LOGJAM", "BEAST", "LUCKY13", "RC4"}) {
    if (const Finding* f = Find(findings, id)) {
      EXPECT_TRUE(f->severity == "OK" || f->severity == "INFO") << id << ": " << f->finding;
    }
  }
  ExpectFinding(findings, "fallback_SCSV", "no protocol below TLS 1.2 offered");
  ExpectFinding(findings, "cert_trust", "Ok via SAN");
  if (const Finding* chain = Find(findings, "cert_chain_of_trust")) {
    EXPECT_EQ(chain->severity, "OK") << chain->finding;
  }
  ExpectNothingHighOrCritical(findings);
}

}  // namespace
}  // namespace portcullis::gateway_test
