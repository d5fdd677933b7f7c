// `portcullis pki init|issue`: the command-line face of the dev PKI (gateway/tls/pki.h).
//
// Parses the words after "pki", runs the library, and turns the outcome into the exit code
// and messages the contract promises (DESIGN §4): 0 on success with the files written listed
// on stdout; 1 on an error, as "portcullis pki: <message>" on stderr; 2 on a usage error
// (unknown option, missing value or required option, malformed --days), with the usage text.
// Stateless; safe to call from any thread, though main.cc calls it once.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace portcullis::cli {

// `args` are the words after "pki", e.g. {"init", "--out", "pki"}. Writes to std::cout and
// std::cerr and returns the process exit code.
int RunPkiCommand(const std::vector<std::string>& args);

// The same with explicit streams, for tests.
int RunPkiCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The usage text printed on usage errors and for --help.
const char* PkiUsage();

}  // namespace portcullis::cli
