// StdioProcess: one stdio MCP server child process, spoken to one JSON-RPC message per line
// (DESIGN §4a, notes/mcp-wire.md §1.1).
//
// Spawned with uv_spawn in a process group of its own (so that SIGTERM/SIGKILL reach its
// children too) with only the environment the config names, plus PATH and HOME taken from
// the gateway's: never the gateway's own environment. stdout is split into lines, each at
// most `max_line_bytes` (a longer line is a broken server: it is killed and the listener
// hears OnTransportFailed). stderr is drained line by line into the human log, rate-limited,
// so the pipe never fills and blocks the child. The exit is always reaped (libuv's exit
// callback), so no zombie is ever left.
//
// An exit that Shutdown() did not ask for reaches the listener as OnTransportFailed ("exited
// with status 3", "killed by signal 9"), once, and only after every complete stdout line was
// delivered. Whatever the child left in its group is SIGKILLed when it exits: nothing of a
// session outlives it, and an orphan holding stdout open would keep the end of stdout (and
// so the failure report) from coming; something that left the group may still hold it, so
// the wait for the end of stdout after the exit is bounded (1 s). Send() after the exit, or
// after Shutdown(), drops the message.
//
// Shutdown(): close stdin (after the messages already queued are written), wait
// stop_grace_ms for the child to exit, SIGTERM the group, wait kill_grace_ms, SIGKILL the
// group; the object deletes itself after the exit is reaped and every handle closed.
// Reactor thread only (any thread's loop will do); LiveCount() from any thread. The gateway
// must ignore SIGPIPE (a write to a dead child's stdin is then an EPIPE, not a dead gateway);
// libuv resets the child's signal dispositions before exec.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/session/message_transport.h"
#include "portcullis/result.h"

namespace portcullis::upstream {

struct StdioProcessOptions {
  std::string name;                        // the upstream's name, for the log
  std::vector<std::string> argv;           // argv[0] is looked up in PATH
  std::map<std::string, std::string> env;  // the child's environment, plus PATH and HOME
  std::string cwd;                         // empty = the gateway's
  size_t max_line_bytes = 4 << 20;         // limits.max_body_bytes
  uint32_t stop_grace_ms = 2000;           // stdin closed → SIGTERM
  uint32_t kill_grace_ms = 2000;           // SIGTERM → SIGKILL
  uint32_t stderr_lines_per_second = 20;   // beyond: counted, and one "suppressed" line
};

class StdioProcess : public session::MessageTransport {
 public:
  // Spawns the child. On failure (no such program, ...) nothing is left behind.
  static Result<StdioProcess*> Spawn(uv_loop_t* loop, StdioProcessOptions options,
                                     session::MessageTransportListener* listener);

  void Send(std::string json) override;
  void Shutdown() override;
  std::string Describe() const override;
  int pid() const { return pid_; }

  // Processes alive (spawned and not yet reaped) in this gateway, all reactors: a metric.
  static int64_t LiveCount();

 private:
  StdioProcess(uv_loop_t* loop, StdioProcessOptions options,
               session::MessageTransportListener* listener);
  StdioProcess(const StdioProcess&) = delete;
  StdioProcess& operator=(const StdioProcess&) = delete;
  ~StdioProcess() override;

  Status Start();
  // Spawn failed: close what was initialised; the last close callback deletes the object.
  void Abandon();

  static void OnExit(uv_process_t* process, int64_t exit_status, int term_signal);
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnStopGrace(uv_timer_t* timer);
  static void OnKillGrace(uv_timer_t* timer);
  static void OnDrainTimeout(uv_timer_t* timer);
  static void OnStderrWindow(uv_timer_t* timer);
  static void OnClose(uv_handle_t* handle);

  void OnStdoutBytes(const char* data, size_t len);
  void OnStderrBytes(const char* data, size_t len);
  void LogStderrLine(std::string_view line);
  void FlushSuppressed();
  void LineTooLong();
  void StdoutDone();
  void StderrDone();
  void MaybeFinish();
  void Finish();
  void KillGroup(int signum);
  void CloseStdin();
  void CloseAll();
  void Close(uv_handle_t* handle);

  uv_loop_t* loop_;
  StdioProcessOptions options_;
  session::MessageTransportListener* listener_;
  int pid_ = 0;

  // Every handle lives here by value and is freed only in its close callback; the object
  // deletes itself in the last one, once Shutdown() (or a failed Spawn) asked for it. The
  // timers are closed only then, so Shutdown() always has a close callback still to come
  // and never deletes the object under a caller.
  uv_process_t process_;
  uv_pipe_t stdin_;
  uv_pipe_t stdout_;
  uv_pipe_t stderr_;
  uv_timer_t timer_;         // stop grace, kill grace, or the stdout drain after the exit
  uv_timer_t stderr_timer_;  // ends a stderr rate window in which lines were suppressed
  int open_handles_ = 0;

  bool spawned_ = false;
  bool exited_ = false;    // the exit was reaped
  bool shutdown_ = false;  // Shutdown() was called (or Spawn failed)
  bool failed_ = false;    // the listener heard OnTransportFailed, or must never hear it
  bool stdout_done_ = false;
  bool stderr_done_ = false;
  bool close_stdin_when_flushed_ = false;
  std::string exit_reason_;  // "exited with status N" / "killed by signal S"

  std::string stdout_line_;  // a line still without its newline
  std::string stderr_line_;
  bool stderr_skipping_ = false;  // the rest of an overlong stderr line is dropped

  size_t queued_bytes_ = 0;  // written to stdin but not yet taken by the kernel
  size_t pending_writes_ = 0;

  uint64_t stderr_window_start_ = 0;  // uv_now() milliseconds
  uint32_t stderr_lines_in_window_ = 0;
  uint64_t stderr_suppressed_ = 0;
};

}  // namespace portcullis::upstream
