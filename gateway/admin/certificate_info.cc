#include "gateway/admin/certificate_info.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <fstream>

#include "gateway/tls/identity_extractor.h"
#include "gateway/tls/tls_context.h"

namespace portcullis::admin {
namespace {

// A CA bundle is kilobytes; these only bound a file that is not what it claims to be.
constexpr size_t kMaxFileBytes = 16u << 20;
constexpr size_t kMaxCertificates = 1000;

constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kEnd = "-----END CERTIFICATE-----";

}  // namespace

Result<std::vector<CertificateInfo>> ReadCertificateFile(const std::string& path) {
  tls::InitLibrary();
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
  std::vector<CertificateInfo> out;
  size_t pos = 0;
  while (out.size() < kMaxCertificates) {
    size_t begin = text.find(kBegin, pos);
    if (begin == std::string::npos) {
      break;
    }
    size_t end = text.find(kEnd, begin);
    if (end == std::string::npos) {
      break;
    }
    end += kEnd.size();
    pos = end;
    WOLFSSL_X509* x509 = wolfSSL_X509_load_certificate_buffer(
        reinterpret_cast<const unsigned char*>(text.data() + begin), static_cast<int>(end - begin),
        WOLFSSL_FILETYPE_PEM);
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

}  // namespace portcullis::admin
