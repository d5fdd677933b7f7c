// MessageTransport: the upstream side of an MCP session that the gateway runs itself, one
// JSON-RPC message at a time: a stdio child process (upstream/stdio_process.h) or a bridge to
// a Streamable HTTP upstream for legacy HTTP+SSE clients (session/http_bridge.h).
//
// A transport owns libuv handles, so it cannot be destroyed on the spot: it is created with
// `new`, and Shutdown() hands it back to itself: it detaches its listener, ends the upstream
// side in its own way and deletes itself once its handles are closed. Reactor thread only.
#pragma once

#include <string>

namespace portcullis::session {

class MessageTransportListener {
 public:
  virtual ~MessageTransportListener() = default;
  // One complete JSON-RPC message from the upstream (a line of stdout, a JSON body, or one
  // SSE event's data). Not yet validated.
  virtual void OnTransportMessage(std::string json) = 0;
  // The upstream is gone (the process exited, the HTTP upstream failed or closed the
  // session): requests in flight will never be answered. Heard at most once, never after
  // Shutdown(). `reason` is for humans ("exited with status 3", "connection refused"). The
  // owner still calls Shutdown() afterwards, which frees the transport.
  virtual void OnTransportFailed(const std::string& reason) = 0;
};

class MessageTransport {
 public:
  virtual ~MessageTransport() = default;
  // Queues one JSON-RPC message (no trailing newline) for the upstream.
  virtual void Send(std::string json) = 0;
  // Ends the upstream side (stdio: close stdin, wait, SIGTERM, SIGKILL; bridge: DELETE the
  // upstream session) and frees the transport when that is done. The listener hears nothing
  // more. The caller must not touch the transport afterwards.
  virtual void Shutdown() = 0;
  // For logs and the audit trail: "pid 1234", "http://127.0.0.1:3001/mcp session 9f…".
  virtual std::string Describe() const = 0;
};

}  // namespace portcullis::session
