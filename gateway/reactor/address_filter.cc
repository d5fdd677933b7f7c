#include "gateway/reactor/address_filter.h"

#include <arpa/inet.h>

#include <cstring>

namespace portcullis::reactor {
namespace {

// "\"" + text + "\"" built by appending: GCC 12 warns (-Wrestrict, a false positive) on
// operator+ with a literal first.
std::string Quoted(std::string_view text) {
  std::string out = "\"";
  out += text;
  out += '"';
  return out;
}

// ::ffff:0:0/96 (RFC 4291 §2.5.5.2).
constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool IsMapped(const uint8_t* v6) { return std::memcmp(v6, kMappedPrefix, 12) == 0; }

std::string FormatAddress(int family, const uint8_t* address) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 4 ? AF_INET : AF_INET6, address, buf, sizeof(buf));
  return buf;
}

// Zeroes the bits after the first `prefix` of `bytes` bytes; true if any was set.
bool ClearHostBits(uint8_t* address, int bytes, int prefix) {
  bool had_host_bits = false;
  for (int i = 0; i < bytes; ++i) {
    int keep = prefix - i * 8;  // bits of this byte that belong to the network
    uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - keep));
    if ((address[i] & ~mask) != 0) {
      had_host_bits = true;
    }
    address[i] &= mask;
  }
  return had_host_bits;
}

bool ParsePrefix(std::string_view text, int max, int* out) {
  if (text.empty() || text.size() > 3) {
    return false;
  }
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + (c - '0');
  }
  if (value > max || (text.size() > 1 && text[0] == '0')) {
    return false;
  }
  *out = value;
  return true;
}

}  // namespace

Result<CidrBlock> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  std::string address_text(text.substr(0, slash));
  CidrBlock block;
  if (address_text.find(':') != std::string::npos) {
    block.family = 6;
    if (inet_pton(AF_INET6, address_text.c_str(), block.address.data()) != 1) {
      return Status::Error("\"" + address_text + "\" is not an IPv6 address");
    }
  } else {
    block.family = 4;
    if (inet_pton(AF_INET, address_text.c_str(), block.address.data()) != 1) {
      std::string message = Quoted(text);
      message += " is not an address or CIDR block, e.g. \"10.0.0.0/8\" or \"2001:db8::/32\"";
      return Status::Error(message);
    }
  }
  int max = block.family == 4 ? 32 : 128;
  int prefix = max;
  if (slash != std::string_view::npos && !ParsePrefix(text.substr(slash + 1), max, &prefix)) {
    return Status::Error("prefix length \"" + std::string(text.substr(slash + 1)) +
                         "\" must be a number from 0 to " + std::to_string(max));
  }
  block.prefix_length = static_cast<uint8_t>(prefix);
  if (block.family == 6 && IsMapped(block.address.data())) {
    // Mapped peers are judged as IPv4, so a mapped rule could never match: say what to write.
    if (prefix < 96) {
      return Status::Error("IPv4-mapped addresses are matched as IPv4: write an IPv4 block");
    }
    return Status::Error("IPv4-mapped addresses are matched as IPv4: write \"" +
                         FormatAddress(4, block.address.data() + 12) + "/" +
                         std::to_string(prefix - 96) + "\"");
  }
  int bytes = block.family == 4 ? 4 : 16;
  std::string suffix = "/";
  suffix += std::to_string(prefix);
  if (ClearHostBits(block.address.data(), bytes, prefix)) {
    // nginx only warns ("low address bits are meaningless"); an operator who wrote
    // 10.1.2.3/8 may have meant /32, so refuse to guess.
    std::string message = Quoted(text);
    message += " has host bits set; did you mean ";
    message += Quoted(FormatAddress(block.family, block.address.data()) + suffix);
    message += "?";
    return Status::Error(message);
  }
  block.text = FormatAddress(block.family, block.address.data()) + suffix;
  return block;
}

bool CidrContains(const CidrBlock& block, int family, const uint8_t* address) {
  if (family != block.family) {
    return false;
  }
  int full_bytes = block.prefix_length / 8;
  int rest_bits = block.prefix_length % 8;
  if (std::memcmp(address, block.address.data(), static_cast<size_t>(full_bytes)) != 0) {
    return false;
  }
  if (rest_bits == 0) {
    return true;
  }
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest_bits));
  return (address[full_bytes] & mask) == block.address[static_cast<size_t>(full_bytes)];
}

std::string AccessVerdict::Describe() const {
  switch (kind) {
    case Kind::kNoRule:
      return "no rule";
    case Kind::kAllowed:
      return "allow " + (rule != nullptr ? rule->text : std::string("?"));
    case Kind::kDenied:
      return "deny " + (rule != nullptr ? rule->text : std::string("?"));
    case Kind::kNotAllowed:
      return "not in allow";
    case Kind::kBadAddress:
      return "unknown peer address";
  }
  return "?";
}

AccessVerdict CheckAddress(const AccessConfig& access, std::string_view ip) {
  AccessVerdict verdict;
  if (access.empty()) {
    return verdict;
  }
  uint8_t address[16] = {};
  int family = 0;
  std::string text(ip);
  if (text.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, text.c_str(), address) == 1) {
      family = 6;
      if (IsMapped(address)) {
        std::memmove(address, address + 12, 4);
        family = 4;
      }
    }
  } else if (!text.empty() && inet_pton(AF_INET, text.c_str(), address) == 1) {
    family = 4;
  }
  if (family == 0) {
    verdict.kind = AccessVerdict::Kind::kBadAddress;
    return verdict;
  }
  for (const CidrBlock& block : access.deny) {
    if (CidrContains(block, family, address)) {
      verdict.kind = AccessVerdict::Kind::kDenied;
      verdict.rule = &block;
      return verdict;
    }
  }
  if (access.allow.empty()) {
    return verdict;  // only a deny list, and it did not match
  }
  for (const CidrBlock& block : access.allow) {
    if (CidrContains(block, family, address)) {
      verdict.kind = AccessVerdict::Kind::kAllowed;
      verdict.rule = &block;
      return verdict;
    }
  }
  verdict.kind = AccessVerdict::Kind::kNotAllowed;
  return verdict;
}

}  // namespace portcullis::reactor
