#include "gateway/admin/certificate_info.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <ctime>
#include <fstream>
#include <string_view>

#include "gateway/tls/identity_extractor.h"
#include "gateway/tls/tls_context.h"

namespace portcullis::admin {
namespace {

// A CA bundle or a CRL is kilobytes to a few megabytes; these only bound a file that is not
// what it claims to be.
constexpr size_t kMaxFileBytes = 16u << 20;
constexpr size_t kMaxBlocks = 1000;

constexpr std::string_view kBeginCertificate = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kEndCertificate = "-----END CERTIFICATE-----";
constexpr std::string_view kBeginCrl = "-----BEGIN X509 CRL-----";
constexpr std::string_view kEndCrl = "-----END X509 CRL-----";

Result<std::string> ReadBounded(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::Error(path + ": cannot be read");
  }
  std::string text;
  text.resize(kMaxFileBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxFileBytes) {
    return Status::Error(path + ": larger than a certificate file can be");
  }
  return text;
}

// The PEM blocks between `begin` and `end` markers (markers included), at most kMaxBlocks.
std::vector<std::string_view> PemBlocks(std::string_view text, std::string_view begin,
                                        std::string_view end) {
  std::vector<std::string_view> blocks;
  size_t pos = 0;
  while (blocks.size() < kMaxBlocks) {
    size_t from = text.find(begin, pos);
    if (from == std::string_view::npos) {
      break;
    }
    size_t to = text.find(end, from);
    if (to == std::string_view::npos) {
      break;
    }
    to += end.size();
    blocks.push_back(text.substr(from, to - from));
    pos = to;
  }
  return blocks;
}

// A name in the one-line form tls::ExtractIdentity gives subjects ("CN=Issuing CA,O=Example":
// RFC 4514 order and escaping), so that a CRL's issuer reads like its CA's subject.
std::string OneLineName(WOLFSSL_X509_NAME* name) {
  std::string out;
  int count = name ? wolfSSL_X509_NAME_entry_count(name) : 0;
  for (int i = count - 1; i >= 0; --i) {
    WOLFSSL_X509_NAME_ENTRY* entry = wolfSSL_X509_NAME_get_entry(name, i);
    if (!entry) {
      continue;
    }
    WOLFSSL_ASN1_STRING* data = wolfSSL_X509_NAME_ENTRY_get_data(entry);
    const unsigned char* bytes = data ? wolfSSL_ASN1_STRING_data(data) : nullptr;
    int length = data ? wolfSSL_ASN1_STRING_length(data) : 0;
    std::string_view value(reinterpret_cast<const char*>(bytes), bytes && length > 0 ? length : 0);
    int nid = wolfSSL_OBJ_obj2nid(wolfSSL_X509_NAME_ENTRY_get_object(entry));
    const char* short_name = wolfSSL_OBJ_nid2sn(nid);
    if (!out.empty()) {
      out += ',';
    }
    out += short_name ? short_name : "OID" + std::to_string(nid);
    out += '=';
    for (size_t k = 0; k < value.size(); ++k) {
      char c = value[k];
      if (c == '\0') {
        out += "\\00";  // RFC 4514 §2.4: a NUL only as hex
        continue;
      }
      bool special = c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' ||
                     c == ';' || c == '=' || (k == 0 && (c == ' ' || c == '#')) ||
                     (k + 1 == value.size() && c == ' ');
      if (special) {
        out += '\\';
      }
      out += c;
    }
  }
  return out;
}

std::optional<int64_t> UnixTime(const WOLFSSL_ASN1_TIME* t) {
  struct tm tm = {};
  if (!t || wolfSSL_ASN1_TIME_to_tm(t, &tm) != WOLFSSL_SUCCESS) {
    return std::nullopt;
  }
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

Result<std::vector<CertificateInfo>> ReadCertificateFile(const std::string& path) {
  tls::InitLibrary();
  Result<std::string> text = ReadBounded(path);
  if (!text.ok()) {
    return text.status();
  }
  std::vector<CertificateInfo> out;
  for (std::string_view block : PemBlocks(*text, kBeginCertificate, kEndCertificate)) {
    WOLFSSL_X509* x509 =
        wolfSSL_X509_load_certificate_buffer(reinterpret_cast<const unsigned char*>(block.data()),
                                             static_cast<int>(block.size()), WOLFSSL_FILETYPE_PEM);
    if (x509 == nullptr) {
      continue;  // not ours to judge here: the TLS context refuses a broken file at load
    }
    Result<Identity> identity = tls::ExtractIdentity(x509);
    wolfSSL_X509_free(x509);
    if (!identity.ok()) {
      continue;
    }
    out.push_back({path, identity->subject, identity->serial_hex, identity->not_after});
  }
  if (out.empty()) {
    return Status::Error(path + ": no PEM certificate found");
  }
  return out;
}

Result<std::vector<CrlInfo>> ReadCrlFile(const std::string& path) {
  tls::InitLibrary();
  Result<std::string> text = ReadBounded(path);
  if (!text.ok()) {
    return text.status();
  }
  std::vector<CrlInfo> out;
  for (std::string_view block : PemBlocks(*text, kBeginCrl, kEndCrl)) {
    // wolfSSL's own parser (OPENSSL_EXTRA and HAVE_CRL are on in Debian's build). It checks
    // neither the signature nor the dates here, so a stale CRL still reads.
    WOLFSSL_BIO* bio = wolfSSL_BIO_new_mem_buf(block.data(), static_cast<int>(block.size()));
    if (bio == nullptr) {
      continue;
    }
    WOLFSSL_X509_CRL* crl = wolfSSL_PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr);
    wolfSSL_BIO_free(bio);
    if (crl == nullptr) {
      continue;  // as above: loading the TLS context reports a broken CRL
    }
    out.push_back({path, OneLineName(wolfSSL_X509_CRL_get_issuer_name(crl)),
                   UnixTime(wolfSSL_X509_CRL_get_nextUpdate(crl))});
    wolfSSL_X509_CRL_free(crl);
  }
  if (out.empty()) {
    return Status::Error(path + ": no PEM CRL found");
  }
  return out;
}

}  // namespace portcullis::admin
