// Field table and message quoting shared by the loader and the evaluator.

#include "policy/policy_model.h"

#include <cstdio>

namespace portcullis::policy::internal {

namespace {

// In documentation order; Field's values index this table.
constexpr FieldInfo kFields[kFieldCount] = {
    {Field::kCn, "cn", false, false},
    {Field::kSpiffeId, "spiffe_id", false, false},
    {Field::kUriSan, "uri_san", true, false},
    // DNS names are case-insensitive (RFC 4343); so, in practice, are e-mail addresses.
    {Field::kDnsSan, "dns_san", true, true},
    {Field::kEmailSan, "email_san", true, true},
    {Field::kIssuer, "issuer", false, false},
    {Field::kSubject, "subject", false, false},
    // Hex digits: "AB12" and "ab12" are the same fingerprint.
    {Field::kFingerprint, "fingerprint_sha256", false, true},
    {Field::kSpki, "spki_sha256", false, true},
};

// Longer values are cut in messages; enough for any real name, URI or subject.
constexpr size_t kMaxQuoted = 200;

}  // namespace

std::span<const FieldInfo> AllFields() { return kFields; }

const FieldInfo& InfoFor(Field field) { return kFields[static_cast<size_t>(field)]; }

std::string Quote(std::string_view text) {
  std::string out = "\"";
  size_t shown = text.size() > kMaxQuoted ? kMaxQuoted : text.size();
  for (size_t i = 0; i < shown; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (shown < text.size()) {
    out += "... (" + std::to_string(text.size()) + " bytes)";
  }
  return out;
}

}  // namespace portcullis::policy::internal
