#include "gateway/tls/diagnosis.h"

// wolfssl/options.h first (its own block, so that clang-format keeps it there): it decides
// what the other wolfSSL headers declare.
#include <wolfssl/options.h>

#include <wolfssl/error-ssl.h>
#include <wolfssl/openssl/evp.h>
#include <wolfssl/openssl/x509v3.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <arpa/inet.h>
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
#include <memory>

#include "gateway/tls/handshake_failure.h"
#include "gateway/tls/identity_extractor.h"
#include "gateway/tls/tls_context.h"

namespace portcullis::tls {
namespace {

using Clock = std::chrono::steady_clock;

// What the client offers: the gateway's defaults first, then the CBC and DHE suites still
// found on servers in the field, so that diagnosis reaches them and can report what they
// negotiate. Nothing without forward secrecy, authentication or encryption: a server that
// offers only those fails with NO_SHARED_CIPHER, which is the finding.
constexpr const char* kClientCiphers =
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:"
    "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:"
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA";

constexpr size_t kFirstBytesKept = 64;

int MsLeft(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// 1 ready, 0 timed out, -1 error.
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

bool IsAddressLiteral(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

std::string FormatSockaddr(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  auto* a = reinterpret_cast<const sockaddr_in*>(sa);
  inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
  return std::string(buf) + ":" + std::to_string(ntohs(a->sin_port));
}

// The socket side of one handshake attempt: our own recv/send callbacks, so that we can see
// the first bytes the server sent (plaintext → NOT_TLS) and never raise SIGPIPE.
struct Io {
  int fd = -1;
  std::string first_bytes;
  size_t received = 0;
  bool peer_closed = false;
  int socket_errno = 0;
};

int Recv(WOLFSSL*, char* buf, int size, void* ctx) {
  auto* io = static_cast<Io*>(ctx);
  while (true) {
    ssize_t n = recv(io->fd, buf, static_cast<size_t>(size), 0);
    if (n > 0) {
      if (io->first_bytes.size() < kFirstBytesKept) {
        size_t take = std::min(kFirstBytesKept - io->first_bytes.size(), static_cast<size_t>(n));
        io->first_bytes.append(buf, take);
      }
      io->received += static_cast<size_t>(n);
      return static_cast<int>(n);
    }
    if (n == 0) {
      io->peer_closed = true;
      return WOLFSSL_CBIO_ERR_CONN_CLOSE;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return WOLFSSL_CBIO_ERR_WANT_READ;
    }
    io->socket_errno = errno;
    io->peer_closed = true;
    return errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_RST : WOLFSSL_CBIO_ERR_GENERAL;
  }
}

int Send(WOLFSSL*, char* buf, int size, void* ctx) {
  auto* io = static_cast<Io*>(ctx);
  while (true) {
    ssize_t n = send(io->fd, buf, static_cast<size_t>(size), MSG_NOSIGNAL);
    if (n >= 0) {
      return static_cast<int>(n);
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return WOLFSSL_CBIO_ERR_WANT_WRITE;
    }
    io->socket_errno = errno;
    return errno == EPIPE        ? WOLFSSL_CBIO_ERR_CONN_CLOSE
           : errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_RST
                                 : WOLFSSL_CBIO_ERR_GENERAL;
  }
}

struct CtxDeleter {
  void operator()(WOLFSSL_CTX* ctx) const { wolfSSL_CTX_free(ctx); }
};
struct SslDeleter {
  void operator()(WOLFSSL* ssl) const { wolfSSL_free(ssl); }
};
struct X509Deleter {
  void operator()(WOLFSSL_X509* x) const { wolfSSL_X509_free(x); }
};
struct PkeyDeleter {
  void operator()(WOLFSSL_EVP_PKEY* k) const { wolfSSL_EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<WOLFSSL_X509, X509Deleter>;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// One resolved address to connect to.
struct Endpoint {
  sockaddr_storage address{};
  socklen_t length = 0;
};

struct ConnectOutcome {
  int fd = -1;
  std::string reason;  // set on failure
  std::string detail;
};

ConnectOutcome ConnectTcp(const Endpoint& endpoint, int timeout_ms) {
  ConnectOutcome out;
  const auto* sa = reinterpret_cast<const sockaddr*>(&endpoint.address);
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    out.reason = "CONNECT_FAILED";
    out.detail = std::string("socket: ") + std::strerror(errno);
    return out;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int rc = connect(fd, sa, endpoint.length);
  int error = rc == 0 ? 0 : errno;
  if (rc != 0 && errno == EINPROGRESS) {
    int ready = PollUntil(fd, POLLOUT, Clock::now() + std::chrono::milliseconds(timeout_ms));
    if (ready == 0) {
      close(fd);
      out.reason = "CONNECT_TIMEOUT";
      out.detail = "no answer to the TCP connect within " + std::to_string(timeout_ms) + " ms";
      return out;
    }
    socklen_t len = sizeof(error);
    if (ready < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) {
      error = errno;
    }
  }
  if (error != 0) {
    close(fd);
    out.reason = error == ECONNREFUSED ? "CONNECTION_REFUSED"
                 : error == ETIMEDOUT  ? "CONNECT_TIMEOUT"
                                       : "CONNECT_FAILED";
    out.detail = std::string("connect: ") + std::strerror(error);
    return out;
  }
  out.fd = fd;
  return out;
}

// Everything one handshake attempt learned.
struct Attempt {
  std::string connect_reason, connect_detail;  // TCP failure
  bool handshake_done = false;
  bool timed_out = false;
  int error = 0;  // wolfSSL_get_error() of the failing call
  std::string error_text;
  int alert_rx = -1;  // last alert received, and whether it was fatal
  bool alert_rx_fatal = false;
  int alert_tx = -1;  // last alert we sent
  bool cert_requested = false;
  bool cert_sent = false;
  bool server_hello_seen = false;
  std::string version, cipher, group;
  std::vector<std::string> chain_der;
  Io io;
  // After a completed handshake: did the server accept us (close_notify or a plain close in
  // answer to ours), or send a fatal alert?
  bool rejected_after_handshake = false;
};

// Noticing the server's CertificateRequest. With a certificate loaded, wolfSSL's certificate
// setup callback fires on every request; without one, that callback makes 5.5.4's TLS 1.3
// client fail with BUFFER_ERROR (-328), so the OpenSSL-style client_cert_cb, which wolfSSL
// calls only when it has no certificate to send, stands in. Both find the Attempt through the
// WOLFSSL's app data.
int OnCertificateRequest(WOLFSSL* ssl, void*) {
  static_cast<Attempt*>(wolfSSL_get_app_data(ssl))->cert_requested = true;
  return 1;  // go on with the loaded certificate
}

int OnCertificateRequestWithoutCertificate(WOLFSSL* ssl, WOLFSSL_X509**, WOLFSSL_EVP_PKEY**) {
  static_cast<Attempt*>(wolfSSL_get_app_data(ssl))->cert_requested = true;
  return 0;  // no certificate: send an empty Certificate message
}

void ReadAlerts(WOLFSSL* ssl, Attempt* attempt) {
  WOLFSSL_ALERT_HISTORY history{};
  if (wolfSSL_get_alert_history(ssl, &history) != WOLFSSL_SUCCESS) {
    return;
  }
  if (history.last_rx.level > 0) {
    attempt->alert_rx = history.last_rx.code;
    attempt->alert_rx_fatal = history.last_rx.level == 2;
  }
  if (history.last_tx.level > 0) {
    attempt->alert_tx = history.last_tx.code;
  }
}

void ReadSessionFacts(WOLFSSL* ssl, Attempt* attempt) {
  WOLFSSL_X509_CHAIN* chain = wolfSSL_get_peer_chain(ssl);
  int count = chain != nullptr ? wolfSSL_get_chain_count(chain) : 0;
  for (int i = 0; i < count; ++i) {
    const unsigned char* der = wolfSSL_get_chain_cert(chain, i);
    int length = wolfSSL_get_chain_length(chain, i);
    if (der != nullptr && length > 0) {
      attempt->chain_der.emplace_back(reinterpret_cast<const char*>(der),
                                      static_cast<size_t>(length));
    }
  }
  const char* version = wolfSSL_get_version(ssl);
  const char* cipher = wolfSSL_get_cipher_name(ssl);
  const char* group = wolfSSL_get_curve_name(ssl);
  attempt->version = version != nullptr ? version : "";
  attempt->cipher = cipher != nullptr ? cipher : "";
  attempt->group = group != nullptr ? group : "";
  if (attempt->cipher == "None" || attempt->cipher.empty()) {
    // Before the ServerHello wolfSSL reports its own highest version and no cipher.
    attempt->cipher.clear();
    attempt->version.clear();
    attempt->group.clear();
  }
}

bool LooksLikeTls(const std::string& first_bytes) {
  // TLS record content types: change_cipher_spec 20, alert 21, handshake 22, data 23.
  unsigned char type = static_cast<unsigned char>(first_bytes[0]);
  return type >= 20 && type <= 24;
}

std::string ErrorText(int error) { return WolfSslErrorString(error); }

// Runs one handshake against `endpoint`. `verify` false = verification off (display only).
// The error is a local setup problem (unreadable files), not a server finding.
Result<Attempt> RunAttempt(const DiagnoseOptions& options, const std::string& servername,
                           const Endpoint& endpoint, bool verify) {
  Attempt attempt;
  std::unique_ptr<WOLFSSL_CTX, CtxDeleter> ctx(wolfSSL_CTX_new(wolfSSLv23_client_method()));
  if (!ctx) {
    return Status::Error("wolfSSL_CTX_new failed");
  }
  // TLS 1.0/1.1 are never acceptable; a server that offers nothing newer is the finding
  // (PROTOCOL_VERSION).
  // One write per flight (Certificate, CertificateVerify, Finished together): a server that
  // refuses our certificate closes after reading it; separate writes would then hit its closed
  // socket, and wolfSSL, failing on the send, would never read the alert already waiting.
  if (wolfSSL_CTX_SetMinVersion(ctx.get(), WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS ||
      wolfSSL_CTX_set_group_messages(ctx.get()) != WOLFSSL_SUCCESS ||
      wolfSSL_CTX_set_cipher_list(ctx.get(), kClientCiphers) != WOLFSSL_SUCCESS) {
    return Status::Error("cannot configure the TLS client");
  }
  if (verify) {
    if (!options.ca_file.empty()) {
      if (wolfSSL_CTX_load_verify_locations(ctx.get(), options.ca_file.c_str(), nullptr) !=
          WOLFSSL_SUCCESS) {
        return Status::Error("cannot load CA certificates from " + options.ca_file);
      }
    } else {
      // No anchors at all is fine too: every server then fails CERTIFICATE_VERIFY_FAILED,
      // and the fix says to pass --ca.
      (void)wolfSSL_CTX_load_system_CA_certs(ctx.get());
    }
    wolfSSL_CTX_set_verify(ctx.get(), WOLFSSL_VERIFY_PEER, nullptr);
  } else {
    wolfSSL_CTX_set_verify(ctx.get(), WOLFSSL_VERIFY_NONE, nullptr);
  }
  if (!options.cert_file.empty()) {
    if (wolfSSL_CTX_use_certificate_chain_file(ctx.get(), options.cert_file.c_str()) !=
        WOLFSSL_SUCCESS) {
      return Status::Error("cannot load the client certificate " + options.cert_file);
    }
    if (wolfSSL_CTX_use_PrivateKey_file(ctx.get(), options.key_file.c_str(),
                                        WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) {
      return Status::Error("cannot load the client key " + options.key_file);
    }
    if (wolfSSL_CTX_check_private_key(ctx.get()) != WOLFSSL_SUCCESS) {
      return Status::Error("the key " + options.key_file + " does not match the certificate " +
                           options.cert_file);
    }
  }
  if (options.cert_file.empty()) {
    wolfSSL_CTX_set_client_cert_cb(ctx.get(), OnCertificateRequestWithoutCertificate);
  } else {
    wolfSSL_CTX_set_cert_cb(ctx.get(), OnCertificateRequest, nullptr);
  }

  std::unique_ptr<WOLFSSL, SslDeleter> ssl(wolfSSL_new(ctx.get()));
  if (!ssl) {
    return Status::Error("wolfSSL_new failed");
  }
  wolfSSL_set_app_data(ssl.get(), &attempt);
  bool literal = IsAddressLiteral(servername);
  if (!literal && !servername.empty() &&
      wolfSSL_UseSNI(ssl.get(), WOLFSSL_SNI_HOST_NAME, servername.data(),
                     static_cast<unsigned short>(servername.size())) != WOLFSSL_SUCCESS) {
    return Status::Error("cannot set SNI");
  }
  if (verify && !servername.empty()) {
    int rc = literal ? wolfSSL_X509_VERIFY_PARAM_set1_ip_asc(wolfSSL_get0_param(ssl.get()),
                                                             servername.c_str())
                     : wolfSSL_check_domain_name(ssl.get(), servername.c_str());
    if (rc != WOLFSSL_SUCCESS) {
      return Status::Error("cannot set the name to verify: " + servername);
    }
  }

  ConnectOutcome tcp = ConnectTcp(endpoint, options.timeout_ms);
  if (tcp.fd < 0) {
    attempt.connect_reason = tcp.reason;
    attempt.connect_detail = tcp.detail;
    return attempt;
  }
  Fd fd(tcp.fd);
  attempt.io.fd = fd.get();
  wolfSSL_SSLSetIORecv(ssl.get(), Recv);
  wolfSSL_SSLSetIOSend(ssl.get(), Send);
  wolfSSL_SetIOReadCtx(ssl.get(), &attempt.io);
  wolfSSL_SetIOWriteCtx(ssl.get(), &attempt.io);

  auto deadline = Clock::now() + std::chrono::milliseconds(options.timeout_ms);
  while (true) {
    int ret = wolfSSL_connect(ssl.get());
    if (ret == WOLFSSL_SUCCESS) {
      attempt.handshake_done = true;
      break;
    }
    int err = wolfSSL_get_error(ssl.get(), ret);
    short events = err == WOLFSSL_ERROR_WANT_READ    ? POLLIN
                   : err == WOLFSSL_ERROR_WANT_WRITE ? POLLOUT
                                                     : 0;
    if (events == 0) {
      attempt.error = err;
      attempt.error_text = ErrorText(err);
      break;
    }
    if (PollUntil(fd.get(), events, deadline) <= 0) {
      attempt.timed_out = true;
      attempt.error = kHandshakeTimeout;
      attempt.error_text = "no complete handshake within " + std::to_string(options.timeout_ms) +
                           " ms (" + std::to_string(attempt.io.received) + " bytes received)";
      break;
    }
  }
  if (!attempt.handshake_done && !attempt.io.first_bytes.empty() &&
      !LooksLikeTls(attempt.io.first_bytes)) {
    // wolfSSL stopped at the 5-byte record header; a little more of what the server said
    // makes the report readable ("HTTP/1.1 400 Bad Request").
    char more[kFirstBytesKept];
    auto until = Clock::now() + std::chrono::milliseconds(std::min(options.timeout_ms, 500));
    while (attempt.io.first_bytes.size() < kFirstBytesKept &&
           PollUntil(fd.get(), POLLIN, until) > 0) {
      ssize_t n = recv(fd.get(), more, kFirstBytesKept - attempt.io.first_bytes.size(), 0);
      if (n <= 0) {
        break;
      }
      attempt.io.first_bytes.append(more, static_cast<size_t>(n));
    }
  }
  ReadSessionFacts(ssl.get(), &attempt);
  attempt.server_hello_seen = !attempt.version.empty() && !attempt.cipher.empty();
  attempt.cert_sent = attempt.cert_requested && !options.cert_file.empty();

  if (attempt.handshake_done) {
    // Our close_notify and FIN come after our Finished; a server that refuses our certificate
    // (TLS 1.3 judges it after the client finished) sends its alert before it ever reads them.
    // Whatever it answers ends the wait: an alert, its own close_notify, or a plain close.
    // (wolfSSL_shutdown is sent once only: with Debian's WOLFSSL_ERROR_CODE_OPENSSL its "not
    // done" is 0, which it also returns forever once the peer has closed.)
    (void)wolfSSL_shutdown(ssl.get());
    shutdown(fd.get(), SHUT_WR);
    auto verdict_deadline = Clock::now() + std::chrono::milliseconds(options.timeout_ms);
    char sink[4096];
    while (true) {
      int ret = wolfSSL_read(ssl.get(), sink, sizeof(sink));
      if (ret > 0) {
        continue;  // application data the server volunteered: not ours to judge
      }
      int err = wolfSSL_get_error(ssl.get(), ret);
      short events = err == WOLFSSL_ERROR_WANT_READ    ? POLLIN
                     : err == WOLFSSL_ERROR_WANT_WRITE ? POLLOUT
                                                       : 0;
      if (events == 0) {
        ReadAlerts(ssl.get(), &attempt);
        if (attempt.alert_rx_fatal) {
          attempt.rejected_after_handshake = true;
          attempt.error = err;
          attempt.error_text = ErrorText(err);
        }
        break;  // else: the server's close_notify, or its close without an alert
      }
      if (PollUntil(fd.get(), events, verdict_deadline) <= 0) {
        break;  // no verdict in time: the handshake itself was accepted
      }
    }
  }
  ReadAlerts(ssl.get(), &attempt);
  return attempt;
}

struct Classified {
  std::string reason;
  FailureSide side = FailureSide::kNone;
};

// A fatal alert from the server, read together with what we sent. `own_problem` is what is
// wrong with our client certificate as judged locally (OwnCertificateProblem), or empty.
Classified ClassifyAlert(const Attempt& a, std::string_view own_problem) {
  switch (a.alert_rx) {
    case 116:  // certificate_required (TLS 1.3)
      return {"NO_CLIENT_CERTIFICATE", FailureSide::kClient};
    case 40:  // handshake_failure
      if (a.cert_requested && !a.cert_sent) {
        return {"NO_CLIENT_CERTIFICATE", FailureSide::kClient};
      }
      if (!a.server_hello_seen) {
        return {"NO_SHARED_CIPHER", FailureSide::kServer};
      }
      return {"HANDSHAKE_FAILURE", FailureSide::kServer};
    case 42:  // bad_certificate
    case 46:  // certificate_unknown
    case 48:  // unknown_ca
    case 51:  // decrypt_error (our CertificateVerify)
      if (a.cert_requested && !a.cert_sent) {
        return {"NO_CLIENT_CERTIFICATE", FailureSide::kClient};
      }
      // bad_certificate and certificate_unknown say little (wolfSSL servers send 42 for an
      // expired or wrong-purpose certificate too): what our own certificate shows is the
      // likelier cause.
      if (a.alert_rx != 48 && !own_problem.empty()) {
        return {std::string(own_problem), FailureSide::kClient};
      }
      return {"CERTIFICATE_VERIFY_FAILED", FailureSide::kClient};
    case 45:  // certificate_expired
      return {"CERTIFICATE_EXPIRED", FailureSide::kClient};
    case 44:  // certificate_revoked
      return {"CERTIFICATE_REVOKED", FailureSide::kClient};
    case 43:  // unsupported_certificate
      return {"CERTIFICATE_USAGE_INVALID", FailureSide::kClient};
    case 70:  // protocol_version
      return {"PROTOCOL_VERSION", FailureSide::kServer};
    case 71:  // insufficient_security
      return {"NO_SHARED_CIPHER", FailureSide::kServer};
    case 112:  // unrecognized_name
      return {"HOSTNAME_MISMATCH", FailureSide::kServer};
    default:
      return {"HANDSHAKE_FAILURE", FailureSide::kServer};
  }
}

// Printable ASCII of what a plaintext server said, for the detail line.
std::string Printable(const std::string& bytes) {
  std::string out;
  for (char c : bytes) {
    if (c == '\r') {
      continue;
    }
    if (c == '\n') {
      out += "\\n";
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(c);
    } else {
      out.push_back('.');
    }
  }
  return out;
}

Classified Classify(const Attempt& a, std::string_view own_problem, std::string* detail) {
  if (!a.connect_reason.empty()) {
    *detail = a.connect_detail;
    return {a.connect_reason, FailureSide::kNetwork};
  }
  if (!a.io.first_bytes.empty() && !LooksLikeTls(a.io.first_bytes)) {
    *detail = "the server answered in plaintext: \"" + Printable(a.io.first_bytes) + "\"";
    return {"NOT_TLS", FailureSide::kServer};
  }
  std::string alert;
  if (a.alert_rx >= 0) {
    alert = "alert received: " + std::to_string(a.alert_rx) + " " +
            std::string(AlertName(a.alert_rx)) + (a.alert_rx_fatal ? " (fatal)" : " (warning)");
  }
  *detail = a.error_text + (alert.empty() ? "" : "; " + alert);
  if (a.timed_out) {
    return {"HANDSHAKE_TIMEOUT", FailureSide::kServer};
  }
  if (a.alert_rx_fatal) {
    return ClassifyAlert(a, own_problem);
  }
  if (a.io.received == 0 && a.io.peer_closed) {
    *detail = "the server closed the connection without answering the ClientHello" +
              (a.io.socket_errno != 0 ? std::string(" (") + std::strerror(a.io.socket_errno) + ")"
                                      : std::string());
    return {"CONNECTION_RESET", FailureSide::kServer};
  }
  std::string_view reason = ClassifyHandshakeError(a.error);
  if (reason == "NO_CLIENT_CERTIFICATE") {
    return {std::string(reason), FailureSide::kClient};
  }
  if (reason == "HANDSHAKE_FAILURE" && a.io.peer_closed) {
    return {"CONNECTION_RESET", FailureSide::kServer};
  }
  return {std::string(reason), FailureSide::kServer};
}

// What is wrong with our own client certificate, judged here: "CERTIFICATE_EXPIRED",
// "CERTIFICATE_NOT_YET_VALID", "CERTIFICATE_USAGE_INVALID" (an extendedKeyUsage without
// clientAuth), or "" when nothing is.
std::string OwnCertificateProblem(const std::string& cert_file, int64_t now_unix) {
  if (cert_file.empty()) {
    return "";
  }
  X509Ptr x509(wolfSSL_X509_load_certificate_file(cert_file.c_str(), WOLFSSL_FILETYPE_PEM));
  if (!x509) {
    return "";
  }
  Result<Identity> id = ExtractIdentity(x509.get());
  if (id.ok() && id->not_after != 0 && now_unix > id->not_after) {
    return "CERTIFICATE_EXPIRED";
  }
  if (id.ok() && now_unix < id->not_before) {
    return "CERTIFICATE_NOT_YET_VALID";
  }
  // OpenSSL's XKU_* bits (not wolfSSL's EXTKEYUSE_*); 0 when there is no such extension.
  unsigned int eku = wolfSSL_X509_get_extended_key_usage(x509.get());
  if (eku != 0 && (eku & (XKU_SSL_CLIENT | XKU_ANYEKU)) == 0) {
    return "CERTIFICATE_USAGE_INVALID";
  }
  return "";
}

std::string DescribeKey(WOLFSSL_X509* x509) {
  std::unique_ptr<WOLFSSL_EVP_PKEY, PkeyDeleter> key(wolfSSL_X509_get_pubkey(x509));
  if (!key) {
    return "";
  }
  int bits = wolfSSL_EVP_PKEY_bits(key.get());
  switch (wolfSSL_EVP_PKEY_base_id(key.get())) {
    case EVP_PKEY_EC:
      return bits == 256   ? "ECDSA P-256"
             : bits == 384 ? "ECDSA P-384"
             : bits == 521 ? "ECDSA P-521"
                           : "ECDSA " + std::to_string(bits) + "-bit";
    case EVP_PKEY_RSA:
      return "RSA " + std::to_string(bits);
    default:
      return bits > 0 ? std::to_string(bits) + "-bit key" : "";
  }
}

ChainCertificate DescribeCertificate(const std::string& der, int64_t now_unix) {
  ChainCertificate out;
  X509Ptr x509(wolfSSL_X509_d2i(nullptr, reinterpret_cast<const unsigned char*>(der.data()),
                                static_cast<int>(der.size())));
  if (!x509) {
    out.error = "cannot parse the certificate";
    return out;
  }
  Result<Identity> identity = ExtractIdentity(x509.get());
  if (!identity.ok()) {
    out.error = identity.error();
    return out;
  }
  out.identity = std::move(identity).value();
  out.key = DescribeKey(x509.get());
  int64_t seconds_left = out.identity.not_after - now_unix;
  // Floor division: a certificate that expired an hour ago has -1 days left, not 0.
  out.days_left = seconds_left >= 0 ? seconds_left / 86400 : -((-seconds_left + 86399) / 86400);
  out.expired = now_unix > out.identity.not_after;
  out.not_yet_valid = now_unix < out.identity.not_before;
  return out;
}

bool LeafNames(const std::string& der, const std::string& name) {
  X509Ptr x509(wolfSSL_X509_d2i(nullptr, reinterpret_cast<const unsigned char*>(der.data()),
                                static_cast<int>(der.size())));
  if (!x509) {
    return false;
  }
  if (IsAddressLiteral(name)) {
    return wolfSSL_X509_check_ip_asc(x509.get(), name.c_str(), 0) == 1;
  }
  return wolfSSL_X509_check_host(x509.get(), name.c_str(), name.size(), 0, nullptr) == 1;
}

void CopySessionFacts(const Attempt& a, Diagnosis* d) {
  d->handshake_done = d->handshake_done || a.handshake_done;
  if (d->version.empty()) {
    d->version = a.version;
    d->cipher = a.cipher;
    d->group = a.group;
  }
  d->client_certificate_requested = d->client_certificate_requested || a.cert_requested;
  d->client_certificate_sent = d->client_certificate_sent || a.cert_sent;
}

}  // namespace

std::string_view AlertName(int code) {
  switch (code) {
    case 0:
      return "close_notify";
    case 10:
      return "unexpected_message";
    case 20:
      return "bad_record_mac";
    case 22:
      return "record_overflow";
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
    case 110:
      return "unsupported_extension";
    case 112:
      return "unrecognized_name";
    case 113:
      return "bad_certificate_status_response";
    case 115:
      return "unknown_psk_identity";
    case 116:
      return "certificate_required";
    case 120:
      return "no_application_protocol";
    default:
      return "?";
  }
}

std::string_view SideName(FailureSide side) {
  switch (side) {
    case FailureSide::kServer:
      return "server";
    case FailureSide::kClient:
      return "client";
    case FailureSide::kNetwork:
      return "network";
    case FailureSide::kNone:
      break;
  }
  return "";
}

std::string_view FixFor(std::string_view reason, FailureSide side) {
  struct Row {
    std::string_view reason;
    FailureSide side;
    std::string_view fix;
  };
  static constexpr Row kFixes[] = {
      {"UNKNOWN_HOST", FailureSide::kNetwork,
       "the host name does not resolve: check the name and this machine's DNS"},
      {"CONNECTION_REFUSED", FailureSide::kNetwork,
       "nothing listens on that address and port: check the port and that the server is running"},
      {"CONNECT_TIMEOUT", FailureSide::kNetwork,
       "no answer to the TCP connect: check the address, firewalls and network policies"},
      {"CONNECT_FAILED", FailureSide::kNetwork,
       "the network path to the server failed: check the address, routes and firewalls"},
      {"CONNECTION_RESET", FailureSide::kServer,
       "the server closed the connection without a TLS answer: check that this port speaks TLS, "
       "that its access lists admit this address, and the server's log"},
      {"NOT_TLS", FailureSide::kServer,
       "the server answered in plaintext: this port does not speak TLS; use the TLS port"},
      {"HANDSHAKE_TIMEOUT", FailureSide::kServer,
       "the server accepted the connection but never finished the handshake: check that the port "
       "speaks TLS and that the server is not overloaded"},
      {"PROTOCOL_VERSION", FailureSide::kServer,
       "no TLS version in common: enable TLS 1.2 or 1.3 on the server (1.0 and 1.1 are unsafe)"},
      {"NO_SHARED_CIPHER", FailureSide::kServer,
       "no cipher suite in common: enable TLS 1.3 or ECDHE suites with AES-GCM or ChaCha20 on the "
       "server"},
      {"CERTIFICATE_VERIFY_FAILED", FailureSide::kServer,
       "the server's chain does not lead to a trusted CA: pass the CA that issued it with --ca, "
       "or make the server send its intermediate certificates"},
      {"CERTIFICATE_EXPIRED", FailureSide::kServer,
       "the server's certificate has expired: renew it and reload the server"},
      {"CERTIFICATE_NOT_YET_VALID", FailureSide::kServer,
       "the server's certificate is not valid yet: check the clocks of both machines, or reissue "
       "it"},
      {"CERTIFICATE_REVOKED", FailureSide::kServer,
       "the server's certificate is revoked: issue it a new one"},
      {"CERTIFICATE_USAGE_INVALID", FailureSide::kServer,
       "the server's certificate is not for TLS servers: reissue it with extendedKeyUsage "
       "serverAuth (portcullis pki issue --server)"},
      {"HOSTNAME_MISMATCH", FailureSide::kServer,
       "the server's certificate does not name the host you asked for: reissue it with that name "
       "as a DNS or IP SAN, or connect with a name it carries (--servername)"},
      {"NO_CLIENT_CERTIFICATE", FailureSide::kClient,
       "the server requires a client certificate: pass --cert and --key, issued by a CA the "
       "server trusts (its client_ca)"},
      {"CERTIFICATE_VERIFY_FAILED", FailureSide::kClient,
       "the server does not trust your client certificate: use one issued by a CA in the "
       "server's client_ca list"},
      {"CERTIFICATE_EXPIRED", FailureSide::kClient,
       "your client certificate has expired: renew it"},
      {"CERTIFICATE_NOT_YET_VALID", FailureSide::kClient,
       "your client certificate is not valid yet: check the clocks of both machines, or reissue "
       "it"},
      {"CERTIFICATE_REVOKED", FailureSide::kClient,
       "your client certificate is revoked: get a new one issued"},
      {"CERTIFICATE_USAGE_INVALID", FailureSide::kClient,
       "your client certificate is not for TLS clients: reissue it with extendedKeyUsage "
       "clientAuth"},
      {"HANDSHAKE_FAILURE", FailureSide::kServer,
       "the handshake failed for another reason: read the detail above and the server's log"},
  };
  for (const Row& row : kFixes) {
    if (row.reason == reason && row.side == side) {
      return row.fix;
    }
  }
  for (const Row& row : kFixes) {
    if (row.reason == reason) {
      return row.fix;
    }
  }
  return "read the detail above and the server's log";
}

Diagnosis Diagnose(const DiagnoseOptions& options, int64_t now_unix) {
  InitLibrary();
  Diagnosis d;
  std::string host_text =
      options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
  d.target = host_text + ":" + std::to_string(options.port);
  d.servername = options.servername.empty() ? options.host : options.servername;
  d.sni_sent = !IsAddressLiteral(d.servername);
  d.trust = options.ca_file.empty() ? "system trust store" : options.ca_file;

  auto fail = [&](std::string reason, FailureSide side, std::string detail) {
    d.reason = std::move(reason);
    d.side = side;
    d.detail = std::move(detail);
    d.fix = std::string(FixFor(d.reason, d.side));
  };

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  std::string port_text = std::to_string(options.port);
  int gai = getaddrinfo(options.host.c_str(), port_text.c_str(), &hints, &list);
  if (gai != 0) {
    fail("UNKNOWN_HOST", FailureSide::kNetwork,
         "cannot resolve " + options.host + ": " + gai_strerror(gai));
    return d;
  }
  std::vector<Endpoint> endpoints;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    Endpoint e;
    std::memcpy(&e.address, ai->ai_addr, ai->ai_addrlen);
    e.length = ai->ai_addrlen;
    endpoints.push_back(e);
  }
  freeaddrinfo(list);

  // The first address that accepts the TCP connection is the one diagnosed.
  Attempt first;
  const Endpoint* endpoint = nullptr;
  for (const Endpoint& e : endpoints) {
    Result<Attempt> attempt = RunAttempt(options, d.servername, e, /*verify=*/true);
    if (!attempt.ok()) {
      fail("CLIENT_SETUP", FailureSide::kNone, attempt.error());
      d.fix = "fix the local files given on the command line";
      return d;
    }
    first = std::move(attempt).value();
    endpoint = &e;
    d.address = FormatSockaddr(reinterpret_cast<const sockaddr*>(&e.address));
    if (first.connect_reason.empty()) {
      break;
    }
  }
  d.connected = first.connect_reason.empty();
  CopySessionFacts(first, &d);
  bool ok = first.handshake_done && !first.rejected_after_handshake;
  if (!ok) {
    std::string detail;
    Classified c = Classify(first, OwnCertificateProblem(options.cert_file, now_unix), &detail);
    fail(c.reason, c.side, detail);
  }

  std::vector<std::string> chain_der = first.chain_der;
  bool got_past_hello = d.connected && d.reason != "NOT_TLS" && d.reason != "CONNECTION_RESET" &&
                        d.reason != "HANDSHAKE_TIMEOUT" && d.reason != "PROTOCOL_VERSION" &&
                        d.reason != "NO_SHARED_CIPHER";
  if (!ok && chain_der.empty() && got_past_hello && endpoint != nullptr) {
    // Verification stopped the first handshake before the chain could be kept: fetch it
    // again with verification off, to show it. Nothing is sent but the handshake.
    Result<Attempt> second = RunAttempt(options, d.servername, *endpoint, /*verify=*/false);
    if (second.ok()) {
      chain_der = second->chain_der;
      d.chain_from_unverified_handshake = !chain_der.empty();
      CopySessionFacts(*second, &d);
    }
  }
  for (const std::string& der : chain_der) {
    d.chain.push_back(DescribeCertificate(der, now_unix));
  }
  if (!chain_der.empty() && !d.servername.empty()) {
    d.name_checked = true;
    d.name_matches = LeafNames(chain_der.front(), d.servername);
  }
  d.verified = ok;
  return d;
}

}  // namespace portcullis::tls
