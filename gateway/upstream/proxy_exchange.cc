#include "gateway/upstream/proxy_exchange.h"

#include <spdlog/spdlog.h>
#include <uv.h>

#include "gateway/audit/anomaly_monitor.h"
#include "gateway/audit/identity_summary.h"
#include "gateway/http/response_head.h"
#include "gateway/mcp/jsonrpc_error.h"
#include "gateway/mcp/jsonrpc_message.h"
#include "gateway/upstream/detached_request.h"
#include "gateway/upstream/upstream_connection.h"
#include "gateway/upstream/upstream_pool.h"
#include "gateway/upstream/upstream_request.h"

namespace portcullis::upstream {

ProxyExchange::ProxyExchange(UpstreamPool* pool, const UpstreamConfig* upstream,
                             http::ResponseWriter* writer, std::string request, std::string id_json,
                             ResponseRules rules)
    : pool_(pool),
      upstream_(upstream),
      writer_(writer),
      request_(std::move(request)),
      id_json_(std::move(id_json)),
      rules_(std::move(rules)),
      splitter_(rules_.max_buffer_bytes) {}

ProxyExchange::~ProxyExchange() { Cancel(); }

void ProxyExchange::Start() { Send(/*fresh=*/false); }

void ProxyExchange::Send(bool fresh) {
  connection_ = pool_->Acquire(upstream_, fresh);
  // A reused connection may turn out stale; keep the bytes for one retry. A fresh one has no
  // such race, so the request can move.
  bool stale_risk = connection_->has_served();
  sent_us_ = uv_hrtime() / 1000;
  connection_->Send(stale_risk ? request_ : std::move(request_), this);
}

void ProxyExchange::Cancel() {
  if (connection_) {
    connection_->Abort();
    connection_ = nullptr;
  }
}

void ProxyExchange::OnClientDrained() {
  if (paused_ && connection_ && writer_->buffered_bytes() < kLowWater) {
    paused_ = false;
    connection_->ResumeReading();
  }
}

std::string ProxyExchange::SealSessionId(const std::string& upstream_id) {
  if (!rules_.client_session_id.empty() && upstream_id == rules_.upstream_session_id) {
    return rules_.client_session_id;  // the id the client already holds
  }
  opened_session_ = upstream_id;
  Result<std::string> sealed = rules_.sealer->Seal(*rules_.identity, upstream_->name, upstream_id);
  if (!sealed.ok()) {
    spdlog::warn("upstream {}: {}", upstream_->name, sealed.error());
    return std::string();
  }
  return std::move(sealed).value();
}

void ProxyExchange::OnUpstreamHead(int status, http::HeaderList headers,
                                   std::optional<uint64_t> content_length) {
  std::string().swap(request_);  // a response started: no retry any more
  uint64_t now_us = uv_hrtime() / 1000;
  head_us_ = now_us > sent_us_ ? now_us - sent_us_ : 1;  // 0 means "no head"
  status_ = status;
  http::HeaderList out;
  out.reserve(headers.size() + 1);
  bool event_stream = false;
  for (auto& [name, value] : headers) {
    if (http::IsHopByHopHeader(name)) continue;
    if (http::EqualsIgnoreCase(name, "x-accel-buffering")) continue;  // set below
    if (http::EqualsIgnoreCase(name, "content-type")) {
      event_stream = value.find("text/event-stream") != std::string::npos;
    }
    if (rules_.sealer && http::EqualsIgnoreCase(name, "mcp-session-id")) {
      value = SealSessionId(value);
      if (value.empty()) continue;
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  // Tell any buffering proxy in front of us not to hold events back (MCP 2026-07-28).
  if (event_stream) out.emplace_back("X-Accel-Buffering", "no");
  if (rules_.list_kind != mcp::ListKind::kNone && status == 200) {
    if (event_stream) {
      mode_ = BodyMode::kFilterSse;
    } else {
      // JSON, or anything that says it is not: a client may parse it anyway, so it is
      // filtered as JSON. The length changes: the head waits for the body.
      mode_ = BodyMode::kBufferJson;
      held_headers_ = std::move(out);
      return;
    }
  }
  if (event_stream && mode_ == BodyMode::kStream && rules_.guard_server_requests && rules_.policy &&
      rules_.identity) {
    mode_ = BodyMode::kGuardSse;
  }
  head_written_ = true;
  writer_->WriteHead(status, out, mode_ == BodyMode::kStream ? content_length : std::nullopt);
}

void ProxyExchange::ObserveList(std::string_view json) {
  if (rules_.list_kind == mcp::ListKind::kTools && rules_.anomalies) {
    rules_.anomalies->OnToolList(upstream_->name, json, rules_.now_s);
  }
}

void ProxyExchange::WriteFilteredEvent(std::string_view event) {
  size_t removed = 0;
  std::string data = mcp::SseEventData(event);
  ObserveList(data);
  std::optional<std::string> filtered =
      mcp::FilterListResponse(data, rules_.list_kind, rules_.grant, &removed);
  if (filtered && removed > 0) {
    writer_->WriteBody(mcp::ReplaceSseEventData(event, *filtered));
  } else {
    writer_->WriteBody(event);
  }
}

void ProxyExchange::GuardEvent(std::string_view event) {
  std::string data = mcp::SseEventData(event);
  // Most events are notifications and results: a request needs both a method and an id.
  if (data.find("\"method\"") == std::string::npos || data.find("\"id\"") == std::string::npos) {
    writer_->WriteBody(event);
    return;
  }
  mcp::InspectResult message = mcp::InspectMessage(data, mcp::kDefaultMaxJsonDepth);
  if (!message.ok() || message.info().kind != mcp::MessageInfo::Kind::kRequest) {
    writer_->WriteBody(event);
    return;
  }
  const mcp::MessageInfo& info = message.info();
  policy::Action action;
  action.upstream = upstream_->name;
  action.method = info.method;
  action.server_request = true;
  policy::Decision decision = rules_.policy->Decide(*rules_.identity, action);
  if (decision.allowed) {
    writer_->WriteBody(event);
    return;
  }
  RefuseServerRequest(info.method, info.id_json, decision.reason);
}

void ProxyExchange::RefuseServerRequest(const std::string& method, const std::string& id_json,
                                        const std::string& reason) {
  spdlog::info("policy: upstream {} asked cn=\"{}\" for {}: refused: {}", upstream_->name,
               rules_.identity->cn, method, reason);
  if (rules_.audit) {
    audit::Record record("mcp.denied");
    record.Str("direction", "server_to_client");
    audit::AppendIdentitySummary(&record, *rules_.identity);
    record.Str("server", upstream_->name).Str("method", method).Str("id", id_json);
    record.Str("decision", "deny").Str("reason", reason);
    rules_.audit->Write(std::move(record));
  }
  // Answer for the client, so the upstream does not wait for a reply that cannot come.
  http::HttpRequest answer;
  answer.method = "POST";
  answer.headers = {{"Content-Type", "application/json"},
                    {"Accept", "application/json, text/event-stream"}};
  if (!rules_.upstream_session_id.empty()) {
    answer.headers.emplace_back("Mcp-Session-Id", rules_.upstream_session_id);
  }
  if (!rules_.protocol_version.empty()) {
    answer.headers.emplace_back("MCP-Protocol-Version", rules_.protocol_version);
  }
  answer.body = mcp::JsonRpcErrorBody(id_json, mcp::kForbidden, "forbidden: " + reason);
  DetachedRequest::Send(pool_, upstream_,
                        BuildUpstreamRequest(answer, *upstream_, *rules_.identity, rules_.peer_ip));
}

void ProxyExchange::OnUpstreamBody(std::string_view data) {
  response_bytes_ += data.size();
  switch (mode_) {
    case BodyMode::kStream:
      writer_->WriteBody(data);
      break;
    case BodyMode::kBufferJson:
      if (held_body_.size() + data.size() > rules_.max_buffer_bytes) {
        FailLocally(502, mcp::kUpstreamUnavailable, "list response larger than the limit");
        return;
      }
      held_body_.append(data);
      return;
    case BodyMode::kGuardSse:
      if (!splitter_.Feed(data, [this](std::string_view e) { GuardEvent(e); })) {
        Cancel();
        writer_->Abort();  // an event larger than the bound cannot be judged: cut the stream
        return;
      }
      break;
    case BodyMode::kFilterSse:
      if (!splitter_.Feed(data, [this](std::string_view e) { WriteFilteredEvent(e); })) {
        Cancel();
        writer_->Abort();  // an event larger than the bound: cut rather than pass it unfiltered
        return;
      }
      break;
  }
  if (!paused_ && connection_ && writer_->buffered_bytes() > kHighWater) {
    paused_ = true;
    connection_->PauseReading();
  }
}

void ProxyExchange::FailLocally(int http_status, int code, const std::string& message) {
  Cancel();
  status_ = http_status;
  http::WriteSimpleResponse(writer_, http_status, "application/json",
                            mcp::JsonRpcErrorBody(id_json_, code, message));
}

void ProxyExchange::OnUpstreamComplete() {
  connection_ = nullptr;  // back in the pool or closing: no longer ours
  if (mode_ == BodyMode::kBufferJson) {
    size_t removed = 0;
    ObserveList(held_body_);
    std::optional<std::string> filtered =
        mcp::FilterListResponse(held_body_, rules_.list_kind, rules_.grant, &removed);
    std::string body = filtered ? std::move(*filtered) : std::move(held_body_);
    head_written_ = true;
    writer_->WriteHead(status_, held_headers_, body.size());
    writer_->WriteBody(body);
  } else if (mode_ == BodyMode::kFilterSse) {
    std::string rest = splitter_.TakeRest();
    if (!rest.empty()) WriteFilteredEvent(rest);
  } else if (mode_ == BodyMode::kGuardSse) {
    std::string rest = splitter_.TakeRest();
    if (!rest.empty()) GuardEvent(rest);
  }
  writer_->Finish();  // may destroy this exchange: nothing after it
}

void ProxyExchange::OnUpstreamError(UpstreamError error, const std::string& detail,
                                    bool retryable) {
  connection_ = nullptr;
  if (retryable && !retried_ && !request_.empty()) {
    retried_ = true;
    spdlog::debug("upstream {}: stale keep-alive connection ({}); retrying on a new one",
                  upstream_->name, detail);
    Send(/*fresh=*/true);
    return;
  }
  spdlog::warn("upstream {} ({}:{}): {}: {}", upstream_->name, upstream_->host, upstream_->port,
               UpstreamErrorName(error), detail);
  error_ = error;
  error_detail_ = detail;
  if (head_written_) {
    writer_->Abort();  // the head is out: only a cut connection tells the truth
    return;
  }
  bool timeout =
      error == UpstreamError::kConnectTimeout || error == UpstreamError::kResponseTimeout;
  int code = timeout ? mcp::kUpstreamTimeout : mcp::kUpstreamUnavailable;
  status_ = timeout ? 504 : 502;
  std::string message = "upstream \"" + upstream_->name + "\" " +
                        (timeout ? "timed out" : "unavailable") + ": " +
                        std::string(UpstreamErrorName(error));
  if (error == UpstreamError::kTls) {
    // The classified reason tells whoever reads the error what is wrong with the upstream's
    // certificate: "TLS handshake failed: HOSTNAME_MISMATCH: ...". A setup failure (an
    // unreadable CA bundle or key) names files on the gateway's disk: that detail stays in the
    // log and the audit record.
    static constexpr std::string_view kSetupFailed = "TLS setup failed";
    message = "upstream \"" + upstream_->name + "\": " +
              (detail.rfind(kSetupFailed, 0) == 0
                   ? std::string(kSetupFailed) + " (the gateway's log says why)"
                   : detail);
  }
  http::WriteSimpleResponse(writer_, status_, "application/json",
                            mcp::JsonRpcErrorBody(id_json_, code, message));
}

}  // namespace portcullis::upstream
