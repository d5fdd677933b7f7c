// UpstreamPool: a reactor's keep-alive connections to its HTTP upstreams.
//
// Per reactor, so no locks: a connection is only ever used by the loop that opened it.
// Idle connections wait here (bounded per upstream, closed after kIdleTimeoutMs or when the
// upstream closes them). It also keeps the TLS client context of each https upstream, built on
// first use and then shared by every connection to that upstream (contexts are keyed by the
// UpstreamConfig's address, which is stable: the upstream table is not reloaded). Reactor
// thread only.
#pragma once

#include <uv.h>

#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "portcullis/config.h"
#include "portcullis/result.h"

namespace portcullis::upstream {

class UpstreamConnection;
class UpstreamTlsContext;

class UpstreamPool {
 public:
  static constexpr uint64_t kIdleTimeoutMs = 60000;
  static constexpr size_t kMaxIdlePerUpstream = 64;

  explicit UpstreamPool(uv_loop_t* loop) : loop_(loop) {}
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // An idle connection to `upstream`, or a new one (always new when `fresh`).
  UpstreamConnection* Acquire(const UpstreamConfig* upstream, bool fresh);
  // The connection finished a response and may be reused; false = pool full, close it.
  bool Release(UpstreamConnection* connection);
  // The connection is closing; drop every reference to it.
  void Forget(UpstreamConnection* connection);
  // Closes every connection, busy or idle (shutdown); requests still attached hear an error.
  void CloseAll();
  size_t size() const { return all_.size(); }

  // The TLS client context of https upstream `upstream`, built once on first use. A failure
  // (an unreadable CA bundle or key) is not kept: the next connection tries again, so a
  // repaired file is picked up without a restart.
  Result<std::shared_ptr<const UpstreamTlsContext>> TlsContext(const UpstreamConfig* upstream);

 private:
  uv_loop_t* loop_;
  std::unordered_map<const UpstreamConfig*, std::shared_ptr<const UpstreamTlsContext>> tls_;
  std::unordered_map<const UpstreamConfig*, std::vector<UpstreamConnection*>> idle_;
  std::unordered_set<UpstreamConnection*> all_;
};

}  // namespace portcullis::upstream
