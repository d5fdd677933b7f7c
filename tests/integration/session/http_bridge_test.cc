// HttpBridge on a real libuv loop run by the test thread, with a real UpstreamPool, against the
// real `mcp-example-server --http` (sometimes seen through TcpTap, a byte-for-byte relay that
// keeps what went each way) and against ScriptedUpstream, a small HTTP server whose answers a
// test writes itself (GET streams, priming events, oversized or failed replies). Every wait is
// bounded; after each test the bridge is gone, every connection has closed and the loop closes.
#include "gateway/session/http_bridge.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/mcp/jsonrpc_error.h"
#include "gateway/upstream/upstream_pool.h"
#include "tests/integration/gateway/gateway_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/tls_client.h"

namespace portcullis::session {
namespace {

using gateway_test::ClosedPort;
using gateway_test::ExampleServer;
using gateway_test::ExampleServerPath;
using gateway_test::IEquals;
using gateway_test::JsonRpcErrorCode;
using gateway_test::JsonRpcIdText;
using gateway_test::kWaitMs;
using gateway_test::ParseJson;
using gateway_test::WaitForListeningPort;

constexpr char kCertSha256[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

// ---------------------------------------------------------------------------------------------
// Messages

std::string Request(const std::string& id_json, const std::string& method,
                    const std::string& params_json = "") {
  std::string text = R"({"jsonrpc":"2.0","id":)" + id_json + R"(,"method":")" + method + "\"";
  if (!params_json.empty()) text += R"(,"params":)" + params_json;
  return text + "}";
}

std::string Notification(const std::string& method) {
  return R"({"jsonrpc":"2.0","method":")" + method + "\"}";
}

std::string Initialize(const std::string& id_json) {
  return Request(id_json, "initialize",
                 R"({"protocolVersion":"2025-06-18","capabilities":{},)"
                 R"("clientInfo":{"name":"bridge-test","version":"1.0"}})");
}

std::string ToolCall(const std::string& id_json, const std::string& tool,
                     const std::string& arguments_json, const std::string& meta_json = "") {
  std::string params = R"({"name":")" + tool + R"(","arguments":)" + arguments_json;
  if (!meta_json.empty()) params += R"(,"_meta":)" + meta_json;
  return Request(id_json, "tools/call", params + "}");
}

bool IsReply(const std::string& json) {
  rapidjson::Document doc = ParseJson(json);
  return doc.IsObject() && doc.HasMember("id") &&
         (doc.HasMember("result") || doc.HasMember("error"));
}

std::string MethodOf(const std::string& json) {
  rapidjson::Document doc = ParseJson(json);
  if (!doc.IsObject() || !doc.HasMember("method") || !doc["method"].IsString()) return "";
  return doc["method"].GetString();
}

// The text of result.content[0] of a tools/call result, or "".
std::string ToolText(const std::string& json) {
  rapidjson::Document doc = ParseJson(json);
  if (!doc.IsObject() || !doc.HasMember("result") || !doc["result"].IsObject()) return "";
  const rapidjson::Value& result = doc["result"];
  if (!result.HasMember("content") || !result["content"].IsArray() || result["content"].Empty() ||
      !result["content"][0].IsObject() || !result["content"][0].HasMember("text") ||
      !result["content"][0]["text"].IsString()) {
    return "";
  }
  return result["content"][0]["text"].GetString();
}

// The value of header `name` in a raw HTTP head (request or response), or nullopt.
std::optional<std::string> RawHeader(const std::string& head, const std::string& name) {
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    size_t start = pos + 2;
    size_t end = head.find("\r\n", start);
    std::string line = head.substr(start, end == std::string::npos ? end : end - start);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon != std::string::npos && IEquals(line.substr(0, colon), name)) {
      size_t value = line.find_first_not_of(" \t", colon + 1);
      return value == std::string::npos ? "" : line.substr(value);
    }
    pos = end;
  }
  return std::nullopt;
}

// The raw requests (head and body as sent) in `transcript` whose request line starts with
// `method_and_path`, e.g. "GET /mcp ".
std::vector<std::string> RawRequests(const std::string& transcript,
                                     const std::string& method_and_path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = transcript.find(method_and_path, pos)) != std::string::npos) {
    size_t end = transcript.find("\r\n\r\n", pos);
    out.push_back(transcript.substr(pos, end == std::string::npos ? end : end - pos + 4));
    pos += method_and_path.size();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// TcpTap: relays every connection to 127.0.0.1:target byte for byte and keeps both directions,
// so a test sees exactly what the bridge sent the example server and what came back.

class TcpTap {
 public:
  struct Transcript {
    std::string up;    // bridge -> upstream
    std::string down;  // upstream -> bridge
  };

  explicit TcpTap(uint16_t target_port) : target_port_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0 || pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) return;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(address);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        listen(listen_fd_, 64) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &len) != 0) {
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Run(); });
  }

  ~TcpTap() {
    stop_.store(true);
    if (wake_[1] >= 0) {
      ssize_t ignored = write(wake_[1], "x", 1);
      (void)ignored;
    }
    if (thread_.joinable()) thread_.join();
    for (int fd : {listen_fd_, wake_[0], wake_[1]}) {
      if (fd >= 0) close(fd);
    }
  }

  TcpTap(const TcpTap&) = delete;
  TcpTap& operator=(const TcpTap&) = delete;

  uint16_t port() const { return port_; }

  // Everything each way, all connections concatenated in the order they were accepted.
  Transcript All() const {
    std::lock_guard<std::mutex> lock(mu_);
    Transcript all;
    for (const Transcript& t : transcripts_) {
      all.up += t.up;
      all.down += t.down;
    }
    return all;
  }

  bool WaitFor(const std::function<bool(const Transcript&)>& condition, int timeout_ms) const {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition(All())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return condition(All());
  }

 private:
  struct Pair {
    int client = -1;
    int upstream = -1;
    size_t transcript = 0;
  };

  void Run() {
    std::vector<Pair> pairs;
    while (!stop_.load()) {
      std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (const Pair& p : pairs) {
        fds.push_back({p.client, POLLIN, 0});
        fds.push_back({p.upstream, POLLIN, 0});
      }
      if (poll(fds.data(), fds.size(), 1000) <= 0) continue;
      if (fds[0].revents != 0) break;
      size_t polled = pairs.size();  // Accept() appends pairs that were not polled
      if (fds[1].revents & POLLIN) Accept(&pairs);
      std::vector<size_t> dead;
      for (size_t i = 0; i < polled; ++i) {
        bool alive = true;
        if (fds[2 + 2 * i].revents != 0) alive = Relay(pairs[i], /*up=*/true);
        if (alive && fds[3 + 2 * i].revents != 0) alive = Relay(pairs[i], /*up=*/false);
        if (!alive) dead.push_back(i);
      }
      for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
        close(pairs[*it].client);
        close(pairs[*it].upstream);
        pairs.erase(pairs.begin() + static_cast<long>(*it));
      }
    }
    for (const Pair& p : pairs) {
      close(p.client);
      close(p.upstream);
    }
  }

  void Accept(std::vector<Pair>* pairs) {
    while (true) {
      int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (client < 0) return;
      Result<int> upstream = testing::ConnectTcp("127.0.0.1", target_port_, 5000);
      if (!upstream.ok()) {
        close(client);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      transcripts_.emplace_back();
      pairs->push_back({client, *upstream, transcripts_.size() - 1});
    }
  }

  // False when the pair is done (either side closed or failed).
  bool Relay(const Pair& pair, bool up) {
    int from = up ? pair.client : pair.upstream;
    int to = up ? pair.upstream : pair.client;
    char buf[16384];
    while (true) {
      ssize_t n = recv(from, buf, sizeof(buf), 0);
      if (n == 0) return false;
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      {
        std::lock_guard<std::mutex> lock(mu_);
        Transcript& t = transcripts_[pair.transcript];
        (up ? t.up : t.down).append(buf, static_cast<size_t>(n));
      }
      if (!SendAll(to, std::string_view(buf, static_cast<size_t>(n)))) return false;
    }
  }

  static bool SendAll(int fd, std::string_view data) {
    size_t done = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (done < data.size()) {
      ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR) &&
          std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLOUT, 0};
        poll(&p, 1, 100);
        continue;
      }
      return false;
    }
    return true;
  }

  uint16_t target_port_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Transcript> transcripts_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// ScriptedUpstream: answers each request with what the test's handler returns (raw HTTP bytes),
// on its own thread; keeps every request.

class ScriptedUpstream {
 public:
  struct Request {
    std::string method;
    std::string target;
    testing::HeaderList headers;
    std::string body;

    std::optional<std::string> Header(const std::string& name) const {
      for (const auto& [k, v] : headers) {
        if (IEquals(k, name)) return v;
      }
      return std::nullopt;
    }
    std::string JsonMethod() const { return MethodOf(body); }
    std::string IdJson() const { return JsonRpcIdText(body); }
  };
  // Called on the upstream's thread; returns the whole response.
  using Handler = std::function<std::string(const Request&)>;

  explicit ScriptedUpstream(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0 || pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) return;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(address);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        listen(listen_fd_, 64) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &len) != 0) {
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Run(); });
  }

  ~ScriptedUpstream() {
    stop_.store(true);
    if (wake_[1] >= 0) {
      ssize_t ignored = write(wake_[1], "x", 1);
      (void)ignored;
    }
    if (thread_.joinable()) thread_.join();
    for (int fd : {listen_fd_, wake_[0], wake_[1]}) {
      if (fd >= 0) close(fd);
    }
  }

  ScriptedUpstream(const ScriptedUpstream&) = delete;
  ScriptedUpstream& operator=(const ScriptedUpstream&) = delete;

  uint16_t port() const { return port_; }
  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

  static std::string Json(int status, const std::string& body, const std::string& extra = "") {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
  }
  static std::string Sse(const std::string& body, const std::string& extra = "") {
    return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
  }
  static std::string Accepted() { return "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"; }

 private:
  struct Connection {
    int fd = -1;
    std::string in;
  };

  void Run() {
    std::vector<Connection> connections;
    while (!stop_.load()) {
      std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (const Connection& c : connections) fds.push_back({c.fd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), 1000) <= 0) continue;
      if (fds[0].revents != 0) break;
      if (fds[1].revents & POLLIN) {
        int fd;
        while ((fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
          connections.push_back({fd, ""});
        }
      }
      std::vector<size_t> dead;
      for (size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents != 0 && !Serve(&connections[i - 2])) dead.push_back(i - 2);
      }
      for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
        close(connections[*it].fd);
        connections.erase(connections.begin() + static_cast<long>(*it));
      }
    }
    for (const Connection& c : connections) close(c.fd);
  }

  bool Serve(Connection* c) {
    char buf[16384];
    while (true) {
      ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
      if (n == 0) return false;
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        return false;
      }
      c->in.append(buf, static_cast<size_t>(n));
    }
    while (true) {
      size_t head_end = c->in.find("\r\n\r\n");
      if (head_end == std::string::npos) return true;
      Request request;
      std::string head = c->in.substr(0, head_end + 2);
      size_t eol = head.find("\r\n");
      std::string line = head.substr(0, eol);
      size_t sp1 = line.find(' ');
      size_t sp2 = line.find(' ', sp1 + 1);
      if (sp1 == std::string::npos || sp2 == std::string::npos) return false;
      request.method = line.substr(0, sp1);
      request.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      size_t content_length = 0;
      for (size_t pos = eol + 2; pos < head.size();) {
        size_t next = head.find("\r\n", pos);
        std::string h = head.substr(pos, next - pos);
        size_t colon = h.find(':');
        if (colon != std::string::npos) {
          std::string name = h.substr(0, colon);
          size_t start = h.find_first_not_of(" \t", colon + 1);
          std::string value = start == std::string::npos ? "" : h.substr(start);
          if (IEquals(name, "content-length")) content_length = std::stoul(value);
          request.headers.emplace_back(std::move(name), std::move(value));
        }
        pos = next + 2;
      }
      if (c->in.size() < head_end + 4 + content_length) return true;
      request.body = c->in.substr(head_end + 4, content_length);
      c->in.erase(0, head_end + 4 + content_length);
      std::string response = handler_(request);
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(request);
      }
      if (response.empty()) return false;  // the handler hangs up
      if (!SendAll(c->fd, response)) return false;
    }
  }

  static bool SendAll(int fd, const std::string& data) {
    size_t done = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (done < data.size()) {
      ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR) &&
          std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLOUT, 0};
        poll(&p, 1, 100);
        continue;
      }
      return false;
    }
    return true;
  }

  Handler handler_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Request> requests_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// The listener and the fixture

class Recorder : public MessageTransportListener {
 public:
  void OnTransportMessage(std::string json) override {
    if (in_send) reentered = true;
    if (shut_down) heard_after_shutdown = true;
    messages.push_back(json);
    if (on_message) on_message(messages.back());
  }
  void OnTransportFailed(const std::string& reason) override {
    if (in_send) reentered = true;
    if (shut_down) heard_after_shutdown = true;
    failures.push_back(reason);
    if (on_failed) on_failed();
  }

  // The index in `messages` of the reply (result or error) with this id, or -1.
  int ReplyIndex(const std::string& id_json) const {
    for (size_t i = 0; i < messages.size(); ++i) {
      if (IsReply(messages[i]) && JsonRpcIdText(messages[i]) == id_json) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }
  bool HasReply(const std::string& id_json) const { return ReplyIndex(id_json) >= 0; }
  std::string Reply(const std::string& id_json) const {
    int i = ReplyIndex(id_json);
    return i < 0 ? std::string() : messages[static_cast<size_t>(i)];
  }

  std::vector<std::string> messages;
  std::vector<std::string> failures;
  std::function<void(const std::string&)> on_message;
  std::function<void()> on_failed;
  bool in_send = false;
  bool reentered = false;
  bool shut_down = false;
  bool heard_after_shutdown = false;
};

class HttpBridgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::IgnoreSigpipeOnce();
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    uv_timer_init(&loop_, &tick_);
    pool_ = std::make_unique<upstream::UpstreamPool>(&loop_);
  }

  void TearDown() override {
    if (bridge_ != nullptr) ShutdownBridge();
    pool_->CloseAll();
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
    while (uv_loop_alive(&loop_) && std::chrono::steady_clock::now() < deadline) {
      uv_run(&loop_, UV_RUN_NOWAIT);
    }
    EXPECT_EQ(pool_->size(), 0u);
    pool_.reset();
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "handles left open on the loop";
    EXPECT_FALSE(recorder_.reentered) << "the listener was called from inside Send()";
    EXPECT_FALSE(recorder_.heard_after_shutdown) << "the listener was called after Shutdown()";
  }

  void StartBridge(uint16_t port, size_t max_message_bytes = 4 << 20) {
    upstream_ = std::make_unique<UpstreamConfig>();
    upstream_->name = "example";
    upstream_->url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
    upstream_->scheme = "http";
    upstream_->host = "127.0.0.1";
    upstream_->port = port;
    upstream_->path = "/mcp";
    upstream_->connect_timeout_ms = 5000;
    upstream_->response_timeout_ms = 10000;
    HttpBridgeOptions options;
    options.upstream = upstream_.get();
    options.pool = pool_.get();
    options.identity.subject = "CN=bridge-test,O=Example";
    options.identity.cn = "bridge-test";
    options.identity.cert_sha256 = kCertSha256;
    options.client_address = "192.0.2.7";
    options.max_message_bytes = max_message_bytes;
    bridge_ = new HttpBridge(std::move(options), &recorder_);
  }

  void Send(const std::string& json) {
    recorder_.in_send = true;
    bridge_->Send(json);
    recorder_.in_send = false;
  }

  void ShutdownBridge() {
    recorder_.shut_down = true;
    bridge_->Shutdown();
    bridge_ = nullptr;
  }

  // Runs the loop until `done` or the deadline; a repeating timer bounds each UV_RUN_ONCE.
  bool RunUntil(const std::function<bool()>& done, int timeout_ms = kWaitMs) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    uv_timer_start(&tick_, OnTick, 5, 5);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      uv_run(&loop_, UV_RUN_ONCE);
    }
    uv_timer_stop(&tick_);
    return done();
  }

  static void OnTick(uv_timer_t*) {}  // only wakes UV_RUN_ONCE up

  bool WaitForReplies(const std::vector<std::string>& ids, int timeout_ms = kWaitMs) {
    return RunUntil(
        [&] {
          for (const std::string& id : ids) {
            if (!recorder_.HasReply(id)) return false;
          }
          return true;
        },
        timeout_ms);
  }

  // initialize (id 1) answered and notifications/initialized sent.
  void InitializeSession() {
    Send(Initialize("1"));
    ASSERT_TRUE(WaitForReplies({"1"})) << Describe();
    Send(Notification("notifications/initialized"));
  }

  std::string Describe() const { return bridge_ ? bridge_->Describe() : "(no bridge)"; }

  uv_loop_t loop_;
  uv_timer_t tick_;
  std::unique_ptr<upstream::UpstreamPool> pool_;
  std::unique_ptr<UpstreamConfig> upstream_;
  Recorder recorder_;
  HttpBridge* bridge_ = nullptr;
};

// The session id in the first response head of `down` that carries one.
std::string SessionIdIn(const std::string& down) {
  size_t head = 0;
  while ((head = down.find("HTTP/1.1 ", head)) != std::string::npos) {
    size_t end = down.find("\r\n\r\n", head);
    if (end == std::string::npos) break;
    std::optional<std::string> id = RawHeader(down.substr(head, end - head + 2), "Mcp-Session-Id");
    if (id && !id->empty()) return *id;
    head = end;
  }
  return "";
}

// A status line plus headers read back from a raw request to the example server.
testing::HttpResponse RawPost(uint16_t port, const std::string& session_id,
                              const std::string& body) {
  Result<std::unique_ptr<testing::RawSocket>> socket =
      testing::RawSocket::Connect("127.0.0.1", port, 5000);
  EXPECT_TRUE(socket.ok());
  if (!socket.ok()) return {};
  Result<testing::HttpResponse> response =
      testing::Request(**socket, "POST", "/mcp",
                       {{"Content-Type", "application/json"},
                        {"Accept", "application/json, text/event-stream"},
                        {"Mcp-Session-Id", session_id},
                        {"MCP-Protocol-Version", "2025-06-18"}},
                       body, 5000);
  EXPECT_TRUE(response.ok());
  return response.ok() ? *response : testing::HttpResponse{};
}

// ---------------------------------------------------------------------------------------------
// Against mcp-example-server --http

TEST_F(HttpBridgeTest, InitializeHoldsWhatFollowsUntilTheSessionIsKnown) {
  ExampleServer server;
  ASSERT_TRUE(server.Start().ok());
  TcpTap tap(server.port());
  ASSERT_NE(tap.port(), 0);
  StartBridge(tap.port());

  // tools/list right behind initialize: sent before the session id exists, the example server
  // would refuse it (400, "Mcp-Session-Id header is required").
  Send(Initialize("1"));
  Send(Request("2", "tools/list"));
  ASSERT_TRUE(WaitForReplies({"1", "2"})) << Describe();
  EXPECT_LT(recorder_.ReplyIndex("1"), recorder_.ReplyIndex("2"));
  rapidjson::Document init = ParseJson(recorder_.Reply("1"));
  ASSERT_TRUE(init.HasMember("result")) << recorder_.Reply("1");
  EXPECT_STREQ(init["result"]["protocolVersion"].GetString(), "2025-06-18");
  rapidjson::Document list = ParseJson(recorder_.Reply("2"));
  ASSERT_TRUE(list.HasMember("result")) << recorder_.Reply("2");
  EXPECT_TRUE(list["result"]["tools"].IsArray());
  EXPECT_GE(list["result"]["tools"].Size(), 3u);

  TcpTap::Transcript seen = tap.All();
  std::string session_id = SessionIdIn(seen.down);
  ASSERT_EQ(session_id.size(), 32u) << seen.down;
  EXPECT_NE(Describe().find("session " + session_id.substr(0, 8)), std::string::npos);
  EXPECT_EQ(Describe().find(session_id), std::string::npos) << "logs get a prefix only";
  std::vector<std::string> posts = RawRequests(seen.up, "POST /mcp ");
  ASSERT_EQ(posts.size(), 2u) << seen.up;
  // initialize opens the session: no id, no version; what follows carries both, plus the
  // headers every proxied request carries.
  for (const std::string& post : posts) {
    EXPECT_EQ(RawHeader(post, "Accept"), "application/json, text/event-stream");
    EXPECT_EQ(RawHeader(post, "Content-Type"), "application/json");
    EXPECT_EQ(RawHeader(post, "X-Forwarded-For"), "192.0.2.7");
    std::optional<std::string> xfcc = RawHeader(post, "X-Forwarded-Client-Cert");
    ASSERT_TRUE(xfcc.has_value());
    EXPECT_NE(xfcc->find(std::string("Hash=") + kCertSha256), std::string::npos);
  }
  EXPECT_FALSE(RawHeader(posts[0], "Mcp-Session-Id").has_value()) << posts[0];
  EXPECT_FALSE(RawHeader(posts[0], "MCP-Protocol-Version").has_value()) << posts[0];
  EXPECT_EQ(RawHeader(posts[1], "Mcp-Session-Id"), session_id) << posts[1];
  EXPECT_EQ(RawHeader(posts[1], "MCP-Protocol-Version"), "2025-06-18") << posts[1];

  // notifications/initialized, then the one GET stream (the example server has none: 405).
  Send(Notification("notifications/initialized"));
  ASSERT_TRUE(RunUntil([&] {
    TcpTap::Transcript t = tap.All();
    return !RawRequests(t.up, "GET /mcp ").empty() &&
           t.down.find("HTTP/1.1 405") != std::string::npos;
  })) << tap.All().up;
  std::vector<std::string> gets = RawRequests(tap.All().up, "GET /mcp ");
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_EQ(RawHeader(gets[0], "Accept"), "text/event-stream");
  EXPECT_EQ(RawHeader(gets[0], "Mcp-Session-Id"), session_id);
  EXPECT_EQ(RawHeader(gets[0], "MCP-Protocol-Version"), "2025-06-18");
  EXPECT_TRUE(RawHeader(gets[0], "X-Forwarded-Client-Cert").has_value());

  // The session goes on as before; a 405 is no failure and is not retried.
  Send(Request("3", "ping"));
  ASSERT_TRUE(WaitForReplies({"3"}));
  EXPECT_TRUE(recorder_.failures.empty());
  EXPECT_EQ(recorder_.messages.size(), 3u);
  EXPECT_EQ(RawRequests(tap.All().up, "GET /mcp ").size(), 1u);
}

TEST_F(HttpBridgeTest, ProgressNotificationsArriveBeforeTheResultAsSeparateMessages) {
  ExampleServer server;
  ASSERT_TRUE(server.Start().ok());
  StartBridge(server.port());
  InitializeSession();

  Send(ToolCall("5", "slow_count", R"({"n":3,"interval_ms":10})", R"({"progressToken":"tok-5"})"));
  Send(ToolCall("6", "echo", R"({"message":"hello bridge"})"));
  ASSERT_TRUE(WaitForReplies({"5", "6"})) << Describe();

  EXPECT_EQ(ToolText(recorder_.Reply("6")), "hello bridge") << recorder_.Reply("6");
  EXPECT_NE(ToolText(recorder_.Reply("5")).find("counted to 3"), std::string::npos)
      << recorder_.Reply("5");
  std::vector<int> progress;
  int result_index = recorder_.ReplyIndex("5");
  for (size_t i = 0; i < recorder_.messages.size(); ++i) {
    const std::string& m = recorder_.messages[i];
    if (MethodOf(m) != "notifications/progress") continue;
    rapidjson::Document doc = ParseJson(m);  // one whole message, not a concatenation
    ASSERT_FALSE(doc.HasParseError()) << m;
    EXPECT_STREQ(doc["params"]["progressToken"].GetString(), "tok-5");
    EXPECT_LT(static_cast<int>(i), result_index) << "progress after the result";
    progress.push_back(doc["params"]["progress"].GetInt());
  }
  EXPECT_EQ(progress, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(recorder_.failures.empty());
}

TEST_F(HttpBridgeTest, AnUpstreamThatIsNotListeningGetsEveryRequestAnswered) {
  ClosedPort closed;
  ASSERT_NE(closed.port(), 0);
  StartBridge(closed.port());

  Send(Initialize("1"));
  Send(Request("2", "tools/list"));
  Send(Notification("notifications/initialized"));
  Send(Request("\"three\"", "ping"));
  ASSERT_TRUE(WaitForReplies({"1", "2", "\"three\""}));
  for (const char* id : {"1", "2", "\"three\""}) {
    EXPECT_EQ(JsonRpcErrorCode(recorder_.Reply(id)), mcp::kUpstreamUnavailable)
        << recorder_.Reply(id);
  }
  EXPECT_NE(recorder_.Reply("2").find("refused"), std::string::npos) << recorder_.Reply("2");
  // Only requests are answered: the notification's failure is logged, not invented as a reply.
  EXPECT_EQ(recorder_.messages.size(), 3u);
  EXPECT_TRUE(recorder_.failures.empty());
}

TEST_F(HttpBridgeTest, ASessionTheUpstreamDoesNotKnowFailsTheTransport) {
  auto server = std::make_unique<ExampleServer>();
  ASSERT_TRUE(server->Start().ok());
  uint16_t port = server->port();
  StartBridge(port);
  InitializeSession();
  Send(Request("2", "ping"));
  ASSERT_TRUE(WaitForReplies({"2"}));

  // A restarted upstream on the same port has forgotten every session.
  server.reset();
  testing::ChildProcess restarted;
  ASSERT_TRUE(
      restarted.Start({ExampleServerPath(), "--http", "127.0.0.1:" + std::to_string(port)}).ok());
  ASSERT_EQ(WaitForListeningPort(restarted, kWaitMs), port) << restarted.Stderr();

  size_t before = recorder_.messages.size();
  Send(Request("3", "tools/list"));
  ASSERT_TRUE(RunUntil([&] { return !recorder_.failures.empty(); })) << Describe();
  EXPECT_EQ(recorder_.failures, (std::vector<std::string>{"the upstream ended the session"}));
  // The session answers what was in flight; the bridge adds nothing after the failure.
  Send(Request("4", "ping"));
  RunUntil([] { return false; }, 200);
  EXPECT_EQ(recorder_.messages.size(), before);
  EXPECT_EQ(recorder_.failures.size(), 1u);
}

TEST_F(HttpBridgeTest, ShutdownDeletesTheSessionAndNothingIsHeardAfterIt) {
  ExampleServer server;
  ASSERT_TRUE(server.Start().ok());
  TcpTap tap(server.port());
  ASSERT_NE(tap.port(), 0);
  StartBridge(tap.port());
  InitializeSession();

  // A long count streams while an echo is answered next to it: POSTs do not wait for each
  // other.
  Send(ToolCall("7", "slow_count", R"({"n":1000,"interval_ms":50})", R"({"progressToken":7})"));
  ASSERT_TRUE(RunUntil([&] {
    for (const std::string& m : recorder_.messages) {
      if (MethodOf(m) == "notifications/progress") return true;
    }
    return false;
  }));
  Send(ToolCall("8", "echo", R"({"message":"meanwhile"})"));
  ASSERT_TRUE(WaitForReplies({"8"}));
  EXPECT_FALSE(recorder_.HasReply("7"));
  std::string session_id = SessionIdIn(tap.All().down);
  ASSERT_FALSE(session_id.empty());

  ShutdownBridge();
  // The DELETE goes out with the session id; the upstream forgets the session.
  ASSERT_TRUE(RunUntil([&] { return !RawRequests(tap.All().up, "DELETE /mcp ").empty(); }));
  std::string del = RawRequests(tap.All().up, "DELETE /mcp ")[0];
  EXPECT_EQ(RawHeader(del, "Mcp-Session-Id"), session_id);
  EXPECT_TRUE(RawHeader(del, "X-Forwarded-Client-Cert").has_value());
  int status = 0;
  RunUntil([&] {
    status = RawPost(server.port(), session_id, Request("9", "ping")).status;
    return status == 404;
  });
  EXPECT_EQ(status, 404);
  // Let anything still in the loop happen: the listener hears nothing (checked in TearDown).
  RunUntil([] { return false; }, 200);
}

// ---------------------------------------------------------------------------------------------
// Against ScriptedUpstream

constexpr char kInitResult[] =
    R"({"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-03-26","capabilities":{},)"
    R"("serverInfo":{"name":"scripted","version":"1"}}})";

TEST_F(HttpBridgeTest, TheGetStreamCarriesTheUpstreamsOwnMessagesAndIsOpenedOnce) {
  ScriptedUpstream upstream([](const ScriptedUpstream::Request& r) -> std::string {
    if (r.method == "GET") {
      // A priming event (id, empty data), a comment, a message split over two data lines, a
      // server request with CRLF line ends; then the stream ends.
      return ScriptedUpstream::Sse(
          "id: 0\ndata:\n\n"
          ": keep-alive\n\n"
          "event: message\nid: 1\ndata: {\"jsonrpc\":\"2.0\",\ndata: "
          "\"method\":\"notifications/tools/list_changed\"}\n\n"
          "data: {\"jsonrpc\":\"2.0\",\"id\":\"srv-1\",\"method\":\"roots/list\"}\r\n\r\n");
    }
    if (r.JsonMethod() == "initialize") {
      return ScriptedUpstream::Json(200, kInitResult, "Mcp-Session-Id: s-123\r\n");
    }
    if (r.JsonMethod().rfind("notifications/", 0) == 0 || r.JsonMethod().empty()) {
      return ScriptedUpstream::Accepted();
    }
    return ScriptedUpstream::Json(200,
                                  R"({"jsonrpc":"2.0","id":)" + r.IdJson() + R"(,"result":{}})");
  });
  ASSERT_NE(upstream.port(), 0);
  StartBridge(upstream.port());
  InitializeSession();

  ASSERT_TRUE(RunUntil([&] { return recorder_.messages.size() >= 3; }));
  ASSERT_EQ(recorder_.messages.size(), 3u);
  EXPECT_EQ(recorder_.messages[1],
            "{\"jsonrpc\":\"2.0\",\n\"method\":\"notifications/tools/list_changed\"}");
  EXPECT_EQ(recorder_.messages[2], R"({"jsonrpc":"2.0","id":"srv-1","method":"roots/list"})");

  // The client answers the server's request (a POST, 202), and the session goes on.
  Send(R"({"jsonrpc":"2.0","id":"srv-1","result":{"roots":[]}})");
  Send(Request("2", "ping"));
  ASSERT_TRUE(WaitForReplies({"2"}));
  ASSERT_TRUE(RunUntil([&] { return upstream.requests().size() >= 5; }));

  std::vector<ScriptedUpstream::Request> requests = upstream.requests();
  int gets = 0;
  for (const ScriptedUpstream::Request& r : requests) {
    EXPECT_EQ(r.target, "/mcp");
    EXPECT_TRUE(r.Header("X-Forwarded-Client-Cert").has_value());
    if (r.method == "GET") {
      ++gets;
      EXPECT_EQ(r.Header("Accept"), "text/event-stream");
    }
    if (r.JsonMethod() == "initialize") {
      EXPECT_FALSE(r.Header("Mcp-Session-Id").has_value());
    } else {
      EXPECT_EQ(r.Header("Mcp-Session-Id"), "s-123") << r.method << " " << r.body;
      EXPECT_EQ(r.Header("MCP-Protocol-Version"), "2025-03-26") << r.method << " " << r.body;
    }
  }
  EXPECT_EQ(gets, 1) << "the ended GET stream must not be reopened";
  EXPECT_TRUE(recorder_.failures.empty());
}

TEST_F(HttpBridgeTest, FailedRepliesBecomeErrorsForTheirRequestsOnly) {
  const std::string big(3000, 'x');
  ScriptedUpstream upstream([&big](const ScriptedUpstream::Request& r) -> std::string {
    std::string id = r.IdJson();
    std::string method = r.JsonMethod();
    if (method == "initialize") return ScriptedUpstream::Json(200, kInitResult);  // no session
    if (method == "notifications/initialized") return ScriptedUpstream::Json(500, "oops");
    if (method == "big/json") {
      return ScriptedUpstream::Json(
          200, R"({"jsonrpc":"2.0","id":)" + id + R"(,"result":{"x":")" + big + "\"}}");
    }
    if (method == "big/sse") {
      return ScriptedUpstream::Sse("data: {\"jsonrpc\":\"2.0\",\"id\":" + id +
                                   ",\"result\":{\"x\":\"" + big + "\"}}\n\n");
    }
    if (method == "own/error") {
      return ScriptedUpstream::Json(400, R"({"jsonrpc":"2.0","id":)" + id +
                                             R"(,"error":{"code":-32602,"message":"bad params"}})");
    }
    if (method == "null/error") {
      return ScriptedUpstream::Json(
          400, R"({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Bad Request"}})");
    }
    if (method == "html") return "HTTP/1.1 502 Bad\r\nContent-Length: 5\r\n\r\n<html";
    if (method == "accepted") return ScriptedUpstream::Accepted();
    if (method == "short/sse") {
      return ScriptedUpstream::Sse(
          "id: 1\ndata:\n\n"
          "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
          "\"params\":{\"level\":\"info\",\"data\":\"x\"}}\n\n");
    }
    if (method == "hangup") return "";
    return ScriptedUpstream::Json(200, R"({"jsonrpc":"2.0","id":)" + id + R"(,"result":{}})");
  });
  ASSERT_NE(upstream.port(), 0);
  StartBridge(upstream.port(), /*max_message_bytes=*/1024);
  InitializeSession();  // its 500 is logged only

  const std::vector<std::string> ids = {"10", "11", "12", "13", "14", "15", "16", "17"};
  Send(Request("10", "big/json"));
  Send(Request("11", "big/sse"));
  Send(Request("12", "own/error"));
  Send(Request("13", "null/error"));
  Send(Request("14", "html"));
  Send(Request("15", "accepted"));
  Send(Request("16", "short/sse"));
  Send(Request("17", "hangup"));
  ASSERT_TRUE(WaitForReplies(ids));

  EXPECT_EQ(JsonRpcErrorCode(recorder_.Reply("10")), mcp::kUpstreamUnavailable);
  EXPECT_NE(recorder_.Reply("10").find("larger than 1024 bytes"), std::string::npos);
  EXPECT_EQ(JsonRpcErrorCode(recorder_.Reply("11")), mcp::kUpstreamUnavailable);
  // The upstream's own error for this id passes unchanged.
  EXPECT_EQ(recorder_.Reply("12"),
            R"({"jsonrpc":"2.0","id":12,"error":{"code":-32602,"message":"bad params"}})");
  EXPECT_EQ(JsonRpcErrorCode(recorder_.Reply("13")), mcp::kUpstreamUnavailable);
  EXPECT_NE(recorder_.Reply("13").find("HTTP 400: Bad Request"), std::string::npos)
      << recorder_.Reply("13");
  EXPECT_NE(recorder_.Reply("14").find("HTTP 502"), std::string::npos) << recorder_.Reply("14");
  EXPECT_EQ(JsonRpcErrorCode(recorder_.Reply("15")), mcp::kUpstreamUnavailable);
  EXPECT_EQ(JsonRpcErrorCode(recorder_.Reply("16")), mcp::kUpstreamUnavailable);
  EXPECT_EQ(JsonRpcErrorCode(recorder_.Reply("17")), mcp::kUpstreamUnavailable);
  // Each request answered exactly once; the notification inside short/sse passes; nothing for
  // the failed notification and no GET stream after it.
  size_t replies = 0;
  for (const std::string& m : recorder_.messages) replies += IsReply(m) ? 1 : 0;
  EXPECT_EQ(replies, 1 + ids.size());
  EXPECT_EQ(recorder_.messages.size(), 2 + ids.size());
  for (const ScriptedUpstream::Request& r : upstream.requests()) EXPECT_NE(r.method, "GET");
  EXPECT_TRUE(recorder_.failures.empty());
}

TEST_F(HttpBridgeTest, TheListenerMayShutTheBridgeDownFromInsideACallback) {
  ScriptedUpstream upstream([](const ScriptedUpstream::Request& r) -> std::string {
    if (r.JsonMethod() == "initialize") {
      return ScriptedUpstream::Json(200, kInitResult, "Mcp-Session-Id: s-9\r\n");
    }
    if (r.method == "DELETE" || r.JsonMethod() == "notifications/initialized") {
      return ScriptedUpstream::Accepted();
    }
    if (r.method == "GET") return ScriptedUpstream::Json(405, "{}");
    // Two messages in one piece of body: the second must not be heard.
    return ScriptedUpstream::Sse(
        "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\n"
        "data: {\"jsonrpc\":\"2.0\",\"id\":" +
        r.IdJson() + ",\"result\":{}}\n\n");
  });
  ASSERT_NE(upstream.port(), 0);
  StartBridge(upstream.port());
  InitializeSession();
  recorder_.on_message = [this](const std::string& json) {
    if (MethodOf(json) == "notifications/message") ShutdownBridge();
  };
  size_t before = recorder_.messages.size();
  Send(Request("2", "tools/list"));
  ASSERT_TRUE(RunUntil([&] { return bridge_ == nullptr; }));
  EXPECT_EQ(recorder_.messages.size(), before + 1);
  // The DELETE still goes out.
  ASSERT_TRUE(RunUntil([&] {
    for (const ScriptedUpstream::Request& r : upstream.requests()) {
      if (r.method == "DELETE") return r.Header("Mcp-Session-Id") == "s-9";
    }
    return false;
  }));
}

TEST_F(HttpBridgeTest, TheListenerMayShutTheBridgeDownWhenTheSessionFails) {
  ScriptedUpstream upstream([](const ScriptedUpstream::Request& r) -> std::string {
    if (r.JsonMethod() == "initialize") {
      return ScriptedUpstream::Json(200, kInitResult, "Mcp-Session-Id: s-gone\r\n");
    }
    return ScriptedUpstream::Json(404, R"({"jsonrpc":"2.0","id":null,"error":{"code":-32001,)"
                                       R"("message":"Session not found"}})");
  });
  ASSERT_NE(upstream.port(), 0);
  StartBridge(upstream.port());
  Send(Initialize("1"));
  ASSERT_TRUE(WaitForReplies({"1"}));
  recorder_.on_failed = [this] { ShutdownBridge(); };
  Send(Request("2", "tools/list"));
  Send(Request("3", "ping"));
  ASSERT_TRUE(RunUntil([&] { return bridge_ == nullptr; }));
  EXPECT_EQ(recorder_.failures.size(), 1u);
  EXPECT_FALSE(recorder_.HasReply("2"));
  EXPECT_FALSE(recorder_.HasReply("3"));
}

}  // namespace
}  // namespace portcullis::session
