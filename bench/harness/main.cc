// portcullis-bench: the load and handshake harness (docs/BENCHMARKS.md, "portcullis-bench").
// Parses the command line, runs the benchmark, prints the report; everything else lives in
// bench/harness/.
#include <wolfssl/options.h>

#include <wolfssl/ssl.h>

#include <iostream>
#include <string>
#include <vector>

#include "bench/harness/options.h"
#include "bench/harness/report.h"
#include "bench/harness/runner.h"
#include "gateway/tls/tls_context.h"

namespace {

constexpr int kExitUsage = 2;

int Main(int argc, char** argv) {
  using namespace portcullis::bench;
  std::vector<std::string> args(argv + 1, argv + argc);
  bool help = false;
  portcullis::Result<BenchOptions> options = ParseOptions(args, &help);
  if (help) {
    std::cout << UsageText();
    return 0;
  }
  if (!options.ok()) {
    std::cerr << "portcullis-bench: " << options.error() << "\n(see portcullis-bench --help)\n";
    return kExitUsage;
  }
  portcullis::Result<Report> report = RunBench(*options, std::cerr);
  if (!report.ok()) {
    std::cerr << "portcullis-bench: " << report.error() << "\n";
    return kExitUsage;
  }
  std::cout << (options->json ? RenderJson(*report) : RenderText(*report)) << std::flush;
  return ExitCode(*report);
}

}  // namespace

int main(int argc, char** argv) {
  int code = Main(argc, argv);
  // The main thread created the TLS context (key checks use ECC): free its per-thread cache too,
  // so that LeakSanitizer stays quiet.
  portcullis::tls::ReleaseThreadResources();
  wolfSSL_Cleanup();
  return code;
}
