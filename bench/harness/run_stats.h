// RunStats: what one worker thread counted during the measured phase of a run, merged over the
// threads at the end.
//
// `ok` and `failures` are operations (handshakes, requests, idle connections); failures are
// also kept by reason, with the first detail seen for each reason so the report can show what
// the reason stands for. Not thread-safe: a worker owns its RunStats until it has finished; the
// live progress figures travel separately (RunControl's atomics).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "bench/harness/failure.h"
#include "bench/harness/latency_histogram.h"

namespace portcullis::bench {

struct RunStats {
  uint64_t ok = 0;
  uint64_t failures = 0;
  std::map<std::string, uint64_t> failure_reasons;
  std::map<std::string, std::string> failure_details;  // the first detail per reason
  LatencyHistogram latency;
  uint64_t end_ns = 0;  // uv_hrtime() when this worker's measured phase ended

  // Connection setup outside the measured phase (priming slots, --init), by reason.
  uint64_t setup_failures = 0;
  std::map<std::string, uint64_t> setup_failure_reasons;

  // handshake (and idle): the negotiated versions, and how many handshakes resumed.
  std::map<std::string, uint64_t> versions;
  uint64_t resumed = 0;
  // Handshakes counted as accepted because the server closed without an alert, but without the
  // close_notify that would have confirmed it either.
  uint64_t without_close_notify = 0;

  // request
  std::map<int, uint64_t> status;  // HTTP status → responses
  uint64_t connections = 0;        // connections opened during the measured phase
  uint64_t backlog = 0;            // --rate: scheduled requests never sent before the end
  uint64_t sse_replies = 0;
  uint64_t sse_events = 0;
  LatencyHistogram sse_first_event;  // from the send (or scheduled) time
  LatencyHistogram sse_event_gap;    // between consecutive events of one reply

  // idle
  uint64_t closed_early = 0;  // opened, then closed by the server before the end of --hold
  std::map<std::string, uint64_t> closed_reasons;
  uint64_t open_at_end = 0;

  void AddFailure(const Failure& failure);
  void AddSetupFailure(const Failure& failure);
  void Merge(const RunStats& other);
};

}  // namespace portcullis::bench
