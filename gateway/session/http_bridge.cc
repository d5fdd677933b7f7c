#include "gateway/session/http_bridge.h"

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "gateway/mcp/jsonrpc_error.h"
#include "gateway/mcp/jsonrpc_message.h"
#include "gateway/mcp/sse_event_splitter.h"
#include "gateway/upstream/detached_request.h"
#include "gateway/upstream/upstream_connection.h"
#include "gateway/upstream/upstream_pool.h"
#include "gateway/upstream/upstream_request.h"

namespace portcullis::session {
namespace {

constexpr std::string_view kPostAccept = "application/json, text/event-stream";
// Longer values are not a protocol version and not a session id anyone should echo.
constexpr size_t kMaxHeaderValueBytes = 256;

// Mcp-Session-Id and MCP-Protocol-Version are visible ASCII (0x21-0x7E) by the spec. The
// bridge echoes what the upstream sent into its own requests, so anything else is refused
// rather than passed on.
bool IsVisibleAscii(std::string_view value) {
  if (value.empty() || value.size() > kMaxHeaderValueBytes) return false;
  return std::all_of(value.begin(), value.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool IsBlank(std::string_view text) { return text.find_first_not_of(" \t\r\n") == text.npos; }

bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (http::EqualsIgnoreCase(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// result.protocolVersion of an initialize response, or "".
std::string ResultProtocolVersion(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::string();
  auto result = doc.FindMember("result");
  if (result == doc.MemberEnd() || !result->value.IsObject()) return std::string();
  auto version = result->value.FindMember("protocolVersion");
  if (version == result->value.MemberEnd() || !version->value.IsString()) return std::string();
  return std::string(version->value.GetString(), version->value.GetStringLength());
}

// error.message of a JSON-RPC error body, or "".
std::string ErrorMessage(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::string();
  auto error = doc.FindMember("error");
  if (error == doc.MemberEnd() || !error->value.IsObject()) return std::string();
  auto message = error->value.FindMember("message");
  if (message == error->value.MemberEnd() || !message->value.IsString()) return std::string();
  return std::string(message->value.GetString(), message->value.GetStringLength());
}

}  // namespace

// One HTTP exchange with the upstream: the POST of one message, or the GET stream. It is the
// sink of the connection that carries it and hands every event to the bridge.
struct HttpBridge::Exchange final : upstream::UpstreamSink {
  enum class Kind { kRequest, kNotification, kResponse, kGet };
  // What the reply body is read as.
  enum class BodyMode { kNone, kJson, kSse, kErrorReply, kDiscard };

  Exchange(HttpBridge* owner, Kind k, size_t max_message_bytes)
      : bridge(owner), kind(k), splitter(max_message_bytes) {}

  void OnUpstreamHead(int status, http::HeaderList headers,
                      std::optional<uint64_t> content_length) override {
    bridge->OnHead(this, status, headers, content_length);
  }
  void OnUpstreamBody(std::string_view data) override { bridge->OnBody(this, data); }
  void OnUpstreamComplete() override { bridge->OnComplete(this); }
  void OnUpstreamError(upstream::UpstreamError error, const std::string& detail,
                       bool retryable) override {
    bridge->OnError(this, error, detail, retryable);
  }

  // What the logs call it: "tools/call 7", "notifications/initialized", "GET stream".
  std::string Name() const {
    if (kind == Kind::kGet) return "GET stream";
    std::string name = method.empty() ? std::string("response") : method;
    if (!id_json.empty()) name += " " + id_json;
    return name;
  }

  HttpBridge* bridge;
  Kind kind;
  std::string method;   // "" for responses
  std::string id_json;  // requests and responses: the id as JSON text
  bool is_initialize = false;
  bool is_initialized_notification = false;
  bool carries_session = false;  // sent with Mcp-Session-Id
  // The serialised request, kept until a response starts so that it can be sent once more
  // on a fresh connection when a reused one turns out stale (see upstream_sink.h).
  std::string request;
  upstream::UpstreamConnection* connection = nullptr;
  bool retried = false;
  bool answered = false;  // a response with this request's id went to the listener
  bool done = false;      // finished or abandoned: the connection no longer reports here
  int status = 0;
  BodyMode body_mode = BodyMode::kNone;
  std::string body;  // kJson, kErrorReply
  mcp::SseEventSplitter splitter;
};

// Marks an upstream callback on the stack. The listener may call Shutdown() from inside one
// (say, from OnTransportFailed); the bridge, and any exchange it finished, must outlive the
// callback that is still running, so deletion waits until the outermost scope ends.
class HttpBridge::CallbackScope {
 public:
  explicit CallbackScope(HttpBridge* bridge) : bridge_(bridge) {
    if (bridge_->callback_depth_++ == 0) bridge_->FlushDeferred();
  }
  ~CallbackScope() {
    if (--bridge_->callback_depth_ > 0) return;
    if (!bridge_->shut_down_) {
      ++bridge_->callback_depth_;
      bridge_->FlushDeferred();
      --bridge_->callback_depth_;
    }
    if (bridge_->shut_down_) {
      delete bridge_;
      return;
    }
    std::erase_if(bridge_->exchanges_, [](const std::unique_ptr<Exchange>& e) { return e->done; });
  }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;

 private:
  HttpBridge* bridge_;
};

HttpBridge::HttpBridge(HttpBridgeOptions options, MessageTransportListener* listener)
    : options_(std::move(options)), listener_(listener) {}

HttpBridge::~HttpBridge() { AbortAll(); }

void HttpBridge::Send(std::string json) {
  if (shut_down_) return;  // the owner must not, but nothing may leave after Shutdown()
  if (failed_) {
    spdlog::debug("upstream {}: session failed; message dropped", options_.upstream->name);
    return;
  }
  in_send_ = true;
  if (init_state_ == InitState::kWaiting) {
    // Until initialize is answered the upstream's session id is unknown, and a message sent
    // without it would be refused (400) or land outside the session.
    held_.push_back(std::move(json));
  } else {
    StartPost(std::move(json));
  }
  in_send_ = false;
}

void HttpBridge::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  listener_ = nullptr;
  AbortAll();
  held_.clear();
  deferred_.clear();
  if (!session_id_.empty()) {
    // MCP 2025-11-25 transports, "Session Management": a client that no longer needs the
    // session SHOULD DELETE it. Nobody waits for the answer (405 is allowed too).
    http::HttpRequest request;
    request.method = "DELETE";
    request.headers = {{"Mcp-Session-Id", session_id_}};
    if (!protocol_version_.empty()) {
      request.headers.emplace_back("MCP-Protocol-Version", protocol_version_);
    }
    upstream::DetachedRequest::Send(
        options_.pool, options_.upstream,
        upstream::BuildUpstreamRequest(request, *options_.upstream, options_.identity,
                                       options_.client_address));
  }
  if (callback_depth_ == 0) delete this;  // else the outermost CallbackScope does it
}

std::string HttpBridge::Describe() const {
  std::string out = options_.upstream->url;
  if (!session_id_.empty()) {
    // A prefix identifies the session in logs without making them a place to steal it from.
    out += " session " + session_id_.substr(0, 8) + "\xE2\x80\xA6";
  }
  return out;
}

void HttpBridge::StartPost(std::string json) {
  // The session inspected the message already; this second look only learns what the bridge
  // needs (is it a request, which id, is it initialize).
  mcp::InspectResult inspected = mcp::InspectMessage(json, mcp::kDefaultMaxJsonDepth);
  auto kind = Exchange::Kind::kNotification;
  if (inspected.ok()) {
    switch (inspected.info().kind) {
      case mcp::MessageInfo::Kind::kRequest:
        kind = Exchange::Kind::kRequest;
        break;
      case mcp::MessageInfo::Kind::kNotification:
        kind = Exchange::Kind::kNotification;
        break;
      case mcp::MessageInfo::Kind::kResponse:
        kind = Exchange::Kind::kResponse;
        break;
    }
  }
  auto exchange = std::make_unique<Exchange>(this, kind, options_.max_message_bytes);
  if (inspected.ok()) {
    const mcp::MessageInfo& info = inspected.info();
    exchange->method = info.method;
    exchange->id_json = info.id_json;
    exchange->is_initialize = info.is_initialize;
    exchange->is_initialized_notification =
        kind == Exchange::Kind::kNotification && info.method == "notifications/initialized";
  } else {
    exchange->method = "(uninspectable message)";
  }
  if (exchange->is_initialize && init_state_ == InitState::kNotSent) {
    init_state_ = InitState::kWaiting;
    initialize_id_ = exchange->id_json;
  }

  http::HttpRequest request;
  request.method = "POST";
  request.headers = {{"Content-Type", "application/json"}, {"Accept", std::string(kPostAccept)}};
  // initialize opens a session: it carries neither the id nor the version of an old one.
  if (!exchange->is_initialize) {
    if (!session_id_.empty()) {
      request.headers.emplace_back("Mcp-Session-Id", session_id_);
      exchange->carries_session = true;
    }
    if (!protocol_version_.empty()) {
      request.headers.emplace_back("MCP-Protocol-Version", protocol_version_);
    }
  }
  request.body = std::move(json);
  exchange->request = upstream::BuildUpstreamRequest(request, *options_.upstream, options_.identity,
                                                     options_.client_address);
  Exchange* raw = exchange.get();
  exchanges_.push_back(std::move(exchange));
  Dispatch(raw, /*fresh=*/false);
}

void HttpBridge::StartGet() {
  if (get_started_ || !live()) return;
  get_started_ = true;
  http::HttpRequest request;
  request.method = "GET";
  request.headers = {{"Accept", "text/event-stream"}};
  if (!session_id_.empty()) request.headers.emplace_back("Mcp-Session-Id", session_id_);
  if (!protocol_version_.empty()) {
    request.headers.emplace_back("MCP-Protocol-Version", protocol_version_);
  }
  auto exchange =
      std::make_unique<Exchange>(this, Exchange::Kind::kGet, options_.max_message_bytes);
  exchange->carries_session = !session_id_.empty();
  exchange->request = upstream::BuildUpstreamRequest(request, *options_.upstream, options_.identity,
                                                     options_.client_address);
  Exchange* raw = exchange.get();
  exchanges_.push_back(std::move(exchange));
  Dispatch(raw, /*fresh=*/false);
}

void HttpBridge::Dispatch(Exchange* exchange, bool fresh) {
  // As in ProxyExchange::Send: a pooled connection may have been closed by the upstream just
  // now, so its bytes are kept for one retry; a fresh one has no such race.
  exchange->connection = options_.pool->Acquire(options_.upstream, fresh);
  if (!exchange->connection->idle()) {
    // The connect failed inside the constructor (libuv reports ENETUNREACH or EMFILE at once),
    // before any sink could hear it: the connection is closing and would never report.
    exchange->connection = nullptr;
    OnError(exchange, upstream::UpstreamError::kRefused, "connect failed at once", false);
    return;
  }
  bool stale_risk = exchange->connection->has_served();
  std::string request = stale_risk ? exchange->request : std::move(exchange->request);
  if (!stale_risk) exchange->request.clear();
  // UpstreamConnection reports from libuv callbacks (libuv defers even ECONNREFUSED to the
  // next tick), with one exception: a pooled https connection whose TLS session broke fails
  // inside Send(), retryably, so OnError() just starts the retry on a fresh connection, which
  // reports asynchronously. Should anything else ever come back from inside Send(), Emit()
  // holds what it would tell the listener (in_send_) until the next callback.
  exchange->connection->Send(std::move(request), exchange);
}

void HttpBridge::ReleaseHeld() {
  while (!held_.empty() && live()) {
    std::string json = std::move(held_.front());
    held_.pop_front();
    StartPost(std::move(json));
  }
}

void HttpBridge::FinishExchange(Exchange* exchange) {
  exchange->done = true;
  if (exchange->connection) {
    exchange->connection->Abort();
    exchange->connection = nullptr;
  }
  if (exchange->is_initialize && init_state_ == InitState::kWaiting) {
    // initialize failed or came back without a result: what waited goes out anyway and gets
    // the upstream's own answer (or its own error), rather than waiting forever.
    init_state_ = InitState::kDone;
    ReleaseHeld();
  }
}

void HttpBridge::AbortAll() {
  for (const std::unique_ptr<Exchange>& exchange : exchanges_) {
    if (exchange->connection) {
      exchange->connection->Abort();  // detaches the sink at once: no callback after this
      exchange->connection = nullptr;
    }
    exchange->done = true;
  }
}

void HttpBridge::OnHead(Exchange* exchange, int status, const http::HeaderList& headers,
                        std::optional<uint64_t> content_length) {
  CallbackScope scope(this);
  if (exchange->done) return;
  std::string().swap(exchange->request);  // the response started: no retry any more
  exchange->status = status;
  bool event_stream = false;
  const std::string* session_header = nullptr;
  for (const auto& [name, value] : headers) {
    if (http::EqualsIgnoreCase(name, "content-type")) {
      event_stream = ContainsIgnoreCase(value, "text/event-stream");
    } else if (http::EqualsIgnoreCase(name, "mcp-session-id")) {
      session_header = &value;
    }
  }
  bool success = status >= 200 && status < 300;

  if (exchange->kind == Exchange::Kind::kGet) {
    if (success && event_stream) {
      exchange->body_mode = Exchange::BodyMode::kSse;
      spdlog::debug("upstream {}: GET stream open", options_.upstream->name);
    } else {
      // 405 is how a server says it has no stream of its own (MCP transports, "Listening for
      // Messages from the Server"); anything else is treated the same.
      exchange->body_mode = Exchange::BodyMode::kDiscard;
      spdlog::debug("upstream {}: no GET stream (HTTP {})", options_.upstream->name, status);
    }
    return;
  }

  if (success) {
    if (exchange->is_initialize && session_header && session_id_.empty()) {
      if (IsVisibleAscii(*session_header)) {
        session_id_ = *session_header;
      } else {
        spdlog::warn("upstream {}: ignoring a malformed Mcp-Session-Id", options_.upstream->name);
      }
    }
    exchange->body_mode = event_stream ? Exchange::BodyMode::kSse : Exchange::BodyMode::kJson;
  } else if (status == 404 && exchange->carries_session) {
    // MCP transports, "Session Management": 404 to a request with a session id means the
    // session expired or was terminated.
    SessionGone();
    return;
  } else {
    exchange->body_mode = Exchange::BodyMode::kErrorReply;
  }
  if (content_length && *content_length > options_.max_message_bytes) CutOff(exchange);
}

void HttpBridge::OnBody(Exchange* exchange, std::string_view data) {
  CallbackScope scope(this);
  if (exchange->done) return;
  switch (exchange->body_mode) {
    case Exchange::BodyMode::kJson:
    case Exchange::BodyMode::kErrorReply:
      if (exchange->body.size() + data.size() > options_.max_message_bytes) {
        CutOff(exchange);
        return;
      }
      exchange->body.append(data);
      return;
    case Exchange::BodyMode::kSse: {
      // The listener may shut the bridge down or fail it between two events of one piece.
      bool fits = exchange->splitter.Feed(data, [this, exchange](std::string_view event) {
        if (exchange->done || !live()) return;
        // The splitter bounds only an event still being read; one that arrived whole in a
        // single piece is checked here.
        if (event.size() > options_.max_message_bytes) {
          CutOff(exchange);
          return;
        }
        std::string message = mcp::SseEventData(event);
        // Events without data (the priming event of MCP 2025-11-25, an id or retry alone)
        // carry no message.
        if (!message.empty()) OnMessage(exchange, std::move(message));
      });
      if (!fits && !exchange->done) CutOff(exchange);
      return;
    }
    case Exchange::BodyMode::kNone:
    case Exchange::BodyMode::kDiscard:
      return;
  }
}

void HttpBridge::OnComplete(Exchange* exchange) {
  CallbackScope scope(this);
  exchange->connection = nullptr;  // back in the pool or closing: no longer ours
  if (exchange->done) return;
  switch (exchange->body_mode) {
    case Exchange::BodyMode::kJson:
      if (!IsBlank(exchange->body)) OnMessage(exchange, std::move(exchange->body));
      break;
    case Exchange::BodyMode::kSse: {
      // Lenient like ProxyExchange: a last event without its blank line still counts.
      std::string message = mcp::SseEventData(exchange->splitter.TakeRest());
      if (!message.empty() && live()) OnMessage(exchange, std::move(message));
      break;
    }
    case Exchange::BodyMode::kErrorReply: {
      // A JSON-RPC answer to this very request (the upstream's own error) goes through as it
      // is; anything else becomes the bridge's error below.
      std::string upstream_message;
      if (!IsBlank(exchange->body)) {
        mcp::InspectResult reply = mcp::InspectMessage(exchange->body, mcp::kDefaultMaxJsonDepth);
        if (exchange->kind == Exchange::Kind::kRequest && reply.ok() &&
            reply.info().kind == mcp::MessageInfo::Kind::kResponse &&
            reply.info().id_json == exchange->id_json) {
          OnMessage(exchange, std::move(exchange->body));
        } else {
          upstream_message = ErrorMessage(exchange->body);
        }
      }
      if (exchange->done || !live()) break;
      std::string message = "upstream \"" + options_.upstream->name + "\" answered HTTP " +
                            std::to_string(exchange->status);
      if (!upstream_message.empty()) message += ": " + upstream_message;
      AnswerFailed(exchange, mcp::kUpstreamUnavailable, message);
      break;
    }
    case Exchange::BodyMode::kNone:
    case Exchange::BodyMode::kDiscard:
      break;
  }
  if (exchange->done || !live()) return;
  if (exchange->kind == Exchange::Kind::kGet) {
    if (exchange->body_mode == Exchange::BodyMode::kSse) {
      spdlog::debug("upstream {}: GET stream ended; not reopened", options_.upstream->name);
    }
  } else if (exchange->kind == Exchange::Kind::kRequest &&
             exchange->body_mode != Exchange::BodyMode::kErrorReply) {
    // A 202 or a stream that ended early (a server that wants the client to poll for the
    // rest, which this bridge does not do): the request would otherwise never be answered.
    AnswerFailed(exchange, mcp::kUpstreamUnavailable,
                 "upstream \"" + options_.upstream->name + "\" ended its reply without a response");
  }
  if (exchange->done || !live()) return;
  bool opens_stream =
      exchange->is_initialized_notification && exchange->status >= 200 && exchange->status < 300;
  FinishExchange(exchange);
  // MCP transports: the client MAY open a GET stream for what the server sends on its own
  // (requests and notifications not tied to a POST). Once the session is fully initialized.
  if (opens_stream) StartGet();
}

void HttpBridge::OnError(Exchange* exchange, upstream::UpstreamError error,
                         const std::string& detail, bool retryable) {
  CallbackScope scope(this);
  exchange->connection = nullptr;
  if (exchange->done) return;
  if (retryable && !exchange->retried && !exchange->request.empty()) {
    exchange->retried = true;
    spdlog::debug("upstream {}: stale keep-alive connection ({}); retrying on a new one",
                  options_.upstream->name, detail);
    Dispatch(exchange, /*fresh=*/true);
    return;
  }
  spdlog::warn("upstream {} ({}:{}): {}: {}: {}", options_.upstream->name, options_.upstream->host,
               options_.upstream->port, exchange->Name(), upstream::UpstreamErrorName(error),
               detail);
  bool timeout = error == upstream::UpstreamError::kConnectTimeout ||
                 error == upstream::UpstreamError::kResponseTimeout;
  if (exchange->kind == Exchange::Kind::kRequest) {  // the rest was logged just above
    AnswerFailed(exchange, timeout ? mcp::kUpstreamTimeout : mcp::kUpstreamUnavailable,
                 "upstream \"" + options_.upstream->name + "\" " +
                     (timeout ? "timed out" : "unavailable") + ": " +
                     std::string(upstream::UpstreamErrorName(error)));
  }
  if (exchange->done || !live()) return;
  FinishExchange(exchange);
}

void HttpBridge::OnMessage(Exchange* exchange, std::string json) {
  if (!live()) return;
  bool initialize_result = false;
  // Is this the answer to the exchange's request? Most messages in a stream are
  // notifications; only those that name an id are worth a look.
  if (exchange->kind == Exchange::Kind::kRequest && !exchange->answered &&
      json.find("\"id\"") != std::string::npos) {
    mcp::InspectResult message = mcp::InspectMessage(json, mcp::kDefaultMaxJsonDepth);
    if (message.ok() && message.info().kind == mcp::MessageInfo::Kind::kResponse &&
        message.info().id_json == exchange->id_json) {
      exchange->answered = true;
      initialize_result = exchange->is_initialize && exchange->id_json == initialize_id_;
    }
  }
  if (initialize_result && protocol_version_.empty()) {
    std::string version = ResultProtocolVersion(json);
    if (IsVisibleAscii(version)) {
      protocol_version_ = std::move(version);
    } else if (!version.empty()) {
      spdlog::warn("upstream {}: ignoring a malformed protocolVersion", options_.upstream->name);
    }
  }
  Emit(Notice{false, std::move(json)});
  if (initialize_result && init_state_ == InitState::kWaiting) {
    // Both the session id (head) and the version (result) are known now: what the client
    // sent meanwhile goes out, in order, after the listener has the result.
    init_state_ = InitState::kDone;
    ReleaseHeld();
  }
}

void HttpBridge::AnswerFailed(Exchange* exchange, int code, const std::string& message) {
  if (exchange->kind != Exchange::Kind::kRequest) {
    spdlog::warn("upstream {}: {} was not delivered: {}", options_.upstream->name, exchange->Name(),
                 message);
    return;
  }
  if (exchange->answered) return;
  exchange->answered = true;
  Emit(Notice{false, mcp::JsonRpcErrorBody(exchange->id_json, code, message)});
}

void HttpBridge::CutOff(Exchange* exchange) {
  spdlog::warn("upstream {}: {}: a reply larger than {} bytes; cut off", options_.upstream->name,
               exchange->Name(), options_.max_message_bytes);
  if (exchange->connection) {
    exchange->connection->Abort();
    exchange->connection = nullptr;
  }
  if (exchange->kind != Exchange::Kind::kGet) {
    AnswerFailed(exchange, mcp::kUpstreamUnavailable,
                 "upstream \"" + options_.upstream->name + "\" sent a message larger than " +
                     std::to_string(options_.max_message_bytes) + " bytes");
  }
  if (exchange->done || !live()) return;
  FinishExchange(exchange);
}

void HttpBridge::SessionGone() {
  spdlog::warn("upstream {}: {}: the upstream ended the session (HTTP 404)",
               options_.upstream->name, Describe());
  // Requests still in flight will be refused the same way; the session answers them all.
  AbortAll();
  held_.clear();
  Emit(Notice{true, "the upstream ended the session"});
}

void HttpBridge::Emit(Notice notice) {
  if (!live()) return;
  if (in_send_) {
    // A listener is never called from inside its own Send() (it may hold state mid-update).
    deferred_.push_back(std::move(notice));
    return;
  }
  if (notice.failure) {
    failed_ = true;  // before the call: the listener may Send() or Shutdown() from inside it
    listener_->OnTransportFailed(notice.text);
  } else {
    listener_->OnTransportMessage(std::move(notice.text));
  }
}

void HttpBridge::FlushDeferred() {
  if (in_send_) return;
  while (!deferred_.empty() && live()) {
    Notice notice = std::move(deferred_.front());
    deferred_.erase(deferred_.begin());
    Emit(std::move(notice));
  }
}

}  // namespace portcullis::session
