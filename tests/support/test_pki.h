// TestPki: a throw-away certificate authority made with the openssl CLI at test time.
//
// Everything is ECDSA P-256 and lives in one TempDir. The CA and the "other CA" are real
// `openssl ca` databases, so tests can issue more certificates (IssueClient), revoke them and
// generate CRLs exactly as an operator would. Each openssl call runs with a bounded timeout and a
// failure carries the command's stderr. SharedPki() builds one instance per test binary on first
// use (about 20 openssl runs, well under a second); tests that need a PKI of their own call
// TestPki::Create(). Accessors are thread-safe (immutable after Create); IssueClient serialises
// itself on a mutex.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "portcullis/result.h"
#include "tests/support/temp_dir.h"

namespace portcullis::testing {

// Facts about the fixed certificates, for assertions on identities and audit records.
inline constexpr char kCaSubject[] = "/O=Portcullis Test/CN=Portcullis Test CA";
inline constexpr char kOtherCaSubject[] = "/O=Other Org/CN=Other Test CA";
inline constexpr char kGoodClientSubject[] = "/O=Example/CN=agent-1";
inline constexpr char kGoodClientCn[] = "agent-1";
inline constexpr char kGoodClientSpiffeId[] = "spiffe://example.org/ns/ci/sa/agent-1";
inline constexpr char kGoodClientDns[] = "agent-1.internal";
inline constexpr char kGoodClientEmail[] = "ops@example.org";
inline constexpr char kGoodClientSerialHex[] = "7e57c11e01";  // lower-case, no separators

// Paths of one PEM certificate and its unencrypted PKCS#8 PEM private key.
struct CertKey {
  std::string cert;
  std::string key;
};

enum class CertIssuer { kCa, kOtherCa };

// How TestPki::IssueClient makes a certificate. (At namespace scope: GCC rejects a nested struct
// with member initializers as a default argument inside its enclosing class.)
struct CertIssueOptions {
  CertIssuer issuer = CertIssuer::kCa;
  // Full openssl -subj; empty means "/O=Example/CN=<name>".
  std::string subject;
  // openssl ca dates, YYMMDDHHMMSSZ (see TestPki::OpensslDate). Empty start = now; empty end =
  // now + days.
  std::string start_date;
  std::string end_date;
  int days = 365;
  // Hex serial with an even number of digits; empty takes the CA's next serial.
  std::string serial_hex;
  // "ec" (P-256) or "rsa" (2048 bits).
  std::string key_type = "ec";
};

class TestPki {
 public:
  using Issuer = CertIssuer;
  using IssueOptions = CertIssueOptions;

  // Builds the whole PKI in a new TempDir. The error names the failing command and its stderr.
  static Result<std::unique_ptr<TestPki>> Create();

  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // False only for the placeholder SharedPki() returns when Create() failed.
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // The directory holding everything (CA databases under ca/ and other-ca/).
  const std::string& dir() const { return dir_->path(); }

  const CertKey& ca() const { return ca_; }              // ca.crt / ca.key
  const CertKey& other_ca() const { return other_ca_; }  // unrelated CA
  // CN=localhost; SAN DNS:localhost, IP:127.0.0.1, IP:::1; EKU serverAuth.
  const CertKey& server() const { return server_; }
  // CN=agent-1 (kGoodClient*), EKU clientAuth, serial kGoodClientSerialHex.
  const CertKey& client() const { return client_; }
  // Same subject and SANs as client(), signed by the other CA: an impostor.
  const CertKey& other_ca_client() const { return other_ca_client_; }
  const CertKey& expired_client() const { return expired_client_; }  // notAfter in the past
  const CertKey& not_yet_valid_client() const { return not_yet_valid_client_; }  // future notBefore
  const CertKey& server_auth_client() const { return server_auth_client_; }  // EKU serverAuth only
  const CertKey& revoked_client() const { return revoked_client_; }          // listed in crl()
  // PEM CRLs from the CA: one listing revoked_client(), one valid and empty.
  const std::string& crl() const { return crl_; }
  const std::string& empty_crl() const { return empty_crl_; }

  // Issues <dir>/<name>.crt/.key (with a numeric suffix if taken). The default extensions are
  //   basicConstraints = critical,CA:FALSE      keyUsage = critical,digitalSignature
  //   extendedKeyUsage = clientAuth             subjectKeyIdentifier = hash
  //   authorityKeyIdentifier = keyid
  // Each "key = value" line of extra_ext_lines replaces the default with the same key or adds
  // one (e.g. "subjectAltName = URI:spiffe://x/y, DNS:a.b"); "key =" with no value drops it.
  // Lines from the first one starting with '[' on are appended as extra sections, for values
  // like "subjectAltName = @alt". `name` must match [A-Za-z0-9._-]+.
  Result<CertKey> IssueClient(const std::string& name,
                              const std::vector<std::string>& extra_ext_lines = {},
                              const IssueOptions& options = {}) const;

  // Revokes a certificate issued by the CA and writes a fresh CRL to `crl_path`.
  Status RevokeAndWriteCrl(const std::string& cert_path, const std::string& crl_path) const;

  // Lower-case hex SHA-256 of the certificate's DER (openssl x509 -fingerprint -sha256).
  static Result<std::string> Fingerprint(const std::string& cert_path);
  // Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo.
  static Result<std::string> SpkiSha256(const std::string& cert_path);
  // Lower-case hex serial without separators.
  static Result<std::string> Serial(const std::string& cert_path);

  // openssl ca date form YYMMDDHHMMSSZ for now + offset_seconds (may be negative).
  static std::string OpensslDate(long long offset_seconds);

 private:
  TestPki();
  Status Build();
  Status MakeCa(const std::string& name, const std::string& subject, CertKey* out);
  Result<CertKey> IssueLocked(const std::string& name, const std::vector<std::string>& lines,
                              const IssueOptions& options) const;

  friend const TestPki& SharedPki();

  std::unique_ptr<TempDir> dir_;
  std::string error_;
  CertKey ca_, other_ca_, server_, client_, other_ca_client_, expired_client_,
      not_yet_valid_client_, server_auth_client_, revoked_client_;
  std::string crl_, empty_crl_;
  mutable std::mutex mu_;  // guards the openssl ca databases and file names
};

// The PKI shared by all tests of this binary, built on first call. If building failed, every
// call records a test failure with the reason and returns a placeholder whose ok() is false.
const TestPki& SharedPki();

// Runs `openssl args...` with a bounded timeout; the error carries the command line and stderr.
Result<std::string> RunOpenssl(const std::vector<std::string>& args,
                               std::string_view stdin_data = {});

}  // namespace portcullis::testing
