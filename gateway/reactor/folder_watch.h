// FolderWatch: tells the control loop that a file in one of some folders was replaced or
// rewritten, so configuration, policy and certificates reload without a SIGHUP.
//
// Folders, not files: editors replace a file by rename, and Kubernetes swaps a ConfigMap or
// Secret by re-pointing the folder's ..data symlink. Only completed changes are reported
// (closed after writing, created, deleted, renamed, attributes): not every write(). A folder
// often holds more than the configuration (the audit log, say), and inotify's IN_MODIFY would
// wake the control loop on each of its appends — several system calls per proxied request.
// libuv's uv_fs_event always asks for IN_MODIFY, hence an inotify descriptor of our own.
//
// Not thread-safe: lives on the loop that created it. Close() before the loop ends; the object
// may be destroyed only after the loop has run the close callback (uv_run returned).
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <vector>

namespace portcullis::reactor {

class FolderWatch {
 public:
  FolderWatch() = default;
  ~FolderWatch();
  FolderWatch(const FolderWatch&) = delete;
  FolderWatch& operator=(const FolderWatch&) = delete;

  // Starts watching `folders` on `loop`; `on_change` runs on the loop for each batch of
  // events. Returns the folders that could not be watched, with the reason ("" = all fine).
  std::string Start(uv_loop_t* loop, const std::vector<std::string>& folders,
                    std::function<void()> on_change);
  void Close();

 private:
  static void OnReadable(uv_poll_t* handle, int status, int events);

  int fd_ = -1;
  bool polling_ = false;
  uv_poll_t poll_{};
  std::function<void()> on_change_;
};

}  // namespace portcullis::reactor
