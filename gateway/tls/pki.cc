#include "gateway/tls/pki.h"

// wolfSSL's headers change shape with its build options: options.h must come first.
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <string_view>
#include <utility>

#include "gateway/tls/cert_der.h"

namespace portcullis::pki {

namespace {

constexpr int kSerialBytes = 16;
// Backdating notBefore absorbs clock skew between the machine that issues and the peers that
// verify (a container whose clock lags by minutes would otherwise reject a fresh certificate).
constexpr int64_t kBackdateSeconds = 3600;
constexpr int64_t kSecondsPerDay = 86400;
// CertName fields are NUL-terminated char[CTC_NAME_SIZE]; RFC 5280's ub-common-name is 64.
constexpr size_t kMaxCommonName = CTC_NAME_SIZE - 1;
constexpr size_t kMaxUri = 2048;
constexpr char kServerCommonName[] = "localhost";
constexpr char kClientCommonName[] = "client";
constexpr char kClientSpiffeId[] = "spiffe://portcullis.local/client";
constexpr uint8_t kBasicConstraintsOid[] = {0x55, 0x1d, 0x13};  // 2.5.29.19

std::string WolfError(int code) {
  return std::string(wc_GetErrorString(code)) + " (" + std::to_string(code) + ")";
}

bool IsCleanUtf8(std::string_view s);

// The value in double quotes for an error message, with control characters (and, in invalid
// UTF-8, every non-ASCII byte) as \xNN so that nothing raw reaches the operator's terminal.
std::string Quoted(std::string_view s) {
  const bool escape_high = !IsCleanUtf8(s);
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || (escape_high && c >= 0x80)) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// ---------------------------------------------------------------------------------------------
// Input validation. Everything here ends up inside a certificate that other software parses,
// so we accept only what a careful verifier would accept and say exactly what is wrong.

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Valid UTF-8 without C0/C1 control characters or DEL.
bool IsCleanUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) {
        return false;
      }
      ++i;
      continue;
    }
    int extra;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) {
      return false;
    }
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3f);
    }
    static const uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
        (cp >= 0x80 && cp <= 0x9f)) {
      return false;  // overlong, out of range, surrogate, or a C1 control
    }
    i += extra + 1;
  }
  return true;
}

Status ValidateCommonName(const std::string& cn) {
  if (cn.empty()) {
    return Status::Error("common name is required and must not be empty");
  }
  if (cn.size() > kMaxCommonName) {
    return Status::Error("common name " + Quoted(cn) + " is longer than " +
                         std::to_string(kMaxCommonName) + " bytes");
  }
  if (!IsCleanUtf8(cn)) {
    return Status::Error("common name " + Quoted(cn) +
                         " must be UTF-8 without NUL or control characters");
  }
  if (cn.front() == ' ' || cn.back() == ' ') {
    return Status::Error("common name " + Quoted(cn) + " must not start or end with a space");
  }
  return Status::Ok();
}

// RFC 1034 §3.5 preferred name syntax (letters, digits, hyphens; labels of 1..63), plus a
// leading "*" label for wildcards (RFC 6125 §6.4.3), which needs two more labels after it.
bool IsDnsName(std::string_view name, bool allow_wildcard) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  size_t labels = 0;
  size_t start = 0;
  bool wildcard = false;
  while (start <= name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string_view::npos) {
      end = name.size();
    }
    const std::string_view label = name.substr(start, end - start);
    if (label.empty() || label.size() > 63) {
      return false;
    }
    if (label == "*" && labels == 0 && allow_wildcard) {
      wildcard = true;
    } else {
      if (label.front() == '-' || label.back() == '-') {
        return false;
      }
      for (char c : label) {
        if (!IsAsciiAlnum(c) && c != '-') {
          return false;
        }
      }
    }
    ++labels;
    start = end + 1;
  }
  return !wildcard || labels >= 3;
}

bool IsSpiffePart(std::string_view part, bool trust_domain) {
  if (part.empty()) {
    return false;
  }
  for (char c : part) {
    const bool lower_or_digit = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    const bool ok = trust_domain ? lower_or_digit : IsAsciiAlnum(c);
    if (!ok && c != '.' && c != '-' && c != '_') {
      return false;
    }
  }
  return trust_domain || (part != "." && part != "..");
}

Status ValidateUri(const std::string& uri) {
  const std::string bad = "URI " + Quoted(uri) + " ";
  if (uri.empty()) {
    return Status::Error("URI must not be empty");
  }
  if (uri.size() > kMaxUri) {
    return Status::Error(bad + "is longer than " + std::to_string(kMaxUri) + " bytes");
  }
  for (char c : uri) {
    if (c <= 0x20 || c >= 0x7f) {
      return Status::Error(bad + "must be printable ASCII without spaces (percent-encode)");
    }
  }
  // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ':'.
  const size_t colon = uri.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == uri.size() ||
      !((uri[0] >= 'a' && uri[0] <= 'z') || (uri[0] >= 'A' && uri[0] <= 'Z'))) {
    return Status::Error(bad + "needs a scheme, as in spiffe://trust.domain/path");
  }
  for (size_t i = 0; i < colon; ++i) {
    const char c = uri[i];
    if (!IsAsciiAlnum(c) && c != '+' && c != '-' && c != '.') {
      return Status::Error(bad + "has an invalid scheme");
    }
  }
  std::string scheme = uri.substr(0, colon);
  for (char& c : scheme) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (scheme != "spiffe") {
    return Status::Ok();
  }
  // SPIFFE ID spec §2: spiffe://<trust domain>[/<segment>]*, lower-case trust domain, segments
  // of [A-Za-z0-9._-] that are not "." or "..", no query, fragment, port or user info.
  const std::string_view prefix = "spiffe://";
  if (uri.compare(0, prefix.size(), prefix) != 0) {
    return Status::Error(bad + "is not a SPIFFE ID: it must start with spiffe:// (lower case)");
  }
  std::string_view rest = std::string_view(uri).substr(prefix.size());
  const size_t slash = rest.find('/');
  if (!IsSpiffePart(rest.substr(0, slash), true)) {
    return Status::Error(bad + "is not a SPIFFE ID: the trust domain must be non-empty " +
                         "[a-z0-9._-]");
  }
  if (slash != std::string_view::npos) {
    rest.remove_prefix(slash + 1);
    while (true) {
      const size_t next = rest.find('/');
      if (!IsSpiffePart(rest.substr(0, next), false)) {
        return Status::Error(bad + "is not a SPIFFE ID: path segments must be non-empty " +
                             "[A-Za-z0-9._-], not . or .., without a trailing slash");
      }
      if (next == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(next + 1);
    }
  }
  return Status::Ok();
}

Result<std::string> ParseIpAddress(const std::string& text) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
    return std::string(reinterpret_cast<char*>(buf), 4);
  }
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    return std::string(reinterpret_cast<char*>(buf), 16);
  }
  return Status::Error("IP address " + Quoted(text) + " is neither IPv4 nor IPv6");
}

Status ValidateEmail(const std::string& email) {
  const std::string bad = "email address " + Quoted(email) + " ";
  const size_t at = email.find('@');
  if (at == std::string::npos || at == 0 || email.find('@', at + 1) != std::string::npos) {
    return Status::Error(bad + "must have the form local@domain");
  }
  for (size_t i = 0; i < at; ++i) {
    if (email[i] <= 0x20 || email[i] >= 0x7f) {
      return Status::Error(bad + "must be printable ASCII without spaces");
    }
  }
  if (!IsDnsName(std::string_view(email).substr(at + 1), false)) {
    return Status::Error(bad + "has an invalid domain");
  }
  return Status::Ok();
}

// The request's names in certificate order (DNS, IP, URI, email), validated and converted.
Result<std::vector<GeneralName>> CollectNames(const CertRequest& request) {
  std::vector<GeneralName> names;
  for (const std::string& dns : request.dns_names) {
    if (!IsDnsName(dns, true)) {
      return Status::Error("DNS name " + Quoted(dns) +
                           " is not a host name (letters, digits, hyphens; labels of 1..63; an "
                           "optional leading *.)");
    }
    names.push_back({GeneralNameType::kDnsName, dns});
  }
  for (const std::string& ip : request.ip_addresses) {
    Result<std::string> raw = ParseIpAddress(ip);
    if (!raw.ok()) {
      return raw.status();
    }
    names.push_back({GeneralNameType::kIpAddress, std::move(raw.value())});
  }
  for (const std::string& uri : request.uris) {
    if (Status s = ValidateUri(uri); !s.ok()) {
      return s;
    }
    names.push_back({GeneralNameType::kUri, uri});
  }
  for (const std::string& email : request.emails) {
    if (Status s = ValidateEmail(email); !s.ok()) {
      return s;
    }
    names.push_back({GeneralNameType::kRfc822Name, email});
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// wolfCrypt objects with owners.

void Scrub(std::vector<uint8_t>* buf) { explicit_bzero(buf->data(), buf->size()); }

class Rng {
 public:
  Rng() { ok_ = wc_InitRng(&rng_) == 0; }
  ~Rng() {
    if (ok_) {
      wc_FreeRng(&rng_);
    }
  }
  Rng(const Rng&) = delete;
  Rng& operator=(const Rng&) = delete;

  bool ok() const { return ok_; }
  WC_RNG* get() { return &rng_; }

 private:
  WC_RNG rng_{};
  bool ok_ = false;
};

// An ECC or RSA private key. Not copyable: wolfCrypt keys hold pointers into themselves.
class PrivateKey {
 public:
  ~PrivateKey() {
    if (!initialized_) {
      return;
    }
    if (type_ == KeyType::kEcdsaP256) {
      wc_ecc_free(&ecc_);
    } else {
      wc_FreeRsaKey(&rsa_);
    }
  }
  PrivateKey(const PrivateKey&) = delete;
  PrivateKey& operator=(const PrivateKey&) = delete;

  static Result<std::unique_ptr<PrivateKey>> Generate(KeyType type, WC_RNG* rng) {
    std::unique_ptr<PrivateKey> key(new PrivateKey(type));
    if (Status s = key->Init(); !s.ok()) {
      return s;
    }
    int ret;
    if (type == KeyType::kEcdsaP256) {
      ret = wc_ecc_make_key_ex(rng, 32, &key->ecc_, ECC_SECP256R1);
    } else {
      ret = wc_MakeRsaKey(&key->rsa_, 2048, WC_RSA_EXPONENT, rng);
    }
    if (ret != 0) {
      return Status::Error("key generation failed: " + WolfError(ret));
    }
    return key;
  }

  // Accepts SEC1, PKCS#1 and unencrypted PKCS#8 PEM; the key type is found by trying both.
  static Result<std::unique_ptr<PrivateKey>> FromPem(const std::string& pem) {
    std::vector<uint8_t> der(pem.size());
    const int der_size =
        wc_KeyPemToDer(reinterpret_cast<const byte*>(pem.data()), static_cast<int>(pem.size()),
                       der.data(), static_cast<word32>(der.size()), nullptr);
    if (der_size <= 0) {
      return Status::Error("not a PEM private key (encrypted keys are not supported): " +
                           WolfError(der_size));
    }
    for (KeyType type : {KeyType::kEcdsaP256, KeyType::kRsa2048}) {
      std::unique_ptr<PrivateKey> key(new PrivateKey(type));
      if (Status s = key->Init(); !s.ok()) {
        Scrub(&der);
        return s;
      }
      word32 index = 0;
      const int ret = type == KeyType::kEcdsaP256
                          ? wc_EccPrivateKeyDecode(der.data(), &index, &key->ecc_, der_size)
                          : wc_RsaPrivateKeyDecode(der.data(), &index, &key->rsa_, der_size);
      if (ret == 0) {
        Scrub(&der);
        return key;
      }
    }
    Scrub(&der);
    return Status::Error("the private key is neither ECC nor RSA");
  }

  KeyType type() const { return type_; }
  // wolfCrypt's CertType for the *_ex certificate functions.
  int cert_key_type() const { return type_ == KeyType::kEcdsaP256 ? ECC_TYPE : RSA_TYPE; }
  int signature_type() const {
    return type_ == KeyType::kEcdsaP256 ? CTC_SHA256wECDSA : CTC_SHA256wRSA;
  }
  void* raw() { return type_ == KeyType::kEcdsaP256 ? static_cast<void*>(&ecc_) : &rsa_; }

  Result<std::string> ToPem() {
    std::vector<uint8_t> der(type_ == KeyType::kEcdsaP256 ? 512 : 4096);
    const int der_size = type_ == KeyType::kEcdsaP256
                             ? wc_EccKeyToDer(&ecc_, der.data(), der.size())
                             : wc_RsaKeyToDer(&rsa_, der.data(), der.size());
    if (der_size <= 0) {
      return Status::Error("cannot encode the private key: " + WolfError(der_size));
    }
    Result<std::string> pem = DerToPem(
        der.data(), der_size, type_ == KeyType::kEcdsaP256 ? ECC_PRIVATEKEY_TYPE : PRIVATEKEY_TYPE);
    Scrub(&der);
    return pem;
  }

  // The public key in the form wc_GetPubKeyDerFromCert gives for a certificate: the whole
  // SubjectPublicKeyInfo for ECC, the bare RSAPublicKey (PKCS#1) for RSA.
  Result<std::vector<uint8_t>> PublicKeyDer() {
    std::vector<uint8_t> der(type_ == KeyType::kEcdsaP256 ? 256 : 2048);
    const int size = type_ == KeyType::kEcdsaP256
                         ? wc_EccPublicKeyToDer(&ecc_, der.data(), der.size(), 1)
                         : wc_RsaKeyToPublicDer_ex(&rsa_, der.data(), der.size(), 0);
    if (size <= 0) {
      return Status::Error("cannot encode the public key: " + WolfError(size));
    }
    der.resize(size);
    return der;
  }

  static Result<std::string> DerToPem(const uint8_t* der, int der_size, int pem_type) {
    std::vector<uint8_t> pem(static_cast<size_t>(der_size) * 4 / 3 + 256);
    const int size = wc_DerToPem(der, der_size, pem.data(), pem.size(), pem_type);
    if (size <= 0) {
      return Status::Error("PEM encoding failed: " + WolfError(size));
    }
    std::string out(reinterpret_cast<char*>(pem.data()), size);
    explicit_bzero(pem.data(), pem.size());
    return out;
  }

 private:
  explicit PrivateKey(KeyType type) : type_(type) {}

  Status Init() {
    const int ret =
        type_ == KeyType::kEcdsaP256 ? wc_ecc_init(&ecc_) : wc_InitRsaKey(&rsa_, nullptr);
    if (ret != 0) {
      return Status::Error("cannot initialize a key: " + WolfError(ret));
    }
    initialized_ = true;
    return Status::Ok();
  }

  KeyType type_;
  bool initialized_ = false;
  ecc_key ecc_{};
  RsaKey rsa_{};
};

// An issuer ready to sign: its certificate in DER and its key.
struct Issuer {
  std::vector<uint8_t> cert_der;
  std::unique_ptr<PrivateKey> key;
};

Result<std::vector<uint8_t>> CertPemToDer(const std::string& pem) {
  std::vector<uint8_t> der(pem.size());
  const int size =
      wc_CertPemToDer(reinterpret_cast<const byte*>(pem.data()), static_cast<int>(pem.size()),
                      der.data(), static_cast<int>(der.size()), CERT_TYPE);
  if (size <= 0) {
    return Status::Error("not a PEM certificate: " + WolfError(size));
  }
  der.resize(size);
  return der;
}

// Parses the issuer and checks what would otherwise produce certificates that never verify:
// the certificate must be a CA and its public key must be the one of the private key. Errors
// name the certificate and the key as `cert_label` and `key_label` (file paths, when known).
Result<Issuer> LoadIssuer(const Credential& credential,
                          const std::string& cert_label = "CA certificate",
                          const std::string& key_label = "CA key") {
  Issuer issuer;
  Result<std::vector<uint8_t>> der = CertPemToDer(credential.cert_pem);
  if (!der.ok()) {
    return Status::Error(cert_label + ": " + der.error());
  }
  issuer.cert_der = std::move(der.value());
  Result<std::unique_ptr<PrivateKey>> key = PrivateKey::FromPem(credential.key_pem);
  if (!key.ok()) {
    return Status::Error(key_label + ": " + key.error());
  }
  issuer.key = std::move(key.value());

  DecodedCert decoded;
  wc_InitDecodedCert(&decoded, issuer.cert_der.data(), issuer.cert_der.size(), nullptr);
  int ret = wc_ParseCert(&decoded, CERT_TYPE, NO_VERIFY, nullptr);
  std::vector<uint8_t> cert_key(4096);
  word32 cert_key_size = cert_key.size();
  if (ret == 0) {
    ret = wc_GetPubKeyDerFromCert(&decoded, cert_key.data(), &cert_key_size);
  }
  const bool is_ca = decoded.isCA;
  wc_FreeDecodedCert(&decoded);
  if (ret != 0) {
    return Status::Error(cert_label + ": cannot be parsed: " + WolfError(ret));
  }
  if (!is_ca) {
    return Status::Error(cert_label + ": not a CA certificate (no basicConstraints CA:TRUE)");
  }
  cert_key.resize(cert_key_size);
  Result<std::vector<uint8_t>> key_der = issuer.key->PublicKeyDer();
  if (!key_der.ok()) {
    return key_der.status();
  }
  if (key_der.value() != cert_key) {
    return Status::Error(key_label + " does not belong to " + cert_label);
  }
  return issuer;
}

// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; always UTC with seconds.
Status EncodeTime(int64_t when, uint8_t* out, int* out_size) {
  const time_t t = static_cast<time_t>(when);
  struct tm tm;
  if (gmtime_r(&t, &tm) == nullptr) {
    return Status::Error("time out of range");
  }
  const int year = tm.tm_year + 1900;
  if (year < 1950 || year > 9999) {
    return Status::Error("validity year " + std::to_string(year) + " is out of range");
  }
  char text[32];
  int len;
  if (year < 2050) {
    len = std::snprintf(text, sizeof(text), "%02d%02d%02d%02d%02d%02dZ", year % 100, tm.tm_mon + 1,
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    out[0] = ASN_UTC_TIME;
  } else {
    len = std::snprintf(text, sizeof(text), "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1,
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    out[0] = ASN_GENERALIZED_TIME;
  }
  out[1] = static_cast<uint8_t>(len);
  std::memcpy(out + 2, text, len);
  *out_size = len + 2;
  return Status::Ok();
}

Status Check(int ret, const char* what) {
  if (ret < 0) {
    return Status::Error(std::string(what) + " failed: " + WolfError(ret));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Files.

Status MakeDirs(const std::string& path) {
  if (path.empty()) {
    return Status::Error("empty directory name");
  }
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') {
      continue;
    }
    const std::string prefix = path.substr(0, pos);
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::Error("cannot create directory " + prefix + ": " + std::strerror(errno));
    }
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::Error(path + " is not a directory");
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::Error("cannot read " + path + ": " + std::strerror(errno));
  }
  std::string data;
  char buf[4096];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int err = errno;
      close(fd);
      return Status::Error("cannot read " + path + ": " + std::strerror(err));
    }
    if (n == 0) {
      break;
    }
    data.append(buf, n);
    if (data.size() > (1 << 20)) {
      close(fd);
      return Status::Error(path + " is too large to be a certificate or key");
    }
  }
  close(fd);
  return data;
}

// Writes through a temporary file and rename(2), so a reader never sees half a file and a
// crash never leaves a truncated key. The mode is set with fchmod, independent of the umask.
Status WriteFileAtomically(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) {
    return Status::Error("cannot create " + path + ": " + std::strerror(errno));
  }
  auto fail = [&](const char* what) {
    const int err = errno;
    close(fd);
    unlink(tmp.c_str());
    return Status::Error(std::string("cannot ") + what + " " + path + ": " + std::strerror(err));
  };
  if (fchmod(fd, mode) != 0) {
    return fail("set the mode of");
  }
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return fail("write");
    }
    done += n;
  }
  if (fsync(fd) != 0) {
    return fail("sync");
  }
  if (close(fd) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return Status::Error("cannot write " + path + ": " + std::strerror(err));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return Status::Error("cannot write " + path + ": " + std::strerror(err));
  }
  return Status::Ok();
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') {
    return dir + name;
  }
  return dir + "/" + name;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// Writes NAME.crt (0644) and NAME.key (0600); appends both paths to *written.
Status WriteCredential(const std::string& dir, const std::string& stem,
                       const Credential& credential, std::vector<std::string>* written) {
  const std::string key_path = JoinPath(dir, stem + ".key");
  const std::string cert_path = JoinPath(dir, stem + ".crt");
  if (Status s = WriteFileAtomically(key_path, credential.key_pem, 0600); !s.ok()) {
    return s;
  }
  if (Status s = WriteFileAtomically(cert_path, credential.cert_pem, 0644); !s.ok()) {
    return s;
  }
  written->push_back(cert_path);
  written->push_back(key_path);
  return Status::Ok();
}

}  // namespace

Status ValidateRequest(const CertRequest& request) {
  if (Status s = ValidateCommonName(request.common_name); !s.ok()) {
    return s;
  }
  if (request.not_before.has_value() != request.not_after.has_value()) {
    return Status::Error("not_before and not_after must be given together");
  }
  if (request.not_before.has_value()) {
    if (*request.not_before >= *request.not_after) {
      return Status::Error("not_before must be earlier than not_after");
    }
  } else if (request.days < 1 || request.days > kMaxDays) {
    return Status::Error("validity must be between 1 and " + std::to_string(kMaxDays) +
                         " days, not " + std::to_string(request.days));
  }
  Result<std::vector<GeneralName>> names = CollectNames(request);
  if (!names.ok()) {
    return names.status();
  }
  if (EncodeGeneralNames(names.value()).size() > CTC_MAX_ALT_SIZE) {
    return Status::Error("too many subject alternative names (more than " +
                         std::to_string(CTC_MAX_ALT_SIZE) + " bytes)");
  }
  return Status::Ok();
}

Result<Credential> CreateCertificate(const CertRequest& request, const Credential* issuer) {
  if (Status s = ValidateRequest(request); !s.ok()) {
    return s;
  }
  Result<std::vector<GeneralName>> names = CollectNames(request);
  if (!names.ok()) {
    return names.status();
  }
  std::optional<Issuer> signer;
  if (issuer != nullptr) {
    Result<Issuer> loaded = LoadIssuer(*issuer);
    if (!loaded.ok()) {
      return loaded.status();
    }
    signer = std::move(loaded.value());
  }

  Rng rng;
  if (!rng.ok()) {
    return Status::Error("cannot initialize the random number generator");
  }
  Result<std::unique_ptr<PrivateKey>> generated = PrivateKey::Generate(request.key_type, rng.get());
  if (!generated.ok()) {
    return generated.status();
  }
  PrivateKey& key = *generated.value();
  PrivateKey& signing_key = signer ? *signer->key : key;

  // Cert embeds a 16 KiB altNames buffer: keep it off the stack.
  auto cert = std::make_unique<Cert>();
  if (Status s = Check(wc_InitCert(cert.get()), "wc_InitCert"); !s.ok()) {
    return s;
  }

  // RFC 5280 §4.1.2.2: positive, at most 20 octets; CA/Browser Forum asks for 64+ random bits.
  // Clearing the top bit keeps it positive without a pad byte; setting the next one keeps all
  // 16 octets significant, so every serial has the same length.
  if (Status s = Check(wc_RNG_GenerateBlock(rng.get(), cert->serial, kSerialBytes),
                       "wc_RNG_GenerateBlock");
      !s.ok()) {
    return s;
  }
  cert->serial[0] = static_cast<byte>((cert->serial[0] & 0x7f) | 0x40);
  cert->serialSz = kSerialBytes;

  std::snprintf(cert->subject.org, sizeof(cert->subject.org), "%s", kOrganization);
  std::snprintf(cert->subject.commonName, sizeof(cert->subject.commonName), "%s",
                request.common_name.c_str());

  int64_t not_before;
  int64_t not_after;
  if (request.not_before.has_value()) {
    not_before = *request.not_before;
    not_after = *request.not_after;
  } else {
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    not_before = now - kBackdateSeconds;
    not_after = now + static_cast<int64_t>(request.days) * kSecondsPerDay;
  }
  // Explicit dates (with WOLFSSL_ALT_NAMES) replace wolfSSL's own now..now+daysValid.
  if (Status s = EncodeTime(not_before, cert->beforeDate, &cert->beforeDateSz); !s.ok()) {
    return s;
  }
  if (Status s = EncodeTime(not_after, cert->afterDate, &cert->afterDateSz); !s.ok()) {
    return s;
  }

  const bool is_ca = request.profile == CertProfile::kCa;
  cert->isCA = is_ca ? 1 : 0;
  // Without this wolfSSL omits basicConstraints on leaves; RFC 5280 allows that, but an
  // explicit CA:FALSE is what verifiers and linters expect of an end-entity certificate.
  cert->basicConstSet = 1;
  const char* key_usage = "digitalSignature";
  if (is_ca) {
    key_usage = "keyCertSign,cRLSign";
  } else if (request.key_type == KeyType::kRsa2048) {
    key_usage = "digitalSignature,keyEncipherment";  // RSA key transport (TLS 1.2 RSA kx)
  }
  if (Status s = Check(wc_SetKeyUsage(cert.get(), key_usage), "wc_SetKeyUsage"); !s.ok()) {
    return s;
  }
  if (!is_ca) {
    const char* eku = request.profile == CertProfile::kServer ? "serverAuth" : "clientAuth";
    if (Status s = Check(wc_SetExtKeyUsage(cert.get(), eku), "wc_SetExtKeyUsage"); !s.ok()) {
      return s;
    }
  }
  if (Status s =
          Check(wc_SetSubjectKeyIdFromPublicKey_ex(cert.get(), key.cert_key_type(), key.raw()),
                "wc_SetSubjectKeyIdFromPublicKey_ex");
      !s.ok()) {
    return s;
  }
  if (signer) {
    const int der_size = static_cast<int>(signer->cert_der.size());
    if (Status s = Check(wc_SetIssuerBuffer(cert.get(), signer->cert_der.data(), der_size),
                         "wc_SetIssuerBuffer");
        !s.ok()) {
      return s;
    }
    // The AKI must equal the issuer's SKI (RFC 5280 §4.2.1.1); an issuer made elsewhere
    // without an SKI gets one computed from its key, which is how most CAs derive it.
    if (wc_SetAuthKeyIdFromCert(cert.get(), signer->cert_der.data(), der_size) != 0) {
      if (Status s = Check(wc_SetAuthKeyIdFromPublicKey_ex(cert.get(), signer->key->cert_key_type(),
                                                           signer->key->raw()),
                           "wc_SetAuthKeyIdFromPublicKey_ex");
          !s.ok()) {
        return s;
      }
    }
  } else {
    cert->selfSigned = 1;
    if (Status s =
            Check(wc_SetAuthKeyIdFromPublicKey_ex(cert.get(), key.cert_key_type(), key.raw()),
                  "wc_SetAuthKeyIdFromPublicKey_ex");
        !s.ok()) {
      return s;
    }
  }
  if (!names.value().empty()) {
    const std::vector<uint8_t> alt_names = EncodeGeneralNames(names.value());
    std::memcpy(cert->altNames, alt_names.data(), alt_names.size());
    cert->altNamesSz = static_cast<int>(alt_names.size());
  }
  cert->sigType = signing_key.signature_type();

  std::vector<uint8_t> der(static_cast<size_t>(cert->altNamesSz) + 8192);
  const int body_size =
      wc_MakeCert_ex(cert.get(), der.data(), der.size(), key.cert_key_type(), key.raw(), rng.get());
  if (Status s = Check(body_size, "wc_MakeCert_ex"); !s.ok()) {
    return s;
  }
  int tbs_size = body_size;
  if (is_ca) {
    Result<std::vector<uint8_t>> tbs = MarkExtensionCritical(
        std::vector<uint8_t>(der.begin(), der.begin() + body_size), kBasicConstraintsOid);
    if (!tbs.ok()) {
      return Status::Error("cannot mark basicConstraints critical: " + tbs.error());
    }
    std::copy(tbs.value().begin(), tbs.value().end(), der.begin());
    tbs_size = static_cast<int>(tbs.value().size());
  }
  const int der_size = wc_SignCert_ex(tbs_size, cert->sigType, der.data(), der.size(),
                                      signing_key.cert_key_type(), signing_key.raw(), rng.get());
  if (Status s = Check(der_size, "wc_SignCert_ex"); !s.ok()) {
    return s;
  }
#ifdef WOLFSSL_CERT_GEN_CACHE
  wc_SetCert_Free(cert.get());
#endif

  Credential out;
  Result<std::string> cert_pem = PrivateKey::DerToPem(der.data(), der_size, CERT_TYPE);
  if (!cert_pem.ok()) {
    return cert_pem.status();
  }
  out.cert_pem = std::move(cert_pem.value());
  Result<std::string> key_pem = key.ToPem();
  if (!key_pem.ok()) {
    return key_pem.status();
  }
  out.key_pem = std::move(key_pem.value());
  return out;
}

Result<std::vector<std::string>> InitPki(const InitOptions& options) {
  if (options.out_dir.empty()) {
    return Status::Error("an output directory is required");
  }
  const std::string ca_key_path = JoinPath(options.out_dir, "ca.key");
  if (!options.force && PathExists(ca_key_path)) {
    return Status::Error(ca_key_path +
                         " already exists; use --force to replace the CA (certificates it "
                         "issued will stop verifying)");
  }
  if (Status s = MakeDirs(options.out_dir); !s.ok()) {
    return s;
  }

  CertRequest ca_request;
  ca_request.common_name = kDefaultCaCommonName;
  ca_request.days = kDefaultCaDays;
  ca_request.profile = CertProfile::kCa;
  ca_request.key_type = options.key_type;
  Result<Credential> ca = CreateCertificate(ca_request, nullptr);
  if (!ca.ok()) {
    return Status::Error("CA: " + ca.error());
  }

  CertRequest server_request;
  server_request.common_name = kServerCommonName;
  server_request.dns_names = {kServerCommonName};
  server_request.ip_addresses = {"127.0.0.1", "::1"};
  server_request.profile = CertProfile::kServer;
  server_request.key_type = options.key_type;
  Result<Credential> server = CreateCertificate(server_request, &ca.value());
  if (!server.ok()) {
    return Status::Error("server certificate: " + server.error());
  }

  CertRequest client_request;
  client_request.common_name = kClientCommonName;
  client_request.uris = {kClientSpiffeId};
  client_request.profile = CertProfile::kClient;
  client_request.key_type = options.key_type;
  Result<Credential> client = CreateCertificate(client_request, &ca.value());
  if (!client.ok()) {
    return Status::Error("client certificate: " + client.error());
  }

  std::vector<std::string> written;
  // The CA goes last: should anything fail before, an existing CA is still whole.
  if (Status s = WriteCredential(options.out_dir, "server", server.value(), &written); !s.ok()) {
    return s;
  }
  if (Status s = WriteCredential(options.out_dir, "client", client.value(), &written); !s.ok()) {
    return s;
  }
  if (Status s = WriteCredential(options.out_dir, "ca", ca.value(), &written); !s.ok()) {
    return s;
  }
  return written;
}

Result<std::vector<std::string>> IssueCert(const IssueOptions& options) {
  if (options.ca_dir.empty()) {
    return Status::Error("a CA directory is required");
  }
  if (options.out_dir.empty()) {
    return Status::Error("an output directory is required");
  }
  if (Status s = ValidateRequest(options.request); !s.ok()) {
    return s;
  }
  const std::string stem =
      options.file_stem.empty() ? options.request.common_name : options.file_stem;
  if (stem.find('/') != std::string::npos || stem == "." || stem == ".." || stem[0] == '-' ||
      !IsCleanUtf8(stem)) {
    return Status::Error("cannot use " + Quoted(stem) + " as a file name; choose one with --name");
  }

  // Never let an issue named "ca" in the CA's own directory replace the CA.
  struct stat out_st;
  struct stat ca_st;
  if (stem == "ca" && stat(options.out_dir.c_str(), &out_st) == 0 &&
      stat(options.ca_dir.c_str(), &ca_st) == 0 && out_st.st_dev == ca_st.st_dev &&
      out_st.st_ino == ca_st.st_ino) {
    return Status::Error("writing ca.crt and ca.key into " + options.out_dir +
                         " would replace the CA; choose another --name or --out");
  }

  const std::string ca_cert_path = JoinPath(options.ca_dir, "ca.crt");
  const std::string ca_key_path = JoinPath(options.ca_dir, "ca.key");
  Credential ca;
  Result<std::string> ca_cert = ReadFile(ca_cert_path);
  if (!ca_cert.ok()) {
    return Status::Error(ca_cert.error() + " (create a CA with `portcullis pki init --out " +
                         options.ca_dir + "`)");
  }
  ca.cert_pem = std::move(ca_cert.value());
  Result<std::string> ca_key = ReadFile(ca_key_path);
  if (!ca_key.ok()) {
    return ca_key.status();
  }
  ca.key_pem = std::move(ca_key.value());

  // Checked here as well as in CreateCertificate so that errors can name the files.
  Result<Issuer> checked = LoadIssuer(ca, ca_cert_path, ca_key_path);
  if (!checked.ok()) {
    return checked.status();
  }
  // An expired CA would sign certificates that nobody accepts; say so now rather than at the
  // first handshake.
  {
    const std::vector<uint8_t>& der = checked.value().cert_der;
    auto dates = std::make_unique<Cert>();
    struct tm before;
    struct tm after;
    if (wc_InitCert(dates.get()) == 0 &&
        wc_SetDatesBuffer(dates.get(), der.data(), static_cast<int>(der.size())) == 0 &&
        wc_GetCertDates(dates.get(), &before, &after) == 0 && timegm(&after) < std::time(nullptr)) {
      return Status::Error(ca_cert_path + " has expired; create a new CA with pki init --force");
    }
  }

  CertRequest request = options.request;
  if (request.profile == CertProfile::kServer && request.dns_names.empty() &&
      request.ip_addresses.empty() && IsDnsName(request.common_name, true)) {
    // Clients match host names against SANs only (RFC 6125 §6.4.4 retired the CN fallback).
    request.dns_names.push_back(request.common_name);
  }

  Result<Credential> issued = CreateCertificate(request, &ca);
  if (!issued.ok()) {
    return issued.status();
  }

  if (Status s = MakeDirs(options.out_dir); !s.ok()) {
    return s;
  }
  std::vector<std::string> written;
  if (Status s = WriteCredential(options.out_dir, stem, issued.value(), &written); !s.ok()) {
    return s;
  }
  return written;
}

}  // namespace portcullis::pki
