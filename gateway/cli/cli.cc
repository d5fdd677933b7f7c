#include "gateway/cli/cli.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gateway/cli/audit_command.h"
#include "gateway/cli/check_command.h"
#include "gateway/cli/diagnose_command.h"
#include "gateway/cli/pki_command.h"
#include "gateway/cli/policy_command.h"
#include "gateway/cli/run_command.h"
#include "gateway/tls/tls_context.h"

namespace portcullis::cli {
namespace {

constexpr const char* kUsage =
    "usage: portcullis <command> [options]\n"
    "\n"
    "  run    --config FILE       run the gateway in the foreground\n"
    "  check  --config FILE       validate the config and its certificates; exit 0/1\n"
    "  pki init  --out DIR [--rsa]\n"
    "                             make a dev PKI: CA, server and client certificates\n"
    "  pki issue --ca DIR --cn NAME [--uri URI]... [--dns NAME]... [--ip ADDR]...\n"
    "            [--email ADDR]... [--days N] [--server] [--rsa] --out DIR\n"
    "                             issue one more certificate from a dev CA\n"
    "  policy explain --config FILE --cert CLIENT.pem --server NAME [--method M]\n"
    "                 [--tool T | --prompt P | --resource URI]\n"
    "                             the policy's decision, its rule, and why\n"
    "  diagnose HOST:PORT [--ca F] [--cert F --key F] [--servername N] [--json]\n"
    "                             TLS troubleshooting: version, cipher, chain, expiry, and\n"
    "                             a classified failure with its fix\n"
    "  audit verify FILE...       check the audit log's hash chain (oldest file first)\n"
    "  version                    print the version\n";

// The human log goes to stderr; stdout stays free for the audit stream ("-").
void SetUpHumanLog() {
  auto logger = spdlog::stderr_color_mt("portcullis");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  spdlog::set_default_logger(logger);
  if (const char* level = std::getenv("PORTCULLIS_LOG_LEVEL")) {
    spdlog::set_level(spdlog::level::from_str(level));
  }
}

}  // namespace

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  std::string command = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "version" || command == "--version") {
    std::printf("portcullis %s\n", PORTCULLIS_VERSION);
    return 0;
  }
  SetUpHumanLog();
  int code = -1;
  if (command == "run") code = RunCommand(rest);
  if (command == "check") code = CheckCommand(rest);
  if (command == "pki") code = RunPkiCommand(rest);
  if (command == "policy") code = PolicyCommand(rest);
  if (command == "audit") code = AuditCommand(rest);
  if (command == "diagnose") code = DiagnoseCommand(rest);
  if (code >= 0) {
    tls::ReleaseThreadResources();
    return code;
  }
  std::fprintf(stderr, "portcullis: unknown command \"%s\"\n\n%s", command.c_str(), kUsage);
  return 2;
}

}  // namespace portcullis::cli
