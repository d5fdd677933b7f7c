#include "bench/harness/failure.h"

// wolfssl/options.h first: it decides what the other wolfSSL headers declare.
#include <wolfssl/options.h>

#include <wolfssl/error-ssl.h>
#include <wolfssl/ssl.h>

#include <uv.h>

#include "gateway/tls/diagnosis.h"
#include "gateway/tls/handshake_failure.h"

namespace portcullis::bench {

std::string_view ReasonForAlert(int alert, bool cert_loaded) {
  switch (alert) {
    case 116:  // certificate_required (TLS 1.3)
      return "NO_CLIENT_CERTIFICATE";
    case 40:  // handshake_failure: what a TLS 1.2 server sends a client without a certificate
      return cert_loaded ? "HANDSHAKE_FAILURE" : "NO_CLIENT_CERTIFICATE";
    case 42:  // bad_certificate
    case 46:  // certificate_unknown
    case 48:  // unknown_ca
    case 51:  // decrypt_error (our CertificateVerify)
      return cert_loaded ? "CERTIFICATE_VERIFY_FAILED" : "NO_CLIENT_CERTIFICATE";
    case 45:  // certificate_expired
      return "CERTIFICATE_EXPIRED";
    case 44:  // certificate_revoked
      return "CERTIFICATE_REVOKED";
    case 43:  // unsupported_certificate
      return "CERTIFICATE_USAGE_INVALID";
    case 70:  // protocol_version
      return "PROTOCOL_VERSION";
    case 71:  // insufficient_security
      return "NO_SHARED_CIPHER";
    case 112:  // unrecognized_name
      return "HOSTNAME_MISMATCH";
    default:
      return "HANDSHAKE_FAILURE";
  }
}

Failure FailureFromUv(int uv_status, std::string_view during, bool handshake_done) {
  Failure f;
  f.detail = std::string(during) + ": " + uv_strerror(uv_status);
  switch (uv_status) {
    case UV_ECONNREFUSED:
      f.reason = "CONNECTION_REFUSED";
      break;
    case UV_ETIMEDOUT:
      f.reason = handshake_done ? "CONNECTION_CLOSED" : "CONNECT_TIMEOUT";
      break;
    case UV_EOF:
    case UV_ECONNRESET:
    case UV_EPIPE:
      f.reason = handshake_done ? "CONNECTION_CLOSED" : "CONNECTION_RESET";
      break;
    default:
      f.reason = "CONNECT_FAILED";
      break;
  }
  return f;
}

Failure FailureFromTls(WOLFSSL* ssl, int error, bool handshake_done, bool cert_loaded) {
  Failure f;
  WOLFSSL_ALERT_HISTORY history{};
  bool fatal_alert = ssl != nullptr &&
                     wolfSSL_get_alert_history(ssl, &history) == WOLFSSL_SUCCESS &&
                     history.last_rx.level == alert_fatal;
  std::string wolf = tls::WolfSslErrorString(error);
  if (fatal_alert) {
    int code = history.last_rx.code;
    f.reason = ReasonForAlert(code, cert_loaded);
    f.detail = "alert " + std::to_string(code) + " " + std::string(tls::AlertName(code)) +
               " from the server; " + wolf;
    return f;
  }
  if (handshake_done && (error == WOLFSSL_ERROR_ZERO_RETURN || error == SOCKET_PEER_CLOSED_E ||
                         error == SOCKET_ERROR_E)) {
    f.reason = "CONNECTION_CLOSED";
    f.detail = error == WOLFSSL_ERROR_ZERO_RETURN ? "close_notify from the server" : wolf;
    return f;
  }
  f.reason = tls::ClassifyHandshakeError(error);
  f.detail = wolf;
  return f;
}

}  // namespace portcullis::bench
