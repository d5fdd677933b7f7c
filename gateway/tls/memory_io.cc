#include "gateway/tls/memory_io.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfio.h>

#include <algorithm>
#include <cstring>

namespace portcullis::tls {
namespace {

// wolfSSL wants a byte count, WANT_READ or CONN_CLOSE; never 0 for an error
// (Azure/azure-c-shared-utility#473).
int Receive(WOLFSSL*, char* buf, int size, void* ctx) {
  auto* io = static_cast<MemoryIo*>(ctx);
  size_t want = static_cast<size_t>(size);
  if (io->stash_offset < io->stash.size()) {
    size_t n = std::min(io->stash.size() - io->stash_offset, want);
    std::memcpy(buf, io->stash.data() + io->stash_offset, n);
    io->stash_offset += n;
    if (io->stash_offset == io->stash.size()) {
      std::string().swap(io->stash);  // release the memory, not just the size
      io->stash_offset = 0;
    }
    return static_cast<int>(n);
  }
  if (io->view_len > 0) {
    size_t n = std::min(io->view_len, want);
    std::memcpy(buf, io->view, n);
    io->view += n;
    io->view_len -= n;
    return static_cast<int>(n);
  }
  return io->peer_closed ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_WANT_READ;
}

int Send(WOLFSSL*, char* buf, int size, void* ctx) {
  auto* io = static_cast<MemoryIo*>(ctx);
  io->out.append(buf, static_cast<size_t>(size));
  return size;
}

}  // namespace

void MemoryIo::Stash() {
  if (view_len > 0) {
    if (stash_offset > 0) {
      stash.erase(0, stash_offset);
      stash_offset = 0;
    }
    stash.append(view, view_len);
  }
  view = nullptr;
  view_len = 0;
}

void InstallMemoryIo(WOLFSSL_CTX* ctx) {
  wolfSSL_CTX_SetIORecv(ctx, Receive);
  wolfSSL_CTX_SetIOSend(ctx, Send);
}

void AttachMemoryIo(WOLFSSL* ssl, MemoryIo* io) {
  wolfSSL_SetIOReadCtx(ssl, io);
  wolfSSL_SetIOWriteCtx(ssl, io);
}

}  // namespace portcullis::tls
