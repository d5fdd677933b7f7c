// StreamHandle: how a gateway-run session (session/message_session.h) reaches one client
// stream: the SSE reply of a Streamable HTTP POST, a Streamable HTTP GET stream, or a legacy
// HTTP+SSE stream.
//
// The client connection holding the stream may live on another reactor than the session;
// the handle hides that (session/session_router.h hops threads for it), so a session calls it
// as if the stream were local. Called on the session's reactor only.
#pragma once

#include <memory>
#include <string>

namespace portcullis::session {

class StreamHandle {
 public:
  virtual ~StreamHandle() = default;
  // One JSON-RPC message for the client, already judged by the policy.
  virtual void Send(std::string json) = 0;
  // The session is done with this stream: the reply to its request went out, or the session
  // ended. Nothing is sent after End().
  virtual void End() = 0;
};

using StreamRef = std::shared_ptr<StreamHandle>;

}  // namespace portcullis::session
