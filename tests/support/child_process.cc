#include "tests/support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <mutex>
#include <thread>

extern char** environ;

namespace portcullis::testing {
namespace {

using Clock = std::chrono::steady_clock;

int MsLeft(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return -WTERMSIG(status);
  }
  return -1;
}

std::string ErrnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Everything the child needs, prepared before fork(): after fork() in a threaded process only
// async-signal-safe calls are allowed, so no allocation happens in the child.
struct SpawnSpec {
  std::string program;  // resolved path
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::string working_dir;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

std::vector<std::string> MergeEnv(const EnvVars& additions) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view key = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& [k, v] : additions) {
      if (k == key) {
        overridden = true;
        break;
      }
    }
    if (!overridden) {
      out.emplace_back(entry);
    }
  }
  for (const auto& [k, v] : additions) {
    out.push_back(k + "=" + v);
  }
  return out;
}

[[noreturn]] void ChildAfterFork(const SpawnSpec& spec, char* const* argv, char* const* envp,
                                 int error_fd) {
  setpgid(0, 0);
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) {
      signal(sig, SIG_DFL);
    }
  }
  // dup2 onto 0/1/2 clears close-on-exec on the copies; the originals close at exec.
  if (dup2(spec.stdin_fd, 0) < 0 || dup2(spec.stdout_fd, 1) < 0 || dup2(spec.stderr_fd, 2) < 0) {
    int err = errno;
    (void)!write(error_fd, &err, sizeof(err));
    _exit(127);
  }
  if (!spec.working_dir.empty() && chdir(spec.working_dir.c_str()) != 0) {
    int err = errno;
    (void)!write(error_fd, &err, sizeof(err));
    _exit(127);
  }
  // Nothing else the test process holds (listening sockets, other children's pipes) may leak
  // into the child. error_fd stays open until exec succeeds.
  if (close_range(3, UINT_MAX, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < 4096; ++fd) {
      fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
  }
  execve(spec.program.c_str(), argv, envp);
  int err = errno;
  (void)!write(error_fd, &err, sizeof(err));
  _exit(127);
}

Result<pid_t> Spawn(const SpawnSpec& spec) {
  IgnoreSigpipeOnce();
  std::vector<char*> argv;
  for (const auto& a : spec.argv) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : spec.envp) {
    envp.push_back(const_cast<char*>(e.c_str()));
  }
  envp.push_back(nullptr);

  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0) {
    return Status::Error(ErrnoText("pipe2"));
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(error_pipe[0]);
    close(error_pipe[1]);
    return Status::Error(ErrnoText("fork"));
  }
  if (pid == 0) {
    close(error_pipe[0]);
    ChildAfterFork(spec, argv.data(), envp.data(), error_pipe[1]);
  }
  setpgid(pid, pid);  // also in the parent, so a kill(-pid) right after Start() cannot miss
  close(error_pipe[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(error_pipe[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  close(error_pipe[0]);
  if (n > 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    return Status::Error("cannot execute " + spec.program + ": " + std::strerror(child_errno));
  }
  return pid;
}

void KillGroupAndReap(pid_t pid) {
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

void IgnoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] { signal(SIGPIPE, SIG_IGN); });
}

std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    return name;
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) {
      end = path.size();
    }
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return "";
}

Result<CommandResult> RunCommand(const std::vector<std::string>& argv, int timeout_ms,
                                 std::string_view stdin_data, const EnvVars& env) {
  if (argv.empty()) {
    return Status::Error("RunCommand: empty argv");
  }
  SpawnSpec spec;
  spec.program = FindProgram(argv[0]);
  if (spec.program.empty()) {
    return Status::Error(argv[0] + ": not found in PATH");
  }
  spec.argv = argv;
  spec.envp = MergeEnv(env);

  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) {
    return Status::Error(ErrnoText("pipe2"));
  }
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    close(in_pipe[0]);
    close(in_pipe[1]);
    return Status::Error(ErrnoText("pipe2"));
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) {
      close(fd);
    }
    return Status::Error(ErrnoText("pipe2"));
  }
  spec.stdin_fd = in_pipe[0];
  spec.stdout_fd = out_pipe[1];
  spec.stderr_fd = err_pipe[1];
  Result<pid_t> pid = Spawn(spec);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (!pid.ok()) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    return pid.status();
  }

  int in_fd = in_pipe[1];
  int out_fd = out_pipe[0];
  int err_fd = err_pipe[0];
  fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
  size_t written = 0;
  if (stdin_data.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  CommandResult result;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  bool timed_out = false;
  while (out_fd >= 0 || err_fd >= 0) {
    pollfd fds[3];
    int nfds = 0;
    int in_idx = -1, out_idx = -1, err_idx = -1;
    if (in_fd >= 0) {
      in_idx = nfds;
      fds[nfds++] = {in_fd, POLLOUT, 0};
    }
    if (out_fd >= 0) {
      out_idx = nfds;
      fds[nfds++] = {out_fd, POLLIN, 0};
    }
    if (err_fd >= 0) {
      err_idx = nfds;
      fds[nfds++] = {err_fd, POLLIN, 0};
    }
    int left = MsLeft(deadline);
    if (left == 0) {
      timed_out = true;
      break;
    }
    int rc = poll(fds, nfds, left);
    if (rc < 0 && errno != EINTR) {
      break;
    }
    if (rc <= 0) {
      continue;
    }
    if (in_idx >= 0 && fds[in_idx].revents != 0) {
      ssize_t n = write(in_fd, stdin_data.data() + written, stdin_data.size() - written);
      if (n > 0) {
        written += static_cast<size_t>(n);
      }
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_data.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
    for (auto [idx, fd, sink] :
         {std::tuple{out_idx, &out_fd, &result.out}, std::tuple{err_idx, &err_fd, &result.err}}) {
      if (idx >= 0 && fds[idx].revents != 0) {
        char buf[16384];
        ssize_t n = read(*fd, buf, sizeof(buf));
        if (n > 0) {
          sink->append(buf, static_cast<size_t>(n));
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          close(*fd);
          *fd = -1;
        }
      }
    }
  }
  for (int fd : {in_fd, out_fd, err_fd}) {
    if (fd >= 0) {
      close(fd);
    }
  }
  // Output is closed; the exit itself follows promptly, but stays bounded by the same deadline.
  int status = 0;
  bool reaped = false;
  while (!timed_out) {
    pid_t r = waitpid(*pid, &status, WNOHANG);
    if (r == *pid) {
      reaped = true;
      break;
    }
    if (r < 0 && errno != EINTR) {
      break;
    }
    if (MsLeft(deadline) == 0) {
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!reaped) {
    KillGroupAndReap(*pid);
  }
  if (timed_out) {
    return Status::Error(argv[0] + " timed out after " + std::to_string(timeout_ms) +
                         " ms; stderr: " + result.err);
  }
  result.exit_status = DecodeStatus(status);
  return result;
}

ChildProcess::~ChildProcess() { Kill(); }

Status ChildProcess::Start(const std::vector<std::string>& argv, const EnvVars& env,
                           const std::string& working_dir) {
  Options options;
  options.env = env;
  options.working_dir = working_dir;
  return Start(argv, options);
}

Status ChildProcess::Start(const std::vector<std::string>& argv, const Options& options) {
  if (pid_ > 0) {
    return Status::Error("ChildProcess::Start called twice");
  }
  if (argv.empty()) {
    return Status::Error("ChildProcess::Start: empty argv");
  }
  SpawnSpec spec;
  spec.program = FindProgram(argv[0]);
  if (spec.program.empty()) {
    return Status::Error(argv[0] + ": not found in PATH");
  }
  spec.argv = argv;
  spec.envp = MergeEnv(options.env);
  spec.working_dir = options.working_dir;
  if (options.stdout_path.empty() || options.stderr_path.empty()) {
    dir_ = std::make_unique<TempDir>("child");
  }
  stdout_path_ = options.stdout_path.empty() ? dir_->File("stdout") : options.stdout_path;
  stderr_path_ = options.stderr_path.empty() ? dir_->File("stderr") : options.stderr_path;

  int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  spec.stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  spec.stdout_fd = open(stdout_path_.c_str(), flags, 0644);
  spec.stderr_fd =
      stderr_path_ == stdout_path_ ? dup(spec.stdout_fd) : open(stderr_path_.c_str(), flags, 0644);
  Status status;
  if (spec.stdin_fd < 0 || spec.stdout_fd < 0 || spec.stderr_fd < 0) {
    status = Status::Error(ErrnoText(("cannot open output files for " + argv[0]).c_str()));
  } else {
    Result<pid_t> pid = Spawn(spec);
    if (pid.ok()) {
      pid_ = *pid;
    } else {
      status = pid.status();
    }
  }
  for (int fd : {spec.stdin_fd, spec.stdout_fd, spec.stderr_fd}) {
    if (fd >= 0) {
      close(fd);
    }
  }
  return status;
}

std::string ChildProcess::Stderr() const { return TempDir::ReadFile(stderr_path_); }

std::string ChildProcess::Stdout() const { return TempDir::ReadFile(stdout_path_); }

size_t ChildProcess::StderrSize() const {
  struct stat st;
  if (stderr_path_.empty() || stat(stderr_path_.c_str(), &st) != 0) {
    return 0;
  }
  return static_cast<size_t>(st.st_size);
}

bool ChildProcess::WaitForLog(const std::string& regex, int timeout_ms, std::smatch* m,
                              size_t from_offset) {
  return WaitForFile(stderr_path_, regex, timeout_ms, m, from_offset);
}

bool ChildProcess::WaitForStdout(const std::string& regex, int timeout_ms, std::smatch* m) {
  return WaitForFile(stdout_path_, regex, timeout_ms, m, 0);
}

bool ChildProcess::WaitForFile(const std::string& path, const std::string& regex, int timeout_ms,
                               std::smatch* m, size_t from_offset) {
  if (pid_ <= 0) {
    return false;
  }
  std::regex re(regex, std::regex::ECMAScript);
  std::smatch local;
  std::smatch* match = m != nullptr ? m : &local;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    // Look once more after the child has exited: its last lines may have arrived meanwhile.
    bool exited = !Running();
    std::string text = TempDir::ReadFile(path);
    last_text_ = from_offset < text.size() ? text.substr(from_offset) : std::string();
    if (std::regex_search(last_text_, *match, re)) {
      return true;
    }
    if (exited || MsLeft(deadline) == 0) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool ChildProcess::Signal(int sig) {
  if (pid_ <= 0 || exit_status_.has_value()) {
    return false;
  }
  return kill(pid_, sig) == 0;
}

bool ChildProcess::Reap(bool block) {
  if (pid_ <= 0) {
    return false;
  }
  if (exit_status_.has_value()) {
    return true;
  }
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    exit_status_ = DecodeStatus(status);
    return true;
  }
  return false;
}

std::optional<int> ChildProcess::Wait(int timeout_ms) {
  if (pid_ <= 0) {
    return std::nullopt;
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!Reap(false)) {
    if (MsLeft(deadline) == 0) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return exit_status_;
}

bool ChildProcess::Running() { return pid_ > 0 && !Reap(false); }

void ChildProcess::Kill() {
  if (pid_ <= 0 || group_killed_) {
    return;
  }
  // The group may outlive its leader (a gateway's stdio upstreams): kill it even after reaping.
  group_killed_ = true;
  kill(-pid_, SIGKILL);
  if (!exit_status_.has_value()) {
    kill(pid_, SIGKILL);
    Reap(true);
  }
}

}  // namespace portcullis::testing
