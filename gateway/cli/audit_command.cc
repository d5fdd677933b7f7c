#include "gateway/cli/audit_command.h"

#include <cstdio>

#include "gateway/audit/verify.h"

namespace portcullis::cli {
namespace {

constexpr const char* kUsage =
    "usage: portcullis audit verify [--strict] FILE...\n"
    "\n"
    "  Checks every record's hash and the chain between records, across the files in the\n"
    "  order given (oldest first: audit.jsonl.2 audit.jsonl.1 audit.jsonl), and names the\n"
    "  first bad record. --strict also fails a chain that does not start at seq 1 and a\n"
    "  crash-recovery region. Exit 0 verified, 1 tampered or invalid, 2 usage.\n";

}  // namespace

int AuditCommand(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "verify") {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    std::fputs(kUsage, stderr);
    return 2;
  }
  audit::VerifyOptions options;
  std::vector<std::string> files;
  bool only_files = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!only_files && arg == "--") {
      only_files = true;
    } else if (!only_files && arg == "--strict") {
      options.strict = true;
    } else if (!only_files && (arg == "--help" || arg == "-h")) {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (!only_files && arg.size() > 1 && arg[0] == '-') {
      std::fprintf(stderr, "portcullis audit verify: unknown option \"%s\"\n\n%s", arg.c_str(),
                   kUsage);
      return 2;
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "portcullis audit verify: no file given\n\n%s", kUsage);
    return 2;
  }
  audit::VerifyResult result = audit::VerifyAuditFiles(files, options);
  for (const std::string& note : result.notes) {
    std::printf("note: %s\n", note.c_str());
  }
  if (!result.ok()) {
    std::printf("FAIL: %s\n", result.error.c_str());
    std::printf("(%llu record(s) verified before it)\n",
                static_cast<unsigned long long>(result.records));
    std::fflush(stdout);
    return 1;
  }
  if (result.records == 0) {
    std::printf("OK: %zu file(s), no records\n", files.size());
  } else {
    std::printf("OK: %zu file(s), %llu record(s), seq %llu..%llu, head %s\n", files.size(),
                static_cast<unsigned long long>(result.records),
                static_cast<unsigned long long>(result.first_seq),
                static_cast<unsigned long long>(result.last_seq), result.last_hash.c_str());
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace portcullis::cli
