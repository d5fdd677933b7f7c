// SessionRegistry: the MCP sessions one reactor runs itself (session/message_session.h): a
// stdio process per session, or a bridge to an HTTP upstream for a legacy HTTP+SSE client.
//
// Sessions are keyed by "gw:<reactor>:<128 random bits in hex>" (session_router.h); the key
// is what the client's sealed Mcp-Session-Id (or legacy ?sessionId=) carries, so no table is
// shared between reactors. The registry enforces an upstream's max_sessions across the whole
// gateway (Snapshot::session_counts), backs off respawning a stdio server that keeps dying
// (250 ms doubling to 10 s; 503 with Retry-After meanwhile), ends sessions idle for
// limits.session_idle_timeout_ms, keeps one warm process per identity and stdio upstream for
// 2026-07-28 stateless requests, and writes mcp.session_opened / mcp.session_closed.
// Reactor thread only.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "gateway/session/message_session.h"
#include "portcullis/config.h"
#include "portcullis/identity.h"
#include "portcullis/policy.h"

namespace portcullis::reactor {

class Reactor;

class SessionRegistry {
 public:
  static constexpr uint64_t kSweepIntervalMs = 1000;

  explicit SessionRegistry(Reactor* reactor);
  ~SessionRegistry();
  SessionRegistry(const SessionRegistry&) = delete;
  SessionRegistry& operator=(const SessionRegistry&) = delete;

  struct Opened {
    session::MessageSession* session = nullptr;
    std::string key;
  };
  // Why no session could be opened: the client gets `http_status` with a JSON-RPC error.
  struct Refusal {
    int http_status = 503;
    int code = 0;
    std::string message;
    uint32_t retry_after_s = 0;  // 0 = no Retry-After
  };
  using OpenResult = std::variant<Opened, Refusal>;

  // Who a session is opened for, for its policy and its audit records.
  struct Opener {
    const UpstreamConfig* upstream = nullptr;
    Identity identity;
    std::string peer;     // "ip:port"
    std::string peer_ip;  // for X-Forwarded-For
    std::string conn_id;
  };
  // A new session on this reactor: a stdio process for a stdio upstream, else a bridge to the
  // HTTP upstream (legacy HTTP+SSE clients).
  OpenResult Open(const Opener& opener);
  // The warm session that carries 2026-07-28 stateless requests of this identity to this stdio
  // upstream on this reactor (opened on first use; requests share it, their ids are rewritten).
  OpenResult Stateless(const Opener& opener);
  // The live session with this key, or null.
  session::MessageSession* Find(const std::string& key);
  // Ends the session (waiting requests get an error, streams end, the process is stopped).
  void Close(const std::string& key, const std::string& reason);

  void PublishPolicy(const std::shared_ptr<const policy::Policy>& policy);
  // Draining: sessions end as soon as no request waits on them.
  void BeginDrain();
  // Ends every session and stops the sweep timer (the reactor is finishing).
  void EndAll(const std::string& reason);
  size_t size() const { return sessions_.size(); }

 private:
  struct Entry {
    std::unique_ptr<session::MessageSession> session;
    std::string upstream;
    std::string stateless_key;  // non-empty for a stateless warm session
    uint64_t opened_ms = 0;
    std::string conn_id, peer;
  };
  struct Backoff {
    int failures = 0;
    uint64_t not_before_ms = 0;
  };

  OpenResult OpenKeyed(const Opener& opener, const std::string& stateless_key);
  void OnDead(const std::string& key);
  void Remove(const std::string& key, const std::string& reason, bool failed);
  static void OnSweep(uv_timer_t* timer);
  void Sweep();
  uint64_t NowMs() const;

  Reactor* reactor_;
  uv_timer_t sweep_;
  bool timer_open_ = false;
  bool draining_ = false;
  std::unordered_map<std::string, Entry> sessions_;
  std::unordered_map<std::string, std::string> stateless_;  // stateless key → session key
  std::unordered_map<std::string, Backoff> backoff_;        // by upstream name
  // Sessions whose transport died, kept until the next sweep: they are never destroyed
  // inside their own callback.
  std::vector<std::unique_ptr<session::MessageSession>> dead_;
};

}  // namespace portcullis::reactor
