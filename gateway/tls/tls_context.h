// TlsContext: the validated server-side TLS settings plus the WOLFSSL_CTX built from them.
//
// One context serves every connection of a configuration generation, on every reactor: a
// WOLFSSL_CTX may create sessions from many threads once it is fully configured, and it is
// never mutated afterwards. A reload builds a new context and swaps the shared_ptr; live
// connections keep the one they started with (see docs/ARCHITECTURE.md).
#pragma once

#include <memory>
#include <string>

#include "portcullis/config.h"
#include "portcullis/result.h"

typedef struct WOLFSSL_CTX WOLFSSL_CTX;

namespace portcullis::tls {

// wolfSSL's library-wide init; idempotent and thread-safe. Call before any other TLS use.
void InitLibrary();
// Frees wolfSSL's per-thread caches (the fixed-point ECC cache of Debian's FP_ECC build, which
// is thread-local and otherwise leaks). Call on every thread that did TLS work, as it ends.
void ReleaseThreadResources();

// The defaults are AEAD suites with ECDHE only. Debian's wolfSSL compiles NULL, anonymous
// and RC4 suites in, so a list is always set explicitly, never left to the library.
inline constexpr const char* kDefaultTls13Suites =
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256";
inline constexpr const char* kDefaultTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

class TlsContext {
 public:
  static Result<std::shared_ptr<const TlsContext>> Create(const TlsConfig& config);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  WOLFSSL_CTX* native() const { return ctx_; }
  // True when session tickets are on; a resumed session must then still carry a peer
  // certificate (notes/wolfssl-libuv.md §4), which TlsSession checks.
  bool resumption_enabled() const { return resumption_enabled_; }
  uint32_t handshake_timeout_ms() const { return handshake_timeout_ms_; }

 private:
  TlsContext(WOLFSSL_CTX* ctx, bool resumption, uint32_t handshake_timeout_ms)
      : ctx_(ctx), resumption_enabled_(resumption), handshake_timeout_ms_(handshake_timeout_ms) {}
  WOLFSSL_CTX* ctx_;
  bool resumption_enabled_;
  uint32_t handshake_timeout_ms_;
};

}  // namespace portcullis::tls
