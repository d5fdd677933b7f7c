#include "gateway/cli/run_command.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "gateway/cli/config_flag.h"
#include "gateway/reactor/server.h"
#include "portcullis/config.h"

namespace portcullis::cli {

int RunCommand(const std::vector<std::string>& args) {
  std::optional<std::string> path = ParseConfigFlag("run", args);
  if (!path) return 2;
  ConfigLoad load = LoadConfig(*path);
  if (!load.ok()) {
    for (const ConfigError& e : load.errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    std::fprintf(stderr, "portcullis run: %zu error(s) in %s; not started\n", load.errors.size(),
                 path->c_str());
    return 1;
  }
  std::vector<ConfigError> missing = CheckReferencedFiles(load.config);
  for (const ConfigError& e : missing) std::fprintf(stderr, "%s\n", e.ToString().c_str());
  if (!missing.empty()) return 1;
  for (const std::string& w : load.config.warnings) spdlog::warn("{}", w);
  auto config = std::make_shared<const Config>(std::move(load.config));
  Result<std::unique_ptr<reactor::Server>> server = reactor::Server::Create(config);
  if (!server.ok()) {
    spdlog::critical("{}{}", LocateFileMessage(*config, server.error()), server.error());
    return 1;
  }
  return (*server)->Run();
}

}  // namespace portcullis::cli
