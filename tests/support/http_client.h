// A small HTTP/1.1 client for tests, over any ByteStream (TlsClient or RawSocket).
//
// Request() sends one request and reads one response, framed by Content-Length, chunked
// encoding or the connection's close (parsed by llhttp in response mode); interim 1xx responses
// are skipped. Bytes that arrive after the response are pushed back into the stream, so
// keep-alive requests can follow on the same connection.
// SseReader reads a text/event-stream response incrementally and stamps each event with the
// steady_clock time its last byte was read, so a test can assert the ORDER in which things
// arrived (an event before a response finished, a progress notification before the result) —
// never absolute durations. Not thread-safe; the stream must outlive the reader.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "portcullis/result.h"
#include "tests/support/byte_stream.h"

namespace portcullis::testing {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;
  std::string reason;
  HeaderList headers;       // in arrival order, names as sent
  std::string body;         // decoded (de-chunked)
  bool keep_alive = false;  // the connection may carry another request

  // The first value of header `name`, compared case-insensitively.
  std::optional<std::string> Header(std::string_view name) const;
  std::vector<std::string> HeaderValues(std::string_view name) const;
  bool HasHeader(std::string_view name) const { return Header(name).has_value(); }
};

// The request bytes: request line, `headers`, plus "Host: localhost" and a Content-Length
// when not given (Content-Length is added when there is a body or the method is POST/PUT/PATCH,
// unless a Transfer-Encoding header is present).
std::string SerializeRequest(std::string_view method, std::string_view path,
                             const HeaderList& headers, std::string_view body);

// Sends a request and reads its response within timeout_ms in total.
Result<HttpResponse> Request(ByteStream& stream, std::string_view method, std::string_view path,
                             const HeaderList& headers = {}, std::string_view body = {},
                             int timeout_ms = 5000);

// Reads one response to a request the caller already wrote (e.g. deliberately malformed bytes).
// head_request: the response has no body whatever its headers say.
Result<HttpResponse> ReadResponse(ByteStream& stream, int timeout_ms, bool head_request = false);

struct SseEvent {
  std::string event;  // the "event:" field; empty means the default type "message"
  std::string data;   // "data:" lines joined with '\n'
  std::string id;     // the "id:" field, or empty
  std::chrono::steady_clock::time_point arrived;  // when the line ending the event was read
};

namespace internal {
class ResponseParser;
}

class SseReader {
 public:
  // Sends the request and reads until the response headers are complete. Any status is
  // returned as a reader: check response().status and is_event_stream() before Next().
  // `stream` must outlive the reader.
  static Result<std::unique_ptr<SseReader>> Open(ByteStream& stream, std::string_view method,
                                                 std::string_view path,
                                                 const HeaderList& headers = {},
                                                 std::string_view body = {}, int timeout_ms = 5000);
  // For a response to a request the caller already sent.
  static Result<std::unique_ptr<SseReader>> FromStream(ByteStream& stream, int timeout_ms);
  ~SseReader();

  SseReader(const SseReader&) = delete;
  SseReader& operator=(const SseReader&) = delete;

  // Status and headers; body stays empty (see ReadBodyToEnd).
  const HttpResponse& response() const { return response_; }
  // Content-Type is text/event-stream (parameters ignored).
  bool is_event_stream() const;

  // The next event, waiting up to timeout_ms; std::nullopt when the response ended (an
  // incomplete last event is dropped, as the SSE spec says). An error on timeout ("timeout" in
  // the message) or a broken stream. Events with no data/event/id field (only comments) are
  // not returned; comments are counted instead.
  Result<std::optional<SseEvent>> Next(int timeout_ms);

  // Reads to the end of the response and returns the whole decoded body (including what Next()
  // already consumed). For replies that are not event streams.
  Result<std::string> ReadBodyToEnd(int timeout_ms);

  // Comment lines (": keep-alive") seen so far, and the last one without its colon.
  int comments() const { return comments_; }
  const std::string& last_comment() const { return last_comment_; }
  // The response ended (terminating chunk, Content-Length reached or connection closed).
  bool ended() const;

 private:
  explicit SseReader(ByteStream& stream);
  Status ReadMore(std::chrono::steady_clock::time_point deadline, int timeout_ms);
  void ParseEvents(std::chrono::steady_clock::time_point now);

  ByteStream& stream_;
  std::unique_ptr<internal::ResponseParser> parser_;
  HttpResponse response_;
  std::string pending_;   // body bytes not yet split into lines
  size_t body_seen_ = 0;  // how much of the parser's body has moved to pending_
  std::deque<SseEvent> ready_;
  SseEvent building_;
  bool building_has_field_ = false;
  int comments_ = 0;
  std::string last_comment_;
};

}  // namespace portcullis::testing
