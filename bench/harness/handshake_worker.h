// HandshakeWorker: the handshake mode on one thread. Each of its connection slots makes one
// connection after another: TCP connect, TLS handshake, confirmation of the handshake by the
// server (TlsClientConn's close_after_handshake), close. With --resume each slot first makes one
// full handshake (priming, outside the measurement) and then offers the latest session it got
// (a TLS 1.3 ticket, a TLS 1.2 session id) on every connection; resumed() says whether the
// server took it. Thread-safety: as Worker.
#pragma once

#include <vector>

#include "bench/harness/tls_client_conn.h"
#include "bench/harness/worker.h"

typedef struct WOLFSSL_SESSION WOLFSSL_SESSION;

namespace portcullis::bench {

class HandshakeWorker : public Worker, private TlsClientConn::Delegate {
 public:
  HandshakeWorker(const WorkerConfig& config, RunControl* control);
  ~HandshakeWorker() override;

 private:
  struct Slot {
    TlsClientConn* conn = nullptr;
    WOLFSSL_SESSION* session = nullptr;  // owned; the one to offer next
    bool priming = false;
    bool outcome = false;  // the current attempt was counted (success or failure)
  };

  void StartPriming() override;
  void StartMeasured() override;
  void OnTick() override;
  void CloseAll() override;

  void OnHandshake(TlsClientConn* conn) override;
  void OnPlaintext(TlsClientConn*, std::string_view) override {}
  void OnFailure(TlsClientConn* conn, const Failure& failure) override;
  void OnClosed(TlsClientConn* conn) override;

  void Pump();
  bool CanStart() const;
  void StartConn(Slot* slot, bool priming);
  void KeepSession(Slot* slot, TlsClientConn* conn);

  std::vector<Slot> slots_;
  uint32_t priming_left_ = 0;
  uint32_t active_ = 0;
  uint64_t started_ = 0;
};

}  // namespace portcullis::bench
