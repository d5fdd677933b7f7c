// TryWrite on a real TCP loopback connection whose peer does not read: the socket takes part
// of a large write, the rest queues, later writes queue behind it, and the peer receives every
// byte once and in order.
#include "gateway/common/try_write.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace portcullis::common {
namespace {

// A connected loopback pair: `writer` goes to libuv, `peer` stays a plain blocking socket.
struct Pair {
  int writer = -1;
  int peer = -1;
};

Pair MakePair() {
  Pair pair;
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(listen(listener, 1), 0);
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  pair.writer = socket(AF_INET, SOCK_STREAM, 0);
  int small = 16384;  // small buffers: the socket fills after a few KB
  setsockopt(pair.writer, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  EXPECT_EQ(connect(pair.writer, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  pair.peer = accept(listener, nullptr, nullptr);
  setsockopt(pair.peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  timeval timeout = {10, 0};  // every read by the test is bounded
  setsockopt(pair.peer, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  close(listener);
  return pair;
}

std::string Pattern(size_t size, char seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(seed + (i * 7 + i / 251) % 61);
  return s;
}

// Reads exactly `size` bytes from `fd` (or less on timeout / close).
std::string ReadExactly(int fd, size_t size) {
  std::string got;
  std::vector<char> buf(65536);
  while (got.size() < size) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n <= 0) break;
    got.append(buf.data(), static_cast<size_t>(n));
  }
  return got;
}

struct Fixture {
  uv_loop_t loop;
  uv_tcp_t tcp;
  Pair pair;
  int callbacks = 0;
  size_t completed_bytes = 0;
  int last_status = 0;

  Fixture() {
    uv_loop_init(&loop);
    pair = MakePair();
    uv_tcp_init(&loop, &tcp);
    EXPECT_EQ(uv_tcp_open(&tcp, pair.writer), 0);
    tcp.data = this;
  }
  ~Fixture() {
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (pair.peer >= 0) close(pair.peer);
  }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp); }

  static void OnWrite(uv_write_t* req, int status) {
    QueuedWrite* w = QueuedWrite::From(req);
    auto* self = static_cast<Fixture*>(req->data);
    ++self->callbacks;
    self->completed_bytes += w->data.size();
    if (status != 0) self->last_status = status;
    delete w;
  }
};

TEST(TryWriteTest, SmallWriteGoesOutAtOnceWithoutCallback) {
  Fixture f;
  WriteOutcome out = TryWrite(f.stream(), "hello", &f, Fixture::OnWrite);
  EXPECT_EQ(out.error, 0);
  EXPECT_EQ(out.queued, 0u);
  EXPECT_EQ(f.tcp.write_queue_size, 0u);
  EXPECT_EQ(ReadExactly(f.pair.peer, 5), "hello");
  uv_run(&f.loop, UV_RUN_NOWAIT);
  EXPECT_EQ(f.callbacks, 0);
}

TEST(TryWriteTest, RemainderQueuesAndArrivesWholeAndInOrder) {
  Fixture f;
  const std::string first = Pattern(4 << 20, 'A');  // far more than the socket buffers hold
  const std::string second = Pattern(100000, 'a');
  const std::string third = "tail";

  WriteOutcome out1 = TryWrite(f.stream(), first, &f, Fixture::OnWrite);
  EXPECT_EQ(out1.error, 0);
  EXPECT_GT(out1.queued, 0u);            // the peer does not read: not everything fit
  EXPECT_LT(out1.queued, first.size());  // but the socket took a part at once
  // Bytes are queued: later writes must wait behind them, whole.
  WriteOutcome out2 = TryWrite(f.stream(), second, &f, Fixture::OnWrite);
  EXPECT_EQ(out2.error, 0);
  EXPECT_EQ(out2.queued, second.size());
  WriteOutcome out3 = TryWrite(f.stream(), third, &f, Fixture::OnWrite);
  EXPECT_EQ(out3.queued, third.size());

  const std::string expected = first + second + third;
  std::string got;
  std::thread reader([&] { got = ReadExactly(f.pair.peer, expected.size()); });
  uv_run(&f.loop, UV_RUN_DEFAULT);  // returns once every queued write has called back
  reader.join();

  EXPECT_EQ(f.callbacks, 3);
  EXPECT_EQ(f.last_status, 0);
  EXPECT_EQ(f.completed_bytes, out1.queued + out2.queued + out3.queued);
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected);  // not EXPECT_EQ: a mismatch would print megabytes

  // The queue drained: the next small write goes out at once again.
  WriteOutcome out4 = TryWrite(f.stream(), "again", &f, Fixture::OnWrite);
  EXPECT_EQ(out4.queued, 0u);
  EXPECT_EQ(ReadExactly(f.pair.peer, 5), "again");
}

TEST(TryWriteTest, SocketErrorStillReachesTheCaller) {
  // A write to a reset connection raises SIGPIPE; the gateway ignores it (Server), so here too.
  struct sigaction ignore = {}, previous = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &previous);
  Fixture f;
  linger reset = {1, 0};  // close with RST
  setsockopt(f.pair.peer, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  close(f.pair.peer);
  f.pair.peer = -1;
  pollfd p = {f.pair.writer, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1);  // the RST has arrived

  WriteOutcome out = TryWrite(f.stream(), "lost", &f, Fixture::OnWrite);
  if (out.error == 0) {
    EXPECT_EQ(out.queued, 4u);  // queued so that uv_write reports the error
    uv_run(&f.loop, UV_RUN_DEFAULT);
    EXPECT_EQ(f.callbacks, 1);
    EXPECT_LT(f.last_status, 0);
  } else {
    EXPECT_EQ(out.queued, 0u);
    EXPECT_EQ(f.callbacks, 0);
  }
  sigaction(SIGPIPE, &previous, nullptr);
}

}  // namespace
}  // namespace portcullis::common
