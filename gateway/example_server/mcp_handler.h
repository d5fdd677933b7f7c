// McpHandler: the MCP protocol logic of one session, independent of the transport. It answers
// initialize, ping, tools/*, resources/*, prompts/* and handles notifications/cancelled; in
// stateless mode (2026-07-28) server/discover instead of initialize and ping.
//
// stdio has one handler for the life of the process; the HTTP transport has one per
// Mcp-Session-Id, and a fresh one per stateless (2026-07-28) request. Quick requests are answered
// before HandleRequest returns; slow_count answers later from timer callbacks on `loop`, and
// confirm once the client has answered the elicitation/create request it sends (through the
// call's Responder, before the result) — that answer comes back through HandleNotification.
// Destroying the handler cancels whatever still runs. Loop thread only; `loop` must outlive the
// handler.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/example_server/json_rpc.h"
#include "gateway/example_server/responder.h"

namespace portcullis::example {

class SlowCount;

class McpHandler {
 public:
  enum class Mode {
    // Revisions 2024-11-05 to 2025-11-25: initialize first, then requests in a session.
    kSession,
    // Revision 2026-07-28: no initialize and no ping; server/discover; every result carries
    // resultType, the server's identity in _meta, and caching hints where the schema wants them.
    kStateless,
  };

  explicit McpHandler(uv_loop_t* loop, Mode mode = Mode::kSession);
  ~McpHandler();

  McpHandler(const McpHandler&) = delete;
  McpHandler& operator=(const McpHandler&) = delete;

  // Answers `request` (request.is_request() must hold) through `responder`: at once, or later
  // for long operations (see running()).
  void HandleRequest(const Message& request, std::unique_ptr<Responder> responder);

  // Takes a notification or a response from the client. Nothing is sent back to the sender; a
  // response to a confirm's elicitation/create completes that tools/call (on its own Responder).
  void HandleNotification(const Message& message);

  // Requests still being worked on (started but not yet answered).
  size_t running() const { return running_.size() + confirms_.size(); }

  // Cancels every running request without replying.
  void CancelAll();

  // The revision agreed by initialize; empty before it.
  const std::string& protocol_version() const { return protocol_version_; }

  // True for the methods a stateless handler answers.
  static bool IsStatelessMethod(std::string_view method);

 private:
  // A confirm call waiting for the client's answer to its elicitation/create.
  struct PendingConfirm {
    std::string call_id_json;  // the tools/call to answer
    std::unique_ptr<Responder> responder;
  };

  std::string Initialize(const Message& request);
  std::string Discover(const Message& request);
  std::string CallTool(const Message& request, std::unique_ptr<Responder>* responder);
  std::string ReadResource(const Message& request);
  std::string GetPrompt(const Message& request);
  // Sends elicitation/create for a confirm call and parks the call until the client answers.
  std::string StartConfirm(const std::string& id_json, const rapidjson::Value& arguments,
                           std::unique_ptr<Responder>* responder);
  // The client's answer to a confirm's elicitation/create: replies to that tools/call.
  void FinishConfirm(const Message& response);
  void Cancel(const std::string& id_json);
  // True while a request with this id (JSON text) is unanswered: a count or a confirm.
  bool IsRunning(const std::string& id_json) const;
  // True when confirm is offered: a session whose client declared form-mode elicitation.
  bool OffersConfirm() const { return mode_ == Mode::kSession && client_elicits_; }

  uv_loop_t* loop_;
  Mode mode_;
  std::string protocol_version_;
  // Long operations by request id (as JSON text), so notifications/cancelled can find them.
  std::map<std::string, SlowCount*> running_;
  // Set by initialize when the client's capabilities include form-mode elicitation.
  bool client_elicits_ = false;
  // Numbers the server's own requests ("confirm-1", ...): a namespace apart from the client's.
  uint64_t next_server_request_ = 0;
  // By the id (as JSON text) of the elicitation/create request sent to the client.
  std::map<std::string, PendingConfirm> confirms_;
};

}  // namespace portcullis::example
