#include "gateway/reactor/session_registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "gateway/audit/identity_summary.h"
#include "gateway/config/policy_file.h"
#include "gateway/mcp/jsonrpc_error.h"
#include "gateway/mcp/session_seal.h"
#include "gateway/reactor/reactor.h"
#include "gateway/reactor/session_router.h"
#include "gateway/session/http_bridge.h"
#include "gateway/upstream/stdio_process.h"
#include "portcullis/audit.h"

namespace portcullis::reactor {
namespace {

constexpr uint64_t kFirstBackoffMs = 250;
constexpr uint64_t kMaxBackoffMs = 10000;
// A process that lived this long before dying was working: its death does not add backoff.
constexpr uint64_t kHealthyLifetimeMs = 10000;

// The audit trail names a session by a hash of its key, never the key itself (it is the
// capability a client presents, inside the sealed id).
std::string SessionTag(const std::string& key) { return config::Sha256Hex(key).substr(0, 16); }

std::atomic<uint32_t>* LiveCounter(Reactor* reactor, const std::string& upstream) {
  const auto& counts = reactor->snapshot().session_counts;
  if (!counts) return nullptr;
  auto it = counts->live.find(upstream);
  return it == counts->live.end() ? nullptr : &it->second;
}

}  // namespace

SessionRegistry::SessionRegistry(Reactor* reactor) : reactor_(reactor) {
  uv_timer_init(reactor_->loop(), &sweep_);
  sweep_.data = this;
  timer_open_ = true;
  uv_timer_start(&sweep_, OnSweep, kSweepIntervalMs, kSweepIntervalMs);
}

SessionRegistry::~SessionRegistry() {
  // EndAll() ran when the reactor finished; a session left here has no transport to stop.
  sessions_.clear();
  dead_.clear();
}

uint64_t SessionRegistry::NowMs() const { return uv_now(reactor_->loop()); }

SessionRegistry::OpenResult SessionRegistry::Open(const Opener& opener) {
  return OpenKeyed(opener, "");
}

SessionRegistry::OpenResult SessionRegistry::Stateless(const Opener& opener) {
  std::string stateless_key =
      mcp::SessionIdentityKey(opener.identity) + "\n" + opener.upstream->name;
  if (auto it = stateless_.find(stateless_key); it != stateless_.end()) {
    if (session::MessageSession* session = Find(it->second)) return Opened{session, it->second};
    stateless_.erase(it);
  }
  return OpenKeyed(opener, stateless_key);
}

SessionRegistry::OpenResult SessionRegistry::OpenKeyed(const Opener& opener,
                                                       const std::string& stateless_key) {
  const UpstreamConfig& upstream = *opener.upstream;
  const Config& config = *reactor_->snapshot().config;
  if (draining_ || reactor_->draining()) {
    return Refusal{503, mcp::kGatewayDraining, "the gateway is shutting down", 0};
  }
  bool stdio = upstream.kind == UpstreamConfig::Kind::kStdio;
  if (stdio) {
    Backoff& backoff = backoff_[upstream.name];
    if (NowMs() < backoff.not_before_ms) {
      uint64_t wait_ms = backoff.not_before_ms - NowMs();
      return Refusal{503, mcp::kUpstreamUnavailable,
                     "upstream \"" + upstream.name + "\" keeps exiting; retrying after a pause",
                     static_cast<uint32_t>((wait_ms + 999) / 1000)};
    }
  }
  std::atomic<uint32_t>* live = LiveCounter(reactor_, upstream.name);
  if (live != nullptr) {
    uint32_t now = live->fetch_add(1, std::memory_order_relaxed);
    if (now >= upstream.max_sessions) {
      live->fetch_sub(1, std::memory_order_relaxed);
      return Refusal{503, mcp::kUpstreamUnavailable,
                     "upstream \"" + upstream.name + "\" has reached max_sessions (" +
                         std::to_string(upstream.max_sessions) + ")",
                     1};
    }
  }

  std::string key = NewSessionKey(reactor_->index());
  session::SessionContext context;
  context.id = key;
  context.upstream = upstream.name;
  context.identity = opener.identity;
  context.policy = reactor_->snapshot().policy;
  context.audit = reactor_->snapshot().audit.get();
  context.anomalies = reactor_->snapshot().anomalies.get();
  context.max_message_bytes = config.limits.max_body_bytes;
  context.max_json_depth = static_cast<int>(config.limits.max_json_depth);
  uv_loop_t* loop = reactor_->loop();
  context.now_s = [loop] { return static_cast<double>(uv_now(loop)) / 1000.0; };
  auto session = std::make_unique<session::MessageSession>(std::move(context));

  session::MessageTransport* transport = nullptr;
  if (stdio) {
    upstream::StdioProcessOptions options;
    options.name = upstream.name;
    options.argv = upstream.command;
    options.env = upstream.env;
    options.max_line_bytes = config.limits.max_body_bytes;
    Result<upstream::StdioProcess*> spawned =
        upstream::StdioProcess::Spawn(loop, std::move(options), session.get());
    if (!spawned.ok()) {
      if (live != nullptr) live->fetch_sub(1, std::memory_order_relaxed);
      spdlog::error("upstream {}: cannot start {}: {}", upstream.name, upstream.command[0],
                    spawned.error());
      audit::Record record("upstream.spawn_failed");
      record.Str("server", upstream.name).Str("detail", spawned.error());
      reactor_->snapshot().audit->Write(std::move(record));
      return Refusal{502, mcp::kUpstreamUnavailable,
                     "upstream \"" + upstream.name + "\" could not be started", 0};
    }
    transport = spawned.value();
  } else {
    session::HttpBridgeOptions options;
    options.upstream = &upstream;
    options.pool = &reactor_->pool();
    options.identity = opener.identity;
    options.client_address = opener.peer_ip;
    options.max_message_bytes = config.limits.max_body_bytes;
    transport = new session::HttpBridge(std::move(options), session.get());
  }
  session->AttachTransport(transport);
  session->on_dead = [this, key](session::MessageSession*) { OnDead(key); };
  session::MessageSession* raw = session.get();

  Entry entry;
  entry.session = std::move(session);
  entry.upstream = upstream.name;
  entry.stateless_key = stateless_key;
  entry.opened_ms = NowMs();
  entry.conn_id = opener.conn_id;
  entry.peer = opener.peer;
  sessions_.emplace(key, std::move(entry));
  if (!stateless_key.empty()) stateless_[stateless_key] = key;
  Increment(reactor_->metrics().sessions_opened);

  spdlog::info("session: {} cn=\"{}\" opened {} on {} ({})", opener.peer, opener.identity.cn,
               SessionTag(key), upstream.name, transport->Describe());
  audit::Record record("mcp.session_opened");
  record.Str("conn", opener.conn_id).Str("peer", opener.peer);
  audit::AppendIdentitySummary(&record, opener.identity);
  record.Str("server", upstream.name).Str("session", SessionTag(key));
  record.Str("transport", stdio ? "stdio" : "http_bridge").Str("upstream", transport->Describe());
  if (!stateless_key.empty()) record.Bool("stateless", true);
  reactor_->snapshot().audit->Write(std::move(record));
  return Opened{raw, key};
}

session::MessageSession* SessionRegistry::Find(const std::string& key) {
  auto it = sessions_.find(key);
  if (it == sessions_.end() || it->second.session->ended()) return nullptr;
  return it->second.session.get();
}

void SessionRegistry::Close(const std::string& key, const std::string& reason) {
  Remove(key, reason, /*failed=*/false);
}

void SessionRegistry::OnDead(const std::string& key) {
  // Called from inside the session: it is parked in dead_, not destroyed.
  Remove(key, "the upstream failed", /*failed=*/true);
}

void SessionRegistry::Remove(const std::string& key, const std::string& reason, bool failed) {
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return;
  Entry entry = std::move(it->second);
  sessions_.erase(it);
  if (!entry.stateless_key.empty()) stateless_.erase(entry.stateless_key);
  if (std::atomic<uint32_t>* live = LiveCounter(reactor_, entry.upstream)) {
    live->fetch_sub(1, std::memory_order_relaxed);
  }
  uint64_t lived_ms = NowMs() - entry.opened_ms;
  if (failed) {
    Backoff& backoff = backoff_[entry.upstream];
    if (lived_ms >= kHealthyLifetimeMs) backoff.failures = 0;
    ++backoff.failures;
    uint64_t delay = std::min(kMaxBackoffMs, kFirstBackoffMs << std::min(backoff.failures - 1, 6));
    backoff.not_before_ms = NowMs() + delay;
  } else {
    entry.session->End(reason);
  }
  spdlog::info("session: {} on {} closed after {} ms: {}", SessionTag(key), entry.upstream,
               lived_ms, reason);
  audit::Record record("mcp.session_closed");
  record.Str("conn", entry.conn_id).Str("peer", entry.peer);
  audit::AppendIdentitySummary(&record, entry.session->context().identity);
  record.Str("server", entry.upstream).Str("session", SessionTag(key)).Str("reason", reason);
  record.Int("duration_ms", static_cast<int64_t>(lived_ms));
  reactor_->snapshot().audit->Write(std::move(record));
  Increment(reactor_->metrics().sessions_closed);
  dead_.push_back(std::move(entry.session));
}

void SessionRegistry::PublishPolicy(const std::shared_ptr<const policy::Policy>& policy) {
  for (auto& [key, entry] : sessions_) entry.session->SetPolicy(policy);
}

void SessionRegistry::BeginDrain() {
  draining_ = true;
  Sweep();
}

void SessionRegistry::EndAll(const std::string& reason) {
  draining_ = true;
  std::vector<std::string> keys;
  for (auto& [key, entry] : sessions_) keys.push_back(key);
  for (const std::string& key : keys) Close(key, reason);
  dead_.clear();
  if (timer_open_) {
    timer_open_ = false;
    uv_timer_stop(&sweep_);
    uv_close(reinterpret_cast<uv_handle_t*>(&sweep_), nullptr);
  }
}

void SessionRegistry::OnSweep(uv_timer_t* timer) {
  static_cast<SessionRegistry*>(timer->data)->Sweep();
}

void SessionRegistry::Sweep() {
  dead_.clear();
  double now_s = static_cast<double>(NowMs()) / 1000.0;
  double idle_limit_s =
      static_cast<double>(reactor_->snapshot().config->limits.session_idle_timeout_ms) / 1000.0;
  std::vector<std::pair<std::string, std::string>> ending;
  for (auto& [key, entry] : sessions_) {
    const session::MessageSession& s = *entry.session;
    if (draining_ && s.waiting() == 0) {
      ending.emplace_back(key, "the gateway is shutting down");
    } else if (s.idle_since() > 0 && now_s - s.idle_since() >= idle_limit_s) {
      ending.emplace_back(key, "idle for limits.session_idle_timeout_ms");
    }
  }
  for (auto& [key, reason] : ending) Close(key, reason);
}

}  // namespace portcullis::reactor
