#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "portcullis/policy.h"

namespace portcullis::policy {
namespace {

TEST(TokenBucket, StartsFullAndEmptiesAfterBurst) {
  RateLimit limit{10, 3};
  TokenBucket bucket(limit, 100.0);
  EXPECT_DOUBLE_EQ(bucket.tokens(), 3);
  EXPECT_TRUE(bucket.TryTake(limit, 100.0));
  EXPECT_TRUE(bucket.TryTake(limit, 100.0));
  EXPECT_TRUE(bucket.TryTake(limit, 100.0));
  EXPECT_FALSE(bucket.TryTake(limit, 100.0));
  EXPECT_DOUBLE_EQ(bucket.SecondsUntilToken(limit, 100.0), 0.1);
}

TEST(TokenBucket, RefillsAtTheRate) {
  RateLimit limit{10, 2};
  TokenBucket bucket(limit, 0.0);
  EXPECT_TRUE(bucket.TryTake(limit, 0.0));
  EXPECT_TRUE(bucket.TryTake(limit, 0.0));
  EXPECT_FALSE(bucket.TryTake(limit, 0.05));  // half a token
  EXPECT_NEAR(bucket.SecondsUntilToken(limit, 0.05), 0.05, 1e-12);
  EXPECT_TRUE(bucket.TryTake(limit, 0.1));  // exactly one token, despite 0.1 * 10 in binary
  EXPECT_FALSE(bucket.TryTake(limit, 0.1));
  // A long pause refills only up to the burst.
  EXPECT_TRUE(bucket.TryTake(limit, 1000.0));
  EXPECT_TRUE(bucket.TryTake(limit, 1000.0));
  EXPECT_FALSE(bucket.TryTake(limit, 1000.0));
}

TEST(TokenBucket, SustainedRateIsRequestsPerSecond) {
  RateLimit limit{4, 1};
  TokenBucket bucket(limit, 0.0);
  int allowed = 0;
  // One attempt every millisecond for ten seconds: 1 (burst) + 4 per second.
  for (int ms = 0; ms <= 10000; ++ms) {
    allowed += bucket.TryTake(limit, ms / 1000.0);
  }
  EXPECT_EQ(allowed, 41);
}

TEST(TokenBucket, FractionalRates) {
  RateLimit limit{0.5, 1};
  TokenBucket bucket(limit, 0.0);
  EXPECT_TRUE(bucket.TryTake(limit, 0.0));
  EXPECT_FALSE(bucket.TryTake(limit, 1.0));
  EXPECT_DOUBLE_EQ(bucket.SecondsUntilToken(limit, 1.0), 1.0);
  EXPECT_TRUE(bucket.TryTake(limit, 2.0));
}

TEST(TokenBucket, ClockGoingBackwardsRefillsNothing) {
  RateLimit limit{1, 1};
  TokenBucket bucket(limit, 50.0);
  EXPECT_TRUE(bucket.TryTake(limit, 50.0));
  EXPECT_FALSE(bucket.TryTake(limit, 10.0));
  EXPECT_FALSE(bucket.TryTake(limit, 50.5));  // still measured from 50
  EXPECT_TRUE(bucket.TryTake(limit, 51.0));
}

TEST(TokenBucket, SmallerBurstAfterReloadApplies) {
  RateLimit big{1, 10};
  TokenBucket bucket(big, 0.0);
  RateLimit small{1, 2};
  EXPECT_TRUE(bucket.TryTake(small, 0.0));
  EXPECT_TRUE(bucket.TryTake(small, 0.0));
  EXPECT_FALSE(bucket.TryTake(small, 0.0));
}

TEST(TokenBucket, WaitIsZeroWhenATokenIsThere) {
  RateLimit limit{2, 5};
  TokenBucket bucket(limit, 0.0);
  EXPECT_EQ(bucket.SecondsUntilToken(limit, 0.0), 0.0);
  RateLimit stopped{0, 1};
  TokenBucket empty(stopped, 0.0);
  EXPECT_TRUE(empty.TryTake(stopped, 0.0));
  EXPECT_TRUE(std::isinf(empty.SecondsUntilToken(stopped, 1.0)));
}

}  // namespace
}  // namespace portcullis::policy
