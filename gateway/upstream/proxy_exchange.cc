#include "gateway/upstream/proxy_exchange.h"

#include <spdlog/spdlog.h>

#include "gateway/http/response_head.h"
#include "gateway/mcp/jsonrpc_error.h"
#include "gateway/upstream/upstream_connection.h"
#include "gateway/upstream/upstream_pool.h"

namespace portcullis::upstream {

ProxyExchange::ProxyExchange(UpstreamPool* pool, const UpstreamConfig* upstream,
                             http::ResponseWriter* writer, std::string request,
                             std::string id_json)
    : pool_(pool),
      upstream_(upstream),
      writer_(writer),
      request_(std::move(request)),
      id_json_(std::move(id_json)) {}

ProxyExchange::~ProxyExchange() { Cancel(); }

void ProxyExchange::Start() { Send(/*fresh=*/false); }

void ProxyExchange::Send(bool fresh) {
  connection_ = pool_->Acquire(upstream_, fresh);
  // A reused connection may turn out stale; keep the bytes for one retry. A fresh one has no
  // such race, so the request can move.
  bool stale_risk = connection_->has_served();
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

void ProxyExchange::OnUpstreamHead(int status, http::HeaderList headers,
                                   std::optional<uint64_t> content_length) {
  std::string().swap(request_);  // a response started: no retry any more
  status_ = status;
  http::HeaderList out;
  out.reserve(headers.size() + 1);
  bool event_stream = false;
  for (auto& [name, value] : headers) {
    if (http::IsHopByHopHeader(name)) continue;
    if (http::EqualsIgnoreCase(name, "x-accel-buffering")) continue;  // set below
    if (http::EqualsIgnoreCase(name, "content-type") &&
        value.find("text/event-stream") != std::string::npos) {
      event_stream = true;
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  // Tell any buffering proxy in front of us not to hold events back (MCP 2026-07-28).
  if (event_stream) out.emplace_back("X-Accel-Buffering", "no");
  writer_->WriteHead(status, out, content_length);
}

void ProxyExchange::OnUpstreamBody(std::string_view data) {
  response_bytes_ += data.size();
  writer_->WriteBody(data);
  if (!paused_ && connection_ && writer_->buffered_bytes() > kHighWater) {
    paused_ = true;
    connection_->PauseReading();
  }
}

void ProxyExchange::OnUpstreamComplete() {
  connection_ = nullptr;  // back in the pool or closing: no longer ours
  writer_->Finish();      // may destroy this exchange: nothing after it
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
  if (status_ != 0) {
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
  http::WriteSimpleResponse(writer_, status_, "application/json",
                            mcp::JsonRpcErrorBody(id_json_, code, message));
}

}  // namespace portcullis::upstream
