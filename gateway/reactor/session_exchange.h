// SessionExchange: one client request served by a session the gateway runs itself (a stdio
// process, or a legacy SSE bridge), wherever that session lives (session_router.h).
//
// What the client sees, by kind:
//   kRequest       POST of a JSON-RPC request (Streamable HTTP): 200 text/event-stream carrying
//                  the messages related to the request, then its reply; the stream then ends.
//   kMessage       POST of a notification or a response (Streamable HTTP), or any POST to the
//                  legacy /messages endpoint: 202 once the session has it (replies go to the
//                  session's stream).
//   kGetStream     GET (Streamable HTTP): the session stream, open until the session ends.
//   kLegacyStream  GET /sse/{upstream}: `event: endpoint` with the /messages URL, then the
//                  session's messages; the session ends when this stream closes.
//   kDelete        DELETE (Streamable HTTP): ends the session; 200.
// A session that does not exist (any more) is 404 with JSON-RPC error -32008. Every message
// goes out as one SSE event "event: message". Reactor thread of the client connection only.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "gateway/http/response_writer.h"
#include "gateway/mcp/jsonrpc_message.h"
#include "gateway/reactor/session_router.h"
#include "gateway/upstream/exchange.h"

namespace portcullis::reactor {

class Reactor;

class SessionExchange : public upstream::Exchange, public StreamListener {
 public:
  enum class Kind { kRequest, kMessage, kGetStream, kLegacyStream, kDelete };
  // An unsent client stream may hold this much before the client is cut off: a session
  // cannot slow its process down for one slow reader.
  static constexpr size_t kMaxBuffered = 8 << 20;

  // `key` names the session; `session_header` is the sealed id to return in Mcp-Session-Id
  // ("" = none); `endpoint` the legacy POST URL (kLegacyStream only); `message` and `info`
  // the client's JSON-RPC message (POSTs only).
  SessionExchange(Reactor* reactor, http::ResponseWriter* writer, Kind kind, std::string key,
                  std::string session_header, std::string endpoint, std::string message,
                  mcp::MessageInfo info);
  ~SessionExchange() override;
  SessionExchange(const SessionExchange&) = delete;
  SessionExchange& operator=(const SessionExchange&) = delete;

  void Start();

  // upstream::Exchange
  void Cancel() override;
  void OnClientDrained() override {}
  const std::optional<upstream::UpstreamError>& upstream_error() const override { return none_; }
  const std::string& upstream_error_detail() const override { return empty_; }
  const std::string& opened_session() const override { return empty_; }
  bool proxied() const override { return false; }

  // StreamListener
  void OnRouted(bool found) override;
  void OnSessionMessage(std::string json) override;
  void OnSessionEnd() override;

 private:
  void WriteStreamHead();
  void WriteEvent(std::string_view event, std::string_view data);

  Reactor* reactor_;
  http::ResponseWriter* writer_;
  const Kind kind_;
  const std::string key_;
  const std::string session_header_;
  const std::string endpoint_;
  std::string message_;
  mcp::MessageInfo info_;
  std::shared_ptr<StreamPort> port_;
  bool head_written_ = false;
  bool done_ = false;  // the response is complete (or abandoned)
  std::optional<upstream::UpstreamError> none_;
  std::string empty_;
};

}  // namespace portcullis::reactor
