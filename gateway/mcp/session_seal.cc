#include "gateway/mcp/session_seal.h"

#include <sys/random.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <cstring>

namespace portcullis::mcp {
namespace {

constexpr size_t kIvSize = 12;
constexpr size_t kTagSize = 16;
constexpr unsigned char kVersion = 1;
constexpr size_t kMaxSessionIdBytes = 1024;  // MCP ids are short; bound what we decrypt

bool RandomBytes(unsigned char* out, size_t len) {
  while (len > 0) {
    ssize_t n = getrandom(out, len, 0);
    if (n <= 0) return false;
    out += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(const unsigned char* data, size_t len) {
  std::string out;
  out.reserve((len + 2) / 3 * 4);
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = data[i] << 16;
    if (i + 1 < len) v |= data[i + 1] << 8;
    if (i + 2 < len) v |= data[i + 2];
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    if (i + 1 < len) out.push_back(kAlphabet[(v >> 6) & 63]);
    if (i + 2 < len) out.push_back(kAlphabet[v & 63]);
  }
  return out;
}

std::optional<std::string> FromBase64Url(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Unused low bits must be zero: otherwise several spellings would open to one session.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

void IdentityDigest(const Identity& identity, unsigned char out[WC_SHA256_DIGEST_SIZE]) {
  std::string key = SessionIdentityKey(identity);
  wc_Sha256Hash(reinterpret_cast<const unsigned char*>(key.data()),
                static_cast<word32>(key.size()), out);
}

// One AES-GCM operation with a key schedule of its own: an Aes object is not safe to share
// between reactor threads, and setting the key costs about a microsecond.
bool Crypt(bool encrypt, const unsigned char* key, const unsigned char* iv,
           const unsigned char* in, size_t len, unsigned char* out, unsigned char* tag) {
  Aes aes;
  if (wc_AesInit(&aes, nullptr, INVALID_DEVID) != 0) return false;
  bool ok = wc_AesGcmSetKey(&aes, key, SessionSealer::kKeySize) == 0;
  if (ok) {
    ok = (encrypt ? wc_AesGcmEncrypt(&aes, out, in, static_cast<word32>(len), iv, kIvSize, tag,
                                     kTagSize, nullptr, 0)
                  : wc_AesGcmDecrypt(&aes, out, in, static_cast<word32>(len), iv, kIvSize, tag,
                                     kTagSize, nullptr, 0)) == 0;
  }
  wc_AesFree(&aes);
  return ok;
}

}  // namespace

std::string SessionIdentityKey(const Identity& identity) {
  if (!identity.spiffe_id.empty()) return identity.spiffe_id;
  return identity.subject + "\n" + identity.issuer;
}

Result<SessionSealer> SessionSealer::CreateRandom() {
  std::array<unsigned char, kKeySize> key;
  if (!RandomBytes(key.data(), key.size())) {
    return Status::Error("getrandom failed: cannot make a session sealing key");
  }
  return SessionSealer(key);
}

Result<std::string> SessionSealer::Seal(const Identity& identity, std::string_view upstream,
                                        std::string_view upstream_session_id) const {
  if (upstream.size() > 255 || upstream_session_id.size() > kMaxSessionIdBytes) {
    return Status::Error("session id or upstream name too long to seal");
  }
  // plaintext = version | sha256(identity key) | len(upstream) | upstream | upstream id
  std::string plain;
  plain.push_back(static_cast<char>(kVersion));
  unsigned char digest[WC_SHA256_DIGEST_SIZE];
  IdentityDigest(identity, digest);
  plain.append(reinterpret_cast<const char*>(digest), sizeof(digest));
  plain.push_back(static_cast<char>(upstream.size()));
  plain.append(upstream);
  plain.append(upstream_session_id);

  std::string sealed(kIvSize + plain.size() + kTagSize, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(sealed.data());
  if (!RandomBytes(bytes, kIvSize)) return Status::Error("getrandom failed");
  if (!Crypt(true, key_.data(), bytes, reinterpret_cast<const unsigned char*>(plain.data()),
             plain.size(), bytes + kIvSize, bytes + kIvSize + plain.size())) {
    return Status::Error("AES-GCM seal failed");
  }
  return Base64Url(bytes, sealed.size());
}

std::optional<SessionSealer::Opened> SessionSealer::Open(const Identity& identity,
                                                         std::string_view sealed) const {
  constexpr size_t kMinPlain = 1 + WC_SHA256_DIGEST_SIZE + 1;
  if (sealed.size() > 4 * (kIvSize + kTagSize + kMinPlain + 255 + kMaxSessionIdBytes) / 3 + 4) {
    return std::nullopt;
  }
  std::optional<std::string> raw = FromBase64Url(sealed);
  if (!raw || raw->size() < kIvSize + kMinPlain + kTagSize) return std::nullopt;
  auto* bytes = reinterpret_cast<const unsigned char*>(raw->data());
  size_t plain_len = raw->size() - kIvSize - kTagSize;
  std::string plain(plain_len, '\0');
  auto* tag = const_cast<unsigned char*>(bytes + kIvSize + plain_len);
  if (!Crypt(false, key_.data(), bytes, bytes + kIvSize, plain_len,
             reinterpret_cast<unsigned char*>(plain.data()), tag)) {
    return std::nullopt;
  }
  if (static_cast<unsigned char>(plain[0]) != kVersion) return std::nullopt;
  size_t upstream_len = static_cast<unsigned char>(plain[1 + WC_SHA256_DIGEST_SIZE]);
  if (kMinPlain + upstream_len > plain.size()) return std::nullopt;
  unsigned char digest[WC_SHA256_DIGEST_SIZE];
  IdentityDigest(identity, digest);
  Opened opened;
  opened.same_identity = std::memcmp(digest, plain.data() + 1, sizeof(digest)) == 0;
  opened.upstream = plain.substr(kMinPlain, upstream_len);
  opened.upstream_session_id = plain.substr(kMinPlain + upstream_len);
  return opened;
}

}  // namespace portcullis::mcp
