// HttpServer: MCP over Streamable HTTP on one endpoint (`/mcp`, or any path ending in `/mcp`),
// in both eras: sessionful (revisions 2025-03-26 to 2025-11-25) and stateless (2026-07-28).
//
// POST of a request → an application/json reply, or a text/event-stream reply for requests that
// take time (slow_count, confirm), whose progress notifications and requests to the client
// (confirm's elicitation/create) are events sent as they happen. POST of a notification or
// response → 202; a response goes to its session's handler. GET → 405 (no server-initiated
// stream). DELETE ends a session.
//
// Sessionful: `initialize` creates a session and returns its id in Mcp-Session-Id; every other
// message must carry it: missing → 400, unknown or ended → 404 (MCP "Transports", "Session
// Management").
// Stateless: a request that declares 2026-07-28 in params._meta needs no session and gets no
// Mcp-Session-Id. Its headers must mirror its body (400 + -32020 otherwise), an unknown revision
// is 400 + -32022, an unknown method 404 + -32601. A fresh McpHandler serves each one; closing
// the reply stream cancels the request at once (2026-07-28 "Cancellation").
// Loop thread only; the object must outlive the loop run that Close() starts.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "gateway/example_server/http_connection.h"
#include "gateway/example_server/mcp_handler.h"
#include "portcullis/result.h"

namespace portcullis::example {

class HttpServer : public HttpConnection::Delegate {
 public:
  // Listens on `host_port` ("127.0.0.1:8080", "[::1]:0", "localhost:0"). Port 0 picks a free one.
  static Result<std::unique_ptr<HttpServer>> Create(uv_loop_t* loop, const std::string& host_port);
  ~HttpServer() override;

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "HOST:PORT" actually bound (the real port when 0 was asked for).
  const std::string& address() const { return address_; }

  // Stops listening, ends every session and closes every connection. Idempotent.
  void Close();

  void OnRequest(HttpConnection* connection, const HttpRequest& request) override;
  void OnConnectionClosed(HttpConnection* connection) override;

 private:
  explicit HttpServer(uv_loop_t* loop);
  static void OnConnection(uv_stream_t* listener, int status);

  void HandlePost(HttpConnection* connection, const HttpRequest& request);
  // A message declaring revision `version` in params._meta.
  void HandleStateless(HttpConnection* connection, const HttpRequest& request,
                       const Message& message, const std::string& version);
  void HandleDelete(HttpConnection* connection, const HttpRequest& request);
  // Finds the session named by the request's Mcp-Session-Id, or answers 400/404 and returns
  // nullptr. `id_json` is the id to put in the error ("null" if none).
  McpHandler* FindSession(HttpConnection* connection, const HttpRequest& request,
                          const std::string& id_json, std::string* session_id);

  uv_loop_t* loop_;
  uv_tcp_t listener_;
  bool listening_ = false;
  bool closed_ = false;
  std::string address_;
  std::map<std::string, std::unique_ptr<McpHandler>> sessions_;
  // Handlers of stateless requests whose reply is still streaming, by a serial number. Each
  // holds a connection, so kMaxConnections bounds them.
  std::map<uint64_t, std::unique_ptr<McpHandler>> streaming_;
  uint64_t next_streaming_ = 0;
  std::set<HttpConnection*> connections_;
};

}  // namespace portcullis::example
