// Tampering with a real log, one way at a time, and what verify says about it.

#include "gateway/audit/verify.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/audit/hash_chain.h"
#include "portcullis/audit.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/audit/audit_test_util.h"

namespace portcullis::audit {
namespace {

using testing::JoinLines;
using testing::ReadAll;
using testing::ReadLines;
using testing::WriteAll;

class AuditVerify : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("audit.jsonl");
    auto log = testing::OpenOrDie(testing::TestOptions(path_));
    ASSERT_TRUE(log);
    testing::WriteRequests(log.get(), 20);
    log.reset();
    lines_ = ReadLines(path_);
    ASSERT_EQ(lines_.size(), 20u);
  }

  // Writes `lines` (each with '\n') and verifies.
  VerifyResult VerifyLines(const std::vector<std::string>& lines) {
    WriteAll(path_, JoinLines(lines));
    return VerifyAuditFiles({path_});
  }

  void ExpectProblem(const VerifyResult& r, Problem problem, uint64_t line, uint64_t seq) {
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.problem, problem) << r.error;
    EXPECT_EQ(r.file, path_);
    EXPECT_EQ(r.line, line) << r.error;
    EXPECT_EQ(r.seq, seq) << r.error;
    EXPECT_EQ(r.error.rfind(path_ + ":" + std::to_string(line) + ": ", 0), 0u) << r.error;
  }

  portcullis::testing::TempDir dir_{"audit"};
  std::string path_;
  std::vector<std::string> lines_;
};

TEST_F(AuditVerify, CleanLogPasses) {
  VerifyResult r = VerifyAuditFiles({path_}, {.strict = true});
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.records, 20u);
  EXPECT_EQ(r.first_seq, 1u);
  EXPECT_EQ(r.last_seq, 20u);
  EXPECT_EQ(r.last_hash, std::string(testing::ParseJson(lines_[19])["hash"].GetString()));
  EXPECT_TRUE(r.error.empty());
}

TEST_F(AuditVerify, EditedFieldByte) {
  std::string& line = lines_[6];
  line[line.find("\"tool\":\"echo\"") + 9] = 'E';  // echo → Echo
  ExpectProblem(VerifyLines(lines_), Problem::kEdited, 7, 7);
}

TEST_F(AuditVerify, EditedHashItself) {
  std::string& line = lines_[9];
  char& c = line[line.size() - 5];
  c = c == '0' ? '1' : '0';
  ExpectProblem(VerifyLines(lines_), Problem::kEdited, 10, 10);
}

TEST_F(AuditVerify, EditedPrevOrSeq) {
  std::vector<std::string> prev_edit = lines_;
  std::string& line = prev_edit[3];
  char& c = line[line.find("\"prev\":\"") + 8];
  c = c == 'a' ? 'b' : 'a';
  ExpectProblem(VerifyLines(prev_edit), Problem::kEdited, 4, 4);

  std::vector<std::string> seq_edit = lines_;
  size_t at = seq_edit[4].find("\"seq\":5,");
  ASSERT_NE(at, std::string::npos);
  seq_edit[4][at + 6] = '6';
  ExpectProblem(VerifyLines(seq_edit), Problem::kEdited, 5, 6);
}

TEST_F(AuditVerify, DeletedLine) {
  lines_.erase(lines_.begin() + 4);  // seq 5
  VerifyResult r = VerifyLines(lines_);
  ExpectProblem(r, Problem::kMissing, 5, 6);
  EXPECT_NE(r.error.find("expected seq 5, found 6"), std::string::npos) << r.error;
}

TEST_F(AuditVerify, DeletedLastLineIsInvisibleWithoutTheHead) {
  // No chain can see its own tail cut off; the head hash printed by verify (and shipped to a
  // SIEM) is what catches it. Documented in docs/AUDIT.md.
  const std::string head = VerifyAuditFiles({path_}).last_hash;
  lines_.pop_back();
  VerifyResult r = VerifyLines(lines_);
  EXPECT_TRUE(r.ok());
  EXPECT_NE(r.last_hash, head);
  EXPECT_EQ(r.last_seq, 19u);
}

TEST_F(AuditVerify, SwappedLines) {
  std::swap(lines_[10], lines_[11]);
  VerifyResult r = VerifyLines(lines_);
  ExpectProblem(r, Problem::kMissing, 11, 12);
}

TEST_F(AuditVerify, InsertedCopyOfAnEarlierLine) {
  lines_.insert(lines_.begin() + 12, lines_[2]);
  ExpectProblem(VerifyLines(lines_), Problem::kOutOfOrder, 13, 3);
}

TEST_F(AuditVerify, InsertedForgedRecordWithAValidHash) {
  // A forger who knows the format seals a record of his own after seq 12 ...
  rapidjson::Document twelfth = testing::ParseJson(lines_[11]);
  ChainPosition pos;
  pos.seq = 12;
  pos.hash = twelfth["hash"].GetString();
  std::string forged = R"({"ts":"2026-01-01T00:00:00.000000Z","event":"mcp.request","tool":"x")";
  SealRecord(&pos, &forged);
  forged.pop_back();
  lines_.insert(lines_.begin() + 12, forged);
  // ... then the real seq 13 no longer fits.
  ExpectProblem(VerifyLines(lines_), Problem::kOutOfOrder, 14, 13);
}

TEST_F(AuditVerify, ReplacedRecordWithTheRightSeq) {
  ChainPosition pos;
  pos.seq = 8;
  pos.hash = std::string(64, 'f');  // the forger does not link it properly
  std::string forged = R"({"ts":"2026-01-01T00:00:00.000000Z","event":"mcp.request")";
  SealRecord(&pos, &forged);
  forged.pop_back();
  lines_[8] = forged;  // seq 9
  ExpectProblem(VerifyLines(lines_), Problem::kBrokenLink, 9, 9);
}

TEST_F(AuditVerify, InsertedGarbageOrEmptyLine) {
  std::vector<std::string> garbage = lines_;
  garbage.insert(garbage.begin() + 3, "{\"event\":\"mcp.request\",\"note\":\"harmless\"}");
  VerifyResult r = VerifyLines(garbage);
  ExpectProblem(r, Problem::kNotRecord, 4, 0);
  EXPECT_NE(r.error.find("not an audit record"), std::string::npos);

  std::vector<std::string> empty = lines_;
  empty.insert(empty.begin() + 3, "");
  ExpectProblem(VerifyLines(empty), Problem::kNotRecord, 4, 0);

  std::vector<std::string> broken = lines_;
  broken[15] = broken[15].substr(0, 30) + "\"" + broken[15].substr(30);
  r = VerifyLines(broken);
  ExpectProblem(r, Problem::kNotRecord, 16, 0);
  EXPECT_NE(r.error.find("not JSON"), std::string::npos);
}

TEST_F(AuditVerify, TruncatedMidLine) {
  std::string all = ReadAll(path_);
  WriteAll(path_, all.substr(0, all.size() - 70));
  VerifyResult r = VerifyAuditFiles({path_});
  ExpectProblem(r, Problem::kTornLine, 20, 0);
  EXPECT_EQ(r.records, 19u);
}

TEST_F(AuditVerify, NotAnAuditLogAtAll) {
  WriteAll(path_, "hello\nworld\n");
  ExpectProblem(VerifyAuditFiles({path_}), Problem::kNotRecord, 1, 0);
}

TEST_F(AuditVerify, ChainStartingWithAForgedGenesis) {
  lines_.erase(lines_.begin());
  // seq 2 first: a note, since an earlier file may simply not have been given ...
  VerifyResult r = VerifyLines(lines_);
  EXPECT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("starts at seq 2"), std::string::npos);
  // ... and a failure in strict mode.
  WriteAll(path_, JoinLines(lines_));
  EXPECT_EQ(VerifyAuditFiles({path_}, {.strict = true}).problem, Problem::kBadStart);
  // seq 1 must start from the zero hash.
  ChainPosition pos;
  pos.hash = std::string(64, '1');
  std::string first = R"({"ts":"t","event":"x")";
  SealRecord(&pos, &first);
  WriteAll(path_, first);
  EXPECT_EQ(VerifyAuditFiles({path_}).problem, Problem::kBadStart);
}

TEST_F(AuditVerify, MissingFileAndEmptyFile) {
  VerifyResult missing = VerifyAuditFiles({dir_.File("nope.jsonl")});
  EXPECT_EQ(missing.problem, Problem::kIo);
  EXPECT_NE(missing.error.find("nope.jsonl"), std::string::npos);
  WriteAll(path_, "");
  VerifyResult empty = VerifyAuditFiles({path_});
  EXPECT_TRUE(empty.ok());
  EXPECT_EQ(empty.records, 0u);
}

TEST_F(AuditVerify, LongLinesSpanningReadsAreHandled) {
  // Records far larger than one read of the verifier would be unusual, but must work.
  auto log = testing::OpenOrDie(testing::TestOptions(path_));
  for (int i = 0; i < 300; ++i) {
    Record r("big");
    for (int f = 0; f < 4; ++f) {
      r.Str("f" + std::to_string(f), std::string(Record::kMaxFieldBytes, 'a' + f));
    }
    log->Write(std::move(r));
  }
  log.reset();
  VerifyResult r = VerifyAuditFiles({path_}, {.strict = true});
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.records, 320u);
}

TEST(AuditVerifyNames, EveryProblemHasAName) {
  for (Problem p : {Problem::kNone, Problem::kIo, Problem::kNotRecord, Problem::kTornLine,
                    Problem::kEdited, Problem::kMissing, Problem::kOutOfOrder, Problem::kBrokenLink,
                    Problem::kBadStart, Problem::kRecovered}) {
    EXPECT_NE(ProblemName(p), "?");
  }
}

}  // namespace
}  // namespace portcullis::audit
