#include "bench/harness/worker.h"

#include "gateway/tls/tls_context.h"

namespace portcullis::bench {

Worker::Worker(const WorkerConfig& config, RunControl* control)
    : config_(config), options_(*config.options), control_(control) {}

Worker::~Worker() = default;

void Worker::OnTickTimer(uv_timer_t* timer) { static_cast<Worker*>(timer->data)->OnTick(); }

void Worker::RunUntil(const std::function<bool()>& done) {
  // The tick timer wakes the loop every kTickMs, so a flag set by another thread is seen soon.
  while (!done()) {
    uv_run(&loop_, UV_RUN_ONCE);
  }
}

void Worker::MeasuredDone() {
  if (measured_) {
    return;
  }
  measured_ = true;
  measuring_ = false;
  stats_.end_ns = uv_hrtime();
}

bool Worker::ShouldStop() const {
  if (control_->stop.load(std::memory_order_relaxed)) {
    return true;
  }
  return deadline_ns_ != 0 && uv_hrtime() >= deadline_ns_;
}

void Worker::Run() {
  uv_loop_init(&loop_);
  uv_timer_init(&loop_, &tick_);
  tick_.data = this;
  uv_timer_start(&tick_, OnTickTimer, kTickMs, kTickMs);

  StartPriming();
  RunUntil([this] { return primed_; });
  control_->primed.count_down();
  control_->go.wait();

  start_ns_ = control_->start_ns.load();
  if (options_.duration_s > 0) {
    deadline_ns_ = start_ns_ + static_cast<uint64_t>(options_.duration_s * 1e9);
  }
  measuring_ = true;
  StartMeasured();
  RunUntil([this] { return measured_; });
  control_->measured_done.fetch_add(1);

  // Connections stay as they are while the main thread samples the server (and, in the idle
  // mode, holds them open).
  RunUntil([this] { return control_->release.load(); });
  CloseAll();
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop_) == UV_EBUSY) {
    // A handle that was never closed would be a bug here; close it anyway, so that the thread
    // ends rather than spins.
    uv_walk(
        &loop_,
        [](uv_handle_t* handle, void*) {
          if (!uv_is_closing(handle)) {
            uv_close(handle, nullptr);
          }
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop_);
  }
  tls::ReleaseThreadResources();
}

}  // namespace portcullis::bench
