// LineWriter: writes newline-terminated messages to a file descriptor (stdout) without blocking
// the loop when it is a pipe, a socket or a terminal; a regular file gets plain blocking writes.
//
// Writes are queued in order; queued_bytes() lets the reader stop taking input while a slow
// consumer catches up, and on_drain runs when the queue falls low again. After a write error
// (EPIPE: the client went away) broken() is true and further lines are dropped.
// Loop thread only; the object must stay alive until the loop has run Close()'s callbacks.
#pragma once

#include <uv.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace portcullis::example {

class LineWriter {
 public:
  // Never fails: a descriptor libuv cannot stream becomes a blocking writer.
  static std::unique_ptr<LineWriter> Create(uv_loop_t* loop, int fd);
  ~LineWriter() = default;

  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  // Queues `line` plus '\n'. `line` must not contain a newline.
  void WriteLine(std::string line);

  bool broken() const { return broken_; }
  size_t queued_bytes() const { return queued_bytes_; }
  void set_on_drain(std::function<void()> on_drain) { on_drain_ = std::move(on_drain); }

  // Flushes what is queued (for at most `flush_timeout_ms`; 0 = drop it), then releases the
  // descriptor's handle. Idempotent.
  void Close(uint64_t flush_timeout_ms);

 private:
  struct WriteRequest {
    uv_write_t req;
    std::string data;
  };

  LineWriter(uv_loop_t* loop, int fd);
  void CloseNow();
  static void OnWrite(uv_write_t* req, int status);
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnTimer(uv_timer_t* timer);

  int fd_;
  bool streaming_ = false;  // true when stream_ is an initialized pipe or tty
  bool closing_ = false;
  bool closed_ = false;
  bool broken_ = false;
  size_t queued_bytes_ = 0;
  std::function<void()> on_drain_;
  union {
    uv_pipe_t pipe;
    uv_tty_t tty;
  } stream_;
  uv_shutdown_t shutdown_;
  uv_timer_t flush_timer_;
};

}  // namespace portcullis::example
