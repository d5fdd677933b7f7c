// TryWrite: the write path of our libuv sockets. Bytes go to the kernel at once when the socket
// takes them (uv_try_write: no request, no callback, no change to the poll set); only what the
// socket refused is queued with uv_write. libuv's uv_write finishes a write on a writable
// socket synchronously too, but its callback path stops and re-arms the watcher, which costs an
// epoll_ctl(EPOLL_CTL_MOD) per write on the next loop turn; uv_try_write does not.
//
// Order is kept: uv_try_write refuses (EAGAIN) while earlier bytes are still queued, so a
// later write queues behind them. Loop thread of `stream` only.
#pragma once

#include <uv.h>

#include <cstddef>
#include <string>

namespace portcullis::common {

// A queued remainder: the request and the bytes it owns until the write callback runs. The
// callback gets it back with QueuedWrite::From(req) and must delete it.
struct QueuedWrite {
  uv_write_t req;    // first member: the callback's uv_write_t* is this object
  std::string data;  // what uv_write was given: the bytes the socket did not take at once

  static QueuedWrite* From(uv_write_t* req) { return reinterpret_cast<QueuedWrite*>(req); }
};

struct WriteOutcome {
  // uv_write's synchronous refusal (nothing was queued, no callback will run), else 0.
  int error = 0;
  // Bytes handed to uv_write: `cb` runs once for them, with QueuedWrite::data of this size.
  // 0 when the socket took everything at once: no callback runs.
  size_t queued = 0;
};

// Writes `data` on `stream`: what the socket takes now, the rest queued with uv_write and `cb`
// (its request's `data` set to `owner`). A socket error other than EAGAIN is not reported here:
// the bytes are queued and uv_write reports the error the way it always does (synchronously in
// `error`, or through `cb` with a status), so callers keep one error path.
WriteOutcome TryWrite(uv_stream_t* stream, std::string data, void* owner, uv_write_cb cb);

}  // namespace portcullis::common
