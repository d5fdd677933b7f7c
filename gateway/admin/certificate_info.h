// CertificateInfo: what the admin endpoints say about a certificate the gateway was configured
// with (the server certificate, each client CA): who it names and when it expires.
//
// Read from the PEM files at load time, once; the seconds left are computed at each scrape from
// the stored notAfter, so an expiry gauge moves without re-reading files. Pure functions over
// files; thread-safe.
#pragma once

#include <cstdint>
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

// Every certificate in the PEM file at `path` (a bundle may hold several), in file order.
// Fails when the file cannot be read or holds no certificate that parses.
Result<std::vector<CertificateInfo>> ReadCertificateFile(const std::string& path);

}  // namespace portcullis::admin
