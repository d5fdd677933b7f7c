// Memory I/O: wolfSSL reads and writes per-session byte buffers, never the socket.
//
// The reactor moves ciphertext between the socket and these buffers (the h2o read_bio /
// write_bio and Node enc_in/enc_out idea). Sends always succeed (they append), so wolfSSL
// never returns WANT_WRITE and never needs a pinned retry buffer. Not thread-safe: a buffer
// belongs to one session on one reactor.
#pragma once

#include <cstddef>
#include <string>

typedef struct WOLFSSL_CTX WOLFSSL_CTX;
typedef struct WOLFSSL WOLFSSL;

namespace portcullis::tls {

struct MemoryIo {
  // Ciphertext received and not yet consumed by wolfSSL: first the stash (bytes left over
  // from earlier reads), then the borrowed view of the reactor's read buffer. The view is
  // only valid during one read callback; Stash() copies what is left of it before returning,
  // so an idle connection holds no buffer at all.
  std::string stash;
  size_t stash_offset = 0;
  const char* view = nullptr;
  size_t view_len = 0;
  std::string out;  // ciphertext produced by wolfSSL, not yet handed to the socket
  bool peer_closed = false;  // the socket reached EOF: reads report CONN_CLOSE once drained

  void Lend(const char* data, size_t len) {
    view = data;
    view_len = len;
  }
  void Stash();
  size_t buffered() const { return stash.size() - stash_offset + view_len; }
};

// Makes every session of `ctx` use MemoryIo callbacks.
void InstallMemoryIo(WOLFSSL_CTX* ctx);
// Points one session's callbacks at `io`, which must outlive the session.
void AttachMemoryIo(WOLFSSL* ssl, MemoryIo* io);

}  // namespace portcullis::tls
