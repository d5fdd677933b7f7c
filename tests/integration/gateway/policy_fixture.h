// Helpers for the policy integration tests (policy_*_test.cc), on top of gateway_fixture.h:
//
//  - PolicyCerts(): two more client identities from the shared PKI, issued once per binary:
//    agent-2 (CN agent-2, SPIFFE ID kAgentTwoSpiffe) and a stranger (CN stranger, no SAN).
//    The shared good client is agent-1 (CN agent-1, SPIFFE ID kGoodClientSpiffeId).
//  - ScriptedUpstream: a test-only HTTP/1.1 upstream (plain TCP on 127.0.0.1:0, one thread,
//    poll()) that answers each request with whatever the test's handler returns, written in
//    pieces with a pause between them, so an SSE reply reaches the gateway cut at chosen
//    places. Like EchoUpstream it records every request it receives (proof of what was, or
//    was not, forwarded).
//  - McpClient: one TLS connection speaking MCP through the gateway, with an optional session.
//  - Builders for JSON-RPC requests and readers for JSON-RPC replies and list results.
//  - ReplaceFile(): atomic replacement (write a temporary file, rename it over the target), the
//    way editors and configuration tools update a policy file.
//
// Header-only for the same reason as gateway_fixture.h. Every wait is bounded. ScriptedUpstream
// runs its handler on its own thread; the handler must not touch the test's objects without a
// lock. Everything else is used from the test's thread only.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {

inline constexpr char kAgentTwoSpiffe[] = "spiffe://example.org/ns/web/sa/agent-2";

// ---------------------------------------------------------------------------------------------
// Identities

struct PolicyIdentities {
  CertKey agent_two;  // CN agent-2, URI SAN kAgentTwoSpiffe
  CertKey stranger;   // CN stranger, no SAN: matched by no rule of these tests
};

inline const Result<PolicyIdentities>& PolicyCerts() {
  static const Result<PolicyIdentities> certs = []() -> Result<PolicyIdentities> {
    const TestPki& pki = SharedPki();
    if (!pki.ok()) {
      return Status::Error("shared PKI: " + pki.error());
    }
    PolicyIdentities out;
    Result<CertKey> two =
        pki.IssueClient("agent-2", {std::string("subjectAltName = URI:") + kAgentTwoSpiffe});
    if (!two.ok()) {
      return two.status();
    }
    out.agent_two = *two;
    Result<CertKey> stranger = pki.IssueClient("stranger");
    if (!stranger.ok()) {
      return stranger.status();
    }
    out.stranger = *stranger;
    return out;
  }();
  return certs;
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC bodies and replies

inline std::string JsonRpc(int id, const std::string& method, const std::string& params = "") {
  std::string body =
      R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")" + method + "\"";
  if (!params.empty()) {
    body += ",\"params\":" + params;
  }
  return body + "}";
}

inline std::string ToolsCall(int id, const std::string& tool,
                             const std::string& arguments = R"({"message":"hi"})") {
  return JsonRpc(id, "tools/call", R"({"name":")" + tool + R"(","arguments":)" + arguments + "}");
}
inline std::string PromptsGet(int id, const std::string& prompt) {
  return JsonRpc(id, "prompts/get", R"({"name":")" + prompt + R"(","arguments":{"name":"x"}})");
}
inline std::string ResourcesRead(int id, const std::string& uri) {
  return JsonRpc(id, "resources/read", R"({"uri":")" + uri + R"("})");
}
inline std::string Completion(int id, const std::string& ref_type, const std::string& ref) {
  std::string key = ref_type == "ref/prompt" ? "name" : "uri";
  return JsonRpc(id, "completion/complete",
                 R"({"ref":{"type":")" + ref_type + R"(",")" + key + R"(":")" + ref +
                     R"("},"argument":{"name":"name","value":"a"}})");
}

// error.message of a JSON-RPC error body, or "".
inline std::string JsonRpcErrorMessage(const std::string& body) {
  rapidjson::Document doc = ParseJson(body);
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("error") ||
      !doc["error"].IsObject() || !doc["error"].HasMember("message") ||
      !doc["error"]["message"].IsString()) {
    return "";
  }
  return doc["error"]["message"].GetString();
}

inline bool HasResult(const std::string& body) {
  rapidjson::Document doc = ParseJson(body);
  return !doc.HasParseError() && doc.IsObject() && doc.HasMember("result");
}

// The `key` of each entry of result[array] in a JSON-RPC reply; nullopt when the body has no
// such array.
inline std::optional<std::set<std::string>> ListedNames(const std::string& body, const char* array,
                                                        const char* key) {
  rapidjson::Document doc = ParseJson(body);
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("result") ||
      !doc["result"].IsObject() || !doc["result"].HasMember(array) ||
      !doc["result"][array].IsArray()) {
    return std::nullopt;
  }
  std::set<std::string> names;
  for (const auto& entry : doc["result"][array].GetArray()) {
    names.insert(entry.IsObject() && entry.HasMember(key) && entry[key].IsString()
                     ? entry[key].GetString()
                     : "(entry without a string " + std::string(key) + ")");
  }
  return names;
}

inline std::optional<std::set<std::string>> ToolNames(const std::string& body) {
  return ListedNames(body, "tools", "name");
}

using NameSet = std::set<std::string>;

// ---------------------------------------------------------------------------------------------
// McpClient

class McpClient {
 public:
  // Connects with `cert`; with `open_session`, runs initialize + notifications/initialized.
  static Result<std::unique_ptr<McpClient>> Connect(uint16_t port, const CertKey& cert,
                                                    const std::string& path,
                                                    bool open_session = true) {
    auto tls = TlsClient::Connect("127.0.0.1", port, ClientOptions(cert));
    if (!tls.ok()) {
      return tls.status();
    }
    std::unique_ptr<McpClient> client(new McpClient(std::move(tls).value(), path));
    if (open_session) {
      Result<std::string> session = OpenMcpSession(*client->tls_, path);
      if (!session.ok()) {
        return session.status();
      }
      client->session_ = *session;
    }
    return client;
  }

  // POSTs `body` with the session headers (if any) and reads the reply.
  Result<HttpResponse> Post(const std::string& body, HeaderList extra = {}) {
    return testing::Request(*tls_, "POST", path_, Headers(std::move(extra)), body, kRequestMs);
  }
  Result<HttpResponse> Send(const std::string& method, HeaderList extra = {}) {
    return testing::Request(*tls_, method, path_, Headers(std::move(extra)), "", kRequestMs);
  }
  // The headers every request of this client carries.
  HeaderList Headers(HeaderList extra = {}) const {
    HeaderList headers = JsonHeaders();
    if (!session_.empty()) {
      headers.emplace_back("Mcp-Session-Id", session_);
      headers.emplace_back("MCP-Protocol-Version", kProtocolVersion);
    }
    for (auto& h : extra) {
      headers.push_back(std::move(h));
    }
    return headers;
  }

  const std::string& session() const { return session_; }
  void set_session(std::string session) { session_ = std::move(session); }
  TlsClient& tls() { return *tls_; }

 private:
  McpClient(std::unique_ptr<TlsClient> tls, std::string path)
      : tls_(std::move(tls)), path_(std::move(path)) {}

  std::unique_ptr<TlsClient> tls_;
  std::string path_;
  std::string session_;
};

// ---------------------------------------------------------------------------------------------
// ScriptedUpstream

// What the scripted upstream writes back: `pieces` one after another (each a separate write,
// with `pause_ms` between them), then it keeps the connection unless `close_after`.
struct ScriptedReply {
  std::vector<std::string> pieces;
  int pause_ms = 0;
  bool close_after = false;
};

inline std::string HttpHead(int status, const std::string& content_type, const HeaderList& extra,
                            std::optional<size_t> content_length) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Status") +
                     "\r\nContent-Type: " + content_type + "\r\n";
  for (const auto& [name, value] : extra) {
    head += name + ": " + value + "\r\n";
  }
  head += content_length ? "Content-Length: " + std::to_string(*content_length) + "\r\n"
                         : std::string("Transfer-Encoding: chunked\r\n");
  return head + "\r\n";
}

// A whole application/json reply in one piece.
inline ScriptedReply JsonReply(const std::string& body, const HeaderList& extra = {},
                               int status = 200) {
  return {{HttpHead(status, "application/json", extra, body.size()) + body}, 0, false};
}

// A chunked text/event-stream reply: the head, then each of `body_pieces` as its own chunk
// and write, `pause_ms` apart, then the last chunk.
inline ScriptedReply SseReply(const std::vector<std::string>& body_pieces,
                              const HeaderList& extra = {}, int pause_ms = 15) {
  ScriptedReply reply;
  reply.pause_ms = pause_ms;
  reply.pieces.push_back(HttpHead(200, "text/event-stream", extra, std::nullopt));
  for (const std::string& piece : body_pieces) {
    if (piece.empty()) {
      continue;
    }
    char size[32];
    snprintf(size, sizeof(size), "%zx\r\n", piece.size());
    reply.pieces.push_back(size + piece + "\r\n");
  }
  reply.pieces.push_back("0\r\n\r\n");
  return reply;
}

// `text` cut at each of `cuts` (offsets into text, ascending).
inline std::vector<std::string> CutAt(const std::string& text, const std::vector<size_t>& cuts) {
  std::vector<std::string> pieces;
  size_t from = 0;
  for (size_t cut : cuts) {
    if (cut > from && cut < text.size()) {
      pieces.push_back(text.substr(from, cut - from));
      from = cut;
    }
  }
  pieces.push_back(text.substr(from));
  return pieces;
}

class ScriptedUpstream {
 public:
  using Request = EchoUpstream::Request;
  using Handler = std::function<ScriptedReply(const Request&)>;

  explicit ScriptedUpstream(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0 || pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
      error_ = "socket/pipe failed";
      return;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(address);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        listen(listen_fd_, 128) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &len) != 0) {
      error_ = "bind/listen failed";
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
    if (thread_.joinable()) {
      thread_.join();
    }
    for (int fd : {listen_fd_, wake_[0], wake_[1]}) {
      if (fd >= 0) {
        close(fd);
      }
    }
  }

  ScriptedUpstream(const ScriptedUpstream&) = delete;
  ScriptedUpstream& operator=(const ScriptedUpstream&) = delete;

  bool ok() const { return error_.empty() && port_ != 0; }
  const std::string& error() const { return error_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/mcp"; }

  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  size_t request_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_.size();
  }

 private:
  static constexpr size_t kMaxConnections = 64;
  static constexpr size_t kMaxBuffered = 1 << 20;

  struct Connection {
    int fd = -1;
    std::string in;
  };

  void Run() {
    std::vector<Connection> connections;
    while (!stop_.load()) {
      std::vector<pollfd> fds;
      fds.push_back({wake_[0], POLLIN, 0});
      fds.push_back({listen_fd_, POLLIN, 0});
      for (const Connection& c : connections) {
        fds.push_back({c.fd, POLLIN, 0});
      }
      if (poll(fds.data(), fds.size(), 1000) <= 0) {
        continue;
      }
      if (fds[0].revents != 0) {
        break;
      }
      if (fds[1].revents & POLLIN) {
        while (true) {
          int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
          if (fd < 0) {
            break;
          }
          if (connections.size() >= kMaxConnections) {
            close(fd);
            continue;
          }
          connections.push_back({fd, ""});
        }
      }
      std::vector<int> dead;
      for (size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents != 0 && !ReadAndServe(&connections[i - 2])) {
          dead.push_back(connections[i - 2].fd);
        }
      }
      for (int fd : dead) {
        close(fd);
        for (size_t i = 0; i < connections.size(); ++i) {
          if (connections[i].fd == fd) {
            connections.erase(connections.begin() + static_cast<long>(i));
            break;
          }
        }
      }
    }
    for (const Connection& c : connections) {
      close(c.fd);
    }
  }

  // False when the connection should be closed.
  bool ReadAndServe(Connection* c) {
    char buf[16384];
    while (true) {
      ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
      if (n == 0) {
        return false;
      }
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          break;
        }
        if (errno == EINTR) {
          continue;
        }
        return false;
      }
      c->in.append(buf, static_cast<size_t>(n));
      if (c->in.size() > kMaxBuffered) {
        return false;
      }
    }
    while (true) {
      size_t head_end = c->in.find("\r\n\r\n");
      if (head_end == std::string::npos) {
        return true;
      }
      Request request;
      size_t content_length = 0;
      std::string head = c->in.substr(0, head_end);
      size_t eol = head.find("\r\n");
      std::string line = head.substr(0, eol);
      size_t sp1 = line.find(' ');
      size_t sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
      if (sp1 == std::string::npos || sp2 == std::string::npos) {
        return false;
      }
      request.method = line.substr(0, sp1);
      request.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      size_t pos = eol == std::string::npos ? head.size() : eol + 2;
      while (pos < head.size()) {
        size_t next = head.find("\r\n", pos);
        std::string h =
            head.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
        size_t colon = h.find(':');
        if (colon != std::string::npos) {
          std::string name = h.substr(0, colon);
          size_t vstart = h.find_first_not_of(" \t", colon + 1);
          std::string value = vstart == std::string::npos ? "" : h.substr(vstart);
          if (IEquals(name, "content-length")) {
            content_length = std::strtoul(value.c_str(), nullptr, 10);
          }
          request.headers.emplace_back(std::move(name), std::move(value));
        }
        pos = next == std::string::npos ? head.size() : next + 2;
      }
      if (content_length > kMaxBuffered) {
        return false;
      }
      if (c->in.size() < head_end + 4 + content_length) {
        return true;
      }
      request.body = c->in.substr(head_end + 4, content_length);
      c->in.erase(0, head_end + 4 + content_length);
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(request);
      }
      ScriptedReply reply = handler_(request);
      for (size_t i = 0; i < reply.pieces.size(); ++i) {
        if (i > 0 && reply.pause_ms > 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(reply.pause_ms));
        }
        if (!WriteAll(c->fd, reply.pieces[i])) {
          return false;
        }
      }
      if (reply.close_after) {
        return false;
      }
    }
  }

  static bool WriteAll(int fd, const std::string& data) {
    size_t done = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (done < data.size()) {
      ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (std::chrono::steady_clock::now() > deadline) {
          return false;
        }
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
  std::string error_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Request> requests_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// Files

// Replaces `path` atomically: writes `text` to a temporary file in the same directory and
// renames it over `path` (what editors, `kubectl cp` and configuration tools do).
inline void ReplaceFile(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp-" + std::to_string(getpid());
  {
    FILE* f = fopen(tmp.c_str(), "wb");
    ASSERT_NE(f, nullptr) << tmp;
    ASSERT_EQ(fwrite(text.data(), 1, text.size(), f), text.size());
    ASSERT_EQ(fclose(f), 0);
  }
  ASSERT_EQ(rename(tmp.c_str(), path.c_str()), 0) << tmp << " -> " << path;
}

// 1-based line and column of the first occurrence of `needle` in `text`, as "line:col".
inline std::string LineColOf(const std::string& text, const std::string& needle) {
  size_t pos = text.find(needle);
  EXPECT_NE(pos, std::string::npos) << needle;
  int line = 1;
  int col = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

// Base for the policy tests: the shared PKI and the two extra identities must exist.
class PolicyTestBase : public GatewayTestBase {
 protected:
  void SetUp() override {
    GatewayTestBase::SetUp();
    ASSERT_TRUE(PolicyCerts().ok()) << PolicyCerts().error();
  }
  const CertKey& agent_one() const { return pki().client(); }
  const CertKey& agent_two() const { return PolicyCerts()->agent_two; }
  const CertKey& stranger() const { return PolicyCerts()->stranger; }
};

}  // namespace portcullis::gateway_test
