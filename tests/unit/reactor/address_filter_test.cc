// The "access" allow/deny matcher: CIDR parsing and nginx-like semantics (deny beats allow; a
// non-empty allow list refuses the rest; IPv4-mapped IPv6 peers are judged as IPv4).
#include "gateway/reactor/address_filter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace portcullis::reactor {
namespace {

CidrBlock Block(const std::string& text) {
  Result<CidrBlock> block = ParseCidr(text);
  EXPECT_TRUE(block.ok()) << text << ": " << block.error();
  return block.ok() ? *block : CidrBlock{};
}

AccessConfig Access(const std::vector<std::string>& allow, const std::vector<std::string>& deny) {
  AccessConfig access;
  for (const std::string& text : allow) {
    access.allow.push_back(Block(text));
  }
  for (const std::string& text : deny) {
    access.deny.push_back(Block(text));
  }
  return access;
}

std::string Judge(const AccessConfig& access, const std::string& ip) {
  AccessVerdict verdict = CheckAddress(access, ip);
  return std::string(verdict.allowed() ? "ok: " : "refused: ") + verdict.Describe();
}

TEST(AddressFilter, ParsesCidrBlocksIntoCanonicalForm) {
  CidrBlock v4 = Block("10.0.0.0/8");
  EXPECT_EQ(v4.family, 4);
  EXPECT_EQ(v4.prefix_length, 8);
  EXPECT_EQ(v4.address[0], 10);
  EXPECT_EQ(v4.text, "10.0.0.0/8");
  EXPECT_EQ(Block("192.0.2.1").text, "192.0.2.1/32");
  EXPECT_EQ(Block("0.0.0.0/0").text, "0.0.0.0/0");
  EXPECT_EQ(Block("::1").text, "::1/128");
  EXPECT_EQ(Block("2001:0DB8:0000::/32").text, "2001:db8::/32");
  EXPECT_EQ(Block("::/0").text, "::/0");
  EXPECT_EQ(Block("fe80::/10").prefix_length, 10);
}

TEST(AddressFilter, RejectsMalformedBlocks) {
  EXPECT_EQ(ParseCidr("10.1.2.3/8").error(),
            "\"10.1.2.3/8\" has host bits set; did you mean \"10.0.0.0/8\"?");
  EXPECT_EQ(ParseCidr("fe80::1/10").error(),
            "\"fe80::1/10\" has host bits set; did you mean \"fe80::/10\"?");
  EXPECT_FALSE(ParseCidr("10.0.0.0/33").ok());
  EXPECT_FALSE(ParseCidr("::/129").ok());
  EXPECT_FALSE(ParseCidr("10.0.0.0/-1").ok());
  EXPECT_FALSE(ParseCidr("10.0.0.0/08").ok()) << "no leading zeros";
  EXPECT_FALSE(ParseCidr("10.0.0.0/8/8").ok());
  EXPECT_FALSE(ParseCidr("10.0.0/8").ok());
  EXPECT_FALSE(ParseCidr("").ok());
  EXPECT_FALSE(ParseCidr("example.org").ok());
  EXPECT_FALSE(ParseCidr("[::1]/128").ok());
  EXPECT_FALSE(ParseCidr("fe80::1%eth0").ok());
  EXPECT_EQ(ParseCidr("::ffff:127.0.0.1").error(),
            "IPv4-mapped addresses are matched as IPv4: write \"127.0.0.1/32\"");
}

TEST(AddressFilter, PrefixBoundariesAreExact) {
  CidrBlock block = Block("192.168.4.0/22");  // 192.168.4.0 - 192.168.7.255
  auto contains = [&](const char* ip) {
    return CheckAddress(AccessConfig{{block}, {}}, ip).allowed();
  };
  EXPECT_FALSE(contains("192.168.3.255"));
  EXPECT_TRUE(contains("192.168.4.0"));
  EXPECT_TRUE(contains("192.168.7.255"));
  EXPECT_FALSE(contains("192.168.8.0"));

  CidrBlock v6 = Block("2001:db8:8000::/33");
  auto contains6 = [&](const char* ip) {
    return CheckAddress(AccessConfig{{v6}, {}}, ip).allowed();
  };
  EXPECT_FALSE(contains6("2001:db8:7fff:ffff::1"));
  EXPECT_TRUE(contains6("2001:db8:8000::"));
  EXPECT_TRUE(contains6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_FALSE(contains6("2001:db9::"));
}

TEST(AddressFilter, AllowsEverythingWithoutRules) {
  AccessConfig none;
  EXPECT_EQ(Judge(none, "203.0.113.9"), "ok: no rule");
  EXPECT_EQ(Judge(none, "::1"), "ok: no rule");
  EXPECT_EQ(Judge(none, ""), "ok: no rule") << "no rules: nothing to fail closed on";
}

TEST(AddressFilter, DenyBeatsAllow) {
  AccessConfig access = Access({"10.0.0.0/8"}, {"10.66.0.0/16"});
  EXPECT_EQ(Judge(access, "10.1.2.3"), "ok: allow 10.0.0.0/8");
  EXPECT_EQ(Judge(access, "10.66.1.1"), "refused: deny 10.66.0.0/16");
  // Order in the file does not matter: an allow of the very address still loses.
  AccessConfig both = Access({"10.66.1.1/32"}, {"10.66.0.0/16"});
  EXPECT_EQ(Judge(both, "10.66.1.1"), "refused: deny 10.66.0.0/16");
}

TEST(AddressFilter, NonEmptyAllowListRefusesTheRest) {
  AccessConfig access = Access({"10.0.0.0/8", "::1/128"}, {});
  EXPECT_EQ(Judge(access, "127.0.0.1"), "refused: not in allow");
  EXPECT_EQ(Judge(access, "::2"), "refused: not in allow");
  EXPECT_EQ(Judge(access, "::1"), "ok: allow ::1/128");
  EXPECT_EQ(Judge(access, "10.255.255.255"), "ok: allow 10.0.0.0/8");
}

TEST(AddressFilter, DenyListAloneRefusesOnlyWhatItMatches) {
  AccessConfig access = Access({}, {"127.0.0.1/32"});
  EXPECT_EQ(Judge(access, "127.0.0.1"), "refused: deny 127.0.0.1/32");
  EXPECT_EQ(Judge(access, "127.0.0.2"), "ok: no rule");
  EXPECT_EQ(Judge(access, "::1"), "ok: no rule");
}

TEST(AddressFilter, JudgesIpv4MappedPeersAsIpv4) {
  AccessConfig access = Access({"10.0.0.0/8"}, {"10.9.9.9/32"});
  EXPECT_EQ(Judge(access, "::ffff:10.1.2.3"), "ok: allow 10.0.0.0/8");
  EXPECT_EQ(Judge(access, "::FFFF:10.9.9.9"), "refused: deny 10.9.9.9/32");
  EXPECT_EQ(Judge(access, "::ffff:192.0.2.1"), "refused: not in allow");
  // A mapped peer is not an IPv6 address for the rules: ::/0 does not cover it.
  AccessConfig v6_only = Access({"::/0"}, {});
  EXPECT_EQ(Judge(v6_only, "::ffff:10.1.2.3"), "refused: not in allow");
  EXPECT_EQ(Judge(v6_only, "2001:db8::1"), "ok: allow ::/0");
  // And the IPv4 families do not cover native IPv6.
  AccessConfig v4_only = Access({"0.0.0.0/0"}, {});
  EXPECT_EQ(Judge(v4_only, "::1"), "refused: not in allow");
  EXPECT_EQ(Judge(v4_only, "::ffff:127.0.0.1"), "ok: allow 0.0.0.0/0");
}

TEST(AddressFilter, FailsClosedOnAnUnreadablePeerAddress) {
  AccessConfig deny_only = Access({}, {"192.0.2.0/24"});
  EXPECT_EQ(Judge(deny_only, ""), "refused: unknown peer address");
  EXPECT_EQ(Judge(deny_only, "not-an-address"), "refused: unknown peer address");
  EXPECT_EQ(Judge(deny_only, "[::1]"), "refused: unknown peer address");
}

TEST(AddressFilter, VerdictPointsAtTheMatchingBlock) {
  AccessConfig access = Access({"10.0.0.0/8", "172.16.0.0/12"}, {});
  AccessVerdict verdict = CheckAddress(access, "172.20.1.1");
  ASSERT_EQ(verdict.kind, AccessVerdict::Kind::kAllowed);
  EXPECT_EQ(verdict.rule, &access.allow[1]);
  EXPECT_EQ(CheckAddress(access, "192.0.2.1").rule, nullptr);
}

}  // namespace
}  // namespace portcullis::reactor
