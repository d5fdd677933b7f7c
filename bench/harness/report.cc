#include "bench/harness/report.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstdio>
#include <sstream>

namespace portcullis::bench {
namespace {

std::string Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
  return buf;
}

// "850 µs", "9.41 ms", "1.20 s": three significant digits are all a benchmark can claim.
std::string Duration(uint64_t ns) {
  double us = static_cast<double>(ns) / 1000.0;
  if (us < 1000) {
    return Fixed(us, us < 10 ? 1 : 0) + " µs";
  }
  double ms = us / 1000.0;
  if (ms < 1000) {
    return Fixed(ms, ms < 10 ? 2 : ms < 100 ? 1 : 0) + " ms";
  }
  return Fixed(ms / 1000.0, 2) + " s";
}

std::string Mib(uint64_t kb) { return Fixed(static_cast<double>(kb) / 1024.0, 1) + " MiB"; }

const char* OperationName(Mode mode) {
  switch (mode) {
    case Mode::kHandshake:
      return "handshake";
    case Mode::kRequest:
      return "request";
    case Mode::kIdle:
      return "connection";
  }
  return "operation";
}

double PerSecond(const Report& r) { return r.elapsed_s > 0 ? r.stats.ok / r.elapsed_s : 0; }

int64_t RssDeltaKb(const ServerUsage& s) {
  return static_cast<int64_t>(s.after.rss_kb) - static_cast<int64_t>(s.before.rss_kb);
}

uint64_t CpuUs(const ServerUsage& s) {
  return s.after.cpu_us >= s.before.cpu_us ? s.after.cpu_us - s.before.cpu_us : 0;
}

std::string LatencyLine(const LatencyHistogram& h) {
  return "p50 " + Duration(h.Percentile(50)) + "   p90 " + Duration(h.Percentile(90)) + "   p99 " +
         Duration(h.Percentile(99)) + "   max " + Duration(h.max_ns()) + "   (mean " +
         Duration(static_cast<uint64_t>(h.mean_ns())) + ")";
}

void ReasonLines(std::ostringstream& out, const char* label,
                 const std::map<std::string, uint64_t>& reasons,
                 const std::map<std::string, std::string>& details) {
  bool first = true;
  for (const auto& [reason, n] : reasons) {
    out << "  " << (first ? label : "            ") << reason << " " << n;
    if (auto it = details.find(reason); it != details.end() && !it->second.empty()) {
      out << "  (" << it->second << ")";
    }
    out << "\n";
    first = false;
  }
}

// ---- JSON ---------------------------------------------------------------------------------

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void Key(JsonWriter& w, const char* key) { w.Key(key); }
void Str(JsonWriter& w, const std::string& s) {
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
}
// Microseconds with one decimal.
void Us(JsonWriter& w, double ns) { w.Double(std::round(ns / 100.0) / 10.0); }

void CountMap(JsonWriter& w, const std::map<std::string, uint64_t>& m) {
  w.StartObject();
  for (const auto& [k, n] : m) {
    Str(w, k);
    w.Uint64(n);
  }
  w.EndObject();
}

void Histogram(JsonWriter& w, const LatencyHistogram& h) {
  w.StartObject();
  Key(w, "count");
  w.Uint64(h.count());
  Key(w, "min");
  Us(w, static_cast<double>(h.min_ns()));
  Key(w, "mean");
  Us(w, h.mean_ns());
  Key(w, "p50");
  Us(w, static_cast<double>(h.Percentile(50)));
  Key(w, "p90");
  Us(w, static_cast<double>(h.Percentile(90)));
  Key(w, "p99");
  Us(w, static_cast<double>(h.Percentile(99)));
  Key(w, "max");
  Us(w, static_cast<double>(h.max_ns()));
  w.EndObject();
}

void TlsSettings(JsonWriter& w, const BenchOptions& o) {
  w.StartObject();
  Key(w, "version");
  Str(w, o.tls_version.empty() ? "any" : o.tls_version);
  Key(w, "mtls");
  w.Bool(!o.cert_file.empty());
  Key(w, "resume");
  w.Bool(o.resume);
  Key(w, "verify");
  w.Bool(!o.insecure);
  w.EndObject();
}

}  // namespace

std::string RenderText(const Report& r) {
  const BenchOptions& o = r.options;
  const RunStats& s = r.stats;
  std::ostringstream out;
  out << "portcullis-bench " << ModeName(o.mode) << " " << r.target << ": ";
  if (o.plain) {
    out << "plain HTTP, no TLS\n";
  } else {
    out << "TLS " << (o.tls_version.empty() ? "1.2/1.3" : o.tls_version)
        << (o.cert_file.empty() ? ", server-only TLS" : ", mutual TLS")
        << (o.resume ? ", resumed handshakes" : "") << "\n";
  }

  out << "  load        " << o.threads << (o.threads == 1 ? " thread" : " threads");
  if (o.mode == Mode::kIdle) {
    out << ", " << o.count << " connections, " << o.concurrency << " handshakes at a time, hold "
        << Fixed(o.hold_s, 1) << " s\n";
  } else {
    out << ", concurrency " << o.concurrency;
    if (o.count > 0) {
      out << ", count " << o.count;
    }
    if (o.duration_s > 0) {
      out << ", duration " << Fixed(o.duration_s, 1) << " s";
    }
    if (o.rate > 0) {
      out << ", open loop at " << Fixed(o.rate, 1) << "/s";
    }
    out << "\n";
  }

  std::string versions;
  for (const auto& [v, n] : s.versions) {
    versions += (versions.empty() ? "" : ", ") + v + " " + std::to_string(n);
  }
  switch (o.mode) {
    case Mode::kHandshake:
      out << "  handshakes  " << s.ok << " ok, " << s.failures << " failed in "
          << Fixed(r.elapsed_s, 2) << " s: " << Fixed(PerSecond(r), 1) << "/s\n";
      if (o.resume) {
        out << "  resumed     " << s.resumed << " of " << s.ok << "\n";
      }
      if (!versions.empty()) {
        out << "  versions    " << versions << "\n";
      }
      if (s.without_close_notify > 0) {
        out << "  unconfirmed " << s.without_close_notify
            << " of them closed without close_notify: a refusal without an alert would look "
               "the same\n";
      }
      break;
    case Mode::kRequest: {
      out << "  requests    " << s.ok << " ok, " << s.failures << " failed in "
          << Fixed(r.elapsed_s, 2) << " s: " << Fixed(PerSecond(r), 1) << "/s\n";
      std::string status;
      for (const auto& [code, n] : s.status) {
        status += (status.empty() ? "" : ", ") + std::to_string(code) + " " + std::to_string(n);
      }
      if (!status.empty()) {
        out << "  status      " << status << "\n";
      }
      if (s.connections > 0) {
        out << "  reconnects  " << s.connections << " connections opened during the run\n";
      }
      if (o.rate > 0) {
        out << "  backlog     " << s.backlog
            << " due requests never sent (a free connection never came in time)\n";
      }
      break;
    }
    case Mode::kIdle:
      out << "  opened      " << s.ok << " of " << o.count << " in " << Fixed(r.elapsed_s, 2)
          << " s; " << s.open_at_end << " still open after the hold\n";
      if (!versions.empty()) {
        out << "  versions    " << versions << "\n";
      }
      break;
  }
  if (s.latency.count() > 0) {
    out << "  latency     " << LatencyLine(s.latency) << "\n";
  }
  if (o.sse || s.sse_replies > 0) {
    out << "  sse         " << s.sse_replies << " event-stream replies, " << s.sse_events
        << " events\n";
    if (s.sse_first_event.count() > 0) {
      out << "  1st event   " << LatencyLine(s.sse_first_event) << "\n";
    }
    if (s.sse_event_gap.count() > 0) {
      out << "  spacing     " << LatencyLine(s.sse_event_gap) << "\n";
    }
  }
  if (r.server) {
    const ServerUsage& u = *r.server;
    uint64_t cpu = CpuUs(u);
    out << "  server      pid " << u.pid << ": ";
    if (s.ok > 0) {
      out << Fixed(static_cast<double>(cpu) / s.ok, 1) << " µs CPU per " << OperationName(o.mode)
          << " (" << Fixed(cpu / 1000.0, 0) << " ms in all); ";
    } else {
      out << Fixed(cpu / 1000.0, 0) << " ms CPU; ";
    }
    int64_t delta = RssDeltaKb(u);
    out << "RSS " << Mib(u.before.rss_kb) << " -> " << Mib(u.after.rss_kb) << " ("
        << (delta >= 0 ? "+" : "") << Fixed(delta / 1024.0, 1) << " MiB";
    if (o.mode == Mode::kIdle && s.ok > 0) {
      out << ", " << Fixed(static_cast<double>(delta) / s.ok, 1) << " KiB per connection";
    }
    out << ")\n";
  }
  ReasonLines(out, "failures    ", s.failure_reasons, s.failure_details);
  if (s.setup_failures > 0) {
    out << "  setup       " << s.setup_failures
        << " connection setups failed before the measurement:\n";
    ReasonLines(out, "            ", s.setup_failure_reasons, s.failure_details);
  }
  if (s.closed_early > 0) {
    out << "  closed      " << s.closed_early << " by the server during the hold:\n";
    ReasonLines(out, "            ", s.closed_reasons, s.failure_details);
  }
  if (r.interrupted) {
    out << "  (interrupted: partial figures)\n";
  }
  return out.str();
}

std::string RenderJson(const Report& r) {
  const BenchOptions& o = r.options;
  const RunStats& s = r.stats;
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "mode");
  Str(w, std::string(ModeName(o.mode)));
  Key(w, "target");
  Str(w, r.target);
  Key(w, "tls");
  if (o.plain) {
    w.Null();  // --plain: no TLS at all
  } else {
    TlsSettings(w, o);
  }
  Key(w, "threads");
  w.Uint(o.threads);
  Key(w, "concurrency");
  w.Uint(o.concurrency);
  Key(w, "count");
  if (o.count > 0) {
    w.Uint64(o.count);
  } else {
    w.Null();
  }
  Key(w, "duration_s");
  if (o.duration_s > 0) {
    w.Double(o.duration_s);
  } else {
    w.Null();
  }
  Key(w, "elapsed_s");
  w.Double(std::round(r.elapsed_s * 1e4) / 1e4);
  Key(w, "interrupted");
  w.Bool(r.interrupted);

  const char* ok_key = o.mode == Mode::kHandshake ? "handshakes"
                       : o.mode == Mode::kRequest ? "requests"
                                                  : "opened";
  Key(w, ok_key);
  w.Uint64(s.ok);
  if (o.mode != Mode::kIdle) {
    Key(w, o.mode == Mode::kHandshake ? "handshakes_per_s" : "requests_per_s");
    w.Double(std::round(PerSecond(r) * 10) / 10);
  }
  Key(w, "attempts");
  w.Uint64(s.ok + s.failures);
  Key(w, "failures");
  w.Uint64(s.failures);
  Key(w, "failure_reasons");
  CountMap(w, s.failure_reasons);
  Key(w, "failure_details");
  w.StartObject();
  for (const auto& [reason, detail] : s.failure_details) {
    Str(w, reason);
    Str(w, detail);
  }
  w.EndObject();
  Key(w, "setup_failures");
  w.Uint64(s.setup_failures);
  Key(w, "setup_failure_reasons");
  CountMap(w, s.setup_failure_reasons);
  Key(w, "latency_us");
  Histogram(w, s.latency);

  if (o.mode != Mode::kRequest) {
    Key(w, "versions");
    CountMap(w, s.versions);
  }
  if (o.mode == Mode::kHandshake) {
    Key(w, "resumed");
    w.Uint64(s.resumed);
    Key(w, "without_close_notify");
    w.Uint64(s.without_close_notify);
  }
  if (o.mode == Mode::kRequest) {
    Key(w, "path");
    Str(w, o.path);
    Key(w, "status");
    w.StartObject();
    for (const auto& [code, n] : s.status) {
      Str(w, std::to_string(code));
      w.Uint64(n);
    }
    w.EndObject();
    Key(w, "connections");
    w.Uint64(s.connections);
    Key(w, "rate");
    if (o.rate > 0) {
      w.Double(o.rate);
    } else {
      w.Null();
    }
    Key(w, "backlog");
    w.Uint64(s.backlog);
    Key(w, "sse");
    w.StartObject();
    Key(w, "replies");
    w.Uint64(s.sse_replies);
    Key(w, "events");
    w.Uint64(s.sse_events);
    Key(w, "first_event_us");
    Histogram(w, s.sse_first_event);
    Key(w, "event_gap_us");
    Histogram(w, s.sse_event_gap);
    w.EndObject();
  }
  if (o.mode == Mode::kIdle) {
    Key(w, "hold_s");
    w.Double(o.hold_s);
    Key(w, "open_at_end");
    w.Uint64(s.open_at_end);
    Key(w, "closed_early");
    w.Uint64(s.closed_early);
    Key(w, "closed_reasons");
    CountMap(w, s.closed_reasons);
  }

  Key(w, "server");
  if (r.server) {
    const ServerUsage& u = *r.server;
    uint64_t cpu = CpuUs(u);
    w.StartObject();
    Key(w, "pid");
    w.Int(u.pid);
    Key(w, "cpu_us");
    w.Uint64(cpu);
    Key(w, "cpu_us_per_op");
    if (s.ok > 0) {
      w.Double(std::round(static_cast<double>(cpu) / s.ok * 10) / 10);
    } else {
      w.Null();
    }
    Key(w, "rss_kb_before");
    w.Uint64(u.before.rss_kb);
    Key(w, "rss_kb_after");
    w.Uint64(u.after.rss_kb);
    Key(w, "rss_delta_kb");
    w.Int64(RssDeltaKb(u));
    if (o.mode == Mode::kIdle) {
      Key(w, "rss_bytes_per_connection");
      if (s.ok > 0) {
        w.Int64(RssDeltaKb(u) * 1024 / static_cast<int64_t>(s.ok));
      } else {
        w.Null();
      }
    }
    Key(w, "threads");
    w.Uint64(u.after.threads);
    w.EndObject();
  } else {
    w.Null();
  }
  w.EndObject();
  return std::string(buffer.GetString()) + "\n";
}

int ExitCode(const Report& r) {
  const RunStats& s = r.stats;
  return s.ok > 0 && s.failures == 0 && s.setup_failures == 0 && s.closed_early == 0 ? 0 : 1;
}

}  // namespace portcullis::bench
