// RequestWorker: the request mode on one thread. Each connection slot keeps one keep-alive
// connection, TLS or (--plain) plain TCP (opened, and initialized with --init, before the
// measurement) and carries one request at a time. Closed loop: a slot sends its next request as
// soon as the previous answer arrived. Open loop (--rate): request k is due at start + k/rate; a
// due request goes out on the next free slot, and its latency counts from the time it was due, not
// from when a slot became free, so a slow server cannot hide its queueing (no coordinated
// omission). Due requests that never found a free slot before the end are reported as the backlog.
// A slot whose connection was closed reconnects for its next request (counted in `connections`).
// Thread-safety: as Worker.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bench/harness/http_response_reader.h"
#include "bench/harness/request_template.h"
#include "bench/harness/tls_client_conn.h"
#include "bench/harness/worker.h"

namespace portcullis::bench {

class RequestWorker : public Worker, private TlsClientConn::Delegate {
 public:
  // `requests` must outlive the worker.
  RequestWorker(const WorkerConfig& config, RunControl* control, const RequestTemplate* requests);

 private:
  enum class Phase { kNone, kConnecting, kInit, kInitAck, kReady, kBusy, kClosing };
  struct Slot {
    TlsClientConn* conn = nullptr;
    Phase phase = Phase::kNone;
    std::unique_ptr<HttpResponseReader> reader;
    std::string session_id;
    bool priming = false;
    bool in_free_list = false;
    bool has_request = false;
    uint64_t request_start_ns = 0;  // sent (closed loop) or due (open loop)
    bool first_event_seen = false;
    uint64_t last_event_ns = 0;
  };

  void StartPriming() override;
  void StartMeasured() override;
  void OnTick() override;
  void CloseAll() override;

  void OnHandshake(TlsClientConn* conn) override;
  void OnPlaintext(TlsClientConn* conn, std::string_view data) override;
  void OnFailure(TlsClientConn* conn, const Failure& failure) override;
  void OnClosed(TlsClientConn* conn) override;

  static void OnScheduleTimer(uv_timer_t* timer);

  void Pump();
  void PumpClosedLoop();
  void PumpOpenLoop();
  uint64_t DueBy(uint64_t now_ns) const;
  uint64_t Bound() const;
  Slot* PopFree();
  void MarkFree(Slot* slot);
  void AssignRequest(Slot* slot, uint64_t start_ns);
  void Connect(Slot* slot);
  void OnReady(Slot* slot);
  void Send(Slot* slot);
  void OnResponse(Slot* slot, uint64_t now_ns);
  void CountEvents(Slot* slot, size_t events, uint64_t now_ns);
  void RequestFailed(Slot* slot, const Failure& failure);
  void SetupFailed(Slot* slot, const Failure& failure);
  // Counts `failure` against the slot's request, or its set-up when none is in flight, and
  // closes the connection.
  void FailAndClose(Slot* slot, const Failure& failure);
  void PrimingSettled(Slot* slot);

  const RequestTemplate* requests_;
  std::vector<Slot> slots_;
  std::vector<Slot*> free_;
  uv_timer_t schedule_;
  bool schedule_ready_ = false;
  uint64_t period_ns_ = 0;  // open loop: 1e9 / rate
  bool final_pass_done_ = false;
  uint32_t priming_left_ = 0;
  uint64_t started_ = 0;
  uint64_t in_flight_ = 0;
  uint64_t next_id_ = 0;
};

}  // namespace portcullis::bench
