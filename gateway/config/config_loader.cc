// LoadConfig / ParseConfig: gateway.json (DESIGN §4) → Config, or every error found in it.
//
// The file is parsed into a LocatedJson tree first (syntax errors stop there: one error), then
// walked object by object. Each object is a table of known keys; a key not in the table is
// an error with a did-you-mean, a value of the wrong type or out of range is an error naming
// what was expected, and the walk goes on so that one run reports every mistake. Errors are
// sorted into file order at the end because a few checks (a missing key, two keys that
// exclude each other) run after their object has been walked.

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <wolfssl/options.h>  // MAX_CHAIN_DEPTH, when the wolfSSL build sets it

#include "gateway/reactor/address_filter.h"
#include "portcullis/config.h"
#include "portcullis/did_you_mean.h"
#include "portcullis/located_json.h"

namespace portcullis {

std::string ListenAddress::ToString() const {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

std::string ConfigError::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line) + ":" + std::to_string(col);
  }
  out += ": ";
  if (!pointer.empty()) {
    out += pointer + ": ";
  }
  out += message;
  return out;
}

namespace {

namespace fs = std::filesystem;

constexpr int kMaxConfigDepth = 64;
// A configuration is a few kilobytes; this only stops `--config /dev/zero` from eating memory.
constexpr uintmax_t kMaxConfigBytes = 16u << 20;
constexpr uint32_t kMaxReactors = 256;
// wolfSSL refuses a peer chain of MAX_CHAIN_DEPTH certificates or more and silently ignores a
// verify depth above it, so a larger value would quietly not apply. MAX_CHAIN_DEPTH is 9 unless
// the build sets it; the gateway-tuned build (scripts/build-wolfssl) sets 5, because every
// connection carries room for that many peer certificates (2 KiB each).
#ifdef MAX_CHAIN_DEPTH
constexpr uint32_t kMaxVerifyDepth = MAX_CHAIN_DEPTH - 1;
#else
constexpr uint32_t kMaxVerifyDepth = 9;
#endif

// Keys that parse and validate but whose feature is not built yet: each use gets a warning so
// nobody believes they are on. Delete a line when its feature lands.
struct NotBuiltYet {
  const char* pointer;
  const char* message;
};
// (None at the moment; a std::array because a built-in array cannot be empty.)
constexpr std::array<NotBuiltYet, 0> kNotBuiltYet = {};

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "8443" → 8443; false for anything else (empty, signs, more than 65535).
bool ParsePort(std::string_view text, uint16_t* port) {
  if (!AllDigits(text) || text.size() > 5) {
    return false;
  }
  unsigned value = 0;
  for (char c : text) {
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) {
    return false;
  }
  *port = static_cast<uint16_t>(value);
  return true;
}

bool IsIpv4(const std::string& host) {
  in_addr addr;
  return inet_pton(AF_INET, host.c_str(), &addr) == 1;
}

bool IsIpv6(const std::string& host) {
  in6_addr addr;
  return inet_pton(AF_INET6, host.c_str(), &addr) == 1;
}

// Splits "host:port" / "[v6]:port". On failure returns a message for the operator.
std::string SplitHostPort(std::string_view text, std::string* host, std::string* port,
                          bool* bracketed) {
  *bracketed = false;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return "missing ']' after the IPv6 address";
    }
    *host = std::string(text.substr(1, close - 1));
    *bracketed = true;
    std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest[0] != ':') {
      return "expected \"[address]:port\", e.g. \"[::1]:8443\"";
    }
    *port = std::string(rest.substr(1));
    return "";
  }
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return "expected \"host:port\", e.g. \"0.0.0.0:8443\"";
  }
  *host = std::string(text.substr(0, colon));
  *port = std::string(text.substr(colon + 1));
  if (host->find(':') != std::string::npos) {
    return "an IPv6 address needs brackets, e.g. \"[::1]:8443\"";
  }
  return "";
}

// "0.0.0.0:8443", "[::1]:8443", "localhost:8443" (→ 127.0.0.1). Listeners bind literal
// addresses: resolving names at startup would make the bound address depend on DNS.
std::string ParseListenAddress(std::string_view text, ListenAddress* out) {
  std::string host, port;
  bool bracketed = false;
  std::string error = SplitHostPort(text, &host, &port, &bracketed);
  if (!error.empty()) {
    return error;
  }
  if (host.empty()) {
    return "missing address before the port (\"0.0.0.0\" listens on every IPv4 address)";
  }
  if (!ParsePort(port, &out->port)) {
    return "port must be a number from 0 to 65535, got " + Quote(port);
  }
  if (bracketed) {
    if (!IsIpv6(host)) {
      return Quote(host) + " is not an IPv6 address";
    }
  } else if (host == "localhost") {
    host = "127.0.0.1";
  } else if (!IsIpv4(host)) {
    return "the host must be a literal IP address (or \"localhost\"), got " + Quote(host);
  }
  out->host = host;
  return "";
}

bool IsHostNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

// "http(s)://host[:port][/path]" into the upstream's url parts. A query string stays part of
// the path (it is sent as is); user info and fragments are refused.
std::string ParseUpstreamUrl(std::string_view url, UpstreamConfig* out) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return "expected a URL such as \"http://127.0.0.1:3001/mcp\"";
  }
  std::string scheme(url.substr(0, sep));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  if (scheme != "http" && scheme != "https") {
    return "unsupported scheme " + Quote(scheme) + "; use http:// or https://";
  }
  std::string_view rest = url.substr(sep + 3);
  for (char c : rest) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return "the URL contains a space or a control character";
    }
  }
  size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view path =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return "user names and passwords in the URL are not supported";
  }
  if (path.find('#') != std::string_view::npos) {
    return "a URL fragment ('#') has no meaning for an upstream";
  }
  std::string host;
  std::string_view after_host;  // "" or ":port"
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return "missing ']' after the IPv6 address";
    }
    host = std::string(authority.substr(1, close - 1));
    after_host = authority.substr(close + 1);
    if (!after_host.empty() && after_host[0] != ':') {
      return "unexpected text after ']'";
    }
    if (!IsIpv6(host)) {
      return Quote(host) + " is not an IPv6 address";
    }
  } else {
    size_t colon = authority.rfind(':');
    host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      after_host = authority.substr(colon);
    }
    if (host.empty()) {
      return "missing host in the URL";
    }
    if (!std::all_of(host.begin(), host.end(), IsHostNameChar)) {
      return "invalid host " + Quote(host) + " (IPv6 addresses go in brackets)";
    }
  }
  std::string port_text;
  if (!after_host.empty()) {
    port_text = std::string(after_host.substr(1));
    if (port_text.empty()) {
      return "missing port after ':'";
    }
  }
  uint16_t port = scheme == "https" ? 443 : 80;
  if (!port_text.empty() && (!ParsePort(port_text, &port) || port == 0)) {
    return "port must be a number from 1 to 65535, got " + Quote(port_text);
  }
  out->url = std::string(url);
  out->scheme = scheme;
  out->host = host;
  out->port = port;
  if (path.empty()) {
    out->path = "/";
  } else if (path[0] == '?') {
    out->path = "/" + std::string(path);
  } else {
    out->path = std::string(path);
  }
  return "";
}

// Upstream names appear in URLs (/mcp/{name}), metrics labels and the audit log.
bool IsValidUpstreamName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// Walks the JSON tree into a Config, collecting errors and warnings.
class Loader {
 public:
  Loader(ConfigLoad* out, const std::string& file, const fs::path& base_dir)
      : out_(out), config_(&out->config), file_(file), base_dir_(base_dir) {}

  void Load(const LocatedJson& root) {
    if (!root.is_object()) {
      Error(root.loc, "",
            std::string("the configuration must be a JSON object, got ") + root.type_name());
      return;
    }
    VisitObject(root, "",
                {
                    {"listen", [this](auto& v, auto& p) { ReadListen(v, p); }, true},
                    {"reactors", [this](auto& v, auto& p) { ReadReactors(v, p); }},
                    {"tls", [this](auto& v, auto& p) { ReadTls(v, p); }, true},
                    {"upstreams", [this](auto& v, auto& p) { ReadUpstreams(v, p); }},
                    {"policy", [this](auto& v, auto& p) { ReadPath(v, p, &config_->policy); }},
                    {"audit", [this](auto& v, auto& p) { ReadAudit(v, p); }},
                    {"anomalies", [this](auto& v, auto& p) { ReadAnomalies(v, p); }},
                    {"admin", [this](auto& v, auto& p) { ReadAdmin(v, p); }},
                    {"limits", [this](auto& v, auto& p) { ReadLimits(v, p); }},
                    {"access", [this](auto& v, auto& p) { ReadAccess(v, p); }},
                    {"allowed_origins", [this](auto& v, auto& p) { ReadOrigins(v, p); }},
                });
    if (root.Find("reactors") == nullptr) {
      ResolveReactors();
    }
    if (root.Find("upstreams") == nullptr) {
      Warn(root.loc, "", "no \"upstreams\": every request will be answered 404");
    }
    for (const NotBuiltYet& item : kNotBuiltYet) {
      const LocatedJson::Member* member = root.FindMember(std::string_view(item.pointer + 1));
      if (member != nullptr) {
        Warn(member->key_loc, item.pointer, item.message);
      }
    }
  }

  // Sorts what was found into file order and publishes the warnings.
  void Finish() {
    auto by_position = [](const ConfigError& a, const ConfigError& b) {
      return std::tie(a.line, a.col) < std::tie(b.line, b.col);
    };
    std::stable_sort(out_->errors.begin(), out_->errors.end(), by_position);
    std::stable_sort(warnings_.begin(), warnings_.end(), by_position);
    for (const ConfigError& warning : warnings_) {
      config_->warnings.push_back(warning.ToString());
    }
  }

 private:
  using Handler = std::function<void(const LocatedJson& value, const std::string& pointer)>;
  struct Field {
    std::string key;
    Handler handler;
    bool required = false;
  };

  // --- Reporting -------------------------------------------------------------------------

  void Error(JsonLocation loc, const std::string& pointer, std::string message) {
    out_->errors.push_back(ConfigError{file_, loc.line, loc.col, pointer, std::move(message)});
  }

  void Warn(JsonLocation loc, const std::string& pointer, std::string message) {
    warnings_.push_back(ConfigError{file_, loc.line, loc.col, pointer, std::move(message)});
  }

  void TypeError(const LocatedJson& value, const std::string& pointer, const char* expected) {
    std::string got = value.type_name();
    if (value.is_number()) {
      got += " (" + value.raw + ")";
    }
    Error(value.loc, pointer, std::string("expected ") + expected + ", got " + got);
  }

  // --- Generic readers ---------------------------------------------------------------------

  // Dispatches each member of `object`, in file order, to the field of the same key; reports
  // unknown keys (with a suggestion) and missing required keys. False if not an object.
  bool VisitObject(const LocatedJson& object, const std::string& pointer,
                   const std::vector<Field>& fields) {
    if (!object.is_object()) {
      TypeError(object, pointer, "an object");
      return false;
    }
    for (const LocatedJson::Member& member : object.members) {
      std::string member_pointer = JsonPointerAppend(pointer, member.key);
      auto field = std::find_if(fields.begin(), fields.end(),
                                [&](const Field& f) { return f.key == member.key; });
      if (field == fields.end()) {
        std::vector<std::string> keys;
        for (const Field& f : fields) {
          keys.push_back(f.key);
        }
        std::string message = "unknown key " + Quote(member.key);
        std::string suggestion = ClosestMatch(member.key, keys);
        if (!suggestion.empty()) {
          message += "; did you mean " + Quote(suggestion) + "?";
        }
        Error(member.key_loc, member_pointer, std::move(message));
        continue;
      }
      field->handler(member.value, member_pointer);
    }
    for (const Field& field : fields) {
      if (field.required && object.Find(field.key) == nullptr) {
        Error(object.loc, pointer, "missing required key " + Quote(field.key));
      }
    }
    return true;
  }

  bool ReadString(const LocatedJson& value, const std::string& pointer, std::string* out,
                  bool allow_empty = true) {
    if (!value.is_string()) {
      TypeError(value, pointer, "a string");
      return false;
    }
    if (!allow_empty && value.string.empty()) {
      Error(value.loc, pointer, "must not be empty");
      return false;
    }
    *out = value.string;
    return true;
  }

  bool ReadBool(const LocatedJson& value, const std::string& pointer, bool* out) {
    if (!value.is_bool()) {
      TypeError(value, pointer, "true or false");
      return false;
    }
    *out = value.boolean;
    return true;
  }

  bool ReadUint(const LocatedJson& value, const std::string& pointer, uint32_t min, uint32_t max,
                uint32_t* out) {
    if (!value.is_number()) {
      TypeError(value, pointer, "an integer");
      return false;
    }
    std::optional<int64_t> n = value.AsInt64();
    if (!n.has_value() && value.raw.find_first_of(".eE") != std::string::npos) {
      Error(value.loc, pointer, "expected an integer, got " + value.raw);
      return false;
    }
    if (!n.has_value() || *n < min || *n > max) {
      Error(value.loc, pointer,
            "must be an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                ", got " + value.raw);
      return false;
    }
    *out = static_cast<uint32_t>(*n);
    return true;
  }

  // Relative paths are relative to the configuration file's folder, wherever the gateway runs.
  std::string Resolve(const std::string& path) const {
    fs::path p(path);
    return (p.is_absolute() ? p : base_dir_ / p).lexically_normal().string();
  }

  bool ReadPath(const LocatedJson& value, const std::string& pointer, std::string* out) {
    std::string path;
    if (!ReadString(value, pointer, &path, /*allow_empty=*/false)) {
      return false;
    }
    *out = Resolve(path);
    config_->files.push_back({*out, value.loc.line, value.loc.col, pointer});
    return true;
  }

  // A list of paths; a single string is taken as a list of one.
  void ReadPathList(const LocatedJson& value, const std::string& pointer,
                    std::vector<std::string>* out) {
    out->clear();
    if (value.is_string()) {
      std::string path;
      if (ReadPath(value, pointer, &path)) {
        out->push_back(path);
      }
      return;
    }
    if (!value.is_array()) {
      TypeError(value, pointer, "an array of file names");
      return;
    }
    for (size_t i = 0; i < value.items.size(); ++i) {
      std::string path;
      if (ReadPath(value.items[i], JsonPointerAppend(pointer, i), &path)) {
        out->push_back(path);
      }
    }
  }

  // --- Top level ---------------------------------------------------------------------------

  void ReadListen(const LocatedJson& value, const std::string& pointer) {
    std::vector<const LocatedJson*> entries;
    std::vector<std::string> pointers;
    if (value.is_string()) {
      entries.push_back(&value);
      pointers.push_back(pointer);
    } else if (value.is_array()) {
      for (size_t i = 0; i < value.items.size(); ++i) {
        entries.push_back(&value.items[i]);
        pointers.push_back(JsonPointerAppend(pointer, i));
      }
      if (value.items.empty()) {
        Error(value.loc, pointer, "needs at least one address, e.g. [\"0.0.0.0:8443\"]");
      }
    } else {
      TypeError(value, pointer, "an array of \"host:port\" strings");
      return;
    }
    std::vector<JsonLocation> seen_at;
    for (size_t i = 0; i < entries.size(); ++i) {
      std::string text;
      if (!ReadString(*entries[i], pointers[i], &text)) {
        continue;
      }
      ListenAddress address;
      std::string error = ParseListenAddress(text, &address);
      if (!error.empty()) {
        Error(entries[i]->loc, pointers[i], error);
        continue;
      }
      bool duplicate = false;
      for (size_t j = 0; j < config_->listen.size(); ++j) {
        const ListenAddress& other = config_->listen[j];
        if (other.host == address.host && other.port == address.port && address.port != 0) {
          Error(entries[i]->loc, pointers[i],
                address.ToString() + " is listed twice (first at " + seen_at[j].ToString() + ")");
          duplicate = true;
          break;
        }
      }
      if (!duplicate) {
        config_->listen.push_back(address);
        seen_at.push_back(entries[i]->loc);
      }
    }
  }

  void ReadReactors(const LocatedJson& value, const std::string& pointer) {
    if (ReadUint(value, pointer, 0, kMaxReactors, &config_->reactors)) {
      ResolveReactors();
    }
  }

  void ResolveReactors() {
    if (config_->reactors == 0) {
      // hardware_concurrency() may return 0 when it cannot tell.
      config_->reactors =
          std::clamp<uint32_t>(std::thread::hardware_concurrency(), 1, kMaxReactors);
    }
  }

  // --- tls ---------------------------------------------------------------------------------

  void ReadTls(const LocatedJson& value, const std::string& pointer) {
    TlsConfig& tls = config_->tls;
    VisitObject(
        value, pointer,
        {
            {"cert", [&](auto& v, auto& p) { ReadPath(v, p, &tls.cert); }, true},
            {"key", [&](auto& v, auto& p) { ReadPath(v, p, &tls.key); }, true},
            {"client_ca",
             [&](auto& v, auto& p) {
               ReadPathList(v, p, &tls.client_ca);
               if (v.is_array() && v.items.empty()) {
                 Error(v.loc, p, "needs at least one CA file: clients must chain to it");
               }
             },
             true},
            {"crl", [&](auto& v, auto& p) { ReadPathList(v, p, &tls.crl); }},
            {"min_version", [&](auto& v, auto& p) { ReadMinVersion(v, p); }},
            {"ciphers", [&](auto& v, auto& p) { ReadString(v, p, &tls.ciphers); }},
            {"ciphersuites", [&](auto& v, auto& p) { ReadString(v, p, &tls.ciphersuites); }},
            {"session_tickets", [&](auto& v, auto& p) { ReadBool(v, p, &tls.session_tickets); }},
            {"ticket_key_file",
             [&](auto& v, auto& p) {
               if (v.is_null()) {
                 tls.ticket_key_file.clear();
               } else if (v.is_string()) {
                 ReadPath(v, p, &tls.ticket_key_file);
                 // wolfSSL 5.5.4's tickets carry no peer certificate (notes/wolfssl-libuv.md
                 // §4): a ticket from another replica would resume without an identity, which
                 // the gateway refuses. Say so rather than let the key look effective.
                 Warn(v.loc, p,
                      "ignored: shared ticket keys cannot carry the client identity across "
                      "replicas with this wolfSSL (5.5.4); each replica resumes only its own "
                      "sessions (docs/OPERATIONS.md \"Resumption across replicas\")");
               } else {
                 TypeError(v, p, "a file name or null");
               }
             }},
            {"handshake_timeout_ms",
             [&](auto& v, auto& p) { ReadUint(v, p, 1, 600000, &tls.handshake_timeout_ms); }},
            {"verify_depth",
             [&](auto& v, auto& p) { ReadUint(v, p, 1, kMaxVerifyDepth, &tls.verify_depth); }},
        });
  }

  void ReadMinVersion(const LocatedJson& value, const std::string& pointer) {
    std::string version;
    if (!ReadString(value, pointer, &version)) {
      return;
    }
    if (version == "1.2" || version == "1.3") {
      config_->tls.min_version = version;
    } else if (version == "1.0" || version == "1.1") {
      Error(value.loc, pointer,
            "TLS 1.0/1.1 cannot be enabled (deprecated by RFC 8996); use \"1.2\" or \"1.3\"");
    } else {
      Error(value.loc, pointer, "expected \"1.2\" or \"1.3\", got " + Quote(version));
    }
  }

  // --- upstreams ---------------------------------------------------------------------------

  void ReadUpstreams(const LocatedJson& value, const std::string& pointer) {
    if (!value.is_object()) {
      TypeError(value, pointer, "an object mapping upstream names to settings");
      return;
    }
    for (const LocatedJson::Member& member : value.members) {
      std::string upstream_pointer = JsonPointerAppend(pointer, member.key);
      if (!IsValidUpstreamName(member.key)) {
        Error(member.key_loc, upstream_pointer,
              "invalid upstream name " + Quote(member.key) +
                  ": use letters, digits, '.', '_' and '-' (it becomes part of /mcp/NAME)");
        continue;
      }
      UpstreamConfig upstream;
      upstream.name = member.key;
      if (ReadUpstream(member.value, upstream_pointer, &upstream)) {
        config_->upstreams[member.key] = std::move(upstream);
      }
    }
  }

  bool ReadUpstream(const LocatedJson& value, const std::string& pointer, UpstreamConfig* up) {
    size_t errors_before = out_->errors.size();
    bool visited = VisitObject(
        value, pointer,
        {
            {"url",
             [&](auto& v, auto& p) {
               std::string url;
               if (ReadString(v, p, &url, /*allow_empty=*/false)) {
                 std::string error = ParseUpstreamUrl(url, up);
                 if (!error.empty()) {
                   Error(v.loc, p, error);
                 }
               }
             }},
            {"command", [&](auto& v, auto& p) { ReadCommand(v, p, &up->command); }},
            {"env", [&](auto& v, auto& p) { ReadEnv(v, p, &up->env); }},
            {"max_sessions",
             [&](auto& v, auto& p) { ReadUint(v, p, 1, 1000000, &up->max_sessions); }},
            {"connect_timeout_ms",
             [&](auto& v, auto& p) { ReadUint(v, p, 1, 600000, &up->connect_timeout_ms); }},
            {"response_timeout_ms",
             [&](auto& v, auto& p) { ReadUint(v, p, 1, 86400000, &up->response_timeout_ms); }},
            {"pass_authorization",
             [&](auto& v, auto& p) { ReadBool(v, p, &up->pass_authorization); }},
            {"ca", [&](auto& v, auto& p) { ReadPath(v, p, &up->ca); }},
            {"cert", [&](auto& v, auto& p) { ReadPath(v, p, &up->cert); }},
            {"key", [&](auto& v, auto& p) { ReadPath(v, p, &up->key); }},
            {"server_name",
             [&](auto& v, auto& p) {
               if (ReadString(v, p, &up->server_name, /*allow_empty=*/false) &&
                   !std::all_of(up->server_name.begin(), up->server_name.end(), IsHostNameChar)) {
                 Error(v.loc, p, "expected a host name, got " + Quote(up->server_name));
               }
             }},
        });
    if (!visited) {
      return false;
    }
    const LocatedJson::Member* url = value.FindMember("url");
    const LocatedJson::Member* command = value.FindMember("command");
    if (url != nullptr && command != nullptr) {
      const LocatedJson::Member* second = url->key_loc < command->key_loc ? command : url;
      Error(second->key_loc, JsonPointerAppend(pointer, second->key),
            "an upstream has either \"url\" (HTTP) or \"command\" (stdio), not both");
    } else if (url == nullptr && command == nullptr) {
      Error(value.loc, pointer,
            "missing \"url\" (an HTTP upstream) or \"command\" (a stdio upstream)");
    } else if (url != nullptr) {
      up->kind = UpstreamConfig::Kind::kHttp;
      OnlyFor(value, pointer, {"env"}, "only applies to stdio upstreams (\"command\")");
      if (up->scheme == "http") {
        OnlyFor(value, pointer, {"ca", "cert", "key", "server_name"},
                "only applies to https:// upstreams");
      }
    } else {
      up->kind = UpstreamConfig::Kind::kStdio;
      OnlyFor(value, pointer,
              {"ca", "cert", "key", "server_name", "connect_timeout_ms", "pass_authorization"},
              "only applies to HTTP upstreams (\"url\")");
    }
    const LocatedJson::Member* cert = value.FindMember("cert");
    const LocatedJson::Member* key = value.FindMember("key");
    if ((cert == nullptr) != (key == nullptr)) {
      const LocatedJson::Member* present = cert != nullptr ? cert : key;
      Error(present->key_loc, JsonPointerAppend(pointer, present->key),
            "\"cert\" and \"key\" go together (the gateway's client certificate for this "
            "upstream)");
    }
    return out_->errors.size() == errors_before;
  }

  // Reports each of `keys` present in `object` as not applying there.
  void OnlyFor(const LocatedJson& object, const std::string& pointer,
               std::initializer_list<const char*> keys, const char* why) {
    for (const char* key : keys) {
      const LocatedJson::Member* member = object.FindMember(key);
      if (member != nullptr) {
        Error(member->key_loc, JsonPointerAppend(pointer, key), Quote(key) + " " + why);
      }
    }
  }

  void ReadCommand(const LocatedJson& value, const std::string& pointer,
                   std::vector<std::string>* out) {
    if (!value.is_array()) {
      TypeError(value, pointer, "an array of strings (program and arguments)");
      return;
    }
    if (value.items.empty()) {
      Error(value.loc, pointer, "needs at least the program to run");
      return;
    }
    for (size_t i = 0; i < value.items.size(); ++i) {
      std::string arg;
      if (ReadString(value.items[i], JsonPointerAppend(pointer, i), &arg, /*allow_empty=*/i > 0)) {
        // A program named by a relative path ("bin/server") is found next to the config, like
        // every other file it names; a bare name ("node") is looked up in PATH.
        if (i == 0 && arg.find('/') != std::string::npos) arg = Resolve(arg);
        out->push_back(arg);
      }
    }
  }

  void ReadOrigins(const LocatedJson& value, const std::string& pointer) {
    if (!value.is_array()) {
      TypeError(value, pointer, "an array of origins (\"https://app.example.com\")");
      return;
    }
    for (size_t i = 0; i < value.items.size(); ++i) {
      std::string origin;
      std::string item_pointer = JsonPointerAppend(pointer, i);
      if (!ReadString(value.items[i], item_pointer, &origin, /*allow_empty=*/false)) continue;
      if (origin != "*" &&
          (origin.find("://") == std::string::npos ||
           origin.find_first_of(" \t/", origin.find("://") + 3) != std::string::npos)) {
        Error(value.items[i].loc, item_pointer,
              "expected an origin like \"https://app.example.com\" (no path) or \"*\", got " +
                  Quote(origin));
        continue;
      }
      config_->allowed_origins.push_back(origin);
    }
  }

  void ReadEnv(const LocatedJson& value, const std::string& pointer,
               std::map<std::string, std::string>* out) {
    if (!value.is_object()) {
      TypeError(value, pointer, "an object mapping variable names to strings");
      return;
    }
    for (const LocatedJson::Member& member : value.members) {
      std::string var_pointer = JsonPointerAppend(pointer, member.key);
      if (member.key.empty() || member.key.find('=') != std::string::npos ||
          member.key.find('\0') != std::string::npos) {
        Error(member.key_loc, var_pointer,
              "invalid environment variable name " + Quote(member.key));
        continue;
      }
      std::string text;
      if (ReadString(member.value, var_pointer, &text)) {
        if (text.find('\0') != std::string::npos) {
          Error(member.value.loc, var_pointer, "environment values cannot contain NUL");
          continue;
        }
        (*out)[member.key] = text;
      }
    }
  }

  // --- audit, admin, limits ----------------------------------------------------------------

  void ReadAudit(const LocatedJson& value, const std::string& pointer) {
    AuditConfig& audit = config_->audit;
    VisitObject(
        value, pointer,
        {
            {"path",
             [&](auto& v, auto& p) {
               // "" = off, "-" = stdout, anything else a file next to the config.
               if (ReadString(v, p, &audit.path) && !audit.path.empty() && audit.path != "-") {
                 audit.path = Resolve(audit.path);
               }
             }},
            {"rotate_mb", [&](auto& v, auto& p) { ReadUint(v, p, 1, 1048576, &audit.rotate_mb); }},
            {"keep", [&](auto& v, auto& p) { ReadUint(v, p, 1, 10000, &audit.keep); }},
            {"fsync",
             [&](auto& v, auto& p) {
               if (ReadString(v, p, &audit.fsync) && audit.fsync != "none" &&
                   audit.fsync != "interval" && audit.fsync != "always") {
                 Error(v.loc, p, "must be \"none\", \"interval\" or \"always\"");
               }
             }},
            {"flush_interval_ms",
             [&](auto& v, auto& p) { ReadUint(v, p, 10, 60000, &audit.flush_interval_ms); }},
            {"queue_size", [&](auto& v, auto& p) { ReadUint(v, p, 16, 65536, &audit.queue_size); }},
        });
  }

  void ReadAnomalies(const LocatedJson& value, const std::string& pointer) {
    AnomalyConfig& a = config_->anomalies;
    auto window = [this](AnomalyConfig::Window* w) {
      return [this, w](const LocatedJson& v, const std::string& p) {
        VisitObject(
            v, p,
            {
                {"threshold",
                 [=, this](auto& v2, auto& p2) { ReadUint(v2, p2, 1, 1000000, &w->threshold); }},
                {"window_s",
                 [=, this](auto& v2, auto& p2) { ReadUint(v2, p2, 1, 86400, &w->window_s); }},
            });
      };
    };
    VisitObject(value, pointer,
                {
                    {"handshake_failures", window(&a.handshake_failures)},
                    {"non_tls", window(&a.non_tls)},
                    {"denials", window(&a.denials)},
                    {"malformed", window(&a.malformed)},
                    {"cert_expiry_days",
                     [&](auto& v, auto& p) { ReadUint(v, p, 0, 3650, &a.cert_expiry_days); }},
                });
  }

  void ReadAdmin(const LocatedJson& value, const std::string& pointer) {
    VisitObject(value, pointer,
                {
                    {"listen",
                     [&](auto& v, auto& p) {
                       std::string text;
                       if (!ReadString(v, p, &text) || text.empty()) {
                         config_->admin.listen.clear();
                         return;
                       }
                       ListenAddress address;
                       std::string error = ParseListenAddress(text, &address);
                       if (!error.empty()) {
                         Error(v.loc, p, error);
                         return;
                       }
                       config_->admin.listen = address.ToString();
                     }},
                });
  }

  void ReadLimits(const LocatedJson& value, const std::string& pointer) {
    Limits& limits = config_->limits;
    auto range = [&](uint32_t min, uint32_t max, uint32_t* out) {
      return
          [=, this](const LocatedJson& v, const std::string& p) { ReadUint(v, p, min, max, out); };
    };
    VisitObject(
        value, pointer,
        {
            {"max_connections", range(1, 1000000, &limits.max_connections)},
            {"max_header_bytes", range(1024, 1048576, &limits.max_header_bytes)},
            {"max_body_bytes", range(1024, 1u << 30, &limits.max_body_bytes)},
            {"header_timeout_ms", range(1, 3600000, &limits.header_timeout_ms)},
            {"idle_timeout_ms", range(1, 86400000, &limits.idle_timeout_ms)},
            {"stream_timeout_ms", range(1, 604800000, &limits.stream_timeout_ms)},
            {"drain_timeout_ms", range(1, 3600000, &limits.drain_timeout_ms)},
            {"max_json_depth", range(1, 1000, &limits.max_json_depth)},
            {"session_idle_timeout_ms", range(1, 604800000, &limits.session_idle_timeout_ms)},
        });
  }

  // --- access ------------------------------------------------------------------------------

  void ReadAccess(const LocatedJson& value, const std::string& pointer) {
    VisitObject(
        value, pointer,
        {
            {"allow", [this](auto& v, auto& p) { ReadCidrList(v, p, &config_->access.allow); }},
            {"deny", [this](auto& v, auto& p) { ReadCidrList(v, p, &config_->access.deny); }},
        });
  }

  void ReadCidrList(const LocatedJson& value, const std::string& pointer,
                    std::vector<CidrBlock>* out) {
    if (!value.is_array()) {
      TypeError(value, pointer, "an array of CIDR blocks, e.g. [\"10.0.0.0/8\", \"::1/128\"]");
      return;
    }
    if (value.items.empty() && out == &config_->access.allow) {
      // An empty allow list would read as "allow nobody" to some and "no filter" to others;
      // make the operator say which.
      Error(value.loc, pointer,
            "an empty allow list is ambiguous: remove the key to allow every address, or list "
            "the blocks to allow");
      return;
    }
    for (size_t i = 0; i < value.items.size(); ++i) {
      const LocatedJson& item = value.items[i];
      std::string item_pointer = JsonPointerAppend(pointer, i);
      std::string text;
      if (!ReadString(item, item_pointer, &text)) {
        continue;
      }
      Result<CidrBlock> block = reactor::ParseCidr(text);
      if (!block.ok()) {
        Error(item.loc, item_pointer, block.error());
        continue;
      }
      out->push_back(std::move(block).value());
    }
  }

  ConfigLoad* out_;
  Config* config_;
  std::string file_;
  fs::path base_dir_;
  std::vector<ConfigError> warnings_;
};

// The absolute, lexically normal path of the file. Symbolic links are deliberately not
// resolved: with Kubernetes ConfigMap mounts the file is a link into a timestamped folder
// that is replaced on every update, and relative paths must stay next to the visible name.
fs::path AbsoluteFile(const std::string& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) {
    absolute = fs::path(path);
  }
  return absolute.lexically_normal();
}

}  // namespace

ConfigLoad ParseConfig(const std::string& path, const std::string& text) {
  ConfigLoad load;
  fs::path file = AbsoluteFile(path);
  load.config.file = file.string();
  load.config.base_dir = file.parent_path().string();

  JsonParseError parse_error;
  Result<LocatedJson> root = ParseLocatedJson(text, kMaxConfigDepth, &parse_error);
  if (!root.ok()) {
    load.errors.push_back(ConfigError{load.config.file, parse_error.loc.line, parse_error.loc.col,
                                      "", parse_error.message});
    return load;
  }
  Loader loader(&load, load.config.file, file.parent_path());
  loader.Load(*root);
  loader.Finish();
  return load;
}

ConfigLoad LoadConfig(const std::string& path) {
  auto fail = [&](std::string message) {
    ConfigLoad load;
    load.config.file = path.empty() ? path : AbsoluteFile(path).string();
    load.errors.push_back(ConfigError{load.config.file, 0, 0, "", std::move(message)});
    return load;
  };
  if (path.empty()) {
    return fail("no configuration file given");
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return fail("is a directory, not a configuration file");
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return fail(std::string("cannot open: ") + std::strerror(errno));
  }
  std::string text;
  char buffer[16384];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0) {
    text.append(buffer, n);
    if (text.size() > kMaxConfigBytes) {
      std::fclose(f);
      return fail("larger than " + std::to_string(kMaxConfigBytes >> 20) +
                  " MiB; is this the right file?");
    }
  }
  bool read_error = std::ferror(f) != 0;
  int saved_errno = errno;
  std::fclose(f);
  if (read_error) {
    return fail(std::string("cannot read: ") + std::strerror(saved_errno));
  }
  return ParseConfig(path, text);
}

}  // namespace portcullis

namespace portcullis {

std::vector<ConfigError> CheckReferencedFiles(const Config& config) {
  std::vector<ConfigError> errors;
  for (const FileReference& ref : config.files) {
    std::string problem;
    std::error_code ec;
    if (!fs::exists(ref.path, ec)) {
      problem = "no such file";
    } else if (!fs::is_regular_file(ref.path, ec)) {
      problem = "not a regular file";
    } else if (std::FILE* f = std::fopen(ref.path.c_str(), "rb")) {
      std::fclose(f);
    } else {
      problem = std::string("cannot open: ") + std::strerror(errno);
    }
    if (!problem.empty()) {
      errors.push_back({config.file, ref.line, ref.col, ref.pointer, ref.path + ": " + problem});
    }
  }
  return errors;
}

std::string LocateFileMessage(const Config& config, const std::string& message) {
  for (const FileReference& ref : config.files) {
    if (message.find(ref.path) != std::string::npos) {
      return config.file + ":" + std::to_string(ref.line) + ":" + std::to_string(ref.col) + ": ";
    }
  }
  return "";
}

}  // namespace portcullis
