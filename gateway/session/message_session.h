// MessageSession: one MCP session the gateway runs itself, message by message, because its
// upstream is not a Streamable HTTP server it can proxy byte for byte: a stdio process, or a
// Streamable HTTP upstream bridged for a legacy HTTP+SSE client.
//
// It sits between client streams (StreamHandle) and one MessageTransport, and does what a
// proxy cannot leave to the upstream:
// - Request ids are rewritten to the session's own (1, 2, 3, ... as JSON integers) on the way
//   up and restored on the way back, so several client streams (and, for 2026-07-28 stateless
//   requests, several HTTP requests) can share one upstream without their ids colliding. A
//   client's notifications/cancelled gets its params.requestId rewritten the same way.
// - Replies go to the stream of the request they answer, which then ends. Progress
//   notifications go to the stream of the request whose _meta.progressToken they carry.
//   Anything else the upstream sends (notifications, server requests such as sampling,
//   elicitation, roots) goes to the stream of the newest request still waiting (that is the
//   call the server is working on), else to the session stream (GET or legacy SSE), else waits
//   in a bounded queue for a session stream to attach (beyond kMaxQueued: dropped, logged).
// - Server-to-client requests are judged by the policy (Action.server_request); a refused
//   one never reaches the client: the upstream gets a -32003 error for it and the audit log an
//   mcp.denied record (direction server_to_client).
// - Replies to list requests are filtered to the identity's grant (mcp/list_filter.h) and
//   tools/list results are shown to the tool-drift detector.
// - Client responses to server requests (and other notifications) are passed up unchanged.
// - When the transport fails, every waiting request gets a JSON-RPC error (-32000) on its
//   stream and its stream ends, the session stream ends, the audit log gets upstream.exited,
//   and the session reports itself dead through `on_dead` (its owner removes it).
//
// A session lives on one reactor (session/session_registry.h) and has no libuv handles of its
// own; its owner sweeps idle sessions (idle_since()). Reactor thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gateway/mcp/jsonrpc_message.h"
#include "gateway/mcp/list_filter.h"
#include "gateway/session/message_transport.h"
#include "gateway/session/stream_handle.h"
#include "portcullis/identity.h"
#include "portcullis/policy.h"

namespace portcullis::audit {
class AuditSink;
class AnomalyMonitor;
}  // namespace portcullis::audit

namespace portcullis::session {

struct SessionContext {
  std::string id;        // the registry key, for logs ("" for none)
  std::string upstream;  // the upstream's name
  Identity identity;     // who opened the session
  std::shared_ptr<const policy::Policy> policy;  // replaced by SetPolicy on reload
  audit::AuditSink* audit = nullptr;             // outlives the session; may be null in tests
  audit::AnomalyMonitor* anomalies = nullptr;    // outlives the session; may be null in tests
  size_t max_message_bytes = 4 << 20;            // limits.max_body_bytes
  int max_json_depth = 64;                       // limits.max_json_depth
  // The loop's clock, in seconds (anomaly windows, idle sweeping). Defaults to a steady clock.
  std::function<double()> now_s;
};

class MessageSession : public MessageTransportListener {
 public:
  static constexpr size_t kMaxQueued = 256;

  explicit MessageSession(SessionContext context);
  ~MessageSession() override;  // shuts the transport down if it is still attached
  MessageSession(const MessageSession&) = delete;
  MessageSession& operator=(const MessageSession&) = delete;

  // Takes ownership of the transport (a fresh `new`-ed one; see message_transport.h).
  void AttachTransport(MessageTransport* transport);

  // A message from the client, already inspected (`info`) and allowed by the policy.
  // Requests: related messages and the reply go to `reply`, which then ends; a null `reply`
  // (legacy HTTP+SSE) means the session stream. Notifications and responses: passed up;
  // `reply` is not used.
  void FromClient(std::string json, const mcp::MessageInfo& info, StreamRef reply);
  // The session-wide stream (a Streamable HTTP GET, or the legacy SSE stream). A stream
  // already attached is ended first. Queued messages are sent to it at once.
  void AttachSessionStream(StreamRef stream);
  // The client closed `stream` (disconnect): it is forgotten, and each request still waiting
  // on it is cancelled upstream with notifications/cancelled. Unknown streams are ignored.
  void StreamGone(const StreamHandle* stream);
  // Ends the session (DELETE, idle timeout, shutdown): waiting requests get a JSON-RPC error,
  // every stream ends, the transport is shut down. `on_dead` is not called. Idempotent.
  void End(const std::string& reason);
  void SetPolicy(std::shared_ptr<const policy::Policy> policy);

  // Called once when the transport fails (not after End()). The owner must not destroy the
  // session inside this call (defer it to the next loop turn).
  std::function<void(MessageSession*)> on_dead;

  bool ended() const { return ended_; }
  // Seconds (context.now_s clock) since the session last had a waiting request or a session
  // stream; 0 while it has either.
  double idle_since() const { return idle_since_; }
  size_t waiting() const { return pending_.size(); }
  const SessionContext& context() const { return context_; }

  // MessageTransportListener
  void OnTransportMessage(std::string json) override;
  void OnTransportFailed(const std::string& reason) override;

 private:
  struct Pending {
    std::string client_id_json;  // the id the client used, to restore
    std::string method;
    std::string progress_token_json;
    mcp::ListKind list_kind = mcp::ListKind::kNone;
    StreamRef reply;  // null = the session stream
    uint64_t order = 0;
  };
  // The implementation adds its helpers here.

  SessionContext context_;
  MessageTransport* transport_ = nullptr;
  std::map<int64_t, Pending> pending_;  // by the session's own id
  int64_t next_id_ = 1;
  StreamRef session_stream_;
  std::deque<std::string> queued_;
  double idle_since_ = 0;
  bool ended_ = false;
};

}  // namespace portcullis::session
