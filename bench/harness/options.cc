#include "bench/harness/options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gateway/cli/diagnose_command.h"

namespace portcullis::bench {
namespace {

constexpr char kUsage[] =
    "usage: portcullis-bench MODE HOST:PORT [flags]\n"
    "\n"
    "Load and handshake harness for any TLS endpoint (Portcullis, nginx, HAProxy, ...).\n"
    "HOST:PORT as for `portcullis diagnose`: 127.0.0.1:8443, [::1]:8443, name:443.\n"
    "\n"
    "Modes:\n"
    "  handshake   full TLS handshakes, or resumed ones with --resume; each connection\n"
    "              closes after the server accepted it (TLS 1.3: its answer to our\n"
    "              close_notify, since a 1.3 server judges the client certificate last)\n"
    "  request     keep-alive connections POSTing a JSON-RPC body to --path\n"
    "  idle        opens --count connections, completes their handshakes, holds them\n"
    "              --hold seconds (for memory per connection with --server-pid)\n"
    "\n"
    "TLS:\n"
    "  --ca FILE            trust anchors (PEM) for the server (default: the system's)\n"
    "  --insecure           do not verify the server's certificate\n"
    "  --cert FILE --key FILE  client certificate chain and key (mutual TLS)\n"
    "  --sni NAME           SNI and the name the server's certificate must carry\n"
    "                       (default: HOST; no SNI is sent for an address)\n"
    "  --tls 1.2|1.3        this version only (default: the highest both sides offer)\n"
    "  --ciphers LIST       wolfSSL cipher list (default: the gateway's AEAD/ECDHE list)\n"
    "  --resume             handshake: resume (TLS 1.3 tickets, TLS 1.2 session ids); each\n"
    "                       connection slot first makes one full handshake, not counted\n"
    "  --plain              request: plain HTTP over TCP, no TLS (e.g. straight to a proxy's\n"
    "                       upstream, to see what the proxy adds); excludes the flags above\n"
    "Load (every run is bounded by --count and/or --duration):\n"
    "  --count N            operations to attempt: handshakes, requests, idle connections\n"
    "  --duration S         seconds of measurement (default 10 when --count is not given)\n"
    "  --concurrency N      connections in flight (default 4; idle: handshakes in flight)\n"
    "  --threads N          client threads, each with its own event loop (default 1)\n"
    "  --rate R             request: open loop at R requests/s over all connections; latency\n"
    "                       counts from the scheduled send time (no coordinated omission)\n"
    "  --timeout-ms N       per handshake and per request (default 10000)\n"
    "  --hold S             idle: seconds to hold the connections open (default 10)\n"
    "Requests:\n"
    "  --path P             default /mcp/example\n"
    "  --body-file F        the JSON-RPC body to POST (default: tools/call of echo, stateless\n"
    "                       2026-07-28 form, or the session form with --init)\n"
    "  --header 'K: V'      extra request header (repeatable), e.g. Mcp-Session-Id\n"
    "  --init               per connection, initialize + notifications/initialized first and\n"
    "                       send the returned Mcp-Session-Id (sessionful MCP servers)\n"
    "  --sse                time to first event and event spacing of text/event-stream\n"
    "                       replies (default body: slow_count with progress)\n"
    "Output:\n"
    "  --server-pid PID     the server's CPU us per operation (/proc/PID/stat utime+stime)\n"
    "                       and RSS change (/proc/PID/status VmRSS)\n"
    "  --json               one JSON object on stdout instead of the report\n"
    "  --quiet              no progress lines on stderr (otherwise one a second)\n"
    "\n"
    "Exit status: 0 when every operation succeeded, 1 when some failed, 2 usage or setup.\n";

Result<uint64_t> ParseUnsigned(const std::string& flag, const std::string& text, uint64_t min,
                               uint64_t max) {
  errno = 0;
  char* end = nullptr;
  unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || text[0] == '-' || errno != 0 || end != text.c_str() + text.size() ||
      value < min || value > max) {
    return Status::Error(flag + ": expected an integer in " + std::to_string(min) + ".." +
                         std::to_string(max) + ", got \"" + text + "\"");
  }
  return static_cast<uint64_t>(value);
}

Result<double> ParseSeconds(const std::string& flag, const std::string& text, double max) {
  errno = 0;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || errno != 0 || end != text.c_str() + text.size() || !std::isfinite(value) ||
      value <= 0 || value > max) {
    std::ostringstream range;
    range << max;
    return Status::Error(flag + ": expected a number > 0 and <= " + range.str() + ", got \"" +
                         text + "\"");
  }
  return value;
}

Result<std::pair<std::string, std::string>> ParseHeader(const std::string& text) {
  size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::Error("--header: expected 'Name: value', got \"" + text + "\"");
  }
  if (text.find_first_of("\r\n") != std::string::npos) {
    return Status::Error("--header: no line breaks allowed");
  }
  std::string name = text.substr(0, colon);
  if (name.find_first_of(" \t") != std::string::npos) {
    return Status::Error("--header: no spaces allowed in a header name: \"" + name + "\"");
  }
  size_t start = text.find_first_not_of(" \t", colon + 1);
  std::string value = start == std::string::npos ? "" : text.substr(start);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
    value.pop_back();
  }
  return std::make_pair(name, value);
}

Result<std::string> ReadBody(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::Error("--body-file " + path + ": cannot open");
  }
  std::string body;
  char buf[65536];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    body.append(buf, static_cast<size_t>(in.gcount()));
    if (body.size() > kMaxBodyBytes) {
      return Status::Error("--body-file " + path + ": larger than 16 MiB");
    }
  }
  return body;
}

}  // namespace

std::string_view UsageText() { return kUsage; }

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kHandshake:
      return "handshake";
    case Mode::kRequest:
      return "request";
    case Mode::kIdle:
      return "idle";
  }
  return "?";
}

Result<BenchOptions> ParseOptions(const std::vector<std::string>& args, bool* help) {
  *help = false;
  BenchOptions o;
  std::vector<std::string> positional;
  // Flags seen, to reject the ones that mean nothing in the chosen mode.
  bool has_rate = false, has_hold = false, has_request_flags = false, has_tls_flags = false;

  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    bool inline_value = false;
    if (flag.rfind("--", 0) == 0) {
      if (size_t eq = flag.find('='); eq != std::string::npos) {
        value = flag.substr(eq + 1);
        flag = flag.substr(0, eq);
        inline_value = true;
      }
    } else {
      positional.push_back(flag);
      continue;
    }
    auto take = [&]() -> Result<std::string> {
      if (inline_value) {
        return value;
      }
      if (i + 1 >= args.size()) {
        return Status::Error(flag + ": missing value");
      }
      return args[++i];
    };
    auto no_value = [&]() -> Status {
      return inline_value ? Status::Error(flag + " takes no value") : Status::Ok();
    };
#define PORTCULLIS_TAKE(var)        \
  Result<std::string> var = take(); \
  if (!var.ok()) return var.status()

    if (flag == "--help" || flag == "-h") {
      *help = true;
      return o;
    } else if (flag == "--ca") {
      PORTCULLIS_TAKE(v);
      o.ca_file = *v;
      has_tls_flags = true;
    } else if (flag == "--insecure") {
      if (Status s = no_value(); !s.ok()) return s;
      o.insecure = true;
      has_tls_flags = true;
    } else if (flag == "--cert") {
      PORTCULLIS_TAKE(v);
      o.cert_file = *v;
      has_tls_flags = true;
    } else if (flag == "--key") {
      PORTCULLIS_TAKE(v);
      o.key_file = *v;
      has_tls_flags = true;
    } else if (flag == "--sni" || flag == "--servername") {
      PORTCULLIS_TAKE(v);
      o.sni = *v;
      has_tls_flags = true;
    } else if (flag == "--tls") {
      PORTCULLIS_TAKE(v);
      if (*v != "1.2" && *v != "1.3") {
        return Status::Error("--tls: expected 1.2 or 1.3, got \"" + *v + "\"");
      }
      o.tls_version = *v;
      has_tls_flags = true;
    } else if (flag == "--ciphers") {
      PORTCULLIS_TAKE(v);
      o.ciphers = *v;
      has_tls_flags = true;
    } else if (flag == "--resume") {
      if (Status s = no_value(); !s.ok()) return s;
      o.resume = true;
      has_tls_flags = true;
    } else if (flag == "--plain") {
      if (Status s = no_value(); !s.ok()) return s;
      o.plain = true;
    } else if (flag == "--count") {
      PORTCULLIS_TAKE(v);
      Result<uint64_t> n = ParseUnsigned(flag, *v, 1, kMaxCount);
      if (!n.ok()) return n.status();
      o.count = *n;
    } else if (flag == "--duration") {
      PORTCULLIS_TAKE(v);
      Result<double> s = ParseSeconds(flag, *v, kMaxSeconds);
      if (!s.ok()) return s.status();
      o.duration_s = *s;
    } else if (flag == "--concurrency") {
      PORTCULLIS_TAKE(v);
      Result<uint64_t> n = ParseUnsigned(flag, *v, 1, kMaxConcurrency);
      if (!n.ok()) return n.status();
      o.concurrency = static_cast<uint32_t>(*n);
    } else if (flag == "--threads") {
      PORTCULLIS_TAKE(v);
      Result<uint64_t> n = ParseUnsigned(flag, *v, 1, kMaxThreads);
      if (!n.ok()) return n.status();
      o.threads = static_cast<uint32_t>(*n);
    } else if (flag == "--rate") {
      PORTCULLIS_TAKE(v);
      Result<double> r = ParseSeconds(flag, *v, kMaxRate);
      if (!r.ok()) return r.status();
      o.rate = *r;
      has_rate = true;
    } else if (flag == "--timeout-ms") {
      PORTCULLIS_TAKE(v);
      Result<uint64_t> n = ParseUnsigned(flag, *v, 1, 3600000);
      if (!n.ok()) return n.status();
      o.timeout_ms = static_cast<uint32_t>(*n);
    } else if (flag == "--hold") {
      PORTCULLIS_TAKE(v);
      Result<double> s = ParseSeconds(flag, *v, kMaxSeconds);
      if (!s.ok()) return s.status();
      o.hold_s = *s;
      has_hold = true;
    } else if (flag == "--path") {
      PORTCULLIS_TAKE(v);
      if (v->empty() || (*v)[0] != '/' || v->find_first_of(" \r\n") != std::string::npos) {
        return Status::Error("--path: expected an absolute path without spaces, got \"" + *v +
                             "\"");
      }
      o.path = *v;
      has_request_flags = true;
    } else if (flag == "--body-file") {
      PORTCULLIS_TAKE(v);
      o.body_file = *v;
      has_request_flags = true;
    } else if (flag == "--header") {
      PORTCULLIS_TAKE(v);
      auto header = ParseHeader(*v);
      if (!header.ok()) return header.status();
      o.headers.push_back(*header);
      has_request_flags = true;
    } else if (flag == "--init") {
      if (Status s = no_value(); !s.ok()) return s;
      o.init = true;
      has_request_flags = true;
    } else if (flag == "--sse") {
      if (Status s = no_value(); !s.ok()) return s;
      o.sse = true;
      has_request_flags = true;
    } else if (flag == "--server-pid") {
      PORTCULLIS_TAKE(v);
      Result<uint64_t> n = ParseUnsigned(flag, *v, 1, 0x7fffffff);
      if (!n.ok()) return n.status();
      o.server_pid = static_cast<int>(*n);
    } else if (flag == "--json") {
      if (Status s = no_value(); !s.ok()) return s;
      o.json = true;
    } else if (flag == "--quiet") {
      if (Status s = no_value(); !s.ok()) return s;
      o.quiet = true;
    } else {
      return Status::Error("unknown flag " + flag);
    }
#undef PORTCULLIS_TAKE
  }

  if (positional.size() != 2) {
    return Status::Error(positional.empty() ? "missing MODE and HOST:PORT"
                         : positional.size() == 1
                             ? "missing HOST:PORT"
                             : "unexpected argument \"" + positional[2] + "\"");
  }
  if (positional[0] == "handshake") {
    o.mode = Mode::kHandshake;
  } else if (positional[0] == "request") {
    o.mode = Mode::kRequest;
  } else if (positional[0] == "idle") {
    o.mode = Mode::kIdle;
  } else {
    return Status::Error("unknown mode \"" + positional[0] + "\": handshake, request or idle");
  }
  Result<cli::DiagnoseTarget> target = cli::ParseDiagnoseTarget(positional[1]);
  if (!target.ok()) {
    return target.status();
  }
  o.host = target->host;
  o.port = target->port;

  if (o.plain && o.mode != Mode::kRequest) {
    return Status::Error("--plain is for the request mode (handshake and idle measure TLS itself)");
  }
  if (o.plain && has_tls_flags) {
    return Status::Error(
        "--plain sends no TLS: --ca, --insecure, --cert, --key, --sni, --tls, --ciphers and "
        "--resume do not apply");
  }
  if (o.cert_file.empty() != o.key_file.empty()) {
    return Status::Error("--cert and --key go together");
  }
  if (o.insecure && !o.ca_file.empty()) {
    return Status::Error("--insecure and --ca contradict each other");
  }
  if (o.resume && o.mode != Mode::kHandshake) {
    return Status::Error("--resume is for the handshake mode");
  }
  if (has_rate && o.mode != Mode::kRequest) {
    return Status::Error("--rate is for the request mode");
  }
  if (has_request_flags && o.mode != Mode::kRequest) {
    return Status::Error(
        "--path, --body-file, --header, --init and --sse are for the request "
        "mode");
  }
  if (o.mode == Mode::kIdle) {
    if (o.duration_s > 0) {
      return Status::Error("idle: the number of connections is --count; --hold says how long");
    }
    if (o.count == 0) {
      o.count = 100;
    }
    if (o.count > kMaxIdleConnections) {
      return Status::Error("idle: --count is capped at " + std::to_string(kMaxIdleConnections));
    }
  } else {
    if (has_hold) {
      return Status::Error("--hold is for the idle mode");
    }
    if (o.count == 0 && o.duration_s == 0) {
      o.duration_s = 10;
    }
    if (o.threads > o.concurrency) {
      return Status::Error("--threads (" + std::to_string(o.threads) +
                           ") must not exceed --concurrency (" + std::to_string(o.concurrency) +
                           ")");
    }
  }
  if (!o.body_file.empty()) {
    Result<std::string> body = ReadBody(o.body_file);
    if (!body.ok()) {
      return body.status();
    }
    o.body = std::move(body).value();
  }
  return o;
}

}  // namespace portcullis::bench
