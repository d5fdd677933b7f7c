// Report: the outcome of one run, and its two renderings: a few aligned lines for people, and
// one JSON object (a single line) for programs. docs/BENCHMARKS.md lists the JSON fields.
// Plain values and pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>

#include "bench/harness/options.h"
#include "bench/harness/proc_stats.h"
#include "bench/harness/run_stats.h"

namespace portcullis::bench {

struct ServerUsage {
  int pid = 0;
  ProcSample before;
  ProcSample after;
};

struct Report {
  BenchOptions options;
  std::string target;  // "127.0.0.1:8443" as connected to
  RunStats stats;
  double elapsed_s = 0;  // start of the measured phase → its last completion
  bool interrupted = false;
  std::optional<ServerUsage> server;
};

std::string RenderText(const Report& report);
std::string RenderJson(const Report& report);

// 0 when every operation (and every connection set up for them) succeeded and no idle
// connection was closed early, 1 otherwise.
int ExitCode(const Report& report);

}  // namespace portcullis::bench
