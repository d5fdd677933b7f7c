// ClientTlsContext: the client side's validated TLS settings plus the WOLFSSL_CTX built from
// them, shared by every connection of a benchmark run.
//
// NewSession() makes one WOLFSSL per connection, wired to a tls::MemoryIo (the gateway's memory
// I/O: wolfSSL never touches the socket), with SNI and the name to verify. Created and configured
// on the main thread before any worker starts; after that it is read-only, and wolfSSL allows
// sessions to be created from it on many threads at once.
#pragma once

#include <memory>
#include <string>

#include "bench/harness/options.h"
#include "gateway/tls/memory_io.h"
#include "portcullis/result.h"

typedef struct WOLFSSL_CTX WOLFSSL_CTX;
typedef struct WOLFSSL WOLFSSL;

namespace portcullis::bench {

class ClientTlsContext {
 public:
  // Loads the CA, client certificate and key named in `options`; errors name the file.
  static Result<std::unique_ptr<ClientTlsContext>> Create(const BenchOptions& options);
  ~ClientTlsContext();
  ClientTlsContext(const ClientTlsContext&) = delete;
  ClientTlsContext& operator=(const ClientTlsContext&) = delete;

  // A new session reading and writing `io` (which must outlive it); null on failure. Without a
  // client certificate, *cert_requested (which must outlive the session too) becomes true when
  // the server asks for one.
  WOLFSSL* NewSession(tls::MemoryIo* io, bool* cert_requested) const;

  bool cert_loaded() const { return cert_loaded_; }
  // The name verified in the server's certificate ("" with --insecure), and whether SNI is sent.
  const std::string& servername() const { return servername_; }
  bool sends_sni() const { return sends_sni_; }

 private:
  ClientTlsContext() = default;

  WOLFSSL_CTX* ctx_ = nullptr;
  bool cert_loaded_ = false;
  bool verify_ = true;
  bool offer_tickets_ = false;  // --resume: ask for TLS 1.2 session tickets too
  std::string servername_;
  bool sni_is_address_ = false;
  bool sends_sni_ = false;
};

}  // namespace portcullis::bench
