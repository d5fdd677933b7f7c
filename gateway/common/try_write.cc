#include "gateway/common/try_write.h"

#include <utility>

namespace portcullis::common {

WriteOutcome TryWrite(uv_stream_t* stream, std::string data, void* owner, uv_write_cb cb) {
  WriteOutcome outcome;
  if (data.empty()) return outcome;
  uv_buf_t now = uv_buf_init(data.data(), static_cast<unsigned>(data.size()));
  int written = uv_try_write(stream, &now, 1);
  if (written > 0) {
    if (static_cast<size_t>(written) == data.size()) return outcome;
    data.erase(0, static_cast<size_t>(written));
  }
  // EAGAIN (full socket, or earlier bytes still queued), a partial write, or an error that
  // uv_write will report on its usual path.
  auto* w = new QueuedWrite;
  w->data = std::move(data);
  w->req.data = owner;
  uv_buf_t rest = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, stream, &rest, 1, cb);
  if (rc != 0) {
    delete w;
    outcome.error = rc;
    return outcome;
  }
  outcome.queued = rest.len;
  return outcome;
}

}  // namespace portcullis::common
