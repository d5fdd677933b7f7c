// Nothing lost (issue 4): several concurrent clients × many requests through the gateway give
// exactly one mcp.request per request, with the ids the clients sent; the same across
// rotations (every kept file verifies, oldest first, as one chain); and when SIGTERM arrives
// mid-run, every request whose response a client saw has its record once the process has
// exited. Also: `portcullis audit verify` passes the gateway's own log and fails it, naming the
// line, after one byte is changed, a line is dropped or two lines are swapped.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/gateway/audit_fixture.h"

namespace portcullis::gateway_test {
namespace {

// What one client thread did.
struct ClientRun {
  std::vector<std::string> sent;      // id JSON texts of every request written
  std::vector<std::string> answered;  // ids whose 200 response (with that id) came back
  std::map<int, int> other_statuses;  // responses that were not a 200 for the request
  std::string stopped_by;             // the error that ended the run, if any
};

// One keep-alive TLS connection sending `count` tools/call requests (tool `tool`, ids
// "c<client>-<i><id_padding>") one after the other. Stops at the first error or at a response
// that closes the connection. `answered` counts 200s across threads.
void RunClient(uint16_t port, int client, int count, const std::string& tool,
               const std::string& id_padding, std::atomic<int>* answered, ClientRun* out) {
  auto tls = TlsClient::Connect("127.0.0.1", port, ClientOptions(SharedPki().client()));
  if (!tls.ok()) {
    out->stopped_by = "connect: " + tls.error();
    return;
  }
  for (int i = 0; i < count; ++i) {
    std::string id =
        JsonString("c" + std::to_string(client) + "-" + std::to_string(i) + id_padding);
    out->sent.push_back(id);
    auto response = testing::Request(**tls, "POST", "/mcp/echo", JsonHeaders(),
                                     ToolCallBody(id, tool), kRequestMs);
    if (!response.ok()) {
      out->stopped_by = response.error();
      return;
    }
    if (response->status == 200 && JsonRpcIdText(response->body) == id) {
      out->answered.push_back(id);
      answered->fetch_add(1);
    } else {
      ++out->other_statuses[response->status];
    }
    if (!response->keep_alive) {
      out->stopped_by = "the gateway closed the connection";
      return;
    }
  }
}

class GatewayAuditDelivery : public AuditTestBase {
 protected:
  void SetUp() override {
    AuditTestBase::SetUp();
    ASSERT_TRUE(upstream_.ok()) << upstream_.error();
  }

  void StartGateway(const std::string& audit_more = "") {
    GatewayConfig config;
    config.AddUpstream("echo", upstream_.url());
    Status s = gateway_.Start(config, audit_more);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  // `clients` threads × `per_client` requests; returns what each did.
  std::vector<ClientRun> RunClients(int clients, int per_client, const std::string& tool,
                                    const std::string& id_padding) {
    std::vector<ClientRun> runs(static_cast<size_t>(clients));
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back(RunClient, gateway_.port(), c, per_client, tool, id_padding, &answered_,
                           &runs[static_cast<size_t>(c)]);
    }
    for (std::thread& t : threads) {
      t.join();
    }
    return runs;
  }

  // Every request answered: exactly one mcp.request per id, all allowed 200s for `tool`.
  void ExpectOneRecordPerRequest(const AuditLog& log, const std::vector<ClientRun>& runs,
                                 size_t expected, const std::string& tool) {
    std::multiset<std::string> sent;
    for (const ClientRun& run : runs) {
      EXPECT_TRUE(run.stopped_by.empty()) << run.stopped_by;
      EXPECT_EQ(run.answered.size(), run.sent.size());
      sent.insert(run.answered.begin(), run.answered.end());
    }
    ASSERT_EQ(sent.size(), expected);
    std::multiset<std::string> recorded;
    for (const rapidjson::Value* r : log.Events("mcp.request")) {
      recorded.insert(JStr(*r, "id"));
      EXPECT_EQ(JStr(*r, "method"), "tools/call");
      EXPECT_EQ(JStr(*r, "tool"), tool.substr(0, audit::Record::kMaxFieldBytes));
      EXPECT_EQ(JInt(*r, "status"), std::optional<int64_t>(200));
      EXPECT_EQ(JStr(*r, "decision"), "allow");
    }
    EXPECT_EQ(recorded.size(), expected);
    EXPECT_TRUE(recorded == sent) << "ids recorded differ from ids answered";
  }

  EchoUpstream upstream_;
  AuditGateway gateway_;
  std::atomic<int> answered_{0};
};

TEST_F(GatewayAuditDelivery, ConcurrentClientsGetExactlyOneRecordPerRequest) {
  StartGateway();
  constexpr int kClients = 4;
  constexpr int kPerClient = 100;
  std::vector<ClientRun> runs = RunClients(kClients, kPerClient, "echo", "");
  AuditLog log = gateway_.StopAndRead();
  EXPECT_TRUE(log.bad_lines().empty());
  ExpectOneRecordPerRequest(log, runs, kClients * kPerClient, "echo");
  EXPECT_EQ(log.Events("tls.handshake").size(), static_cast<size_t>(kClients));
  ASSERT_GT(log.size(), 0u);
  EXPECT_EQ(JStr(log.at(0), "event"), "gateway.started");
  EXPECT_EQ(JStr(log.at(log.size() - 1), "event"), "gateway.stopped");
  CommandResult verify = RunVerify({gateway_.audit_path()}, /*strict=*/true);
  EXPECT_EQ(verify.exit_status, 0) << verify.out << verify.err;
}

TEST_F(GatewayAuditDelivery, NothingIsLostAcrossRotationsAndEveryFileVerifies) {
  // rotate_mb cannot go below 1 (config_loader), so the records are made large instead: a
  // 4000-byte tool name and a ~3000-byte id put ~7.5 KB in each mcp.request, and 4 × 100
  // requests (~3 MB) rotate the file at least twice.
  StartGateway(R"("rotate_mb": 1, "keep": 10)");
  const std::string tool = "t" + std::string(3999, 'x');
  const std::string padding = "-" + std::string(3000, 'p');
  constexpr int kClients = 4;
  constexpr int kPerClient = 100;
  std::vector<ClientRun> runs = RunClients(kClients, kPerClient, tool, padding);
  std::optional<int> code = gateway_.Stop();
  ASSERT_EQ(code, std::optional<int>(0)) << gateway_.process().Log();

  std::vector<std::string> files = AuditFilesOldestFirst(gateway_.audit_path());
  ASSERT_GE(files.size(), 3u) << "expected at least two rotations";
  for (const std::string& file : files) {
    EXPECT_LE(AuditLog::Read(file).bytes(), 1u << 20) << file;
  }
  AuditLog log = AuditLog::Read(files);
  EXPECT_TRUE(log.bad_lines().empty());
  ExpectOneRecordPerRequest(log, runs, kClients * kPerClient, tool);
  // One chain over all files: seq 1, 2, 3 ... without a gap.
  for (size_t i = 0; i < log.size(); ++i) {
    ASSERT_EQ(JInt(log.at(i), "seq"), std::optional<int64_t>(static_cast<int64_t>(i + 1)));
  }
  CommandResult verify = RunVerify(files, /*strict=*/true);
  EXPECT_EQ(verify.exit_status, 0) << verify.out << verify.err;
  EXPECT_EQ(verify.out.rfind("OK: " + std::to_string(files.size()) + " file(s), " +
                                 std::to_string(log.size()) + " record(s)",
                             0),
            0u)
      << verify.out;

  // The files out of order do not verify.
  std::vector<std::string> swapped = files;
  std::swap(swapped[0], swapped[1]);
  CommandResult out_of_order = RunVerify(swapped);
  EXPECT_EQ(out_of_order.exit_status, 1) << out_of_order.out;

  // One byte changed in the middle of a rotated file: verify names that file and line.
  const std::string& middle = files[1];
  std::string text = TempDir::ReadFile(middle);
  size_t line_start = 0;
  for (int i = 0; i < 4; ++i) {
    line_start = text.find('\n', line_start) + 1;  // start of line 5
  }
  size_t at = text.find("\"ts\":\"", line_start) + 6;  // first digit of the year
  ASSERT_LT(at, text.find('\n', line_start));
  text[at] = text[at] == '2' ? '3' : '2';
  { std::ofstream(middle, std::ios::binary | std::ios::trunc) << text; }
  CommandResult tampered = RunVerify(files);
  EXPECT_EQ(tampered.exit_status, 1) << tampered.out;
  EXPECT_NE(tampered.out.find("FAIL: " + middle + ":5: "), std::string::npos) << tampered.out;
  EXPECT_NE(tampered.out.find("edited"), std::string::npos) << tampered.out;
}

TEST_F(GatewayAuditDelivery, EveryAnsweredRequestIsRecordedWhenSigtermArrivesMidRun) {
  StartGateway();
  constexpr int kClients = 4;
  constexpr int kPerClient = 5000;  // far more than can be sent before the signal
  std::vector<ClientRun> runs(kClients);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back(RunClient, gateway_.port(), c, kPerClient, "echo", "", &answered_,
                         &runs[static_cast<size_t>(c)]);
  }
  // Signal once the clients are well under way (bounded wait).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
  while (answered_.load() < 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_GE(answered_.load(), 200);
  std::optional<int> code = gateway_.Stop();  // SIGTERM, then waits for the exit
  for (std::thread& t : threads) {
    t.join();  // each client ends at its first error (at most kRequestMs after the exit)
  }
  ASSERT_EQ(code, std::optional<int>(0)) << gateway_.process().Log();

  AuditLog log = AuditLog::Read(gateway_.audit_path());
  EXPECT_TRUE(log.bad_lines().empty());
  EXPECT_FALSE(log.unterminated());
  std::map<std::string, int> records_per_id;
  std::map<int, int> records_per_status;
  for (const rapidjson::Value* r : log.Events("mcp.request")) {
    ++records_per_id[JStr(*r, "id")];
    ++records_per_status[static_cast<int>(JInt(*r, "status").value_or(0))];
  }
  size_t answered = 0;
  std::set<std::string> sent;
  for (const ClientRun& run : runs) {
    sent.insert(run.sent.begin(), run.sent.end());
    for (const std::string& id : run.answered) {
      ++answered;
      EXPECT_EQ(records_per_id[id], 1) << "answered request " << id << " has no single record";
    }
    for (const auto& [status, n] : run.other_statuses) {
      EXPECT_GE(records_per_status[status], n) << "responses with status " << status;
    }
    EXPECT_LT(run.sent.size(), static_cast<size_t>(kPerClient)) << "the signal came too late";
  }
  EXPECT_GE(answered, 200u);
  // No record for a request nobody sent, none twice.
  for (const auto& [id, n] : records_per_id) {
    EXPECT_TRUE(sent.count(id) == 1) << "record for an id never sent: " << id;
    EXPECT_EQ(n, 1) << id;
  }
  ASSERT_GT(log.size(), 0u);
  EXPECT_EQ(JStr(log.at(log.size() - 1), "event"), "gateway.stopped");
  CommandResult verify = RunVerify({gateway_.audit_path()}, /*strict=*/true);
  EXPECT_EQ(verify.exit_status, 0) << verify.out << verify.err;
}

class GatewayAuditVerify : public AuditTestBase {};

TEST_F(GatewayAuditVerify, PassesTheGatewaysLogAndNamesTheLineOfAnyTampering) {
  EchoUpstream upstream;
  ASSERT_TRUE(upstream.ok());
  AuditGateway gateway;
  GatewayConfig config;
  config.AddUpstream("echo", upstream.url());
  ASSERT_TRUE(gateway.Start(config).ok());
  for (int i = 0; i < 3; ++i) {
    Attempt a = TryRequest(gateway.port(), ClientOptions(pki().client()), "/mcp/echo");
    ASSERT_TRUE(a.served) << a.detail;
  }
  AuditLog log = gateway.StopAndRead();
  ASSERT_GE(log.size(), 8u) << log.Summary();  // started, 3 × (handshake, request), stopped
  const std::string path = gateway.audit_path();
  const std::string original = TempDir::ReadFile(path);

  CommandResult clean = RunVerify({path}, /*strict=*/true);
  EXPECT_EQ(clean.exit_status, 0) << clean.out << clean.err;
  EXPECT_EQ(clean.out.rfind("OK: 1 file(s), " + std::to_string(log.size()) + " record(s)", 0), 0u)
      << clean.out;

  std::vector<std::string> lines;
  for (size_t pos = 0; pos < original.size();) {
    size_t eol = original.find('\n', pos);
    lines.push_back(original.substr(pos, eol - pos + 1));
    pos = eol + 1;
  }
  auto write = [&](const std::vector<std::string>& ls) {
    std::string text;
    for (const std::string& l : ls) {
      text += l;
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  };

  // Every single byte of line 4 (not its newline), changed one at a time, fails verify at
  // line 4: ts, event, fields, seq, prev and hash are all covered.
  const size_t kLine = 3;  // 0-based: line 4
  std::string changed_bytes_failing_elsewhere;
  for (size_t i = 0; i + 1 < lines[kLine].size(); i += 11) {
    std::vector<std::string> ls = lines;
    ls[kLine][i] = ls[kLine][i] == 'a' ? 'b' : 'a';
    write(ls);
    CommandResult r = RunVerify({path});
    if (r.exit_status != 1 || r.out.find("FAIL: " + path + ":4:") == std::string::npos) {
      changed_bytes_failing_elsewhere += "byte " + std::to_string(i) + ": " + r.out + "\n";
    }
  }
  EXPECT_TRUE(changed_bytes_failing_elsewhere.empty()) << changed_bytes_failing_elsewhere;

  {
    std::vector<std::string> ls = lines;
    ls.erase(ls.begin() + 3);  // line 4 dropped
    write(ls);
    CommandResult r = RunVerify({path});
    EXPECT_EQ(r.exit_status, 1) << r.out;
    EXPECT_NE(r.out.find("FAIL: " + path + ":4: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("missing"), std::string::npos) << r.out;
  }
  {
    std::vector<std::string> ls = lines;
    std::swap(ls[3], ls[4]);  // lines 4 and 5 swapped
    write(ls);
    CommandResult r = RunVerify({path});
    EXPECT_EQ(r.exit_status, 1) << r.out;
    EXPECT_NE(r.out.find("FAIL: " + path + ":4: "), std::string::npos) << r.out;
  }
  {
    std::vector<std::string> ls = lines;
    ls.pop_back();
    ls.back().pop_back();  // the last line cut short: torn
    ls.back().pop_back();
    write(ls);
    CommandResult r = RunVerify({path});
    EXPECT_EQ(r.exit_status, 1) << r.out;
    EXPECT_NE(r.out.find("FAIL: " + path + ":" + std::to_string(ls.size()) + ":"),
              std::string::npos)
        << r.out;
  }
  write(lines);
  CommandResult restored = RunVerify({path}, /*strict=*/true);
  EXPECT_EQ(restored.exit_status, 0) << restored.out;
}

}  // namespace
}  // namespace portcullis::gateway_test
