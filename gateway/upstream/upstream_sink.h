// UpstreamSink: what an upstream connection reports about the one response it is reading.
//
// Exactly one of OnUpstreamComplete / OnUpstreamError ends a response, unless the sink
// detaches first (UpstreamConnection::Abort). Called on the reactor thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/http/http_request.h"

namespace portcullis::upstream {

enum class UpstreamError {
  kResolve,          // the host name did not resolve
  kRefused,          // connect failed: refused, unreachable
  kConnectTimeout,   // no TCP connection within connect_timeout_ms
  kResponseTimeout,  // no response head within response_timeout_ms
  kReset,            // the connection broke
  kProtocol,         // the upstream sent something that is not HTTP/1.1
  kTls,              // https: the TLS handshake or session failed; the detail starts with
                     // the classified reason (HOSTNAME_MISMATCH, CERTIFICATE_EXPIRED, ...)
};

std::string_view UpstreamErrorName(UpstreamError error);

class UpstreamSink {
 public:
  virtual ~UpstreamSink() = default;
  virtual void OnUpstreamHead(int status, http::HeaderList headers,
                              std::optional<uint64_t> content_length) = 0;
  virtual void OnUpstreamBody(std::string_view data) = 0;
  virtual void OnUpstreamComplete() = 0;
  // `retryable`: the request failed on a reused keep-alive connection before any response
  // byte arrived, the race where the upstream closed an idle connection just as it was
  // reused; it is safe to send the request again on a fresh connection.
  virtual void OnUpstreamError(UpstreamError error, const std::string& detail, bool retryable) = 0;
};

}  // namespace portcullis::upstream
