// The hand-made DER pieces, byte for byte (X.690 encodings, RFC 5280 structures).
#include "gateway/tls/cert_der.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace portcullis::pki {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes Length(size_t n) {
  Bytes out;
  AppendDerLength(n, &out);
  return out;
}

Bytes Tlv(uint8_t tag, const Bytes& content) {
  Bytes out = {tag};
  AppendDerLength(content.size(), &out);
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& part : parts) {
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

const Bytes kBasicConstraintsOid = {0x55, 0x1d, 0x13};
const Bytes kKeyUsageOid = {0x55, 0x1d, 0x0f};

Bytes Extension(const Bytes& oid, const Bytes& value, bool with_false_flag = false) {
  Bytes content = Tlv(0x06, oid);
  if (with_false_flag) {
    content = Cat({content, {0x01, 0x01, 0x00}});
  }
  return Tlv(0x30, Cat({content, Tlv(0x04, value)}));
}

// A TBSCertificate skeleton: version, serial, then whatever `middle` holds, then extensions.
Bytes Tbs(const Bytes& middle, const std::vector<Bytes>& extensions) {
  Bytes exts;
  for (const Bytes& e : extensions) {
    exts = Cat({exts, e});
  }
  return Tlv(
      0x30,
      Cat({Tlv(0xa0, {0x02, 0x01, 0x02}), {0x02, 0x01, 0x01}, middle, Tlv(0xa3, Tlv(0x30, exts))}));
}

const Bytes kCaTrue = {0x30, 0x03, 0x01, 0x01, 0xff};

TEST(SanDer, LengthsUseShortAndLongForms) {
  EXPECT_EQ(Length(0), (Bytes{0x00}));
  EXPECT_EQ(Length(127), (Bytes{0x7f}));
  EXPECT_EQ(Length(128), (Bytes{0x81, 0x80}));
  EXPECT_EQ(Length(255), (Bytes{0x81, 0xff}));
  EXPECT_EQ(Length(256), (Bytes{0x82, 0x01, 0x00}));
  EXPECT_EQ(Length(65535), (Bytes{0x82, 0xff, 0xff}));
  EXPECT_EQ(Length(65536), (Bytes{0x83, 0x01, 0x00, 0x00}));
}

TEST(SanDer, EachNameKindGetsItsContextTag) {
  const Bytes der = EncodeGeneralNames({
      {GeneralNameType::kDnsName, "a.b"},
      {GeneralNameType::kIpAddress, std::string("\x7f\x00\x00\x01", 4)},
      {GeneralNameType::kUri, "u:x"},
      {GeneralNameType::kRfc822Name, "a@b"},
  });
  const Bytes expected = {0x30, 21,                          //
                          0x82, 3,  'a',  '.',  'b',         // dNSName [2]
                          0x87, 4,  0x7f, 0x00, 0x00, 0x01,  // iPAddress [7]
                          0x86, 3,  'u',  ':',  'x',         // uniformResourceIdentifier [6]
                          0x81, 3,  'a',  '@',  'b'};        // rfc822Name [1]
  EXPECT_EQ(der, expected);
}

TEST(SanDer, LongNamesAndListsUseLongFormLengths) {
  const std::string uri = "spiffe://example.org/" + std::string(200, 'x');
  const Bytes der = EncodeGeneralNames({{GeneralNameType::kUri, uri}});
  // 0x86 0x81 0xd5 <213 bytes>, inside 0x30 0x81 0xd8.
  ASSERT_EQ(der.size(), 3u + 3u + uri.size());
  EXPECT_EQ(der[0], 0x30);
  EXPECT_EQ(der[1], 0x81);
  EXPECT_EQ(der[2], 3 + uri.size());
  EXPECT_EQ(der[3], 0x86);
  EXPECT_EQ(der[4], 0x81);
  EXPECT_EQ(der[5], uri.size());
  EXPECT_EQ(std::string(der.begin() + 6, der.end()), uri);
}

TEST(SanDer, EmptyListIsAnEmptySequence) { EXPECT_EQ(EncodeGeneralNames({}), (Bytes{0x30, 0x00})); }

TEST(PkiDerCritical, InsertsTheFlagAfterTheOid) {
  const Bytes tbs = Tbs({}, {Extension(kKeyUsageOid, {0x03, 0x02, 0x01, 0x06}),
                             Extension(kBasicConstraintsOid, kCaTrue)});
  Result<Bytes> out = MarkExtensionCritical(tbs, kBasicConstraintsOid);
  ASSERT_TRUE(out.ok()) << out.error();
  const Bytes critical_bc =
      Tlv(0x30, Cat({Tlv(0x06, kBasicConstraintsOid), {0x01, 0x01, 0xff}, Tlv(0x04, kCaTrue)}));
  const Bytes expected = Tbs({}, {Extension(kKeyUsageOid, {0x03, 0x02, 0x01, 0x06}), critical_bc});
  EXPECT_EQ(out.value(), expected);
  EXPECT_EQ(out->size(), tbs.size() + 3);
}

TEST(PkiDerCritical, ReencodesLengthsThatCrossIntoLongForm) {
  // Somewhere in this range the TBSCertificate's content grows from 127 bytes or less to 128
  // or more: its length switches from short to long form and must be re-encoded, not patched.
  for (size_t pad = 80; pad < 100; ++pad) {
    const Bytes middle = Tlv(0x30, Bytes(pad, 0x00));
    const Bytes tbs = Tbs(middle, {Extension(kBasicConstraintsOid, kCaTrue)});
    Result<Bytes> out = MarkExtensionCritical(tbs, kBasicConstraintsOid);
    ASSERT_TRUE(out.ok()) << out.error();
    const Bytes critical_bc =
        Tlv(0x30, Cat({Tlv(0x06, kBasicConstraintsOid), {0x01, 0x01, 0xff}, Tlv(0x04, kCaTrue)}));
    EXPECT_EQ(out.value(), Tbs(middle, {critical_bc})) << pad;
  }
}

TEST(PkiDerCritical, SetsAnExistingFalseFlagInsteadOfAddingOne) {
  const Bytes tbs = Tbs({}, {Extension(kBasicConstraintsOid, kCaTrue, true)});
  Result<Bytes> out = MarkExtensionCritical(tbs, kBasicConstraintsOid);
  ASSERT_TRUE(out.ok()) << out.error();
  const Bytes critical_bc =
      Tlv(0x30, Cat({Tlv(0x06, kBasicConstraintsOid), {0x01, 0x01, 0xff}, Tlv(0x04, kCaTrue)}));
  EXPECT_EQ(out.value(), Tbs({}, {critical_bc}));
}

TEST(PkiDerCritical, RejectsMissingExtensionsAndGarbage) {
  EXPECT_FALSE(
      MarkExtensionCritical(Tbs({}, {Extension(kKeyUsageOid, {0x05, 0x00})}), kBasicConstraintsOid)
          .ok());
  const Bytes no_extensions = Tlv(0x30, Tlv(0xa0, {0x02, 0x01, 0x02}));
  EXPECT_FALSE(MarkExtensionCritical(no_extensions, kBasicConstraintsOid).ok());
  EXPECT_FALSE(MarkExtensionCritical({}, kBasicConstraintsOid).ok());
  EXPECT_FALSE(MarkExtensionCritical({0x30, 0x05, 0x00}, kBasicConstraintsOid).ok());
  Bytes truncated = Tbs({}, {Extension(kBasicConstraintsOid, kCaTrue)});
  truncated.pop_back();
  EXPECT_FALSE(MarkExtensionCritical(truncated, kBasicConstraintsOid).ok());
  EXPECT_FALSE(
      MarkExtensionCritical({0x30, 0x84, 0xff, 0xff, 0xff, 0xff}, kBasicConstraintsOid).ok());
}

}  // namespace
}  // namespace portcullis::pki
