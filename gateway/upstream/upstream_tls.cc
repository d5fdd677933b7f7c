#include "gateway/upstream/upstream_tls.h"

// wolfssl/options.h first (its own block, so that clang-format keeps it there): it decides
// what the other wolfSSL headers declare.
#include <wolfssl/options.h>

#include <wolfssl/error-ssl.h>
#include <wolfssl/ssl.h>

#include <arpa/inet.h>

#include <algorithm>

#include "gateway/tls/diagnosis.h"
#include "gateway/tls/handshake_failure.h"
#include "gateway/tls/tls_context.h"

namespace portcullis::upstream {
namespace {

bool IsAddressLiteral(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

// wolfSSL's file loaders return WOLFSSL_FAILURE (0) or a negative code; for 0 the reason, if
// any, is in the error queue.
std::string LoadError(int code) {
  if (code == WOLFSSL_FAILURE) {
    unsigned long queued = wolfSSL_ERR_get_error();
    if (queued == 0) return "not a valid PEM file of the expected kind";
    char buf[WOLFSSL_MAX_ERROR_SZ];
    wolfSSL_ERR_error_string_n(queued, buf, sizeof(buf));
    return buf;
  }
  return tls::WolfSslErrorString(code);
}

struct CtxHolder {
  WOLFSSL_CTX* ctx = nullptr;
  ~CtxHolder() {
    if (ctx) wolfSSL_CTX_free(ctx);
  }
};

}  // namespace

Result<std::shared_ptr<const UpstreamTlsContext>> UpstreamTlsContext::Create(
    const UpstreamConfig& upstream) {
  CtxHolder holder;
  holder.ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
  WOLFSSL_CTX* ctx = holder.ctx;
  if (!ctx) return Status::Error("wolfSSL_CTX_new failed (out of memory?)");
  // TLS 1.0/1.1 are never offered, and the suites are set explicitly: Debian's wolfSSL compiles
  // NULL, anonymous and RC4 suites in (notes/wolfssl-libuv.md §1).
  std::string suites = std::string(tls::kDefaultTls13Suites) + ":" + tls::kDefaultTls12Ciphers;
  if (wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS ||
      wolfSSL_CTX_set_cipher_list(ctx, suites.c_str()) != WOLFSSL_SUCCESS) {
    return Status::Error("cannot configure the TLS client (version or suites)");
  }
  // Only this upstream's anchors: a certificate from any other CA the gateway knows (its own
  // client CA, another upstream's) must not be accepted here.
  std::string trust = upstream.ca.empty() ? std::string(kSystemCaBundle) : upstream.ca;
  if (int rc = wolfSSL_CTX_load_verify_locations(ctx, trust.c_str(), nullptr);
      rc != WOLFSSL_SUCCESS) {
    return Status::Error("cannot load CA certificates from " + trust + ": " + LoadError(rc) +
                         (upstream.ca.empty() ? " (no \"ca\" given: the system trust store)" : ""));
  }
  wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, nullptr);
  bool client_certificate = !upstream.cert.empty();
  if (client_certificate) {
    if (int rc = wolfSSL_CTX_use_certificate_chain_file(ctx, upstream.cert.c_str());
        rc != WOLFSSL_SUCCESS) {
      return Status::Error("cannot load the client certificate " + upstream.cert + ": " +
                           LoadError(rc));
    }
    if (int rc = wolfSSL_CTX_use_PrivateKey_file(ctx, upstream.key.c_str(), WOLFSSL_FILETYPE_PEM);
        rc != WOLFSSL_SUCCESS) {
      return Status::Error("cannot load the client key " + upstream.key + ": " + LoadError(rc));
    }
    if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
      return Status::Error("the key " + upstream.key + " does not match the certificate " +
                           upstream.cert);
    }
  }
  // No client-side session cache: wolfSSL's cache is process-global and small (33 entries,
  // notes/wolfssl-libuv.md §2), shared with the listener; keep-alive reuse of pooled
  // connections saves handshakes instead.
  wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
  tls::InstallMemoryIo(ctx);
  std::string name = upstream.server_name.empty() ? upstream.host : upstream.server_name;
  auto* context =
      new UpstreamTlsContext(ctx, std::move(name), std::move(trust), client_certificate);
  holder.ctx = nullptr;
  return std::shared_ptr<const UpstreamTlsContext>(context);
}

UpstreamTlsContext::~UpstreamTlsContext() { wolfSSL_CTX_free(ctx_); }

Result<std::unique_ptr<UpstreamTlsSession>> UpstreamTlsSession::Create(
    std::shared_ptr<const UpstreamTlsContext> context) {
  WOLFSSL* ssl = wolfSSL_new(context->native());
  if (!ssl) return Status::Error("wolfSSL_new failed (out of memory?)");
  const std::string& name = context->verify_name();
  std::unique_ptr<UpstreamTlsSession> session(new UpstreamTlsSession(std::move(context), ssl));
  tls::AttachMemoryIo(ssl, &session->io_);
  if (IsAddressLiteral(name)) {
    // An address is matched against the IP SANs and never sent as SNI (RFC 6066 §3).
    if (wolfSSL_X509_VERIFY_PARAM_set1_ip_asc(wolfSSL_get0_param(ssl), name.c_str()) !=
        WOLFSSL_SUCCESS) {
      return Status::Error("cannot set the address to verify: " + name);
    }
  } else {
    if (wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, name.data(),
                       static_cast<unsigned short>(name.size())) != WOLFSSL_SUCCESS) {
      return Status::Error("cannot set SNI " + name);
    }
    if (wolfSSL_check_domain_name(ssl, name.c_str()) != WOLFSSL_SUCCESS) {
      return Status::Error("cannot set the name to verify: " + name);
    }
  }
  return session;
}

UpstreamTlsSession::UpstreamTlsSession(std::shared_ptr<const UpstreamTlsContext> context,
                                       WOLFSSL* ssl)
    : context_(std::move(context)), ssl_(ssl) {}

UpstreamTlsSession::~UpstreamTlsSession() { wolfSSL_free(ssl_); }

void UpstreamTlsSession::Lend(const char* data, size_t len) {
  if (first_byte_ < 0 && len > 0) first_byte_ = static_cast<unsigned char>(data[0]);
  io_.Lend(data, len);
}

void UpstreamTlsSession::Classify(int error) {
  // TLS records start with a content type from 20 to 24; anything else is a server that does
  // not speak TLS at all (an http:// server behind an https:// URL), whatever wolfSSL says.
  if (!handshake_done_ && first_byte_ >= 0 && (first_byte_ < 20 || first_byte_ > 24)) {
    failure_reason_ = tls::ClassifyHandshakeError(tls::kNotTls);
    failure_detail_ = "the upstream answered in plaintext, not TLS (is it an http:// server?)";
    return;
  }
  failure_reason_ = tls::ClassifyHandshakeError(error);
  failure_detail_ = tls::WolfSslErrorString(error);
  WOLFSSL_ALERT_HISTORY history{};
  if (wolfSSL_get_alert_history(ssl_, &history) == WOLFSSL_SUCCESS && history.last_rx.level == 2) {
    failure_detail_ += "; alert received: " + std::to_string(history.last_rx.code) + " " +
                       std::string(tls::AlertName(history.last_rx.code));
  }
  if (failure_reason_ == "HOSTNAME_MISMATCH") {
    failure_detail_ += "; the certificate does not name \"" + context_->verify_name() + "\"";
  } else if (failure_reason_ == "CERTIFICATE_VERIFY_FAILED") {
    // The bundle is named by role, not path: this text reaches the client (502 message).
    failure_detail_ += context_->trust() == kSystemCaBundle
                           ? "; not issued by a CA in the system trust store (no \"ca\" set)"
                           : "; not issued by a CA in this upstream's \"ca\" bundle";
  } else if (failure_reason_ == "CERTIFICATE_EXPIRED") {
    failure_detail_ += "; the upstream's certificate has expired";
  } else if (failure_reason_ == "CERTIFICATE_NOT_YET_VALID") {
    failure_detail_ += "; the upstream's certificate is not valid yet";
  }
}

UpstreamTlsSession::Step UpstreamTlsSession::Handshake() {
  if (handshake_done_) return Step::kDone;
  int rc = wolfSSL_connect(ssl_);
  if (rc != WOLFSSL_SUCCESS) {
    int err = wolfSSL_get_error(ssl_, rc);
    if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
      if (!io_.peer_closed || io_.buffered() > 0) return Step::kWantMore;
      err = SOCKET_PEER_CLOSED_E;  // EOF mid-handshake; memory I/O said WANT_READ before it
    }
    Classify(err);
    return Step::kFailed;
  }
  handshake_done_ = true;
  return Step::kDone;
}

UpstreamTlsSession::ReadResult UpstreamTlsSession::Read(std::string* out) {
  char buf[16384];
  for (;;) {
    int n = wolfSSL_read(ssl_, buf, sizeof(buf));
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
      continue;
    }
    int err = wolfSSL_get_error(ssl_, n);
    if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
      return io_.peer_closed && io_.buffered() == 0 ? ReadResult::kClosed : ReadResult::kOk;
    }
    if (err == WOLFSSL_ERROR_ZERO_RETURN) return ReadResult::kClosed;
    // A server that closes without close_notify is still a close, not a TLS failure: an
    // HTTP/1.1 keep-alive server may do that to an idle connection at any time.
    if (io_.peer_closed && io_.buffered() == 0) {
      WOLFSSL_ALERT_HISTORY history{};
      bool fatal_alert = wolfSSL_get_alert_history(ssl_, &history) == WOLFSSL_SUCCESS &&
                         history.last_rx.level == 2;
      if (!fatal_alert) return ReadResult::kClosed;
    }
    Classify(err);
    return ReadResult::kFailed;
  }
}

Status UpstreamTlsSession::Write(std::string_view plain) {
  while (!plain.empty()) {
    int chunk = static_cast<int>(std::min<size_t>(plain.size(), 1 << 20));
    int n = wolfSSL_write(ssl_, plain.data(), chunk);
    if (n <= 0) {
      int err = wolfSSL_get_error(ssl_, n);
      return Status::Error("TLS write failed: " + tls::WolfSslErrorString(err));
    }
    plain.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

std::string UpstreamTlsSession::version() const {
  const char* v = wolfSSL_get_version(ssl_);
  return v ? v : "";
}

std::string UpstreamTlsSession::cipher() const {
  const char* c = wolfSSL_get_cipher_name(ssl_);
  return c ? c : "";
}

Status CheckUpstreamTls(const Config& config) {
  for (const auto& [name, upstream] : config.upstreams) {
    if (upstream.kind != UpstreamConfig::Kind::kHttp || upstream.scheme != "https") continue;
    Result<std::shared_ptr<const UpstreamTlsContext>> context =
        UpstreamTlsContext::Create(upstream);
    if (!context.ok()) return Status::Error("upstream \"" + name + "\": " + context.error());
  }
  return Status::Ok();
}

}  // namespace portcullis::upstream
