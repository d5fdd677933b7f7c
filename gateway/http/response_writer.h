// ResponseWriter: how an exchange answers the client, whatever carries the bytes.
//
// Implemented by the client connection (TLS + HTTP/1.1 framing). An exchange writes one
// head, any number of body pieces (each goes out at once: an SSE event is never held back),
// then Finish() or Abort(). Single-threaded: called on the connection's reactor only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "gateway/http/http_request.h"

namespace portcullis::http {

class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // `content_length` nullopt = length unknown: the body is sent chunked.
  virtual void WriteHead(int status, const HeaderList& headers,
                         std::optional<uint64_t> content_length) = 0;
  virtual void WriteBody(std::string_view data) = 0;
  // The response is complete; the connection may serve its next request.
  virtual void Finish() = 0;
  // The response cannot be completed (the upstream broke mid-stream): the connection is
  // closed so the client sees a truncated response, never a falsely complete one.
  virtual void Abort() = 0;
  // Bytes accepted but not yet written to the socket, for backpressure.
  virtual size_t buffered_bytes() const = 0;
};

// Writes a whole response with a body in one go (errors and local answers).
void WriteSimpleResponse(ResponseWriter* writer, int status, std::string_view content_type,
                         std::string_view body, const HeaderList& extra_headers = {});

}  // namespace portcullis::http
