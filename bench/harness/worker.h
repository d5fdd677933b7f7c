// Worker: one client thread of a run, with its own libuv loop, and its share of the
// connections, the count and the rate. The modes derive from it (handshake_worker.h,
// request_worker.h, idle_worker.h) and fill in the phases; Run() walks them in the order
// RunControl describes and leaves the loop closed and wolfSSL's per-thread cache freed.
//
// Thread-safety: constructed on the main thread, then used only by the thread running Run();
// stats() may be read by the main thread after that thread has been joined.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <functional>

#include "bench/harness/options.h"
#include "bench/harness/run_control.h"
#include "bench/harness/run_stats.h"
#include "bench/harness/tls_client_context.h"

namespace portcullis::bench {

struct WorkerConfig {
  const BenchOptions* options = nullptr;
  const ClientTlsContext* tls = nullptr;  // null with --plain: plain TCP connections
  sockaddr_storage address{};
  uint32_t index = 0;
  uint32_t concurrency = 1;  // this worker's connections (idle: handshakes in flight)
  bool bounded_by_count = false;
  uint64_t count = 0;  // this worker's share when bounded_by_count (may be 0)
  double rate = 0;     // this worker's share of --rate
};

class Worker {
 public:
  Worker(const WorkerConfig& config, RunControl* control);
  virtual ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // The thread's body.
  void Run();
  const RunStats& stats() const { return stats_; }

 protected:
  // Set up what must exist before the measurement (e.g. open keep-alive connections); call
  // PrimingDone() when done (possibly from inside this call).
  virtual void StartPriming() = 0;
  // Start the measured phase; call MeasuredDone() when this worker's share is done.
  virtual void StartMeasured() = 0;
  // Every kTickMs while the loop runs: check deadlines, stop, schedules.
  virtual void OnTick() = 0;
  // Close every connection and handle of the mode; the loop then runs until they are closed.
  virtual void CloseAll() = 0;

  void PrimingDone() { primed_ = true; }
  void MeasuredDone();
  // The measured phase must not start anything new: stop asked or --duration over.
  bool ShouldStop() const;
  bool measuring() const { return measuring_; }
  uint64_t start_ns() const { return start_ns_; }
  uint64_t deadline_ns() const { return deadline_ns_; }  // 0 = no --duration
  const sockaddr* address() const { return reinterpret_cast<const sockaddr*>(&config_.address); }
  uv_loop_t* loop() { return &loop_; }

  const WorkerConfig config_;
  const BenchOptions& options_;
  RunControl* const control_;
  RunStats stats_;

 private:
  static constexpr uint64_t kTickMs = 20;
  static void OnTickTimer(uv_timer_t* timer);
  void RunUntil(const std::function<bool()>& done);

  uv_loop_t loop_;
  uv_timer_t tick_;
  bool primed_ = false;
  bool measuring_ = false;
  bool measured_ = false;
  uint64_t start_ns_ = 0;
  uint64_t deadline_ns_ = 0;  // 0 = no --duration
};

}  // namespace portcullis::bench
