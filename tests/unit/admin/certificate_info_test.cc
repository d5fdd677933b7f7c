// ReadCertificateFile: subjects, serials and expiry of the configured certificates, read from
// PEM files made by the openssl CLI.
#include "gateway/admin/certificate_info.h"

#include <gtest/gtest.h>

#include <ctime>

#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace portcullis::admin {
namespace {

using testing::SharedPki;
using testing::TempDir;

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

}  // namespace
}  // namespace portcullis::admin
