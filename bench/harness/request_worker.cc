#include "bench/harness/request_worker.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>

namespace portcullis::bench {
namespace {

// The first `max` bytes of a response body, for a failure's detail.
std::string Excerpt(const std::string& body, size_t max = 200) {
  std::string out = body.substr(0, max);
  for (char& c : out) {
    if (c == '\r' || c == '\n') {
      c = ' ';
    }
  }
  return body.size() > max ? out + "..." : out;
}

// A JSON-RPC error in a JSON reply ("code -32003: denied by policy"); empty if it is none.
std::string JsonRpcError(const HttpResponseReader::Response& response) {
  if (response.event_stream || response.body_bytes != response.body.size() ||
      response.body.empty()) {
    return "";
  }
  rapidjson::Document doc;
  doc.Parse(response.body.c_str(), response.body.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("error")) {
    return "";
  }
  const rapidjson::Value& error = doc["error"];
  std::string text = "JSON-RPC error";
  if (error.IsObject() && error.HasMember("code") && error["code"].IsInt()) {
    text = "code " + std::to_string(error["code"].GetInt());
  }
  if (error.IsObject() && error.HasMember("message") && error["message"].IsString()) {
    text += std::string(": ") + error["message"].GetString();
  }
  return text;
}

}  // namespace

RequestWorker::RequestWorker(const WorkerConfig& config, RunControl* control,
                             const RequestTemplate* requests)
    : Worker(config, control), requests_(requests), slots_(config.concurrency) {
  if (config.rate > 0) {
    period_ns_ = std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(1e9 / config.rate)));
  }
  free_.reserve(slots_.size());
}

void RequestWorker::StartPriming() {
  uv_timer_init(loop(), &schedule_);
  schedule_.data = this;
  schedule_ready_ = true;
  priming_left_ = static_cast<uint32_t>(slots_.size());
  for (Slot& slot : slots_) {
    slot.priming = true;
    Connect(&slot);
  }
}

void RequestWorker::StartMeasured() { Pump(); }

void RequestWorker::OnTick() {
  if (measuring()) {
    Pump();
  }
}

void RequestWorker::OnScheduleTimer(uv_timer_t* timer) {
  auto* self = static_cast<RequestWorker*>(timer->data);
  if (self->measuring()) {
    self->Pump();
  }
}

void RequestWorker::CloseAll() {
  if (schedule_ready_) {
    uv_timer_stop(&schedule_);
    uv_close(reinterpret_cast<uv_handle_t*>(&schedule_), nullptr);
    schedule_ready_ = false;
  }
  for (Slot& slot : slots_) {
    if (slot.conn != nullptr) {
      slot.phase = Phase::kClosing;
      slot.conn->Close();
    }
  }
}

// ---- Scheduling ---------------------------------------------------------------------------

uint64_t RequestWorker::Bound() const {
  return config_.bounded_by_count ? config_.count : UINT64_MAX;
}

uint64_t RequestWorker::DueBy(uint64_t now_ns) const {
  if (now_ns < start_ns()) {
    return 0;
  }
  uint64_t due = (now_ns - start_ns()) / period_ns_ + 1;
  return std::min(due, Bound());
}

void RequestWorker::Pump() {
  if (!measuring()) {
    return;
  }
  if (period_ns_ > 0) {
    PumpOpenLoop();
  } else {
    PumpClosedLoop();
  }
}

void RequestWorker::PumpClosedLoop() {
  auto can_start = [this] { return !ShouldStop() && started_ < Bound(); };
  while (can_start()) {
    Slot* slot = PopFree();
    if (slot == nullptr) {
      break;
    }
    AssignRequest(slot, uv_hrtime());
  }
  if (in_flight_ == 0 && !can_start()) {
    MeasuredDone();
  }
}

void RequestWorker::PumpOpenLoop() {
  uint64_t now = uv_hrtime();
  bool stopping = ShouldStop();
  bool final_pass = false;
  if (stopping && !final_pass_done_ && !control_->stop.load() && deadline_ns() != 0) {
    // The loop's timers tick in milliseconds: requests due just before the end of --duration
    // may not have been looked at yet. They get one last pass over the free connections.
    final_pass_done_ = true;
    final_pass = true;
  }
  if (!stopping || final_pass) {
    uint64_t due = DueBy(stopping ? deadline_ns() - 1 : now);
    while (started_ < due) {
      Slot* slot = PopFree();
      if (slot == nullptr) {
        break;  // the rest wait for a slot; their clocks are already running
      }
      AssignRequest(slot, start_ns() + started_ * period_ns_);
    }
    if (!stopping && started_ < Bound() && started_ >= due) {
      uint64_t next = start_ns() + started_ * period_ns_;
      uint64_t delay_ms = next > now ? (next - now + 999999) / 1000000 : 0;
      uv_timer_start(&schedule_, OnScheduleTimer, delay_ms, 0);
    }
  }
  if (in_flight_ == 0 && (stopping || started_ >= Bound())) {
    // Requests that fell due before the end but never found a free connection.
    uint64_t end = now;
    if (deadline_ns() != 0) {
      end = std::min(end, deadline_ns() - 1);
    }
    uint64_t due = DueBy(end);
    stats_.backlog = due > started_ ? due - started_ : 0;
    uv_timer_stop(&schedule_);
    MeasuredDone();
  }
}

RequestWorker::Slot* RequestWorker::PopFree() {
  while (!free_.empty()) {
    Slot* slot = free_.back();
    free_.pop_back();
    slot->in_free_list = false;
    if (!slot->has_request &&
        (slot->phase == Phase::kReady || (slot->phase == Phase::kNone && slot->conn == nullptr))) {
      return slot;
    }
  }
  return nullptr;
}

void RequestWorker::MarkFree(Slot* slot) {
  if (!slot->in_free_list && !slot->has_request) {
    slot->in_free_list = true;
    free_.push_back(slot);
  }
}

void RequestWorker::AssignRequest(Slot* slot, uint64_t start_ns) {
  slot->has_request = true;
  slot->request_start_ns = start_ns;
  ++started_;
  ++in_flight_;
  if (slot->phase == Phase::kReady) {
    Send(slot);
  } else {
    Connect(slot);  // the request goes out once the connection is ready
  }
}

// ---- Connections --------------------------------------------------------------------------

void RequestWorker::Connect(Slot* slot) {
  TlsClientConn::Options o;
  o.tls = config_.tls;
  o.address = address();
  o.handshake_timeout_ms = options_.timeout_ms;
  slot->reader = std::make_unique<HttpResponseReader>();
  slot->session_id.clear();
  slot->phase = Phase::kConnecting;
  slot->conn = TlsClientConn::Start(loop(), o, this);
  slot->conn->user_data = slot;
  if (measuring()) {
    ++stats_.connections;
  }
}

void RequestWorker::OnHandshake(TlsClientConn* conn) {
  auto* slot = static_cast<Slot*>(conn->user_data);
  if (options_.init) {
    slot->phase = Phase::kInit;
    conn->ArmTimeout(options_.timeout_ms, "INIT_TIMEOUT");
    conn->Write(requests_->Initialize());
    return;
  }
  slot->phase = Phase::kReady;
  OnReady(slot);
}

void RequestWorker::OnReady(Slot* slot) {
  slot->conn->ArmTimeout(0, "");
  if (slot->has_request) {
    Send(slot);
    return;
  }
  if (slot->priming) {
    MarkFree(slot);
    PrimingSettled(slot);
    return;
  }
  MarkFree(slot);
  Pump();
}

void RequestWorker::Send(Slot* slot) {
  slot->phase = Phase::kBusy;
  slot->first_event_seen = false;
  slot->conn->ArmTimeout(options_.timeout_ms, "REQUEST_TIMEOUT");
  slot->conn->Write(requests_->Request(++next_id_, slot->session_id));
}

void RequestWorker::OnPlaintext(TlsClientConn* conn, std::string_view data) {
  auto* slot = static_cast<Slot*>(conn->user_data);
  if (slot->phase != Phase::kInit && slot->phase != Phase::kInitAck &&
      slot->phase != Phase::kBusy) {
    return;  // nothing asked for: not ours to read
  }
  HttpResponseReader::FeedResult result = slot->reader->Feed(data);
  uint64_t now = uv_hrtime();
  if (result.events > 0 && slot->phase == Phase::kBusy) {
    CountEvents(slot, result.events, now);
  }
  if (result.state == HttpResponseReader::State::kError) {
    FailAndClose(slot, {"BAD_RESPONSE", slot->reader->error()});
    return;
  }
  if (result.state == HttpResponseReader::State::kComplete) {
    OnResponse(slot, now);
  }
}

void RequestWorker::CountEvents(Slot* slot, size_t events, uint64_t now_ns) {
  stats_.sse_events += events;
  for (size_t i = 0; i < events; ++i) {
    if (!slot->first_event_seen) {
      slot->first_event_seen = true;
      stats_.sse_first_event.Record(now_ns - slot->request_start_ns);
    } else {
      // Events that arrived in one read are 0 apart: that is how the client saw them.
      stats_.sse_event_gap.Record(now_ns - slot->last_event_ns);
    }
    slot->last_event_ns = now_ns;
  }
}

void RequestWorker::OnResponse(Slot* slot, uint64_t now_ns) {
  const HttpResponseReader::Response& response = slot->reader->response();
  int status = response.status;
  bool success = status >= 200 && status < 300;
  bool keep_alive = response.keep_alive;
  TlsClientConn* conn = slot->conn;

  if (slot->phase == Phase::kInit || slot->phase == Phase::kInitAck) {
    bool init = slot->phase == Phase::kInit;
    if (!success || !keep_alive) {
      Failure failure{"INIT_FAILED",
                      std::string(init ? "initialize" : "notifications/initialized") + ": HTTP " +
                          std::to_string(status) + (keep_alive ? ": " : " (connection: close): ") +
                          Excerpt(response.body)};
      FailAndClose(slot, failure);
      return;
    }
    if (init) {
      // A server without sessions sends no Mcp-Session-Id; requests then go without one.
      slot->session_id = response.session_id;
    }
    slot->reader->Next();  // `response` is gone from here on
    if (init) {
      slot->phase = Phase::kInitAck;
      conn->Write(requests_->Initialized(slot->session_id));
      return;
    }
    slot->phase = Phase::kReady;
    OnReady(slot);
    return;
  }

  // The measured request.
  ++stats_.status[status];
  if (response.event_stream) {
    ++stats_.sse_replies;
  }
  std::string rpc_error = success ? JsonRpcError(response) : "";
  if (!success) {
    RequestFailed(slot, {"HTTP_" + std::to_string(status), Excerpt(response.body)});
  } else if (!rpc_error.empty()) {
    RequestFailed(slot, {"JSONRPC_ERROR", rpc_error});
  } else {
    ++stats_.ok;
    stats_.latency.Record(now_ns - slot->request_start_ns);
    slot->has_request = false;
    --in_flight_;
    control_->ok.fetch_add(1, std::memory_order_relaxed);
  }
  slot->reader->Next();
  if (!keep_alive) {
    slot->phase = Phase::kClosing;
    conn->Close();
  } else {
    slot->phase = Phase::kReady;
    conn->ArmTimeout(0, "");
    MarkFree(slot);
  }
  Pump();
}

void RequestWorker::RequestFailed(Slot* slot, const Failure& failure) {
  if (!slot->has_request) {
    return;
  }
  slot->has_request = false;
  --in_flight_;
  stats_.AddFailure(failure);
  control_->failed.fetch_add(1, std::memory_order_relaxed);
}

void RequestWorker::SetupFailed(Slot*, const Failure& failure) { stats_.AddSetupFailure(failure); }

void RequestWorker::FailAndClose(Slot* slot, const Failure& failure) {
  if (slot->has_request) {
    RequestFailed(slot, failure);
  } else {
    SetupFailed(slot, failure);
  }
  slot->phase = Phase::kClosing;
  slot->conn->Close();
}

void RequestWorker::OnFailure(TlsClientConn* conn, const Failure& failure) {
  auto* slot = static_cast<Slot*>(conn->user_data);
  if (slot->has_request) {
    RequestFailed(slot, failure);
  } else if (slot->phase == Phase::kConnecting || slot->phase == Phase::kInit ||
             slot->phase == Phase::kInitAck) {
    SetupFailed(slot, failure);
  }
  // A ready connection that the server closed is no failure: the slot reconnects when needed.
  slot->phase = Phase::kClosing;
}

void RequestWorker::OnClosed(TlsClientConn* conn) {
  auto* slot = static_cast<Slot*>(conn->user_data);
  slot->conn = nullptr;
  slot->phase = Phase::kNone;
  if (slot->has_request) {
    RequestFailed(slot, {"CONNECTION_CLOSED", "closed before the response"});
  }
  if (slot->priming) {
    PrimingSettled(slot);
  }
  MarkFree(slot);
  if (measuring()) {
    Pump();
  }
}

void RequestWorker::PrimingSettled(Slot* slot) {
  slot->priming = false;
  if (--priming_left_ == 0) {
    PrimingDone();
  }
}

}  // namespace portcullis::bench
