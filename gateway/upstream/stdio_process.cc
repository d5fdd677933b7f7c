#include "gateway/upstream/stdio_process.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace portcullis::upstream {
namespace {

std::atomic<int64_t> live_processes{0};

// After the exit, how long stdout and stderr may take to reach their end. Only something
// that left the child's process group (setsid) can hold them open longer.
constexpr uint64_t kOutputDrainMs = 1000;
// A stderr line is free-form text for the human log: longer ones are cut here.
constexpr size_t kMaxStderrLine = 4096;
constexpr uint64_t kStderrWindowMs = 1000;

struct WriteRequest {
  uv_write_t req;
  std::string data;  // owned until the write callback runs
};

// Reads use one buffer per thread: every byte is copied out (into a line or the log) before
// the read callback returns, and libuv never reads twice without calling it in between.
char* ThreadReadBuffer() {
  static thread_local char buffer[65536];
  return buffer;
}

uv_handle_t* AsHandle(void* handle) { return static_cast<uv_handle_t*>(handle); }

std::string UvError(int code) {
  return std::string(uv_strerror(code)) + " (" + uv_err_name(code) + ")";
}

// The child's environment: the configured variables, plus PATH and HOME from the gateway's
// unless the configuration names them itself. Nothing else of the gateway's environment
// (credentials, proxies, ...) reaches an upstream.
std::vector<std::string> ChildEnvironment(const std::map<std::string, std::string>& configured) {
  std::vector<std::string> env;
  for (const auto& [key, value] : configured) {
    env.push_back(key + "=" + value);
  }
  for (const char* inherited : {"PATH", "HOME"}) {
    const char* value = getenv(inherited);
    if (value != nullptr && configured.find(inherited) == configured.end()) {
      env.push_back(std::string(inherited) + "=" + value);
    }
  }
  return env;
}

// Control characters from an untrusted child must not forge or garble log lines.
std::string Printable(std::string_view line) {
  std::string out(line);
  for (char& c : out) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
      c = '?';
    }
  }
  return out;
}

}  // namespace

int64_t StdioProcess::LiveCount() { return live_processes.load(std::memory_order_relaxed); }

Result<StdioProcess*> StdioProcess::Spawn(uv_loop_t* loop, StdioProcessOptions options,
                                          session::MessageTransportListener* listener) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return Status::Error("upstream " + options.name + ": no command to run");
  }
  for (const auto& [key, value] : options.env) {
    if (key.empty() || key.find('=') != std::string::npos || key.find('\0') != std::string::npos ||
        value.find('\0') != std::string::npos) {
      return Status::Error("upstream " + options.name + ": invalid environment variable name \"" +
                           key + "\"");
    }
  }
  auto* self = new StdioProcess(loop, std::move(options), listener);
  Status status = self->Start();
  if (!status.ok()) {
    self->Abandon();
    return status;
  }
  return self;
}

StdioProcess::StdioProcess(uv_loop_t* loop, StdioProcessOptions options,
                           session::MessageTransportListener* listener)
    : loop_(loop), options_(std::move(options)), listener_(listener) {
  uv_pipe_init(loop_, &stdin_, 0);
  uv_pipe_init(loop_, &stdout_, 0);
  uv_pipe_init(loop_, &stderr_, 0);
  uv_timer_init(loop_, &timer_);
  uv_timer_init(loop_, &stderr_timer_);
  open_handles_ = 5;
  process_.data = this;
  stdin_.data = this;
  stdout_.data = this;
  stderr_.data = this;
  timer_.data = this;
  stderr_timer_.data = this;
}

StdioProcess::~StdioProcess() { assert(open_handles_ == 0); }

Status StdioProcess::Start() {
  std::vector<char*> args;
  for (std::string& arg : options_.argv) {
    args.push_back(arg.data());
  }
  args.push_back(nullptr);
  std::vector<std::string> env_strings = ChildEnvironment(options_.env);
  std::vector<char*> env;
  for (std::string& entry : env_strings) {
    env.push_back(entry.data());
  }
  env.push_back(nullptr);

  uv_stdio_container_t stdio[3];
  // The flags name the child's side: it reads stdin and writes stdout and stderr.
  stdio[0].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_READABLE_PIPE);
  stdio[0].data.stream = reinterpret_cast<uv_stream_t*>(&stdin_);
  stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = reinterpret_cast<uv_stream_t*>(&stdout_);
  stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[2].data.stream = reinterpret_cast<uv_stream_t*>(&stderr_);

  uv_process_options_t options = {};
  options.exit_cb = OnExit;
  options.file = args[0];
  options.args = args.data();
  options.env = env.data();
  options.cwd = options_.cwd.empty() ? nullptr : options_.cwd.c_str();
  // UV_PROCESS_DETACHED makes the child call setsid(): it leads a new session and process
  // group whose id is its pid, so kill(-pid) reaches everything it starts (unless that leaves
  // the group itself), and a terminal's signals meant for the gateway do not reach it.
  options.flags = UV_PROCESS_DETACHED;
  options.stdio_count = 3;
  options.stdio = stdio;

  int rc = uv_spawn(loop_, &process_, &options);
  // uv_spawn initialises the process handle whatever happens, so it is ours to close.
  ++open_handles_;
  process_.data = this;
  if (rc != 0) {
    return Status::Error("upstream " + options_.name + ": cannot run \"" + options_.argv[0] +
                         "\": " + UvError(rc));
  }
  spawned_ = true;
  pid_ = process_.pid;
  live_processes.fetch_add(1, std::memory_order_relaxed);
  stderr_window_start_ = uv_now(loop_);
  spdlog::debug("upstream {} [pid {}]: started {}", options_.name, pid_, options_.argv[0]);

  if (int err = uv_read_start(reinterpret_cast<uv_stream_t*>(&stdout_), OnAlloc, OnRead)) {
    spdlog::error("upstream {} [pid {}]: cannot read stdout: {}", options_.name, pid_,
                  UvError(err));
    StdoutDone();
  }
  if (int err = uv_read_start(reinterpret_cast<uv_stream_t*>(&stderr_), OnAlloc, OnRead)) {
    spdlog::error("upstream {} [pid {}]: cannot read stderr: {}", options_.name, pid_,
                  UvError(err));
    StderrDone();
  }
  return Status::Ok();
}

void StdioProcess::Abandon() {
  listener_ = nullptr;
  shutdown_ = true;
  failed_ = true;
  CloseAll();
}

std::string StdioProcess::Describe() const { return "pid " + std::to_string(pid_); }

void StdioProcess::Send(std::string json) {
  if (exited_ || shutdown_ || failed_ || uv_is_closing(AsHandle(&stdin_))) {
    return;  // nobody is listening any more; the owner hears (or heard) why
  }
  auto* write = new WriteRequest;
  write->data = std::move(json);
  write->data.push_back('\n');
  write->req.data = write;
  uv_buf_t buf = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
  int rc = uv_write(&write->req, reinterpret_cast<uv_stream_t*>(&stdin_), &buf, 1, OnWrite);
  if (rc != 0) {
    // The child closed its stdin: its exit (or the line it is writing) tells the rest.
    spdlog::debug("upstream {} [pid {}]: write to stdin: {}", options_.name, pid_, UvError(rc));
    delete write;
    return;
  }
  ++pending_writes_;
  queued_bytes_ += write->data.size();
}

void StdioProcess::OnWrite(uv_write_t* req, int status) {
  auto* write = static_cast<WriteRequest*>(req->data);
  auto* self = static_cast<StdioProcess*>(req->handle->data);
  --self->pending_writes_;
  self->queued_bytes_ -= write->data.size();
  if (status < 0 && status != UV_ECANCELED) {
    // EPIPE: the child is gone or closed stdin. Its exit is what the listener hears.
    spdlog::debug("upstream {} [pid {}]: write to stdin: {}", self->options_.name, self->pid_,
                  UvError(status));
  }
  delete write;
  if (self->close_stdin_when_flushed_ && self->pending_writes_ == 0) {
    self->CloseStdin();
  }
}

void StdioProcess::Shutdown() {
  listener_ = nullptr;
  if (shutdown_) {
    return;
  }
  shutdown_ = true;
  if (exited_) {
    CloseAll();
    return;
  }
  // What was queued (a notifications/cancelled, say) still goes out; then stdin ends, which
  // is how a stdio server is asked to stop (MCP stdio transport, "Shutdown").
  if (pending_writes_ == 0) {
    CloseStdin();
  } else {
    close_stdin_when_flushed_ = true;
  }
  uv_timer_start(&timer_, OnStopGrace, options_.stop_grace_ms, 0);
}

void StdioProcess::OnStopGrace(uv_timer_t* timer) {
  auto* self = static_cast<StdioProcess*>(timer->data);
  self->CloseStdin();
  spdlog::info("upstream {} [pid {}]: still running {} ms after stdin closed; SIGTERM",
               self->options_.name, self->pid_, self->options_.stop_grace_ms);
  self->KillGroup(SIGTERM);
  uv_timer_start(&self->timer_, OnKillGrace, self->options_.kill_grace_ms, 0);
}

void StdioProcess::OnKillGrace(uv_timer_t* timer) {
  auto* self = static_cast<StdioProcess*>(timer->data);
  spdlog::warn("upstream {} [pid {}]: still running {} ms after SIGTERM; SIGKILL",
               self->options_.name, self->pid_, self->options_.kill_grace_ms);
  self->KillGroup(SIGKILL);
}

void StdioProcess::KillGroup(int signum) {
  if (!spawned_) {
    return;
  }
  // ESRCH: the group is already empty. Anything else would be a bug in how pid_ is kept.
  if (kill(-pid_, signum) != 0 && errno != ESRCH) {
    spdlog::error("upstream {} [pid {}]: kill(-{}, {}): {}", options_.name, pid_, pid_, signum,
                  strerror(errno));
  }
}

void StdioProcess::OnExit(uv_process_t* process, int64_t exit_status, int term_signal) {
  auto* self = static_cast<StdioProcess*>(process->data);
  live_processes.fetch_sub(1, std::memory_order_relaxed);
  self->exited_ = true;
  self->exit_reason_ = term_signal != 0 ? "killed by signal " + std::to_string(term_signal)
                                        : "exited with status " + std::to_string(exit_status);
  if (self->shutdown_) {
    spdlog::debug("upstream {} [pid {}]: {}", self->options_.name, self->pid_, self->exit_reason_);
  } else {
    spdlog::warn("upstream {} [pid {}]: {}", self->options_.name, self->pid_, self->exit_reason_);
  }
  // The leader is reaped; the group id cannot be reused while members remain, so this reaches
  // only what the child left behind.
  self->KillGroup(SIGKILL);
  uv_timer_stop(&self->timer_);
  self->Close(AsHandle(&self->process_));
  self->CloseStdin();
  if (self->stdout_done_ && self->stderr_done_) {
    self->Finish();
  } else {
    uv_timer_start(&self->timer_, OnDrainTimeout, kOutputDrainMs, 0);
  }
}

void StdioProcess::OnDrainTimeout(uv_timer_t* timer) {
  auto* self = static_cast<StdioProcess*>(timer->data);
  spdlog::warn("upstream {} [pid {}]: output still open {} ms after the exit; closing it",
               self->options_.name, self->pid_, kOutputDrainMs);
  // Finish() runs once: StdoutDone() and StderrDone() each call MaybeFinish(), which only
  // acts when both are done.
  if (!self->stdout_done_) {
    self->StdoutDone();
  }
  if (!self->stderr_done_) {
    self->StderrDone();
  }
}

void StdioProcess::MaybeFinish() {
  if (exited_ && stdout_done_ && stderr_done_) {
    Finish();
  }
}

void StdioProcess::Finish() {
  uv_timer_stop(&timer_);
  if (!failed_ && !shutdown_ && listener_ != nullptr) {
    failed_ = true;
    // The listener may call Shutdown() from here; it closes the handles, the object lives on
    // until their close callbacks.
    listener_->OnTransportFailed(exit_reason_);
  }
  if (shutdown_) {
    CloseAll();
  }
}

void StdioProcess::OnAlloc(uv_handle_t* /*handle*/, size_t /*suggested*/, uv_buf_t* buf) {
  buf->base = ThreadReadBuffer();
  buf->len = 65536;
}

void StdioProcess::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<StdioProcess*>(stream->data);
  bool is_stdout = stream == reinterpret_cast<uv_stream_t*>(&self->stdout_);
  if (nread > 0) {
    if (is_stdout) {
      self->OnStdoutBytes(buf->base, static_cast<size_t>(nread));
    } else {
      self->OnStderrBytes(buf->base, static_cast<size_t>(nread));
    }
    return;
  }
  if (nread == 0) {
    return;  // EAGAIN
  }
  if (nread != UV_EOF) {
    spdlog::warn("upstream {} [pid {}]: reading {}: {}", self->options_.name, self->pid_,
                 is_stdout ? "stdout" : "stderr", UvError(static_cast<int>(nread)));
  }
  if (is_stdout) {
    if (!self->stdout_line_.empty()) {
      // Only a newline ends a message; these bytes were cut off by the exit.
      spdlog::warn("upstream {} [pid {}]: stdout ended inside a line ({} bytes dropped)",
                   self->options_.name, self->pid_, self->stdout_line_.size());
    }
    self->StdoutDone();
  } else {
    if (!self->stderr_line_.empty()) {
      self->LogStderrLine(self->stderr_line_);
    }
    self->StderrDone();
  }
}

void StdioProcess::OnStdoutBytes(const char* data, size_t len) {
  while (len > 0 && !stdout_done_) {
    const char* newline = static_cast<const char*>(memchr(data, '\n', len));
    size_t take = newline != nullptr ? static_cast<size_t>(newline - data) : len;
    if (stdout_line_.size() + take > options_.max_line_bytes) {
      LineTooLong();
      return;
    }
    if (newline == nullptr) {
      stdout_line_.append(data, take);
      return;
    }
    std::string line;
    if (stdout_line_.empty()) {
      line.assign(data, take);
    } else {
      stdout_line_.append(data, take);
      line = std::move(stdout_line_);
      stdout_line_.clear();
    }
    data += take + 1;
    len -= take + 1;
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    // Blank lines carry no message. After Shutdown() lines are read (the pipe must not
    // block the child's exit) and dropped.
    if (!line.empty() && listener_ != nullptr) {
      listener_->OnTransportMessage(std::move(line));
    }
  }
}

void StdioProcess::LineTooLong() {
  spdlog::warn("upstream {} [pid {}]: stdout line longer than {} bytes; killing the process",
               options_.name, pid_, options_.max_line_bytes);
  stdout_line_.clear();
  stdout_line_.shrink_to_fit();
  KillGroup(SIGKILL);
  // Reported before StdoutDone(): if the exit was already reaped, that would report it, and
  // this is the better reason. The exit that follows is not reported again.
  if (!failed_ && !shutdown_ && listener_ != nullptr) {
    failed_ = true;
    listener_->OnTransportFailed("line longer than " + std::to_string(options_.max_line_bytes) +
                                 " bytes on stdout");
  }
  failed_ = true;
  StdoutDone();
}

void StdioProcess::StdoutDone() {
  if (stdout_done_) {
    return;
  }
  stdout_done_ = true;
  Close(AsHandle(&stdout_));
  MaybeFinish();
}

void StdioProcess::OnStderrBytes(const char* data, size_t len) {
  while (len > 0) {
    const char* newline = static_cast<const char*>(memchr(data, '\n', len));
    size_t take = newline != nullptr ? static_cast<size_t>(newline - data) : len;
    if (!stderr_skipping_) {
      size_t room = kMaxStderrLine - stderr_line_.size();
      stderr_line_.append(data, std::min(take, room));
      if (take > room) {
        LogStderrLine(stderr_line_ + " [truncated]");
        stderr_line_.clear();
        stderr_skipping_ = true;
      }
    }
    if (newline == nullptr) {
      return;
    }
    if (!stderr_skipping_) {
      if (!stderr_line_.empty() && stderr_line_.back() == '\r') {
        stderr_line_.pop_back();
      }
      LogStderrLine(stderr_line_);
    }
    stderr_line_.clear();
    stderr_skipping_ = false;
    data += take + 1;
    len -= take + 1;
  }
}

void StdioProcess::LogStderrLine(std::string_view line) {
  uint64_t now = uv_now(loop_);
  if (stderr_suppressed_ == 0 && now - stderr_window_start_ >= kStderrWindowMs) {
    stderr_window_start_ = now;
    stderr_lines_in_window_ = 0;
  }
  if (stderr_lines_in_window_ < options_.stderr_lines_per_second) {
    ++stderr_lines_in_window_;
    spdlog::info("upstream {} [pid {}]: {}", options_.name, pid_, Printable(line));
    return;
  }
  // Over the rate: count, and say how many once the window ends (OnStderrWindow), so a chatty
  // or hostile child cannot flood the log yet its lines never wait in the pipe.
  if (stderr_suppressed_++ == 0) {
    uint64_t elapsed = now - stderr_window_start_;
    uint64_t left = elapsed < kStderrWindowMs ? kStderrWindowMs - elapsed : 1;
    uv_timer_start(&stderr_timer_, OnStderrWindow, left, 0);
  }
}

void StdioProcess::OnStderrWindow(uv_timer_t* timer) {
  auto* self = static_cast<StdioProcess*>(timer->data);
  self->FlushSuppressed();
  self->stderr_window_start_ = uv_now(self->loop_);
  self->stderr_lines_in_window_ = 0;
}

void StdioProcess::FlushSuppressed() {
  if (stderr_suppressed_ == 0) {
    return;
  }
  spdlog::info("upstream {} [pid {}]: {} stderr lines suppressed", options_.name, pid_,
               stderr_suppressed_);
  stderr_suppressed_ = 0;
  uv_timer_stop(&stderr_timer_);
}

void StdioProcess::StderrDone() {
  if (stderr_done_) {
    return;
  }
  stderr_done_ = true;
  FlushSuppressed();
  Close(AsHandle(&stderr_));
  MaybeFinish();
}

void StdioProcess::CloseStdin() {
  close_stdin_when_flushed_ = false;
  // Closing cancels writes still queued: their callbacks run (UV_ECANCELED) before ours.
  Close(AsHandle(&stdin_));
}

void StdioProcess::CloseAll() {
  // Only an exited (reaped) child's handle may close: closing it earlier would stop libuv
  // from ever reaping the child, leaving a zombie. A failed spawn has no child.
  assert(exited_ || !spawned_);
  uv_timer_stop(&timer_);
  FlushSuppressed();
  stdout_done_ = true;
  stderr_done_ = true;
  Close(AsHandle(&process_));
  Close(AsHandle(&stdin_));
  Close(AsHandle(&stdout_));
  Close(AsHandle(&stderr_));
  Close(AsHandle(&timer_));
  Close(AsHandle(&stderr_timer_));
}

void StdioProcess::Close(uv_handle_t* handle) {
  if (!uv_is_closing(handle)) {
    uv_close(handle, OnClose);
  }
}

void StdioProcess::OnClose(uv_handle_t* handle) {
  auto* self = static_cast<StdioProcess*>(handle->data);
  --self->open_handles_;
  if (self->open_handles_ == 0 && self->shutdown_) {
    delete self;
  }
}

}  // namespace portcullis::upstream
