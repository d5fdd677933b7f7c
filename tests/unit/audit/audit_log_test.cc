// The writer end to end: real files in a temp directory, records through OpenAuditLog, then
// read back and checked with the verifier.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <utility>

#include "gateway/audit/audit_log.h"
#include "gateway/audit/hash_chain.h"
#include "gateway/audit/verify.h"
#include "portcullis/audit.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/audit/audit_test_util.h"

namespace portcullis::audit {
namespace {

using testing::JoinLines;
using testing::OpenOrDie;
using testing::ParseJson;
using testing::ReadAll;
using testing::ReadLines;
using testing::TestOptions;
using testing::WriteAll;
using testing::WriteRequests;

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

rapidjson::Document Line(const std::string& path, size_t index) {
  std::vector<std::string> lines = ReadLines(path);
  EXPECT_LT(index, lines.size());
  return ParseJson(index < lines.size() ? lines[index] : "null");
}

TEST(AuditLog, WritesOneChainedLinePerRecord) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  {
    auto log = OpenOrDie(TestOptions(path));
    ASSERT_TRUE(log);
    WriteRequests(log.get(), 100);
  }
  std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 100u);
  std::string prev(kGenesisHash);
  for (size_t i = 0; i < lines.size(); ++i) {
    rapidjson::Document doc = ParseJson(lines[i]);
    ASSERT_TRUE(doc.IsObject());
    EXPECT_STREQ(doc["event"].GetString(), "mcp.request");
    EXPECT_EQ(doc["n"].GetUint64(), i + 1);
    EXPECT_EQ(doc["seq"].GetUint64(), i + 1);
    EXPECT_EQ(std::string(doc["prev"].GetString()), prev);
    // The last three members are the chain's, in this order.
    auto it = doc.MemberEnd();
    EXPECT_STREQ((--it)->name.GetString(), "hash");
    EXPECT_STREQ((--it)->name.GetString(), "prev");
    EXPECT_STREQ((--it)->name.GetString(), "seq");
    const std::string hash = doc["hash"].GetString();
    const size_t cut = lines[i].rfind(",\"hash\":\"");
    EXPECT_EQ(Sha256Hex(std::string_view(lines[i]).substr(0, cut)), hash);
    prev = hash;
  }
  VerifyResult result = VerifyAuditFiles({path});
  EXPECT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.records, 100u);
  EXPECT_EQ(result.last_hash, prev);
  EXPECT_TRUE(result.notes.empty());
}

TEST(AuditLog, FileIsPrivateToItsGroup) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  { auto log = OpenOrDie(TestOptions(path)); }
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0007, 0u);
}

TEST(AuditLog, FlushReturnsOnlyWhenEverythingBeforeItIsWritten) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  AuditOptions options = TestOptions(path);
  options.flush_interval_ms = 0;  // no timer: only Flush() and the queue running empty
  options.queue_size = 16;
  for (FsyncPolicy policy : {FsyncPolicy::kNone, FsyncPolicy::kInterval, FsyncPolicy::kAlways}) {
    unlink(path.c_str());
    options.fsync = policy;
    auto log = OpenOrDie(options);
    ASSERT_TRUE(log);
    uint64_t written = 0;
    for (int round = 0; round < 5; ++round) {
      const uint64_t n = policy == FsyncPolicy::kAlways ? 20 : 2000;
      WriteRequests(log.get(), n, written + 1);
      written += n;
      log->Flush();
      ASSERT_EQ(ReadLines(path).size(), written) << FsyncPolicyName(policy);
    }
  }
}

TEST(AuditLog, ConcurrentFlushesFromManyThreadsAllReturn) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  AuditOptions options = TestOptions(path);
  options.flush_interval_ms = 1;  // the timer's flushes interleave with ours
  options.queue_size = 8;
  auto log = OpenOrDie(options);
  ASSERT_TRUE(log);
  std::vector<std::thread> threads;
  std::atomic<int> checked{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        log->Write(testing::RequestRecord(static_cast<uint64_t>(t * 1000 + i)));
        log->Flush();
        // This thread's record is in the file now.
        std::string all = ReadAll(path);
        if (all.find("\"n\":" + std::to_string(t * 1000 + i) + ",") != std::string::npos) {
          checked.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(checked.load(), 200);
}

TEST(AuditLog, ConcurrentWritersLoseNothingAndDuplicateNothing) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  AuditOptions options = TestOptions(path);
  options.queue_size = 64;  // small, so producers really block on a full queue
  options.rotate_bytes = 256 * 1024;
  options.keep = 100;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5000;
  {
    auto log = OpenOrDie(options);
    ASSERT_TRUE(log);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          Record r("mcp.request");
          r.Uint("writer", static_cast<uint64_t>(t)).Uint("i", static_cast<uint64_t>(i));
          log->Write(std::move(r));
        }
      });
    }
    for (auto& th : threads) {
      th.join();
    }
  }
  // Oldest first: path.N … path.1, path.
  std::vector<std::string> files;
  for (int i = 100; i >= 1; --i) {
    if (Exists(path + "." + std::to_string(i))) {
      files.push_back(path + "." + std::to_string(i));
    }
  }
  files.push_back(path);
  EXPECT_GT(files.size(), 2u);  // it did rotate
  std::set<std::pair<uint64_t, uint64_t>> seen;
  uint64_t lines = 0;
  for (const std::string& f : files) {
    for (const std::string& line : ReadLines(f)) {
      rapidjson::Document doc = ParseJson(line);
      ASSERT_TRUE(doc.IsObject());
      seen.insert({doc["writer"].GetUint64(), doc["i"].GetUint64()});
      ++lines;
    }
  }
  EXPECT_EQ(lines, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(seen.size(), size_t{kThreads} * kPerThread);
  VerifyResult result = VerifyAuditFiles(files, {.strict = true});
  EXPECT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.records, uint64_t{kThreads} * kPerThread);
}

TEST(AuditLog, RotatesKeepsNAndTheChainContinuesAcrossFiles) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  AuditOptions options = TestOptions(path);
  options.rotate_bytes = 8 * 1024;
  options.keep = 3;
  {
    auto log = OpenOrDie(options);
    ASSERT_TRUE(log);
    WriteRequests(log.get(), 1000);  // ~500 KB: dozens of rotations
  }
  const std::string f1 = path + ".1", f2 = path + ".2", f3 = path + ".3";
  EXPECT_TRUE(Exists(f1));
  EXPECT_TRUE(Exists(f2));
  EXPECT_TRUE(Exists(f3));
  EXPECT_FALSE(Exists(path + ".4"));  // keep=3: older ones were deleted
  for (const std::string& f : {f3, f2, f1, path}) {
    EXPECT_LE(FileSize(f), options.rotate_bytes) << f;
  }
  // The first record of each file names the last hash of the file before.
  for (auto [older, newer] : {std::pair{f3, f2}, std::pair{f2, f1}, std::pair{f1, path}}) {
    std::vector<std::string> old_lines = ReadLines(older);
    ASSERT_FALSE(old_lines.empty());
    rapidjson::Document last = ParseJson(old_lines.back());
    rapidjson::Document first = Line(newer, 0);
    EXPECT_STREQ(first["prev"].GetString(), last["hash"].GetString());
    EXPECT_EQ(first["seq"].GetUint64(), last["seq"].GetUint64() + 1);
  }
  // All kept files, oldest first: one chain, ending at seq 1000. It starts mid-chain (the
  // oldest files are gone), which is a note, not a failure.
  VerifyResult all = VerifyAuditFiles({f3, f2, f1, path});
  EXPECT_TRUE(all.ok()) << all.error;
  EXPECT_EQ(all.last_seq, 1000u);
  EXPECT_EQ(all.records, 1000u - all.first_seq + 1);
  ASSERT_EQ(all.notes.size(), 1u);
  EXPECT_NE(all.notes[0].find("starts at seq " + std::to_string(all.first_seq)), std::string::npos);
  // A later file alone: verified internally; its first prev is unknown (a note).
  VerifyResult alone = VerifyAuditFiles({path});
  EXPECT_TRUE(alone.ok()) << alone.error;
  EXPECT_EQ(alone.notes.size(), 1u);
  VerifyResult strict = VerifyAuditFiles({path}, {.strict = true});
  EXPECT_EQ(strict.problem, Problem::kBadStart);
  // Files in the wrong order break the chain.
  VerifyResult wrong = VerifyAuditFiles({f2, f3, f1, path});
  EXPECT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.problem, Problem::kOutOfOrder) << wrong.error;
}

TEST(AuditLog, KeepZeroDeletesInsteadOfRotating) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  AuditOptions options = TestOptions(path);
  options.rotate_bytes = 4096;
  options.keep = 0;
  {
    auto log = OpenOrDie(options);
    WriteRequests(log.get(), 100);
  }
  EXPECT_FALSE(Exists(path + ".1"));
  EXPECT_LE(FileSize(path), 4096u);
  EXPECT_TRUE(VerifyAuditFiles({path}).ok());
}

TEST(AuditLog, ResumesTheChainAfterARestart) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  for (int run = 0; run < 3; ++run) {
    auto log = OpenOrDie(TestOptions(path));
    ASSERT_TRUE(log);
    WriteRequests(log.get(), 10, static_cast<uint64_t>(run * 10 + 1));
  }
  std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 30u);
  rapidjson::Document tenth = ParseJson(lines[9]);
  rapidjson::Document eleventh = ParseJson(lines[10]);
  EXPECT_EQ(eleventh["seq"].GetUint64(), 11u);
  EXPECT_STREQ(eleventh["prev"].GetString(), tenth["hash"].GetString());
  VerifyResult result = VerifyAuditFiles({path}, {.strict = true});
  EXPECT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.records, 30u);
}

TEST(AuditLog, ResumesFromTheRotatedFileWhenTheCurrentOneIsEmpty) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  {
    auto log = OpenOrDie(TestOptions(path));
    WriteRequests(log.get(), 5);
  }
  // As if the gateway died right after a rotation.
  ASSERT_EQ(rename(path.c_str(), (path + ".1").c_str()), 0);
  WriteAll(path, "");
  {
    auto log = OpenOrDie(TestOptions(path));
    WriteRequests(log.get(), 5, 6);
  }
  rapidjson::Document first = Line(path, 0);
  EXPECT_EQ(first["seq"].GetUint64(), 6u);
  VerifyResult result = VerifyAuditFiles({path + ".1", path}, {.strict = true});
  EXPECT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.records, 10u);
}

TEST(AuditLog, TornLastLineIsKeptAndAcknowledgedOnRestart) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  {
    auto log = OpenOrDie(TestOptions(path));
    WriteRequests(log.get(), 5);
  }
  std::vector<std::string> lines = ReadLines(path);
  const std::string fifth_hash = ParseJson(lines[4])["hash"].GetString();
  // A crash in the middle of writing seq 6.
  std::string torn = lines[4].substr(0, 57);
  WriteAll(path, JoinLines(lines) + torn);
  VerifyResult before = VerifyAuditFiles({path});
  EXPECT_EQ(before.problem, Problem::kTornLine) << before.error;
  EXPECT_EQ(before.line, 6u);
  {
    auto log = OpenOrDie(TestOptions(path));
    WriteRequests(log.get(), 3, 6);
  }
  lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[5], torn);  // the torn bytes stay, on a line of their own
  rapidjson::Document recovered = ParseJson(lines[6]);
  EXPECT_STREQ(recovered["event"].GetString(), "audit.recovered");
  EXPECT_EQ(recovered["seq"].GetUint64(), 6u);
  EXPECT_EQ(std::string(recovered["prev"].GetString()), fifth_hash);
  EXPECT_EQ(recovered["unreadable_bytes"].GetUint64(), torn.size() + 1);
  EXPECT_EQ(recovered["unreadable_lines"].GetUint64(), 1u);
  EXPECT_EQ(std::string(recovered["unreadable_sha256"].GetString()), Sha256Hex(torn + "\n"));
  EXPECT_EQ(recovered["after_seq"].GetUint64(), 5u);
  VerifyResult after = VerifyAuditFiles({path});
  EXPECT_TRUE(after.ok()) << after.error;
  EXPECT_EQ(after.records, 9u);
  EXPECT_EQ(after.recovered_regions, 1u);
  ASSERT_EQ(after.notes.size(), 1u);
  EXPECT_NE(after.notes[0].find("audit.recovered"), std::string::npos);
  EXPECT_EQ(VerifyAuditFiles({path}, {.strict = true}).problem, Problem::kRecovered);
  // The recovery cannot be reused to hide a different line.
  lines[5][10] ^= 1;
  WriteAll(path, JoinLines(lines));
  VerifyResult edited = VerifyAuditFiles({path});
  EXPECT_EQ(edited.problem, Problem::kNotRecord) << edited.error;
  EXPECT_EQ(edited.line, 6u);
}

TEST(AuditLog, ARecordThatLostOnlyItsNewlineIsKept) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  {
    auto log = OpenOrDie(TestOptions(path));
    WriteRequests(log.get(), 4);
  }
  std::string all = ReadAll(path);
  all.pop_back();
  WriteAll(path, all);
  VerifyResult before = VerifyAuditFiles({path});
  EXPECT_TRUE(before.ok()) << before.error;  // the record is complete
  EXPECT_EQ(before.notes.size(), 1u);
  {
    auto log = OpenOrDie(TestOptions(path));
    WriteRequests(log.get(), 2, 5);
  }
  std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 6u);
  VerifyResult after = VerifyAuditFiles({path}, {.strict = true});
  EXPECT_TRUE(after.ok()) << after.error;
  EXPECT_EQ(after.recovered_regions, 0u);
}

TEST(AuditLog, ForeignContentAfterTheLastRecordIsAcknowledgedNotErased) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  WriteAll(path, "some text\nthat is not\nan audit log\n");
  {
    auto log = OpenOrDie(TestOptions(path));
    WriteRequests(log.get(), 2);
  }
  std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], "some text");
  rapidjson::Document recovered = ParseJson(lines[3]);
  EXPECT_EQ(recovered["seq"].GetUint64(), 1u);
  EXPECT_EQ(recovered["unreadable_lines"].GetUint64(), 3u);
  VerifyResult result = VerifyAuditFiles({path});
  EXPECT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.records, 3u);
}

TEST(AuditLog, SecondWriterOnTheSameFileIsRefused) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  auto first = OpenOrDie(TestOptions(path));
  ASSERT_TRUE(first);
  Result<std::unique_ptr<AuditSink>> second = OpenAuditLog(TestOptions(path));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().find("in use"), std::string::npos) << second.error();
}

TEST(AuditLog, RejectsBadOptions) {
  portcullis::testing::TempDir dir("audit");
  AuditOptions options = TestOptions(dir.File("a.jsonl"));
  options.queue_size = 0;
  EXPECT_FALSE(OpenAuditLog(options).ok());
  options = TestOptions("");
  EXPECT_FALSE(OpenAuditLog(options).ok());
  options = TestOptions(dir.File("a.jsonl"));
  options.rotate_mb = 0;
  EXPECT_FALSE(OpenAuditLog(options).ok());
  options = TestOptions(dir.File("no/such/dir/a.jsonl"));
  Result<std::unique_ptr<AuditSink>> missing = OpenAuditLog(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("no/such/dir"), std::string::npos);
}

TEST(AuditLog, ParsesFsyncPolicyNames) {
  EXPECT_EQ(ParseFsyncPolicy("none"), FsyncPolicy::kNone);
  EXPECT_EQ(ParseFsyncPolicy("interval"), FsyncPolicy::kInterval);
  EXPECT_EQ(ParseFsyncPolicy("always"), FsyncPolicy::kAlways);
  EXPECT_FALSE(ParseFsyncPolicy("sometimes").has_value());
  for (FsyncPolicy p : {FsyncPolicy::kNone, FsyncPolicy::kInterval, FsyncPolicy::kAlways}) {
    EXPECT_EQ(ParseFsyncPolicy(FsyncPolicyName(p)), p);
  }
}

TEST(AuditLog, StdoutDestination) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("stdout.jsonl");
  std::fflush(stdout);
  const int saved = dup(STDOUT_FILENO);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_GE(dup2(fd, STDOUT_FILENO), 0);
  close(fd);
  {
    auto log = OpenOrDie(TestOptions("-"));
    WriteRequests(log.get(), 7);
  }
  dup2(saved, STDOUT_FILENO);
  close(saved);
  VerifyResult result = VerifyAuditFiles({path}, {.strict = true});
  EXPECT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.records, 7u);
}

TEST(AuditLog, PositionReportsTheChainHead) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  Result<std::unique_ptr<AuditLog>> log = AuditLog::Open(TestOptions(path));
  ASSERT_TRUE(log.ok()) << log.error();
  WriteRequests(log->get(), 3);
  ChainPosition pos = (*log)->Position();
  EXPECT_EQ(pos.seq, 3u);
  EXPECT_EQ(pos.hash, std::string(Line(path, 2)["hash"].GetString()));
  EXPECT_EQ((*log)->write_errors(), 0u);
}

TEST(AuditLog, RecordsReachTheFileWithoutFlushOrTimer) {
  // Neither Flush() nor the periodic timer: the writer's own batch write-out brings them there.
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  AuditOptions options = TestOptions(path);
  options.flush_interval_ms = 0;
  auto log = OpenOrDie(options);
  ASSERT_TRUE(log);
  WriteRequests(log.get(), 5);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (ReadLines(path).size() < 5 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(ReadLines(path).size(), 5u);
}

TEST(AuditLog, QueueDepthCountsWaitingRecordsAndDrainsToZero) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  AuditOptions options = TestOptions(path);
  options.queue_size = 100000;
  Result<std::unique_ptr<AuditLog>> log = AuditLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.error();
  WriteRequests(log->get(), 2000);
  EXPECT_LE((*log)->queue_depth(), 2000u);
  (*log)->Flush();
  EXPECT_EQ((*log)->queue_depth(), 0u);
  EXPECT_EQ(ReadLines(path).size(), 2000u);
}

TEST(AuditLog, DestructionDrainsEverythingQueued) {
  portcullis::testing::TempDir dir("audit");
  const std::string path = dir.File("audit.jsonl");
  for (FsyncPolicy policy : {FsyncPolicy::kNone, FsyncPolicy::kInterval, FsyncPolicy::kAlways}) {
    unlink(path.c_str());
    AuditOptions options = TestOptions(path);
    options.fsync = policy;
    options.flush_interval_ms = 0;
    options.queue_size = 32;
    const uint64_t n = policy == FsyncPolicy::kAlways ? 50 : 5000;
    {
      auto log = OpenOrDie(options);
      ASSERT_TRUE(log);
      WriteRequests(log.get(), n);
    }
    VerifyResult result = VerifyAuditFiles({path}, {.strict = true});
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.records, n) << FsyncPolicyName(policy);
  }
}

TEST(AuditLog, WriteErrorsAreCountedAndFlushStillReturns) {
  // /dev/full refuses every write with ENOSPC.
  if (access("/dev/full", W_OK) != 0) {
    GTEST_SKIP() << "no writable /dev/full";
  }
  AuditOptions options = TestOptions("/dev/full");
  Result<std::unique_ptr<AuditLog>> log = AuditLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.error();
  WriteRequests(log->get(), 3);
  (*log)->Flush();
  EXPECT_GE((*log)->write_errors(), 1u);
  EXPECT_EQ((*log)->Position().seq, 3u);  // sealed all the same
}

}  // namespace
}  // namespace portcullis::audit
