// HttpConnection: one accepted TCP connection speaking HTTP/1.1 (llhttp), one request at a time.
//
// A complete request goes to the Delegate, which answers it with exactly one SendResponse() or
// with BeginStream() ... WriteChunk() ... EndStream() (chunked transfer-encoding, used for SSE).
// Only then is the next pipelined request parsed; bytes that arrive meanwhile are kept (bounded)
// and reading continues, so a client that hangs up during a long stream is noticed. Keep-alive
// follows the request (llhttp_should_keep_alive). Malformed requests get 400, oversized bodies
// 413, oversized headers 431, and the connection closes.
//
// The object owns itself: it deletes itself in its close callback, after telling the delegate
// (OnConnectionClosed) and the current exchange (the callback given to set_on_gone). Loop thread
// only.
#pragma once

#include <llhttp.h>
#include <uv.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portcullis::example {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  llhttp_method_t method = HTTP_GET;
  std::string url;
  HttpHeaders headers;  // names lower-cased, in arrival order
  std::string body;

  // The first header called `name` (lower-case), or nullptr.
  const std::string* Header(std::string_view name) const;
};

class HttpConnection {
 public:
  class Delegate {
   public:
    virtual ~Delegate() = default;
    virtual void OnRequest(HttpConnection* connection, const HttpRequest& request) = 0;
    virtual void OnConnectionClosed(HttpConnection* connection) = 0;
  };

  // Accepts a pending connection on `listener`. Returns nullptr (connection dropped) on failure.
  static HttpConnection* Accept(uv_stream_t* listener, Delegate* delegate);

  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // A complete response with Content-Length. `headers` must not contain Content-Length,
  // Transfer-Encoding or Connection.
  void SendResponse(int status, const HttpHeaders& headers, std::string_view body);
  // Starts a response whose body follows in pieces (chunked on HTTP/1.1; on HTTP/1.0 the body
  // ends with the connection).
  void BeginStream(int status, const HttpHeaders& headers);
  void WriteChunk(std::string_view data);
  void EndStream();

  bool streaming() const { return streaming_; }
  bool closing() const { return closing_; }

  // Runs once if the connection goes away while the current request is unanswered; the
  // exchange must then stop using this object. Cleared when the response completes.
  void set_on_gone(std::function<void()> on_gone) { on_gone_ = std::move(on_gone); }

  // Closes at once (queued writes are dropped). Idempotent.
  void Close();

 private:
  explicit HttpConnection(Delegate* delegate);
  ~HttpConnection() = default;

  void ProcessInput();
  void FinishExchange();
  void FailRequest(int status);
  void Write(std::string data);
  void CloseAfterWrites();

  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnClose(uv_handle_t* handle);

  static int OnMessageBegin(llhttp_t* parser);
  static int OnUrl(llhttp_t* parser, const char* at, size_t length);
  static int OnHeaderField(llhttp_t* parser, const char* at, size_t length);
  static int OnHeaderValue(llhttp_t* parser, const char* at, size_t length);
  static int OnHeadersComplete(llhttp_t* parser);
  static int OnBody(llhttp_t* parser, const char* at, size_t length);
  static int OnMessageComplete(llhttp_t* parser);

  uv_tcp_t tcp_;
  uv_shutdown_t shutdown_;
  llhttp_t parser_;
  llhttp_settings_t settings_;
  Delegate* delegate_;

  // Parsing state of the current request.
  HttpRequest request_;
  bool last_was_value_ = false;
  size_t header_bytes_ = 0;
  int error_status_ = 0;  // set by a callback that refuses the request (413, 431)

  std::string input_;  // received, not yet parsed
  std::string read_buffer_;
  bool reading_ = false;
  bool processing_ = false;

  // Current exchange.
  bool busy_ = false;       // a request is with the delegate
  bool keep_alive_ = true;  // of the current request
  bool http10_ = false;     // the current request is HTTP/1.0: no chunked encoding
  bool head_ = false;       // the current request is HEAD: no body in the response
  bool streaming_ = false;
  std::function<void()> on_gone_;

  bool closing_ = false;
  bool shutting_down_ = false;
};

}  // namespace portcullis::example
