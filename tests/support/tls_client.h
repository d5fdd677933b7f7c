// TlsClient and RawSocket: blocking, bounded test clients for the gateway's TLS port.
//
// TlsClient is a wolfSSL client over a non-blocking TCP socket driven with poll(), so every
// connect, handshake, read and write ends by its deadline. It is a test tool, not product code:
// it can speak TLS 1.1 (to show the gateway refuses it), skip verification, and resume sessions.
// Errors name wolfSSL's code and reason, and the last alert received, e.g.
//   "TLS handshake with 127.0.0.1:8443 failed: wolfSSL error -313 (received alert fatal error);
//    alert received: 48 (fatal)".
// Note that in TLS 1.3 a server's rejection of the client certificate arrives after the client
// has finished its handshake: Connect() succeeds and the first ReadSome() fails with the alert.
// RawSocket is plain TCP for "plaintext on the TLS port" tests. Neither is thread-safe.
#pragma once

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "portcullis/result.h"
#include "tests/support/byte_stream.h"

namespace portcullis::testing {

// wolfSSL_Init() exactly once per process (also ignores SIGPIPE). Called by Connect().
void EnsureWolfSslInit();

struct TlsSessionDeleter {
  void operator()(WOLFSSL_SESSION* session) const;
};
// An owned reference to a session, for resumption on a later connection.
using TlsSessionPtr = std::unique_ptr<WOLFSSL_SESSION, TlsSessionDeleter>;

struct TlsClientOptions {
  std::string ca_file;     // trust anchors for the server; empty = do not verify the server
  std::string cert_file;   // client certificate chain (PEM); optional
  std::string key_file;    // its key (PEM)
  std::string servername;  // SNI; also the name checked in the server cert (see verify_hostname)
  bool verify_hostname = true;  // with ca_file and servername: check the name too
  // "" = TLS 1.2 or 1.3 (highest the server offers), "1.2", "1.3", or "1.1" (this wolfSSL build
  // has TLS 1.1; no TLS 1.0).
  std::string version;
  std::string cipher_list;             // wolfSSL cipher list; empty = library default
  WOLFSSL_SESSION* session = nullptr;  // offer this session; borrowed for the Connect() call only
  int connect_timeout_ms = 5000;       // TCP connect plus handshake
  int write_timeout_ms = 5000;         // per WriteAll()
};

class TlsClient : public ByteStream {
 public:
  // Connects to host:port (a literal address or "localhost") and completes the handshake.
  static Result<std::unique_ptr<TlsClient>> Connect(const std::string& host, uint16_t port,
                                                    const TlsClientOptions& options);
  ~TlsClient() override;

  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool resumed() const;
  std::string version() const;  // e.g. "TLSv1.3"
  std::string cipher() const;   // wolfSSL's name, e.g. "TLS13-AES128-GCM-SHA256"

  Status WriteAll(std::string_view data) { return Write(data); }
  // Bytes available now (waiting up to timeout_ms); "" = the server closed the connection.
  Result<std::string> ReadSome(int timeout_ms) { return Read(timeout_ms); }
  // Everything until the server closes; an error on timeout or a TLS failure.
  Result<std::string> ReadUntilClose(int timeout_ms);

  // The session for resumption. For TLS 1.3 the ticket arrives after the handshake, so read at
  // least one response first. Null if there is none.
  TlsSessionPtr TakeSession();

  // True once the server's close_notify was seen (as opposed to a bare TCP close).
  bool close_notify_received() const { return close_notify_received_; }

  // Sends close_notify (best effort, bounded) and closes the socket. Idempotent.
  void Close();
  // Closes with an RST (SO_LINGER 0) and no close_notify: an abrupt client disconnect.
  void Reset();

  int fd() const { return fd_; }
  // Escape hatch for checks this class does not wrap (peer certificate, ALPN...).
  WOLFSSL* ssl() const { return ssl_; }

 protected:
  Status DoWrite(std::string_view data) override;
  Result<std::string> DoRead(int timeout_ms) override;

 private:
  TlsClient() = default;
  std::string ErrorText(int ret) const;

  WOLFSSL_CTX* ctx_ = nullptr;
  WOLFSSL* ssl_ = nullptr;
  int fd_ = -1;
  int write_timeout_ms_ = 5000;
  bool close_notify_received_ = false;
  bool closed_by_peer_ = false;
  std::string peer_;  // "host:port" for messages
};

class RawSocket : public ByteStream {
 public:
  static Result<std::unique_ptr<RawSocket>> Connect(const std::string& host, uint16_t port,
                                                    int timeout_ms = 5000);
  ~RawSocket() override;

  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  Status WriteAll(std::string_view data) { return Write(data); }
  Result<std::string> ReadSome(int timeout_ms) { return Read(timeout_ms); }
  Result<std::string> ReadUntilClose(int timeout_ms);
  // Half-close: the peer reads EOF, we can still read.
  void ShutdownWrite();
  // Closes with an RST (SO_LINGER 0).
  void Reset();
  int fd() const { return fd_; }

 protected:
  Status DoWrite(std::string_view data) override;
  Result<std::string> DoRead(int timeout_ms) override;

 private:
  explicit RawSocket(int fd) : fd_(fd) {}
  int fd_ = -1;
  int write_timeout_ms_ = 5000;
};

// TCP connect to host:port within timeout_ms; returns a non-blocking socket.
Result<int> ConnectTcp(const std::string& host, uint16_t port, int timeout_ms);

}  // namespace portcullis::testing
