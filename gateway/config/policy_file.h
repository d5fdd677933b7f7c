// Loading the policy file the config names: read, parse, validate against the config's
// upstreams, and fingerprint the text. Touches the file system; call it off the reactors
// (startup, `check`, the reload path on the control thread).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "portcullis/config.h"
#include "portcullis/policy.h"

namespace portcullis::config {

struct LoadedPolicy {
  std::shared_ptr<const policy::Policy> policy;  // set when errors is empty
  std::string sha256;                            // of the file's bytes ("" = no policy file)
  std::vector<std::string> errors;               // "file:line:col: /pointer: message"
  std::vector<std::string> warnings;
  bool ok() const { return errors.empty(); }
};

// The policy of `config`; with no "policy" key, a deny-all policy and a warning: zero trust
// means an unconfigured gateway forwards nothing.
LoadedPolicy LoadPolicyFile(const Config& config);

// SHA-256 of `bytes` as lower-case hex (wolfCrypt).
std::string Sha256Hex(std::string_view bytes);

}  // namespace portcullis::config
