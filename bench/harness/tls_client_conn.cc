#include "bench/harness/tls_client_conn.h"

// wolfssl/options.h first: it decides what the other wolfSSL headers declare.
#include <wolfssl/options.h>

#include <wolfssl/error-ssl.h>
#include <wolfssl/ssl.h>

#include <utility>

namespace portcullis::bench {
namespace {

// Bound on a graceful close (close_notify, FIN, waiting for our writes to drain): a server that
// stops reading must not keep the benchmark from ending.
constexpr uint64_t kCloseLingerMs = 1000;

// One read buffer per thread: each loop runs on one thread, and MemoryIo copies whatever
// wolfSSL has not consumed before the read callback returns (MemoryIo::Stash).
thread_local char read_buffer[64 * 1024];

bool LooksLikeTls(int first_byte) {
  // TLS record content types: change_cipher_spec 20, alert 21, handshake 22, data 23.
  return first_byte < 0 || (first_byte >= 20 && first_byte <= 24);
}

}  // namespace

TlsClientConn* TlsClientConn::Start(uv_loop_t* loop, const Options& options, Delegate* delegate) {
  auto* c = new TlsClientConn(loop, options, delegate);
  if (!c->plain()) {
    c->ssl_ = options.tls->NewSession(&c->io_, &c->cert_requested_);
    if (c->ssl_ == nullptr) {
      c->FailLater({"CONNECT_FAILED", "cannot create a TLS session (SNI or name to verify)"});
      return c;
    }
    if (options.session != nullptr &&
        wolfSSL_set_session(c->ssl_, options.session) != WOLFSSL_SUCCESS) {
      // An expired or unusable session: this becomes a full handshake, which resumed() shows.
      wolfSSL_ERR_clear_error();
    }
  }
  c->ArmTimeout(options.handshake_timeout_ms, c->plain() ? "CONNECT_TIMEOUT" : "HANDSHAKE_TIMEOUT");
  int rc = uv_tcp_connect(&c->connect_req_, &c->tcp_, options.address, OnConnect);
  if (rc != 0) {
    c->FailLater(FailureFromUv(rc, "connect", false));
  }
  return c;
}

TlsClientConn::TlsClientConn(uv_loop_t* loop, const Options& options, Delegate* delegate)
    : loop_(loop),
      delegate_(delegate),
      tls_(options.tls),
      close_after_handshake_(options.close_after_handshake),
      handshake_timeout_ms_(options.handshake_timeout_ms) {
  uv_tcp_init(loop_, &tcp_);
  uv_timer_init(loop_, &timer_);
  tcp_.data = this;
  timer_.data = this;
  connect_req_.data = this;
  shutdown_req_.data = this;
  start_ns_ = uv_hrtime();
}

TlsClientConn::~TlsClientConn() {
  if (ssl_ != nullptr) {
    wolfSSL_free(ssl_);
  }
}

bool TlsClientConn::resumed() const {
  return ssl_ != nullptr && handshake_done_ && wolfSSL_session_reused(ssl_) != 0;
}

std::string TlsClientConn::version() const {
  const char* v = ssl_ != nullptr && handshake_done_ ? wolfSSL_get_version(ssl_) : nullptr;
  return v != nullptr ? v : "";
}

bool TlsClientConn::close_notify_received() const {
  return ssl_ != nullptr && (wolfSSL_get_shutdown(ssl_) & WOLFSSL_RECEIVED_SHUTDOWN) != 0;
}

WOLFSSL_SESSION* TlsClientConn::Get1Session() const {
  return ssl_ != nullptr && handshake_done_ ? wolfSSL_get1_session(ssl_) : nullptr;
}

void TlsClientConn::ArmTimeout(uint32_t ms, std::string reason) {
  if (handles_closing_) {
    return;
  }
  uv_timer_stop(&timer_);
  if (ms > 0) {
    timeout_reason_ = std::move(reason);
    uv_timer_start(&timer_, OnTimer, ms, 0);
  }
}

void TlsClientConn::OnConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<TlsClientConn*>(req->data);
  if (status == UV_ECANCELED || self->closing_) {
    return;
  }
  if (status < 0) {
    self->Fail(FailureFromUv(status, "connect", false));
    return;
  }
  self->connected_ = true;
  self->state_ = State::kHandshaking;
  uv_tcp_nodelay(&self->tcp_, 1);
  int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&self->tcp_), OnAlloc, OnRead);
  if (rc != 0) {
    self->Fail(FailureFromUv(rc, "read", false));
    return;
  }
  if (self->plain()) {
    self->HandshakeComplete();  // nothing to negotiate: connected is open
    return;
  }
  self->Drive();  // sends the ClientHello
}

void TlsClientConn::OnAlloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  buf->base = read_buffer;
  buf->len = sizeof(read_buffer);
}

void TlsClientConn::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<TlsClientConn*>(stream->data);
  if (nread == 0 || self->closing_) {
    return;
  }
  if (nread < 0) {
    uv_read_stop(stream);
    if (!self->plain() && (nread == UV_EOF || self->state_ == State::kConfirming)) {
      // wolfSSL sees the end once it has consumed what came before (an alert, say).
      self->io_.peer_closed = true;
      self->Drive();
      if (!self->closing_) {
        self->Fail(FailureFromUv(static_cast<int>(nread), "read", self->handshake_done_));
      }
      return;
    }
    self->Fail(FailureFromUv(static_cast<int>(nread), "read", self->handshake_done_));
    return;
  }
  if (self->plain()) {
    // The delegate copies what it keeps: the buffer is reused by the next read.
    self->delegate_->OnPlaintext(self, std::string_view(buf->base, static_cast<size_t>(nread)));
    return;
  }
  if (self->first_byte_ < 0) {
    self->first_byte_ = static_cast<unsigned char>(buf->base[0]);
  }
  self->io_.Lend(buf->base, static_cast<size_t>(nread));
  self->Drive();
  self->io_.Stash();
}

void TlsClientConn::Drive() {
  if (closing_) {
    return;
  }
  if (state_ == State::kHandshaking) {
    int ret = wolfSSL_connect(ssl_);
    Flush();
    if (closing_) {
      return;
    }
    if (ret != WOLFSSL_SUCCESS) {
      int error = wolfSSL_get_error(ssl_, ret);
      if (error != WOLFSSL_ERROR_WANT_READ && error != WOLFSSL_ERROR_WANT_WRITE) {
        FailTls(error);
      }
      return;
    }
    HandshakeComplete();
  }
  if (closing_) {
    return;
  }
  if (state_ == State::kConfirming) {
    ReadConfirmation();
  } else if (state_ == State::kOpen) {
    ReadPlaintext();
  }
}

void TlsClientConn::HandshakeComplete() {
  handshake_done_ = true;
  handshake_ns_ = uv_hrtime();
  ArmTimeout(0, "");
  if (!close_after_handshake_ || plain()) {
    state_ = State::kOpen;
    confirmed_ = true;
    delegate_->OnHandshake(this);
    return;
  }
  state_ = State::kConfirming;
  // Our close_notify and FIN follow our Finished at once; a server that refuses us sends its
  // alert before it reads them: TLS 1.3 servers judge the client certificate only after our
  // Finished, and a server may add checks of its own after its TLS library said yes (Portcullis
  // refuses a resumed session that lost the client's certificate), in either version. (Sent
  // once: Debian's wolfSSL_shutdown returns the same "not done" forever once the peer has
  // closed.)
  (void)wolfSSL_shutdown(ssl_);
  Flush();
  SendFin();
  ArmTimeout(handshake_timeout_ms_, "HANDSHAKE_TIMEOUT");
}

void TlsClientConn::ReadConfirmation() {
  char sink[16384];
  while (!closing_) {
    int ret = wolfSSL_read(ssl_, sink, sizeof(sink));
    if (ret > 0) {
      continue;  // application data the server volunteered: not ours to judge
    }
    int error = wolfSSL_get_error(ssl_, ret);
    if (error == WOLFSSL_ERROR_WANT_READ || error == WOLFSSL_ERROR_WANT_WRITE) {
      Flush();
      return;
    }
    Verdict();
    return;
  }
}

void TlsClientConn::Verdict() {
  WOLFSSL_ALERT_HISTORY history{};
  bool fatal_alert = wolfSSL_get_alert_history(ssl_, &history) == WOLFSSL_SUCCESS &&
                     history.last_rx.level == alert_fatal;
  if (fatal_alert && !confirmed_) {
    FailTls(FATAL_ERROR);
    return;
  }
  // The server's close_notify, or its close without an alert: it accepted the handshake.
  if (!confirmed_) {
    confirmed_ = true;
    handshake_ns_ = uv_hrtime();
    delegate_->OnHandshake(this);
  }
  closing_ = true;
  CloseHandles();
}

void TlsClientConn::ReadPlaintext() {
  char plain[16384];
  while (!closing_) {
    int ret = wolfSSL_read(ssl_, plain, sizeof(plain));
    if (ret > 0) {
      delegate_->OnPlaintext(this, std::string_view(plain, static_cast<size_t>(ret)));
      continue;
    }
    int error = wolfSSL_get_error(ssl_, ret);
    Flush();  // e.g. a key update answered
    if (error == WOLFSSL_ERROR_WANT_READ || error == WOLFSSL_ERROR_WANT_WRITE) {
      return;
    }
    FailTls(error);
    return;
  }
}

bool TlsClientConn::Write(std::string_view plaintext) {
  if (!open()) {
    return false;
  }
  if (plain()) {
    io_.out.append(plaintext);  // the outgoing buffer, sent as it is
    Flush();
    return !closing_;
  }
  size_t done = 0;
  while (done < plaintext.size()) {
    // Memory I/O never blocks a write, so wolfSSL takes everything (in records of up to 16 KiB).
    int ret =
        wolfSSL_write(ssl_, plaintext.data() + done, static_cast<int>(plaintext.size() - done));
    if (ret <= 0) {
      FailTls(wolfSSL_get_error(ssl_, ret));
      return false;
    }
    done += static_cast<size_t>(ret);
  }
  Flush();
  return !closing_;
}

void TlsClientConn::Flush() {
  if (io_.out.empty() || !connected_ || handles_closing_) {
    return;
  }
  auto* w = new WriteRequest();
  w->data = std::exchange(io_.out, std::string());
  w->req.data = this;
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned int>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, OnWrite);
  if (rc != 0) {
    delete w;
    Fail(FailureFromUv(rc, "write", handshake_done_));
  }
}

void TlsClientConn::OnWrite(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteRequest*>(req);
  auto* self = static_cast<TlsClientConn*>(req->data);
  delete w;
  if (status < 0 && status != UV_ECANCELED && !self->closing_) {
    if (self->state_ == State::kConfirming) {
      // The server closed as it answered our close_notify: that is the verdict.
      self->io_.peer_closed = true;
      self->Drive();
      return;
    }
    self->Fail(FailureFromUv(status, "write", self->handshake_done_));
  }
}

void TlsClientConn::SendFin() {
  if (fin_sent_ || !connected_ || handles_closing_) {
    return;
  }
  fin_sent_ = true;
  if (uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_), OnShutdown) != 0) {
    fin_sent_ = false;
  }
}

void TlsClientConn::OnShutdown(uv_shutdown_t* req, int) {
  auto* self = static_cast<TlsClientConn*>(req->data);
  // During a graceful Close() the FIN is the last thing to send; otherwise (confirming a
  // handshake) the server's answer is still to come.
  if (self->closing_) {
    self->CloseHandles();
  }
}

void TlsClientConn::OnTimer(uv_timer_t* timer) {
  auto* self = static_cast<TlsClientConn*>(timer->data);
  if (self->has_pending_failure_) {
    self->has_pending_failure_ = false;
    self->Fail(self->pending_failure_);
    return;
  }
  if (self->closing_) {
    self->CloseHandles();  // a graceful close that took too long
    return;
  }
  if (self->state_ == State::kConfirming && self->confirmed_) {
    self->closing_ = true;
    self->CloseHandles();
    return;
  }
  std::string detail = self->state_ == State::kConfirming
                           ? "no answer to close_notify after the handshake"
                       : self->state_ == State::kOpen ? "no complete response in time"
                       : self->plain()                ? "no connection in time"
                                                      : "no complete handshake in time";
  self->Fail({self->timeout_reason_, detail});
}

void TlsClientConn::FailTls(int error) {
  if (!handshake_done_ && !LooksLikeTls(first_byte_)) {
    Fail({"NOT_TLS", "the server answered in plaintext, not TLS"});
    return;
  }
  Fail(FailureFromTls(ssl_, error, handshake_done_ && confirmed_, tls_->cert_loaded()));
}

void TlsClientConn::FailLater(Failure failure) {
  pending_failure_ = std::move(failure);
  has_pending_failure_ = true;
  uv_timer_stop(&timer_);
  uv_timer_start(&timer_, OnTimer, 0, 0);
}

void TlsClientConn::Fail(const Failure& failure) {
  if (failed_ || handles_closing_) {
    return;
  }
  // Errors during a graceful close, or after a TLS 1.2 handshake was already reported done
  // (while we wait for the server's close), end the connection without a failure.
  bool report = !closing_ && !(state_ == State::kConfirming && confirmed_);
  closing_ = true;
  failed_ = true;
  if (report && cert_requested_ && !handshake_done_ &&
      (failure.reason == "CONNECTION_RESET" || failure.reason == "HANDSHAKE_FAILURE")) {
    delegate_->OnFailure(this, {"NO_CLIENT_CERTIFICATE",
                                "the server asked for a client certificate, got none and closed "
                                "the connection (" +
                                    failure.detail + ")"});
  } else if (report) {
    delegate_->OnFailure(this, failure);
  }
  CloseHandles();
}

void TlsClientConn::Close() {
  if (closing_) {
    return;
  }
  closing_ = true;
  if (state_ == State::kOpen && connected_ && !handles_closing_) {
    if (!plain()) {
      (void)wolfSSL_shutdown(ssl_);
    }
    Flush();
    if (!fin_sent_) {
      SendFin();
      if (fin_sent_) {
        uv_timer_stop(&timer_);
        uv_timer_start(&timer_, OnTimer, kCloseLingerMs, 0);
        return;  // OnShutdown (or the timer) closes the handles
      }
    }
  }
  CloseHandles();
}

void TlsClientConn::CloseHandles() {
  if (handles_closing_) {
    return;
  }
  handles_closing_ = true;
  uv_timer_stop(&timer_);
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnHandleClosed);
}

void TlsClientConn::OnHandleClosed(uv_handle_t* handle) {
  auto* self = static_cast<TlsClientConn*>(handle->data);
  if (--self->handles_open_ == 0) {
    self->delegate_->OnClosed(self);
    delete self;
  }
}

}  // namespace portcullis::bench
