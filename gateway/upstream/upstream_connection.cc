#include "gateway/upstream/upstream_connection.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "gateway/common/try_write.h"
#include "gateway/upstream/upstream_pool.h"
#include "gateway/upstream/upstream_tls.h"

namespace portcullis::upstream {
namespace {

UpstreamConnection* FromParser(llhttp_t* p) { return static_cast<UpstreamConnection*>(p->data); }

// Reads on upstream sockets use one buffer per thread: every byte is handed on (encrypted
// into the client's output) before the read callback returns.
char* ThreadReadBuffer() {
  static thread_local char buffer[65536];
  return buffer;
}

}  // namespace

std::string_view UpstreamErrorName(UpstreamError error) {
  switch (error) {
    case UpstreamError::kResolve:
      return "resolve";
    case UpstreamError::kRefused:
      return "refused";
    case UpstreamError::kConnectTimeout:
      return "connect_timeout";
    case UpstreamError::kResponseTimeout:
      return "response_timeout";
    case UpstreamError::kReset:
      return "reset";
    case UpstreamError::kProtocol:
      return "protocol";
    case UpstreamError::kTls:
      return "tls_failed";
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
  // The connect starts on the next loop turn, not here: a failure known at once (a resolver
  // or connect error, EMFILE) must reach the sink the caller attaches after construction, and
  // the pool must have registered the connection before it can close.
  uv_timer_start(&timer_, OnTimer, 0, 0);
}

UpstreamConnection::~UpstreamConnection() = default;

void UpstreamConnection::Resolve() {
  // Literal addresses skip the resolver; names go through libuv's thread pool, never
  // blocking the loop.
  sockaddr_storage ss = {};
  if (uv_ip4_addr(upstream_->host.c_str(), upstream_->port, reinterpret_cast<sockaddr_in*>(&ss)) ==
          0 ||
      uv_ip6_addr(upstream_->host.c_str(), upstream_->port, reinterpret_cast<sockaddr_in6*>(&ss)) ==
          0) {
    Connect(reinterpret_cast<sockaddr*>(&ss));
    return;
  }
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  resolve_req_.data = this;
  std::string port = std::to_string(upstream_->port);
  int rc = uv_getaddrinfo(loop_, &resolve_req_, OnResolved, upstream_->host.c_str(), port.c_str(),
                          &hints);
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
  self->tcp_connected_ = true;
  uv_tcp_nodelay(&self->tcp_, 1);
  if (self->upstream_->scheme == "https") {
    self->StartTls();  // the connect timer keeps running until the handshake is done
    return;
  }
  self->OnEstablished();
}

void UpstreamConnection::OnEstablished() {
  connected_ = true;
  uv_timer_stop(&timer_);
  if (!reading_) StartReading();
  if (sink_) StartRequest();
}

void UpstreamConnection::StartTls() {
  Result<std::shared_ptr<const UpstreamTlsContext>> context = pool_->TlsContext(upstream_);
  if (!context.ok()) {
    Fail(UpstreamError::kTls, "TLS setup failed: " + context.error());
    return;
  }
  Result<std::unique_ptr<UpstreamTlsSession>> session = UpstreamTlsSession::Create(*context);
  if (!session.ok()) {
    Fail(UpstreamError::kTls, "TLS setup failed: " + session.error());
    return;
  }
  tls_ = std::move(session).value();
  StartReading();
  AdvanceHandshake();
}

void UpstreamConnection::AdvanceHandshake() {
  UpstreamTlsSession::Step step = tls_->Handshake();
  FlushTls();  // the ClientHello, our next flight, or the alert that ends a failed handshake
  if (closing_) return;
  if (step == UpstreamTlsSession::Step::kFailed) {
    FailTls(/*during_handshake=*/true);
  } else if (step == UpstreamTlsSession::Step::kDone) {
    spdlog::debug("upstream {}: {} {} to {}:{}", upstream_->name, tls_->version(), tls_->cipher(),
                  upstream_->host, upstream_->port);
    OnEstablished();
  }
}

void UpstreamConnection::FailTls(bool during_handshake) {
  std::string detail = during_handshake ? "TLS handshake failed: " : "TLS failed: ";
  detail += std::string(tls_->failure_reason()) + ": " + tls_->failure_detail();
  Fail(UpstreamError::kTls, detail);
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
  std::string data = std::move(pending_request_);
  if (tls_) {
    Status encrypted = tls_->Write(data);
    if (!encrypted.ok()) {
      // The session broke since the last response (a stale pooled connection): a reset.
      Fail(UpstreamError::kReset, encrypted.message());
      return;
    }
    data = tls_->TakeOutput();
  }
  if (!WriteRaw(std::move(data))) return;
  uv_timer_start(&timer_, OnTimer, upstream_->response_timeout_ms, 0);
}

bool UpstreamConnection::WriteRaw(std::string data) {
  // What the socket takes at once needs no callback (OnWrite only reports errors, and
  // TryWrite leaves socket errors to uv_write's usual path).
  common::WriteOutcome outcome =
      common::TryWrite(reinterpret_cast<uv_stream_t*>(&tcp_), std::move(data), this, OnWrite);
  if (outcome.error != 0) {
    Fail(UpstreamError::kReset, std::string("write: ") + uv_strerror(outcome.error));
    return false;
  }
  return true;
}

void UpstreamConnection::FlushTls() {
  if (tls_ && tls_->has_output() && !closing_) WriteRaw(tls_->TakeOutput());
}

void UpstreamConnection::OnWrite(uv_write_t* req, int status) {
  auto* self = static_cast<UpstreamConnection*>(req->data);
  delete common::QueuedWrite::From(req);
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
  if (self->tls_) {
    self->OnTlsRead(buf->base, nread);
  } else if (nread < 0) {
    self->OnEof(nread);
  } else {
    self->Deliver(buf->base, static_cast<size_t>(nread));
  }
}

void UpstreamConnection::OnTlsRead(const char* data, ssize_t nread) {
  if (nread < 0 && nread != UV_EOF) {  // ECONNRESET and the like: nothing more to decrypt
    if (!tls_->handshake_done()) {
      Fail(UpstreamError::kTls, std::string("TLS handshake failed: CONNECTION_RESET: ") +
                                    uv_strerror(static_cast<int>(nread)));
    } else {
      OnEof(nread);
    }
    return;
  }
  if (nread < 0) {
    tls_->MarkPeerClosed();
  } else {
    tls_->Lend(data, static_cast<size_t>(nread));
  }
  if (!tls_->handshake_done()) {
    AdvanceHandshake();
    if (closing_ || !tls_->handshake_done()) {
      tls_->Settle();
      return;
    }
  }
  std::string plain;
  UpstreamTlsSession::ReadResult result = tls_->Read(&plain);
  tls_->Settle();
  FlushTls();  // post-handshake answers (a KeyUpdate's) go out at once
  if (!plain.empty()) {
    Deliver(plain.data(), plain.size());
    if (closing_) return;
  }
  if (result == UpstreamTlsSession::ReadResult::kClosed) {
    OnEof(UV_EOF);
  } else if (result == UpstreamTlsSession::ReadResult::kFailed) {
    // Before any response byte this is still the handshake as far as the operator is
    // concerned: a TLS 1.3 server judges our certificate after our Finished and answers the
    // first request with its alert.
    FailTls(/*during_handshake=*/requests_sent_ <= 1 && !response_bytes_seen_);
  }
}

void UpstreamConnection::OnEof(ssize_t nread) {
  if (!sink_) {  // idle in the pool: the upstream closed it
    Close();
    return;
  }
  if (nread == UV_EOF && head_seen_) {
    llhttp_finish(&parser_);  // completes a body delimited by the close
  }
  if (closing_) return;
  if (message_complete_) {
    keep_alive_ = false;  // a body delimited by close
    FinishResponse();
    return;
  }
  Fail(UpstreamError::kReset,
       nread == UV_EOF ? "upstream closed the connection" : uv_strerror(static_cast<int>(nread)));
}

void UpstreamConnection::Deliver(const char* data, size_t len) {
  if (!sink_) {
    // Bytes on an idle connection are a protocol error; never reuse it.
    Close();
    return;
  }
  response_bytes_seen_ = true;
  llhttp_errno_t err = llhttp_execute(&parser_, data, len);
  if (closing_) return;  // the sink aborted us from a callback
  if (err == HPE_PAUSED) {
    // Paused by OnMessageComplete: anything after the response is unsolicited.
    FinishResponse();
    return;
  }
  if (err != HPE_OK) {
    Fail(UpstreamError::kProtocol,
         std::string("invalid HTTP response: ") + llhttp_get_error_reason(&parser_));
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
  if (!self->started_) {
    self->started_ = true;
    uv_timer_start(&self->timer_, OnTimer, self->upstream_->connect_timeout_ms, 0);
    self->Resolve();
    return;
  }
  if (!self->sink_) {
    self->Close();  // idle timeout in the pool
  } else if (!self->connected_ && self->tcp_connected_) {
    // The TLS handshake is part of establishing the connection: a stalled one is a connect
    // timeout (504), with the operator's reason in the detail.
    self->Fail(UpstreamError::kConnectTimeout,
               "TLS handshake failed: HANDSHAKE_TIMEOUT: no TLS handshake within " +
                   std::to_string(self->upstream_->connect_timeout_ms) + " ms");
  } else if (!self->connected_) {
    self->Fail(
        UpstreamError::kConnectTimeout,
        "no connection within " + std::to_string(self->upstream_->connect_timeout_ms) + " ms");
  } else {
    self->Fail(
        UpstreamError::kResponseTimeout,
        "no response within " + std::to_string(self->upstream_->response_timeout_ms) + " ms");
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
