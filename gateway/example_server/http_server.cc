#include "gateway/example_server/http_server.h"

#include <sys/random.h>
#include <sys/socket.h>

#include <cstdio>
#include <functional>
#include <string_view>
#include <utility>

#include "gateway/example_server/catalog.h"
#include "gateway/example_server/json_rpc.h"
#include "gateway/example_server/limits.h"
#include "gateway/example_server/request_metadata.h"

namespace portcullis::example {

namespace {

// Connections served at once; more are accepted and closed at once, so the backlog drains.
constexpr size_t kMaxConnections = 1024;
// Codes the TypeScript SDK uses for these HTTP-level refusals, so clients see familiar errors.
constexpr int kBadRequest = -32000;
constexpr int kSessionNotFound = -32001;

const HttpHeaders kJsonType = {{"Content-Type", "application/json"}};

// 16 bytes from the kernel's CSPRNG as 32 hex digits (MCP: session ids "SHOULD be globally
// unique and cryptographically secure").
std::string NewSessionId() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n > 0) {
      got += static_cast<size_t>(n);
    }
  }
  static const char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char byte : bytes) {
    id.push_back(kHex[byte >> 4]);
    id.push_back(kHex[byte & 0xf]);
  }
  return id;
}

void SendJsonError(HttpConnection* connection, int status, const std::string& id_json, int code,
                   std::string_view message) {
  connection->SendResponse(status, kJsonType, MakeError(id_json, code, message));
}

// "/mcp", "/x/mcp", "/mcp?x=1"; the query is ignored.
bool IsMcpPath(std::string_view url) {
  url = url.substr(0, url.find('?'));
  return url == "/mcp" || (url.size() > 4 && url.substr(url.size() - 4) == "/mcp");
}

// Sends the messages of one request over HTTP: a plain JSON body when the answer comes at once,
// otherwise an SSE stream (event: message) that ends after the final response. Replies carry
// Mcp-Session-Id unless `session_id` is empty (stateless).
class HttpResponder : public Responder {
 public:
  HttpResponder(HttpConnection* connection, std::string session_id)
      : connection_(connection), session_id_(std::move(session_id)) {
    connection_->set_on_gone([this]() {
      connection_ = nullptr;
      RunOnEnd();
    });
  }

  ~HttpResponder() override {
    if (connection_ != nullptr) {
      // Cancelled: no response is sent (MCP "Cancellation"), but the stream must end.
      HttpConnection* connection = Detach();
      StartStream(connection);
      connection->EndStream();
    }
    RunOnEnd();
  }

  // Runs once, when the client goes away before the final response or when this responder is
  // destroyed (after the response, or on cancellation), whichever comes first.
  void set_on_end(std::function<void()> on_end) { on_end_ = std::move(on_end); }

  void Notify(std::string json) override {
    if (connection_ == nullptr) {
      return;
    }
    StartStream(connection_);
    if (connection_ != nullptr) {
      connection_->WriteChunk(Event(json));
    }
  }

  void Respond(std::string json) override {
    if (connection_ == nullptr) {
      return;
    }
    HttpConnection* connection = Detach();
    if (connection->streaming()) {
      connection->WriteChunk(Event(json));
      connection->EndStream();
    } else {
      HttpHeaders headers = kJsonType;
      AddSessionHeader(&headers);
      connection->SendResponse(200, headers, json);
    }
  }

  bool open() const override { return connection_ != nullptr && !connection_->closing(); }

  // Called by the server when the request was not answered at once: the reply will stream.
  void StartStreamNow() {
    if (connection_ != nullptr) {
      StartStream(connection_);
    }
  }

 private:
  HttpConnection* Detach() {
    HttpConnection* connection = connection_;
    connection->set_on_gone(nullptr);
    connection_ = nullptr;
    return connection;
  }

  void StartStream(HttpConnection* connection) {
    if (connection->streaming()) {
      return;
    }
    HttpHeaders headers = {{"Content-Type", "text/event-stream"},
                           {"Cache-Control", "no-cache"},
                           {"X-Accel-Buffering", "no"}};
    AddSessionHeader(&headers);
    connection->BeginStream(200, headers);
  }

  void AddSessionHeader(HttpHeaders* headers) const {
    if (!session_id_.empty()) {
      headers->emplace_back("Mcp-Session-Id", session_id_);
    }
  }

  void RunOnEnd() {
    if (on_end_) {
      auto on_end = std::move(on_end_);
      on_end_ = nullptr;
      on_end();
    }
  }

  static std::string Event(const std::string& json) {
    // JSON-RPC text from our writer holds no raw newline, so one data: line is enough.
    return "event: message\ndata: " + json + "\n\n";
  }

  HttpConnection* connection_;
  std::string session_id_;
  std::function<void()> on_end_;
};

bool ParseHostPort(const std::string& host_port, sockaddr_storage* address, std::string* error) {
  size_t colon = host_port.rfind(':');
  if (colon == std::string::npos || colon + 1 == host_port.size()) {
    *error = "expected HOST:PORT, got \"" + host_port + "\"";
    return false;
  }
  std::string host = host_port.substr(0, colon);
  std::string port_text = host_port.substr(colon + 1);
  char* end = nullptr;
  long port = strtol(port_text.c_str(), &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) {
    *error = "bad port \"" + port_text + "\"";
    return false;
  }
  if (host == "localhost") {
    host = "127.0.0.1";
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (uv_ip6_addr(host.c_str(), static_cast<int>(port),
                    reinterpret_cast<sockaddr_in6*>(address)) == 0) {
      return true;
    }
  } else if (uv_ip4_addr(host.c_str(), static_cast<int>(port),
                         reinterpret_cast<sockaddr_in*>(address)) == 0) {
    return true;
  }
  *error = "bad host \"" + host + "\" (use a numeric address, [v6] or localhost)";
  return false;
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Create(uv_loop_t* loop,
                                                       const std::string& host_port) {
  sockaddr_storage address{};
  std::string error;
  if (!ParseHostPort(host_port, &address, &error)) {
    return Status::Error(error);
  }
  auto server = std::unique_ptr<HttpServer>(new HttpServer(loop));
  int rc = uv_tcp_bind(&server->listener_, reinterpret_cast<const sockaddr*>(&address), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server->listener_), 128,
                   &HttpServer::OnConnection);
  }
  if (rc != 0) {
    // The handle must outlive its close callback, which runs on the loop later: hand the
    // object over to that callback.
    HttpServer* doomed = server.release();
    doomed->closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&doomed->listener_),
             [](uv_handle_t* handle) { delete static_cast<HttpServer*>(handle->data); });
    return Status::Error("cannot listen on " + host_port + ": " + uv_strerror(rc));
  }
  server->listening_ = true;
  sockaddr_storage bound{};
  int length = sizeof(bound);
  uv_tcp_getsockname(&server->listener_, reinterpret_cast<sockaddr*>(&bound), &length);
  char ip[64] = {0};
  int port = 0;
  if (bound.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&bound);
    uv_ip6_name(in6, ip, sizeof(ip));
    port = ntohs(in6->sin6_port);
    server->address_ = "[" + std::string(ip) + "]:" + std::to_string(port);
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&bound);
    uv_ip4_name(in4, ip, sizeof(ip));
    port = ntohs(in4->sin_port);
    server->address_ = std::string(ip) + ":" + std::to_string(port);
  }
  return server;
}

HttpServer::HttpServer(uv_loop_t* loop) : loop_(loop) {
  uv_tcp_init(loop, &listener_);
  listener_.data = this;
}

HttpServer::~HttpServer() = default;

void HttpServer::Close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  // Ending the sessions cancels their running requests; their streams end as the timers close.
  sessions_.clear();
  streaming_.clear();
  std::set<HttpConnection*> connections = connections_;
  for (HttpConnection* connection : connections) {
    connection->Close();
  }
}

void HttpServer::OnConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<HttpServer*>(listener->data);
  if (status != 0 || self->closed_) {
    return;
  }
  HttpConnection* connection = HttpConnection::Accept(listener, self);
  if (connection == nullptr) {
    return;
  }
  if (self->connections_.size() >= kMaxConnections) {
    fprintf(stderr, "mcp-example-server: too many connections, closing a new one\n");
    connection->Close();
    return;
  }
  self->connections_.insert(connection);
}

void HttpServer::OnConnectionClosed(HttpConnection* connection) { connections_.erase(connection); }

void HttpServer::OnRequest(HttpConnection* connection, const HttpRequest& request) {
  if (!IsMcpPath(request.url)) {
    connection->SendResponse(404, {{"Content-Type", "text/plain"}}, "Not Found\n");
    return;
  }
  switch (request.method) {
    case HTTP_POST:
      HandlePost(connection, request);
      return;
    case HTTP_DELETE:
      HandleDelete(connection, request);
      return;
    default: {
      // No server-initiated SSE stream: the spec allows 405 for GET.
      HttpHeaders headers = kJsonType;
      headers.emplace_back("Allow", "POST, DELETE");
      connection->SendResponse(405, headers, MakeError("null", kBadRequest, "Method not allowed"));
      return;
    }
  }
}

McpHandler* HttpServer::FindSession(HttpConnection* connection, const HttpRequest& request,
                                    const std::string& id_json, std::string* session_id) {
  const std::string* header = request.Header("mcp-session-id");
  if (header == nullptr || header->empty()) {
    SendJsonError(connection, 400, id_json, kBadRequest,
                  "Bad Request: Mcp-Session-Id header is required");
    return nullptr;
  }
  auto it = sessions_.find(*header);
  if (it == sessions_.end()) {
    SendJsonError(connection, 404, id_json, kSessionNotFound, "Session not found");
    return nullptr;
  }
  *session_id = *header;
  return it->second.get();
}

void HttpServer::HandlePost(HttpConnection* connection, const HttpRequest& request) {
  Message message;
  RpcError error;
  if (!Message::Parse(request.body, &message, &error)) {
    connection->SendResponse(400, kJsonType, MakeError(error));
    return;
  }
  // The era is the body's choice (2026-07-28 "Versioning", dual-era servers): a revision
  // declared in _meta that initialize does not speak means stateless. Mcp-Session-Id is then
  // ignored.
  std::string declared = DeclaredProtocolVersion(message);
  if (!declared.empty() && !IsSupportedProtocolVersion(declared)) {
    HandleStateless(connection, request, message, declared);
    return;
  }
  // MCP-Protocol-Version: an unsupported value is 400; absent means "assume 2025-03-26".
  const std::string* version = request.Header("mcp-protocol-version");
  if (version != nullptr && *version == kStatelessProtocolVersion) {
    SendJsonError(connection, 400, message.id_json().empty() ? "null" : message.id_json(),
                  kHeaderMismatch,
                  "Header mismatch: MCP-Protocol-Version is " + *version +
                      " but params._meta does not declare it");
    return;
  }
  if (version != nullptr && !IsSupportedProtocolVersion(*version)) {
    SendJsonError(connection, 400, "null", kBadRequest,
                  "Bad Request: unsupported MCP-Protocol-Version " + *version);
    return;
  }
  std::string session_id;
  McpHandler* session = nullptr;
  if (message.is_request() && message.method() == "initialize") {
    if (sessions_.size() >= kMaxSessions) {
      SendJsonError(connection, 503, message.id_json(), kBadRequest, "Too many sessions");
      return;
    }
    session_id = NewSessionId();
    session =
        sessions_.emplace(session_id, std::make_unique<McpHandler>(loop_)).first->second.get();
  } else {
    std::string id_json = message.id_json().empty() ? "null" : message.id_json();
    session = FindSession(connection, request, id_json, &session_id);
    if (session == nullptr) {
      return;
    }
  }
  if (!message.is_request()) {
    session->HandleNotification(message);
    connection->SendResponse(202, {{"Mcp-Session-Id", session_id}}, "");
    return;
  }
  auto responder = std::make_unique<HttpResponder>(connection, session_id);
  HttpResponder* pending = responder.get();
  size_t running_before = session->running();
  session->HandleRequest(message, std::move(responder));
  if (session->running() > running_before) {
    // Answered later: open the event stream now so the client sees headers at once.
    pending->StartStreamNow();
  }
}

void HttpServer::HandleStateless(HttpConnection* connection, const HttpRequest& request,
                                 const Message& message, const std::string& version) {
  if (!message.is_request()) {
    // 2026-07-28 defines no client notification over HTTP; accepting one costs nothing.
    connection->SendResponse(202, {}, "");
    return;
  }
  const std::string& id = message.id_json();
  if (version != kStatelessProtocolVersion) {
    rapidjson::Document data(rapidjson::kObjectType);
    auto& alloc = data.GetAllocator();
    rapidjson::Document supported;
    std::string_view versions = SupportedVersionsJson();
    supported.Parse(versions.data(), versions.size());
    data.AddMember("supported", rapidjson::Value(supported, alloc), alloc);
    data.AddMember("requested", rapidjson::Value(version.c_str(), alloc), alloc);
    connection->SendResponse(
        400, kJsonType,
        MakeError(id, kUnsupportedProtocolVersion, "Unsupported protocol version", data));
    return;
  }
  std::string mismatch = CheckRequestMetadata(request, message);
  if (!mismatch.empty()) {
    SendJsonError(connection, 400, id, kHeaderMismatch, mismatch);
    return;
  }
  if (!McpHandler::IsStatelessMethod(message.method())) {
    SendJsonError(connection, 404, id, kMethodNotFound, "Method not found: " + message.method());
    return;
  }
  // A fresh handler per request: stateless requests share nothing, not even request ids.
  auto handler = std::make_unique<McpHandler>(loop_, McpHandler::Mode::kStateless);
  auto responder = std::make_unique<HttpResponder>(connection, "");
  HttpResponder* pending = responder.get();
  handler->HandleRequest(message, std::move(responder));
  if (handler->running() == 0) {
    return;
  }
  // The reply streams. Its end, the result sent or the client gone (a cancellation here), drops
  // the handler, which cancels the count at once rather than at its next step.
  uint64_t key = next_streaming_++;
  streaming_.emplace(key, std::move(handler));
  pending->set_on_end([this, key]() { streaming_.erase(key); });
  pending->StartStreamNow();
}

void HttpServer::HandleDelete(HttpConnection* connection, const HttpRequest& request) {
  std::string session_id;
  if (FindSession(connection, request, "null", &session_id) == nullptr) {
    return;
  }
  // Destroying the handler cancels its running requests; later use of the id gets 404.
  sessions_.erase(session_id);
  connection->SendResponse(200, {}, "");
}

}  // namespace portcullis::example
