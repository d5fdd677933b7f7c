#include "gateway/tls/handshake_failure.h"

#include <wolfssl/options.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

namespace portcullis::tls {

std::string_view ClassifyHandshakeError(int error) {
  switch (error) {
    case NO_PEER_CERT:
    case NO_CERT_ERROR:
      return "NO_CLIENT_CERTIFICATE";
    case ASN_NO_SIGNER_E:
    case ASN_SIG_CONFIRM_E:
    case ASN_SELF_SIGNED_E:
    case ASN_PATHLEN_SIZE_E:
    case ASN_PATHLEN_INV_E:
      return "CERTIFICATE_VERIFY_FAILED";
    case ASN_AFTER_DATE_E:
      return "CERTIFICATE_EXPIRED";
    case ASN_BEFORE_DATE_E:
      return "CERTIFICATE_NOT_YET_VALID";
    case CRL_CERT_REVOKED:
    case OCSP_CERT_REVOKED:
      return "CERTIFICATE_REVOKED";
    case EXTKEYUSE_AUTH_E:
    case KEYUSE_SIGNATURE_E:
    case KEYUSE_ENCIPHER_E:
    case ASN_NO_KEYUSAGE:
      return "CERTIFICATE_USAGE_INVALID";
    case DOMAIN_NAME_MISMATCH:
    case IPADDR_MISMATCH:
      return "HOSTNAME_MISMATCH";
    case VERSION_ERROR:
      return "PROTOCOL_VERSION";
    case MATCH_SUITE_ERROR:
    case UNSUPPORTED_SUITE:
      return "NO_SHARED_CIPHER";
    case kNotTls:
      return "NOT_TLS";
    case kHandshakeTimeout:
      return "HANDSHAKE_TIMEOUT";
    case kConnectionReset:
    case SOCKET_PEER_CLOSED_E:
    case SOCKET_ERROR_E:
      return "CONNECTION_RESET";
    default:
      return "HANDSHAKE_FAILURE";
  }
}

std::string WolfSslErrorString(int error) {
  switch (error) {
    case kResumedWithoutCertificate:
      return "resumed session without a peer certificate";
    case kBadIdentity:
      return "client certificate identity refused";
    case kHandshakeTimeout:
      return "handshake timeout";
    case kNotTls:
      return "not TLS";
    case kConnectionReset:
      return "connection closed during handshake";
    default:
      break;
  }
  char buf[WOLFSSL_MAX_ERROR_SZ];
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(error), buf, sizeof(buf));
  return std::string(buf) + " (" + std::to_string(error) + ")";
}

}  // namespace portcullis::tls
