// HttpBridge: the gateway as a Streamable HTTP *client* of an HTTP upstream, so that a legacy
// HTTP+SSE client (GET /sse/{upstream}) can use a modern upstream (DESIGN §4a).
//
// Every message the session sends becomes one POST to the upstream's URL (Accept:
// application/json, text/event-stream; Content-Type: application/json; the identity header
// and allow-listed headers as for proxied requests, see upstream/upstream_request.h). POSTs
// run concurrently (a client answers an elicitation while its tools/call is still streaming),
// except that nothing is sent before the answer to `initialize` has told the upstream's
// Mcp-Session-Id; from then on every request carries it, and MCP-Protocol-Version carries the
// version the initialize result named. Each reply is turned back into messages for the
// listener: 202 → none; application/json → the body; text/event-stream → each event's data.
// A POST that carried a request and failed (connect error, timeout, a non-2xx without a
// JSON-RPC body) produces a JSON-RPC error response with that request's id, so that no request
// is left unanswered; a 404 on a request that carries the session id means the upstream
// forgot the session: OnTransportFailed. After `notifications/initialized` is sent, a GET
// stream is opened for the upstream's own requests and notifications (405 = the upstream has
// none; it is not reopened once it ends).
//
// Shutdown() aborts every POST and the GET stream, sends DELETE with the session id (its
// answer is not awaited) and deletes the bridge. Reactor thread only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gateway/session/message_transport.h"
#include "portcullis/config.h"
#include "portcullis/identity.h"

namespace portcullis::upstream {
class UpstreamPool;
}

namespace portcullis::session {

struct HttpBridgeOptions {
  const UpstreamConfig* upstream = nullptr;  // an HTTP(S) upstream; outlives the bridge
  upstream::UpstreamPool* pool = nullptr;    // the reactor's
  Identity identity;                         // for the identity header (XFCC)
  std::string client_address;                // the client's IP, for X-Forwarded-For
  size_t max_message_bytes = 4 << 20;        // limits.max_body_bytes: larger replies fail
};

class HttpBridge : public MessageTransport {
 public:
  // Starts nothing until the first Send().
  HttpBridge(HttpBridgeOptions options, MessageTransportListener* listener);

  void Send(std::string json) override;
  void Shutdown() override;
  std::string Describe() const override;

  // The implementation adds its state (in-flight POSTs, the queue held until the session id is
  // known, the GET stream) here.
 private:
  ~HttpBridge() override;
  HttpBridgeOptions options_;
  MessageTransportListener* listener_;
};

}  // namespace portcullis::session
