#include "tests/support/tls_client.h"

#include "gateway/tls/tls_context.h"

#include <wolfssl/error-ssl.h>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>

#include "tests/support/child_process.h"

namespace portcullis::testing {
namespace {

using Clock = std::chrono::steady_clock;

Clock::time_point DeadlineIn(int ms) { return Clock::now() + std::chrono::milliseconds(ms); }

int MsLeft(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Waits for `events` on fd until the deadline. 1 ready, 0 timed out, -1 error.
int PollUntil(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    int rc = poll(&p, 1, MsLeft(deadline));
    if (rc > 0) {
      return 1;
    }
    if (rc == 0) {
      return 0;
    }
    if (errno != EINTR) {
      return -1;
    }
  }
}

const char* AlertName(int code) {
  switch (code) {
    case 0:
      return "close_notify";
    case 10:
      return "unexpected_message";
    case 20:
      return "bad_record_mac";
    case 40:
      return "handshake_failure";
    case 42:
      return "bad_certificate";
    case 43:
      return "unsupported_certificate";
    case 44:
      return "certificate_revoked";
    case 45:
      return "certificate_expired";
    case 46:
      return "certificate_unknown";
    case 47:
      return "illegal_parameter";
    case 48:
      return "unknown_ca";
    case 49:
      return "access_denied";
    case 50:
      return "decode_error";
    case 51:
      return "decrypt_error";
    case 70:
      return "protocol_version";
    case 71:
      return "insufficient_security";
    case 80:
      return "internal_error";
    case 86:
      return "inappropriate_fallback";
    case 90:
      return "user_canceled";
    case 109:
      return "missing_extension";
    case 112:
      return "unrecognized_name";
    case 116:
      return "certificate_required";
    case 120:
      return "no_application_protocol";
    default:
      return "?";
  }
}

void SetLingerZero(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

}  // namespace

void EnsureWolfSslInit() {
  static std::once_flag once;
  std::call_once(once, [] {
    IgnoreSigpipeOnce();
    wolfSSL_Init();
  });
  // Debian's wolfSSL keeps a thread-local fixed-point ECC cache (FP_ECC) that leaks unless
  // each thread frees it as it ends; tests run clients on many threads.
  struct EccCacheReleaser {
    ~EccCacheReleaser() { portcullis::tls::ReleaseThreadResources(); }
  };
  static thread_local EccCacheReleaser releaser;
  (void)releaser;
}

void TlsSessionDeleter::operator()(WOLFSSL_SESSION* session) const {
  wolfSSL_SESSION_free(session);
}

Result<int> ConnectTcp(const std::string& host, uint16_t port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  std::string port_text = std::to_string(port);
  int gai = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &list);
  if (gai != 0) {
    return Status::Error("cannot resolve " + host + ": " + gai_strerror(gai));
  }
  auto deadline = DeadlineIn(timeout_ms);
  std::string last_error = "no address";
  int result = -1;
  for (addrinfo* ai = list; ai != nullptr && result < 0; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      int ready = PollUntil(fd, POLLOUT, deadline);
      if (ready <= 0) {
        last_error = ready == 0 ? "connect timeout" : std::string("poll: ") + std::strerror(errno);
        close(fd);
        continue;
      }
      int so_error = 0;
      socklen_t len = sizeof(so_error);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
      rc = so_error == 0 ? 0 : -1;
      errno = so_error;
    }
    if (rc != 0) {
      last_error = std::string("connect: ") + std::strerror(errno);
      close(fd);
      continue;
    }
    result = fd;
  }
  freeaddrinfo(list);
  if (result < 0) {
    return Status::Error("TCP connect to " + host + ":" + port_text + " failed: " + last_error);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// TlsClient

Result<std::unique_ptr<TlsClient>> TlsClient::Connect(const std::string& host, uint16_t port,
                                                      const TlsClientOptions& options) {
  EnsureWolfSslInit();
  std::unique_ptr<TlsClient> client(new TlsClient());
  client->peer_ = host + ":" + std::to_string(port);
  client->write_timeout_ms_ = options.write_timeout_ms;

  WOLFSSL_METHOD* method = nullptr;
  if (options.version.empty()) {
    method = wolfSSLv23_client_method();
  } else if (options.version == "1.3") {
    method = wolfTLSv1_3_client_method();
  } else if (options.version == "1.2") {
    method = wolfTLSv1_2_client_method();
  } else if (options.version == "1.1") {
    method = wolfTLSv1_1_client_method();
  } else {
    return Status::Error("TlsClient: unsupported version \"" + options.version + "\"");
  }
  client->ctx_ = wolfSSL_CTX_new(method);
  if (client->ctx_ == nullptr) {
    return Status::Error("wolfSSL_CTX_new failed");
  }
  WOLFSSL_CTX* ctx = client->ctx_;
  if (options.version.empty() &&
      wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS) {
    return Status::Error("wolfSSL_CTX_SetMinVersion failed");
  }
  // One write per flight, like OpenSSL clients, whatever the wolfSSL build's default: a server
  // refusing our certificate must not turn our next write into a reset that hides its alert.
  if (wolfSSL_CTX_set_group_messages(ctx) != WOLFSSL_SUCCESS) {
    return Status::Error("wolfSSL_CTX_set_group_messages failed");
  }
  if (!options.ca_file.empty()) {
    int rc = wolfSSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr);
    if (rc != WOLFSSL_SUCCESS) {
      return Status::Error("cannot load CA file " + options.ca_file + ": wolfSSL error " +
                           std::to_string(rc));
    }
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, nullptr);
  } else {
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, nullptr);
  }
  if (!options.cert_file.empty()) {
    int rc = wolfSSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str());
    if (rc != WOLFSSL_SUCCESS) {
      return Status::Error("cannot load certificate " + options.cert_file + ": wolfSSL error " +
                           std::to_string(rc));
    }
    rc = wolfSSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), WOLFSSL_FILETYPE_PEM);
    if (rc != WOLFSSL_SUCCESS) {
      return Status::Error("cannot load key " + options.key_file + ": wolfSSL error " +
                           std::to_string(rc));
    }
  }
  if (!options.cipher_list.empty() &&
      wolfSSL_CTX_set_cipher_list(ctx, options.cipher_list.c_str()) != WOLFSSL_SUCCESS) {
    return Status::Error("bad cipher list: " + options.cipher_list);
  }

  client->ssl_ = wolfSSL_new(ctx);
  if (client->ssl_ == nullptr) {
    return Status::Error("wolfSSL_new failed");
  }
  WOLFSSL* ssl = client->ssl_;
  if (!options.servername.empty()) {
    if (wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, options.servername.data(),
                       static_cast<unsigned short>(options.servername.size())) != WOLFSSL_SUCCESS) {
      return Status::Error("wolfSSL_UseSNI failed");
    }
    if (options.verify_hostname && !options.ca_file.empty() &&
        wolfSSL_check_domain_name(ssl, options.servername.c_str()) != WOLFSSL_SUCCESS) {
      return Status::Error("wolfSSL_check_domain_name failed");
    }
  }
  if (options.session != nullptr && wolfSSL_set_session(ssl, options.session) != WOLFSSL_SUCCESS) {
    return Status::Error("wolfSSL_set_session refused the session");
  }

  auto deadline = DeadlineIn(options.connect_timeout_ms);
  Result<int> fd = ConnectTcp(host, port, options.connect_timeout_ms);
  if (!fd.ok()) {
    return fd.status();
  }
  client->fd_ = *fd;
  wolfSSL_set_fd(ssl, client->fd_);
  while (true) {
    int ret = wolfSSL_connect(ssl);
    if (ret == WOLFSSL_SUCCESS) {
      break;
    }
    int err = wolfSSL_get_error(ssl, ret);
    short events = err == WOLFSSL_ERROR_WANT_READ    ? POLLIN
                   : err == WOLFSSL_ERROR_WANT_WRITE ? POLLOUT
                                                     : 0;
    if (events == 0) {
      return Status::Error("TLS handshake with " + client->peer_ +
                           " failed: " + client->ErrorText(ret));
    }
    int ready = PollUntil(client->fd_, events, deadline);
    if (ready == 0) {
      return Status::Error("TLS handshake with " + client->peer_ + " failed: timeout after " +
                           std::to_string(options.connect_timeout_ms) + " ms");
    }
    if (ready < 0) {
      return Status::Error(std::string("poll: ") + std::strerror(errno));
    }
  }
  return client;
}

TlsClient::~TlsClient() { Close(); }

std::string TlsClient::ErrorText(int ret) const {
  int err = wolfSSL_get_error(ssl_, ret);
  char reason[WOLFSSL_MAX_ERROR_SZ] = {0};
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(err), reason, sizeof(reason));
  std::string text = "wolfSSL error " + std::to_string(err) + " (" + reason + ")";
  WOLFSSL_ALERT_HISTORY history{};
  if (wolfSSL_get_alert_history(ssl_, &history) == WOLFSSL_SUCCESS && history.last_rx.level > 0) {
    text += "; alert received: " + std::to_string(history.last_rx.code) + " " +
            AlertName(history.last_rx.code) +
            (history.last_rx.level == 2 ? " (fatal)" : " (warning)");
  }
  return text;
}

bool TlsClient::resumed() const { return ssl_ != nullptr && wolfSSL_session_reused(ssl_) != 0; }

std::string TlsClient::version() const {
  const char* v = ssl_ != nullptr ? wolfSSL_get_version(ssl_) : nullptr;
  return v != nullptr ? v : "";
}

std::string TlsClient::cipher() const {
  const char* c = ssl_ != nullptr ? wolfSSL_get_cipher_name(ssl_) : nullptr;
  return c != nullptr ? c : "";
}

Status TlsClient::DoWrite(std::string_view data) {
  if (ssl_ == nullptr) {
    return Status::Error("write on a closed TlsClient");
  }
  auto deadline = DeadlineIn(write_timeout_ms_);
  size_t offset = 0;
  while (offset < data.size()) {
    // After WANT_WRITE wolfSSL must be called again with the same buffer and length.
    int ret = wolfSSL_write(ssl_, data.data() + offset, static_cast<int>(data.size() - offset));
    if (ret > 0) {
      offset += static_cast<size_t>(ret);
      continue;
    }
    int err = wolfSSL_get_error(ssl_, ret);
    short events = err == WOLFSSL_ERROR_WANT_READ    ? POLLIN
                   : err == WOLFSSL_ERROR_WANT_WRITE ? POLLOUT
                                                     : 0;
    if (events == 0) {
      return Status::Error("TLS write to " + peer_ + " failed: " + ErrorText(ret));
    }
    if (PollUntil(fd_, events, deadline) <= 0) {
      return Status::Error("TLS write to " + peer_ + ": timeout after " +
                           std::to_string(write_timeout_ms_) + " ms");
    }
  }
  return Status::Ok();
}

Result<std::string> TlsClient::DoRead(int timeout_ms) {
  if (ssl_ == nullptr) {
    return Status::Error("read on a closed TlsClient");
  }
  if (closed_by_peer_) {
    return std::string();
  }
  auto deadline = DeadlineIn(timeout_ms);
  char buf[16384];
  while (true) {
    int ret = wolfSSL_read(ssl_, buf, sizeof(buf));
    if (ret > 0) {
      return std::string(buf, static_cast<size_t>(ret));
    }
    int err = wolfSSL_get_error(ssl_, ret);
    if (err == WOLFSSL_ERROR_ZERO_RETURN) {
      close_notify_received_ = true;
      closed_by_peer_ = true;
      return std::string();
    }
    if (err == SOCKET_PEER_CLOSED_E) {
      closed_by_peer_ = true;
      return std::string();
    }
    short events = err == WOLFSSL_ERROR_WANT_READ    ? POLLIN
                   : err == WOLFSSL_ERROR_WANT_WRITE ? POLLOUT
                                                     : 0;
    if (events == 0) {
      return Status::Error("TLS read from " + peer_ + " failed: " + ErrorText(ret));
    }
    int ready = PollUntil(fd_, events, deadline);
    if (ready == 0) {
      return Status::Error("TLS read from " + peer_ + ": timeout after " +
                           std::to_string(timeout_ms) + " ms");
    }
    if (ready < 0) {
      return Status::Error(std::string("poll: ") + std::strerror(errno));
    }
  }
}

Result<std::string> TlsClient::ReadUntilClose(int timeout_ms) {
  auto deadline = DeadlineIn(timeout_ms);
  std::string all;
  while (true) {
    Result<std::string> chunk = Read(MsLeft(deadline));
    if (!chunk.ok()) {
      return Status::Error(chunk.error() + " (after " + std::to_string(all.size()) + " bytes)");
    }
    if (chunk->empty()) {
      return all;
    }
    all += *chunk;
  }
}

TlsSessionPtr TlsClient::TakeSession() {
  if (ssl_ == nullptr) {
    return nullptr;
  }
  return TlsSessionPtr(wolfSSL_get1_session(ssl_));
}

void TlsClient::Close() {
  if (ssl_ != nullptr) {
    if (fd_ >= 0 && !closed_by_peer_) {
      wolfSSL_shutdown(ssl_);  // one non-blocking attempt at close_notify; never waits
    }
    wolfSSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (ctx_ != nullptr) {
    wolfSSL_CTX_free(ctx_);
    ctx_ = nullptr;
  }
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

void TlsClient::Reset() {
  if (fd_ >= 0) {
    SetLingerZero(fd_);
    close(fd_);
    fd_ = -1;
  }
  Close();
}

// ---------------------------------------------------------------------------------------------
// RawSocket

Result<std::unique_ptr<RawSocket>> RawSocket::Connect(const std::string& host, uint16_t port,
                                                      int timeout_ms) {
  IgnoreSigpipeOnce();
  Result<int> fd = ConnectTcp(host, port, timeout_ms);
  if (!fd.ok()) {
    return fd.status();
  }
  return std::unique_ptr<RawSocket>(new RawSocket(*fd));
}

RawSocket::~RawSocket() {
  if (fd_ >= 0) {
    close(fd_);
  }
}

Status RawSocket::DoWrite(std::string_view data) {
  if (fd_ < 0) {
    return Status::Error("write on a closed RawSocket");
  }
  auto deadline = DeadlineIn(write_timeout_ms_);
  size_t offset = 0;
  while (offset < data.size()) {
    ssize_t n = send(fd_, data.data() + offset, data.size() - offset, MSG_NOSIGNAL);
    if (n > 0) {
      offset += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (PollUntil(fd_, POLLOUT, deadline) <= 0) {
        return Status::Error("write: timeout");
      }
      continue;
    }
    return Status::Error(std::string("write: ") + std::strerror(errno));
  }
  return Status::Ok();
}

Result<std::string> RawSocket::DoRead(int timeout_ms) {
  if (fd_ < 0) {
    return Status::Error("read on a closed RawSocket");
  }
  auto deadline = DeadlineIn(timeout_ms);
  char buf[16384];
  while (true) {
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n >= 0) {
      return std::string(buf, static_cast<size_t>(n));
    }
    if (errno != EAGAIN && errno != EINTR) {
      return Status::Error(std::string("read: ") + std::strerror(errno));
    }
    int ready = PollUntil(fd_, POLLIN, deadline);
    if (ready == 0) {
      return Status::Error("read: timeout after " + std::to_string(timeout_ms) + " ms");
    }
    if (ready < 0) {
      return Status::Error(std::string("poll: ") + std::strerror(errno));
    }
  }
}

Result<std::string> RawSocket::ReadUntilClose(int timeout_ms) {
  auto deadline = DeadlineIn(timeout_ms);
  std::string all;
  while (true) {
    Result<std::string> chunk = Read(MsLeft(deadline));
    if (!chunk.ok()) {
      return Status::Error(chunk.error() + " (after " + std::to_string(all.size()) + " bytes)");
    }
    if (chunk->empty()) {
      return all;
    }
    all += *chunk;
  }
}

void RawSocket::ShutdownWrite() {
  if (fd_ >= 0) {
    shutdown(fd_, SHUT_WR);
  }
}

void RawSocket::Reset() {
  if (fd_ >= 0) {
    SetLingerZero(fd_);
    close(fd_);
    fd_ = -1;
  }
}

}  // namespace portcullis::testing
