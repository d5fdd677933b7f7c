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
// Shutdown(): close stdin, wait stop_grace_ms for the child to exit, SIGTERM the group, wait
// kill_grace_ms, SIGKILL the group; the object deletes itself after the exit is reaped and
// every handle closed. Reactor thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <string>
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
  ~StdioProcess() override;

  uv_loop_t* loop_;
  StdioProcessOptions options_;
  session::MessageTransportListener* listener_;
  int pid_ = 0;
  // The implementation adds its handles (uv_process_t, three uv_pipe_t, a uv_timer_t) and
  // state here.
};

}  // namespace portcullis::upstream
