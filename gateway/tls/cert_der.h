// Certificate DER helpers: the few pieces of X.509 encoding that wolfSSL 5.5.4's certificate
// generator cannot produce on its own.
//
// - SubjectAltName: wolfSSL takes the names as an already encoded GeneralNames SEQUENCE
//   (Cert::altNames) and wraps it in the extension itself; nothing builds one from strings.
// - Critical basicConstraints: 5.5.4 writes basicConstraints without the critical flag, which
//   RFC 5280 §4.2.1.9 requires on CA certificates and OpenSSL 3 enforces whenever it checks a
//   purpose (every TLS handshake): "Basic Constraints of CA cert not marked critical". We set
//   the flag in the to-be-signed bytes before wc_SignCert_ex signs them.
//
// Neither validates names (pki.cc does that first). Pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "portcullis/result.h"

namespace portcullis::pki {

// The GeneralName CHOICE alternatives we emit; the value is the context tag number. All are
// IMPLICIT, so the context tag replaces the IA5String / OCTET STRING tag of the base type.
enum class GeneralNameType : uint8_t {
  kRfc822Name = 1,  // IA5String, "user@example.org"
  kDnsName = 2,     // IA5String, "localhost"
  kUri = 6,         // IA5String, "spiffe://portcullis.local/client"
  kIpAddress = 7,   // OCTET STRING, 4 or 16 raw bytes in network order
};

struct GeneralName {
  GeneralNameType type;
  std::string value;  // text for the IA5String kinds, raw address bytes for kIpAddress
};

// Appends a DER definite length (X.690 §8.1.3): short form below 128, else long form.
void AppendDerLength(size_t length, std::vector<uint8_t>* out);

// Returns the DER of `SEQUENCE OF GeneralName` (tag 0x30 included): what Cert::altNames holds.
// An empty list gives an empty SEQUENCE (30 00); callers omit the extension instead, since
// RFC 5280 requires at least one name.
std::vector<uint8_t> EncodeGeneralNames(const std::vector<GeneralName>& names);

// Given a DER TBSCertificate, returns it with the extension `oid` (the OID's content octets,
// e.g. {0x55, 0x1d, 0x13} for basicConstraints) marked critical. Errors if the input is not a
// well-formed TBSCertificate with that extension. Lengths of every enclosing element are
// re-encoded, so the result may be a few bytes longer.
Result<std::vector<uint8_t>> MarkExtensionCritical(const std::vector<uint8_t>& tbs,
                                                   std::span<const uint8_t> oid);

}  // namespace portcullis::pki
