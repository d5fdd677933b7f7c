#include "tests/support/test_pki.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/child_process.h"

namespace portcullis::testing {
namespace {

constexpr int kOpensslMs = 30000;

// `openssl verify` output (stdout + stderr) and exit status for one certificate.
CommandResult Verify(const std::string& ca, const std::string& cert,
                     const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"openssl", "verify", "-CAfile", ca};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(cert);
  Result<CommandResult> r = RunCommand(argv, kOpensslMs);
  EXPECT_TRUE(r.ok()) << r.error();
  if (!r.ok()) {
    return CommandResult{-1, "", r.error()};
  }
  CommandResult out = std::move(r).value();
  out.out += out.err;
  return out;
}

std::string Text(const std::string& cert) {
  Result<std::string> r = RunOpenssl({"x509", "-in", cert, "-noout", "-text"});
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? *r : "";
}

class TestPkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!pki().ok()) {
      GTEST_FAIL() << pki().error();
    }
  }
  static const TestPki& pki() { return SharedPki(); }
};

TEST_F(TestPkiTest, GoodCertificatesVerifyAgainstTheCa) {
  for (const std::string& cert : {pki().server().cert, pki().client().cert}) {
    CommandResult r = Verify(pki().ca().cert, cert);
    EXPECT_EQ(r.exit_status, 0) << cert << ": " << r.out;
  }
  CommandResult self = Verify(pki().ca().cert, pki().ca().cert);
  EXPECT_EQ(self.exit_status, 0) << self.out;
  CommandResult other = Verify(pki().other_ca().cert, pki().other_ca_client().cert);
  EXPECT_EQ(other.exit_status, 0) << other.out;
}

TEST_F(TestPkiTest, ExpiredClientFailsWithError10) {
  CommandResult r = Verify(pki().ca().cert, pki().expired_client().cert);
  EXPECT_NE(r.exit_status, 0);
  EXPECT_NE(r.out.find("error 10 "), std::string::npos) << r.out;
}

TEST_F(TestPkiTest, NotYetValidClientFailsWithError9) {
  CommandResult r = Verify(pki().ca().cert, pki().not_yet_valid_client().cert);
  EXPECT_NE(r.exit_status, 0);
  EXPECT_NE(r.out.find("error 9 "), std::string::npos) << r.out;
}

TEST_F(TestPkiTest, RevokedClientFailsWithError23UnderTheCrl) {
  CommandResult plain = Verify(pki().ca().cert, pki().revoked_client().cert);
  EXPECT_EQ(plain.exit_status, 0) << "valid apart from the CRL: " << plain.out;
  CommandResult r =
      Verify(pki().ca().cert, pki().revoked_client().cert, {"-crl_check", "-CRLfile", pki().crl()});
  EXPECT_NE(r.exit_status, 0);
  EXPECT_NE(r.out.find("error 23 "), std::string::npos) << r.out;
  CommandResult good =
      Verify(pki().ca().cert, pki().client().cert, {"-crl_check", "-CRLfile", pki().crl()});
  EXPECT_EQ(good.exit_status, 0) << good.out;
}

TEST_F(TestPkiTest, EmptyCrlIsValidAndRevokesNothing) {
  CommandResult r = Verify(pki().ca().cert, pki().revoked_client().cert,
                           {"-crl_check", "-CRLfile", pki().empty_crl()});
  EXPECT_EQ(r.exit_status, 0) << r.out;
  Result<std::string> text = RunOpenssl({"crl", "-in", pki().empty_crl(), "-noout", "-text"});
  ASSERT_TRUE(text.ok()) << text.error();
  EXPECT_NE(text->find("No Revoked Certificates"), std::string::npos) << *text;
}

TEST_F(TestPkiTest, OtherCaClientFailsWithError20) {
  CommandResult r = Verify(pki().ca().cert, pki().other_ca_client().cert);
  EXPECT_NE(r.exit_status, 0);
  EXPECT_NE(r.out.find("error 20 "), std::string::npos) << r.out;
}

TEST_F(TestPkiTest, ServerAuthOnlyClientIsNotAClientCertificate) {
  CommandResult as_client =
      Verify(pki().ca().cert, pki().server_auth_client().cert, {"-purpose", "sslclient"});
  EXPECT_NE(as_client.exit_status, 0) << as_client.out;
  CommandResult good = Verify(pki().ca().cert, pki().client().cert, {"-purpose", "sslclient"});
  EXPECT_EQ(good.exit_status, 0) << good.out;
  CommandResult server = Verify(pki().ca().cert, pki().server().cert, {"-purpose", "sslserver"});
  EXPECT_EQ(server.exit_status, 0) << server.out;
}

TEST_F(TestPkiTest, ServerCertificateNamesLoopback) {
  std::string text = Text(pki().server().cert);
  EXPECT_NE(text.find("DNS:localhost"), std::string::npos) << text;
  EXPECT_NE(text.find("IP Address:127.0.0.1"), std::string::npos) << text;
  EXPECT_NE(text.find("IP Address:0:0:0:0:0:0:0:1"), std::string::npos) << text;
  EXPECT_NE(text.find("TLS Web Server Authentication"), std::string::npos) << text;
  EXPECT_NE(text.find("prime256v1"), std::string::npos) << text;
}

TEST_F(TestPkiTest, GoodClientCarriesTheDocumentedIdentity) {
  std::string text = Text(pki().client().cert);
  EXPECT_NE(text.find("CN = agent-1"), std::string::npos) << text;
  EXPECT_NE(text.find(std::string("URI:") + kGoodClientSpiffeId), std::string::npos) << text;
  EXPECT_NE(text.find(std::string("DNS:") + kGoodClientDns), std::string::npos) << text;
  EXPECT_NE(text.find(std::string("email:") + kGoodClientEmail), std::string::npos) << text;
  EXPECT_NE(text.find("TLS Web Client Authentication"), std::string::npos) << text;
  Result<std::string> serial = TestPki::Serial(pki().client().cert);
  ASSERT_TRUE(serial.ok()) << serial.error();
  EXPECT_EQ(*serial, kGoodClientSerialHex);
  // The impostor from the other CA copies the identity but not the issuer.
  std::string impostor = Text(pki().other_ca_client().cert);
  EXPECT_NE(impostor.find(std::string("URI:") + kGoodClientSpiffeId), std::string::npos);
  EXPECT_NE(impostor.find("Issuer: O = Other Org, CN = Other Test CA"), std::string::npos);
}

TEST_F(TestPkiTest, FingerprintIsSha256OfTheDer) {
  Result<std::string> fp = TestPki::Fingerprint(pki().client().cert);
  ASSERT_TRUE(fp.ok()) << fp.error();
  EXPECT_EQ(fp->size(), 64u);
  EXPECT_EQ(fp->find_first_not_of("0123456789abcdef"), std::string::npos) << *fp;
  Result<std::string> der = RunOpenssl({"x509", "-in", pki().client().cert, "-outform", "DER"});
  ASSERT_TRUE(der.ok()) << der.error();
  Result<std::string> digest = RunOpenssl({"dgst", "-sha256", "-r"}, *der);
  ASSERT_TRUE(digest.ok()) << digest.error();
  EXPECT_EQ(digest->substr(0, 64), *fp);
  Result<std::string> other = TestPki::Fingerprint(pki().server().cert);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *fp);
}

TEST_F(TestPkiTest, SpkiSha256MatchesThePrivateKey) {
  Result<std::string> spki = TestPki::SpkiSha256(pki().client().cert);
  ASSERT_TRUE(spki.ok()) << spki.error();
  EXPECT_EQ(spki->size(), 64u);
  Result<std::string> pub =
      RunOpenssl({"pkey", "-in", pki().client().key, "-pubout", "-outform", "DER"});
  ASSERT_TRUE(pub.ok()) << pub.error();
  Result<std::string> digest = RunOpenssl({"dgst", "-sha256", "-r"}, *pub);
  ASSERT_TRUE(digest.ok()) << digest.error();
  EXPECT_EQ(digest->substr(0, 64), *spki);
  Result<std::string> fp = TestPki::Fingerprint(pki().client().cert);
  ASSERT_TRUE(fp.ok());
  EXPECT_NE(*fp, *spki);
}

TEST_F(TestPkiTest, IssuesCustomClients) {
  Result<CertKey> odd = pki().IssueClient(
      "odd-san", {"subjectAltName = @alt", "extendedKeyUsage = clientAuth, serverAuth", "[alt]",
                  "URI.1 = spiffe://example.org/ns/prod/sa/odd", "DNS.1 = odd.internal",
                  "email.1 = odd@example.org"});
  ASSERT_TRUE(odd.ok()) << odd.error();
  std::string text = Text(odd->cert);
  EXPECT_NE(text.find("CN = odd-san"), std::string::npos) << text;
  EXPECT_NE(text.find("URI:spiffe://example.org/ns/prod/sa/odd"), std::string::npos) << text;
  EXPECT_NE(text.find("TLS Web Client Authentication, TLS Web Server Authentication"),
            std::string::npos)
      << text;
  EXPECT_EQ(Verify(pki().ca().cert, odd->cert).exit_status, 0);

  Result<CertKey> no_eku = pki().IssueClient("no-eku", {"extendedKeyUsage ="});
  ASSERT_TRUE(no_eku.ok()) << no_eku.error();
  EXPECT_EQ(Text(no_eku->cert).find("Extended Key Usage"), std::string::npos);

  // Same name again: new files, and the first ones stay.
  Result<CertKey> again = pki().IssueClient("no-eku");
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_NE(again->cert, no_eku->cert);

  TestPki::IssueOptions options;
  options.issuer = TestPki::Issuer::kOtherCa;
  options.subject = "/O=Team/CN=rsa-client";
  options.key_type = "rsa";
  Result<CertKey> rsa = pki().IssueClient("rsa-client", {}, options);
  ASSERT_TRUE(rsa.ok()) << rsa.error();
  std::string rsa_text = Text(rsa->cert);
  EXPECT_NE(rsa_text.find("rsaEncryption"), std::string::npos);
  EXPECT_EQ(Verify(pki().other_ca().cert, rsa->cert).exit_status, 0);

  EXPECT_FALSE(pki().IssueClient("bad/name").ok());
  EXPECT_FALSE(pki().IssueClient("bad-ext", {"no equals sign"}).ok());
}

TEST_F(TestPkiTest, RevokesOnDemand) {
  Result<CertKey> victim = pki().IssueClient("victim");
  ASSERT_TRUE(victim.ok()) << victim.error();
  TempDir dir;
  std::string crl = dir.File("crl.pem");
  ASSERT_TRUE(pki().RevokeAndWriteCrl(victim->cert, crl).ok());
  CommandResult r = Verify(pki().ca().cert, victim->cert, {"-crl_check", "-CRLfile", crl});
  EXPECT_NE(r.out.find("error 23 "), std::string::npos) << r.out;
}

TEST(TestPki, OpensslDateHasTheCaFormat) {
  std::string d = TestPki::OpensslDate(0);
  ASSERT_EQ(d.size(), 13u) << d;
  EXPECT_EQ(d.back(), 'Z');
  EXPECT_LT(TestPki::OpensslDate(-86400), d);
  EXPECT_GT(TestPki::OpensslDate(86400), d);
}

}  // namespace
}  // namespace portcullis::testing
