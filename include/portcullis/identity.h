// Identity: who a verified client certificate says the peer is.
//
// Built once per TLS connection from the verified leaf certificate (gateway/tls/identity.cc)
// and then only read: by the policy, the audit log and the headers sent upstream. SANs are
// kept by type, never mixed (a DNS name must not match a URI rule). A plain value; copy it
// freely across threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace portcullis {

struct Identity {
  std::string subject;     // RFC 4514-ish one-line form, e.g. "CN=agent-1,O=Example"
  std::string cn;          // the subject's (last) commonName, or empty
  std::string issuer;      // issuer in the same one-line form
  std::string serial_hex;  // lower-case hex, no separators
  std::vector<std::string> dns_sans;
  std::vector<std::string> uri_sans;
  std::vector<std::string> email_sans;
  std::vector<std::string> ip_sans;  // textual form: "127.0.0.1", "::1"
  std::string spiffe_id;             // the first URI SAN with scheme spiffe://, or empty
  std::string cert_sha256;           // lower-case hex SHA-256 of the DER certificate
  std::string spki_sha256;           // lower-case hex SHA-256 of the DER SubjectPublicKeyInfo
  int64_t not_before = 0;            // seconds since the Unix epoch
  int64_t not_after = 0;

  bool empty() const { return cert_sha256.empty(); }
};

}  // namespace portcullis
