// Config: the validated gateway configuration (DESIGN §4), a plain value.
//
// LoadConfig (gateway/config/config_loader.cc) turns one JSON file (comments and trailing
// commas allowed) into a Config, or into every error it found, each located as
// file:line:col. Paths in the result are absolute (resolved against the config file's
// folder). A Config is immutable once loaded and shared read-only between threads.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "portcullis/result.h"

namespace portcullis {

struct ListenAddress {
  std::string host;   // literal IPv4 or IPv6 address, without brackets ("0.0.0.0", "::1")
  uint16_t port = 0;  // 0 = any free port (tests); the bound port is logged
  std::string ToString() const;  // "127.0.0.1:8443", "[::1]:8443"
};

struct TlsConfig {
  std::string cert;
  std::string key;
  std::vector<std::string> client_ca;  // at least one; clients must chain to one of these
  std::vector<std::string> crl;        // PEM CRL files
  std::string min_version = "1.2";     // "1.2" or "1.3"
  std::string ciphers;                 // TLS 1.2 list (OpenSSL names); empty = safe default
  std::string ciphersuites;            // TLS 1.3 list; empty = safe default
  bool session_tickets = false;        // see docs/ARCHITECTURE.md "Resumption"
  std::string ticket_key_file;         // empty = none
  uint32_t handshake_timeout_ms = 10000;
  uint32_t verify_depth = 4;
};

struct UpstreamConfig {
  enum class Kind { kHttp, kStdio };
  std::string name;
  Kind kind = Kind::kHttp;
  // kHttp: "url" split into parts.
  std::string url;
  std::string scheme;  // "http" or "https"
  std::string host;    // host name or literal address, without brackets
  uint16_t port = 0;
  std::string path;                        // "/mcp"; always starts with '/'
  std::string ca, cert, key, server_name;  // https upstreams (upstream mTLS)
  // kStdio: argv and the only environment the child gets (plus PATH and HOME).
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  uint32_t max_sessions = 64;
  uint32_t connect_timeout_ms = 5000;
  uint32_t response_timeout_ms = 60000;  // until the upstream's response headers arrive
  bool pass_authorization = false;       // forward the client's Authorization header (off: never)
};

struct AuditConfig {
  std::string path;  // empty = audit off; "-" = stdout
  uint32_t rotate_mb = 100;
  uint32_t keep = 10;
  std::string fsync = "interval";  // "none", "interval" (each periodic flush), "always"
  uint32_t flush_interval_ms = 1000;
  uint32_t queue_size = 8192;  // records; a full queue blocks producers, never drops
};

// Anomaly detectors (DESIGN §5): each fires once per window per subject when its count
// reaches the threshold.
struct AnomalyConfig {
  struct Window {
    uint32_t threshold;
    uint32_t window_s;
  };
  Window handshake_failures{10, 60};  // per peer address
  Window non_tls{3, 60};              // plaintext or other bytes on the TLS port, per address
  Window denials{10, 60};             // policy denials per identity (tool probing)
  Window malformed{5, 60};         // bad JSON, batches, header mismatches, oversized, per address
  uint32_t cert_expiry_days = 14;  // a client certificate expiring this soon
};

// One CIDR block of an access list ("10.0.0.0/8", "::1/128"), parsed and validated by the
// loader (gateway/reactor/address_filter.h ParseCidr).
struct CidrBlock {
  std::string text;                   // canonical form, for logs and audit records
  int family = 4;                     // 4 or 6
  std::array<uint8_t, 16> address{};  // network order, host bits zero; IPv4 in the first 4
  uint8_t prefix_length = 0;          // 0..32 or 0..128
};

// "access": address filtering on the TLS listener, before the handshake (like nginx's
// allow/deny): a deny match refuses; a non-empty allow list refuses what it does not match;
// IPv4-mapped IPv6 peers are judged as IPv4. Both lists empty = every address may connect.
struct AccessConfig {
  std::vector<CidrBlock> allow;
  std::vector<CidrBlock> deny;
  bool empty() const { return allow.empty() && deny.empty(); }
};

struct AdminConfig {
  std::string listen;  // empty = no admin listener
};

struct Limits {
  uint32_t max_connections = 10000;  // per gateway, split evenly between reactors
  uint32_t max_header_bytes = 16384;
  uint32_t max_body_bytes = 4194304;
  uint32_t header_timeout_ms = 10000;
  uint32_t idle_timeout_ms = 300000;
  uint32_t stream_timeout_ms = 3600000;
  uint32_t drain_timeout_ms = 30000;  // SIGTERM: how long in-flight requests may take
  uint32_t max_json_depth = 64;
  // A session the gateway runs itself (a stdio process, a legacy SSE bridge) with no request
  // waiting and no stream open ends after this long.
  uint32_t session_idle_timeout_ms = 600000;
};

// Where the config names a file the gateway reads (certificates, keys, CAs, CRLs, policy),
// so that a missing or unreadable file can be reported at the key that names it.
struct FileReference {
  std::string path;  // absolute
  int line = 0;
  int col = 0;
  std::string pointer;
};

struct Config {
  std::string file;      // absolute path of the config file
  std::string base_dir;  // its folder
  std::vector<ListenAddress> listen;
  uint32_t reactors = 0;  // 0 = one per CPU (resolved by the loader to >= 1)
  TlsConfig tls;
  std::map<std::string, UpstreamConfig> upstreams;
  std::string policy;  // absolute path, or empty
  AuditConfig audit;
  AnomalyConfig anomalies;
  AdminConfig admin;
  Limits limits;
  AccessConfig access;
  // Browser origins allowed to call the gateway (DESIGN §4a): a request whose Origin header is
  // not listed gets 403 (DNS rebinding, drive-by pages). MCP clients that are not browsers send
  // no Origin and are not affected. Exact "scheme://host[:port]" values, or "*" for any.
  std::vector<std::string> allowed_origins;
  std::vector<FileReference> files;
  // Non-fatal findings (e.g. a key whose feature is not built yet), each "file:line:col: ...".
  std::vector<std::string> warnings;

  const UpstreamConfig* FindUpstream(const std::string& name) const {
    auto it = upstreams.find(name);
    return it == upstreams.end() ? nullptr : &it->second;
  }
};

struct ConfigError {
  std::string file;
  int line = 0;
  int col = 0;
  std::string pointer;  // JSON pointer of the offending value, e.g. "/tls/min_version"
  std::string message;
  // "file:line:col: /pointer: message"
  std::string ToString() const;
};

struct ConfigLoad {
  bool ok() const { return errors.empty(); }
  Config config;                    // valid only when ok()
  std::vector<ConfigError> errors;  // all of them, in file order
};

// Reads, parses and validates the file at `path`. Never throws; I/O errors are errors too.
ConfigLoad LoadConfig(const std::string& path);
// Same from text already in memory; `path` is used for messages and relative paths.
ConfigLoad ParseConfig(const std::string& path, const std::string& text);

// Checks that every file the config names (Config::files) is a readable regular file; one
// located error per file that is not. Touches the file system, nothing else.
std::vector<ConfigError> CheckReferencedFiles(const Config& config);
// "file:line:col: " for the reference whose path appears in `message`, or "".
std::string LocateFileMessage(const Config& config, const std::string& message);

}  // namespace portcullis
