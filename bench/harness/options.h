// BenchOptions: what one run of portcullis-bench is asked to do, parsed from its command line.
//
// `portcullis-bench MODE HOST:PORT [flags]`; the target is positional, with the same syntax as
// `portcullis diagnose` ("127.0.0.1:8443", "[::1]:8443", "name:443"). Every run is bounded:
// by --count and/or --duration (a default duration when neither is given), and by hard caps on
// concurrency, connections, threads and rates checked here, so a typo cannot open a million
// sockets. Plain values; thread-safe to read once parsed.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "portcullis/result.h"

namespace portcullis::bench {

enum class Mode { kHandshake, kRequest, kIdle };

// Hard caps (docs/BENCHMARKS.md, "portcullis-bench").
inline constexpr uint32_t kMaxConcurrency = 10000;
inline constexpr uint32_t kMaxIdleConnections = 50000;
inline constexpr uint32_t kMaxThreads = 64;
inline constexpr uint64_t kMaxCount = 1000000000;
inline constexpr double kMaxSeconds = 86400;
inline constexpr double kMaxRate = 1000000;
inline constexpr size_t kMaxBodyBytes = 16 << 20;

struct BenchOptions {
  Mode mode = Mode::kHandshake;
  std::string host;  // without brackets
  uint16_t port = 0;

  // TLS.
  std::string ca_file;      // trust anchors; empty = the system's
  bool insecure = false;    // no verification of the server at all
  std::string cert_file;    // client certificate chain (mTLS) ...
  std::string key_file;     // ... and its key
  std::string sni;          // SNI and the name verified; empty = host (no SNI for an address)
  std::string tls_version;  // "" (1.2 or 1.3, the highest both offer), "1.2" or "1.3"
  std::string ciphers;      // wolfSSL cipher list; empty = the gateway's defaults
  bool resume = false;      // handshake: resume sessions (tickets / session ids)
  // request: plain HTTP over TCP, no TLS at all (the baseline a TLS proxy's cost is measured
  // against: the same requests sent straight to its upstream).
  bool plain = false;

  // Load.
  uint32_t threads = 1;
  uint32_t concurrency = 4;  // connections in flight (idle: handshakes in flight while opening)
  uint64_t count = 0;        // 0 = bounded by duration only
  double duration_s = 0;     // 0 = bounded by count only
  double rate = 0;           // request: open-loop requests/s over all connections; 0 = closed loop
  uint32_t timeout_ms = 10000;  // per handshake, per request
  double hold_s = 10;           // idle: how long the connections stay open

  // Requests.
  std::string path = "/mcp/example";
  std::string body_file;  // empty = a tools/call of echo (slow_count with --sse)
  std::string body;       // the file's contents once read
  std::vector<std::pair<std::string, std::string>> headers;
  bool init = false;  // initialize + notifications/initialized per connection first
  bool sse = false;   // measure time to first event and event spacing

  // Output.
  int server_pid = 0;
  bool json = false;
  bool quiet = false;  // no progress on stderr
};

// Parses argv[1..]. A failure carries a one-line message for the user (the caller prints the
// usage after it). --help is reported through `help`.
Result<BenchOptions> ParseOptions(const std::vector<std::string>& args, bool* help);

std::string_view UsageText();
std::string_view ModeName(Mode mode);

}  // namespace portcullis::bench
