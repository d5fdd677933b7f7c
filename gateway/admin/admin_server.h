// AdminServer: the admin listener (DESIGN §4): plain HTTP/1.1 on its own address, loopback by
// default, for /metrics, /healthz, /readyz and /status. It runs on a libuv loop it is given
// (the Server's control loop), never on a reactor, so a scrape cannot slow a request down.
//
// Deliberately small: one request per connection (the answer carries "Connection: close"),
// GET and HEAD only, the request bounded (kMaxHeaderBytes, kMaxBodyBytes), a request that is not
// complete within request_timeout_ms is dropped, at most max_connections at once. Requests are
// parsed by the gateway's llhttp RequestParser (strict mode).
//
// Thread-safety: every method, and the handler, run on the loop's thread. Lifetime: Close()
// closes the listener and every open connection; the loop must then run until their close
// callbacks are done (as it does before uv_loop_close). The object may be destroyed right
// after Close(): handles free themselves in their close callbacks.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include "portcullis/config.h"
#include "portcullis/result.h"

namespace portcullis::admin {

struct AdminRequest {
  std::string method;  // "GET" or "HEAD"
  std::string path;    // "/metrics" (the query string removed)
  std::string query;   // without '?'
};

struct AdminResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using AdminHandler = std::function<AdminResponse(const AdminRequest&)>;

class AdminServer {
 public:
  static constexpr size_t kMaxHeaderBytes = 8192;
  // A body is read (so that a POST gets its 405, not a reset) and ignored.
  static constexpr size_t kMaxBodyBytes = 4096;

  struct Options {
    uint32_t max_connections = 64;
    uint32_t request_timeout_ms = 5000;
  };

  // Binds and listens on `listen`, a literal address as the config loader writes it
  // ("127.0.0.1:9901", "[::1]:9901"); port 0 picks a free port (see port()).
  static Result<std::unique_ptr<AdminServer>> Start(uv_loop_t* loop, const std::string& listen,
                                                    AdminHandler handler, Options options);
  static Result<std::unique_ptr<AdminServer>> Start(uv_loop_t* loop, const std::string& listen,
                                                    AdminHandler handler) {
    return Start(loop, listen, std::move(handler), Options());
  }
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Idempotent.
  void Close();

  uint16_t port() const { return port_; }
  // The bound address, e.g. "127.0.0.1:9901".
  std::string address() const;

 private:
  struct Listener;
  class Connection;

  AdminServer(uv_loop_t* loop, AdminHandler handler, Options options)
      : loop_(loop), handler_(std::move(handler)), options_(options) {}
  static void OnConnection(uv_stream_t* stream, int status);

  uv_loop_t* loop_;
  AdminHandler handler_;
  const Options options_;
  ListenAddress bound_;
  uint16_t port_ = 0;
  Listener* listener_ = nullptr;  // freed by its close callback
  std::unordered_set<Connection*> connections_;
  bool closed_ = false;
};

}  // namespace portcullis::admin
