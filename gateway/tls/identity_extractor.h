// ExtractIdentity: the verified leaf certificate → Identity (include/portcullis/identity.h).
//
// SANs are read with their types (wolfSSL_X509_get_ext_d2i), never through
// wolfSSL_X509_get_next_altname, which mixes DNS, URI and email names together. A name with
// an embedded NUL byte is refused outright: it is the classic way to make "evil.com\0.good.com"
// look like someone else (wolfSSL itself checks this only since 2026). Thread-safe.
#pragma once

#include <string_view>

#include "portcullis/identity.h"
#include "portcullis/result.h"

typedef struct WOLFSSL_X509 WOLFSSL_X509;

namespace portcullis::tls {

Result<Identity> ExtractIdentity(WOLFSSL_X509* leaf);

// The DER SubjectPublicKeyInfo inside a DER certificate, or an empty view if malformed.
std::string_view FindSubjectPublicKeyInfo(std::string_view certificate_der);

}  // namespace portcullis::tls
