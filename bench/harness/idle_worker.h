// IdleWorker: the idle mode on one thread. Opens its share of --count connections, at most
// `concurrency` handshakes at a time, and keeps every completed one open and silent until the
// main thread releases it (after --hold), noting the ones the server closes meanwhile.
// Thread-safety: as Worker.
#pragma once

#include <unordered_set>

#include "bench/harness/tls_client_conn.h"
#include "bench/harness/worker.h"

namespace portcullis::bench {

class IdleWorker : public Worker, private TlsClientConn::Delegate {
 public:
  IdleWorker(const WorkerConfig& config, RunControl* control);

 private:
  void StartPriming() override { PrimingDone(); }
  void StartMeasured() override;
  void OnTick() override;
  void CloseAll() override;

  void OnHandshake(TlsClientConn* conn) override;
  void OnPlaintext(TlsClientConn*, std::string_view) override {}
  void OnFailure(TlsClientConn* conn, const Failure& failure) override;
  void OnClosed(TlsClientConn* conn) override;

  void Pump();

  std::unordered_set<TlsClientConn*> handshaking_;
  std::unordered_set<TlsClientConn*> open_;
  uint64_t started_ = 0;
};

}  // namespace portcullis::bench
