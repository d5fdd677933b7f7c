// SessionSealer (gateway/mcp/session_seal.h): the Mcp-Session-Id a client holds is the
// upstream's id, the upstream's name and the identity, sealed with AES-256-GCM. Round trips
// work; another identity opens it but is told it is not the same; anything not made by this
// key (tampered, truncated, extended, garbage, another key) does not open.
#include "gateway/mcp/session_seal.h"

#include <gtest/gtest.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <array>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "portcullis/identity.h"

namespace portcullis::mcp {
namespace {

using Key = std::array<unsigned char, SessionSealer::kKeySize>;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kUpstreamId[] = "0123456789abcdef0123456789abcdef";

Key FixedKey(unsigned char seed) {
  Key key;
  for (size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<unsigned char>(seed + 7 * i);
  }
  return key;
}

Identity WithSpiffe(const std::string& cn, const std::string& spiffe, char fingerprint) {
  Identity id;
  id.cn = cn;
  id.subject = "CN=" + cn + ",O=Example";
  id.issuer = "CN=Portcullis Test CA,O=Portcullis Test";
  id.spiffe_id = spiffe;
  if (!spiffe.empty()) {
    id.uri_sans = {spiffe};
  }
  id.cert_sha256 = std::string(64, fingerprint);
  id.spki_sha256 = std::string(64, fingerprint);
  return id;
}

Identity AgentOne() { return WithSpiffe("agent-1", "spiffe://example.org/ns/ci/sa/agent-1", 'a'); }
Identity AgentTwo() { return WithSpiffe("agent-2", "spiffe://example.org/ns/web/sa/agent-2", 'b'); }

// ---- base64url, for taking tokens apart in the tests -------------------------------------------

std::string Encode(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    if (i + 1 < bytes.size()) out.push_back(kAlphabet[(v >> 6) & 63]);
    if (i + 2 < bytes.size()) out.push_back(kAlphabet[v & 63]);
  }
  return out;
}

std::string Decode(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const char* p = std::char_traits<char>::find(kAlphabet, 64, c);
    EXPECT_NE(p, nullptr) << "not base64url: " << c;
    if (p == nullptr) return "";
    acc = (acc << 6) | static_cast<uint32_t>(p - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// A token made by hand with `key` around any plaintext: iv(12) | AES-256-GCM(plain) | tag(16),
// base64url; the layout session_seal.cc documents. Lets the tests reach the checks made after
// decryption (version, length of the upstream name) that no forged token could reach.
std::string SealRaw(const Key& key, std::string_view plain) {
  unsigned char iv[12];
  for (int i = 0; i < 12; ++i) iv[i] = static_cast<unsigned char>(i * 13 + 1);
  std::string out(reinterpret_cast<char*>(iv), sizeof(iv));
  std::string cipher(plain.size(), '\0');
  unsigned char tag[16];
  Aes aes;
  EXPECT_EQ(wc_AesInit(&aes, nullptr, INVALID_DEVID), 0);
  EXPECT_EQ(wc_AesGcmSetKey(&aes, key.data(), static_cast<word32>(key.size())), 0);
  EXPECT_EQ(wc_AesGcmEncrypt(&aes, reinterpret_cast<unsigned char*>(cipher.data()),
                             reinterpret_cast<const unsigned char*>(plain.data()),
                             static_cast<word32>(plain.size()), iv, sizeof(iv), tag, sizeof(tag),
                             nullptr, 0),
            0);
  wc_AesFree(&aes);
  return Encode(out + cipher + std::string(reinterpret_cast<char*>(tag), sizeof(tag)));
}

// version | sha256(identity key) | len(upstream) | upstream | upstream id
std::string Plain(unsigned char version, const Identity& identity, std::string_view upstream,
                  std::string_view upstream_id, int upstream_len = -1) {
  std::string key = SessionIdentityKey(identity);
  unsigned char digest[WC_SHA256_DIGEST_SIZE];
  wc_Sha256Hash(reinterpret_cast<const unsigned char*>(key.data()), static_cast<word32>(key.size()),
                digest);
  std::string plain(1, static_cast<char>(version));
  plain.append(reinterpret_cast<char*>(digest), sizeof(digest));
  plain.push_back(static_cast<char>(upstream_len < 0 ? upstream.size() : upstream_len));
  plain.append(upstream);
  plain.append(upstream_id);
  return plain;
}

class SessionSeal : public ::testing::Test {
 protected:
  std::string SealOk(const Identity& identity, std::string_view upstream,
                     std::string_view upstream_id) {
    Result<std::string> sealed = sealer_.Seal(identity, upstream, upstream_id);
    EXPECT_TRUE(sealed.ok()) << sealed.error();
    return sealed.ok() ? *sealed : "";
  }

  Key key_ = FixedKey(1);
  SessionSealer sealer_{key_};
};

// ---- Round trip ---------------------------------------------------------------------------------

TEST_F(SessionSeal, RoundTrip) {
  std::string sealed = SealOk(AgentOne(), "example", kUpstreamId);
  std::optional<SessionSealer::Opened> opened = sealer_.Open(AgentOne(), sealed);
  ASSERT_TRUE(opened.has_value());
  EXPECT_TRUE(opened->same_identity);
  EXPECT_EQ(opened->upstream, "example");
  EXPECT_EQ(opened->upstream_session_id, kUpstreamId);
}

TEST_F(SessionSeal, SealedIdHidesTheUpstreamIdAndIsAValidHeaderValue) {
  std::string sealed = SealOk(AgentOne(), "example", kUpstreamId);
  EXPECT_EQ(sealed.find(kUpstreamId), std::string::npos);
  EXPECT_EQ(sealed.find("example"), std::string::npos);
  // MCP transport spec: a session id contains only visible ASCII (0x21 to 0x7E); this one is
  // base64url without padding.
  EXPECT_EQ(sealed.find_first_not_of(kAlphabet), std::string::npos) << sealed;
  EXPECT_GT(sealed.size(), 60u);
}

TEST_F(SessionSeal, EverySealIsDifferentAndEachOpens) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string sealed = SealOk(AgentOne(), "example", kUpstreamId);
    EXPECT_TRUE(seen.insert(sealed).second) << "a fresh IV per seal: " << sealed;
    std::optional<SessionSealer::Opened> opened = sealer_.Open(AgentOne(), sealed);
    ASSERT_TRUE(opened.has_value());
    EXPECT_EQ(opened->upstream_session_id, kUpstreamId);
  }
}

TEST_F(SessionSeal, AnyBytesOfAnUpstreamIdRoundTrip) {
  const std::string odd("\0\xff\r\n\"\\ x", 9);
  for (const std::string& id : {std::string(), std::string("a"), odd, std::string(1024, 'z')}) {
    std::string sealed = SealOk(AgentOne(), "up", id);
    std::optional<SessionSealer::Opened> opened = sealer_.Open(AgentOne(), sealed);
    ASSERT_TRUE(opened.has_value()) << id.size();
    EXPECT_EQ(opened->upstream_session_id, id);
    EXPECT_EQ(opened->upstream, "up");
  }
}

TEST_F(SessionSeal, LongestUpstreamNameAndIdRoundTrip) {
  const std::string upstream(255, 'u');
  const std::string id(1024, 'i');
  std::string sealed = SealOk(AgentOne(), upstream, id);
  std::optional<SessionSealer::Opened> opened = sealer_.Open(AgentOne(), sealed);
  ASSERT_TRUE(opened.has_value()) << "sealed length " << sealed.size();
  EXPECT_EQ(opened->upstream, upstream);
  EXPECT_EQ(opened->upstream_session_id, id);
}

TEST_F(SessionSeal, TooLongUpstreamNameOrIdIsNotSealed) {
  EXPECT_FALSE(sealer_.Seal(AgentOne(), std::string(256, 'u'), "id").ok());
  EXPECT_FALSE(sealer_.Seal(AgentOne(), "up", std::string(1025, 'i')).ok());
}

TEST_F(SessionSeal, TheSealedUpstreamNameComesBack) {
  // The gateway compares it with the route's upstream (404 when they differ): an id of one
  // upstream is no key to another.
  std::string sealed = SealOk(AgentOne(), "billing", kUpstreamId);
  std::optional<SessionSealer::Opened> opened = sealer_.Open(AgentOne(), sealed);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->upstream, "billing");
  EXPECT_NE(opened->upstream, "example");
  // Names that are prefixes of each other stay apart (the name's length is sealed).
  std::string a = SealOk(AgentOne(), "ab", "c");
  std::string b = SealOk(AgentOne(), "a", "bc");
  EXPECT_EQ(sealer_.Open(AgentOne(), a)->upstream, "ab");
  EXPECT_EQ(sealer_.Open(AgentOne(), a)->upstream_session_id, "c");
  EXPECT_EQ(sealer_.Open(AgentOne(), b)->upstream, "a");
  EXPECT_EQ(sealer_.Open(AgentOne(), b)->upstream_session_id, "bc");
}

// ---- Identity binding ------------------------------------------------------------------------

TEST_F(SessionSeal, AnotherIdentityOpensButIsNotTheSame) {
  std::string sealed = SealOk(AgentOne(), "example", kUpstreamId);
  std::optional<SessionSealer::Opened> opened = sealer_.Open(AgentTwo(), sealed);
  ASSERT_TRUE(opened.has_value());
  EXPECT_FALSE(opened->same_identity);
  // And the other way round.
  sealed = SealOk(AgentTwo(), "example", kUpstreamId);
  EXPECT_TRUE(sealer_.Open(AgentTwo(), sealed)->same_identity);
  EXPECT_FALSE(sealer_.Open(AgentOne(), sealed)->same_identity);
}

TEST_F(SessionSeal, RenewedCertificateWithTheSameSpiffeIdIsTheSameIdentity) {
  std::string sealed = SealOk(AgentOne(), "example", kUpstreamId);
  Identity renewed = AgentOne();
  renewed.cert_sha256 = std::string(64, 'f');
  renewed.spki_sha256 = std::string(64, 'e');
  renewed.serial_hex = "01";
  renewed.subject = "CN=agent-1-renewed,O=Example";
  EXPECT_TRUE(sealer_.Open(renewed, sealed)->same_identity);
}

TEST_F(SessionSeal, SameCnWithAnotherSpiffeIdIsNotTheSameIdentity) {
  std::string sealed = SealOk(AgentOne(), "example", kUpstreamId);
  Identity impostor = AgentOne();
  impostor.spiffe_id = "spiffe://example.org/ns/other/sa/agent-1";
  impostor.uri_sans = {impostor.spiffe_id};
  EXPECT_FALSE(sealer_.Open(impostor, sealed)->same_identity);
}

TEST_F(SessionSeal, WithoutSpiffeIdSubjectAndIssuerDecide) {
  Identity plain = WithSpiffe("bob", "", 'a');
  std::string sealed = SealOk(plain, "example", kUpstreamId);
  Identity renewed = plain;
  renewed.cert_sha256 = std::string(64, '9');
  EXPECT_TRUE(sealer_.Open(renewed, sealed)->same_identity);
  Identity other_subject = plain;
  other_subject.subject = "CN=bob,O=Elsewhere";
  EXPECT_FALSE(sealer_.Open(other_subject, sealed)->same_identity);
  Identity other_issuer = plain;
  other_issuer.issuer = "CN=Other Test CA,O=Other Org";
  EXPECT_FALSE(sealer_.Open(other_issuer, sealed)->same_identity);
  // A SPIFFE identity whose SPIFFE ID reads like bob's subject is still someone else.
  Identity spiffe = WithSpiffe("bob", plain.subject, 'a');
  EXPECT_FALSE(sealer_.Open(spiffe, sealed)->same_identity);
}

TEST_F(SessionSeal, SessionIdentityKeyIsTheSpiffeIdOrSubjectAndIssuer) {
  EXPECT_EQ(SessionIdentityKey(AgentOne()), "spiffe://example.org/ns/ci/sa/agent-1");
  Identity plain = WithSpiffe("bob", "", 'a');
  EXPECT_EQ(SessionIdentityKey(plain), "CN=bob,O=Example\nCN=Portcullis Test CA,O=Portcullis Test");
}

// ---- Keys ---------------------------------------------------------------------------------------

TEST_F(SessionSeal, AnotherKeyDoesNotOpen) {
  std::string sealed = SealOk(AgentOne(), "example", kUpstreamId);
  SessionSealer other(FixedKey(2));
  EXPECT_FALSE(other.Open(AgentOne(), sealed).has_value());
  Key one_bit = key_;
  one_bit[31] ^= 0x01;
  EXPECT_FALSE(SessionSealer(one_bit).Open(AgentOne(), sealed).has_value());
}

TEST_F(SessionSeal, RandomKeysDifferAndOpenOnlyTheirOwn) {
  Result<SessionSealer> a = SessionSealer::CreateRandom();
  Result<SessionSealer> b = SessionSealer::CreateRandom();
  ASSERT_TRUE(a.ok()) << a.error();
  ASSERT_TRUE(b.ok()) << b.error();
  Result<std::string> sealed = a->Seal(AgentOne(), "example", kUpstreamId);
  ASSERT_TRUE(sealed.ok());
  EXPECT_TRUE(a->Open(AgentOne(), *sealed).has_value());
  EXPECT_FALSE(b->Open(AgentOne(), *sealed).has_value());
}

TEST_F(SessionSeal, SameKeyInAnotherSealerOpens) {
  // DESIGN §8: replicas sharing a sealing key serve each other's sessions.
  std::string sealed = SealOk(AgentOne(), "example", kUpstreamId);
  SessionSealer replica(key_);
  std::optional<SessionSealer::Opened> opened = replica.Open(AgentOne(), sealed);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->upstream_session_id, kUpstreamId);
}

// ---- Forgery: nothing else opens ------------------------------------------------------------

TEST_F(SessionSeal, EveryFlippedBitFailsToOpen) {
  std::string sealed = SealOk(AgentOne(), "example", kUpstreamId);
  std::string raw = Decode(sealed);
  ASSERT_EQ(Encode(raw), sealed);
  for (size_t i = 0; i < raw.size(); ++i) {
    for (unsigned char bit : {0x01, 0x80}) {
      std::string tampered = raw;
      tampered[i] = static_cast<char>(tampered[i] ^ bit);
      EXPECT_FALSE(sealer_.Open(AgentOne(), Encode(tampered)).has_value())
          << "byte " << i << " of " << raw.size() << " xor " << int(bit);
    }
  }
}

TEST_F(SessionSeal, TruncatedFailsToOpen) {
  std::string sealed = SealOk(AgentOne(), "example", kUpstreamId);
  for (size_t len = 0; len < sealed.size(); ++len) {
    EXPECT_FALSE(sealer_.Open(AgentOne(), sealed.substr(0, len)).has_value()) << len;
    EXPECT_FALSE(sealer_.Open(AgentOne(), sealed.substr(sealed.size() - len)).has_value()) << len;
  }
  // Whole bytes cut from the end of the decoded token (tag) or its start (IV).
  std::string raw = Decode(sealed);
  for (size_t cut = 1; cut < raw.size(); ++cut) {
    EXPECT_FALSE(sealer_.Open(AgentOne(), Encode(raw.substr(0, raw.size() - cut))).has_value());
    EXPECT_FALSE(sealer_.Open(AgentOne(), Encode(raw.substr(cut))).has_value());
  }
}

TEST_F(SessionSeal, ExtendedFailsToOpen) {
  std::string sealed = SealOk(AgentOne(), "example", kUpstreamId);
  for (const char* tail : {"A", "AA", "AAA", "AAAA", "-_-_", "="}) {
    EXPECT_FALSE(sealer_.Open(AgentOne(), sealed + tail).has_value()) << tail;
  }
  std::string raw = Decode(sealed);
  EXPECT_FALSE(sealer_.Open(AgentOne(), Encode(raw + std::string(1, '\0'))).has_value());
  EXPECT_FALSE(sealer_.Open(AgentOne(), Encode(std::string(1, '\0') + raw)).has_value());
}

TEST_F(SessionSeal, GarbageFailsToOpen) {
  const std::string sealed = SealOk(AgentOne(), "example", kUpstreamId);
  std::string standard_alphabet = sealed;  // '-' and '_' spelled as standard base64 would
  for (char& c : standard_alphabet) {
    c = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  for (const std::string& garbage :
       {std::string(), std::string("x"), std::string("garbage"), std::string(kUpstreamId),
        std::string("!!!!"), std::string("abc="), std::string("ab cd"), std::string("abcde"),
        std::string(100, 'A'), std::string(400, '_'), sealed + "==", " " + sealed, sealed + " ",
        std::string("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), std::string("AAAA\0AAAA", 9),
        std::string(100000, 'A')}) {
    EXPECT_FALSE(sealer_.Open(AgentOne(), garbage).has_value())
        << "\"" << garbage.substr(0, 80) << "\" (" << garbage.size() << " bytes)";
  }
  if (standard_alphabet != sealed) {
    EXPECT_FALSE(sealer_.Open(AgentOne(), standard_alphabet).has_value());
  }
}

// A token has exactly one spelling. Base64url leaves 2 or 4 bits of the last character unused
// when the byte count is not a multiple of 3; a decoder that ignores them accepts 4 or 16
// spellings of one token, so a "tampered" id opens as if untouched and any table or log keyed
// by the client's id sees several sessions where there is one.
TEST_F(SessionSeal, NonCanonicalSpellingDoesNotOpen) {
  int checked = 0;
  for (const std::string& id : {std::string(kUpstreamId), std::string(kUpstreamId) + "x",
                                std::string(kUpstreamId) + "xy"}) {
    std::string sealed = SealOk(AgentOne(), "example", id);
    if (Decode(sealed).size() % 3 == 0) {
      continue;  // no unused bits in this length
    }
    ++checked;
    char last = sealed.back();
    for (int v = 0; v < 64; ++v) {
      if (kAlphabet[v] == last) {
        continue;
      }
      std::string variant = sealed;
      variant.back() = kAlphabet[v];
      EXPECT_FALSE(sealer_.Open(AgentOne(), variant).has_value())
          << "last character '" << last << "' replaced by '" << kAlphabet[v]
          << "' still opens (token length " << sealed.size() << ")";
    }
  }
  EXPECT_GE(checked, 2);
}

TEST_F(SessionSeal, EveryOtherCharacterAtEachPositionFailsToOpen) {
  // Every position but the last (see NonCanonicalSpellingDoesNotOpen for that one).
  std::string sealed = SealOk(AgentOne(), "ex", "1");
  for (size_t i = 0; i + 1 < sealed.size(); ++i) {
    for (int v = 0; v < 64; ++v) {
      if (kAlphabet[v] == sealed[i]) {
        continue;
      }
      std::string variant = sealed;
      variant[i] = kAlphabet[v];
      ASSERT_FALSE(sealer_.Open(AgentOne(), variant).has_value())
          << "position " << i << " set to '" << kAlphabet[v] << "'";
    }
  }
}

// ---- Checks after decryption, reached with hand-made tokens under the real key --------------

TEST_F(SessionSeal, HandMadeTokenInTheDocumentedLayoutOpens) {
  // Proves SealRaw/Plain follow the layout, so the refusals below are refusals of one field.
  std::string token = SealRaw(key_, Plain(1, AgentOne(), "example", "abc"));
  std::optional<SessionSealer::Opened> opened = sealer_.Open(AgentOne(), token);
  ASSERT_TRUE(opened.has_value());
  EXPECT_TRUE(opened->same_identity);
  EXPECT_EQ(opened->upstream, "example");
  EXPECT_EQ(opened->upstream_session_id, "abc");
}

TEST_F(SessionSeal, OtherVersionDoesNotOpen) {
  for (unsigned char version : {0, 2, 255}) {
    std::string token = SealRaw(key_, Plain(version, AgentOne(), "example", "abc"));
    EXPECT_FALSE(sealer_.Open(AgentOne(), token).has_value()) << int(version);
  }
}

TEST_F(SessionSeal, UpstreamNameLongerThanThePlaintextDoesNotOpen) {
  // "example" + "abc" is 10 bytes after the length byte: a length of 11..255 runs past the end.
  for (int len : {11, 12, 100, 255}) {
    std::string token = SealRaw(key_, Plain(1, AgentOne(), "example", "abc", len));
    EXPECT_FALSE(sealer_.Open(AgentOne(), token).has_value()) << len;
  }
  // Exactly to the end: the whole rest is the name and the upstream id is empty.
  std::string token = SealRaw(key_, Plain(1, AgentOne(), "example", "abc", 10));
  std::optional<SessionSealer::Opened> opened = sealer_.Open(AgentOne(), token);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->upstream, "exampleabc");
  EXPECT_EQ(opened->upstream_session_id, "");
}

TEST_F(SessionSeal, PlaintextShorterThanItsHeaderDoesNotOpen) {
  std::string full = Plain(1, AgentOne(), "", "");  // version, digest, length: 34 bytes
  for (size_t len = 0; len < full.size(); ++len) {
    EXPECT_FALSE(sealer_.Open(AgentOne(), SealRaw(key_, full.substr(0, len))).has_value()) << len;
  }
  std::optional<SessionSealer::Opened> opened = sealer_.Open(AgentOne(), SealRaw(key_, full));
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->upstream, "");
  EXPECT_EQ(opened->upstream_session_id, "");
}

}  // namespace
}  // namespace portcullis::mcp
