// TlsClientConn: one client connection of the benchmark: a uv_tcp_t carrying a wolfSSL client
// session that runs on tls::MemoryIo (wolfSSL never touches the socket; this class moves the
// ciphertext between the socket and the session's buffers).
//
// Lifecycle: Start() connects and handshakes; the delegate hears OnHandshake() once the
// handshake is done, OnPlaintext() for every piece of application data, OnFailure() at most
// once when something went wrong (the connection then closes itself), and OnClosed() exactly
// once, last, after every libuv handle has closed; the object deletes itself right after
// OnClosed() returns. Close() ends it early (with close_notify and FIN when the connection is
// open). With `close_after_handshake` (the handshake mode) the connection sends close_notify
// right after its Finished and waits for the server's answer: a TLS 1.3 server judges the client
// certificate only after the client has finished, so the handshake counts as done only when the
// server answered with its own close_notify or a close rather than an alert; a TLS 1.2
// handshake is already confirmed by the server's Finished. Every wait is bounded by a timer.
//
// Without a TLS context (Options::tls null, the request mode's --plain) the TLS layer is a
// pass-through: the connection is plain TCP, OnHandshake() means connected, OnPlaintext()
// hands over the bytes as they arrive and Write() sends them as they are; everything else (the
// timers, the failures, the close) is the same, so the request path does not know the
// difference.
//
// Not thread-safe: a connection lives on the loop that started it. The delegate may call
// Write(), ArmTimeout() and Close() from its callbacks.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "bench/harness/failure.h"
#include "bench/harness/tls_client_context.h"
#include "gateway/tls/memory_io.h"

typedef struct WOLFSSL_SESSION WOLFSSL_SESSION;

namespace portcullis::bench {

class TlsClientConn {
 public:
  class Delegate {
   public:
    virtual ~Delegate() = default;
    virtual void OnHandshake(TlsClientConn* conn) = 0;
    virtual void OnPlaintext(TlsClientConn* conn, std::string_view data) = 0;
    virtual void OnFailure(TlsClientConn* conn, const Failure& failure) = 0;
    virtual void OnClosed(TlsClientConn* conn) = 0;
  };

  struct Options {
    const ClientTlsContext* tls = nullptr;  // null: plain TCP (not with close_after_handshake)
    const sockaddr* address = nullptr;
    WOLFSSL_SESSION* session = nullptr;  // offered for resumption; borrowed during Start()
    uint32_t handshake_timeout_ms = 10000;
    bool close_after_handshake = false;
  };

  // Never fails synchronously: a failure to start is reported through OnFailure() from the loop.
  static TlsClientConn* Start(uv_loop_t* loop, const Options& options, Delegate* delegate);

  TlsClientConn(const TlsClientConn&) = delete;
  TlsClientConn& operator=(const TlsClientConn&) = delete;

  // Encrypts (unless plain) and sends application data; false when the connection is not open.
  bool Write(std::string_view plaintext);
  // Fails the connection with `reason` unless disarmed (0) or re-armed within `ms`.
  void ArmTimeout(uint32_t ms, std::string reason);
  // Ends the connection; idempotent. OnClosed() follows (never from inside this call).
  void Close();

  bool open() const { return state_ == State::kOpen && !closing_; }
  bool resumed() const;
  // The server sent its close_notify (with close_after_handshake: in answer to ours, as RFC 8446
  // §6.1 requires). A server that just closes leaves the verdict open: a refusal without an
  // alert looks the same.
  bool close_notify_received() const;
  std::string version() const;  // "TLSv1.3"
  // A new reference to the session, for resumption on a later connection (the caller frees it
  // with wolfSSL_SESSION_free); null if there is none.
  WOLFSSL_SESSION* Get1Session() const;

  uint64_t start_ns() const { return start_ns_; }          // uv_hrtime() at Start()
  uint64_t handshake_ns() const { return handshake_ns_; }  // when the handshake was confirmed

  void* user_data = nullptr;  // the delegate's, e.g. its slot

 private:
  enum class State { kConnecting, kHandshaking, kConfirming, kOpen };
  struct WriteRequest {
    uv_write_t req;
    std::string data;  // owned until the write callback runs
  };

  TlsClientConn(uv_loop_t* loop, const Options& options, Delegate* delegate);
  ~TlsClientConn();

  static void OnConnect(uv_connect_t* req, int status);
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnTimer(uv_timer_t* timer);
  static void OnHandleClosed(uv_handle_t* handle);

  bool plain() const { return tls_ == nullptr; }
  void Drive();
  void HandshakeComplete();
  void ReadConfirmation();
  void ReadPlaintext();
  void Verdict();
  void Flush();
  void SendFin();
  void Fail(const Failure& failure);
  void FailTls(int error);
  void FailLater(Failure failure);
  void CloseHandles();

  uv_loop_t* loop_;
  Delegate* delegate_;
  const ClientTlsContext* tls_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_connect_t connect_req_;
  uv_shutdown_t shutdown_req_;
  tls::MemoryIo io_;
  WOLFSSL* ssl_ = nullptr;
  State state_ = State::kConnecting;
  bool close_after_handshake_;
  uint32_t handshake_timeout_ms_;
  bool connected_ = false;
  bool handshake_done_ = false;
  bool confirmed_ = false;  // OnHandshake() delivered
  bool fin_sent_ = false;
  bool failed_ = false;
  bool closing_ = false;  // Close() or a failure: no more delegate calls but OnClosed()
  bool handles_closing_ = false;
  int handles_open_ = 2;
  bool cert_requested_ = false;  // the server asked for a certificate we do not have
  int first_byte_ = -1;          // the first byte the server sent: a TLS record type, or plaintext
  std::string timeout_reason_;
  bool has_pending_failure_ = false;
  Failure pending_failure_;
  uint64_t start_ns_ = 0;
  uint64_t handshake_ns_ = 0;
};

}  // namespace portcullis::bench
