#include "gateway/session/message_session.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <limits>
#include <utility>

#include "gateway/audit/anomaly_monitor.h"
#include "gateway/audit/identity_summary.h"
#include "gateway/mcp/jsonrpc_error.h"
#include "gateway/session/jsonrpc_rewrite.h"
#include "portcullis/audit.h"

namespace portcullis::session {
namespace {

// Dropped upstream messages are logged one by one up to kLogFirst, then one in kLogEvery: a
// server printing garbage in a loop must not flood the log.
constexpr uint64_t kLogFirst = 10;
constexpr uint64_t kLogEvery = 1000;
// How much of a dropped message the log shows.
constexpr size_t kExcerptBytes = 120;

double SteadySeconds() {
  using std::chrono::duration;
  using std::chrono::steady_clock;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// The start of `text` with control and non-ASCII bytes shown as '?', for a log line.
std::string Excerpt(std::string_view text) {
  std::string out(text.substr(0, kExcerptBytes));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      c = '?';
    }
  }
  if (text.size() > kExcerptBytes) {
    out += "...";
  }
  return out;
}

}  // namespace

MessageSession::MessageSession(SessionContext context) : context_(std::move(context)) {
  if (!context_.policy) {
    context_.policy = policy::DenyAllPolicy();  // fail closed
  }
  if (!context_.now_s) {
    context_.now_s = SteadySeconds;
  }
  UpdateIdle();
}

MessageSession::~MessageSession() {
  End("session closed");  // no-op when already ended; shuts the transport down otherwise
}

double MessageSession::Now() const { return context_.now_s(); }

void MessageSession::UpdateIdle() {
  if (!pending_.empty() || session_stream_) {
    idle_since_ = 0;
  } else if (idle_since_ == 0) {
    // 0 means "not idle": a clock that reads 0 is nudged to the smallest positive time.
    const double now = Now();
    idle_since_ = now > 0 ? now : std::numeric_limits<double>::min();
  }
}

void MessageSession::AttachTransport(MessageTransport* transport) {
  if (transport == transport_) {
    return;
  }
  ShutdownTransport();
  transport_ = transport;
  if (ended_) {
    ShutdownTransport();
  }
}

void MessageSession::ShutdownTransport() {
  MessageTransport* transport = std::exchange(transport_, nullptr);
  if (transport != nullptr) {
    transport->Shutdown();  // frees it; nothing more is heard from it
  }
}

void MessageSession::SetPolicy(std::shared_ptr<const policy::Policy> policy) {
  context_.policy = policy ? std::move(policy) : policy::DenyAllPolicy();
}

// ---- From the client -------------------------------------------------------------------------

void MessageSession::AnswerClient(const StreamRef& reply, const std::string& client_id_json,
                                  int code, const std::string& message) {
  std::string body = mcp::JsonRpcErrorBody(client_id_json, code, message);
  if (reply) {
    reply->Send(std::move(body));
    reply->End();
  } else if (!ended_) {
    ToSessionStream(std::move(body));
  }
}

void MessageSession::FromClient(std::string json, const mcp::MessageInfo& info, StreamRef reply) {
  using Kind = mcp::MessageInfo::Kind;
  if (info.kind == Kind::kRequest) {
    if (ended_ || transport_ == nullptr) {
      AnswerClient(
          reply, info.id_json, mcp::kUpstreamUnavailable,
          ended_ ? end_message_ : "upstream \"" + context_.upstream + "\" is not connected");
      return;
    }
    const int64_t id = next_id_;
    std::optional<std::string> rewritten = ReplaceId(json, std::to_string(id));
    if (!rewritten) {
      // Cannot happen for a message InspectMessage accepted; refuse rather than guess.
      AnswerClient(reply, info.id_json, mcp::kInvalidRequest, "Invalid Request: unusable id");
      return;
    }
    ++next_id_;
    Pending pending;
    pending.client_id_json = info.id_json;
    pending.method = info.method;
    if (!info.progress_token_json.empty()) {
      pending.progress_token_json = CanonicalIdJson(info.progress_token_json);
    }
    pending.list_kind = mcp::ListKindOf(info.method);
    pending.reply = std::move(reply);
    pending.order = static_cast<uint64_t>(id);
    pending_.emplace(id, std::move(pending));
    UpdateIdle();
    transport_->Send(std::move(*rewritten));
    return;
  }
  if (ended_ || transport_ == nullptr) {
    spdlog::debug("session {} ({}): {} from the client dropped: {}", context_.id, context_.upstream,
                  info.method.empty() ? "response" : info.method,
                  ended_ ? end_message_ : "no upstream");
    return;
  }
  if (info.kind == Kind::kNotification && info.method == "notifications/cancelled") {
    CancelFromClient(json, info);
    return;
  }
  // Responses to server requests carry the server's own ids, which were never rewritten.
  transport_->Send(std::move(json));
}

void MessageSession::CancelFromClient(const std::string& json, const mcp::MessageInfo& info) {
  const std::string target = ReadStringOrInteger(json, "params", "requestId");
  auto match = pending_.end();
  if (!target.empty()) {
    // Newest first: with two streams using the same client id, the later request is the one
    // the client most plausibly means (stateless clients cancel by disconnecting anyway).
    for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
      if (CanonicalIdJson(it->second.client_id_json) == target) {
        match = std::prev(it.base());
        break;
      }
    }
  }
  if (match == pending_.end()) {
    spdlog::debug("session {} ({}): {} for request {} that is not waiting: dropped", context_.id,
                  context_.upstream, info.method, target.empty() ? "(none)" : target);
    return;
  }
  const int64_t id = match->first;
  RememberCancelled(id);
  std::optional<std::string> rewritten =
      ReplaceMember(json, "params", "requestId", std::to_string(id));
  StreamRef reply = std::move(match->second.reply);
  pending_.erase(match);
  UpdateIdle();
  if (rewritten) {
    transport_->Send(std::move(*rewritten));
  }
  if (reply) {
    reply->End();
  }
}

void MessageSession::AttachSessionStream(StreamRef stream) {
  if (ended_) {
    if (stream) {
      stream->End();
    }
    return;
  }
  StreamRef old = std::exchange(session_stream_, stream);
  UpdateIdle();
  if (old && old != stream) {
    old->End();
  }
  if (stream && session_stream_ == stream) {
    std::deque<std::string> queued;
    queued.swap(queued_);
    for (std::string& message : queued) {
      stream->Send(std::move(message));
    }
  }
}

void MessageSession::StreamGone(const StreamHandle* stream) {
  if (stream == nullptr) {
    return;
  }
  if (session_stream_.get() == stream) {
    session_stream_.reset();
  }
  std::vector<int64_t> cancelled;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.reply.get() == stream) {
      // The spec forbids cancelling initialize (basic/utilities/cancellation): it is only
      // forgotten.
      if (it->second.method != "initialize") {
        cancelled.push_back(it->first);
      }
      RememberCancelled(it->first);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  UpdateIdle();
  for (int64_t id : cancelled) {
    if (transport_ == nullptr) {
      break;  // a Send() below may have failed the transport
    }
    transport_->Send(CancelledNotification(std::to_string(id), "client disconnected"));
  }
}

void MessageSession::RememberCancelled(int64_t id) {
  cancelled_.insert(id);
  if (cancelled_.size() > kMaxQueued) {
    cancelled_.erase(cancelled_.begin());  // the oldest: its reply is least likely to come
  }
}

// ---- From the upstream -----------------------------------------------------------------------

void MessageSession::LogDropped(const std::string& why, std::string_view json) {
  ++dropped_upstream_;
  if (dropped_upstream_ <= kLogFirst || dropped_upstream_ % kLogEvery == 0) {
    spdlog::warn("session {} ({}): message dropped ({} so far): {}: {}", context_.id,
                 context_.upstream, dropped_upstream_, why, Excerpt(json));
  }
}

void MessageSession::OnTransportMessage(std::string json) {
  if (ended_) {
    return;
  }
  if (json.size() > context_.max_message_bytes) {
    OnOversizedMessage(json);
    return;
  }
  mcp::InspectResult inspected = mcp::InspectMessage(json, context_.max_json_depth);
  if (!inspected.ok()) {
    LogDropped(inspected.error().message, json);
    return;
  }
  const mcp::MessageInfo& info = inspected.info();
  switch (info.kind) {
    case mcp::MessageInfo::Kind::kResponse:
      OnUpstreamResponse(std::move(json), info);
      break;
    case mcp::MessageInfo::Kind::kNotification:
      OnUpstreamNotification(std::move(json), info);
      break;
    case mcp::MessageInfo::Kind::kRequest:
      OnServerRequest(std::move(json), info);
      break;
  }
}

void MessageSession::OnOversizedMessage(const std::string& json) {
  const std::string why = "larger than the limit (" + std::to_string(json.size()) + " > " +
                          std::to_string(context_.max_message_bytes) + " bytes)";
  LogDropped(why, json);
  // A reply that is dropped would leave its request waiting forever: answer it instead.
  if (!ReadStringOrInteger(json, "", "method").empty()) {
    return;
  }
  std::optional<int64_t> id = ParseIntegerId(ReadStringOrInteger(json, "", "id"));
  auto it = id ? pending_.find(*id) : pending_.end();
  if (it == pending_.end()) {
    return;
  }
  Pending pending = std::move(it->second);
  pending_.erase(it);
  UpdateIdle();
  AnswerClient(pending.reply, pending.client_id_json, mcp::kUpstreamUnavailable,
               "upstream \"" + context_.upstream + "\" reply " + why);
}

void MessageSession::OnUpstreamResponse(std::string json, const mcp::MessageInfo& info) {
  std::optional<int64_t> id = ParseIntegerId(info.id_json);
  auto it = id ? pending_.find(*id) : pending_.end();
  if (it == pending_.end()) {
    if (id && cancelled_.erase(*id) > 0) {
      // The client cancelled or went away; the server answered anyway: expected, not noise.
      spdlog::debug("session {} ({}): reply to cancelled request {} dropped", context_.id,
                    context_.upstream, *id);
      return;
    }
    LogDropped("reply to unknown id " + info.id_json, json);
    return;
  }
  Pending pending = std::move(it->second);
  pending_.erase(it);
  UpdateIdle();

  std::optional<std::string> restored = ReplaceId(json, pending.client_id_json);
  if (!restored) {
    // Cannot happen for an inspected response (one id, an object); fail the request rather
    // than send the client an id it never used.
    LogDropped("reply whose id cannot be rewritten", json);
    AnswerClient(pending.reply, pending.client_id_json, mcp::kUpstreamUnavailable,
                 "upstream \"" + context_.upstream + "\" sent an unreadable reply");
    return;
  }
  std::string body = std::move(*restored);
  if (pending.list_kind != mcp::ListKind::kNone) {
    // The drift detector sees what the upstream sent, before the policy trims it.
    if (pending.list_kind == mcp::ListKind::kTools && context_.anomalies != nullptr) {
      context_.anomalies->OnToolList(context_.upstream, json, Now());
    }
    const std::shared_ptr<const policy::Policy> policy = context_.policy;  // the grant's owner
    const policy::UpstreamGrant grant = policy->GrantFor(context_.identity, context_.upstream);
    size_t removed = 0;
    std::optional<std::string> filtered =
        mcp::FilterListResponse(body, pending.list_kind, grant, &removed);
    if (filtered && removed > 0) {
      body = std::move(*filtered);  // else keep the upstream's bytes
    }
  }
  if (pending.reply) {
    pending.reply->Send(std::move(body));
    pending.reply->End();
  } else {
    ToSessionStream(std::move(body));
  }
}

void MessageSession::OnUpstreamNotification(std::string json, const mcp::MessageInfo& info) {
  if (info.method == "notifications/progress") {
    const std::string token = ReadStringOrInteger(json, "params", "progressToken");
    if (!token.empty()) {
      for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
        if (it->second.progress_token_json == token) {
          // A copy: Send() may call back and forget this request.
          if (StreamRef reply = it->second.reply) {
            reply->Send(std::move(json));
          } else {
            ToSessionStream(std::move(json));
          }
          return;
        }
      }
    }
    // Progress for a request that is over (or never was): nobody is waiting for it.
    LogDropped("progress for no waiting request (token " + (token.empty() ? "?" : token) + ")",
               json);
    return;
  }
  RouteUnrelated(std::move(json), std::string());
}

void MessageSession::OnServerRequest(std::string json, const mcp::MessageInfo& info) {
  policy::Action action;
  action.upstream = context_.upstream;
  action.method = info.method;
  action.server_request = true;
  const std::shared_ptr<const policy::Policy> policy = context_.policy;
  policy::Decision decision = policy->Decide(context_.identity, action);
  if (!decision.allowed) {
    RefuseServerRequest(info.method, info.id_json, decision.reason);
    return;
  }
  RouteUnrelated(std::move(json), info.id_json);
}

void MessageSession::RefuseServerRequest(const std::string& method, const std::string& id_json,
                                         const std::string& reason) {
  spdlog::info("policy: upstream {} asked cn=\"{}\" for {}: refused: {}", context_.upstream,
               context_.identity.cn, method, reason);
  if (context_.audit != nullptr) {
    audit::Record record("mcp.denied");
    record.Str("direction", "server_to_client");
    audit::AppendIdentitySummary(&record, context_.identity);
    record.Str("server", context_.upstream).Str("method", method).Str("id", id_json);
    if (!context_.id.empty()) {
      record.Str("session", context_.id);
    }
    record.Str("decision", "deny").Str("reason", reason);
    context_.audit->Write(std::move(record));
  }
  // Answer for the client, so the upstream does not wait for a reply that cannot come.
  if (transport_ != nullptr) {
    transport_->Send(mcp::JsonRpcErrorBody(id_json, mcp::kForbidden, "forbidden: " + reason));
  }
}

void MessageSession::RouteUnrelated(std::string json, const std::string& server_request_id) {
  // The newest waiting request is the call the server is most plausibly working on.
  if (!pending_.empty()) {
    // A copy: Send() may call back and forget this request.
    if (StreamRef newest = pending_.rbegin()->second.reply) {
      newest->Send(std::move(json));
      return;
    }
  }
  if (ToSessionStream(std::move(json))) {
    return;
  }
  if (!server_request_id.empty() && transport_ != nullptr) {
    transport_->Send(mcp::JsonRpcErrorBody(server_request_id, mcp::kInternalError,
                                           "gateway: no client stream to deliver the request"));
  }
}

bool MessageSession::ToSessionStream(std::string json) {
  if (StreamRef stream = session_stream_) {  // a copy, as Send() may call back
    stream->Send(std::move(json));
    return true;
  }
  // Full: the newest is dropped, so what does get through keeps its order.
  if (queued_.size() >= kMaxQueued) {
    LogDropped("no client stream and the queue is full (" + std::to_string(kMaxQueued) + ")", json);
    return false;
  }
  queued_.push_back(std::move(json));
  return true;
}

// ---- Ending ----------------------------------------------------------------------------------

size_t MessageSession::Terminate(int code, const std::string& message) {
  ended_ = true;
  end_message_ = message;
  // Take everything first: a stream's Send() or End() may call back (StreamGone).
  std::map<int64_t, Pending> pending = std::move(pending_);
  pending_.clear();
  StreamRef session_stream = std::move(session_stream_);
  session_stream_.reset();
  queued_.clear();
  UpdateIdle();
  for (auto& [id, request] : pending) {
    std::string body = mcp::JsonRpcErrorBody(request.client_id_json, code, message);
    if (request.reply) {
      request.reply->Send(std::move(body));
      request.reply->End();
    } else if (session_stream) {
      session_stream->Send(std::move(body));
    }
  }
  if (session_stream) {
    session_stream->End();
  }
  return pending.size();
}

void MessageSession::End(const std::string& reason) {
  if (ended_) {
    return;
  }
  Terminate(mcp::kUpstreamUnavailable, "session ended: " + reason);
  ShutdownTransport();
}

void MessageSession::OnTransportFailed(const std::string& reason) {
  if (ended_) {
    return;
  }
  const std::string transport = transport_ != nullptr ? transport_->Describe() : std::string();
  spdlog::warn("session {} ({}, {}): upstream {}", context_.id, context_.upstream, transport,
               reason);
  const size_t failed =
      Terminate(mcp::kUpstreamUnavailable, "upstream \"" + context_.upstream + "\" " + reason);
  if (context_.audit != nullptr) {
    audit::Record record("upstream.exited");
    audit::AppendIdentitySummary(&record, context_.identity);
    record.Str("server", context_.upstream);
    if (!context_.id.empty()) {
      record.Str("session", context_.id);
    }
    record.Str("transport", transport).Str("reason", reason);
    record.Uint("requests_failed", failed);
    context_.audit->Write(std::move(record));
  }
  ShutdownTransport();
  if (on_dead) {
    on_dead(this);
  }
}

}  // namespace portcullis::session
