// HttpBridge: the gateway as a Streamable HTTP *client* of an HTTP upstream, so that a legacy
// HTTP+SSE client (GET /sse/{upstream}) can use a modern upstream (DESIGN §4a).
//
// Every message the session sends becomes one POST to the upstream's URL (Accept:
// application/json, text/event-stream; Content-Type: application/json; the identity header
// and allow-listed headers as for proxied requests, see upstream/upstream_request.h). POSTs
// run concurrently (a client answers an elicitation while its tools/call is still streaming),
// except that nothing is sent before the answer to `initialize` has told the upstream's
// Mcp-Session-Id; from then on every request carries it, and MCP-Protocol-Version carries the
// version the initialize result named. (What is sent meanwhile waits, and goes out in order once
// the initialize response has reached the listener, or the initialize POST has failed.) Each reply
// is turned back into messages for the listener: 202 → none; application/json → the body;
// text/event-stream → each event's data. A POST that carried a request and failed (connect error,
// timeout, a non-2xx without a JSON-RPC body) produces a JSON-RPC error response with that
// request's id, so that no request is left unanswered; a 404 on a request that carries the session
// id means the upstream forgot the session: OnTransportFailed. After `notifications/initialized` is
// sent, a GET stream is opened for the upstream's own requests and notifications (405 = the
// upstream has none; it is not reopened once it ends).
//
// Shutdown() aborts every POST and the GET stream, sends DELETE with the session id (its
// answer is not awaited) and deletes the bridge. Reactor thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/http/http_request.h"
#include "gateway/session/message_transport.h"
#include "gateway/upstream/upstream_sink.h"
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
  struct Exchange;  // one POST or the GET stream; http_bridge.cc
  class CallbackScope;
  // A listener call that happened while Send() was on the stack (see Emit).
  struct Notice {
    bool failure = false;
    std::string text;
  };
  enum class InitState { kNotSent, kWaiting, kDone };

  ~HttpBridge() override;

  void StartPost(std::string json);
  void StartGet();
  void Dispatch(Exchange* exchange, bool fresh);
  void ReleaseHeld();
  // The exchange is over (its connection, if any, is dropped); initialize's end releases held_.
  void FinishExchange(Exchange* exchange);
  void AbortAll();
  // UpstreamSink callbacks of an exchange, routed here.
  void OnHead(Exchange* exchange, int status, const http::HeaderList& headers,
              std::optional<uint64_t> content_length);
  void OnBody(Exchange* exchange, std::string_view data);
  void OnComplete(Exchange* exchange);
  void OnError(Exchange* exchange, upstream::UpstreamError error, const std::string& detail,
               bool retryable);
  // One message out of a reply body or stream.
  void OnMessage(Exchange* exchange, std::string json);
  // A request's POST ended without its response: answer it with a JSON-RPC error.
  void AnswerFailed(Exchange* exchange, int code, const std::string& message);
  // A reply grew past max_message_bytes: abandon it.
  void CutOff(Exchange* exchange);
  // A 404 to a request that carried the session id: OnTransportFailed.
  void SessionGone();
  // Every listener call goes through here: none after Shutdown() or the failure, and none
  // from inside Send().
  void Emit(Notice notice);
  void FlushDeferred();
  bool live() const { return listener_ != nullptr && !failed_; }

  HttpBridgeOptions options_;
  MessageTransportListener* listener_;  // null after Shutdown()
  std::vector<std::unique_ptr<Exchange>> exchanges_;
  std::deque<std::string> held_;  // sent while the initialize answer was awaited
  std::vector<Notice> deferred_;
  InitState init_state_ = InitState::kNotSent;
  std::string initialize_id_;     // the id of the initialize request, as JSON text
  std::string session_id_;        // the upstream's Mcp-Session-Id; "" until known (or none)
  std::string protocol_version_;  // what the initialize result named
  bool get_started_ = false;      // the GET stream is opened once, never again
  bool failed_ = false;           // OnTransportFailed was heard
  bool shut_down_ = false;
  bool in_send_ = false;
  int callback_depth_ = 0;  // upstream callbacks on the stack; deletion waits for 0
};

}  // namespace portcullis::session
