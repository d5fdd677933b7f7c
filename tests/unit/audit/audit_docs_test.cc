// docs/AUDIT.md promises that an auditor can check the chain in a few lines of Python. This runs
// the snippet printed there against logs made by the real writer.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/audit/verify.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/audit/audit_test_util.h"

namespace portcullis::audit {
namespace {

using portcullis::testing::CommandResult;
using portcullis::testing::FindProgram;
using portcullis::testing::RunCommand;
using testing::JoinLines;
using testing::ReadLines;
using testing::WriteAll;

// The ```python block that follows the marker comment in docs/AUDIT.md.
std::string PythonFromDocs() {
  const std::string doc = testing::ReadAll(std::string(PORTCULLIS_SOURCE_DIR) + "/docs/AUDIT.md");
  size_t marker = doc.find("<!-- audit-verify-python");
  if (marker == std::string::npos) {
    return "";
  }
  size_t start = doc.find("```python\n", marker);
  if (start == std::string::npos) {
    return "";
  }
  start += 10;
  size_t end = doc.find("\n```", start);
  return end == std::string::npos ? "" : doc.substr(start, end - start + 1);
}

class AuditDocsPython : public ::testing::Test {
 protected:
  void SetUp() override {
    python_ = FindProgram("python3");
    if (python_.empty()) {
      GTEST_SKIP() << "python3 not installed";
    }
    script_ = PythonFromDocs();
    ASSERT_FALSE(script_.empty()) << "no python block after the marker in docs/AUDIT.md";
    script_path_ = dir_.Write("verify.py", script_);
  }

  CommandResult Run(const std::vector<std::string>& files) {
    std::vector<std::string> argv = {python_, script_path_};
    argv.insert(argv.end(), files.begin(), files.end());
    Result<CommandResult> result = RunCommand(argv, 60000);
    EXPECT_TRUE(result.ok()) << result.error();
    return result.ok() ? *result : CommandResult{-1, "", ""};
  }

  portcullis::testing::TempDir dir_{"audit-docs"};
  std::string python_;
  std::string script_;
  std::string script_path_;
};

TEST_F(AuditDocsPython, AcceptsWhatTheWriterWritesAcrossRotations) {
  const std::string path = dir_.File("audit.jsonl");
  AuditOptions options = testing::TestOptions(path);
  options.rotate_bytes = 16 * 1024;
  options.keep = 50;
  {
    auto log = testing::OpenOrDie(options);
    testing::WriteRequests(log.get(), 200);
    Record hostile("mcp.request");  // escapes, U+FFFD and truncation are hashed as written
    hostile.Str("tool", std::string("a\"\n\x01\xff\xc3\xa9", 7) + std::string(10000, 'x'));
    log->Write(std::move(hostile));
  }
  std::vector<std::string> files;
  for (int i = 50; i >= 1; --i) {
    std::string f = path + "." + std::to_string(i);
    if (!testing::ReadAll(f).empty()) {
      files.push_back(f);
    }
  }
  files.push_back(path);
  ASSERT_GT(files.size(), 3u);
  VerifyResult ours = VerifyAuditFiles(files, {.strict = true});
  ASSERT_TRUE(ours.ok()) << ours.error;

  CommandResult clean = Run(files);
  EXPECT_EQ(clean.exit_status, 0) << clean.err;
  EXPECT_EQ(clean.out, "OK 201 " + ours.last_hash + "\n");

  // One edited byte, and a deleted line: the snippet fails as verify does.
  const std::string target = files[1];
  std::vector<std::string> lines = ReadLines(target);
  ASSERT_GT(lines.size(), 3u);
  std::vector<std::string> edited = lines;
  edited[1][edited[1].find("echo") + 1] = 'k';
  WriteAll(target, JoinLines(edited));
  CommandResult bad = Run(files);
  EXPECT_NE(bad.exit_status, 0);
  EXPECT_NE(bad.err.find(target + ":2: edited"), std::string::npos) << bad.err;

  std::vector<std::string> deleted = lines;
  deleted.erase(deleted.begin() + 1);
  WriteAll(target, JoinLines(deleted));
  bad = Run(files);
  EXPECT_NE(bad.exit_status, 0);
  EXPECT_NE(bad.err.find(target + ":2: chain"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace portcullis::audit
