#include "gateway/cli/pki_command.h"

#include <charconv>
#include <iostream>
#include <map>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "gateway/tls/pki.h"
#include "portcullis/result.h"

namespace portcullis::cli {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "usage: portcullis pki init  --out DIR [--rsa] [--force]\n"
    "       portcullis pki issue --ca DIR --cn NAME --out DIR [--uri URI]... [--dns NAME]...\n"
    "                            [--ip ADDR]... [--email ADDR]... [--days N] [--server] [--rsa]\n"
    "                            [--name FILE]\n"
    "\n"
    "init   creates a dev CA and two certificates signed by it in DIR: ca.crt/ca.key,\n"
    "       server.crt/server.key (localhost, 127.0.0.1, ::1) and client.crt/client.key\n"
    "       (CN client, URI spiffe://portcullis.local/client). Refuses to replace an\n"
    "       existing ca.key unless --force is given.\n"
    "issue  signs a new certificate with DIR/ca.crt and DIR/ca.key (--ca) and writes\n"
    "       NAME.crt and NAME.key to the --out directory, replacing an earlier issue.\n"
    "\n"
    "  --out DIR      output directory, created if missing\n"
    "  --rsa          RSA-2048 keys (sha256WithRSAEncryption) instead of ECDSA P-256\n"
    "  --force        init: replace an existing CA\n"
    "  --ca DIR       issue: directory holding ca.crt and ca.key (ECDSA or RSA)\n"
    "  --cn NAME      issue: subject common name; also the file name unless --name is given\n"
    "  --uri URI      issue: URI SAN, e.g. spiffe://example.org/ns/ci/sa/agent (repeatable)\n"
    "  --dns NAME     issue: DNS SAN (repeatable)\n"
    "  --ip ADDR      issue: IP address SAN, IPv4 or IPv6 (repeatable)\n"
    "  --email ADDR   issue: email SAN (repeatable)\n"
    "  --days N       issue: validity in days, 1..3650 (default 365)\n"
    "  --server       issue: a server certificate (EKU serverAuth; the CN becomes a DNS SAN\n"
    "                 when no --dns or --ip is given) instead of a client one (clientAuth)\n"
    "  --name FILE    issue: output file name without extension (default: the CN)\n";

struct OptionSpec {
  std::string_view name;
  bool takes_value;
  bool repeatable;
};

constexpr OptionSpec kInitOptions[] = {
    {"--out", true, false},
    {"--rsa", false, false},
    {"--force", false, false},
};

constexpr OptionSpec kIssueOptions[] = {
    {"--ca", true, false},   {"--cn", true, false},   {"--out", true, false},
    {"--uri", true, true},   {"--dns", true, true},   {"--ip", true, true},
    {"--email", true, true}, {"--days", true, false}, {"--server", false, false},
    {"--rsa", false, false}, {"--name", true, false},
};

// Option name -> the values given (empty for a flag that was present).
using Options = std::map<std::string, std::vector<std::string>, std::less<>>;

// Accepts "--opt value" and "--opt=value". A value that starts with "--" needs the "=" form,
// so that a forgotten value is reported as such rather than swallowing the next option.
// -h/--help in option position is recorded as "--help".
Result<Options> ParseOptions(std::span<const std::string> words,
                             std::span<const OptionSpec> specs) {
  Options options;
  for (size_t i = 0; i < words.size(); ++i) {
    std::string_view word = words[i];
    if (word == "-h" || word == "--help") {
      options.try_emplace("--help");
      continue;
    }
    if (word.size() < 3 || word.substr(0, 2) != "--") {
      return Status::Error("unexpected argument \"" + std::string(word) + "\"");
    }
    std::optional<std::string> inline_value;
    if (const size_t eq = word.find('='); eq != std::string_view::npos) {
      inline_value = std::string(word.substr(eq + 1));
      word = word.substr(0, eq);
    }
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& candidate : specs) {
      if (candidate.name == word) {
        spec = &candidate;
      }
    }
    if (spec == nullptr) {
      return Status::Error("unknown option " + std::string(word));
    }
    auto [it, inserted] = options.try_emplace(std::string(word));
    if (!inserted && !spec->repeatable) {
      return Status::Error(std::string(word) + " given more than once");
    }
    if (!spec->takes_value) {
      if (inline_value) {
        return Status::Error(std::string(word) + " takes no value");
      }
      continue;
    }
    if (inline_value) {
      it->second.push_back(*inline_value);
      continue;
    }
    if (i + 1 >= words.size() || words[i + 1].rfind("--", 0) == 0) {
      return Status::Error(std::string(word) + " needs a value");
    }
    it->second.push_back(words[++i]);
  }
  return options;
}

bool Has(const Options& options, std::string_view name) { return options.contains(name); }

std::string Single(const Options& options, std::string_view name) {
  const auto it = options.find(name);
  return it == options.end() || it->second.empty() ? std::string() : it->second.front();
}

std::vector<std::string> All(const Options& options, std::string_view name) {
  const auto it = options.find(name);
  return it == options.end() ? std::vector<std::string>() : it->second;
}

Status RequireNonEmpty(const Options& options, std::string_view name) {
  if (!Has(options, name)) {
    return Status::Error(std::string(name) + " is required");
  }
  if (Single(options, name).empty()) {
    return Status::Error(std::string(name) + " must not be empty");
  }
  return Status::Ok();
}

int UsageError(std::ostream& err, const std::string& message) {
  err << "portcullis pki: " << message << "\n" << kUsage;
  return kExitUsage;
}

int Failure(std::ostream& err, const std::string& message) {
  err << "portcullis pki: " << message << "\n";
  return kExitError;
}

const char* KeyTypeName(pki::KeyType type) {
  return type == pki::KeyType::kRsa2048 ? "RSA-2048" : "ECDSA P-256";
}

void ListFiles(std::ostream& out, const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    out << "  " << path << "\n";
  }
}

int RunInit(std::span<const std::string> words, std::ostream& out, std::ostream& err) {
  Result<Options> options = ParseOptions(words, kInitOptions);
  if (!options.ok()) {
    return UsageError(err, options.error());
  }
  if (Has(*options, "--help")) {
    out << kUsage;
    return kExitOk;
  }
  if (Status s = RequireNonEmpty(*options, "--out"); !s.ok()) {
    return UsageError(err, s.message());
  }
  pki::InitOptions init;
  init.out_dir = Single(*options, "--out");
  init.key_type = Has(*options, "--rsa") ? pki::KeyType::kRsa2048 : pki::KeyType::kEcdsaP256;
  init.force = Has(*options, "--force");
  Result<std::vector<std::string>> written = pki::InitPki(init);
  if (!written.ok()) {
    return Failure(err, written.error());
  }
  out << "created a dev PKI (" << KeyTypeName(init.key_type) << ") in " << init.out_dir << ":\n";
  ListFiles(out, *written);
  return kExitOk;
}

int RunIssue(std::span<const std::string> words, std::ostream& out, std::ostream& err) {
  Result<Options> options = ParseOptions(words, kIssueOptions);
  if (!options.ok()) {
    return UsageError(err, options.error());
  }
  if (Has(*options, "--help")) {
    out << kUsage;
    return kExitOk;
  }
  for (std::string_view required : {"--ca", "--cn", "--out"}) {
    if (!Has(*options, required)) {
      return UsageError(err, std::string(required) + " is required");
    }
  }
  for (std::string_view dir : {"--ca", "--out"}) {
    if (Status s = RequireNonEmpty(*options, dir); !s.ok()) {
      return UsageError(err, s.message());
    }
  }
  pki::IssueOptions issue;
  issue.ca_dir = Single(*options, "--ca");
  issue.out_dir = Single(*options, "--out");
  issue.file_stem = Single(*options, "--name");
  if (Has(*options, "--name") && issue.file_stem.empty()) {
    return UsageError(err, "--name must not be empty");
  }
  pki::CertRequest& request = issue.request;
  request.common_name = Single(*options, "--cn");
  request.uris = All(*options, "--uri");
  request.dns_names = All(*options, "--dns");
  request.ip_addresses = All(*options, "--ip");
  request.emails = All(*options, "--email");
  request.profile =
      Has(*options, "--server") ? pki::CertProfile::kServer : pki::CertProfile::kClient;
  request.key_type = Has(*options, "--rsa") ? pki::KeyType::kRsa2048 : pki::KeyType::kEcdsaP256;
  if (Has(*options, "--days")) {
    const std::string days = Single(*options, "--days");
    int value = 0;
    const auto [end, ec] = std::from_chars(days.data(), days.data() + days.size(), value);
    if (ec != std::errc() || end != days.data() + days.size() || value < 1 ||
        value > pki::kMaxDays) {
      return UsageError(err, "--days must be a whole number from 1 to " +
                                 std::to_string(pki::kMaxDays) + ", not \"" + days + "\"");
    }
    request.days = value;
  }
  Result<std::vector<std::string>> written = pki::IssueCert(issue);
  if (!written.ok()) {
    return Failure(err, written.error());
  }
  out << "issued a " << (request.profile == pki::CertProfile::kServer ? "server" : "client")
      << " certificate (" << KeyTypeName(request.key_type) << ") for CN=" << request.common_name
      << ", valid " << request.days << " days:\n";
  ListFiles(out, *written);
  return kExitOk;
}

}  // namespace

const char* PkiUsage() { return kUsage; }

int RunPkiCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    return UsageError(err, "a subcommand is required (init or issue)");
  }
  if (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    out << kUsage;
    return kExitOk;
  }
  const std::span<const std::string> rest(args.data() + 1, args.size() - 1);
  if (args[0] == "init") {
    return RunInit(rest, out, err);
  }
  if (args[0] == "issue") {
    return RunIssue(rest, out, err);
  }
  return UsageError(err, "unknown subcommand \"" + args[0] + "\" (expected init or issue)");
}

int RunPkiCommand(const std::vector<std::string>& args) {
  return RunPkiCommand(args, std::cout, std::cerr);
}

}  // namespace portcullis::cli
