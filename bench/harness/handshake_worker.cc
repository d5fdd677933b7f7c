#include "bench/harness/handshake_worker.h"

// wolfssl/options.h first: it decides what the other wolfSSL headers declare.
#include <wolfssl/options.h>

#include <wolfssl/ssl.h>

namespace portcullis::bench {

HandshakeWorker::HandshakeWorker(const WorkerConfig& config, RunControl* control)
    : Worker(config, control), slots_(config.concurrency) {}

HandshakeWorker::~HandshakeWorker() {
  for (Slot& slot : slots_) {
    if (slot.session != nullptr) {
      wolfSSL_SESSION_free(slot.session);
    }
  }
}

void HandshakeWorker::StartPriming() {
  if (!options_.resume) {
    PrimingDone();
    return;
  }
  priming_left_ = static_cast<uint32_t>(slots_.size());
  for (Slot& slot : slots_) {
    StartConn(&slot, /*priming=*/true);
  }
  if (priming_left_ == 0) {
    PrimingDone();
  }
}

void HandshakeWorker::StartMeasured() { Pump(); }

void HandshakeWorker::OnTick() {
  if (measuring()) {
    Pump();
  }
}

bool HandshakeWorker::CanStart() const {
  return !ShouldStop() && (!config_.bounded_by_count || started_ < config_.count);
}

void HandshakeWorker::Pump() {
  for (Slot& slot : slots_) {
    if (slot.conn == nullptr && CanStart()) {
      ++started_;
      StartConn(&slot, /*priming=*/false);
    }
  }
  if (active_ == 0 && !CanStart()) {
    MeasuredDone();
  }
}

void HandshakeWorker::StartConn(Slot* slot, bool priming) {
  TlsClientConn::Options o;
  o.tls = config_.tls;
  o.address = address();
  o.session = slot->session;
  o.handshake_timeout_ms = options_.timeout_ms;
  o.close_after_handshake = true;
  slot->priming = priming;
  slot->outcome = false;
  slot->conn = TlsClientConn::Start(loop(), o, this);
  slot->conn->user_data = slot;
  ++active_;
}

void HandshakeWorker::KeepSession(Slot* slot, TlsClientConn* conn) {
  if (!options_.resume) {
    return;
  }
  // The newest session: a TLS 1.3 server issues a fresh ticket on every connection.
  WOLFSSL_SESSION* session = conn->Get1Session();
  if (session != nullptr) {
    if (slot->session != nullptr) {
      wolfSSL_SESSION_free(slot->session);
    }
    slot->session = session;
  }
}

void HandshakeWorker::OnHandshake(TlsClientConn* conn) {
  auto* slot = static_cast<Slot*>(conn->user_data);
  slot->outcome = true;
  KeepSession(slot, conn);
  if (slot->priming) {
    return;
  }
  ++stats_.ok;
  stats_.latency.Record(conn->handshake_ns() - conn->start_ns());
  ++stats_.versions[conn->version()];
  if (conn->resumed()) {
    ++stats_.resumed;
  }
  if (!conn->close_notify_received()) {
    ++stats_.without_close_notify;
  }
  control_->ok.fetch_add(1, std::memory_order_relaxed);
}

void HandshakeWorker::OnFailure(TlsClientConn* conn, const Failure& failure) {
  auto* slot = static_cast<Slot*>(conn->user_data);
  slot->outcome = true;
  if (slot->priming) {
    stats_.AddSetupFailure(failure);
    return;
  }
  stats_.AddFailure(failure);
  control_->failed.fetch_add(1, std::memory_order_relaxed);
}

void HandshakeWorker::OnClosed(TlsClientConn* conn) {
  auto* slot = static_cast<Slot*>(conn->user_data);
  if (!slot->outcome) {
    // Not expected (every attempt ends in a verdict), but every attempt must be counted.
    OnFailure(conn, {"CONNECTION_CLOSED", "closed before the handshake was confirmed"});
  }
  slot->conn = nullptr;
  --active_;
  if (slot->priming) {
    slot->priming = false;
    if (--priming_left_ == 0) {
      PrimingDone();
    }
    return;
  }
  if (measuring()) {
    Pump();
  }
}

void HandshakeWorker::CloseAll() {
  for (Slot& slot : slots_) {
    if (slot.conn != nullptr) {
      slot.conn->Close();
    }
  }
}

}  // namespace portcullis::bench
