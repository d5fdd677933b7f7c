#include "gateway/reactor/folder_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portcullis::reactor {

namespace {

// Everything that ends a change, nothing that happens during one (IN_MODIFY, IN_OPEN,
// IN_ACCESS). IN_ATTRIB catches `touch` and chmod; IN_*_SELF a folder that goes away.
constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                           IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;

}  // namespace

FolderWatch::~FolderWatch() {
  if (fd_ >= 0) close(fd_);
}

std::string FolderWatch::Start(uv_loop_t* loop, const std::vector<std::string>& folders,
                               std::function<void()> on_change) {
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) return std::string("inotify: ") + std::strerror(errno);
  std::string failed;
  for (const std::string& folder : folders) {
    if (inotify_add_watch(fd_, folder.c_str(), kMask) < 0) {
      failed += (failed.empty() ? "" : "; ") + folder + ": " + std::strerror(errno);
    }
  }
  if (int rc = uv_poll_init(loop, &poll_, fd_); rc != 0) {
    return std::string("inotify: ") + uv_strerror(rc);
  }
  polling_ = true;
  poll_.data = this;
  on_change_ = std::move(on_change);
  uv_poll_start(&poll_, UV_READABLE, OnReadable);
  return failed;
}

void FolderWatch::Close() {
  if (!polling_) return;
  polling_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
}

void FolderWatch::OnReadable(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<FolderWatch*>(handle->data);
  if (status != 0) return;
  // The events themselves do not matter, only that some arrived: drain them all, report once.
  alignas(inotify_event) char buffer[4096];
  bool any = false;
  while (true) {
    ssize_t n = read(self->fd_, buffer, sizeof buffer);
    if (n <= 0) break;  // EAGAIN: drained
    any = true;
  }
  if (any && self->on_change_) self->on_change_();
}

}  // namespace portcullis::reactor
