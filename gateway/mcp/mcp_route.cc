#include "gateway/mcp/mcp_route.h"

#include <utility>

namespace portcullis::mcp {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Route MatchRoute(std::string_view path) {
  static constexpr std::pair<std::string_view, Route::Kind> kPrefixes[] = {
      {"/mcp/", Route::Kind::kStreamableHttp},
      {"/sse/", Route::Kind::kLegacySse},
      {"/messages/", Route::Kind::kLegacyMessages},
  };
  Route route;
  Route::Kind kind = Route::Kind::kNotFound;
  std::string_view name;
  for (const auto& [prefix, prefix_kind] : kPrefixes) {
    if (path.substr(0, prefix.size()) == prefix) {
      kind = prefix_kind;
      name = path.substr(prefix.size());
      break;
    }
  }
  if (kind == Route::Kind::kNotFound) return route;
  if (!name.empty() && name.back() == '/') name.remove_suffix(1);
  if (name.empty() || name == "." || name == "..") return route;
  for (char c : name) {
    if (!IsNameChar(c)) return route;
  }
  route.kind = kind;
  route.upstream = std::string(name);
  return route;
}

std::optional<std::string> QueryParameter(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string value;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        value += ' ';
      } else if (raw[i] == '%') {
        if (i + 2 >= raw.size()) return std::nullopt;
        int hi = HexValue(raw[i + 1]), lo = HexValue(raw[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        value += static_cast<char>(hi * 16 + lo);
        i += 2;
      } else {
        value += raw[i];
      }
    }
    return value;
  }
  return std::nullopt;
}

}  // namespace portcullis::mcp
