// TempDir: a fresh directory under /tmp that lives as long as the object.
//
// Tests write their configs, certificates and logs here. The destructor removes the whole tree
// unless the environment variable PORTCULLIS_KEEP_TEST_FILES is set (then the path is printed so
// a failing run can be inspected). Not thread-safe; one owner.
#pragma once

#include <string>
#include <string_view>

namespace portcullis::testing {

class TempDir {
 public:
  // Creates /tmp/portcullis-<prefix>-XXXXXX. Aborts the test binary if /tmp is unusable: nothing
  // meaningful can run without it.
  explicit TempDir(std::string_view prefix = "test");
  ~TempDir();

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Absolute path, without a trailing slash.
  const std::string& path() const { return path_; }

  // path() + "/" + name.
  std::string File(std::string_view name) const;

  // Writes (truncates) path()/name with `text` and returns its full path. `name` may contain
  // sub-directories, which are created. Fails the current test on I/O errors.
  std::string Write(std::string_view name, std::string_view text) const;

  // Reads a whole file; an empty string if it cannot be read.
  static std::string ReadFile(const std::string& path);

 private:
  std::string path_;
};

}  // namespace portcullis::testing
