// Policy reload (issue 3, "Hot reload"): SIGHUP, an atomic replacement, an in-place rewrite and a
// Kubernetes-style ..data symlink swap each switch the decisions of new requests; a broken or
// missing file is reported (file:line:col) and the last good policy stays; a request in flight
// finishes under the policy it started with; and under a steady stream of calls across the
// changes no request fails. Every wait is bounded; the switch is observed through the
// "policy reloaded" log line, never through timing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/gateway/policy_fixture.h"

namespace portcullis::gateway_test {
namespace {

using Clock = std::chrono::steady_clock;
using testing::SseReader;

// v1: agent-1 may call "echo" (not "add") on the echo upstream, and every tool of the example
// server. v2 turns the echo decisions round and keeps only "echo" on the example server.
constexpr char kV1[] = R"({
  "rules": [
    {"name": "v1", "match": [{"cn": "agent-1"}],
     "grant": {"echo": {"tools": ["echo"]}, "example": {"tools": ["*"]}}}
  ]
})";
constexpr char kV2[] = R"({
  "rules": [
    {"name": "v2", "match": [{"cn": "agent-1"}],
     "grant": {"echo": {"tools": ["add"]}, "example": {"tools": ["echo"]}}}
  ]
})";
// An unknown key on line 5 (did you mean "tools"?), and a rule that would allow everything.
constexpr char kBroken[] = R"({
  "rules": [
    {"name": "broken", "match": [{"cn": "agent-1"}],
     "grant": {"echo": {"tools": ["*"],
                        "tool": ["add"]}}}
  ]
})";
constexpr char kBrokenKey[] = "\"tool\"";

constexpr char kReloadedByWatch[] = "file changed: policy reloaded from";
constexpr char kReloadedBySighup[] = "SIGHUP: policy reloaded from";
constexpr char kKeptLastGood[] = "keeping the last good one";

class GatewayPolicyReload : public PolicyTestBase {
 protected:
  // `layout` runs after the gateway's directory exists and before the gateway starts, so a
  // test can make policy.json a symlink (GatewayProcess writes the policy through it).
  void Start(const std::function<void()>& layout = {}, int reactors = 1) {
    ASSERT_TRUE(echo_.ok()) << echo_.error();
    Status s = example_.Start();
    ASSERT_TRUE(s.ok()) << s.message();
    if (layout) {
      layout();
    }
    GatewayConfig config;
    config.reactors = reactors;
    config.AddUpstream("echo", echo_.url());
    config.AddUpstream("example", example_.url());
    config.policy = kV1;
    s = gateway_.Start(config);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  std::string PolicyPath() const { return gateway_.dir().File("policy.json"); }

  // The decision for agent-1 calling `tool` on the echo upstream: "allow", "deny", or what
  // went wrong.
  std::string Decision(const std::string& tool) {
    auto client = McpClient::Connect(gateway_.port(), agent_one(), "/mcp/echo", false);
    if (!client.ok()) {
      return "connect: " + client.error();
    }
    auto response = (*client)->Post(ToolsCall(1, tool));
    if (!response.ok()) {
      return "request: " + response.error();
    }
    if (response->status == 200 && HasResult(response->body)) {
      return "allow";
    }
    if (response->status == 200 && JsonRpcErrorCode(response->body) == -32003) {
      return "deny";
    }
    return "HTTP " + std::to_string(response->status) + ": " + response->body;
  }

  void ExpectV1() {
    EXPECT_EQ(Decision("echo"), "allow");
    EXPECT_EQ(Decision("add"), "deny");
  }
  void ExpectV2() {
    EXPECT_EQ(Decision("echo"), "deny");
    EXPECT_EQ(Decision("add"), "allow");
  }

  // Waits for `text` (a plain string) in the log written after byte `from`.
  bool WaitForLogText(const std::string& text, size_t from) {
    return gateway_.WaitForLog(
        std::regex_replace(text, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)"), from);
  }

  EchoUpstream echo_;
  ExampleServer example_;
  GatewayProcess gateway_;
};

TEST_F(GatewayPolicyReload, AtomicReplacementSwitchesDecisions) {
  Start();
  ExpectV1();
  size_t from = gateway_.LogSize();
  ReplaceFile(PolicyPath(), kV2);
  ASSERT_TRUE(WaitForLogText(kReloadedByWatch, from)) << gateway_.Log();
  ExpectV2();
}

TEST_F(GatewayPolicyReload, InPlaceRewriteSwitchesDecisions) {
  Start();
  ExpectV1();
  size_t from = gateway_.LogSize();
  gateway_.dir().Write("policy.json", kV2);  // truncate and write, as `cat > policy.json` does
  ASSERT_TRUE(WaitForLogText(kReloadedByWatch, from)) << gateway_.Log();
  ExpectV2();
}

TEST_F(GatewayPolicyReload, SighupReloads) {
  // policy.json is a symlink to a file in another directory: editing that file makes no event
  // in the watched directory, so only SIGHUP can make the gateway see the change.
  TempDir elsewhere("gwpolicy-elsewhere");
  const std::string target = elsewhere.Write("policy.json", "{}");
  Start([&] { ASSERT_EQ(symlink(target.c_str(), PolicyPath().c_str()), 0) << PolicyPath(); });
  ExpectV1();
  elsewhere.Write("policy.json", kV2);
  ExpectV1();  // nothing reloaded it yet
  size_t from = gateway_.LogSize();
  ASSERT_TRUE(gateway_.process().Signal(SIGHUP));
  ASSERT_TRUE(WaitForLogText(kReloadedBySighup, from)) << gateway_.Log();
  ExpectV2();
  // A second SIGHUP with nothing changed keeps serving the same decisions.
  ASSERT_TRUE(gateway_.process().Signal(SIGHUP));
  EXPECT_TRUE(gateway_.process().Running());
  ExpectV2();
}

TEST_F(GatewayPolicyReload, KubernetesSymlinkSwapSwitchesDecisions) {
  // The layout the kubelet makes for a ConfigMap volume:
  //   policy.json -> ..data/policy.json      ..data -> ..2024_01_01   ..2024_01_01/policy.json
  // and an update writes a new timestamped directory and renames a new ..data symlink over the
  // old one (one atomic rename), then deletes the old directory.
  Start([&] {
    const std::string dir = gateway_.dir().path();
    ASSERT_EQ(mkdir((dir + "/..2024_01_01").c_str(), 0755), 0);
    ASSERT_EQ(symlink("..2024_01_01", (dir + "/..data").c_str()), 0);
    ASSERT_EQ(symlink("..data/policy.json", PolicyPath().c_str()), 0);
  });
  const std::string dir = gateway_.dir().path();
  ASSERT_EQ(TempDir::ReadFile(dir + "/..2024_01_01/policy.json"), kV1)
      << "the policy should have been written through the symlinks";
  ExpectV1();
  size_t from = gateway_.LogSize();
  gateway_.dir().Write("..2024_01_02/policy.json", kV2);
  ASSERT_EQ(symlink("..2024_01_02", (dir + "/..data_tmp").c_str()), 0);
  ASSERT_EQ(rename((dir + "/..data_tmp").c_str(), (dir + "/..data").c_str()), 0);
  std::filesystem::remove_all(dir + "/..2024_01_01");
  ASSERT_TRUE(WaitForLogText(kReloadedByWatch, from)) << gateway_.Log();
  ExpectV2();
}

TEST_F(GatewayPolicyReload, BusyNeighbourFileDoesNotHoldBackAReload) {
  // DESIGN's example config puts audit.jsonl next to policy.json, and a busy gateway appends
  // to it all the time. Those writes must not keep postponing the policy's reload.
  Start();
  std::atomic<bool> stop{false};
  std::thread neighbour([&] {
    const std::string path = gateway_.dir().File("audit.jsonl");
    auto deadline = Clock::now() + std::chrono::seconds(20);  // a bound of its own
    while (!stop.load() && Clock::now() < deadline) {
      FILE* f = fopen(path.c_str(), "ab");
      if (f != nullptr) {
        fputs("{\"event\":\"mcp.request\"}\n", f);
        fclose(f);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the neighbour is busy
  size_t from = gateway_.LogSize();
  ReplaceFile(PolicyPath(), kV2);
  bool reloaded = WaitForLogText(kReloadedByWatch, from);
  stop.store(true);
  neighbour.join();
  EXPECT_TRUE(reloaded) << "no reload within " << kWaitMs
                        << " ms while another file in the policy's directory was being "
                           "written every 20 ms; log:\n"
                        << gateway_.Log();
  if (reloaded) {
    ExpectV2();
  }
}

TEST_F(GatewayPolicyReload, BrokenFileIsReportedAndTheLastGoodPolicyStays) {
  Start();
  ExpectV1();
  size_t from = gateway_.LogSize();
  ReplaceFile(PolicyPath(), kBroken);
  ASSERT_TRUE(WaitForLogText(kKeptLastGood, from)) << gateway_.Log();
  std::string log = gateway_.Log().substr(from);
  std::string where = PolicyPath() + ":" + LineColOf(kBroken, kBrokenKey) + ":";
  EXPECT_NE(log.find(where), std::string::npos)
      << "expected the error located as " << where << "<message>; log:\n"
      << log;
  EXPECT_NE(log.find("tool"), std::string::npos) << log;
  // The broken file would have allowed "add": the last good policy (v1) still decides.
  ExpectV1();
  // The watch still works after a failure: a good file is picked up.
  from = gateway_.LogSize();
  ReplaceFile(PolicyPath(), kV2);
  ASSERT_TRUE(WaitForLogText(kReloadedByWatch, from)) << gateway_.Log();
  ExpectV2();
}

TEST_F(GatewayPolicyReload, SyntaxErrorIsReportedWithItsLocation) {
  Start();
  const std::string broken = "{\n  \"rules\": [\n    {\"name\": \"x\",, }\n  ]\n}\n";
  size_t from = gateway_.LogSize();
  ReplaceFile(PolicyPath(), broken);
  ASSERT_TRUE(WaitForLogText(kKeptLastGood, from)) << gateway_.Log();
  std::string log = gateway_.Log().substr(from);
  EXPECT_NE(log.find(PolicyPath() + ":3:"), std::string::npos)
      << "expected " << PolicyPath() << ":3:<col>: ...; log:\n"
      << log;
  ExpectV1();
}

TEST_F(GatewayPolicyReload, DeletedFileKeepsTheLastGoodPolicy) {
  Start();
  size_t from = gateway_.LogSize();
  ASSERT_EQ(unlink(PolicyPath().c_str()), 0);
  ASSERT_TRUE(WaitForLogText(kKeptLastGood, from)) << gateway_.Log();
  ExpectV1();
  from = gateway_.LogSize();
  ReplaceFile(PolicyPath(), kV2);
  ASSERT_TRUE(WaitForLogText(kReloadedByWatch, from)) << gateway_.Log();
  ExpectV2();
}

TEST_F(GatewayPolicyReload, RequestInFlightFinishesUnderItsPolicy) {
  Start();
  auto client = McpClient::Connect(gateway_.port(), agent_one(), "/mcp/example", true);
  ASSERT_TRUE(client.ok()) << client.error();
  auto reader =
      SseReader::Open((*client)->tls(), "POST", "/mcp/example", (*client)->Headers(),
                      ToolsCall(9, "slow_count", R"({"n":3,"interval_ms":300})"), kRequestMs);
  ASSERT_TRUE(reader.ok()) << reader.error();
  ASSERT_EQ((*reader)->response().status, 200);
  // v2 no longer allows slow_count; the call already running must still complete.
  size_t from = gateway_.LogSize();
  ReplaceFile(PolicyPath(), kV2);
  ASSERT_TRUE(WaitForLogText(kReloadedByWatch, from)) << gateway_.Log();
  std::string result;
  for (int i = 0; i < 20 && result.empty(); ++i) {
    auto next = (*reader)->Next(kWaitMs);
    ASSERT_TRUE(next.ok()) << next.error();
    ASSERT_TRUE(next->has_value()) << "the stream ended before the result";
    if (HasResult((*next)->data)) {
      result = (*next)->data;
    }
  }
  EXPECT_NE(result.find("counted to 3"), std::string::npos) << result;
  auto end = (*reader)->Next(kWaitMs);  // the stream ends after the result
  ASSERT_TRUE(end.ok()) << end.error();
  EXPECT_FALSE(end->has_value());
  // A new call is judged by v2.
  auto again = (*client)->Post(ToolsCall(10, "slow_count", R"({"n":1,"interval_ms":1})"));
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(JsonRpcErrorCode(again->body), -32003) << again->body;
}

// ---- Under load ---------------------------------------------------------------------------------

struct CallRecord {
  Clock::time_point started;
  int status = 0;
  int code = 0;         // JSON-RPC error code; 0 for a result
  bool result = false;  // a JSON-RPC result came back
  std::string failure;  // transport failure
  std::string body;
};

TEST_F(GatewayPolicyReload, NoRequestFailsWhileThePolicyChangesUnderLoad) {
  Start({}, /*reactors=*/2);
  constexpr size_t kMaxCalls = 6000;  // a bound, never reached when all goes well
  constexpr size_t kPerPhase = 20;
  std::mutex mu;
  std::vector<CallRecord> calls;
  std::atomic<bool> stop{false};
  std::thread caller([&] {
    std::unique_ptr<McpClient> client;
    for (size_t i = 0; i < kMaxCalls && !stop.load(); ++i) {
      if (i % 10 == 0) {  // a new connection now and then, landing on either reactor
        client.reset();
        auto connected = McpClient::Connect(gateway_.port(), agent_one(), "/mcp/echo", false);
        if (!connected.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          calls.push_back({Clock::now(), 0, 0, false, "connect: " + connected.error(), ""});
          continue;
        }
        client = std::move(connected).value();
      }
      CallRecord record;
      record.started = Clock::now();
      auto response = client ? client->Post(ToolsCall(static_cast<int>(i) + 1, "echo"))
                             : Result<HttpResponse>(Status::Error("no connection"));
      if (response.ok()) {
        record.status = response->status;
        record.code = JsonRpcErrorCode(response->body);
        record.result = HasResult(response->body);
        record.body = response->body.substr(0, 300);
      } else {
        record.failure = response.error();
        client.reset();
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        calls.push_back(std::move(record));
      }
      // Paced, so that each phase sees a few dozen calls rather than racing to the bound; the
      // assertions do not depend on the pace.
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  auto count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return calls.size();
  };
  auto count_after = [&](Clock::time_point t) {
    std::lock_guard<std::mutex> lock(mu);
    size_t n = 0;
    for (const CallRecord& c : calls) {
      n += c.started > t ? 1 : 0;
    }
    return n;
  };
  auto wait_for = [&](const std::function<bool()>& done) {
    auto deadline = Clock::now() + std::chrono::milliseconds(kWaitMs);
    while (!done() && Clock::now() < deadline && count() < kMaxCalls) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
  };

  // Each phase either completes or names what did not happen; the caller stops either way.
  std::string failed;
  auto phase = [&](bool done, const char* what) {
    if (!done && failed.empty()) {
      failed = what;
    }
    return failed.empty();
  };
  phase(wait_for([&] { return count() >= kPerPhase; }), "the first calls were not made");
  // Phase 2: a good file that turns "echo" from allowed to denied.
  Clock::time_point written = Clock::now();
  size_t from = gateway_.LogSize();
  Clock::time_point switched = Clock::now();
  if (failed.empty()) {
    ReplaceFile(PolicyPath(), kV2);
    phase(WaitForLogText(kReloadedByWatch, from),
          "no \"policy reloaded\" within the bound after the good file replaced the old one");
    switched = Clock::now();
    phase(wait_for([&] { return count_after(switched) >= kPerPhase; }),
          "no calls after the reload");
  }
  // Phase 3: a broken file, which must change nothing.
  std::string broken_log;
  Clock::time_point kept = Clock::now();
  if (failed.empty()) {
    from = gateway_.LogSize();
    ReplaceFile(PolicyPath(), kBroken);
    phase(WaitForLogText(kKeptLastGood, from),
          "the broken file was not reported within the bound while calls went on (each refused "
          "call writes a log line in the policy's directory)");
    broken_log = gateway_.Log().substr(from);
    kept = Clock::now();
    phase(wait_for([&] { return count_after(kept) >= kPerPhase; }),
          "no calls after the broken file");
  }
  stop.store(true);
  caller.join();
  std::string quiet_log;  // the log without the per-call lines
  {
    std::string log = gateway_.Log();
    size_t pos = 0;
    while (pos < log.size()) {
      size_t end = log.find('\n', pos);
      std::string line = log.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      if (line.find("denied tools/call") == std::string::npos) {
        quiet_log += line + "\n";
      }
      pos = end == std::string::npos ? log.size() : end + 1;
    }
  }
  ASSERT_TRUE(failed.empty()) << failed << "; " << calls.size()
                              << " calls made; log without the per-call lines:\n"
                              << quiet_log;

  std::string where = PolicyPath() + ":" + LineColOf(kBroken, kBrokenKey) + ":";
  EXPECT_NE(broken_log.find(where), std::string::npos) << where << " not in:\n" << broken_log;

  size_t allowed = 0, denied = 0, switches = 0;
  bool last_allowed = true;
  for (size_t i = 0; i < calls.size(); ++i) {
    const CallRecord& c = calls[i];
    ASSERT_TRUE(c.failure.empty()) << "call " << i << " failed: " << c.failure;
    ASSERT_EQ(c.status, 200) << "call " << i << ": " << c.body;
    ASSERT_TRUE(c.result || c.code == -32003) << "call " << i << ": " << c.body;
    if (c.started < written) {
      EXPECT_TRUE(c.result) << "call " << i << " before any change was refused: " << c.body;
    }
    if (c.started > switched) {
      EXPECT_EQ(c.code, -32003) << "call " << i << " after the reload was not refused: " << c.body;
    }
    allowed += c.result ? 1 : 0;
    denied += c.result ? 0 : 1;
    switches += (i > 0 && c.result != last_allowed) ? 1 : 0;
    last_allowed = c.result;
  }
  EXPECT_GE(allowed, kPerPhase);
  EXPECT_GE(denied, 2 * kPerPhase);
  EXPECT_EQ(switches, 1u) << "decisions must switch once (v1 → v2) and stay";
  // Refused calls never reached the upstream.
  EXPECT_EQ(echo_.request_count(), allowed);
}

}  // namespace
}  // namespace portcullis::gateway_test
