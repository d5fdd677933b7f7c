#include "gateway/upstream/upstream_connection.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "gateway/upstream/upstream_pool.h"

namespace portcullis::upstream {
namespace {

UpstreamConnection* FromParser(llhttp_t* p) { return static_cast<UpstreamConnection*>(p->data); }

struct WriteRequest {
  uv_write_t req;
  std::string data;  // owned until the write callback runs
};

// Reads on upstream sockets use one buffer per thread: every byte is handed on (encrypted
// into the client's output) before the read callback returns.
char* ThreadReadBuffer() {
  static thread_local char buffer[65536];
  return buffer;
}

}  // namespace

std::string_view UpstreamErrorName(UpstreamError error) {
  switch (error) {
    case UpstreamError::kResolve: return "resolve";
    case UpstreamError::kRefused: return "refused";
    case UpstreamError::kConnectTimeout: return "connect_timeout";
    case UpstreamError::kResponseTimeout: return "response_timeout";
    case UpstreamError::kReset: return "reset";
    case UpstreamError::kProtocol: return "protocol";
  }
  return "unknown";
}

UpstreamConnection::UpstreamConnection(uv_loop_t* loop, UpstreamPool* pool,
                                       const UpstreamConfig* upstream)
    : loop_(loop), pool_(pool), upstream_(upstream) {
  uv_tcp_init(loop_, &tcp_);
  uv_timer_init(loop_, &timer_);
  tcp_.data = this;
  timer_.data = this;
  llhttp_settings_init(&settings_);
  settings_.on_header_field = OnHeaderField;
  settings_.on_header_value = OnHeaderValue;
  settings_.on_headers_complete = OnHeadersComplete;
  settings_.on_body = OnBody;
  settings_.on_message_complete = OnMessageComplete;
  llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
  parser_.data = this;
  uv_timer_start(&timer_, OnTimer, upstream_->connect_timeout_ms, 0);
  Resolve();
}

UpstreamConnection::~UpstreamConnection() = default;

void UpstreamConnection::Resolve() {
  // Literal addresses skip the resolver; names go through libuv's thread pool, never
  // blocking the loop.
  sockaddr_storage ss = {};
  if (uv_ip4_addr(upstream_->host.c_str(), upstream_->port,
                  reinterpret_cast<sockaddr_in*>(&ss)) == 0 ||
      uv_ip6_addr(upstream_->host.c_str(), upstream_->port,
                  reinterpret_cast<sockaddr_in6*>(&ss)) == 0) {
    Connect(reinterpret_cast<sockaddr*>(&ss));
    return;
  }
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  resolve_req_.data = this;
  std::string port = std::to_string(upstream_->port);
  int rc = uv_getaddrinfo(loop_, &resolve_req_, OnResolved, upstream_->host.c_str(),
                          port.c_str(), &hints);
  if (rc != 0) {
    Fail(UpstreamError::kResolve, upstream_->host + ": " + uv_strerror(rc));
    return;
  }
  resolving_ = true;
}

void UpstreamConnection::OnResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  auto* self = static_cast<UpstreamConnection*>(req->data);
  self->resolving_ = false;
  if (self->closing_) {
    uv_freeaddrinfo(res);
    self->MaybeDelete();
    return;
  }
  if (status != 0 || !res) {
    self->Fail(UpstreamError::kResolve, self->upstream_->host + ": " + uv_strerror(status));
  } else {
    self->Connect(res->ai_addr);
  }
  uv_freeaddrinfo(res);
}

void UpstreamConnection::Connect(const sockaddr* address) {
  connect_req_.data = this;
  int rc = uv_tcp_connect(&connect_req_, &tcp_, address, OnConnect);
  if (rc != 0) Fail(UpstreamError::kRefused, uv_strerror(rc));
}

void UpstreamConnection::OnConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<UpstreamConnection*>(req->data);
  if (self->closing_) return;  // UV_ECANCELED after Abort()
  if (status != 0) {
    self->Fail(UpstreamError::kRefused, uv_strerror(status));
    return;
  }
  self->connected_ = true;
  uv_tcp_nodelay(&self->tcp_, 1);
  uv_timer_stop(&self->timer_);
  self->StartReading();
  if (self->sink_) self->StartRequest();
}

void UpstreamConnection::Send(std::string request, UpstreamSink* sink) {
  sink_ = sink;
  pending_request_ = std::move(request);
  headers_.clear();
  in_value_ = head_seen_ = response_bytes_seen_ = message_complete_ = false;
  paused_ = false;
  ++requests_sent_;
  if (connected_) {
    if (!reading_) StartReading();
    StartRequest();
  }
}

void UpstreamConnection::StartRequest() {
  auto* w = new WriteRequest;
  w->data = std::move(pending_request_);
  w->req.data = this;
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, OnWrite);
  if (rc != 0) {
    delete w;
    Fail(UpstreamError::kReset, std::string("write: ") + uv_strerror(rc));
    return;
  }
  uv_timer_start(&timer_, OnTimer, upstream_->response_timeout_ms, 0);
}

void UpstreamConnection::OnWrite(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteRequest*>(req);
  auto* self = static_cast<UpstreamConnection*>(req->data);
  delete w;
  if (status != 0 && !self->closing_) {
    self->Fail(UpstreamError::kReset, std::string("write: ") + uv_strerror(status));
  }
}

void UpstreamConnection::StartReading() {
  reading_ = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead);
}

void UpstreamConnection::PauseReading() {
  if (paused_ || closing_) return;
  paused_ = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
}

void UpstreamConnection::ResumeReading() {
  if (!paused_ || closing_) return;
  paused_ = false;
  StartReading();
}

void UpstreamConnection::OnAlloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  *buf = uv_buf_init(ThreadReadBuffer(), 65536);
}

void UpstreamConnection::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<UpstreamConnection*>(stream->data);
  if (nread == 0 || self->closing_) return;
  if (nread < 0) {
    if (!self->sink_) {  // idle in the pool: the upstream closed it
      self->Close();
      return;
    }
    if (nread == UV_EOF && self->head_seen_) {
      llhttp_finish(&self->parser_);  // completes a body delimited by the close
    }
    if (self->closing_) return;
    if (self->message_complete_) {
      self->keep_alive_ = false;  // a body delimited by close
      self->FinishResponse();
      return;
    }
    self->Fail(UpstreamError::kReset,
               nread == UV_EOF ? "upstream closed the connection" : uv_strerror(nread));
    return;
  }
  if (!self->sink_) {
    // Bytes on an idle connection are a protocol error; never reuse it.
    self->Close();
    return;
  }
  self->response_bytes_seen_ = true;
  llhttp_errno_t err = llhttp_execute(&self->parser_, buf->base, static_cast<size_t>(nread));
  if (self->closing_) return;  // the sink aborted us from a callback
  if (err == HPE_PAUSED) {
    // Paused by OnMessageComplete: anything after the response is unsolicited.
    self->FinishResponse();
    return;
  }
  if (err != HPE_OK) {
    self->Fail(UpstreamError::kProtocol, std::string("invalid HTTP response: ") +
                                             llhttp_get_error_reason(&self->parser_));
  }
}

void UpstreamConnection::FinishResponse() {
  UpstreamSink* sink = sink_;
  sink_ = nullptr;
  uv_timer_stop(&timer_);
  bool reuse = keep_alive_ && !paused_ && !closing_;
  llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
  parser_.data = this;
  if (reuse && pool_->Release(this)) {
    uv_timer_start(&timer_, OnTimer, UpstreamPool::kIdleTimeoutMs, 0);
  } else {
    Close();
  }
  sink->OnUpstreamComplete();
}

void UpstreamConnection::OnTimer(uv_timer_t* timer) {
  auto* self = static_cast<UpstreamConnection*>(timer->data);
  if (!self->sink_) {
    self->Close();  // idle timeout in the pool
  } else if (!self->connected_) {
    self->Fail(UpstreamError::kConnectTimeout,
               "no connection within " + std::to_string(self->upstream_->connect_timeout_ms) +
                   " ms");
  } else {
    self->Fail(UpstreamError::kResponseTimeout,
               "no response within " + std::to_string(self->upstream_->response_timeout_ms) +
                   " ms");
  }
}

void UpstreamConnection::Fail(UpstreamError error, const std::string& detail) {
  UpstreamSink* sink = sink_;
  bool retryable = reused() && !response_bytes_seen_ &&
                   (error == UpstreamError::kReset || error == UpstreamError::kProtocol);
  sink_ = nullptr;
  Close();
  if (sink) sink->OnUpstreamError(error, detail, retryable);
}

void UpstreamConnection::Shutdown() {
  UpstreamSink* sink = sink_;
  sink_ = nullptr;
  Close();
  if (sink) sink->OnUpstreamError(UpstreamError::kReset, "the gateway is stopping", false);
}

void UpstreamConnection::Abort() {
  sink_ = nullptr;
  Close();
}

void UpstreamConnection::Close() {
  if (closing_) return;
  closing_ = true;
  pool_->Forget(this);
  uv_timer_stop(&timer_);
  if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_req_));
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnClose);
}

void UpstreamConnection::OnClose(uv_handle_t* handle) {
  auto* self = static_cast<UpstreamConnection*>(handle->data);
  --self->handles_open_;
  self->MaybeDelete();
}

void UpstreamConnection::MaybeDelete() {
  if (handles_open_ == 0 && !resolving_) delete this;
}

int UpstreamConnection::OnHeaderField(llhttp_t* p, const char* at, size_t len) {
  UpstreamConnection* self = FromParser(p);
  if (self->in_value_ || self->headers_.empty()) {
    self->headers_.emplace_back();
    self->in_value_ = false;
  }
  self->headers_.back().first.append(at, len);
  return 0;
}

int UpstreamConnection::OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
  UpstreamConnection* self = FromParser(p);
  self->in_value_ = true;
  if (self->headers_.empty()) self->headers_.emplace_back();
  self->headers_.back().second.append(at, len);
  return 0;
}

int UpstreamConnection::OnHeadersComplete(llhttp_t* p) {
  UpstreamConnection* self = FromParser(p);
  if (p->status_code < 200) {  // 100 Continue and friends: not forwarded
    self->headers_.clear();
    return 0;
  }
  self->head_seen_ = true;
  uv_timer_stop(&self->timer_);  // the response started: no response timeout any more
  std::optional<uint64_t> length;
  if ((p->flags & F_CONTENT_LENGTH) && !(p->flags & F_CHUNKED)) length = p->content_length;
  if (self->sink_) self->sink_->OnUpstreamHead(p->status_code, std::move(self->headers_), length);
  self->headers_.clear();
  return 0;
}

int UpstreamConnection::OnBody(llhttp_t* p, const char* at, size_t len) {
  UpstreamConnection* self = FromParser(p);
  if (self->sink_) self->sink_->OnUpstreamBody(std::string_view(at, len));
  return 0;
}

int UpstreamConnection::OnMessageComplete(llhttp_t* p) {
  UpstreamConnection* self = FromParser(p);
  if (!self->head_seen_) return 0;  // the end of a 1xx interim response
  self->message_complete_ = true;
  self->keep_alive_ = llhttp_should_keep_alive(p) != 0;
  return HPE_PAUSED;
}

}  // namespace portcullis::upstream
