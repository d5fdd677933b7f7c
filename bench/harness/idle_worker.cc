#include "bench/harness/idle_worker.h"

namespace portcullis::bench {

IdleWorker::IdleWorker(const WorkerConfig& config, RunControl* control) : Worker(config, control) {}

void IdleWorker::StartMeasured() { Pump(); }

void IdleWorker::OnTick() {
  if (measuring()) {
    Pump();
  }
}

void IdleWorker::Pump() {
  while (handshaking_.size() < config_.concurrency && started_ < config_.count && !ShouldStop()) {
    ++started_;
    TlsClientConn::Options o;
    o.tls = config_.tls;
    o.address = address();
    o.handshake_timeout_ms = options_.timeout_ms;
    handshaking_.insert(TlsClientConn::Start(loop(), o, this));
  }
  if (handshaking_.empty() && (started_ >= config_.count || ShouldStop())) {
    MeasuredDone();
  }
}

void IdleWorker::OnHandshake(TlsClientConn* conn) {
  handshaking_.erase(conn);
  open_.insert(conn);
  ++stats_.ok;
  stats_.latency.Record(conn->handshake_ns() - conn->start_ns());
  ++stats_.versions[conn->version()];
  control_->ok.fetch_add(1, std::memory_order_relaxed);
  if (measuring()) {
    Pump();
  }
}

void IdleWorker::OnFailure(TlsClientConn* conn, const Failure& failure) {
  if (open_.count(conn) != 0) {
    // Opened, then closed by the server (an idle timeout, or a TLS 1.3 server refusing our
    // certificate after our Finished).
    ++stats_.closed_early;
    ++stats_.closed_reasons[failure.reason];
    stats_.failure_details.try_emplace(failure.reason, failure.detail);
    return;
  }
  stats_.AddFailure(failure);
  control_->failed.fetch_add(1, std::memory_order_relaxed);
}

void IdleWorker::OnClosed(TlsClientConn* conn) {
  bool was_handshaking = handshaking_.erase(conn) != 0;
  open_.erase(conn);
  if (was_handshaking && measuring()) {
    Pump();
  }
}

void IdleWorker::CloseAll() {
  stats_.open_at_end = open_.size();
  for (TlsClientConn* conn : open_) {
    conn->Close();
  }
  for (TlsClientConn* conn : handshaking_) {
    conn->Close();
  }
}

}  // namespace portcullis::bench
