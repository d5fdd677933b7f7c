// Test harness for mcp-example-server: runs the real binary as a child process with pipes, and a
// minimal blocking HTTP/1.1 client over plain POSIX sockets. Every wait is bounded by a deadline,
// and the child is killed (SIGKILL) and reaped when its handle goes out of scope, whatever path
// the test takes. Header-only so the test files stay independent; single-threaded use.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/document.h>

namespace portcullis::example_test {

// Generous: these bound waits for things that normally take milliseconds; they are not
// assertions on timing.
inline constexpr int kWaitMs = 10000;

inline std::string ExampleServerPath() {
  return std::string(PORTCULLIS_BIN_DIR) + "/mcp-example-server";
}

inline rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  return doc;
}

// A JSON-RPC request line, e.g. Request("7", "tools/list").
inline std::string Request(const std::string& id_json, const std::string& method,
                           const std::string& params_json = "") {
  std::string text = R"({"jsonrpc":"2.0","id":)" + id_json + R"(,"method":")" + method + "\"";
  if (!params_json.empty()) {
    text += R"(,"params":)" + params_json;
  }
  return text + "}";
}

// A tools/call request; `meta_json` becomes params._meta when not empty.
inline std::string ToolCall(const std::string& id_json, const std::string& tool,
                            const std::string& arguments_json, const std::string& meta_json = "") {
  std::string params = R"({"name":")" + tool + R"(","arguments":)" + arguments_json;
  if (!meta_json.empty()) {
    params += R"(,"_meta":)" + meta_json;
  }
  return Request(id_json, "tools/call", params + "}");
}

class Deadline {
 public:
  explicit Deadline(int timeout_ms)
      : end_(std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms)) {}
  // Milliseconds left, at least 0.
  int remaining_ms() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end_ - std::chrono::steady_clock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
  }
  bool expired() const { return remaining_ms() == 0; }

 private:
  std::chrono::steady_clock::time_point end_;
};

// Reads from `fd` into *buffer until it holds a '\n' (returns the line without it), EOF or the
// deadline (returns nullopt).
inline std::optional<std::string> ReadLineFrom(int fd, std::string* buffer, int timeout_ms) {
  Deadline deadline(timeout_ms);
  while (true) {
    size_t newline = buffer->find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer->substr(0, newline);
      buffer->erase(0, newline + 1);
      return line;
    }
    if (fd < 0 || deadline.expired()) {
      return std::nullopt;
    }
    pollfd pfd{fd, POLLIN, 0};
    int ready = poll(&pfd, 1, deadline.remaining_ms());
    if (ready <= 0) {
      continue;
    }
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n <= 0) {
      return std::nullopt;
    }
    buffer->append(chunk, static_cast<size_t>(n));
  }
}

// The server as a child process: stdin, stdout and stderr are pipes held by the test.
class ServerProcess {
 public:
  explicit ServerProcess(const std::vector<std::string>& args) {
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      return;
    }
    std::string path = ExampleServerPath();
    std::vector<char*> argv;
    argv.push_back(path.data());
    std::vector<std::string> copy = args;
    for (std::string& arg : copy) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], STDIN_FILENO);
      dup2(out[1], STDOUT_FILENO);
      dup2(err[1], STDERR_FILENO);
      execv(path.c_str(), argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    stderr_ = err[0];
  }

  ~ServerProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    for (int fd : {stdin_, stdout_, stderr_}) {
      if (fd >= 0) {
        close(fd);
      }
    }
  }

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  bool WriteLine(const std::string& line) {
    std::string data = line + "\n";
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = write(stdin_, data.data() + done, data.size() - done);
      if (n <= 0) {
        return false;
      }
      done += static_cast<size_t>(n);
    }
    return true;
  }

  std::optional<std::string> ReadLine(int timeout_ms = kWaitMs) {
    return ReadLineFrom(stdout_, &stdout_buffer_, timeout_ms);
  }

  std::optional<std::string> ReadStderrLine(int timeout_ms = kWaitMs) {
    return ReadLineFrom(stderr_, &stderr_buffer_, timeout_ms);
  }

  // Reads stdout lines until one parses as a message with this id (as JSON text, e.g. "7" or
  // "\"a\""); lines skipped on the way are appended to *skipped when given.
  std::optional<std::string> ReadReply(const std::string& id_json,
                                       std::vector<std::string>* skipped = nullptr,
                                       int timeout_ms = kWaitMs) {
    Deadline deadline(timeout_ms);
    while (!deadline.expired()) {
      std::optional<std::string> line = ReadLine(deadline.remaining_ms());
      if (!line) {
        return std::nullopt;
      }
      rapidjson::Document doc = ParseJson(*line);
      if (doc.IsObject() && doc.HasMember("id") && IdJson(doc["id"]) == id_json) {
        return line;
      }
      if (skipped != nullptr) {
        skipped->push_back(*line);
      }
    }
    return std::nullopt;
  }

  void CloseStdin() {
    if (stdin_ >= 0) {
      close(stdin_);
      stdin_ = -1;
    }
  }

  void Signal(int signum) {
    if (pid_ > 0 && !exited_) {
      kill(pid_, signum);
    }
  }

  // The exit status if the process exits (normally) before the deadline; -1 if it was killed
  // by a signal; nullopt on timeout.
  std::optional<int> WaitExit(int timeout_ms = kWaitMs) {
    Deadline deadline(timeout_ms);
    while (true) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      if (deadline.expired()) {
        return std::nullopt;
      }
      usleep(10 * 1000);
    }
  }

  static std::string IdJson(const rapidjson::Value& id) {
    if (id.IsString()) {
      // Appended piecewise: GCC 12 warns (-Wrestrict, a false positive) on "\"" + string.
      std::string out = "\"";
      out += id.GetString();
      out += '"';
      return out;
    }
    if (id.IsInt64()) {
      return std::to_string(id.GetInt64());
    }
    return id.IsNull() ? "null" : "?";
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int stdin_ = -1;
  int stdout_ = -1;
  int stderr_ = -1;
  std::string stdout_buffer_;
  std::string stderr_buffer_;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;                            // de-chunked
  bool chunked = false;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// The data fields of the SSE events in `body`, in order.
inline std::vector<std::string> SseData(const std::string& body) {
  std::vector<std::string> data;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find("\n\n", start);
    std::string event = body.substr(start, end == std::string::npos ? end : end - start);
    size_t pos = 0;
    std::string payload;
    while (pos < event.size()) {
      size_t eol = event.find('\n', pos);
      std::string line = event.substr(pos, eol == std::string::npos ? eol : eol - pos);
      if (line.rfind("data: ", 0) == 0) {
        payload += line.substr(6);
      }
      pos = eol == std::string::npos ? event.size() : eol + 1;
    }
    if (!payload.empty()) {
      data.push_back(payload);
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 2;
  }
  return data;
}

// One TCP connection to 127.0.0.1:port, speaking just enough HTTP/1.1 for these tests.
class HttpClient {
 public:
  explicit HttpClient(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~HttpClient() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  bool connected() const { return fd_ >= 0; }

  bool SendRaw(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      done += static_cast<size_t>(n);
    }
    return true;
  }

  bool Send(const std::string& method, const std::string& body,
            const std::map<std::string, std::string>& headers = {},
            const std::string& path = "/mcp") {
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (method == "POST") {
      request += "Content-Type: application/json\r\n";
      request += "Accept: application/json, text/event-stream\r\n";
    }
    for (const auto& [name, value] : headers) {
      request += name + ": " + value + "\r\n";
    }
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return SendRaw(request);
  }

  // Reads the status line and headers only (for streams read incrementally afterwards).
  std::optional<HttpResponse> ReadHead(int timeout_ms = kWaitMs) {
    Deadline deadline(timeout_ms);
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) {
        return std::nullopt;
      }
    }
    HttpResponse response;
    std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    size_t eol = head.find("\r\n");
    std::string status_line = head.substr(0, eol);
    if (status_line.size() < 12) {
      return std::nullopt;
    }
    response.status = atoi(status_line.c_str() + 9);
    size_t pos = eol == std::string::npos ? head.size() : eol + 2;
    while (pos < head.size()) {
      size_t next = head.find("\r\n", pos);
      std::string line = head.substr(pos, next == std::string::npos ? next : next - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) {
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        size_t value_start = line.find_first_not_of(' ', colon + 1);
        response.headers[name] =
            value_start == std::string::npos ? std::string() : line.substr(value_start);
      }
      pos = next == std::string::npos ? head.size() : next + 2;
    }
    response.chunked = response.Header("transfer-encoding") == "chunked";
    return response;
  }

  // Reads the next chunk of a chunked body; an empty string is the last chunk. nullopt on
  // timeout or a closed connection.
  std::optional<std::string> ReadChunk(int timeout_ms = kWaitMs) {
    Deadline deadline(timeout_ms);
    size_t eol;
    while ((eol = buffer_.find("\r\n")) == std::string::npos) {
      if (!Fill(deadline)) {
        return std::nullopt;
      }
    }
    size_t size = strtoul(buffer_.substr(0, eol).c_str(), nullptr, 16);
    while (buffer_.size() < eol + 2 + size + 2) {
      if (!Fill(deadline)) {
        return std::nullopt;
      }
    }
    std::string chunk = buffer_.substr(eol + 2, size);
    buffer_.erase(0, eol + 2 + size + 2);
    return chunk;
  }

  // A whole response: Content-Length or chunked body.
  std::optional<HttpResponse> ReadResponse(int timeout_ms = kWaitMs) {
    Deadline deadline(timeout_ms);
    std::optional<HttpResponse> response = ReadHead(deadline.remaining_ms());
    if (!response) {
      return std::nullopt;
    }
    if (response->chunked) {
      while (true) {
        std::optional<std::string> chunk = ReadChunk(deadline.remaining_ms());
        if (!chunk) {
          return std::nullopt;
        }
        if (chunk->empty()) {
          return response;
        }
        response->body += *chunk;
      }
    }
    size_t length = strtoul(response->Header("content-length").c_str(), nullptr, 10);
    while (buffer_.size() < length) {
      if (!Fill(deadline)) {
        return std::nullopt;
      }
    }
    response->body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return response;
  }

  // True if the server closes the connection before the deadline (after any buffered bytes).
  bool WaitClosed(int timeout_ms = kWaitMs) {
    Deadline deadline(timeout_ms);
    while (Fill(deadline)) {
    }
    return closed_;
  }

 private:
  // Appends what arrives before the deadline; false on timeout, error or EOF.
  bool Fill(const Deadline& deadline) {
    if (fd_ < 0 || closed_) {
      return false;
    }
    pollfd pfd{fd_, POLLIN, 0};
    int ready = poll(&pfd, 1, deadline.remaining_ms());
    if (ready <= 0) {
      return false;
    }
    char chunk[16384];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool closed_ = false;
  std::string buffer_;
};

// Starts `mcp-example-server --http 127.0.0.1:0` and learns its port from the
// "listening on HOST:PORT" line on stderr. port() is 0 if that failed.
class HttpServerProcess {
 public:
  HttpServerProcess() : process_({"--http", "127.0.0.1:0"}) {
    if (!process_.started()) {
      return;
    }
    std::optional<std::string> line = process_.ReadStderrLine();
    const std::string prefix = "listening on 127.0.0.1:";
    if (line && line->rfind(prefix, 0) == 0) {
      port_ = atoi(line->c_str() + prefix.size());
    }
  }

  int port() const { return port_; }
  ServerProcess& process() { return process_; }

 private:
  ServerProcess process_;
  int port_ = 0;
};

}  // namespace portcullis::example_test
