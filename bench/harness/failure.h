// Failure: why one handshake, request or connection of a benchmark did not succeed, in the
// operator's vocabulary of DESIGN §5 (CERTIFICATE_VERIFY_FAILED, NO_CLIENT_CERTIFICATE, ...),
// seen from the client side.
//
// Our own verification of the server goes through the gateway's classifier
// (gateway/tls/handshake_failure.h); a refusal by the server arrives as a TLS alert and is
// named from the alert (the same reading `portcullis diagnose` makes). Beyond §5 there are the
// network's reasons (CONNECTION_REFUSED, CONNECT_FAILED, CONNECTION_CLOSED) and the request
// mode's (REQUEST_TIMEOUT, HTTP_<status>, BAD_RESPONSE, INIT_FAILED). Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <string_view>

typedef struct WOLFSSL WOLFSSL;

namespace portcullis::bench {

struct Failure {
  std::string reason;  // e.g. "CERTIFICATE_VERIFY_FAILED"
  std::string detail;  // wolfSSL's error, the alert, the socket error, ...
};

// A libuv error on connect, read or write. `handshake_done` decides between
// CONNECTION_RESET (the handshake never finished) and CONNECTION_CLOSED (an open connection).
Failure FailureFromUv(int uv_status, std::string_view during, bool handshake_done);

// A wolfSSL call failed with wolfSSL_get_error() == `error`. A fatal alert from the server names
// the reason; otherwise the gateway's classifier does. `cert_loaded`: we had a client certificate
// to offer (a refusal of a client without one is NO_CLIENT_CERTIFICATE).
Failure FailureFromTls(WOLFSSL* ssl, int error, bool handshake_done, bool cert_loaded);

// The reason a server's fatal alert stands for, e.g. 116 (certificate_required) →
// NO_CLIENT_CERTIFICATE, 48 (unknown_ca) → CERTIFICATE_VERIFY_FAILED.
std::string_view ReasonForAlert(int alert, bool cert_loaded);

}  // namespace portcullis::bench
