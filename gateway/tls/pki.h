// Dev PKI: a CA, server and client certificates for development, demos and tests, made with
// wolfCrypt's certificate generator (no openssl CLI needed at run time).
//
// Two layers. The in-memory one (CreateCertificate) turns a CertRequest into a PEM certificate
// and key, signed by a given issuer or self-signed; tests use it to mint exactly the certificate
// they need (expired, wrong EKU, unknown CA, ...). The file one (InitPki, IssueCert) is what
// `portcullis pki init|issue` runs: it reads and writes DIR/ca.{crt,key} and friends, keys with
// mode 0600. Profiles follow what browsers and OpenSSL expect of a small private CA:
// X.509 v3, random positive 16-byte serial, notBefore backdated one hour for clock skew, subject
// "O=Portcullis Dev, CN=...", SKI everywhere, AKI on issued certificates.
//
// Stateless functions; each call uses its own RNG, so calls from several threads are safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "portcullis/result.h"

namespace portcullis::pki {

enum class KeyType {
  kEcdsaP256,  // signs with ecdsa-with-SHA256; the default: small and fast to handshake
  kRsa2048,    // signs with sha256WithRSAEncryption
};

enum class CertProfile {
  kClient,  // CA:FALSE, digitalSignature (+keyEncipherment for RSA), EKU clientAuth
  kServer,  // the same with EKU serverAuth
  kCa,      // CA:TRUE (critical), keyCertSign + cRLSign
};

inline constexpr int kDefaultLeafDays = 365;
inline constexpr int kDefaultCaDays = 3650;
inline constexpr int kMaxDays = 3650;
inline constexpr char kOrganization[] = "Portcullis Dev";
inline constexpr char kDefaultCaCommonName[] = "Portcullis Dev CA";

struct CertRequest {
  std::string common_name;                // required: 1..63 bytes of UTF-8, no control characters
  std::vector<std::string> dns_names;     // "localhost", "*.example.org"
  std::vector<std::string> uris;          // "spiffe://portcullis.local/client"
  std::vector<std::string> ip_addresses;  // "127.0.0.1", "::1"
  std::vector<std::string> emails;        // "ops@example.org"
  int days = kDefaultLeafDays;            // 1..kMaxDays, counted from now
  CertProfile profile = CertProfile::kClient;
  KeyType key_type = KeyType::kEcdsaP256;
  // For tests that need expired or not-yet-valid certificates: explicit bounds in seconds since
  // the Unix epoch. Both or neither; when set they replace `days` and the one-hour backdating.
  std::optional<int64_t> not_before;
  std::optional<int64_t> not_after;
};

// A certificate with its private key, both PEM. Keys are SEC1 ("EC PRIVATE KEY") or PKCS#1
// ("RSA PRIVATE KEY"); loaders here also accept unencrypted PKCS#8 ("PRIVATE KEY").
struct Credential {
  std::string cert_pem;
  std::string key_pem;
};

// Checks a request without generating anything; the error names the offending field.
Status ValidateRequest(const CertRequest& request);

// Generates a key and a certificate for `request`. With `issuer` null the certificate is
// self-signed (a root CA when the profile is kCa); otherwise it is signed by issuer's key,
// which may be of either key type, and carries issuer's subject and key identifier.
Result<Credential> CreateCertificate(const CertRequest& request, const Credential* issuer);

struct InitOptions {
  std::string out_dir;  // created (with parents) if missing
  KeyType key_type = KeyType::kEcdsaP256;
  bool force = false;  // overwrite an existing ca.key (and everything else)
};

// Writes out_dir/{ca,server,client}.{crt,key}. The server certificate names localhost,
// 127.0.0.1 and ::1; the client certificate is CN "client" with URI SAN
// spiffe://portcullis.local/client. Refuses to touch an existing ca.key unless force is set.
// Returns the paths written, in order.
Result<std::vector<std::string>> InitPki(const InitOptions& options);

struct IssueOptions {
  std::string ca_dir;     // holds ca.crt and ca.key
  std::string out_dir;    // created if missing
  std::string file_stem;  // output file names without extension; empty = the request's CN
  CertRequest request;
};

// Signs a new certificate with ca_dir/ca.{crt,key} and writes out_dir/STEM.{crt,key},
// replacing an earlier issue of the same name (re-issuing is how a key is rotated). A server
// request without any DNS or IP name gets its CN as DNS name when the CN is a host name.
// Returns the paths written.
Result<std::vector<std::string>> IssueCert(const IssueOptions& options);

}  // namespace portcullis::pki
