// Upstream TLS: the gateway as a TLS client of an https:// upstream (DESIGN §1, "optional
// upstream mTLS").
//
// UpstreamTlsContext is one upstream's client settings built into a WOLFSSL_CTX: TLS 1.2 or
// newer, the gateway's AEAD-only suites, trust anchors from that upstream's own "ca" bundle and
// nothing else (no "ca": the system bundle kSystemCaBundle), and the optional client
// certificate and key the upstream asks for. It is built once (per reactor, see UpstreamPool)
// and never mutated afterwards, so sessions may be created from it freely.
//
// UpstreamTlsSession is one client connection (a WOLFSSL*) driven through memory I/O exactly
// like the server side (gateway/tls/tls_session.h): the owner lends ciphertext from the socket,
// advances Handshake() or Read(), and sends what TakeOutput() returns. The server's name is
// verified against the upstream's "server_name" (or the URL's host) during the handshake; a
// failure carries the operator's reason (DESIGN §5: HOSTNAME_MISMATCH,
// CERTIFICATE_VERIFY_FAILED, CERTIFICATE_EXPIRED, ...) and a detail naming what was expected.
// A session is not thread-safe: it lives on the reactor that opened its connection.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "gateway/tls/memory_io.h"
#include "portcullis/config.h"
#include "portcullis/result.h"

typedef struct WOLFSSL_CTX WOLFSSL_CTX;
typedef struct WOLFSSL WOLFSSL;

namespace portcullis::upstream {

// The trust anchors of an https upstream configured without "ca" (Debian's ca-certificates).
inline constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

class UpstreamTlsContext {
 public:
  // Loads the upstream's CA bundle, client certificate and key. The error names the file
  // that could not be used (the caller names the upstream).
  static Result<std::shared_ptr<const UpstreamTlsContext>> Create(const UpstreamConfig& upstream);
  ~UpstreamTlsContext();
  UpstreamTlsContext(const UpstreamTlsContext&) = delete;
  UpstreamTlsContext& operator=(const UpstreamTlsContext&) = delete;

  WOLFSSL_CTX* native() const { return ctx_; }
  // The name the server's certificate must carry (server_name, else the URL's host).
  const std::string& verify_name() const { return verify_name_; }
  // The CA bundle trusted for this upstream (its "ca", or kSystemCaBundle).
  const std::string& trust() const { return trust_; }
  bool has_client_certificate() const { return has_client_certificate_; }

 private:
  UpstreamTlsContext(WOLFSSL_CTX* ctx, std::string verify_name, std::string trust,
                     bool has_client_certificate)
      : ctx_(ctx),
        verify_name_(std::move(verify_name)),
        trust_(std::move(trust)),
        has_client_certificate_(has_client_certificate) {}

  WOLFSSL_CTX* ctx_;
  std::string verify_name_;
  std::string trust_;
  bool has_client_certificate_;
};

class UpstreamTlsSession {
 public:
  static Result<std::unique_ptr<UpstreamTlsSession>> Create(
      std::shared_ptr<const UpstreamTlsContext> context);
  ~UpstreamTlsSession();
  UpstreamTlsSession(const UpstreamTlsSession&) = delete;
  UpstreamTlsSession& operator=(const UpstreamTlsSession&) = delete;

  // Ciphertext from the socket, borrowed until Settle(), which must be called before the read
  // callback returns.
  void Lend(const char* data, size_t len);
  void Settle() { io_.Stash(); }
  // The socket reached EOF: wolfSSL sees the close once the buffered bytes are consumed.
  void MarkPeerClosed() { io_.peer_closed = true; }

  enum class Step { kWantMore, kDone, kFailed };
  // Starts (first call: the ClientHello goes to the output) or advances the handshake. On
  // kFailed, failure_reason() and failure_detail() say why.
  Step Handshake();
  bool handshake_done() const { return handshake_done_; }

  enum class ReadResult { kOk, kClosed, kFailed };
  // Appends all plaintext available now to *out (possibly none). kClosed: close_notify, or
  // EOF with nothing left to decrypt.
  ReadResult Read(std::string* out);
  // Encrypts `plain` into the output. Fails only when the session is broken.
  Status Write(std::string_view plain);

  bool has_output() const { return !io_.out.empty(); }
  std::string TakeOutput() { return std::exchange(io_.out, std::string()); }

  // After kFailed: one of the DESIGN §5 reasons ("HOSTNAME_MISMATCH", ...) and the details
  // (wolfSSL's error, the alert received, the name or CA expected).
  std::string_view failure_reason() const { return failure_reason_; }
  const std::string& failure_detail() const { return failure_detail_; }
  std::string version() const;
  std::string cipher() const;

 private:
  UpstreamTlsSession(std::shared_ptr<const UpstreamTlsContext> context, WOLFSSL* ssl);
  // Records the classified failure of wolfSSL error `error`.
  void Classify(int error);

  std::shared_ptr<const UpstreamTlsContext> context_;
  WOLFSSL* ssl_;
  tls::MemoryIo io_;
  bool handshake_done_ = false;
  int first_byte_ = -1;  // the first byte the server sent, to recognise a plaintext server
  std::string_view failure_reason_;
  std::string failure_detail_;
};

// Builds the client context of every https upstream of `config` once, so that a bad CA
// bundle, certificate or key is reported by `check` and at start, not at the first request.
// The first failure, naming the upstream.
Status CheckUpstreamTls(const Config& config);

}  // namespace portcullis::upstream
