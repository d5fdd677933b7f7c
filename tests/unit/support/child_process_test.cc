#include "tests/support/child_process.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "tests/support/ports.h"
#include "tests/support/temp_dir.h"

namespace portcullis::testing {
namespace {

constexpr int kWaitMs = 10000;  // generous bound; the happy path takes milliseconds

// True while `pid` exists and is not a zombie (a reparented grandchild may linger as a zombie
// if nobody reaps it in this container; a zombie is dead for our purposes).
bool AliveNotZombie(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) {
    return false;
  }
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

TEST(ChildProcess, ReportsExitCode) {
  ChildProcess child;
  ASSERT_TRUE(child.Start({"/bin/sh", "-c", "exit 3"}).ok());
  EXPECT_GT(child.pid(), 0);
  EXPECT_EQ(child.Wait(kWaitMs), 3);
  EXPECT_EQ(child.Wait(0), 3) << "the status is remembered";
  EXPECT_FALSE(child.Running());
}

TEST(ChildProcess, WaitsForALogLineAndStopsOnSignal) {
  ChildProcess child;
  ASSERT_TRUE(child
                  .Start({"sh", "-c",
                          "echo 'booting'; echo 'listening on 127.0.0.1:4242' >&2; "
                          "exec sleep 30"})
                  .ok());
  std::smatch m;
  ASSERT_TRUE(child.WaitForLog(R"(listening on ([0-9.]+):(\d+))", kWaitMs, &m)) << child.Stderr();
  EXPECT_EQ(m[1].str(), "127.0.0.1");
  EXPECT_EQ(m[2].str(), "4242");
  EXPECT_EQ(ParseListeningPort(m[0].str()), 4242);
  EXPECT_TRUE(child.WaitForStdout("booting", kWaitMs));
  EXPECT_TRUE(child.Running());
  EXPECT_FALSE(child.Wait(20).has_value()) << "still sleeping";
  EXPECT_TRUE(child.Signal(SIGTERM));
  EXPECT_EQ(child.Wait(kWaitMs), -SIGTERM);
  EXPECT_FALSE(child.Signal(SIGTERM)) << "already reaped";
}

TEST(ChildProcess, WaitForLogSearchesFromAnOffset) {
  TempDir dir;
  std::string go = dir.File("go");
  ChildProcess child;
  // Prints "ready 1", then "ready 2" once the test creates the file $GO (bounded by the test:
  // the destructor kills the loop if the test fails first).
  ASSERT_TRUE(child
                  .Start({"sh", "-c",
                          "echo 'ready 1' >&2; while [ ! -e \"$GO\" ]; do sleep 0.01; done; "
                          "echo 'ready 2' >&2; exec sleep 30"},
                         {{"GO", go}})
                  .ok());
  ASSERT_TRUE(child.WaitForLog("ready 1", kWaitMs));
  size_t offset = child.StderrSize();
  EXPECT_FALSE(child.WaitForLog("ready", 50, nullptr, offset)) << "old lines are skipped";
  dir.Write("go", "");
  std::smatch m;
  ASSERT_TRUE(child.WaitForLog(R"(ready (\d))", kWaitMs, &m, offset)) << child.Stderr();
  EXPECT_EQ(m[1].str(), "2");
}

TEST(ChildProcess, WaitForLogGivesUpWhenTheChildExits) {
  ChildProcess child;
  ASSERT_TRUE(child.Start({"sh", "-c", "echo bye >&2; exit 0"}).ok());
  EXPECT_FALSE(child.WaitForLog("never printed", 60000));
  EXPECT_EQ(child.Wait(kWaitMs), 0);
  EXPECT_EQ(child.Stderr(), "bye\n");
}

TEST(ChildProcess, PassesEnvironmentAndWorkingDirectory) {
  TempDir dir;
  ChildProcess child;
  ASSERT_TRUE(child
                  .Start({"sh", "-c", "echo \"$PORTCULLIS_SELFTEST\"; pwd"},
                         {{"PORTCULLIS_SELFTEST", "forty two"}}, dir.path())
                  .ok());
  EXPECT_EQ(child.Wait(kWaitMs), 0);
  EXPECT_EQ(child.Stdout(), "forty two\n" + dir.path() + "\n");
}

TEST(ChildProcess, WritesToGivenPaths) {
  TempDir dir;
  ChildProcess::Options options;
  options.stdout_path = dir.File("out.log");
  options.stderr_path = dir.File("out.log");  // both into one file
  ChildProcess child;
  ASSERT_TRUE(child.Start({"sh", "-c", "echo one; echo two >&2"}, options).ok());
  EXPECT_EQ(child.Wait(kWaitMs), 0);
  EXPECT_EQ(TempDir::ReadFile(dir.File("out.log")), "one\ntwo\n");
}

TEST(ChildProcess, FailsToStartAMissingProgram) {
  ChildProcess missing;
  Status s = missing.Start({"/nonexistent/portcullis-nothing"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("No such file"), std::string::npos) << s.message();
  ChildProcess not_in_path;
  EXPECT_FALSE(not_in_path.Start({"portcullis-no-such-program"}).ok());
}

TEST(ChildProcess, DestructorKillsTheWholeProcessGroup) {
  pid_t grandchild = 0;
  {
    ChildProcess child;
    ASSERT_TRUE(child.Start({"sh", "-c", "sleep 30 & echo \"bg=$!\" >&2; wait"}).ok());
    std::smatch m;
    ASSERT_TRUE(child.WaitForLog(R"(bg=(\d+))", kWaitMs, &m)) << child.Stderr();
    grandchild = static_cast<pid_t>(std::stol(m[1].str()));
    ASSERT_TRUE(AliveNotZombie(grandchild));
  }
  // SIGKILL is delivered asynchronously; allow a bounded moment for the kernel.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
  while (AliveNotZombie(grandchild) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(AliveNotZombie(grandchild));
}

TEST(ChildProcess, KillIsIdempotentAndReportsSigkill) {
  ChildProcess child;
  ASSERT_TRUE(child.Start({"sleep", "30"}).ok());
  child.Kill();
  child.Kill();
  EXPECT_EQ(child.Wait(0), -SIGKILL);
}

TEST(ChildProcessRunCommand, CapturesOutputErrorAndStdin) {
  std::string big(1 << 20, 'x');  // larger than a pipe buffer, both ways
  Result<CommandResult> r = RunCommand({"sh", "-c", "cat; echo done >&2; exit 4"}, kWaitMs, big);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->exit_status, 4);
  EXPECT_EQ(r->out.size(), big.size());
  EXPECT_EQ(r->err, "done\n");
}

TEST(ChildProcessRunCommand, KillsACommandThatOverrunsItsTimeout) {
  Result<CommandResult> r = RunCommand({"sh", "-c", "echo partial >&2; exec sleep 30"}, 200);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("timed out"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("partial"), std::string::npos) << r.error();
}

TEST(ChildProcessRunCommand, ReportsAMissingProgram) {
  EXPECT_FALSE(RunCommand({"portcullis-no-such-program"}, kWaitMs).ok());
}

TEST(ChildProcessPorts, ParsesTheLastHostPortOfALine) {
  EXPECT_EQ(ParseListeningPort("ACCEPT 127.0.0.1:41447"), 41447);
  EXPECT_EQ(ParseListeningPort("ACCEPT [::]:8443"), 8443);
  EXPECT_EQ(ParseListeningPort("12:00:01 info listening on 0.0.0.0:9443 (reactor 0)"), 9443);
  EXPECT_EQ(ParseListeningPort("admin on localhost:9901"), 9901);
  EXPECT_EQ(ParseListeningPort("no port here"), 0);
  EXPECT_EQ(ParseListeningPort("bad 127.0.0.1:70000"), 0);
}

TEST(ChildProcessPorts, PicksALoopbackPort) { EXPECT_NE(PickFreeLoopbackPort(), 0); }

}  // namespace
}  // namespace portcullis::testing
