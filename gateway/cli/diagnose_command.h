// `portcullis diagnose HOST:PORT [--ca F] [--cert F --key F] [--servername N] [--json]`:
// TLS troubleshooting from the command line (DESIGN §4), the face of gateway/tls/diagnosis.h.
//
// Prints the negotiated version and cipher, the server's chain (subjects, issuers, typed SANs,
// validity and days left), whether it verifies against --ca and the name, and on failure the
// classified reason with a one-line fix; --json prints the same as one JSON object. Exit codes:
// 0 the handshake verified (and the server accepted us), 1 it did not, 2 usage (including
// unreadable --ca/--cert/--key files). Stateless; main.cc calls it once.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/tls/diagnosis.h"
#include "portcullis/result.h"

namespace portcullis::cli {

// `args` are the words after "diagnose". Writes to std::cout / std::cerr.
int DiagnoseCommand(const std::vector<std::string>& args);
// The same with explicit streams, for tests.
int DiagnoseCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

struct DiagnoseTarget {
  std::string host;  // without brackets
  uint16_t port = 0;
};
// "host:port", "[v6]:port", "10.1.2.3:443", or a bare host (port 443).
Result<DiagnoseTarget> ParseDiagnoseTarget(std::string_view text);

// The report for people (several lines, ends with the verdict) and for programs (one JSON
// object and a newline).
std::string FormatDiagnosisText(const tls::Diagnosis& diagnosis);
std::string FormatDiagnosisJson(const tls::Diagnosis& diagnosis);

}  // namespace portcullis::cli
