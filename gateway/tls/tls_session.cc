#include "gateway/tls/tls_session.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "gateway/tls/handshake_failure.h"
#include "gateway/tls/identity_extractor.h"

namespace portcullis::tls {

Result<std::unique_ptr<TlsSession>> TlsSession::Create(std::shared_ptr<const TlsContext> context) {
  WOLFSSL* ssl = wolfSSL_new(context->native());
  if (!ssl) return Status::Error("wolfSSL_new failed (out of memory?)");
  std::unique_ptr<TlsSession> session(new TlsSession(std::move(context), ssl));
  AttachMemoryIo(ssl, &session->io_);
  wolfSSL_SetCertCbCtx(ssl, session.get());
  // The gateway speaks HTTP/1.1: say so to clients that offer ALPN, and carry on with those
  // that offer only something else (they may still speak HTTP/1.1 without ALPN).
  char alpn[] = "http/1.1";
  wolfSSL_UseALPN(ssl, alpn, sizeof(alpn) - 1, WOLFSSL_ALPN_CONTINUE_ON_MISMATCH);
  return session;
}

TlsSession::TlsSession(std::shared_ptr<const TlsContext> context, WOLFSSL* ssl)
    : context_(std::move(context)), ssl_(ssl) {}

TlsSession::~TlsSession() { wolfSSL_free(ssl_); }

void TlsSession::RememberPresented(WOLFSSL_X509* leaf) {
  Result<Identity> identity = ExtractIdentity(leaf);
  if (identity.ok()) presented_ = std::move(identity).value();
}

TlsSession::Step TlsSession::Fail(int error, std::string detail) {
  error_ = error;
  error_detail_ = std::move(detail);
  return Step::kFailed;
}

TlsSession::Step TlsSession::Handshake() {
  int rc = wolfSSL_accept(ssl_);
  if (rc != WOLFSSL_SUCCESS) {
    int err = wolfSSL_get_error(ssl_, rc);
    if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) return Step::kWantMore;
    return Fail(err, WolfSslErrorString(err));
  }
  WOLFSSL_X509* peer = wolfSSL_get_peer_certificate(ssl_);
  if (!peer) {
    // A resumed TLS 1.3 session whose certificate wolfSSL no longer has: the identity cannot
    // be recovered, so the connection is refused rather than served anonymously.
    return Fail(kResumedWithoutCertificate, "resumed session carries no peer certificate");
  }
  Result<Identity> identity = ExtractIdentity(peer);
  wolfSSL_X509_free(peer);
  if (!identity.ok()) return Fail(kBadIdentity, identity.error());
  identity_ = std::move(identity).value();
  // Keys, transcript and certificate buffers of the handshake are not needed any more; an
  // idle connection should cost as little as possible.
  wolfSSL_FreeHandshakeResources(ssl_);
  return Step::kDone;
}

TlsSession::ReadResult TlsSession::Read(std::string* out) {
  char buf[16384];
  for (;;) {
    int n = wolfSSL_read(ssl_, buf, sizeof(buf));
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
      continue;
    }
    int err = wolfSSL_get_error(ssl_, n);
    if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) return ReadResult::kOk;
    if (err == WOLFSSL_ERROR_ZERO_RETURN) return ReadResult::kClosed;
    error_ = err;
    error_detail_ = WolfSslErrorString(err);
    // A peer that closes without close_notify is still a close, not an attack.
    if (io_.peer_closed && io_.buffered() == 0) return ReadResult::kClosed;
    return ReadResult::kFailed;
  }
}

Status TlsSession::Write(std::string_view plain) {
  while (!plain.empty()) {
    int chunk = static_cast<int>(std::min<size_t>(plain.size(), 1 << 20));
    int n = wolfSSL_write(ssl_, plain.data(), chunk);
    if (n <= 0) {
      int err = wolfSSL_get_error(ssl_, n);
      return Status::Error("TLS write failed: " + WolfSslErrorString(err));
    }
    plain.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

void TlsSession::Shutdown() { wolfSSL_shutdown(ssl_); }

bool TlsSession::resumed() const { return wolfSSL_session_reused(ssl_) == 1; }

std::string TlsSession::version() const {
  const char* v = wolfSSL_get_version(ssl_);
  return v ? v : "";
}

std::string TlsSession::cipher() const {
  const char* c = wolfSSL_get_cipher_name(ssl_);
  return c ? c : "";
}

std::string TlsSession::alpn() const {
  char* name = nullptr;
  unsigned short len = 0;
  if (wolfSSL_ALPN_GetProtocol(ssl_, &name, &len) != WOLFSSL_SUCCESS || !name) return "";
  return std::string(name, len);
}

std::string TlsSession::sni() const {
  void* name = nullptr;
  unsigned short len = wolfSSL_SNI_GetRequest(ssl_, WOLFSSL_SNI_HOST_NAME, &name);
  return name && len ? std::string(static_cast<const char*>(name), len) : std::string();
}

}  // namespace portcullis::tls
