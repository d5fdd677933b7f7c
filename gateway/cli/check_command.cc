#include "gateway/cli/check_command.h"

#include <cstdio>

#include "gateway/cli/config_flag.h"
#include "gateway/config/policy_file.h"
#include "gateway/tls/tls_context.h"
#include "gateway/upstream/upstream_tls.h"
#include "portcullis/config.h"

namespace portcullis::cli {

int CheckCommand(const std::vector<std::string>& args) {
  std::optional<std::string> path = ParseConfigFlag("check", args);
  if (!path) return 2;
  ConfigLoad load = LoadConfig(*path);
  for (const ConfigError& e : load.errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
  if (!load.ok()) {
    std::fprintf(stderr, "%s: %zu error(s)\n", path->c_str(), load.errors.size());
    return 1;
  }
  for (const std::string& w : load.config.warnings) {
    std::fprintf(stderr, "warning: %s\n", w.c_str());
  }
  std::vector<ConfigError> missing = CheckReferencedFiles(load.config);
  for (const ConfigError& e : missing) std::fprintf(stderr, "%s\n", e.ToString().c_str());
  if (!missing.empty()) {
    std::fprintf(stderr, "%s: %zu error(s)\n", path->c_str(), missing.size());
    return 1;
  }
  // Load certificates, keys, CAs and CRLs exactly as `run` does.
  Result<std::shared_ptr<const tls::TlsContext>> tls = tls::TlsContext::Create(load.config.tls);
  if (!tls.ok()) {
    std::string where = LocateFileMessage(load.config, tls.error());
    std::fprintf(stderr, "%s%s\n", where.empty() ? (*path + ": ").c_str() : where.c_str(),
                 tls.error().c_str());
    return 1;
  }
  if (Status upstream_tls = upstream::CheckUpstreamTls(load.config); !upstream_tls.ok()) {
    std::string where = LocateFileMessage(load.config, upstream_tls.message());
    std::fprintf(stderr, "%s%s\n", where.empty() ? (*path + ": ").c_str() : where.c_str(),
                 upstream_tls.message().c_str());
    return 1;
  }
  config::LoadedPolicy policy = config::LoadPolicyFile(load.config);
  for (const std::string& w : policy.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  for (const std::string& e : policy.errors) std::fprintf(stderr, "%s\n", e.c_str());
  if (!policy.ok()) {
    std::fprintf(stderr, "%s: %zu error(s)\n", load.config.policy.c_str(), policy.errors.size());
    return 1;
  }
  std::printf("%s: OK (%zu listen address(es), %zu upstream(s), %zu policy rule(s))\n",
              path->c_str(), load.config.listen.size(), load.config.upstreams.size(),
              policy.policy->rule_count());
  return 0;
}

}  // namespace portcullis::cli
