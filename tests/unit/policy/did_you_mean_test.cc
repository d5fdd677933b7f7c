#include "portcullis/did_you_mean.h"

#include <gtest/gtest.h>

namespace portcullis {
namespace {

const std::vector<std::string> kTlsKeys = {"cert",
                                           "key",
                                           "client_ca",
                                           "crl",
                                           "ciphers",
                                           "ciphersuites",
                                           "session_tickets",
                                           "ticket_key_file",
                                           "min_version",
                                           "handshake_timeout_ms",
                                           "verify_depth"};

TEST(DidYouMean, SuggestsTheClosestKey) {
  EXPECT_EQ(ClosestMatch("clent_ca", kTlsKeys), "client_ca");
  EXPECT_EQ(ClosestMatch("min_versoin", kTlsKeys), "min_version");
  EXPECT_EQ(ClosestMatch("ciphres", kTlsKeys), "ciphers");  // one swap
  EXPECT_EQ(ClosestMatch("cirt", kTlsKeys), "cert");
  EXPECT_EQ(ClosestMatch("session_ticket", kTlsKeys), "session_tickets");
  EXPECT_EQ(ClosestMatch("handshake_timeout", kTlsKeys), "handshake_timeout_ms");
  EXPECT_EQ(ClosestMatch("biling", {"everything", "billing", "files"}), "billing");
}

TEST(DidYouMean, IgnoresCase) { EXPECT_EQ(ClosestMatch("Client_CA", kTlsKeys), "client_ca"); }

TEST(DidYouMean, ReturnsNothingWhenNothingIsClose) {
  EXPECT_EQ(ClosestMatch("listen", kTlsKeys), "");
  EXPECT_EQ(ClosestMatch("x", {"y", "cn"}), "");
  EXPECT_EQ(ClosestMatch("ip", {"cn"}), "");
  EXPECT_EQ(ClosestMatch("handshake", kTlsKeys), "");   // a prefix, but far too short
  EXPECT_EQ(ClosestMatch("client_key", kTlsKeys), "");  // 3 edits from client_ca: a new word
}

TEST(DidYouMean, HandlesEmptyInputs) {
  EXPECT_EQ(ClosestMatch("cert", {}), "");
  EXPECT_EQ(ClosestMatch("", kTlsKeys), "");
  EXPECT_EQ(ClosestMatch("a", {""}), "");
}

TEST(DidYouMean, ReturnsAnExactMatch) { EXPECT_EQ(ClosestMatch("crl", kTlsKeys), "crl"); }

TEST(DidYouMean, PrefersTheEarlierCandidateOnATie) {
  EXPECT_EQ(ClosestMatch("cat", {"bat", "cut"}), "bat");
  EXPECT_EQ(ClosestMatch("cat", {"cut", "bat"}), "cut");
}

TEST(DidYouMean, ComputesEditDistance) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("ab", "ba"), 1u);
  EXPECT_EQ(EditDistance("Key", "key"), 1u);  // case-sensitive
}

}  // namespace
}  // namespace portcullis
