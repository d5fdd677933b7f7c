// Routes on the TLS listener (DESIGN §4): which upstream a request path names.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace portcullis::mcp {

struct Route {
  enum class Kind {
    kStreamableHttp,  // /mcp/{upstream}
    kLegacySse,       // /sse/{upstream}: the legacy HTTP+SSE stream (GET)
    kLegacyMessages,  // /messages/{upstream}?sessionId=…: its POSTs
    kNotFound
  };
  Kind kind = Kind::kNotFound;
  std::string upstream;  // the {upstream} of the path
};

// "/mcp/files" → {kStreamableHttp, "files"}, "/sse/files" → {kLegacySse, "files"},
// "/messages/files" → {kLegacyMessages, "files"}; a trailing slash is tolerated; anything else,
// including an empty or odd name, is kNotFound. Names match [A-Za-z0-9._-]+, as in config.
Route MatchRoute(std::string_view path);

// The value of `name` in a query string ("a=1&sessionId=x"), percent-decoded; nullopt when
// absent or badly encoded.
std::optional<std::string> QueryParameter(std::string_view query, std::string_view name);

}  // namespace portcullis::mcp
