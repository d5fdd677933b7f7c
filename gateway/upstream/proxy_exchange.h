// ProxyExchange: one client request forwarded to an HTTP upstream and its response streamed
// back, unbuffered, with backpressure.
//
// Owned by the client connection for the life of one request. Each piece of the upstream's
// body is written to the client as it arrives (an SSE event is never held back); when the
// client's unsent bytes pass kHighWater, the upstream socket stops being read until they
// fall under kLowWater. Cancel() (client gone) closes the upstream connection, which is
// what cancellation means to a 2026-07-28 server. Reactor thread only.
#pragma once

#include <optional>
#include <string>

#include "gateway/http/response_writer.h"
#include "gateway/mcp/list_filter.h"
#include "gateway/mcp/session_seal.h"
#include "gateway/mcp/sse_event_splitter.h"
#include "gateway/upstream/exchange.h"
#include "gateway/upstream/upstream_sink.h"
#include "portcullis/config.h"
#include "portcullis/identity.h"
#include "portcullis/policy.h"

namespace portcullis::audit {
class AnomalyMonitor;
class AuditSink;
}  // namespace portcullis::audit

namespace portcullis::upstream {

class UpstreamConnection;
class UpstreamPool;

// What the exchange does to the response on its way back, beyond streaming it.
struct ResponseRules {
  // List results are filtered to what `grant` allows (it points into `policy`, kept alive
  // here); such responses are the only ones ever buffered: JSON whole, SSE event by event.
  mcp::ListKind list_kind = mcp::ListKind::kNone;
  std::shared_ptr<const policy::Policy> policy;
  policy::UpstreamGrant grant;
  size_t max_buffer_bytes = 4 << 20;
  // Mcp-Session-Id values from the upstream are sealed to `identity` before the client sees
  // them. The sealer and identity must outlive the exchange.
  const mcp::SessionSealer* sealer = nullptr;
  const Identity* identity = nullptr;
  std::string client_session_id;    // the sealed id the client sent, if any
  std::string upstream_session_id;  // what it opened to
  // tools/list results are shown to the tool-drift detector. Must outlive the exchange.
  audit::AnomalyMonitor* anomalies = nullptr;
  double now_s = 0;  // the loop's clock when the request started, for the detector
  // Requests the upstream sends the client inside an SSE stream (sampling, elicitation,
  // roots, ...) are decided by `policy` (the rule's server_requests); a refused one never
  // reaches the client and the upstream gets a JSON-RPC error in its place. Needs `policy`,
  // `identity`, and for the refusal the client's address and protocol version.
  bool guard_server_requests = false;
  std::string peer_ip;
  std::string protocol_version;
  audit::AuditSink* audit = nullptr;  // where refusals are recorded (mcp.denied)
};

class ProxyExchange : public UpstreamSink, public Exchange {
 public:
  static constexpr size_t kHighWater = 1 << 20;
  static constexpr size_t kLowWater = 256 << 10;

  // `request` is the serialised upstream request; `id_json` the JSON-RPC id to echo in an
  // error reply ("" = null). `writer` and `upstream` must outlive the exchange.
  ProxyExchange(UpstreamPool* pool, const UpstreamConfig* upstream, http::ResponseWriter* writer,
                std::string request, std::string id_json, ResponseRules rules);
  ~ProxyExchange() override;
  ProxyExchange(const ProxyExchange&) = delete;
  ProxyExchange& operator=(const ProxyExchange&) = delete;

  void Start();
  // Exchange. Cancel() abandons the upstream request; OnClientDrained() resumes reading the
  // upstream if it was paused.
  void Cancel() override;
  void OnClientDrained() override;
  const std::optional<UpstreamError>& upstream_error() const override { return error_; }
  const std::string& upstream_error_detail() const override { return error_detail_; }
  const std::string& opened_session() const override { return opened_session_; }
  bool proxied() const override { return true; }
  int status() const { return status_; }
  uint64_t response_bytes() const { return response_bytes_; }
  // Time to first byte, for the upstream latency histogram: microseconds from handing the
  // request to a connection (the retry's, after a stale keep-alive one) to the response head
  // arriving; 0 when no head arrived (failed, timed out, cancelled).
  uint64_t upstream_head_us() const override { return head_us_; }

  void OnUpstreamHead(int status, http::HeaderList headers,
                      std::optional<uint64_t> content_length) override;
  void OnUpstreamBody(std::string_view data) override;
  void OnUpstreamComplete() override;
  void OnUpstreamError(UpstreamError error, const std::string& detail, bool retryable) override;

 private:
  enum class BodyMode { kStream, kBufferJson, kFilterSse, kGuardSse };
  void Send(bool fresh);
  std::string SealSessionId(const std::string& upstream_id);
  void WriteFilteredEvent(std::string_view event);
  void ObserveList(std::string_view json);
  // kGuardSse: passes an event on, or refuses the server request it carries.
  void GuardEvent(std::string_view event);
  void RefuseServerRequest(const std::string& method, const std::string& id_json,
                           const std::string& reason);
  void FailLocally(int http_status, int code, const std::string& message);

  UpstreamPool* pool_;
  const UpstreamConfig* upstream_;
  http::ResponseWriter* writer_;
  std::string request_;  // kept until the first response byte, for one retry
  std::string id_json_;
  ResponseRules rules_;
  BodyMode mode_ = BodyMode::kStream;
  http::HeaderList held_headers_;  // kBufferJson: the head waits for the filtered body
  std::string held_body_;
  mcp::SseEventSplitter splitter_{1 << 20};
  UpstreamConnection* connection_ = nullptr;
  std::optional<UpstreamError> error_;
  std::string error_detail_;
  std::string opened_session_;
  bool retried_ = false;
  bool head_written_ = false;
  bool paused_ = false;
  int status_ = 0;
  uint64_t response_bytes_ = 0;
  uint64_t sent_us_ = 0;  // uv_hrtime() in µs when Send() handed the request over
  uint64_t head_us_ = 0;  // see upstream_head_us()
};

}  // namespace portcullis::upstream
