#include "gateway/cli/config_flag.h"

#include <cstdio>

namespace portcullis::cli {

std::optional<std::string> ParseConfigFlag(const std::string& command,
                                           const std::vector<std::string>& args) {
  std::optional<std::string> path;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--config" || a == "-c") && i + 1 < args.size()) {
      path = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      path = a.substr(9);
    } else {
      std::fprintf(stderr, "portcullis %s: unexpected argument \"%s\"\n", command.c_str(),
                   a.c_str());
      return std::nullopt;
    }
  }
  if (!path || path->empty()) {
    std::fprintf(stderr, "usage: portcullis %s --config FILE\n", command.c_str());
    return std::nullopt;
  }
  return path;
}

}  // namespace portcullis::cli
