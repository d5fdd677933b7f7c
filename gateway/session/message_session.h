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
// What the upstream sends is untrusted (a stdio server may print anything on stdout):
// a message larger than max_message_bytes, or one that is not a single JSON-RPC 2.0 message
// (mcp::InspectMessage), is dropped with a rate-limited log line; so are replies with an id
// the session does not know (never issued, already answered) and progress notifications whose
// token no waiting request carries. A late reply to a request the client cancelled or whose
// stream is gone is dropped too, with a debug line only (that is expected). An oversized reply
// whose id names a waiting request answers that request with a -32000 error instead, so the
// client is not left waiting. A server request that has nowhere to go (the queue is full) is
// answered upstream with a -32603 error, so the server is not left waiting either.
//
// Re-entrancy: streams and the transport may call back into the session from Send()/End()
// (StreamGone, OnTransportFailed); the session changes its state before it calls out.
//
// A session lives on one reactor (session/session_registry.h) and has no libuv handles of its
// own; its owner sweeps idle sessions (idle_since()). Reactor thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
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
  std::string id;                                // the registry key, for logs ("" for none)
  std::string upstream;                          // the upstream's name
  Identity identity;                             // who opened the session
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

  // A null context.policy is read as DenyAllPolicy(); an empty now_s as a steady clock.
  explicit MessageSession(SessionContext context);
  // A session not yet ended ends as by End("session closed") (streams end, the transport is
  // shut down); the owner normally calls End() or hears on_dead first.
  ~MessageSession() override;
  MessageSession(const MessageSession&) = delete;
  MessageSession& operator=(const MessageSession&) = delete;

  // Takes ownership of the transport (a fresh `new`-ed one whose listener is this session;
  // see message_transport.h). A transport already attached is shut down; one attached to an
  // ended session is shut down at once. Requests that come before a transport is attached
  // are answered with a -32000 error.
  void AttachTransport(MessageTransport* transport);

  // A message from the client, already inspected (`info`) and allowed by the policy.
  // Requests: related messages and the reply go to `reply`, which then ends; a null `reply`
  // (legacy HTTP+SSE) means the session stream. A request to an ended session (or one with no
  // transport) is answered at once with a -32000 error on `reply`, which ends.
  // Notifications and responses: passed up; `reply` is not used. notifications/cancelled is
  // the exception: its params.requestId (compared after canonicalising, so "\u0041" is "A")
  // names the newest waiting request with that client id; it is rewritten to the session's id
  // and sent up, and the request is forgotten and its stream ended (the spec lets the server
  // stay silent about a cancelled request). One naming no waiting request is dropped: passed
  // up as is, the upstream would read the client's id as one of the session's own.
  void FromClient(std::string json, const mcp::MessageInfo& info, StreamRef reply);
  // The session-wide stream (a Streamable HTTP GET, or the legacy SSE stream). A different
  // stream already attached is ended first. Queued messages are sent to it at once, in order.
  // Null detaches (and ends) the current one; on an ended session `stream` is ended at once.
  void AttachSessionStream(StreamRef stream);
  // The client closed `stream` (disconnect): it is forgotten (not ended), and each request
  // still waiting on it is cancelled upstream with notifications/cancelled {requestId: <the
  // session's id>, reason: "client disconnected"} and forgotten; a late reply to it is then
  // dropped. initialize is only forgotten (the spec forbids cancelling it). Unknown streams
  // are ignored.
  void StreamGone(const StreamHandle* stream);
  // Ends the session (DELETE, idle timeout, shutdown): each waiting request gets the JSON-RPC
  // error -32000 "session ended: <reason>" with its client's id, every stream ends (the
  // session stream last, after the errors of requests that wait on it), the queue is
  // discarded, the transport is shut down. `on_dead` is not called. Idempotent.
  void End(const std::string& reason);
  // The policy used from now on: for server requests, and for filtering list replies (also
  // those to requests sent before the change).
  void SetPolicy(std::shared_ptr<const policy::Policy> policy);

  // Called once when the transport fails (not after End()), after the session has ended as
  // End() does, but with the error -32000 "upstream \"<name>\" <reason>", an audit record
  // upstream.exited {server, session, transport, reason, requests_failed, identity}, and
  // transport->Shutdown() (called inside OnTransportFailed). The owner must not destroy the
  // session inside this call (defer it to the next loop turn).
  std::function<void(MessageSession*)> on_dead;

  bool ended() const { return ended_; }
  // The time (context.now_s clock, seconds) at which the session last became idle: had no
  // waiting request and no session stream (a new session is idle from its construction);
  // 0 while it has either. The owner ends sessions whose now - idle_since() is too long.
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
    std::string progress_token_json;  // canonical (CanonicalIdJson), or ""
    mcp::ListKind list_kind = mcp::ListKind::kNone;
    StreamRef reply;  // null = the session stream
    uint64_t order = 0;
  };

  double Now() const;
  // Sets or clears idle_since_ after a change of pending_ or session_stream_.
  void UpdateIdle();
  // Answers a client request locally (never sent up) with a JSON-RPC error; ends `reply`.
  void AnswerClient(const StreamRef& reply, const std::string& client_id_json, int code,
                    const std::string& message);
  // Client notifications/cancelled: see FromClient.
  void CancelFromClient(const std::string& json, const mcp::MessageInfo& info);
  // Upstream messages, by kind (already inspected).
  void OnUpstreamResponse(std::string json, const mcp::MessageInfo& info);
  void OnUpstreamNotification(std::string json, const mcp::MessageInfo& info);
  void OnServerRequest(std::string json, const mcp::MessageInfo& info);
  void OnOversizedMessage(const std::string& json);
  void RefuseServerRequest(const std::string& method, const std::string& id_json,
                           const std::string& reason);
  // A message not tied to a request: the newest waiting request's stream, else the session
  // stream, else the queue. `server_request_id` is the id of a server request ("" otherwise),
  // answered upstream with an error if the message must be dropped.
  void RouteUnrelated(std::string json, const std::string& server_request_id);
  // To the session stream, else the queue; false when the queue is full (dropped).
  bool ToSessionStream(std::string json);
  // Ends the session's client side: each waiting request gets the error (code, message), every
  // stream ends, the queue is dropped. Returns how many requests were failed.
  size_t Terminate(int code, const std::string& message);
  // Detaches and shuts down the transport, if any.
  void ShutdownTransport();
  // Logs a dropped message: the first few, then one in kLogEvery.
  void LogDropped(const std::string& why, std::string_view json);
  // Notes a request the client cancelled or abandoned, so that its late reply is dropped
  // quietly rather than logged as unknown. Keeps the newest kMaxQueued.
  void RememberCancelled(int64_t id);

  SessionContext context_;
  MessageTransport* transport_ = nullptr;
  std::map<int64_t, Pending> pending_;  // by the session's own id
  int64_t next_id_ = 1;
  StreamRef session_stream_;
  std::deque<std::string> queued_;
  double idle_since_ = 0;
  bool ended_ = false;
  std::string end_message_;        // the error text for requests that come after the end
  uint64_t dropped_upstream_ = 0;  // messages dropped (logs are rate-limited by it)
  std::set<int64_t> cancelled_;    // see RememberCancelled
};

}  // namespace portcullis::session
