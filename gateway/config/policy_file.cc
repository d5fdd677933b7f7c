#include "gateway/config/policy_file.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace portcullis::config {

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[WC_SHA256_DIGEST_SIZE];
  wc_Sha256Hash(reinterpret_cast<const unsigned char*>(bytes.data()),
                static_cast<word32>(bytes.size()), digest);
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : digest) {
    hex.push_back(kDigits[b >> 4]);
    hex.push_back(kDigits[b & 0xf]);
  }
  return hex;
}

LoadedPolicy LoadPolicyFile(const Config& config) {
  LoadedPolicy out;
  if (config.policy.empty()) {
    out.policy = policy::DenyAllPolicy();
    out.warnings.push_back(config.file +
                           ": no \"policy\" file configured: every request is denied");
    return out;
  }
  std::ifstream in(config.policy, std::ios::binary);
  if (!in) {
    out.errors.push_back(config.policy + ": cannot open: " + std::strerror(errno));
    return out;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string bytes = text.str();
  std::vector<std::string> upstreams;
  for (const auto& [name, upstream] : config.upstreams) upstreams.push_back(name);
  policy::PolicyLoad load = policy::ParsePolicy(config.policy, bytes, upstreams);
  for (const policy::PolicyError& e : load.errors) out.errors.push_back(e.ToString());
  out.warnings = std::move(load.warnings);
  if (load.ok()) {
    out.policy = std::move(load.policy);
    out.sha256 = Sha256Hex(bytes);
  }
  return out;
}

}  // namespace portcullis::config
