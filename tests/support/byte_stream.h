// ByteStream: the transport under the test HTTP client, TLS (TlsClient) or plain TCP (RawSocket).
//
// Both calls are blocking and bounded. A parser that reads past the end of one message hands the
// extra bytes back with PushBack(); the next Read() returns them first, so keep-alive requests
// can follow each other on one stream. Not thread-safe; one owner.
#pragma once

#include <string>
#include <string_view>

#include "portcullis/result.h"

namespace portcullis::testing {

class ByteStream {
 public:
  virtual ~ByteStream() = default;

  // Writes every byte or fails (peer gone, timeout).
  Status Write(std::string_view data) { return DoWrite(data); }

  // Returns the bytes available now, waiting up to timeout_ms for the first one; the empty string
  // means the peer closed cleanly; an error on timeout ("timeout" in the message) or failure.
  Result<std::string> Read(int timeout_ms) {
    if (!pushed_back_.empty()) {
      std::string out;
      out.swap(pushed_back_);
      return out;
    }
    return DoRead(timeout_ms);
  }

  // Makes `bytes` the start of what the next Read() returns.
  void PushBack(std::string bytes) { pushed_back_ = std::move(bytes) + pushed_back_; }

 protected:
  virtual Status DoWrite(std::string_view data) = 0;
  virtual Result<std::string> DoRead(int timeout_ms) = 0;

 private:
  std::string pushed_back_;
};

}  // namespace portcullis::testing
