// Address filtering on the TLS listener: the config's "access" allow and deny CIDR lists
// (portcullis/config.h AccessConfig), judged on the peer address before any TLS byte is read.
//
// Semantics follow nginx's allow/deny as operators know them, with one difference (order does
// not matter): a deny match refuses, whatever the allow list says; when the allow list is not
// empty, an address it does not match is refused; with no lists every address is allowed.
// IPv4-mapped IPv6 peers (::ffff:10.1.2.3, what a dual-stack [::] listener reports for an IPv4
// client) are judged as the IPv4 address they carry, so "10.0.0.0/8" covers them. A peer
// address that cannot be read or parsed is refused whenever any rule exists (fail closed).
//
// Pure functions over values; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "portcullis/config.h"
#include "portcullis/result.h"

namespace portcullis::reactor {

// "10.0.0.0/8", "::1/128", or a bare address ("10.1.2.3" = /32, "::1" = /128). The error is a
// message for the operator; a block with host bits set ("10.1.2.3/8") is an error naming the
// block meant ("10.0.0.0/8"), and so is an IPv4-mapped IPv6 block (write it as IPv4). The
// result's text is canonical ("10.0.0.0/8", "2001:db8::/32").
Result<CidrBlock> ParseCidr(std::string_view text);

// True when `address` (16 bytes for IPv6, the first 4 for IPv4, network order) of `family`
// (4 or 6) lies inside `block`.
bool CidrContains(const CidrBlock& block, int family, const uint8_t* address);

struct AccessVerdict {
  enum class Kind {
    kNoRule,      // no rule matched (or none configured), and no allow list: allowed
    kAllowed,     // an allow rule matched (and no deny rule)
    kDenied,      // a deny rule matched
    kNotAllowed,  // the allow list is not empty and nothing in it matched
    kBadAddress,  // the peer address was unknown or unparsable, and rules exist
  };
  Kind kind = Kind::kNoRule;
  // The block that matched (kAllowed, kDenied); points into the AccessConfig judged, which
  // must outlive the verdict. Null otherwise.
  const CidrBlock* rule = nullptr;

  bool allowed() const { return kind == Kind::kNoRule || kind == Kind::kAllowed; }
  // For logs and the audit record: "deny 127.0.0.1/32", "allow 10.0.0.0/8", "not in allow",
  // "unknown peer address", "no rule".
  std::string Describe() const;
};

// Judges a textual peer address ("10.1.2.3", "::1", "::ffff:10.1.2.3"; no brackets, no port).
AccessVerdict CheckAddress(const AccessConfig& access, std::string_view ip);

}  // namespace portcullis::reactor
