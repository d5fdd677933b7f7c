// ClientConnection: one accepted TCP connection: mutual TLS, then HTTP/1.1 requests, each
// answered locally, forwarded to an upstream by a ProxyExchange, or handed to a session the
// gateway runs itself by a SessionExchange.
//
// Lives on the reactor that accepted it and deletes itself after the close callbacks of its
// two handles (socket and timer). One timer serves every phase: handshake timeout, header
// timeout, keep-alive idle timeout, stream timeout. Reactor thread only.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <memory>
#include <optional>
#include <string>

#include "gateway/http/request_parser.h"
#include "gateway/http/response_writer.h"
#include "gateway/reactor/request_audit.h"
#include "gateway/tls/tls_session.h"
#include "portcullis/config.h"

namespace portcullis::upstream {
class Exchange;
}
namespace portcullis::mcp {
struct Route;
struct MessageInfo;
}  // namespace portcullis::mcp

namespace portcullis::reactor {

class Reactor;

class ClientConnection : public http::ResponseWriter {
 public:
  // Takes over an accepted socket `fd` from `peer` (refusing it when the reactor is full).
  static void Accept(Reactor* reactor, int fd, const sockaddr_storage& peer, bool refuse);

  // Idempotent. In-flight upstream work is cancelled.
  void Close();
  // Stop after the current exchange (or now, if there is none).
  void BeginDrain();

  // http::ResponseWriter
  void WriteHead(int status, const http::HeaderList& headers,
                 std::optional<uint64_t> content_length) override;
  void WriteBody(std::string_view data) override;
  void Finish() override;
  void Abort() override;
  size_t buffered_bytes() const override { return write_pending_bytes_; }

 private:
  enum class State { kHandshake, kIdle, kReceiving, kExchange, kClosing };

  explicit ClientConnection(Reactor* reactor);
  ~ClientConnection() override;

  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnTimer(uv_timer_t* timer);
  static void OnClose(uv_handle_t* handle);

  void OnCiphertext(const char* data, size_t len);
  void OnPeerClosed(ssize_t status);
  void ContinueHandshake();
  void RefuseHandshake(int error, const std::string& detail);
  void RefusePlaintext(const char* data, size_t len);
  void ReadPlaintext();
  void ProcessInput();
  void Dispatch();
  // Requests for sessions the gateway runs itself (stdio upstreams, legacy HTTP+SSE).
  void DispatchToSession(const mcp::Route& route, const UpstreamConfig& upstream,
                         mcp::MessageInfo info);
  // The session key inside a sealed session id, or nullopt after answering 404/403.
  std::optional<std::string> OpenSessionId(const UpstreamConfig& upstream,
                                           const std::string& sealed, const std::string& id_json);
  void AnswerError(int http_status, int jsonrpc_code, const std::string& message,
                   const std::string& id_json);
  void SendPlain(std::string_view data);
  // Sends a response head that WriteHead held back for its body.
  void FlushHeldHead();
  // Sends whatever ciphertext the TLS session produced.
  void Flush();
  // Writes now what the socket takes; queues the rest (counted in write_pending_bytes_).
  void WriteRaw(std::string data);
  void ArmTimer(uint64_t ms);
  // Stop reading, send what is queued, then close.
  void CloseAfterWrites();
  void EnterIdle();
  // Audit helpers: the loop clock in µs and s, and the end of a request's record.
  uint64_t NowUs() const;
  double NowS() const { return static_cast<double>(NowUs()) / 1e6; }
  void FinishRequestAudit(int status, const std::string& reason);
  void ReportMalformed(std::string_view kind);

  Reactor* reactor_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  std::unique_ptr<tls::TlsSession> tls_;
  http::RequestParser parser_;
  State state_ = State::kHandshake;
  std::string conn_id_;   // "<reactor>-<n>", for logs and the audit trail
  std::string peer_;      // "ip:port", for logs
  std::string peer_ip_;   // for X-Forwarded-For
  std::string plain_in_;  // decrypted, not yet parsed (pipelined requests)
  http::HttpRequest request_;
  RequestAudit request_audit_;
  uint64_t response_bytes_ = 0;  // plaintext body bytes of the current response
  // Plaintext head of a response with a body of known length, sent with the first body bytes.
  std::string held_head_;
  std::unique_ptr<upstream::Exchange> exchange_;
  std::unique_ptr<upstream::Exchange> retired_;  // freed once off its call stack
  uint64_t handshake_start_ms_ = 0;
  uint64_t handshake_start_us_ = 0;
  uint64_t request_start_ms_ = 0;
  size_t write_pending_bytes_ = 0;
  int response_status_ = 0;
  bool response_chunked_ = false;
  bool response_keep_alive_ = true;
  bool close_after_write_ = false;
  bool closed_ = false;
  bool processing_input_ = false;
  bool reading_ = false;
  bool any_bytes_ = false;
  int handles_open_ = 2;
};

}  // namespace portcullis::reactor
