// Exchange: the work behind one client request that is not answered on the spot: proxied to
// an HTTP upstream (upstream/proxy_exchange.h) or handed to a session the gateway runs itself
// (reactor/session_exchange.h). Owned by the client connection for the life of the request.
// Reactor thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "gateway/upstream/upstream_sink.h"

namespace portcullis::upstream {

class Exchange {
 public:
  virtual ~Exchange() = default;
  // The client went away or the gateway is stopping: abandon the work.
  virtual void Cancel() = 0;
  // The client's write queue shrank.
  virtual void OnClientDrained() = 0;
  // Set when an HTTP upstream failed (refused, timed out, reset, TLS): for the audit log.
  virtual const std::optional<UpstreamError>& upstream_error() const = 0;
  virtual const std::string& upstream_error_detail() const = 0;
  // The upstream session id of a session a proxied response opened ("" if none). Sessions
  // the gateway runs itself are recorded by their registry instead.
  virtual const std::string& opened_session() const = 0;
  // Microseconds from sending the request to the upstream's response head (0 = none came):
  // the upstream latency histogram.
  virtual uint64_t upstream_head_us() const { return 0; }
  // True when the upstream's own HTTP session semantics apply (proxied byte for byte).
  virtual bool proxied() const = 0;
};

}  // namespace portcullis::upstream
