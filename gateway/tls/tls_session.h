// TlsSession: one server-side TLS connection (a WOLFSSL*) driven entirely from memory.
//
// The owner feeds ciphertext with Lend() during a socket read callback, calls Handshake() or
// Read(), then sends whatever TakeOutput() returns. Plaintext goes out through Write(). The
// session keeps a reference to its TlsContext, so a reload never frees a context in use.
// Not thread-safe: a session lives on the reactor that accepted its connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/tls/memory_io.h"
#include "gateway/tls/tls_context.h"
#include "portcullis/identity.h"
#include "portcullis/result.h"

typedef struct WOLFSSL_X509 WOLFSSL_X509;

namespace portcullis::tls {

class TlsSession {
 public:
  static Result<std::unique_ptr<TlsSession>> Create(std::shared_ptr<const TlsContext> context);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Ciphertext from the socket, borrowed until Settle().
  void Lend(const char* data, size_t len) { io_.Lend(data, len); }
  // Copies what wolfSSL has not consumed of the borrowed bytes; call before the read callback
  // returns.
  void Settle() { io_.Stash(); }
  void MarkPeerClosed() { io_.peer_closed = true; }
  // Bytes received and not consumed yet.
  size_t buffered_input() const { return io_.buffered(); }

  enum class Step { kWantMore, kDone, kFailed };
  // Advances the handshake. On kDone the identity is available; on kFailed, error() and
  // error_detail() say why.
  Step Handshake();

  enum class ReadResult { kOk, kClosed, kFailed };
  // Appends all plaintext available now to *out (possibly none).
  ReadResult Read(std::string* out);
  // Encrypts `plain` into the output buffer. Fails only when the session is broken.
  Status Write(std::string_view plain);
  // Queues a close_notify alert.
  void Shutdown();

  bool has_output() const { return !io_.out.empty(); }
  std::string TakeOutput() { return std::exchange(io_.out, std::string()); }

  int error() const { return error_; }
  const std::string& error_detail() const { return error_detail_; }
  const Identity& identity() const { return identity_; }
  // The leaf certificate of a client whose chain failed verification, for the audit record of
  // the refusal; empty otherwise. Never used for authorization.
  const Identity& presented_identity() const { return presented_; }
  void RememberPresented(WOLFSSL_X509* leaf);
  bool resumed() const;
  std::string version() const;
  std::string cipher() const;
  std::string sni() const;
  std::string alpn() const;  // the negotiated protocol, "" when the client offered none

 private:
  TlsSession(std::shared_ptr<const TlsContext> context, WOLFSSL* ssl);
  Step Fail(int error, std::string detail);

  std::shared_ptr<const TlsContext> context_;
  WOLFSSL* ssl_;
  MemoryIo io_;
  Identity identity_;
  Identity presented_;
  int error_ = 0;
  std::string error_detail_;
};

}  // namespace portcullis::tls
