#include "gateway/cli/policy_command.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <cstdio>
#include <optional>

#include "gateway/config/policy_file.h"
#include "gateway/tls/identity_extractor.h"
#include "gateway/tls/tls_context.h"
#include "portcullis/config.h"
#include "portcullis/policy.h"

namespace portcullis::cli {
namespace {

constexpr const char* kUsage =
    "usage: portcullis policy explain --config FILE --cert CLIENT.pem --server NAME\n"
    "                                 [--method M] [--tool T | --prompt P | --resource URI]\n"
    "exit: 0 allowed, 3 denied, 1 error, 2 usage\n";

struct Args {
  std::string config, cert, server, method, tool, prompt, resource;
};

std::optional<Args> Parse(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "explain") return std::nullopt;
  Args a;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string* target = nullptr;
    if (args[i] == "--config") target = &a.config;
    if (args[i] == "--cert") target = &a.cert;
    if (args[i] == "--server") target = &a.server;
    if (args[i] == "--method") target = &a.method;
    if (args[i] == "--tool") target = &a.tool;
    if (args[i] == "--prompt") target = &a.prompt;
    if (args[i] == "--resource") target = &a.resource;
    if (!target || i + 1 >= args.size()) return std::nullopt;
    *target = args[++i];
  }
  int objects = !a.tool.empty() + !a.prompt.empty() + !a.resource.empty();
  if (a.config.empty() || a.cert.empty() || a.server.empty() || objects > 1) return std::nullopt;
  return a;
}

Result<Identity> IdentityOfFile(const std::string& path) {
  tls::InitLibrary();
  WOLFSSL_X509* x509 = wolfSSL_X509_load_certificate_file(path.c_str(), WOLFSSL_FILETYPE_PEM);
  if (!x509) return Status::Error(path + ": not a PEM certificate");
  Result<Identity> identity = tls::ExtractIdentity(x509);
  wolfSSL_X509_free(x509);
  return identity;
}

}  // namespace

int PolicyCommand(const std::vector<std::string>& args) {
  std::optional<Args> a = Parse(args);
  if (!a) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  ConfigLoad load = LoadConfig(a->config);
  for (const ConfigError& e : load.errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
  if (!load.ok()) return 1;
  config::LoadedPolicy loaded = config::LoadPolicyFile(load.config);
  for (const std::string& e : loaded.errors) std::fprintf(stderr, "%s\n", e.c_str());
  if (!loaded.ok()) return 1;
  Result<Identity> identity = IdentityOfFile(a->cert);
  if (!identity.ok()) {
    std::fprintf(stderr, "portcullis policy: %s\n", identity.error().c_str());
    return 1;
  }
  if (!load.config.FindUpstream(a->server)) {
    std::fprintf(stderr, "warning: \"%s\" is not an upstream of %s\n", a->server.c_str(),
                 a->config.c_str());
  }

  policy::Action action;
  action.upstream = a->server;
  std::string method = a->method;
  if (!a->tool.empty()) {
    action.object = policy::Action::Object::kTool;
    action.name = a->tool;
    if (method.empty()) method = "tools/call";
  } else if (!a->prompt.empty()) {
    action.object = policy::Action::Object::kPrompt;
    action.name = a->prompt;
    if (method.empty()) method = "prompts/get";
  } else if (!a->resource.empty()) {
    action.object = policy::Action::Object::kResource;
    action.name = a->resource;
    if (method.empty()) method = "resources/read";
  }
  if (method.empty()) method = "tools/list";
  action.method = method;

  policy::Explanation ex = loaded.policy->Explain(*identity, action);
  const Identity& id = *identity;
  std::printf("identity:  subject \"%s\", issuer \"%s\"\n", id.subject.c_str(), id.issuer.c_str());
  if (!id.spiffe_id.empty()) std::printf("           spiffe_id %s\n", id.spiffe_id.c_str());
  for (const std::string& dns : id.dns_sans) std::printf("           dns_san %s\n", dns.c_str());
  std::printf("           fingerprint_sha256 %s\n", id.cert_sha256.c_str());
  std::printf("request:   %s on upstream \"%s\"%s%s\n", method.c_str(), a->server.c_str(),
              action.name.empty() ? "" : " for ", std::string(action.name).c_str());
  std::printf("decision:  %s by %s\n", ex.decision.allowed ? "ALLOW" : "DENY",
              ex.decision.rule.empty() ? "default (no rule)"
                                       : ("rule \"" + ex.decision.rule + "\"").c_str());
  std::printf("reason:    %s\n", ex.decision.reason.c_str());
  std::printf(ex.rules.empty() ? "rules:     (the policy has no rules)\n" : "rules:\n");
  for (const policy::RuleExplanation& r : ex.rules) {
    std::printf("  %-24s %s%s; %s\n", r.rule.c_str(),
                r.identity_matched ? "identity matches" : "identity does not match",
                !r.identity_matched ? ""
                : r.grants_upstream ? ", grants the upstream"
                                    : ", does not grant the upstream",
                r.detail.c_str());
    if (!r.verdict.empty()) std::printf("  %-24s %s\n", "", r.verdict.c_str());
  }
  return ex.decision.allowed ? 0 : 3;
}

}  // namespace portcullis::cli
