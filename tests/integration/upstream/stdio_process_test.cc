// StdioProcess with real child processes (the example MCP server, /bin/sh, env, cat) on a
// libuv loop run by the test thread. Every wait is bounded; after each test no child of this
// process is left unreaped, every StdioProcess has deleted itself and the loop closes.
#include "gateway/upstream/stdio_process.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace portcullis::upstream {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr milliseconds kDeadline{20000};

// What the owner of a transport hears, in order.
class RecordingListener : public session::MessageTransportListener {
 public:
  void OnTransportMessage(std::string json) override {
    messages.push_back(json);
    events.push_back("message " + json);
  }
  void OnTransportFailed(const std::string& reason) override {
    failures.push_back(reason);
    events.push_back("failed " + reason);
    if (on_failed) {
      on_failed();
    }
  }

  std::vector<std::string> messages;
  std::vector<std::string> failures;
  std::vector<std::string> events;
  std::function<void()> on_failed;
};

// Keeps every log message of the default logger (the gateway's human log) for the test to
// read; restores the previous logger when destroyed.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    sink_ = std::make_shared<Sink>();
    auto logger = std::make_shared<spdlog::logger>("stdio-test", sink_);
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }

  std::vector<std::string> Lines() const {
    std::lock_guard<std::mutex> lock(sink_->lines_mutex);
    return sink_->lines;
  }
  bool Contains(const std::string& needle) const {
    for (const std::string& line : Lines()) {
      if (line.find(needle) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

 private:
  class Sink : public spdlog::sinks::base_sink<std::mutex> {
   public:
    std::mutex lines_mutex;
    std::vector<std::string> lines;

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      std::lock_guard<std::mutex> lock(lines_mutex);
      lines.emplace_back(msg.payload.data(), msg.payload.size());
    }
    void flush_() override {}
  };

  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<Sink> sink_;
};

// Children of this process that exited and were never reaped.
std::vector<int> ZombieChildren() {
  std::vector<int> zombies;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return zombies;
  }
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    long pid = strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') {
      continue;
    }
    std::ifstream in("/proc/" + std::string(entry->d_name) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) {
      continue;
    }
    std::istringstream rest(stat.substr(paren + 1));
    char state = 0;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == getpid() && state == 'Z') {
      zombies.push_back(static_cast<int>(pid));
    }
  }
  closedir(proc);
  return zombies;
}

// True once `pid` no longer runs: gone, or a zombie waiting for whoever inherited it.
bool ProcessGone(int pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) {
    return true;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) {
    return true;
  }
  char state = stat[paren + 2];
  return state == 'Z' || state == 'X';
}

class StdioProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A write to a dead child's stdin must be EPIPE, not the end of the test binary (the
    // gateway ignores SIGPIPE the same way, in reactor/server.cc).
    signal(SIGPIPE, SIG_IGN);
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    // A steady tick, so that UV_RUN_ONCE never blocks past a deadline check.
    uv_timer_init(&loop_, &tick_);
    uv_timer_start(
        &tick_, [](uv_timer_t*) {}, 10, 10);
    live_before_ = StdioProcess::LiveCount();
  }

  void TearDown() override {
    // Every test shut its processes down: they delete themselves once their handles closed.
    EXPECT_TRUE(RunUntil([this] { return OtherHandles() == 0; }))
        << OtherHandles() << " handles still open";
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    auto deadline = steady_clock::now() + kDeadline;
    while (uv_loop_close(&loop_) == UV_EBUSY && steady_clock::now() < deadline) {
      uv_run(&loop_, UV_RUN_NOWAIT);
    }
    EXPECT_EQ(StdioProcess::LiveCount(), live_before_);
    EXPECT_EQ(ZombieChildren(), std::vector<int>{});
  }

  bool RunUntil(const std::function<bool()>& done, milliseconds timeout = kDeadline) {
    auto deadline = steady_clock::now() + timeout;
    while (!done()) {
      if (steady_clock::now() > deadline) {
        return false;
      }
      uv_run(&loop_, UV_RUN_ONCE);
    }
    return true;
  }

  // Handles on the loop besides the test's tick: those of live StdioProcess objects.
  int OtherHandles() {
    int count = 0;
    struct Walk {
      uv_timer_t* tick;
      int* count;
    } walk{&tick_, &count};
    uv_walk(
        &loop_,
        [](uv_handle_t* handle, void* arg) {
          auto* w = static_cast<Walk*>(arg);
          if (handle != reinterpret_cast<uv_handle_t*>(w->tick)) {
            ++*w->count;
          }
        },
        &walk);
    return count;
  }

  StdioProcessOptions Options(std::vector<std::string> argv) {
    StdioProcessOptions options;
    options.name = "test";
    options.argv = std::move(argv);
    return options;
  }

  StdioProcess* SpawnOrDie(StdioProcessOptions options, RecordingListener* listener) {
    Result<StdioProcess*> process = StdioProcess::Spawn(&loop_, std::move(options), listener);
    EXPECT_TRUE(process.ok()) << process.error();
    return process.ok() ? process.value() : nullptr;
  }

  // Shuts `process` down and waits until it has deleted itself.
  void ShutdownAndWait(StdioProcess* process) {
    process->Shutdown();
    EXPECT_TRUE(RunUntil([this] { return OtherHandles() == 0; }));
  }

  uv_loop_t loop_;
  uv_timer_t tick_;
  int64_t live_before_ = 0;
};

std::string FindReply(const std::vector<std::string>& messages, int id) {
  for (const std::string& message : messages) {
    rapidjson::Document doc;
    doc.Parse(message.c_str(), message.size());
    if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("id") && doc["id"].IsInt() &&
        doc["id"].GetInt() == id) {
      return message;
    }
  }
  return "";
}

TEST_F(StdioProcessTest, ExampleServerAnswersInitializeAndToolsList) {
  LogCapture log;
  RecordingListener listener;
  StdioProcess* process =
      SpawnOrDie(Options({PORTCULLIS_BIN_DIR "/mcp-example-server"}), &listener);
  ASSERT_NE(process, nullptr);
  EXPECT_GT(process->pid(), 0);
  EXPECT_EQ(process->Describe(), "pid " + std::to_string(process->pid()));
  EXPECT_EQ(StdioProcess::LiveCount(), live_before_ + 1);

  process->Send(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",)"
      R"("capabilities":{},"clientInfo":{"name":"test","version":"1"}}})");
  ASSERT_TRUE(RunUntil([&] { return !FindReply(listener.messages, 1).empty(); }));
  rapidjson::Document init;
  init.Parse(FindReply(listener.messages, 1).c_str());
  ASSERT_TRUE(init.HasMember("result"));
  EXPECT_STREQ(init["result"]["serverInfo"]["name"].GetString(), "mcp-example-server");

  process->Send(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  process->Send(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})");
  ASSERT_TRUE(RunUntil([&] { return !FindReply(listener.messages, 2).empty(); }));
  rapidjson::Document list;
  list.Parse(FindReply(listener.messages, 2).c_str());
  ASSERT_TRUE(list.HasMember("result"));
  std::vector<std::string> names;
  for (const auto& tool : list["result"]["tools"].GetArray()) {
    names.push_back(tool["name"].GetString());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"echo", "add", "slow_count"}));

  ShutdownAndWait(process);
  EXPECT_TRUE(listener.failures.empty());
  // The server ends on stdin EOF, with status 0, before any signal.
  EXPECT_TRUE(log.Contains("exited with status 0"));
  EXPECT_FALSE(log.Contains("SIGTERM"));
}

TEST_F(StdioProcessTest, ChildSeesOnlyConfiguredEnvironmentPlusPathAndHome) {
  ASSERT_EQ(setenv("PORTCULLIS_STDIO_TEST_SECRET", "must-not-leak", 1), 0);
  RecordingListener listener;
  StdioProcessOptions options = Options({"env"});  // found through PATH
  options.env = {{"MCP_TOKEN", "t0ken"}, {"WITH_SPACES", "a b  c"}, {"EMPTY", ""}};
  StdioProcess* process = SpawnOrDie(std::move(options), &listener);
  unsetenv("PORTCULLIS_STDIO_TEST_SECRET");
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(RunUntil([&] { return !listener.failures.empty(); }));

  std::set<std::string> expected = {"MCP_TOKEN=t0ken", "WITH_SPACES=a b  c", "EMPTY="};
  for (const char* inherited : {"PATH", "HOME"}) {
    if (const char* value = getenv(inherited)) {
      expected.insert(std::string(inherited) + "=" + value);
    }
  }
  std::set<std::string> seen(listener.messages.begin(), listener.messages.end());
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(listener.failures, std::vector<std::string>{"exited with status 0"});
  ShutdownAndWait(process);
}

TEST_F(StdioProcessTest, ConfiguredPathOverridesTheGateways) {
  RecordingListener listener;
  StdioProcessOptions options = Options({"/usr/bin/env"});
  options.env = {{"PATH", "/nowhere"}};
  StdioProcess* process = SpawnOrDie(std::move(options), &listener);
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(RunUntil([&] { return !listener.failures.empty(); }));
  std::set<std::string> seen(listener.messages.begin(), listener.messages.end());
  EXPECT_EQ(seen.count("PATH=/nowhere"), 1u);
  EXPECT_EQ(seen.size(), getenv("HOME") != nullptr ? 2u : 1u);
  ShutdownAndWait(process);
}

TEST_F(StdioProcessTest, RunsInTheConfiguredDirectory) {
  RecordingListener listener;
  StdioProcessOptions options = Options({"/bin/pwd"});
  options.cwd = "/";
  StdioProcess* process = SpawnOrDie(std::move(options), &listener);
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(RunUntil([&] { return !listener.failures.empty(); }));
  EXPECT_EQ(listener.messages, std::vector<std::string>{"/"});
  ShutdownAndWait(process);
}

TEST_F(StdioProcessTest, ChildDoesNotInheritIgnoredSigpipe) {
  // The gateway ignores SIGPIPE; a server that writes to a closed pipe must still get it.
  RecordingListener listener;
  StdioProcess* process =
      SpawnOrDie(Options({"/bin/sh", "-c", "grep SigIgn /proc/self/status"}), &listener);
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(RunUntil([&] { return !listener.failures.empty(); }));
  ASSERT_EQ(listener.messages.size(), 1u);
  std::smatch match;
  ASSERT_TRUE(std::regex_search(listener.messages[0], match, std::regex("SigIgn:\\s*([0-9a-f]+)")))
      << listener.messages[0];
  unsigned long long ignored = std::stoull(match[1].str(), nullptr, 16);
  EXPECT_EQ(ignored & (1ull << (SIGPIPE - 1)), 0u) << listener.messages[0];
  ShutdownAndWait(process);
}

TEST_F(StdioProcessTest, StderrFloodDoesNotBlockStdout) {
  LogCapture log;
  RecordingListener listener;
  // 100k lines (~600 KB) is far more than a pipe holds: the child would block on stderr,
  // before ever writing the stdout line, if stderr were not drained.
  StdioProcessOptions options =
      Options({"/bin/sh", "-c", "seq 1 100000 >&2; echo '{\"done\":true}'; exec cat"});
  options.stderr_lines_per_second = 5;
  StdioProcess* process = SpawnOrDie(std::move(options), &listener);
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(RunUntil([&] { return !listener.messages.empty(); }));
  EXPECT_EQ(listener.messages, std::vector<std::string>{R"({"done":true})"});

  // Every stderr line is either logged or counted in a "suppressed" line (those come when a
  // one-second window ends).
  std::regex logged(R"(^upstream test \[pid \d+\]: (\d+)$)");
  std::regex suppressed(R"(^upstream test \[pid \d+\]: (\d+) stderr lines suppressed$)");
  uint64_t logged_lines = 0;
  uint64_t total = 0;
  auto account = [&] {
    logged_lines = 0;
    total = 0;
    for (const std::string& line : log.Lines()) {
      std::smatch match;
      if (std::regex_match(line, match, suppressed)) {
        total += std::stoull(match[1].str());
      } else if (std::regex_match(line, match, logged)) {
        ++logged_lines;
        ++total;
      }
    }
    return total == 100000;
  };
  EXPECT_TRUE(RunUntil(account)) << total << " stderr lines accounted for";
  EXPECT_LT(logged_lines, 1000u);
  EXPECT_GE(logged_lines, 5u);
  ShutdownAndWait(process);
}

TEST_F(StdioProcessTest, LineOfMaxBytesPassesAndLongerOneKillsTheProcess) {
  LogCapture log;
  RecordingListener listener;
  // A line of exactly 1024 bytes, then one of 1025; `exec cat` would run for ever otherwise.
  StdioProcessOptions options = Options(
      {"/bin/sh", "-c",
       "head -c 1024 /dev/zero | tr '\\0' a; echo; head -c 1025 /dev/zero | tr '\\0' b; echo; "
       "echo after; exec cat"});
  options.max_line_bytes = 1024;
  StdioProcess* process = SpawnOrDie(std::move(options), &listener);
  ASSERT_NE(process, nullptr);
  int pid = process->pid();
  ASSERT_TRUE(RunUntil([&] { return !listener.failures.empty(); }));
  EXPECT_EQ(listener.messages, std::vector<std::string>{std::string(1024, 'a')});
  EXPECT_EQ(listener.failures, std::vector<std::string>{"line longer than 1024 bytes on stdout"});
  EXPECT_TRUE(log.Contains("stdout line longer than 1024 bytes"));
  EXPECT_TRUE(RunUntil([&] { return ProcessGone(pid); }));
  // The exit that follows is not reported a second time.
  EXPECT_TRUE(RunUntil([&] { return log.Contains("killed by signal 9"); }));
  EXPECT_EQ(listener.failures.size(), 1u);
  ShutdownAndWait(process);
}

TEST_F(StdioProcessTest, ExitIsReportedOnceAfterEveryLine) {
  RecordingListener listener;
  // More lines than one read returns, written just before the exit: all arrive first.
  StdioProcess* process =
      SpawnOrDie(Options({"/bin/sh", "-c", "seq 1 20000; printf 'no newline'; exit 3"}), &listener);
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(RunUntil([&] { return !listener.failures.empty(); }));
  ASSERT_EQ(listener.events.size(), 20001u);
  EXPECT_EQ(listener.events.front(), "message 1");
  EXPECT_EQ(listener.events[19999], "message 20000");
  EXPECT_EQ(listener.events.back(), "failed exited with status 3");
  // Send() to a process that is gone does nothing.
  process->Send(R"({"jsonrpc":"2.0","id":1,"method":"ping"})");
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(listener.failures.size(), 1u);
  ShutdownAndWait(process);
}

TEST_F(StdioProcessTest, DeathBySignalIsReported) {
  RecordingListener listener;
  StdioProcess* process =
      SpawnOrDie(Options({"/bin/sh", "-c", "echo '{\"last\":1}'; kill -SEGV $$"}), &listener);
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(RunUntil([&] { return !listener.failures.empty(); }));
  EXPECT_EQ(listener.events,
            (std::vector<std::string>{R"(message {"last":1})", "failed killed by signal 11"}));
  ShutdownAndWait(process);
}

TEST_F(StdioProcessTest, ShutdownFromTheFailureCallback) {
  RecordingListener listener;
  StdioProcess* process = SpawnOrDie(Options({"/bin/sh", "-c", "exit 7"}), &listener);
  ASSERT_NE(process, nullptr);
  listener.on_failed = [process] { process->Shutdown(); };
  ASSERT_TRUE(RunUntil([&] { return OtherHandles() == 0; }));
  EXPECT_EQ(listener.failures, std::vector<std::string>{"exited with status 7"});
}

TEST_F(StdioProcessTest, SendWritesLinesTheChildReads) {
  RecordingListener listener;
  StdioProcess* process = SpawnOrDie(Options({"cat"}), &listener);
  ASSERT_NE(process, nullptr);
  std::string big(200000, 'x');  // more than a pipe holds: written in several steps
  process->Send(R"({"a":1})");
  process->Send(big);
  process->Send(R"({"b":2})");
  ASSERT_TRUE(RunUntil([&] { return listener.messages.size() == 3; }));
  EXPECT_EQ(listener.messages[0], R"({"a":1})");
  EXPECT_EQ(listener.messages[1], big);
  EXPECT_EQ(listener.messages[2], R"({"b":2})");
  ShutdownAndWait(process);
  EXPECT_TRUE(listener.failures.empty());
}

TEST_F(StdioProcessTest, ShutdownClosesStdinAndAWellBehavedChildExits) {
  LogCapture log;
  RecordingListener listener;
  StdioProcessOptions options = Options({"cat"});
  // Longer than the test's deadline: only stdin's end can make cat exit in time.
  options.stop_grace_ms = 60000;
  StdioProcess* process = SpawnOrDie(std::move(options), &listener);
  ASSERT_NE(process, nullptr);
  int pid = process->pid();
  // Queued just before Shutdown(): still written before stdin closes.
  process->Send("last words");
  ShutdownAndWait(process);
  EXPECT_TRUE(ProcessGone(pid));
  EXPECT_TRUE(log.Contains("exited with status 0"));
  EXPECT_TRUE(listener.failures.empty());
  EXPECT_TRUE(listener.messages.empty());  // the listener is detached at Shutdown()
}

TEST_F(StdioProcessTest, ShutdownKillsAChildThatIgnoresEofAndSigterm) {
  LogCapture log;
  RecordingListener listener;
  StdioProcessOptions options =
      Options({"/bin/sh", "-c", "trap '' TERM; sleep 1000 & echo $!; wait"});
  options.stop_grace_ms = 50;
  options.kill_grace_ms = 50;
  StdioProcess* process = SpawnOrDie(std::move(options), &listener);
  ASSERT_NE(process, nullptr);
  int pid = process->pid();
  ASSERT_TRUE(RunUntil([&] { return !listener.messages.empty(); }));  // the trap is set
  int grandchild = std::stoi(listener.messages[0]);
  ShutdownAndWait(process);
  EXPECT_TRUE(log.Contains("SIGTERM"));
  EXPECT_TRUE(log.Contains("SIGKILL"));
  EXPECT_TRUE(log.Contains("killed by signal 9"));
  EXPECT_TRUE(ProcessGone(pid));
  EXPECT_TRUE(RunUntil([&] { return ProcessGone(grandchild); }));
  EXPECT_TRUE(listener.failures.empty());
}

TEST_F(StdioProcessTest, ShutdownEndsTheWholeProcessGroup) {
  RecordingListener listener;
  // The grandchild holds stdout open and ignores stdin; the child exits on stdin's end.
  StdioProcess* process =
      SpawnOrDie(Options({"/bin/sh", "-c", "sleep 1000 & echo $!; exec cat"}), &listener);
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(RunUntil([&] { return !listener.messages.empty(); }));
  int grandchild = std::stoi(listener.messages[0]);
  ASSERT_FALSE(ProcessGone(grandchild));
  ShutdownAndWait(process);
  EXPECT_TRUE(RunUntil([&] { return ProcessGone(grandchild); }));
}

TEST_F(StdioProcessTest, ShutdownAfterTheExitJustCloses) {
  RecordingListener listener;
  StdioProcess* process = SpawnOrDie(Options({"/bin/true"}), &listener);
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(RunUntil([&] { return !listener.failures.empty(); }));
  EXPECT_EQ(StdioProcess::LiveCount(), live_before_);
  ShutdownAndWait(process);
}

TEST_F(StdioProcessTest, ShutdownRightAfterSpawn) {
  RecordingListener listener;
  StdioProcessOptions options = Options({"/bin/sh", "-c", "exec sleep 1000"});
  options.stop_grace_ms = 0;
  options.kill_grace_ms = 0;
  StdioProcess* process = SpawnOrDie(std::move(options), &listener);
  ASSERT_NE(process, nullptr);
  ShutdownAndWait(process);
  EXPECT_TRUE(listener.failures.empty());
}

TEST_F(StdioProcessTest, MissingProgramIsAnErrorAndLeavesNothing) {
  for (const char* program :
       {"/nonexistent/portcullis-no-such-server", "portcullis-no-such-server-in-path"}) {
    RecordingListener listener;
    Result<StdioProcess*> process = StdioProcess::Spawn(&loop_, Options({program}), &listener);
    ASSERT_FALSE(process.ok());
    EXPECT_NE(process.error().find(program), std::string::npos) << process.error();
    EXPECT_NE(process.error().find("ENOENT"), std::string::npos) << process.error();
    EXPECT_EQ(StdioProcess::LiveCount(), live_before_);
    // What was initialised is closed; TearDown checks the loop is empty.
    EXPECT_TRUE(RunUntil([this] { return OtherHandles() == 0; }));
    EXPECT_TRUE(listener.failures.empty());
  }
}

TEST_F(StdioProcessTest, BadCwdAndEmptyArgvAreErrors) {
  RecordingListener listener;
  StdioProcessOptions options = Options({"/bin/true"});
  options.cwd = "/nonexistent/portcullis-dir";
  Result<StdioProcess*> process = StdioProcess::Spawn(&loop_, std::move(options), &listener);
  EXPECT_FALSE(process.ok());
  Result<StdioProcess*> empty = StdioProcess::Spawn(&loop_, Options({}), &listener);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().find("no command"), std::string::npos) << empty.error();
  StdioProcessOptions bad_env = Options({"/bin/true"});
  bad_env.env = {{"A=B", "c"}};
  EXPECT_FALSE(StdioProcess::Spawn(&loop_, std::move(bad_env), &listener).ok());
  EXPECT_EQ(StdioProcess::LiveCount(), live_before_);
}

}  // namespace
}  // namespace portcullis::upstream
