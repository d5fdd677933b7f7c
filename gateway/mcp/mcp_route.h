// Routes on the TLS listener (DESIGN §4): which upstream a request path names.
#pragma once

#include <string>
#include <string_view>

namespace portcullis::mcp {

struct Route {
  enum class Kind { kStreamableHttp, kNotFound };
  Kind kind = Kind::kNotFound;
  std::string upstream;  // the {upstream} of /mcp/{upstream}
};

// "/mcp/files" → {kStreamableHttp, "files"}; a trailing slash is tolerated; anything else,
// including an empty or odd name, is kNotFound. Names match [A-Za-z0-9._-]+, as in config.
Route MatchRoute(std::string_view path);

}  // namespace portcullis::mcp
