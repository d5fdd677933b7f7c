// ReadCertificateFile and ReadCrlFile: subjects, serials and expiry of the configured
// certificates, issuers and next updates of the CRLs, read from PEM files made by the openssl CLI.
#include "gateway/admin/certificate_info.h"

#include <gtest/gtest.h>

#include <ctime>
#include <memory>

#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace portcullis::admin {
namespace {

using testing::SharedPki;
using testing::TempDir;
using testing::TestPki;

TEST(CertificateInfo, ReadsSubjectSerialAndExpiry) {
  ASSERT_TRUE(SharedPki().ok()) << SharedPki().error();
  Result<std::vector<CertificateInfo>> certs = ReadCertificateFile(SharedPki().client().cert);
  ASSERT_TRUE(certs.ok()) << certs.error();
  ASSERT_EQ(certs->size(), 1u);
  const CertificateInfo& c = (*certs)[0];
  EXPECT_EQ(c.file, SharedPki().client().cert);
  EXPECT_NE(c.subject.find("CN=agent-1"), std::string::npos) << c.subject;
  EXPECT_EQ(c.serial_hex, testing::kGoodClientSerialHex);
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  EXPECT_GT(c.not_after, now);
  EXPECT_LT(c.not_after, now + 400LL * 86400);  // issued for a year
}

TEST(CertificateInfo, ReadsEveryCertificateOfABundleInOrder) {
  ASSERT_TRUE(SharedPki().ok()) << SharedPki().error();
  TempDir dir("certinfo");
  std::string bundle = dir.Write("bundle.pem", "comment lines are allowed around PEM blocks\n" +
                                                   TempDir::ReadFile(SharedPki().ca().cert) +
                                                   TempDir::ReadFile(SharedPki().other_ca().cert));
  Result<std::vector<CertificateInfo>> certs = ReadCertificateFile(bundle);
  ASSERT_TRUE(certs.ok()) << certs.error();
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_NE((*certs)[0].subject.find("CN=Portcullis Test CA"), std::string::npos);
  EXPECT_NE((*certs)[1].subject.find("CN=Other Test CA"), std::string::npos);
}

TEST(CertificateInfo, AnExpiredCertificateHasNotAfterInThePast) {
  ASSERT_TRUE(SharedPki().ok()) << SharedPki().error();
  Result<std::vector<CertificateInfo>> certs =
      ReadCertificateFile(SharedPki().expired_client().cert);
  ASSERT_TRUE(certs.ok()) << certs.error();
  EXPECT_LT((*certs)[0].not_after, static_cast<int64_t>(std::time(nullptr)));
}

TEST(CertificateInfo, MissingOrEmptyFilesAreErrors) {
  TempDir dir("certinfo");
  EXPECT_FALSE(ReadCertificateFile(dir.File("absent.pem")).ok());
  EXPECT_FALSE(ReadCertificateFile(dir.Write("empty.pem", "")).ok());
  EXPECT_FALSE(ReadCertificateFile(dir.Write("junk.pem",
                                             "-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
                                             "-----END CERTIFICATE-----\n"))
                   .ok());
}

TEST(CrlInfo, ReadsIssuerAndNextUpdate) {
  ASSERT_TRUE(SharedPki().ok()) << SharedPki().error();
  Result<std::vector<CrlInfo>> crls = ReadCrlFile(SharedPki().crl());
  ASSERT_TRUE(crls.ok()) << crls.error();
  ASSERT_EQ(crls->size(), 1u);
  const CrlInfo& crl = (*crls)[0];
  EXPECT_EQ(crl.file, SharedPki().crl());
  // The same one-line form as a certificate's subject: the CA's own subject.
  Result<std::vector<CertificateInfo>> ca = ReadCertificateFile(SharedPki().ca().cert);
  ASSERT_TRUE(ca.ok()) << ca.error();
  EXPECT_EQ(crl.issuer, (*ca)[0].subject);
  EXPECT_EQ(crl.issuer, "CN=Portcullis Test CA,O=Portcullis Test");
  ASSERT_TRUE(crl.next_update.has_value());
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  EXPECT_GT(*crl.next_update, now);
  EXPECT_LT(*crl.next_update, now + 31LL * 86400);  // the test CA's default_crl_days = 30
}

TEST(CrlInfo, AStaleCrlStillReadsWithNextUpdateInThePastAndBundlesReadInOrder) {
  Result<std::unique_ptr<TestPki>> pki = TestPki::Create();
  ASSERT_TRUE(pki.ok()) << pki.error();
  TempDir dir("crlinfo");
  std::string stale = dir.File("stale.pem");
  Result<std::string> made =
      testing::RunOpenssl({"ca", "-config", (*pki)->dir() + "/ca/ca.cnf", "-gencrl",
                           "-crl_lastupdate", TestPki::OpensslDate(-10 * 86400), "-crl_nextupdate",
                           TestPki::OpensslDate(-86400), "-out", stale});
  ASSERT_TRUE(made.ok()) << made.error();
  std::string bundle = dir.Write("bundle.pem", TempDir::ReadFile(stale) + "between blocks\n" +
                                                   TempDir::ReadFile((*pki)->empty_crl()));
  Result<std::vector<CrlInfo>> crls = ReadCrlFile(bundle);
  ASSERT_TRUE(crls.ok()) << crls.error();
  ASSERT_EQ(crls->size(), 2u);
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  ASSERT_TRUE((*crls)[0].next_update.has_value());
  EXPECT_LT(*(*crls)[0].next_update, now - 86000);
  EXPECT_GT(*(*crls)[0].next_update, now - 87000);
  ASSERT_TRUE((*crls)[1].next_update.has_value());
  EXPECT_GT(*(*crls)[1].next_update, now);
}

TEST(CrlInfo, MissingEmptyOrCertificateOnlyFilesAreErrors) {
  ASSERT_TRUE(SharedPki().ok()) << SharedPki().error();
  TempDir dir("crlinfo");
  EXPECT_FALSE(ReadCrlFile(dir.File("absent.pem")).ok());
  EXPECT_FALSE(ReadCrlFile(dir.Write("empty.pem", "")).ok());
  EXPECT_FALSE(ReadCrlFile(SharedPki().ca().cert).ok());
  EXPECT_FALSE(ReadCrlFile(dir.Write("junk.pem",
                                     "-----BEGIN X509 CRL-----\nnot base64 at all\n"
                                     "-----END X509 CRL-----\n"))
                   .ok());
}

}  // namespace
}  // namespace portcullis::admin
