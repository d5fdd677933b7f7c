// CertificateInfo and CrlInfo: what the admin endpoints say about the certificates and
// revocation lists the gateway was configured with (the server certificate, each client CA,
// each upstream's CA bundle, each tls.crl file): who they name and when they run out.
//
// Read from the PEM files at load time, once; the seconds left are computed at each scrape from
// the stored notAfter / nextUpdate, so an expiry gauge moves without re-reading files. Pure
// functions over files; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "portcullis/result.h"

namespace portcullis::admin {

struct CertificateInfo {
  std::string file;     // the PEM file it came from
  std::string subject;  // one-line form, e.g. "CN=localhost"
  std::string serial_hex;
  int64_t not_after = 0;  // Unix seconds
};

struct CrlInfo {
  std::string file;    // the PEM file it came from
  std::string issuer;  // the CA that signed it, in CertificateInfo::subject's form
  // Unix seconds. Absent when the CRL has no nextUpdate (RFC 5280 §5.1.2.5 requires one from
  // conforming CAs, but the field is OPTIONAL in the ASN.1).
  std::optional<int64_t> next_update;
};

// Every certificate in the PEM file at `path` (a bundle may hold several), in file order.
// Fails when the file cannot be read or holds no certificate that parses.
Result<std::vector<CertificateInfo>> ReadCertificateFile(const std::string& path);

// Every CRL ("-----BEGIN X509 CRL-----" block) in the PEM file at `path`, in file order. A
// CRL whose nextUpdate has passed still reads: that is what its gauge is there to show. Fails
// when the file cannot be read or holds no CRL that parses.
Result<std::vector<CrlInfo>> ReadCrlFile(const std::string& path);

}  // namespace portcullis::admin
