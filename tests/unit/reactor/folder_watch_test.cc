// FolderWatch on a real inotify descriptor: completed changes are reported, appends to a file
// that stays open (an audit log next to the configuration) are not.
#include "gateway/reactor/folder_watch.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace portcullis::reactor {
namespace {

class FolderWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/folder-watch-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    std::ofstream(dir_ + "/policy.json") << "{}";
    std::string error = watch_.Start(&loop_, {dir_}, [this] { ++changes_; });
    ASSERT_EQ(error, "");
  }
  void TearDown() override {
    watch_.Close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    std::filesystem::remove_all(dir_);
  }
  // Runs the loop until nothing is pending; inotify events are queued by the time the system
  // call that caused them returns, so one non-blocking turn sees them all.
  int Changes() {
    uv_run(&loop_, UV_RUN_NOWAIT);
    return changes_;
  }

  std::string dir_;
  uv_loop_t loop_{};
  FolderWatch watch_;
  int changes_ = 0;
};

TEST_F(FolderWatchTest, AppendsToAnOpenFileAreNotChanges) {
  int fd = open((dir_ + "/audit.jsonl").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  ASSERT_GE(fd, 0);
  int after_create = Changes();
  EXPECT_EQ(after_create, 1);  // the creation is one
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(write(fd, "{\"event\":\"x\"}\n", 14), 14);
  }
  EXPECT_EQ(Changes(), after_create);
  close(fd);
  EXPECT_EQ(Changes(), after_create + 1);  // closed after writing: a completed change
}

TEST_F(FolderWatchTest, RewriteRenameAndDeleteAreChanges) {
  std::ofstream(dir_ + "/policy.json") << "{\"rules\":[]}";
  EXPECT_EQ(Changes(), 1);
  std::ofstream(dir_ + "/policy.json.tmp") << "{}";
  ASSERT_EQ(std::rename((dir_ + "/policy.json.tmp").c_str(), (dir_ + "/policy.json").c_str()), 0);
  EXPECT_EQ(Changes(), 2);
  ASSERT_EQ(unlink((dir_ + "/policy.json").c_str()), 0);
  EXPECT_EQ(Changes(), 3);
}

TEST_F(FolderWatchTest, AKubernetesSymlinkSwapIsAChange) {
  ASSERT_EQ(symlink("policy.json", (dir_ + "/..data_tmp").c_str()), 0);
  ASSERT_EQ(std::rename((dir_ + "/..data_tmp").c_str(), (dir_ + "/..data").c_str()), 0);
  EXPECT_EQ(Changes(), 1);
}

TEST(FolderWatch, AMissingFolderIsReportedNotFatal) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  {
    FolderWatch watch;
    std::string error = watch.Start(&loop, {"/nonexistent-folder-watch"}, [] {});
    EXPECT_NE(error.find("/nonexistent-folder-watch"), std::string::npos) << error;
    watch.Close();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
}  // namespace portcullis::reactor
