// HttpRequest: one request as received from a client, after framing was removed.
//
// Header names keep the client's spelling; lookups are case-insensitive. A plain value owned
// by the connection that parsed it; not shared between threads.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portcullis::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// The first header called `name`, or nullptr.
const std::string* FindHeader(const HeaderList& headers, std::string_view name);

struct HttpRequest {
  std::string method;  // "POST"
  std::string target;  // "/mcp/files?x=1" as sent
  std::string path;    // "/mcp/files"
  std::string query;   // "x=1" (without '?'), or empty
  HeaderList headers;
  std::string body;
  bool keep_alive = true;

  const std::string* Header(std::string_view name) const { return FindHeader(headers, name); }
};

}  // namespace portcullis::http
