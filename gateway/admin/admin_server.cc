#include "gateway/admin/admin_server.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include "gateway/http/request_parser.h"
#include "gateway/http/response_head.h"

namespace portcullis::admin {
namespace {

constexpr int kBacklog = 64;
constexpr size_t kReadBufferSize = 4096;

// "127.0.0.1:9901" or "[::1]:9901" → host and port; the loader has validated the form.
Result<ListenAddress> ParseAddress(const std::string& text) {
  ListenAddress address;
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size() || colon + 6 < text.size()) {
    return Status::Error("admin listen \"" + text + "\": expected HOST:PORT");
  }
  address.host = text.substr(0, colon);
  if (address.host.size() >= 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  uint32_t port = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9') {
      return Status::Error("admin listen \"" + text + "\": bad port");
    }
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port > 65535) {
    return Status::Error("admin listen \"" + text + "\": bad port");
  }
  address.port = static_cast<uint16_t>(port);
  return address;
}

}  // namespace

struct AdminServer::Listener {
  uv_tcp_t handle;
  AdminServer* server = nullptr;  // null once the server has let go of it
};

// One accepted connection: reads one request, writes one response, closes. Deletes itself
// after the close callbacks of its socket and timer.
class AdminServer::Connection {
 public:
  explicit Connection(AdminServer* server)
      : server_(server), parser_(http::RequestLimits{kMaxHeaderBytes, kMaxBodyBytes}) {
    uv_tcp_init(server->loop_, &tcp_);
    uv_timer_init(server->loop_, &timer_);
    tcp_.data = this;
    timer_.data = this;
    write_.data = this;
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // False when the pending connection could not be accepted (the object is closing).
  bool Accept(uv_stream_t* listener, bool refuse) {
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0 || refuse) {
      Close();
      return false;
    }
    uv_timer_start(&timer_, OnTimer, server_->options_.request_timeout_ms, 0);
    uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead);
    return true;
  }

  // The server is going away: never touch it again.
  void Detach() { server_ = nullptr; }

  void Close() {
    if (closed_) {
      return;
    }
    closed_ = true;
    uv_timer_stop(&timer_);
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClose);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnClose);
  }

 private:
  ~Connection() = default;

  static void OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* self = static_cast<Connection*>(handle->data);
    *buf = uv_buf_init(self->buffer_, sizeof(self->buffer_));
  }

  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<Connection*>(stream->data);
    if (nread < 0) {
      self->Close();
      return;
    }
    if (nread == 0 || self->responded_) {
      return;  // after the response: read and drop until the client closes (see OnWrite)
    }
    size_t consumed = 0;
    http::RequestParser::State state =
        self->parser_.Feed(buf->base, static_cast<size_t>(nread), &consumed);
    if (state == http::RequestParser::State::kError) {
      AdminResponse response;
      response.status = self->parser_.error_status();
      response.body = self->parser_.error_reason() + "\n";
      self->Respond(response, false, {});
    } else if (state == http::RequestParser::State::kRequestReady) {
      self->Dispatch(self->parser_.TakeRequest());
    }
  }

  void Dispatch(const http::HttpRequest& request) {
    bool head = request.method == "HEAD";
    if (request.method != "GET" && !head) {
      AdminResponse response;
      response.status = 405;
      response.body = "the admin listener answers GET only\n";
      Respond(response, false, {{"Allow", "GET, HEAD"}});
      return;
    }
    if (server_ == nullptr) {
      Close();
      return;
    }
    AdminRequest admin_request{request.method, request.path, request.query};
    Respond(server_->handler_(admin_request), head, {});
  }

  void Respond(const AdminResponse& response, bool head, http::HeaderList headers) {
    responded_ = true;
    uv_timer_stop(&timer_);
    headers.emplace_back("Content-Type", response.content_type);
    headers.emplace_back("Cache-Control", "no-store");
    out_ = http::BuildResponseHead(response.status, headers, response.body.size(),
                                   /*keep_alive=*/false);
    if (!head) {
      out_ += response.body;
    }
    uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    if (uv_write(&write_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, OnWrite) != 0) {
      Close();
      return;
    }
    // A client that never reads its answer, or never closes, is dropped after the same timeout.
    uv_timer_start(&timer_, OnTimer, server_ ? server_->options_.request_timeout_ms : 0, 0);
  }

  // Lingering close: send FIN and keep reading until the client closes. Closing at once with
  // unread request bytes in the socket (an oversized head or body just refused) would send an
  // RST, and the client could lose the response it had not read yet.
  static void OnWrite(uv_write_t* req, int status) {
    auto* self = static_cast<Connection*>(req->data);
    if (status != 0 || self->closed_ ||
        uv_shutdown(&self->shutdown_, reinterpret_cast<uv_stream_t*>(&self->tcp_),
                    [](uv_shutdown_t*, int) {}) != 0) {
      self->Close();
    }
  }

  static void OnTimer(uv_timer_t* timer) { static_cast<Connection*>(timer->data)->Close(); }

  static void OnClose(uv_handle_t* handle) {
    auto* self = static_cast<Connection*>(handle->data);
    if (--self->handles_open_ > 0) {
      return;
    }
    if (self->server_ != nullptr) {
      self->server_->connections_.erase(self);
    }
    delete self;
  }

  AdminServer* server_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_write_t write_;
  uv_shutdown_t shutdown_;
  http::RequestParser parser_;
  std::string out_;  // the response, owned until the write callback
  char buffer_[kReadBufferSize];
  int handles_open_ = 2;
  bool closed_ = false;
  bool responded_ = false;
};

Result<std::unique_ptr<AdminServer>> AdminServer::Start(uv_loop_t* loop, const std::string& listen,
                                                        AdminHandler handler, Options options) {
  Result<ListenAddress> parsed = ParseAddress(listen);
  if (!parsed.ok()) {
    return parsed.status();
  }
  const ListenAddress& address = *parsed;
  std::unique_ptr<AdminServer> server(new AdminServer(loop, std::move(handler), options));
  sockaddr_storage ss = {};
  bool v6 = address.host.find(':') != std::string::npos;
  int rc =
      v6 ? uv_ip6_addr(address.host.c_str(), address.port, reinterpret_cast<sockaddr_in6*>(&ss))
         : uv_ip4_addr(address.host.c_str(), address.port, reinterpret_cast<sockaddr_in*>(&ss));
  if (rc != 0) {
    return Status::Error("admin listen " + address.ToString() + ": " + uv_strerror(rc));
  }
  auto* listener = new Listener;
  listener->server = server.get();
  listener->handle.data = listener;
  uv_tcp_init(loop, &listener->handle);
  server->listener_ = listener;
  // No SO_REUSEPORT here (unlike the TLS listeners): a second gateway on the same admin port
  // must fail, not silently share it.
  rc = uv_tcp_bind(&listener->handle, reinterpret_cast<const sockaddr*>(&ss),
                   v6 ? UV_TCP_IPV6ONLY : 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener->handle), kBacklog, OnConnection);
  }
  if (rc != 0) {
    server->Close();  // frees the listener once the loop runs its close callback
    return Status::Error("admin listen " + address.ToString() + ": " + uv_strerror(rc));
  }
  sockaddr_storage bound = {};
  int len = sizeof(bound);
  server->bound_ = address;
  if (uv_tcp_getsockname(&listener->handle, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
    server->bound_.port =
        ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                          : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  server->port_ = server->bound_.port;
  return server;
}

AdminServer::~AdminServer() { Close(); }

void AdminServer::Close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  if (listener_ != nullptr) {
    listener_->server = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_->handle),
             [](uv_handle_t* handle) { delete static_cast<Listener*>(handle->data); });
    listener_ = nullptr;
  }
  for (Connection* c : connections_) {
    c->Detach();
    c->Close();
  }
  connections_.clear();
}

std::string AdminServer::address() const { return bound_.ToString(); }

void AdminServer::OnConnection(uv_stream_t* stream, int status) {
  auto* listener = static_cast<Listener*>(stream->data);
  AdminServer* self = listener->server;
  if (self == nullptr) {
    return;
  }
  if (status != 0) {
    spdlog::warn("admin: accept: {}", uv_strerror(status));
    return;
  }
  auto* connection = new Connection(self);
  bool full = self->connections_.size() >= self->options_.max_connections;
  self->connections_.insert(connection);
  connection->Accept(stream, full);
}

}  // namespace portcullis::admin
