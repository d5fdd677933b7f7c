#include "gateway/tls/identity_extractor.h"

#include <arpa/inet.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/openssl/x509v3.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <ctime>
#include <string>
#include <vector>

namespace portcullis::tls {
namespace {

std::string Hex(const unsigned char* data, size_t len) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0xf]);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[WC_SHA256_DIGEST_SIZE];
  wc_Sha256Hash(reinterpret_cast<const unsigned char*>(data.data()),
                static_cast<word32>(data.size()), digest);
  return Hex(digest, sizeof(digest));
}

// The bytes of an ASN1 string, refusing embedded NULs.
Result<std::string> AsnText(WOLFSSL_ASN1_STRING* s, std::string_view what) {
  if (!s) return std::string();
  const unsigned char* data = wolfSSL_ASN1_STRING_data(s);
  int len = wolfSSL_ASN1_STRING_length(s);
  if (!data || len <= 0) return std::string();
  std::string text(reinterpret_cast<const char*>(data), static_cast<size_t>(len));
  if (text.find('\0') != std::string::npos) {
    return Status::Error(std::string(what) + " contains a NUL byte");
  }
  return text;
}

// RFC 4514 escaping of one attribute value.
void AppendEscaped(std::string* out, std::string_view value) {
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    bool special = c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' ||
                   c == ';' || c == '=' || (i == 0 && (c == ' ' || c == '#')) ||
                   (i + 1 == value.size() && c == ' ');
    if (special) out->push_back('\\');
    out->push_back(c);
  }
}

struct NameText {
  std::string one_line;  // "CN=agent-1,O=Example", most specific first (RFC 4514 order)
  std::string cn;        // the last CN in DER order (the most specific one)
};

Result<NameText> DescribeName(WOLFSSL_X509_NAME* name, std::string_view what) {
  NameText result;
  if (!name) return result;
  int count = wolfSSL_X509_NAME_entry_count(name);
  std::vector<std::string> parts;
  for (int i = 0; i < count; ++i) {
    WOLFSSL_X509_NAME_ENTRY* entry = wolfSSL_X509_NAME_get_entry(name, i);
    if (!entry) continue;
    int nid = wolfSSL_OBJ_obj2nid(wolfSSL_X509_NAME_ENTRY_get_object(entry));
    Result<std::string> value = AsnText(wolfSSL_X509_NAME_ENTRY_get_data(entry), what);
    if (!value.ok()) return value.status();
    const char* short_name = wolfSSL_OBJ_nid2sn(nid);
    std::string part = short_name ? short_name : "OID" + std::to_string(nid);
    part += '=';
    AppendEscaped(&part, *value);
    parts.push_back(std::move(part));
    if (nid == NID_commonName) result.cn = *value;
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (!result.one_line.empty()) result.one_line += ',';
    result.one_line += *it;
  }
  return result;
}

int64_t ToUnixTime(const WOLFSSL_ASN1_TIME* t) {
  struct tm tm = {};
  if (!t || wolfSSL_ASN1_TIME_to_tm(t, &tm) != WOLFSSL_SUCCESS) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

Status CollectSans(WOLFSSL_X509* leaf, Identity* id) {
  auto* names = static_cast<WOLFSSL_STACK*>(
      wolfSSL_X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return Status::Ok();
  Status status;
  int count = wolfSSL_sk_GENERAL_NAME_num(names);
  for (int i = 0; i < count && status.ok(); ++i) {
    WOLFSSL_GENERAL_NAME* gn = wolfSSL_sk_GENERAL_NAME_value(names, i);
    if (!gn) continue;
    Result<std::string> text = std::string();
    switch (gn->type) {
      case GEN_DNS:
        text = AsnText(gn->d.dNSName, "DNS SAN");
        if (text.ok()) id->dns_sans.push_back(*text);
        break;
      case GEN_URI:
        text = AsnText(gn->d.uniformResourceIdentifier, "URI SAN");
        if (text.ok()) id->uri_sans.push_back(*text);
        break;
      case GEN_EMAIL:
        text = AsnText(gn->d.rfc822Name, "email SAN");
        if (text.ok()) id->email_sans.push_back(*text);
        break;
      case GEN_IPADD: {
        WOLFSSL_ASN1_STRING* ip = gn->d.iPAddress;
        const unsigned char* bytes = ip ? wolfSSL_ASN1_STRING_data(ip) : nullptr;
        int len = ip ? wolfSSL_ASN1_STRING_length(ip) : 0;
        char buf[INET6_ADDRSTRLEN] = {};
        if (bytes && len == 4 && inet_ntop(AF_INET, bytes, buf, sizeof(buf))) {
          id->ip_sans.emplace_back(buf);
        } else if (bytes && len == 16 && inet_ntop(AF_INET6, bytes, buf, sizeof(buf))) {
          id->ip_sans.emplace_back(buf);
        }
        break;
      }
      default:
        break;  // other name types are not used for authorization
    }
    if (!text.ok()) status = text.status();
  }
  wolfSSL_sk_GENERAL_NAME_pop_free(names, wolfSSL_GENERAL_NAME_free);
  return status;
}

// A DER tag-length-value reader, just enough to find SubjectPublicKeyInfo.
struct Der {
  std::string_view in;
  // Reads one TLV; returns false if malformed. `whole` covers tag..end, `body` the contents.
  bool Next(unsigned char* tag, std::string_view* whole, std::string_view* body) {
    if (in.size() < 2) return false;
    *tag = static_cast<unsigned char>(in[0]);
    size_t len = static_cast<unsigned char>(in[1]);
    size_t header = 2;
    if (len & 0x80) {
      size_t octets = len & 0x7f;
      if (octets == 0 || octets > 4 || in.size() < 2 + octets) return false;
      len = 0;
      for (size_t i = 0; i < octets; ++i) len = (len << 8) | static_cast<unsigned char>(in[2 + i]);
      header += octets;
    }
    if (in.size() - header < len) return false;
    *whole = in.substr(0, header + len);
    *body = in.substr(header, len);
    in.remove_prefix(header + len);
    return true;
  }
};

}  // namespace

std::string_view FindSubjectPublicKeyInfo(std::string_view certificate_der) {
  unsigned char tag;
  std::string_view whole, body;
  Der cert{certificate_der};
  if (!cert.Next(&tag, &whole, &body) || tag != 0x30) return {};
  Der outer{body};
  if (!outer.Next(&tag, &whole, &body) || tag != 0x30) return {};  // tbsCertificate
  Der tbs{body};
  if (!tbs.Next(&tag, &whole, &body)) return {};
  if (tag == 0xa0 && !tbs.Next(&tag, &whole, &body)) return {};  // [0] version: skip it
  // serial (just read), signature, issuer, validity, subject, then SubjectPublicKeyInfo.
  for (int i = 0; i < 4; ++i) {
    if (!tbs.Next(&tag, &whole, &body)) return {};
  }
  if (!tbs.Next(&tag, &whole, &body) || tag != 0x30) return {};
  return whole;
}

Result<Identity> ExtractIdentity(WOLFSSL_X509* leaf) {
  if (!leaf) return Status::Error("no peer certificate");
  Identity id;

  Result<NameText> subject = DescribeName(wolfSSL_X509_get_subject_name(leaf), "subject");
  if (!subject.ok()) return subject.status();
  id.subject = subject->one_line;
  id.cn = subject->cn;
  Result<NameText> issuer = DescribeName(wolfSSL_X509_get_issuer_name(leaf), "issuer");
  if (!issuer.ok()) return issuer.status();
  id.issuer = issuer->one_line;

  unsigned char serial[64];
  int serial_len = sizeof(serial);
  if (wolfSSL_X509_get_serial_number(leaf, serial, &serial_len) == WOLFSSL_SUCCESS) {
    id.serial_hex = Hex(serial, static_cast<size_t>(serial_len));
  }

  if (Status s = CollectSans(leaf, &id); !s.ok()) return s;
  for (const std::string& uri : id.uri_sans) {
    if (uri.rfind("spiffe://", 0) == 0) {
      id.spiffe_id = uri;
      break;
    }
  }

  int der_len = 0;
  const unsigned char* der = wolfSSL_X509_get_der(leaf, &der_len);
  if (!der || der_len <= 0) return Status::Error("peer certificate has no DER encoding");
  std::string_view der_view(reinterpret_cast<const char*>(der), static_cast<size_t>(der_len));
  id.cert_sha256 = Sha256Hex(der_view);
  std::string_view spki = FindSubjectPublicKeyInfo(der_view);
  if (spki.empty()) return Status::Error("peer certificate: SubjectPublicKeyInfo not found");
  id.spki_sha256 = Sha256Hex(spki);

  id.not_before = ToUnixTime(wolfSSL_X509_get_notBefore(leaf));
  id.not_after = ToUnixTime(wolfSSL_X509_get_notAfter(leaf));
  return id;
}

}  // namespace portcullis::tls
