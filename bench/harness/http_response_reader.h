// HttpResponseReader: reads the HTTP/1.1 responses of one keep-alive connection, one at a time,
// with llhttp in response mode (Content-Length, chunked, or until close).
//
// The benchmark sends one request and waits for its response, so the reader stops after each
// complete response (llhttp paused) until Next(). It keeps what the benchmark needs: the status,
// keep-alive, Mcp-Session-Id, whether the body is an event stream (whose events it counts as they
// arrive), and the first 64 KiB of the body (to tell a JSON-RPC error from a result). Not
// thread-safe; one per connection.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bench/harness/sse_event_counter.h"

namespace portcullis::bench {

class HttpResponseReader {
 public:
  static constexpr size_t kKeptBodyBytes = 64 * 1024;

  struct Response {
    int status = 0;
    bool keep_alive = true;
    bool event_stream = false;  // Content-Type: text/event-stream
    std::string session_id;     // Mcp-Session-Id
    std::string body;           // the first kKeptBodyBytes
    uint64_t body_bytes = 0;
  };

  enum class State { kNeedMore, kComplete, kError };
  struct FeedResult {
    State state = State::kNeedMore;
    size_t events = 0;  // SSE events completed by these bytes
  };

  HttpResponseReader();
  HttpResponseReader(const HttpResponseReader&) = delete;
  HttpResponseReader& operator=(const HttpResponseReader&) = delete;

  // Parses more bytes of the current response. After kComplete, response() holds it; bytes
  // beyond its end are dropped (no response may arrive before its request). After kError,
  // error() says why and the connection is unusable.
  FeedResult Feed(std::string_view data);
  // The peer closed the connection: completes a response delimited by the close.
  FeedResult FeedEof();
  // Readies the reader for the next response on the same connection.
  void Next();

  const Response& response() const { return response_; }
  const std::string& error() const { return error_; }
  bool started() const { return started_; }  // some bytes of the current response arrived

 private:
  static int OnMessageBegin(llhttp_t* parser);
  static int OnHeaderField(llhttp_t* parser, const char* at, size_t length);
  static int OnHeaderValue(llhttp_t* parser, const char* at, size_t length);
  static int OnHeaderValueComplete(llhttp_t* parser);
  static int OnHeadersComplete(llhttp_t* parser);
  static int OnBody(llhttp_t* parser, const char* at, size_t length);
  static int OnMessageComplete(llhttp_t* parser);

  FeedResult Finish(llhttp_errno_t err);

  llhttp_settings_t settings_;
  llhttp_t parser_;
  Response response_;
  std::string field_, value_;
  bool complete_ = false;
  bool started_ = false;
  size_t events_ = 0;
  SseEventCounter sse_;
  std::string error_;
};

}  // namespace portcullis::bench
