// Reactor: one thread, one libuv loop, its listening sockets and every connection they
// accept. A connection lives and dies on the reactor that accepted it.
//
// Thread-safety: Start(), RequestDrain() and Join() are called from the control thread;
// everything else runs on the reactor's own thread. The only cross-thread signal is
// uv_async_send. The TLS context and config are shared read-only snapshots.
#pragma once

#include <uv.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "gateway/mcp/session_seal.h"
#include "gateway/reactor/metrics.h"
#include "gateway/reactor/rate_limiter.h"
#include "gateway/tls/tls_context.h"
#include "portcullis/config.h"
#include "portcullis/policy.h"
#include "portcullis/result.h"

namespace portcullis::upstream {
class UpstreamPool;
}
namespace portcullis::audit {
class AuditSink;
class AnomalyMonitor;
}  // namespace portcullis::audit

namespace portcullis::reactor {

class ClientConnection;
class SessionRegistry;

// Live gateway-run sessions per upstream name, across all reactors, for max_sessions. The map
// is filled once at start (one entry per upstream) and never changes shape after; only the
// counters move.
struct SessionCounts {
  std::map<std::string, std::atomic<uint32_t>> live;
};

// What every connection of one configuration generation shares, read-only.
struct Snapshot {
  std::shared_ptr<const Config> config;
  std::shared_ptr<const tls::TlsContext> tls;
  std::shared_ptr<const policy::Policy> policy;
  std::shared_ptr<const mcp::SessionSealer> sealer;
  std::shared_ptr<audit::AuditSink> audit;           // never null (a null sink when off)
  std::shared_ptr<audit::AnomalyMonitor> anomalies;  // never null
  std::shared_ptr<SessionCounts> session_counts;     // null = no limit (tests)
};

class Reactor {
 public:
  // `listen_fds` are listening sockets owned (and closed) by this reactor from now on.
  Reactor(int index, std::vector<int> listen_fds, Snapshot snapshot, uint32_t max_connections);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // Control thread.
  Status Start();
  // Stop accepting, let in-flight exchanges finish within drain_timeout_ms, then stop.
  void RequestDrain();
  // Replaces the policy for requests that start from now on (requests in flight keep the one
  // they started with). Thread-safe; takes effect on the reactor's next loop turn.
  void PublishPolicy(std::shared_ptr<const policy::Policy> policy);
  // Replaces the TLS context for handshakes that start from now on (live connections keep
  // theirs). Thread-safe.
  void PublishTls(std::shared_ptr<const tls::TlsContext> tls);
  void Join();
  // Every reactor of the gateway, this one included, indexed by index(); set by the server
  // before any reactor starts and never changed after. For cross-reactor hand-over.
  void SetPeers(const std::vector<Reactor*>* peers) { peers_ = peers; }
  Reactor* peer(int index) const { return (*peers_)[static_cast<size_t>(index)]; }
  size_t peer_count() const { return peers_ ? peers_->size() : 0; }
  // Runs `task` on this reactor's thread, after what was posted before it (FIFO). Any
  // thread. False (and `task` is dropped) once the reactor has stopped taking work.
  bool Post(std::function<void()> task);
  // The reactor whose thread is calling, or null on any other thread.
  static Reactor* Current();
  uint64_t accepted() const { return accepted_.load(std::memory_order_relaxed); }
  // True once the reactor's thread has finished (after a drain). Any thread.
  bool stopped() const { return stopped_.load(std::memory_order_acquire); }
  // Written by this reactor's thread only; read by the admin thread (metrics.h).
  ReactorMetrics& metrics() { return metrics_; }
  const ReactorMetrics& metrics() const { return metrics_; }

  // Reactor thread.
  uv_loop_t* loop() { return &loop_; }
  int index() const { return index_; }
  const Snapshot& snapshot() const { return snapshot_; }
  upstream::UpstreamPool& pool() { return *pool_; }
  RateLimiter& rate_limiter() { return rate_limiter_; }
  SessionRegistry& sessions() { return *sessions_; }
  bool draining() const { return draining_; }
  // A buffer for socket reads, reused by every read on this loop: a read callback consumes
  // or copies what it received before returning.
  uv_buf_t ReadBuffer();
  void Add(ClientConnection* connection) {
    connections_.insert(connection);
    metrics_.active_connections.store(connections_.size(), std::memory_order_relaxed);
  }
  void Remove(ClientConnection* connection);
  size_t connection_count() const { return connections_.size(); }

 private:
  // The listening socket is polled and accepted from directly (accept4), not through
  // uv_listen: libuv drops the peer address accept() returns, and getpeername() fails for a
  // client that already reset, which would leave refused connections without an address.
  struct Listener {
    uv_poll_t handle;
    int fd;
    Reactor* reactor;
  };
  void Run();
  void OpenListeners();
  static void OnListenReadable(uv_poll_t* handle, int status, int events);
  static void OnWakeup(uv_async_t* async);
  static void OnDrainTimeout(uv_timer_t* timer);
  void BeginDrain();
  void MaybeFinish();

  const int index_;
  std::vector<int> listen_fds_;
  Snapshot snapshot_;
  const uint32_t max_connections_;
  uv_loop_t loop_;
  uv_async_t wakeup_;
  uv_timer_t drain_timer_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_set<ClientConnection*> connections_;
  std::unique_ptr<upstream::UpstreamPool> pool_;
  std::unique_ptr<SessionRegistry> sessions_;
  RateLimiter rate_limiter_;
  const std::vector<Reactor*>* peers_ = nullptr;
  // Mailbox: reloads from the control thread and tasks from other reactors, taken by the
  // reactor in OnWakeup. The only lock in the reactor, held for a push or a swap.
  std::mutex mailbox_mu_;
  std::shared_ptr<const policy::Policy> mailbox_policy_;
  std::shared_ptr<const tls::TlsContext> mailbox_tls_;
  // Cross-reactor tasks (Post), under the same lock. Posting stops when the loop finishes.
  std::vector<std::function<void()>> mailbox_tasks_;
  bool taking_tasks_ = true;
  std::unique_ptr<char[]> read_buffer_;
  std::thread thread_;
  std::atomic<bool> drain_requested_{false};
  std::atomic<uint64_t> accepted_{0};
  bool draining_ = false;
  bool finished_ = false;
  std::atomic<bool> stopped_{false};
  ReactorMetrics metrics_;
};

}  // namespace portcullis::reactor
