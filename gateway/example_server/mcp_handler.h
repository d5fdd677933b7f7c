// McpHandler: the MCP protocol logic of one session, independent of the transport. It answers
// initialize, ping, tools/*, resources/*, prompts/* and handles notifications/cancelled.
//
// stdio has one handler for the life of the process; the HTTP transport has one per
// Mcp-Session-Id. Quick requests are answered before HandleRequest returns; slow_count answers
// later from timer callbacks on `loop`. Destroying the handler cancels whatever still runs.
// Loop thread only; `loop` must outlive the handler.
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <string>

#include "gateway/example_server/json_rpc.h"
#include "gateway/example_server/responder.h"

namespace portcullis::example {

class SlowCount;

class McpHandler {
 public:
  explicit McpHandler(uv_loop_t* loop);
  ~McpHandler();

  McpHandler(const McpHandler&) = delete;
  McpHandler& operator=(const McpHandler&) = delete;

  // Answers `request` (request.is_request() must hold) through `responder`: at once, or later
  // for long operations (see running()).
  void HandleRequest(const Message& request, std::unique_ptr<Responder> responder);

  // Takes a notification or a response from the client. Nothing is ever sent back.
  void HandleNotification(const Message& message);

  // Requests still being worked on (started but not yet answered).
  size_t running() const { return running_.size(); }

  // Cancels every running request without replying.
  void CancelAll();

  // The revision agreed by initialize; empty before it.
  const std::string& protocol_version() const { return protocol_version_; }

 private:
  std::string Initialize(const Message& request);
  std::string CallTool(const Message& request, std::unique_ptr<Responder>* responder);
  std::string ReadResource(const Message& request);
  std::string GetPrompt(const Message& request);
  void Cancel(const std::string& id_json);

  uv_loop_t* loop_;
  std::string protocol_version_;
  // Long operations by request id (as JSON text), so notifications/cancelled can find them.
  std::map<std::string, SlowCount*> running_;
};

}  // namespace portcullis::example
