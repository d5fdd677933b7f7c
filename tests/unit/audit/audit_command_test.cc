#include "gateway/cli/audit_command.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/temp_dir.h"
#include "tests/unit/audit/audit_test_util.h"

namespace portcullis::cli {
namespace {

using audit::testing::ReadAll;
using audit::testing::WriteAll;

struct Output {
  int code;
  std::string out;
  std::string err;
};

Output RunAudit(const std::vector<std::string>& args) {
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int code = AuditCommand(args);
  std::string out = ::testing::internal::GetCapturedStdout();
  std::string err = ::testing::internal::GetCapturedStderr();
  return {code, out, err};
}

TEST(AuditCommand, VerifiesAndReportsTheFirstBadRecord) {
  portcullis::testing::TempDir dir("audit-cli");
  const std::string path = dir.File("audit.jsonl");
  {
    auto log = audit::testing::OpenOrDie(audit::testing::TestOptions(path));
    audit::testing::WriteRequests(log.get(), 10);
  }
  Output ok = RunAudit({"verify", path});
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_EQ(ok.out.rfind("OK: 1 file(s), 10 record(s), seq 1..10, head ", 0), 0u) << ok.out;

  std::string all = ReadAll(path);
  all[all.find("everything") + 2] = 'E';  // one byte, in the first record
  WriteAll(path, all);
  Output bad = RunAudit({"verify", "--strict", path});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("FAIL: " + path + ":1: seq 1: edited"), std::string::npos) << bad.out;

  Output missing = RunAudit({"verify", dir.File("none.jsonl")});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.out.find("cannot open"), std::string::npos) << missing.out;
}

TEST(AuditCommand, UsageErrorsExitTwo) {
  EXPECT_EQ(RunAudit({}).code, 2);
  EXPECT_EQ(RunAudit({"verify"}).code, 2);
  EXPECT_EQ(RunAudit({"verify", "--bogus", "x"}).code, 2);
  EXPECT_EQ(RunAudit({"check", "x"}).code, 2);
  Output help = RunAudit({"verify", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("usage: portcullis audit verify"), std::string::npos);
}

}  // namespace
}  // namespace portcullis::cli
