// RequestTemplate: the bytes of the request mode's HTTP requests, built once per run.
//
// The default body is a tools/call of `echo` (of `slow_count` with progress notifications when
// --sse asks for an event stream). Without --init it takes the stateless form of MCP 2026-07-28
// (protocol version in `_meta`, mirrored in MCP-Protocol-Version, Mcp-Method and Mcp-Name), which
// any server of that revision answers without a session; with --init it takes the session form
// (2025-11-25) and carries the Mcp-Session-Id that initialize returned. A --body-file is sent
// verbatim. Every default request gets a fresh JSON-RPC id, since an id must not repeat within a
// session. Immutable after construction; thread-safe to read.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bench/harness/options.h"

namespace portcullis::bench {

inline constexpr char kSessionProtocolVersion[] = "2025-11-25";
inline constexpr char kStatelessProtocolVersion[] = "2026-07-28";

class RequestTemplate {
 public:
  explicit RequestTemplate(const BenchOptions& options);

  // The measured POST, with JSON-RPC id `id`, on a connection whose session is `session_id`
  // ("" = none).
  std::string Request(uint64_t id, const std::string& session_id) const;
  // --init: the initialize request, and the notifications/initialized that follows it.
  std::string Initialize() const;
  std::string Initialized(const std::string& session_id) const;

 private:
  using Headers = std::vector<std::pair<std::string, std::string>>;
  std::string Post(const std::string& body, const Headers& headers) const;

  std::string path_;
  std::string host_header_;
  Headers user_headers_;
  bool init_;
  bool custom_body_;
  std::string body_;         // --body-file
  std::string body_prefix_;  // default body: prefix + id + suffix
  std::string body_suffix_;
  Headers body_headers_;  // the stateless form's mirrored headers
};

}  // namespace portcullis::bench
