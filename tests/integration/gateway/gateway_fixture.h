// Shared fixture for the gateway's integration tests: the real `portcullis run` process over real
// TLS on loopback, with certificates from the shared test PKI (made by the openssl CLI at test
// time) and real upstreams: the bundled mcp-example-server, or EchoUpstream below.
//
// EchoUpstream is a tiny test-only HTTP/1.1 server (plain TCP on 127.0.0.1:0, one std::thread,
// poll()) that answers every request with a JSON-RPC result listing the request's headers, so a
// test can see exactly what the gateway forwarded (the identity in X-Forwarded-Client-Cert,
// dropped client headers). In Mode::kSilent it accepts and reads but never answers (504 tests).
//
// Header-only because tests/CMakeLists.txt compiles only *_test.cc files from tests/integration;
// every function is inline. Every wait is bounded, every child process is killed by its
// ChildProcess destructor, every port is 0. A test object is used from the test's thread only;
// EchoUpstream's recorded requests are guarded by a mutex.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <strings.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "portcullis/result.h"
#include "tests/support/child_process.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"
#include "tests/support/tls_client.h"

namespace portcullis::gateway_test {

using testing::CertKey;
using testing::ChildProcess;
using testing::EnvVars;
using testing::HeaderList;
using testing::HttpResponse;
using testing::RawSocket;
using testing::SharedPki;
using testing::TempDir;
using testing::TestPki;
using testing::TlsClient;
using testing::TlsClientOptions;

// Generous bounds on things that normally take milliseconds; never assertions on speed.
inline constexpr int kWaitMs = 10000;
inline constexpr int kRequestMs = 5000;

inline std::string PortcullisPath() { return std::string(PORTCULLIS_BIN_DIR) + "/portcullis"; }
inline std::string ExampleServerPath() {
  return std::string(PORTCULLIS_BIN_DIR) + "/mcp-example-server";
}

// ---------------------------------------------------------------------------------------------
// JSON and header helpers

inline bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

inline rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  return doc;
}

// error.code of a JSON-RPC error body; 0 when the body is not one.
inline int JsonRpcErrorCode(const std::string& body) {
  rapidjson::Document doc = ParseJson(body);
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("error") ||
      !doc["error"].IsObject() || !doc["error"].HasMember("code") ||
      !doc["error"]["code"].IsInt()) {
    return 0;
  }
  return doc["error"]["code"].GetInt();
}

// The "id" of a JSON-RPC message as JSON text ("7", "\"a\"", "null"); "" if absent/unparsable.
inline std::string JsonRpcIdText(const std::string& body) {
  rapidjson::Document doc = ParseJson(body);
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("id")) {
    return "";
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc["id"].Accept(writer);
  return buffer.GetString();
}

inline std::vector<std::string> ValuesOf(const HeaderList& headers, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) {
      out.push_back(v);
    }
  }
  return out;
}

// X-Forwarded-Client-Cert as Envoy formats it: `Key=value;Key="quoted; value";...`. Returns the
// pairs in order (a key may repeat, e.g. URI and DNS), quotes removed and \" \\ unescaped.
inline std::vector<std::pair<std::string, std::string>> ParseXfcc(std::string_view value) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  while (i < value.size()) {
    size_t eq = value.find('=', i);
    if (eq == std::string_view::npos) {
      break;
    }
    std::string key(value.substr(i, eq - i));
    std::string v;
    size_t j = eq + 1;
    if (j < value.size() && value[j] == '"') {
      ++j;
      while (j < value.size() && value[j] != '"') {
        if (value[j] == '\\' && j + 1 < value.size()) {
          ++j;
        }
        v.push_back(value[j]);
        ++j;
      }
      ++j;  // closing quote
    } else {
      while (j < value.size() && value[j] != ';') {
        v.push_back(value[j]);
        ++j;
      }
    }
    out.emplace_back(std::move(key), std::move(v));
    // Skip to after the next ';'.
    while (j < value.size() && value[j] != ';') {
      ++j;
    }
    i = j + 1;
  }
  return out;
}

inline std::vector<std::string> XfccValues(std::string_view xfcc, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& [k, v] : ParseXfcc(xfcc)) {
    if (IEquals(k, key)) {
      out.push_back(v);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// EchoUpstream

class EchoUpstream {
 public:
  enum class Mode { kEcho, kSilent };

  struct Request {
    std::string method;
    std::string target;
    HeaderList headers;
    std::string body;
  };

  explicit EchoUpstream(Mode mode = Mode::kEcho) : mode_(mode) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0 || pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
      error_ = "socket/pipe failed";
      return;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
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

  ~EchoUpstream() {
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

  EchoUpstream(const EchoUpstream&) = delete;
  EchoUpstream& operator=(const EchoUpstream&) = delete;

  bool ok() const { return error_.empty() && port_ != 0; }
  const std::string& error() const { return error_; }
  uint16_t port() const { return port_; }
  // The URL to put in the gateway's upstream config.
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/mcp"; }

  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  size_t request_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_.size();
  }
  int connections_accepted() const { return accepted_.load(); }

  // Waits (bounded) until at least `n` requests have been received.
  bool WaitForRequests(size_t n, int timeout_ms) const {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (request_count() >= n) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return request_count() >= n;
  }

 private:
  static constexpr size_t kMaxConnections = 256;
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
      int ready = poll(fds.data(), fds.size(), 1000);
      if (ready <= 0) {
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
          accepted_.fetch_add(1);
          if (connections.size() >= kMaxConnections) {
            close(fd);
            continue;
          }
          connections.push_back({fd, ""});
        }
      }
      std::vector<int> dead;
      for (size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents == 0) {
          continue;
        }
        Connection& c = connections[i - 2];
        if (!ReadAndServe(&c)) {
          dead.push_back(c.fd);
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
        return true;  // wait for the rest of the body
      }
      request.body = c->in.substr(head_end + 4, content_length);
      c->in.erase(0, head_end + 4 + content_length);
      std::string response = mode_ == Mode::kEcho ? Answer(request) : "";
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(std::move(request));
      }
      if (!response.empty() && !WriteAll(c->fd, response)) {
        return false;
      }
    }
  }

  // 200 with {"jsonrpc":"2.0","id":<the request's id or null>,"result":{"method","target",
  // "headers":[[name,value],...],"body":...}}. A target containing "sse=1" gets the same JSON
  // as one SSE event, as text/event-stream WITHOUT X-Accel-Buffering (the gateway must add it).
  static std::string Answer(const Request& request) {
    rapidjson::Document in;
    in.Parse(request.body.c_str(), request.body.size());
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("jsonrpc");
    w.String("2.0");
    w.Key("id");
    if (!in.HasParseError() && in.IsObject() && in.HasMember("id")) {
      in["id"].Accept(w);
    } else {
      w.Null();
    }
    w.Key("result");
    w.StartObject();
    w.Key("method");
    w.String(request.method.c_str());
    w.Key("target");
    w.String(request.target.c_str());
    w.Key("headers");
    w.StartArray();
    for (const auto& [name, value] : request.headers) {
      w.StartArray();
      w.String(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
      w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
      w.EndArray();
    }
    w.EndArray();
    w.Key("body");
    w.String(request.body.c_str(), static_cast<rapidjson::SizeType>(request.body.size()));
    w.EndObject();
    w.EndObject();
    std::string json = buffer.GetString();
    bool sse = request.target.find("sse=1") != std::string::npos;
    std::string body = sse ? "event: message\ndata: " + json + "\n\n" : json;
    std::string out = "HTTP/1.1 200 OK\r\nContent-Type: ";
    out += sse ? "text/event-stream" : "application/json";
    out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    return out + body;
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

  const Mode mode_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::string error_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  mutable std::mutex mu_;
  std::vector<Request> requests_;
  std::thread thread_;
};

// The headers the echo upstream says it received, read back from a response that came through
// the gateway (so they are what really reached the upstream).
inline HeaderList EchoedHeaders(const std::string& body) {
  HeaderList out;
  rapidjson::Document doc = ParseJson(body);
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("result") ||
      !doc["result"].IsObject() || !doc["result"].HasMember("headers") ||
      !doc["result"]["headers"].IsArray()) {
    return out;
  }
  for (const auto& pair : doc["result"]["headers"].GetArray()) {
    if (pair.IsArray() && pair.Size() == 2 && pair[0].IsString() && pair[1].IsString()) {
      out.emplace_back(pair[0].GetString(), pair[1].GetString());
    }
  }
  return out;
}

// A loopback port on which nothing listens, held for the object's lifetime: the socket is bound
// but never listens, so a connect gets ECONNREFUSED and no other program can take the port.
class ClosedPort {
 public:
  ClosedPort() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(address);
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &len) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }
  ~ClosedPort() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Child processes

// Waits for "listening on 127.0.0.1:PORT" in the child's stderr; 0 if it never comes.
inline uint16_t WaitForListeningPort(ChildProcess& child, int timeout_ms) {
  std::smatch m;
  if (!child.WaitForLog(R"(listening on 127\.0\.0\.1:(\d+))", timeout_ms, &m)) {
    return 0;
  }
  return static_cast<uint16_t>(std::stoi(m[1].str()));
}

// mcp-example-server --http 127.0.0.1:0.
class ExampleServer {
 public:
  Status Start() {
    if (Status s = process_.Start({ExampleServerPath(), "--http", "127.0.0.1:0"}); !s.ok()) {
      return s;
    }
    port_ = WaitForListeningPort(process_, kWaitMs);
    if (port_ == 0) {
      return Status::Error("mcp-example-server did not report its port; stderr: " +
                           process_.Stderr());
    }
    return Status::Ok();
  }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/mcp"; }
  ChildProcess& process() { return process_; }

 private:
  ChildProcess process_;
  uint16_t port_ = 0;
};

// The gateway's config file, built from parts. Certificates come from the shared PKI.
struct GatewayConfig {
  int reactors = 1;
  std::vector<std::string> tls;        // extra members of "tls", e.g. R"("crl": ["/x.pem"])"
  std::vector<std::string> upstreams;  // members of "upstreams", e.g. R"("a": {"url": "..."})"
  std::vector<std::string> limits;     // members of "limits", e.g. R"("idle_timeout_ms": 300)"
  // Raw top-level members, e.g. R"("audit": {"path": "audit.jsonl"})".
  std::vector<std::string> extra;
  // Paths for "tls" cert, key and client_ca (one bundle file) instead of the shared PKI's, for
  // tests that replace them while the gateway runs.
  std::optional<std::string> cert, key, client_ca;
  // The policy file's text; empty = one rule that grants every verified client everything
  // (these tests are about the data plane; the policy has its own tests).
  std::string policy;

  static constexpr const char* kAllowAllPolicy = R"({
  "rules": [{
    "name": "test-allow-all",
    "match": [{"issuer": "**"}],
    "grant": {"*": {"tools": ["**"], "resources": ["**"], "prompts": ["**"],
                    "methods": ["**"], "server_requests": ["**"]}}
  }]
})";
  std::string PolicyJson() const { return policy.empty() ? kAllowAllPolicy : policy; }

  GatewayConfig& AddUpstream(const std::string& name, const std::string& url,
                             const std::string& extra_members = "") {
    std::string member = "\"" + name + "\": {\"url\": \"" + url + "\"";
    if (!extra_members.empty()) {
      member += ", " + extra_members;
    }
    upstreams.push_back(member + "}");
    return *this;
  }

  std::string ToJson() const {
    const TestPki& pki = SharedPki();
    auto join = [](const std::vector<std::string>& parts, const char* indent) {
      std::string out;
      for (const std::string& p : parts) {
        out += std::string(indent) + p + ",\n";
      }
      return out;
    };
    std::string json = "// written by the gateway integration tests\n{\n";
    json += "  \"listen\": [\"127.0.0.1:0\"],\n";
    json += "  \"reactors\": " + std::to_string(reactors) + ",\n";
    json += "  \"tls\": {\n";
    json += "    \"cert\": \"" + cert.value_or(pki.server().cert) + "\",\n";
    json += "    \"key\": \"" + key.value_or(pki.server().key) + "\",\n";
    json += "    \"client_ca\": [\"" + client_ca.value_or(pki.ca().cert) + "\"],\n";
    json += join(tls, "    ");
    json += "  },\n";
    json += "  \"upstreams\": {\n" + join(upstreams, "    ") + "  },\n";
    json += "  \"limits\": {\n" + join(limits, "    ") + "  },\n";
    json += "  \"policy\": \"policy.json\",\n";
    json += join(extra, "  ");
    json += "}\n";
    return json;
  }
};

// `portcullis run --config <its own temp dir>/gateway.json`.
class GatewayProcess {
 public:
  GatewayProcess() : dir_("gwtest") {}

  Status Start(const GatewayConfig& config, const EnvVars& env = {}) {
    dir_.Write("policy.json", config.PolicyJson());
    config_path_ = dir_.Write("gateway.json", config.ToJson());
    ChildProcess::Options options;
    options.env = env;
    options.stderr_path = dir_.File("gateway.log");
    options.stdout_path = dir_.File("gateway.out");
    if (Status s = process_.Start({PortcullisPath(), "run", "--config", config_path_}, options);
        !s.ok()) {
      return s;
    }
    port_ = WaitForListeningPort(process_, kWaitMs);
    if (port_ == 0) {
      return Status::Error("portcullis run did not report a listening port; stderr:\n" +
                           process_.Stderr() + "\nconfig:\n" + config.ToJson());
    }
    return Status::Ok();
  }

  uint16_t port() const { return port_; }
  ChildProcess& process() { return process_; }
  std::string Log() const { return process_.Stderr(); }
  size_t LogSize() const { return process_.StderrSize(); }
  const std::string& config_path() const { return config_path_; }
  const TempDir& dir() const { return dir_; }

  // Waits for `regex` in the log written after byte `from`.
  bool WaitForLog(const std::string& regex, size_t from = 0, int timeout_ms = kWaitMs) {
    return process_.WaitForLog(regex, timeout_ms, nullptr, from);
  }

 private:
  TempDir dir_;
  ChildProcess process_;
  std::string config_path_;
  uint16_t port_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Clients

inline TlsClientOptions ClientOptions(const CertKey& cert, const std::string& version = "") {
  TlsClientOptions options;
  options.ca_file = SharedPki().ca().cert;
  options.servername = "localhost";
  options.cert_file = cert.cert;
  options.key_file = cert.key;
  options.version = version;
  return options;
}

inline HeaderList JsonHeaders(HeaderList extra = {}) {
  HeaderList headers = {{"Content-Type", "application/json"},
                        {"Accept", "application/json, text/event-stream"}};
  for (auto& h : extra) {
    headers.push_back(std::move(h));
  }
  return headers;
}

inline constexpr char kPing[] = R"({"jsonrpc":"2.0","id":7,"method":"ping"})";
inline constexpr char kInitialize[] =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",)"
    R"("capabilities":{},"clientInfo":{"name":"gateway-test","version":"1"}}})";
inline constexpr char kInitialized[] = R"({"jsonrpc":"2.0","method":"notifications/initialized"})";
inline constexpr char kProtocolVersion[] = "2025-11-25";

// What happened when a client tried to get one request served.
struct Attempt {
  bool handshake_ok = false;  // TlsClient::Connect succeeded
  bool served = false;        // an HTTP response came back
  HttpResponse response;      // when served
  bool resumed = false;
  std::string version;
  std::string detail;  // the error that stopped it
};

// Connects with `options`, POSTs `body` to `path` and reads the answer. A refusal may come at the
// handshake (TLS 1.2) or as an alert on the first read (TLS 1.3: the server judges the client's
// certificate after the client has finished).
inline Attempt TryRequest(uint16_t port, const TlsClientOptions& options, const std::string& path,
                          const std::string& body = kPing, const HeaderList& extra_headers = {}) {
  Attempt attempt;
  auto client = TlsClient::Connect("127.0.0.1", port, options);
  if (!client.ok()) {
    attempt.detail = client.error();
    return attempt;
  }
  attempt.handshake_ok = true;
  attempt.resumed = (*client)->resumed();
  attempt.version = (*client)->version();
  auto response =
      testing::Request(**client, "POST", path, JsonHeaders(extra_headers), body, kRequestMs);
  if (!response.ok()) {
    attempt.detail = response.error();
    return attempt;
  }
  attempt.served = true;
  attempt.response = std::move(response).value();
  return attempt;
}

// initialize + notifications/initialized on `stream`; the session id, or an error.
inline Result<std::string> OpenMcpSession(testing::ByteStream& stream, const std::string& path) {
  auto init = testing::Request(stream, "POST", path, JsonHeaders(), kInitialize, kRequestMs);
  if (!init.ok()) {
    return Status::Error("initialize: " + init.error());
  }
  if (init->status != 200) {
    return Status::Error("initialize: HTTP " + std::to_string(init->status) + ": " + init->body);
  }
  std::optional<std::string> session = init->Header("Mcp-Session-Id");
  if (!session || session->empty()) {
    return Status::Error("initialize: no Mcp-Session-Id in the reply");
  }
  auto ack = testing::Request(
      stream, "POST", path,
      JsonHeaders({{"Mcp-Session-Id", *session}, {"MCP-Protocol-Version", kProtocolVersion}}),
      kInitialized, kRequestMs);
  if (!ack.ok()) {
    return Status::Error("notifications/initialized: " + ack.error());
  }
  if (ack->status != 202) {
    return Status::Error("notifications/initialized: HTTP " + std::to_string(ack->status));
  }
  return *session;
}

// Base for the gateway tests: the shared PKI must exist.
class GatewayTestBase : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(SharedPki().ok()) << SharedPki().error(); }
  const TestPki& pki() const { return SharedPki(); }
};

}  // namespace portcullis::gateway_test
