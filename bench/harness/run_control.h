// RunControl: how the main thread and the worker threads of one run keep in step.
//
// The phases: every worker sets up its connections (priming, outside the measurement) and
// counts down `primed`; the main thread samples the server, stores `start_ns` and counts down
// `go`; the workers run the measured phase and each bumps `measured_done` when its share is
// done; the main thread samples the server again (after --hold in the idle mode) and sets
// `release`; the workers close everything and end. `stop` (SIGINT, or the idle mode's end)
// cuts the measured phase short. `ok` / `failed` are live counts for the progress line.
// Thread-safe: atomics and latches only.
#pragma once

#include <atomic>
#include <cstdint>
#include <latch>

namespace portcullis::bench {

struct RunControl {
  explicit RunControl(uint32_t workers) : primed(workers) {}

  std::latch primed;
  std::latch go{1};
  std::atomic<uint64_t> start_ns{0};  // uv_hrtime() at the start of the measured phase
  std::atomic<uint32_t> measured_done{0};
  std::atomic<bool> release{false};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> failed{0};
};

}  // namespace portcullis::bench
