// ProcSample: a server process's CPU time and memory as Linux's /proc reports them.
//
// CPU is utime + stime from /proc/PID/stat, which already sums every thread of the process,
// including threads that have exited (but not its child processes, e.g. stdio upstreams). The
// unit is the clock tick (USER_HZ, normally 10 ms), so a per-operation figure needs enough
// operations for the ticks to add up. RSS is VmRSS from /proc/PID/status. Pure functions over
// /proc; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "portcullis/result.h"

namespace portcullis::bench {

struct ProcSample {
  uint64_t cpu_us = 0;  // utime + stime, in microseconds
  uint64_t rss_kb = 0;  // VmRSS
  uint64_t threads = 0;
};

Result<ProcSample> ReadProcSample(int pid);

// Parses the text of /proc/PID/stat; the command name (field 2) may contain spaces and
// parentheses, so fields are counted from the last ')'.
Result<uint64_t> ParseStatCpuTicks(const std::string& stat_text);

}  // namespace portcullis::bench
