#include "gateway/reactor/client_connection.h"

#include <arpa/inet.h>

#include <spdlog/spdlog.h>
#include <unistd.h>
#include <algorithm>
#include <cmath>

#include "gateway/audit/anomaly_monitor.h"
#include "gateway/audit/identity_summary.h"
#include "gateway/common/try_write.h"
#include "gateway/config/policy_file.h"
#include "gateway/http/response_head.h"
#include "gateway/mcp/jsonrpc_error.h"
#include "gateway/mcp/jsonrpc_message.h"
#include "gateway/mcp/mcp_route.h"
#include "gateway/reactor/address_filter.h"
#include "gateway/reactor/reactor.h"
#include "gateway/reactor/session_exchange.h"
#include "gateway/reactor/session_registry.h"
#include "gateway/reactor/session_router.h"
#include "gateway/tls/handshake_failure.h"
#include "gateway/upstream/proxy_exchange.h"
#include "gateway/upstream/upstream_request.h"

namespace portcullis::reactor {
namespace {

constexpr unsigned char kTlsHandshakeRecord = 0x16;

// What the policy judges in a JSON-RPC message. GET (the server's stream) and DELETE (end of
// session) carry no message: they need the upstream grant only, like a response message.
policy::Action ActionOf(std::string_view upstream, const mcp::MessageInfo& info) {
  policy::Action action;
  action.upstream = upstream;
  action.method = info.method;
  const std::string& m = info.method;
  if (m == "tools/call") {
    action.object = policy::Action::Object::kTool;
    action.name = info.name;
  } else if (m == "prompts/get") {
    action.object = policy::Action::Object::kPrompt;
    action.name = info.name;
  } else if (m == "resources/read" || m == "resources/subscribe" || m == "resources/unsubscribe") {
    action.object = policy::Action::Object::kResource;
    action.name = info.uri;
  } else if (m == "completion/complete") {
    action.object = info.ref_type == "ref/prompt" ? policy::Action::Object::kPrompt
                                                  : policy::Action::Object::kResource;
    action.name = info.ref_name_or_uri;
  }
  return action;
}
constexpr uint64_t kLingerMs = 5000;

http::RequestLimits LimitsOf(const Config& config) {
  return {config.limits.max_header_bytes, config.limits.max_body_bytes};
}

void DescribePeer(const sockaddr_storage& ss, std::string* peer, std::string* ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    uv_ip6_name(a, buf, sizeof(buf));
    *ip = buf;
    *peer = "[" + *ip + "]:" + std::to_string(ntohs(a->sin6_port));
  } else {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    uv_ip4_name(a, buf, sizeof(buf));
    *ip = buf;
    *peer = *ip + ":" + std::to_string(ntohs(a->sin_port));
  }
}

}  // namespace

void ClientConnection::Accept(Reactor* reactor, int fd, const sockaddr_storage& peer, bool refuse) {
  auto* c = new ClientConnection(reactor);
  if (uv_tcp_open(&c->tcp_, fd) != 0) {
    close(fd);
    c->Close();
    return;
  }
  DescribePeer(peer, &c->peer_, &c->peer_ip_);
  c->conn_id_ = std::to_string(reactor->index()) + "-" + std::to_string(reactor->accepted());
  // "access" allow/deny lists: judged before any TLS work, so a refused address costs nothing.
  if (AccessVerdict access = CheckAddress(reactor->snapshot().config->access, c->peer_ip_);
      !access.allowed()) {
    spdlog::info("connection from {} refused: access {}", c->peer_, access.Describe());
    Increment(reactor->metrics().connections_address_refused);
    audit::Record record("tls.refused_address");
    record.Str("conn", c->conn_id_).Str("peer", c->peer_).Str("rule", access.Describe());
    reactor->snapshot().audit->Write(std::move(record));
    c->Close();
    return;
  }
  if (refuse) {
    spdlog::warn("connection from {} refused: limits.max_connections reached", c->peer_);
    c->Close();
    return;
  }
  Result<std::unique_ptr<tls::TlsSession>> session =
      tls::TlsSession::Create(reactor->snapshot().tls);
  if (!session.ok()) {
    spdlog::error("connection from {}: {}", c->peer_, session.error());
    c->Close();
    return;
  }
  c->tls_ = std::move(session).value();
  uv_tcp_nodelay(&c->tcp_, 1);
  c->handshake_start_ms_ = uv_now(reactor->loop());
  c->handshake_start_us_ = c->NowUs();
  c->ArmTimer(reactor->snapshot().tls->handshake_timeout_ms());
  c->reading_ = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp_), OnAlloc, OnRead);
}

ClientConnection::ClientConnection(Reactor* reactor)
    : reactor_(reactor), parser_(LimitsOf(*reactor->snapshot().config)) {
  uv_tcp_init(reactor_->loop(), &tcp_);
  uv_timer_init(reactor_->loop(), &timer_);
  tcp_.data = this;
  timer_.data = this;
  reactor_->Add(this);
}

ClientConnection::~ClientConnection() = default;

void ClientConnection::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<ClientConnection*>(handle->data);
  *buf = self->reactor_->ReadBuffer();
}

void ClientConnection::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<ClientConnection*>(stream->data);
  self->retired_.reset();
  if (nread == 0 || self->state_ == State::kClosing) return;
  if (nread < 0) {
    self->OnPeerClosed(nread);
    return;
  }
  self->OnCiphertext(buf->base, static_cast<size_t>(nread));
}

void ClientConnection::OnCiphertext(const char* data, size_t len) {
  if (state_ == State::kHandshake && !any_bytes_ &&
      static_cast<unsigned char>(data[0]) != kTlsHandshakeRecord) {
    RefusePlaintext(data, len);
    return;
  }
  any_bytes_ = true;
  tls_->Lend(data, len);
  if (state_ == State::kHandshake) {
    ContinueHandshake();
  } else {
    ReadPlaintext();
  }
  if (tls_) tls_->Settle();  // the read buffer is reused as soon as we return
}

void ClientConnection::OnPeerClosed(ssize_t status) {
  if (state_ == State::kHandshake) {
    if (any_bytes_) {
      RefuseHandshake(tls::kConnectionReset, uv_strerror(static_cast<int>(status)));
    } else {
      Close();  // a port probe or health check that never spoke: nothing to report
    }
    return;
  }
  if (state_ == State::kExchange) {
    // In 2026-07-28 a closed response stream means "cancel": the upstream hears it because
    // its connection is closed too.
    spdlog::debug("client {} went away during {} {}", peer_, request_.method, request_.path);
  }
  Close();
}

void ClientConnection::ContinueHandshake() {
  tls::TlsSession::Step step = tls_->Handshake();
  Flush();  // server flight or alert
  if (step == tls::TlsSession::Step::kWantMore) return;
  if (step == tls::TlsSession::Step::kFailed) {
    RefuseHandshake(tls_->error(), tls_->error_detail());
    return;
  }
  const Identity& id = tls_->identity();
  spdlog::debug(
      "tls: {} handshake ok on reactor {} in {} ms: {} {} resumed={} cn=\"{}\" "
      "spiffe=\"{}\"",
      peer_, reactor_->index(), uv_now(reactor_->loop()) - handshake_start_ms_, tls_->version(),
      tls_->cipher(), tls_->resumed(), id.cn, id.spiffe_id);
  const Snapshot& snapshot = reactor_->snapshot();
  audit::Record record("tls.handshake");
  record.Str("conn", conn_id_).Str("peer", peer_).IdentityObject("identity", id);
  record.Begin("tls")
      .Str("version", tls_->version())
      .Str("cipher", tls_->cipher())
      .Bool("resumed", tls_->resumed())
      .Str("sni", tls_->sni())
      .Str("alpn", tls_->alpn())
      .End();
  record.Uint("handshake_us", NowUs() - handshake_start_us_);
  reactor_->metrics().ObserveHandshake(tls_->resumed(), NowUs() - handshake_start_us_);
  snapshot.audit->Write(std::move(record));
  snapshot.anomalies->OnHandshake(id, NowS());
  EnterIdle();
  ReadPlaintext();  // the client may have sent its request with its Finished message
}

void ClientConnection::RefuseHandshake(int error, const std::string& detail) {
  std::string_view reason = tls::ClassifyHandshakeError(error);
  reactor_->metrics().ObserveHandshakeFailure(reason);
  spdlog::info("tls: {} handshake failed: {}: {}", peer_, reason, detail);
  const Snapshot& snapshot = reactor_->snapshot();
  audit::Record record("tls.handshake_failed");
  record.Str("conn", conn_id_).Str("peer", peer_).Str("reason", reason).Str("detail", detail);
  if (tls_ && !tls_->presented_identity().empty()) {
    record.IdentityObject("identity", tls_->presented_identity());  // who it claimed to be
  }
  record.Int("error", error).Uint("elapsed_us", NowUs() - handshake_start_us_);
  snapshot.audit->Write(std::move(record));
  snapshot.anomalies->OnHandshakeFailure(peer_ip_, reason, NowS());
  Flush();  // let the alert reach the client
  CloseAfterWrites();
}

void ClientConnection::RefusePlaintext(const char* data, size_t len) {
  spdlog::info("tls: {} handshake failed: {}: first byte 0x{:02x}", peer_,
               tls::ClassifyHandshakeError(tls::kNotTls), static_cast<unsigned char>(data[0]));
  const Snapshot& snapshot = reactor_->snapshot();
  audit::Record record("tls.handshake_failed");
  char first[8];
  std::snprintf(first, sizeof(first), "0x%02x", static_cast<unsigned char>(data[0]));
  record.Str("conn", conn_id_).Str("peer", peer_).Str("reason", "NOT_TLS");
  reactor_->metrics().ObserveHandshakeFailure("NOT_TLS");
  record.Str("detail", std::string("first byte ") + first);
  snapshot.audit->Write(std::move(record));
  snapshot.anomalies->OnNotTls(peer_ip_, NowS());
  // Like nginx's 497: a person who typed http:// deserves a readable answer.
  bool looks_like_http = len >= 4 && data[0] >= 'A' && data[0] <= 'Z';
  if (looks_like_http) {
    std::string body = "This port speaks HTTPS with client certificates (mutual TLS).\n";
    http::HeaderList headers = {{"Content-Type", "text/plain"}};
    WriteRaw(http::BuildResponseHead(400, headers, body.size(), false) + body);
  }
  CloseAfterWrites();
}

void ClientConnection::CloseAfterWrites() {
  if (closed_) return;
  state_ = State::kClosing;
  close_after_write_ = true;
  if (reading_) {
    reading_ = false;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  }
  if (write_pending_bytes_ == 0) {
    Close();
  } else {
    ArmTimer(kLingerMs);  // a peer that never reads must not keep us forever
  }
}

void ClientConnection::ReadPlaintext() {
  tls::TlsSession::ReadResult result = tls_->Read(&plain_in_);
  Flush();  // TLS 1.3 may answer with key updates or tickets
  if (result == tls::TlsSession::ReadResult::kFailed) {
    spdlog::info("tls: {} connection error: {}", peer_, tls_->error_detail());
    Close();
    return;
  }
  if (result == tls::TlsSession::ReadResult::kClosed) {
    // Answer a close_notify with ours (RFC 8446 §6.1): the client can then tell our clean end
    // from a refusal or a cut. After a bare FIN the write just fails; the close is the same.
    tls_->Shutdown();
    Flush();
    CloseAfterWrites();
    return;
  }
  ProcessInput();
}

void ClientConnection::ProcessInput() {
  // Requests answered locally finish synchronously and would re-enter here from Finish();
  // the loop below picks up the next pipelined request instead, so a client pipelining
  // thousands of tiny requests cannot grow the stack.
  if (processing_input_) return;
  processing_input_ = true;
  const Limits& limits = reactor_->snapshot().config->limits;
  while ((state_ == State::kIdle || state_ == State::kReceiving) && !plain_in_.empty()) {
    size_t consumed = 0;
    http::RequestParser::State s = parser_.Feed(plain_in_.data(), plain_in_.size(), &consumed);
    plain_in_.erase(0, consumed);
    if (s == http::RequestParser::State::kError) {
      spdlog::info("http: {} bad request: {}", peer_, parser_.error_reason());
      request_audit_.Begin("", "", NowUs(), 0);
      request_audit_.reason = parser_.error_reason();
      ReportMalformed(parser_.error_status() == 413 || parser_.error_status() == 431
                          ? "oversized"
                          : "malformed_http");
      state_ = State::kExchange;
      request_ = http::HttpRequest();
      request_.keep_alive = false;
      int status = parser_.error_status();
      int code = status == 413 ? mcp::kRequestTooLarge : mcp::kInvalidRequest;
      AnswerError(status, code, parser_.error_reason(), "");
      break;  // the connection closes after this answer
    }
    if (s == http::RequestParser::State::kNeedMore) {
      if (state_ == State::kIdle && parser_.receiving()) {
        state_ = State::kReceiving;
        request_start_ms_ = uv_now(reactor_->loop());
        ArmTimer(limits.header_timeout_ms);
      }
      break;
    }
    // A whole request.
    request_ = parser_.TakeRequest();
    parser_.Resume();
    request_audit_.Begin(request_.method, request_.path, NowUs(), request_.body.size());
    response_status_ = 0;  // nothing answered yet: a client leaving now is a 499
    response_bytes_ = 0;
    if (state_ == State::kIdle) request_start_ms_ = uv_now(reactor_->loop());
    state_ = State::kExchange;
    ArmTimer(limits.stream_timeout_ms);
    Dispatch();
  }
  processing_input_ = false;
  // Pipelined bytes wait while an exchange runs; past a bound, stop reading the socket
  // rather than buffer without limit.
  size_t bound = static_cast<size_t>(limits.max_header_bytes) + limits.max_body_bytes;
  if (reading_ && plain_in_.size() > bound && state_ == State::kExchange) {
    reading_ = false;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  }
}

void ClientConnection::Dispatch() {
  const Config& config = *reactor_->snapshot().config;
  if (reactor_->draining()) {
    request_.keep_alive = false;
    AnswerError(503, mcp::kGatewayDraining, "the gateway is shutting down", "");
    return;
  }
  request_audit_.reason.clear();
  if (const std::string* origin = request_.Header("Origin")) {
    bool allowed = std::any_of(
        config.allowed_origins.begin(), config.allowed_origins.end(),
        [&](const std::string& o) { return o == "*" || http::EqualsIgnoreCase(o, *origin); });
    if (!allowed) {
      spdlog::info("http: {} refused: Origin {} is not in allowed_origins", peer_, *origin);
      request_audit_.decision = "deny";
      request_audit_.reason = "Origin not allowed";
      AnswerError(403, mcp::kForbidden, "forbidden: Origin " + *origin + " is not allowed", "");
      return;
    }
  }
  mcp::Route route = mcp::MatchRoute(request_.path);
  if (route.kind == mcp::Route::Kind::kNotFound) {
    AnswerError(404, mcp::kUnknownUpstream, "no route for " + request_.path, "");
    return;
  }
  const UpstreamConfig* upstream = config.FindUpstream(route.upstream);
  request_audit_.server = route.upstream;
  if (!upstream) {
    AnswerError(404, mcp::kUnknownUpstream, "unknown upstream \"" + route.upstream + "\"", "");
    return;
  }
  const std::string& method = request_.method;
  // /mcp/ takes every Streamable HTTP method; the legacy stream is GET only, its POSTs POST only.
  const char* allow = route.kind == mcp::Route::Kind::kLegacySse        ? "GET"
                      : route.kind == mcp::Route::Kind::kLegacyMessages ? "POST"
                                                                        : "GET, POST, DELETE";
  bool allowed_method = route.kind == mcp::Route::Kind::kLegacySse ? method == "GET"
                        : route.kind == mcp::Route::Kind::kLegacyMessages
                            ? method == "POST"
                            : method == "POST" || method == "GET" || method == "DELETE";
  if (!allowed_method) {
    http::HeaderList headers = {{"Allow", allow}};
    http::WriteSimpleResponse(
        this, 405, "application/json",
        mcp::JsonRpcErrorBody("", mcp::kInvalidRequest, "method " + method + " not allowed"),
        headers);
    return;
  }
  const Snapshot& snapshot = reactor_->snapshot();
  const Identity& identity = tls_->identity();
  std::shared_ptr<const policy::Policy> policy = snapshot.policy;  // this request's policy

  // Zero trust first: an identity with no grant for the upstream learns nothing more.
  policy::UpstreamGrant grant = policy->GrantFor(identity, upstream->name);
  if (!grant.granted()) {
    spdlog::info("policy: {} cn=\"{}\" denied upstream {}", peer_, identity.cn, upstream->name);
    request_audit_.decision = "deny";
    request_audit_.reason = "no rule grants upstream \"" + upstream->name + "\"";
    snapshot.anomalies->OnDenied(identity, upstream->name, "upstream", NowS());
    AnswerError(403, mcp::kForbidden,
                "forbidden: no rule grants upstream \"" + upstream->name + "\" to this client", "");
    return;
  }

  std::string id_json;
  mcp::MessageInfo info;
  upstream::ResponseRules rules;
  if (method == "POST") {
    mcp::InspectResult inspected =
        mcp::InspectMessage(request_.body, static_cast<int>(config.limits.max_json_depth));
    if (!inspected.ok()) {
      const mcp::InspectError& e = inspected.error();
      spdlog::debug("mcp: {} refused: {} {}", peer_, e.code, e.message);
      request_audit_.reason = e.message;
      request_audit_.id_json = e.id_json;
      ReportMalformed(e.code == mcp::kParseError                     ? "malformed_json"
                      : e.message.find("Batch") != std::string::npos ? "batch"
                                                                     : "invalid_request");
      http::WriteSimpleResponse(this, e.http_status, "application/json", e.Body());
      return;
    }
    info = inspected.info();
    request_audit_.method = info.method;
    request_audit_.id_json = info.id_json;
    auto header = [this](std::string_view name) -> std::optional<std::string_view> {
      const std::string* v = request_.Header(name);
      return v ? std::optional<std::string_view>(*v) : std::nullopt;
    };
    if (auto mismatch = mcp::CheckRequestHeaders(info, header("Mcp-Method"), header("Mcp-Name"),
                                                 header("MCP-Protocol-Version"))) {
      spdlog::debug("mcp: {} refused: {} {}", peer_, mismatch->code, mismatch->message);
      request_audit_.reason = mismatch->message;
      ReportMalformed("header_mismatch");
      http::WriteSimpleResponse(this, mismatch->http_status, "application/json", mismatch->Body());
      return;
    }
    id_json = info.id_json;
    policy::Action action = ActionOf(upstream->name, info);
    policy::Decision decision = policy->Decide(identity, action);
    static constexpr const char* kObjectKinds[] = {"", "tool", "resource", "prompt"};
    request_audit_.object_kind = kObjectKinds[static_cast<int>(action.object)];
    request_audit_.object = std::string(action.name);
    request_audit_.decision = decision.allowed ? "allow" : "deny";
    request_audit_.rule = decision.rule;
    if (!decision.allowed) {
      request_audit_.reason = decision.reason;
      snapshot.anomalies->OnDenied(identity, upstream->name,
                                   action.name.empty() ? action.method : action.name, NowS());
      spdlog::info("policy: {} cn=\"{}\" denied {} on {}: {}", peer_, identity.cn, info.method,
                   upstream->name, decision.reason);
      // A JSON-RPC error in a 200 reply: clients surface it to the agent as a refused call,
      // where a 4xx would look like a broken transport.
      http::WriteSimpleResponse(
          this, 200, "application/json",
          mcp::JsonRpcErrorBody(id_json, mcp::kForbidden, "forbidden: " + decision.reason));
      return;
    }
    double retry_after_s = 0;
    if (decision.rate_limit &&
        !reactor_->rate_limiter().Allow(decision.rule, mcp::SessionIdentityKey(identity),
                                        *decision.rate_limit, NowS(), &retry_after_s)) {
      spdlog::info("policy: {} cn=\"{}\" rate limited by rule \"{}\"", peer_, identity.cn,
                   decision.rule);
      request_audit_.decision = "deny";
      request_audit_.reason = "rate limit of rule \"" + decision.rule + "\" exceeded";
      Increment(reactor_->metrics().rate_limited);
      http::WriteSimpleResponse(
          this, 429, "application/json",
          mcp::JsonRpcErrorBody(id_json, mcp::kRateLimited,
                                "rate limit of rule \"" + decision.rule + "\" exceeded"),
          {{"Retry-After",
            std::to_string(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(retry_after_s))))}});
      return;
    }
    rules.list_kind = mcp::ListKindOf(info.method);
  }

  // Sessions the gateway runs itself: stdio upstreams, and legacy HTTP+SSE clients of any.
  if (route.kind != mcp::Route::Kind::kStreamableHttp ||
      upstream->kind == UpstreamConfig::Kind::kStdio) {
    if (request_audit_.decision.empty()) request_audit_.decision = "allow";  // GET, DELETE
    DispatchToSession(route, *upstream, std::move(info));
    return;
  }

  // Sessions are bound to the identity that opened them (mcp/session_seal.h).
  rules.sealer = snapshot.sealer.get();
  rules.identity = &identity;
  for (auto& [name, value] : request_.headers) {
    if (!http::EqualsIgnoreCase(name, "mcp-session-id")) continue;
    std::optional<mcp::SessionSealer::Opened> opened = snapshot.sealer->Open(identity, value);
    if (!opened || opened->upstream != upstream->name) {
      request_audit_.reason = "unknown session id";
      AnswerError(404, mcp::kSessionNotFound, "session not found", id_json);
      return;
    }
    if (!opened->same_identity) {
      spdlog::warn("policy: {} cn=\"{}\" presented a session of another identity", peer_,
                   identity.cn);
      request_audit_.decision = "deny";
      request_audit_.reason = "session of another identity";
      snapshot.anomalies->OnDenied(identity, upstream->name, "session", NowS());
      AnswerError(403, mcp::kForbidden, "forbidden: the session belongs to another client",
                  id_json);
      return;
    }
    rules.client_session_id = value;
    rules.upstream_session_id = opened->upstream_session_id;
    value = opened->upstream_session_id;  // the upstream sees its own id
  }

  if (upstream->kind != UpstreamConfig::Kind::kHttp) {
    AnswerError(502, mcp::kUpstreamUnavailable,
                "upstream \"" + upstream->name + "\": this transport is not supported yet",
                id_json);
    return;
  }
  if (request_audit_.decision.empty()) request_audit_.decision = "allow";  // GET, DELETE
  rules.anomalies = snapshot.anomalies.get();
  rules.policy = policy;
  rules.guard_server_requests = true;
  rules.peer_ip = peer_ip_;
  if (const std::string* version = request_.Header("MCP-Protocol-Version")) {
    rules.protocol_version = *version;
  }
  rules.audit = snapshot.audit.get();
  rules.now_s = NowS();
  if (rules.list_kind != mcp::ListKind::kNone) {
    rules.grant = std::move(grant);
    rules.max_buffer_bytes = config.limits.max_body_bytes;
  }
  std::string bytes = upstream::BuildUpstreamRequest(request_, *upstream, identity, peer_ip_);
  auto exchange = std::make_unique<upstream::ProxyExchange>(
      &reactor_->pool(), upstream, this, std::move(bytes), id_json, std::move(rules));
  upstream::ProxyExchange* proxy = exchange.get();
  exchange_ = std::move(exchange);  // before Start(): it may answer (and retire) at once
  proxy->Start();
}

std::optional<std::string> ClientConnection::OpenSessionId(const UpstreamConfig& upstream,
                                                           const std::string& sealed,
                                                           const std::string& id_json) {
  const Snapshot& snapshot = reactor_->snapshot();
  const Identity& identity = tls_->identity();
  std::optional<mcp::SessionSealer::Opened> opened = snapshot.sealer->Open(identity, sealed);
  if (!opened || opened->upstream != upstream.name ||
      !SessionKeyOwner(opened->upstream_session_id)) {
    request_audit_.reason = "unknown session id";
    AnswerError(404, mcp::kSessionNotFound, "session not found", id_json);
    return std::nullopt;
  }
  if (!opened->same_identity) {
    spdlog::warn("policy: {} cn=\"{}\" presented a session of another identity", peer_,
                 identity.cn);
    request_audit_.decision = "deny";
    request_audit_.reason = "session of another identity";
    snapshot.anomalies->OnDenied(identity, upstream.name, "session", NowS());
    AnswerError(403, mcp::kForbidden, "forbidden: the session belongs to another client", id_json);
    return std::nullopt;
  }
  return opened->upstream_session_id;
}

void ClientConnection::DispatchToSession(const mcp::Route& route, const UpstreamConfig& upstream,
                                         mcp::MessageInfo info) {
  const Snapshot& snapshot = reactor_->snapshot();
  const Identity& identity = tls_->identity();
  SessionRegistry::Opener opener{&upstream, identity, peer_, peer_ip_, conn_id_};
  using Kind = SessionExchange::Kind;
  auto start = [&](Kind kind, std::string key, std::string header, std::string endpoint) {
    auto exchange = std::make_unique<SessionExchange>(reactor_, this, kind, std::move(key),
                                                      std::move(header), std::move(endpoint),
                                                      std::move(request_.body), std::move(info));
    SessionExchange* session_exchange = exchange.get();
    exchange_ = std::move(exchange);
    session_exchange->Start();
  };
  // A new session, or the refusal to open one.
  auto open = [&](bool stateless) -> std::optional<std::string> {
    SessionRegistry::OpenResult result =
        stateless ? reactor_->sessions().Stateless(opener) : reactor_->sessions().Open(opener);
    if (auto* refusal = std::get_if<SessionRegistry::Refusal>(&result)) {
      request_audit_.reason = refusal->message;
      http::HeaderList headers;
      if (refusal->retry_after_s > 0) {
        headers.emplace_back("Retry-After", std::to_string(refusal->retry_after_s));
      }
      http::WriteSimpleResponse(
          this, refusal->http_status, "application/json",
          mcp::JsonRpcErrorBody(info.id_json, refusal->code, refusal->message), headers);
      return std::nullopt;
    }
    return std::get<SessionRegistry::Opened>(result).key;
  };
  auto seal = [&](const std::string& key) {
    Result<std::string> sealed = snapshot.sealer->Seal(identity, upstream.name, key);
    return sealed.ok() ? sealed.value() : std::string();
  };
  Kind post_kind = info.kind == mcp::MessageInfo::Kind::kRequest ? Kind::kRequest : Kind::kMessage;

  switch (route.kind) {
    case mcp::Route::Kind::kLegacySse: {
      std::optional<std::string> key = open(/*stateless=*/false);
      if (!key) return;
      std::string endpoint = "/messages/" + upstream.name + "?sessionId=" + seal(*key);
      start(Kind::kLegacyStream, *key, "", std::move(endpoint));
      return;
    }
    case mcp::Route::Kind::kLegacyMessages: {
      std::optional<std::string> sealed = mcp::QueryParameter(request_.query, "sessionId");
      if (!sealed) {
        request_audit_.reason = "missing sessionId";
        AnswerError(400, mcp::kInvalidRequest, "missing sessionId (from the SSE endpoint event)",
                    info.id_json);
        return;
      }
      std::optional<std::string> key = OpenSessionId(upstream, *sealed, info.id_json);
      if (!key) return;
      start(Kind::kMessage, *key, "", "");
      return;
    }
    default:
      break;
  }

  // Streamable HTTP in front of a stdio upstream: the gateway is the MCP server's HTTP side.
  const std::string* header = request_.Header("Mcp-Session-Id");
  if (header != nullptr) {
    std::optional<std::string> key = OpenSessionId(upstream, *header, info.id_json);
    if (!key) return;
    Kind kind = request_.method == "GET"      ? Kind::kGetStream
                : request_.method == "DELETE" ? Kind::kDelete
                                              : post_kind;
    start(kind, *key, "", "");
    return;
  }
  if (request_.method == "POST" && info.is_initialize) {
    std::optional<std::string> key = open(/*stateless=*/false);
    if (!key) return;
    std::string sealed = seal(*key);
    start(Kind::kRequest, *key, sealed, "");
    return;
  }
  if (request_.method == "POST" && !info.meta_protocol_version.empty()) {
    // 2026-07-28: no session; a warm process per identity carries the request.
    std::optional<std::string> key = open(/*stateless=*/true);
    if (!key) return;
    start(post_kind, *key, "", "");
    return;
  }
  request_audit_.reason = "missing Mcp-Session-Id";
  AnswerError(400, mcp::kInvalidRequest, "Mcp-Session-Id required: initialize a session first",
              info.id_json);
}

void ClientConnection::AnswerError(int http_status, int jsonrpc_code, const std::string& message,
                                   const std::string& id_json) {
  http::WriteSimpleResponse(this, http_status, "application/json",
                            mcp::JsonRpcErrorBody(id_json, jsonrpc_code, message));
}

void ClientConnection::WriteHead(int status, const http::HeaderList& headers,
                                 std::optional<uint64_t> content_length) {
  response_status_ = status;
  response_keep_alive_ = request_.keep_alive && !reactor_->draining();
  bool bodiless = status < 200 || status == 204 || status == 304;
  response_chunked_ = !bodiless && !content_length;
  response_bytes_ = 0;
  std::string head = http::BuildResponseHead(status, headers, content_length, response_keep_alive_);
  if (!response_chunked_ && !bodiless && content_length.value_or(0) > 0) {
    // A body of known length follows (usually in this same turn): it joins the head, so the
    // response is one TLS record and one write() instead of two.
    held_head_ = std::move(head);
    return;
  }
  held_head_.clear();
  SendPlain(head);  // streams (chunked, SSE) and empty bodies: the head goes out at once
}

void ClientConnection::WriteBody(std::string_view data) {
  if (state_ == State::kClosing || data.empty()) return;
  response_bytes_ += data.size();
  if (!response_chunked_) {
    if (!held_head_.empty()) {
      std::string head_and_body = std::move(held_head_);
      held_head_.clear();
      head_and_body.append(data);
      SendPlain(head_and_body);
      return;
    }
    SendPlain(data);
    return;
  }
  std::string chunk;
  chunk.reserve(data.size() + 16);
  http::AppendChunk(&chunk, data);
  SendPlain(chunk);
}

void ClientConnection::Finish() {
  if (state_ == State::kClosing) return;
  FlushHeldHead();  // a HEAD answer, or a body that never came: the head still goes out
  if (response_chunked_) SendPlain(http::kLastChunk);
  spdlog::debug("http: {} {} {} -> {} in {} ms", peer_, request_.method, request_.path,
                response_status_, uv_now(reactor_->loop()) - request_start_ms_);
  FinishRequestAudit(response_status_, "");
  if (exchange_) retired_ = std::move(exchange_);
  if (!response_keep_alive_ || reactor_->draining()) {
    tls_->Shutdown();  // close_notify, so the client knows the response is whole
    Flush();
    CloseAfterWrites();
    return;
  }
  EnterIdle();
  if (!reading_) {
    reading_ = true;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead);
  }
  ProcessInput();
}

void ClientConnection::Abort() { Close(); }

uint64_t ClientConnection::NowUs() const { return uv_hrtime() / 1000; }

void ClientConnection::ReportMalformed(std::string_view kind) {
  reactor_->snapshot().anomalies->OnMalformed(peer_ip_, kind, NowS());
}

void ClientConnection::FinishRequestAudit(int status, const std::string& reason) {
  if (!request_audit_.pending) return;
  const Snapshot& snapshot = reactor_->snapshot();
  if (!reason.empty()) request_audit_.reason = reason;
  reactor_->metrics().ObserveRequest(request_audit_, status, response_bytes_, NowUs());
  request_audit_.Write(snapshot.audit.get(), conn_id_, peer_, tls_ ? tls_->identity() : Identity(),
                       status, response_bytes_, NowUs());
  upstream::Exchange* exchange = exchange_ ? exchange_.get() : nullptr;
  if (!exchange) return;
  if (uint64_t head_us = exchange->upstream_head_us(); head_us != 0) {
    reactor_->metrics().ObserveUpstreamLatency(request_audit_.server, head_us);
  }
  if (const auto& error = exchange->upstream_error()) {
    reactor_->metrics().ObserveUpstreamError(request_audit_.server, *error);
    audit::Record record("upstream." + std::string(upstream::UpstreamErrorName(*error)));
    record.Str("conn", conn_id_).Str("server", request_audit_.server);
    record.Str("detail", exchange->upstream_error_detail()).Int("status", status);
    snapshot.audit->Write(std::move(record));
  }
  bool ok = status >= 200 && status < 300;
  if (ok && !exchange->opened_session().empty()) {
    audit::Record record("mcp.session_opened");
    record.Str("conn", conn_id_).Str("peer", peer_);
    audit::AppendIdentitySummary(&record, tls_->identity());
    record.Str("server", request_audit_.server)
        .Str("session", config::Sha256Hex(exchange->opened_session()).substr(0, 16));
    snapshot.audit->Write(std::move(record));
  }
  if (ok && request_audit_.http_method == "DELETE" && exchange->proxied()) {
    audit::Record record("mcp.session_closed");
    record.Str("conn", conn_id_).Str("peer", peer_);
    audit::AppendIdentitySummary(&record, tls_->identity());
    record.Str("server", request_audit_.server);
    snapshot.audit->Write(std::move(record));
  }
}

void ClientConnection::EnterIdle() {
  state_ = State::kIdle;
  ArmTimer(reactor_->snapshot().config->limits.idle_timeout_ms);
}

void ClientConnection::BeginDrain() {
  // A busy connection finishes its exchange: the response goes out with "Connection: close"
  // (WriteHead) or, if its head is already out, the connection closes after Finish().
  if (state_ == State::kIdle || state_ == State::kHandshake) Close();
}

void ClientConnection::SendPlain(std::string_view data) {
  if (closed_ || close_after_write_) return;
  if (Status s = tls_->Write(data); !s.ok()) {
    spdlog::info("tls: {}: {}", peer_, s.message());
    Close();
    return;
  }
  Flush();
}

void ClientConnection::FlushHeldHead() {
  if (held_head_.empty()) return;
  std::string head = std::move(held_head_);
  held_head_.clear();
  SendPlain(head);
}

void ClientConnection::Flush() {
  if (tls_ && tls_->has_output()) WriteRaw(tls_->TakeOutput());
}

void ClientConnection::WriteRaw(std::string data) {
  if (closed_) return;
  // Bytes the socket takes at once need no callback: write_pending_bytes_ counts only what
  // is queued, and OnWrite runs only for that. Nothing the callback does is owed for bytes
  // written at once: they never raised write_pending_bytes_, so no backpressure pause waits on
  // them (a paused exchange waits on queued bytes, whose callbacks still come).
  common::WriteOutcome outcome =
      common::TryWrite(reinterpret_cast<uv_stream_t*>(&tcp_), std::move(data), this, OnWrite);
  if (outcome.error != 0) {
    Close();
    return;
  }
  write_pending_bytes_ += outcome.queued;
  if (close_after_write_ && write_pending_bytes_ == 0) Close();  // what OnWrite would do
}

void ClientConnection::OnWrite(uv_write_t* req, int status) {
  auto* w = common::QueuedWrite::From(req);
  auto* self = static_cast<ClientConnection*>(req->data);
  self->write_pending_bytes_ -= w->data.size();
  delete w;
  if (status != 0) {
    self->Close();
    return;
  }
  if (self->close_after_write_) {
    if (self->write_pending_bytes_ == 0) self->Close();
    return;
  }
  if (self->exchange_) self->exchange_->OnClientDrained();
}

void ClientConnection::ArmTimer(uint64_t ms) { uv_timer_start(&timer_, OnTimer, ms, 0); }

void ClientConnection::OnTimer(uv_timer_t* timer) {
  auto* self = static_cast<ClientConnection*>(timer->data);
  switch (self->state_) {
    case State::kHandshake:
      self->RefuseHandshake(tls::kHandshakeTimeout, "no complete handshake in time");
      self->Close();
      break;
    case State::kReceiving:
      spdlog::info("http: {} request not received in time", self->peer_);
      self->state_ = State::kExchange;
      self->request_.keep_alive = false;
      self->request_audit_.Begin("", "", self->NowUs(), 0);
      self->request_audit_.reason = "request not received in time";
      self->AnswerError(408, mcp::kInvalidRequest, "request not received in time", "");
      break;
    case State::kIdle:
      self->tls_->Shutdown();
      self->Flush();
      self->CloseAfterWrites();
      break;
    case State::kExchange:
      spdlog::info("http: {} {} {} exceeded limits.stream_timeout_ms", self->peer_,
                   self->request_.method, self->request_.path);
      self->Close();
      break;
    case State::kClosing:
      self->Close();  // the peer does not read our last bytes: give up on them
      break;
  }
}

void ClientConnection::Close() {
  if (closed_) return;
  closed_ = true;
  state_ = State::kClosing;
  if (request_audit_.pending) {
    // The client went away (or the stream broke) before the response was complete; nginx
    // calls this 499.
    FinishRequestAudit(response_status_ != 0 ? response_status_ : 499,
                       "connection closed before the response was complete");
  }
  if (exchange_) {
    exchange_->Cancel();
    retired_ = std::move(exchange_);
  }
  uv_timer_stop(&timer_);
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnClose);
}

void ClientConnection::OnClose(uv_handle_t* handle) {
  auto* self = static_cast<ClientConnection*>(handle->data);
  if (--self->handles_open_ > 0) return;
  self->reactor_->Remove(self);
  delete self;
}

}  // namespace portcullis::reactor
