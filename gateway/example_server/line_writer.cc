#include "gateway/example_server/line_writer.h"

#include <errno.h>
#include <unistd.h>

namespace portcullis::example {

namespace {

// Below this, a paused reader may take input again.
constexpr size_t kLowWatermark = 1 << 20;

uv_stream_t* AsStream(void* handle) { return static_cast<uv_stream_t*>(handle); }

}  // namespace

std::unique_ptr<LineWriter> LineWriter::Create(uv_loop_t* loop, int fd) {
  return std::unique_ptr<LineWriter>(new LineWriter(loop, fd));
}

LineWriter::LineWriter(uv_loop_t* loop, int fd) : fd_(fd) {
  uv_timer_init(loop, &flush_timer_);
  flush_timer_.data = this;
  shutdown_.data = this;
  switch (uv_guess_handle(fd)) {
    case UV_NAMED_PIPE:
      if (uv_pipe_init(loop, &stream_.pipe, 0) == 0) {
        if (uv_pipe_open(&stream_.pipe, fd) == 0) {
          streaming_ = true;
        } else {
          uv_close(reinterpret_cast<uv_handle_t*>(&stream_.pipe), nullptr);
        }
      }
      break;
    case UV_TTY:
      streaming_ = uv_tty_init(loop, &stream_.tty, fd, 0) == 0;
      break;
    default:
      break;
  }
  if (streaming_) {
    stream_.pipe.data = this;
  }
}

void LineWriter::WriteLine(std::string line) {
  if (broken_ || closing_) {
    return;
  }
  line.push_back('\n');
  if (!streaming_) {
    // Regular file or something libuv cannot stream: a short blocking write is fine there.
    size_t done = 0;
    while (done < line.size()) {
      ssize_t n = write(fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        broken_ = true;
        return;
      }
      done += static_cast<size_t>(n);
    }
    return;
  }
  auto* request = new WriteRequest;
  request->data = std::move(line);
  request->req.data = this;
  uv_buf_t buf = uv_buf_init(request->data.data(), static_cast<unsigned>(request->data.size()));
  queued_bytes_ += request->data.size();
  int rc = uv_write(&request->req, AsStream(&stream_), &buf, 1, &LineWriter::OnWrite);
  if (rc != 0) {
    queued_bytes_ -= request->data.size();
    broken_ = true;
    delete request;
  }
}

void LineWriter::OnWrite(uv_write_t* req, int status) {
  auto* request = reinterpret_cast<WriteRequest*>(req);
  auto* self = static_cast<LineWriter*>(req->data);
  self->queued_bytes_ -= request->data.size();
  delete request;
  if (status != 0) {
    self->broken_ = true;
    return;
  }
  if (self->queued_bytes_ < kLowWatermark && self->on_drain_ && !self->closing_) {
    self->on_drain_();
  }
}

void LineWriter::Close(uint64_t flush_timeout_ms) {
  if (closing_) {
    return;
  }
  closing_ = true;
  on_drain_ = nullptr;
  if (!streaming_ || broken_ || queued_bytes_ == 0 || flush_timeout_ms == 0) {
    CloseNow();
    return;
  }
  // uv_shutdown completes once every queued write is done. The timer bounds the wait, in case
  // the client keeps the pipe open without reading it.
  if (uv_shutdown(&shutdown_, AsStream(&stream_), &LineWriter::OnShutdown) != 0) {
    CloseNow();
    return;
  }
  uv_timer_start(&flush_timer_, &LineWriter::OnTimer, flush_timeout_ms, 0);
}

void LineWriter::OnShutdown(uv_shutdown_t* req, int /*status*/) {
  static_cast<LineWriter*>(req->data)->CloseNow();
}

void LineWriter::OnTimer(uv_timer_t* timer) { static_cast<LineWriter*>(timer->data)->CloseNow(); }

void LineWriter::CloseNow() {
  if (closed_) {
    return;
  }
  closed_ = true;
  uv_timer_stop(&flush_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_timer_), nullptr);
  if (streaming_) {
    // Pending writes (if any) complete with UV_ECANCELED before the handle is gone.
    uv_close(reinterpret_cast<uv_handle_t*>(&stream_), nullptr);
  }
}

}  // namespace portcullis::example
