// RequestParser: HTTP/1.1 requests from a byte stream, with the size limits of the config.
//
// A thin layer over llhttp in strict mode (no lenient flags: a request with both
// Content-Length and Transfer-Encoding is refused, which closes the smuggling door). The
// parser stops after each complete request, so a connection handles one exchange at a time
// even when the client pipelines. Not thread-safe; one per connection.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <string>

#include "gateway/http/http_request.h"

namespace portcullis::http {

struct RequestLimits {
  size_t max_header_bytes = 16384;  // request line + all headers
  size_t max_body_bytes = 4194304;
};

class RequestParser {
 public:
  explicit RequestParser(RequestLimits limits);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  enum class State { kNeedMore, kRequestReady, kError };
  // Parses from `data`; *consumed says how much was used. After kRequestReady, take the
  // request with TakeRequest() and call Resume() before feeding the rest.
  State Feed(const char* data, size_t len, size_t* consumed);
  HttpRequest TakeRequest() { return std::move(request_); }
  void Resume();

  // True from the first byte of a request until it is complete (for the header timeout).
  bool receiving() const { return receiving_; }
  // On kError: the HTTP status to answer (400, 413, 431, 501) and a short reason.
  int error_status() const { return error_status_; }
  const std::string& error_reason() const { return error_reason_; }

 private:
  static int OnMessageBegin(llhttp_t* p);
  static int OnUrl(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderField(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t len);
  static int OnMessageComplete(llhttp_t* p);
  int Reject(int status, std::string reason);
  bool CountHeaderBytes(size_t len);

  RequestLimits limits_;
  llhttp_settings_t settings_;
  llhttp_t parser_;
  HttpRequest request_;
  size_t header_bytes_ = 0;
  bool in_value_ = false;
  bool receiving_ = false;
  int error_status_ = 0;
  std::string error_reason_;
};

}  // namespace portcullis::http
