// UpstreamConnection: one keep-alive HTTP/1.1 connection from a reactor to an HTTP upstream.
//
// For an https:// upstream the connection is TLS (upstream_tls.h): the handshake runs right
// after the TCP connect and counts against connect_timeout_ms; requests are encrypted on the
// way out and responses decrypted before llhttp sees them. A TLS failure reaches the sink as
// UpstreamError::kTls with the classified reason at the start of the detail.
// Owned by the reactor's UpstreamPool while idle and lent to one exchange at a time. It
// deletes itself after its handles' close callbacks (and any pending DNS lookup) finish.
// Response bytes are handed to the sink as they arrive: nothing is buffered here, and
// PauseReading() stops the socket when the client cannot keep up. Reactor thread only.
#pragma once

#include <llhttp.h>
#include <uv.h>

#include <memory>
#include <string>

#include "gateway/upstream/upstream_sink.h"
#include "portcullis/config.h"

namespace portcullis::upstream {

class UpstreamPool;
class UpstreamTlsSession;

class UpstreamConnection {
 public:
  // Starts resolving and connecting at once. `upstream` must outlive the connection.
  UpstreamConnection(uv_loop_t* loop, UpstreamPool* pool, const UpstreamConfig* upstream);
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  // Sends one request (head and body, already serialised) and reports the response to
  // `sink`. The connection is busy until the sink hears Complete or Error.
  void Send(std::string request, UpstreamSink* sink);
  void PauseReading();
  void ResumeReading();
  // Detaches the sink and closes the connection (the client went away).
  void Abort();
  // Closes the connection; a sink still attached hears an error (never retryable). Used when
  // the reactor stops, so that requests nobody else tracks (DetachedRequest) end too.
  void Shutdown();

  const UpstreamConfig* upstream() const { return upstream_; }
  bool reused() const { return requests_sent_ > 1; }
  // It served a request before: it came from the pool and may have been closed meanwhile.
  bool has_served() const { return requests_sent_ > 0; }
  bool idle() const { return sink_ == nullptr && !closing_; }

 private:
  ~UpstreamConnection();
  void Resolve();
  static void OnResolved(uv_getaddrinfo_t* req, int status, addrinfo* res);
  void Connect(const sockaddr* address);
  static void OnConnect(uv_connect_t* req, int status);
  // https: the TCP connection is up; start the TLS handshake.
  void StartTls();
  void AdvanceHandshake();
  // Ready for requests (TCP, and TLS when https).
  void OnEstablished();
  static void OnTimer(uv_timer_t* timer);
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnClose(uv_handle_t* handle);
  void StartRequest();
  void StartReading();
  // Writes bytes now, queuing what the socket does not take (common/try_write.h); false
  // (after Fail) when libuv refused them.
  bool WriteRaw(std::string data);
  // Sends whatever ciphertext the TLS session produced.
  void FlushTls();
  void OnTlsRead(const char* data, ssize_t nread);
  // Response bytes (decrypted for https) into llhttp.
  void Deliver(const char* data, size_t len);
  // The upstream closed the connection (UV_EOF, or close_notify) or it broke (`nread` < 0).
  void OnEof(ssize_t nread);
  void FailTls(bool during_handshake);
  void Fail(UpstreamError error, const std::string& detail);
  void FinishResponse();
  void Close();
  void MaybeDelete();

  static int OnHeaderField(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t len);
  static int OnMessageComplete(llhttp_t* p);

  uv_loop_t* loop_;
  UpstreamPool* pool_;
  const UpstreamConfig* upstream_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_getaddrinfo_t resolve_req_;
  uv_connect_t connect_req_;
  llhttp_settings_t settings_;
  llhttp_t parser_;
  std::unique_ptr<UpstreamTlsSession> tls_;  // https only, from the TCP connect on

  UpstreamSink* sink_ = nullptr;
  std::string pending_request_;  // waiting for the connection to be established
  http::HeaderList headers_;
  bool in_value_ = false;
  bool tcp_connected_ = false;
  bool connected_ = false;  // ready for requests: TCP up and, for https, the handshake done
  bool resolving_ = false;
  bool started_ = false;  // the first timer tick starts resolving / connecting
  bool reading_ = false;
  bool paused_ = false;
  bool head_seen_ = false;
  bool response_bytes_seen_ = false;
  bool message_complete_ = false;
  bool keep_alive_ = false;
  bool closing_ = false;
  int handles_open_ = 2;  // tcp_ and timer_
  int requests_sent_ = 0;
};

}  // namespace portcullis::upstream
