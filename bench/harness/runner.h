// RunBench: one whole benchmark run. Resolves the target, loads the TLS material, starts the
// worker threads (each with its share of the load), samples the server process around the
// measured phase, prints a progress line on `progress` once a second, and merges what the
// workers counted into a Report.
//
// A failure is a setup problem (unreadable certificate, unknown host, too few file descriptors,
// no such server process); failed handshakes or requests are figures in the Report, not errors.
// SIGINT ends the measured phase early (the report says "interrupted"). Call from the main
// thread, one run at a time (it installs a SIGINT handler for the run's duration).
#pragma once

#include <ostream>

#include "bench/harness/options.h"
#include "bench/harness/report.h"
#include "portcullis/result.h"

namespace portcullis::bench {

Result<Report> RunBench(const BenchOptions& options, std::ostream& progress);

}  // namespace portcullis::bench
