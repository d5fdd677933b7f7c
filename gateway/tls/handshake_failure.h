// Handshake failure reasons: wolfSSL's negative error codes mapped to the operator's
// vocabulary of DESIGN §5 (CERTIFICATE_EXPIRED, NO_CLIENT_CERTIFICATE, ...).
//
// Classification uses the code from wolfSSL_get_error() only: the verify callback's
// st->error mixes OpenSSL-style and wolfSSL codes (notes/wolfssl-libuv.md §3). Pure
// functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace portcullis::tls {

// Failures the gateway itself adds after wolfSSL said yes; outside wolfSSL's code range.
inline constexpr int kResumedWithoutCertificate = -100001;
inline constexpr int kBadIdentity = -100002;  // e.g. a NUL byte inside a name
inline constexpr int kHandshakeTimeout = -100003;
inline constexpr int kNotTls = -100004;
inline constexpr int kConnectionReset = -100005;

// One of the DESIGN §5 reasons, e.g. "CERTIFICATE_EXPIRED"; "HANDSHAKE_FAILURE" otherwise.
std::string_view ClassifyHandshakeError(int error);
// wolfSSL's own text for a code, with the number: "ASN_AFTER_DATE_E ... (-151)".
std::string WolfSslErrorString(int error);

}  // namespace portcullis::tls
