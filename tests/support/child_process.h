// ChildProcess: a real program (the gateway, openssl s_server, a shell) run by a test.
//
// Start() forks and execs with stdin from /dev/null and stdout/stderr sent to files, so the test
// can wait for a log line without pipes that could fill up and block the child. The child leads
// its own process group; the destructor SIGKILLs that whole group (grandchildren included) and
// reaps the child, so a failing test never leaks processes. Every wait takes a timeout.
// RunCommand() is the one-shot form for short tools (the openssl CLI): output captured in memory,
// bounded by a timeout. Not thread-safe; one owner per object.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "portcullis/result.h"
#include "tests/support/temp_dir.h"

namespace portcullis::testing {

// Environment additions: each pair overrides or adds one variable of this process's environment.
using EnvVars = std::vector<std::pair<std::string, std::string>>;

// Ignores SIGPIPE in the test process once (writes to a dead peer must return EPIPE, not kill
// the test binary). Children get the default disposition back before exec. Idempotent.
void IgnoreSigpipeOnce();

// Resolves a program name through PATH the way execvp would; a name containing '/' is returned
// unchanged. Empty when not found.
std::string FindProgram(const std::string& name);

struct CommandResult {
  int exit_status = 0;  // exit code, or -signal if killed by a signal
  std::string out;
  std::string err;
};

// Runs argv to completion with `stdin_data` on its stdin. Fails (with the partial stderr) if the
// program cannot start or does not finish within timeout_ms, in which case it is killed. A
// non-zero exit is NOT an error here: look at exit_status.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv, int timeout_ms,
                                 std::string_view stdin_data = {}, const EnvVars& env = {});

class ChildProcess {
 public:
  struct Options {
    EnvVars env;              // added to this process's environment
    std::string working_dir;  // empty: the test's own working directory
    std::string stdout_path;  // empty: a file in this object's TempDir
    std::string stderr_path;  // empty: a file in this object's TempDir
  };

  ChildProcess() = default;
  // SIGKILLs the process group and reaps the child.
  ~ChildProcess();

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // argv[0] is looked up in PATH unless it contains '/'. Fails if the program cannot be
  // executed (the exec error is reported back through a close-on-exec pipe). Once per object.
  Status Start(const std::vector<std::string>& argv, const Options& options);
  Status Start(const std::vector<std::string>& argv, const EnvVars& env = {},
               const std::string& working_dir = "");

  pid_t pid() const { return pid_; }
  const std::string& stdout_path() const { return stdout_path_; }
  const std::string& stderr_path() const { return stderr_path_; }

  // Current contents of the child's stderr / stdout files.
  std::string Stderr() const;
  std::string Stdout() const;
  size_t StderrSize() const;

  // Polls the stderr file (from byte `from_offset` on) until ECMAScript `regex` matches, the
  // child exits (after one last look) or timeout_ms passes. On success *m (if given) refers into
  // a copy of the log kept by this object, valid until the next WaitFor* call.
  bool WaitForLog(const std::string& regex, int timeout_ms, std::smatch* m = nullptr,
                  size_t from_offset = 0);
  // The same on stdout (openssl s_server prints "ACCEPT host:port" there).
  bool WaitForStdout(const std::string& regex, int timeout_ms, std::smatch* m = nullptr);

  // Sends `sig` to the child only (not its group). False if it has already been reaped.
  bool Signal(int sig);

  // Waits up to timeout_ms for the child to exit; its exit code, or -signal. Returns the stored
  // status on later calls; std::nullopt on timeout or if never started.
  std::optional<int> Wait(int timeout_ms);

  // True while started and not yet reaped (reaps if it has exited).
  bool Running();

  // SIGKILLs the process group and reaps. Idempotent.
  void Kill();

 private:
  bool WaitForFile(const std::string& path, const std::string& regex, int timeout_ms,
                   std::smatch* m, size_t from_offset);
  bool Reap(bool block);

  std::unique_ptr<TempDir> dir_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  bool group_killed_ = false;
  std::string stdout_path_;
  std::string stderr_path_;
  std::string last_text_;  // what the last WaitFor* matched against
};

}  // namespace portcullis::testing
