#include "gateway/mcp/mcp_route.h"

namespace portcullis::mcp {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

Route MatchRoute(std::string_view path) {
  constexpr std::string_view kPrefix = "/mcp/";
  Route route;
  if (path.substr(0, kPrefix.size()) != kPrefix) return route;
  std::string_view name = path.substr(kPrefix.size());
  if (!name.empty() && name.back() == '/') name.remove_suffix(1);
  if (name.empty() || name == "." || name == "..") return route;
  for (char c : name) {
    if (!IsNameChar(c)) return route;
  }
  route.kind = Route::Kind::kStreamableHttp;
  route.upstream = std::string(name);
  return route;
}

}  // namespace portcullis::mcp
