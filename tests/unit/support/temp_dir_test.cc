#include "tests/support/temp_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>

namespace portcullis::testing {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

TEST(TempDir, WritesFilesAndRemovesEverythingOnDestruction) {
  if (std::getenv("PORTCULLIS_KEEP_TEST_FILES") != nullptr) {
    GTEST_SKIP() << "PORTCULLIS_KEEP_TEST_FILES is set: directories are kept on purpose";
  }
  std::string root;
  std::string nested;
  {
    TempDir dir("selftest");
    root = dir.path();
    EXPECT_EQ(root.rfind("/tmp/portcullis-selftest-", 0), 0u) << root;
    EXPECT_TRUE(Exists(root));
    std::string plain = dir.Write("a.txt", "hello");
    EXPECT_EQ(plain, root + "/a.txt");
    EXPECT_EQ(TempDir::ReadFile(plain), "hello");
    nested = dir.Write("sub/dir/b.json", "{}\n");
    EXPECT_EQ(TempDir::ReadFile(nested), "{}\n");
    EXPECT_EQ(dir.File("x"), root + "/x");
  }
  EXPECT_FALSE(Exists(nested));
  EXPECT_FALSE(Exists(root));
}

TEST(TempDir, TwoInstancesGetDistinctDirectories) {
  TempDir a;
  TempDir b;
  EXPECT_NE(a.path(), b.path());
}

TEST(TempDir, ReadFileOfMissingFileIsEmpty) {
  TempDir dir;
  EXPECT_EQ(TempDir::ReadFile(dir.File("missing")), "");
}

}  // namespace
}  // namespace portcullis::testing
