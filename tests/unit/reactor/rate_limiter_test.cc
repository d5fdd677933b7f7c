// RateLimiter (gateway/reactor/rate_limiter.h): one token bucket per (rule, identity), created
// full on first use, refilled by the caller's clock; the table is bounded and starts over when
// full. Time is passed in, so nothing here sleeps.
#include "gateway/reactor/rate_limiter.h"

#include <gtest/gtest.h>

#include <string>

#include "portcullis/policy.h"

namespace portcullis::reactor {
namespace {

policy::RateLimit Limit(double rps, double burst) {
  policy::RateLimit limit;
  limit.requests_per_second = rps;
  limit.burst = burst;
  return limit;
}

// RateLimiter::Allow, with somewhere for the Retry-After it reports on a refusal.
bool Allow(RateLimiter& limiter, const std::string& rule, const std::string& who,
           const policy::RateLimit& limit, double now) {
  double retry_after = -1;
  bool allowed = limiter.Allow(rule, who, limit, now, &retry_after);
  if (allowed) {
    EXPECT_EQ(retry_after, -1) << "written only on a refusal";
  } else {
    EXPECT_GT(retry_after, 0) << "a refused request is told to wait";
  }
  return allowed;
}

// How many of `n` requests at the same instant pass.
int Passing(RateLimiter& limiter, const std::string& rule, const std::string& who,
            const policy::RateLimit& limit, double now, int n) {
  int passed = 0;
  for (int i = 0; i < n; ++i) {
    passed += Allow(limiter, rule, who, limit, now) ? 1 : 0;
  }
  return passed;
}

TEST(RateLimiter, NewBucketStartsFullAtTheBurst) {
  RateLimiter limiter;
  EXPECT_EQ(Passing(limiter, "r", "agent-1", Limit(1, 2), 100.0, 10), 2);
  RateLimiter other;
  EXPECT_EQ(Passing(other, "r", "agent-1", Limit(1, 5), 100.0, 10), 5);
}

TEST(RateLimiter, ThirdImmediateRequestIsRefused) {
  RateLimiter limiter;
  const policy::RateLimit limit = Limit(1, 2);
  EXPECT_TRUE(Allow(limiter, "r", "agent-1", limit, 0.0));
  EXPECT_TRUE(Allow(limiter, "r", "agent-1", limit, 0.0));
  EXPECT_FALSE(Allow(limiter, "r", "agent-1", limit, 0.0));
  EXPECT_FALSE(Allow(limiter, "r", "agent-1", limit, 0.001));
}

TEST(RateLimiter, RefillsAtTheRate) {
  RateLimiter limiter;
  const policy::RateLimit limit = Limit(2, 1);  // one token every 0.5 s
  EXPECT_TRUE(Allow(limiter, "r", "a", limit, 10.0));
  EXPECT_FALSE(Allow(limiter, "r", "a", limit, 10.25));
  EXPECT_TRUE(Allow(limiter, "r", "a", limit, 10.5));
  EXPECT_FALSE(Allow(limiter, "r", "a", limit, 10.5));
  EXPECT_TRUE(Allow(limiter, "r", "a", limit, 11.0));
}

TEST(RateLimiter, RefillStopsAtTheBurst) {
  RateLimiter limiter;
  const policy::RateLimit limit = Limit(10, 3);
  EXPECT_EQ(Passing(limiter, "r", "a", limit, 0.0, 3), 3);
  // An hour idle earns the burst, not 36000 requests.
  EXPECT_EQ(Passing(limiter, "r", "a", limit, 3600.0, 100), 3);
}

TEST(RateLimiter, SlowRatesWork) {
  RateLimiter limiter;
  const policy::RateLimit limit = Limit(0.5, 1);  // one every two seconds
  EXPECT_TRUE(Allow(limiter, "r", "a", limit, 0.0));
  EXPECT_FALSE(Allow(limiter, "r", "a", limit, 1.0));
  EXPECT_FALSE(Allow(limiter, "r", "a", limit, 1.9));
  EXPECT_TRUE(Allow(limiter, "r", "a", limit, 2.0));
}

TEST(RateLimiter, RequestArrivingExactlyOnTimePasses) {
  // 0.1 s × 10/s is not exactly 1.0 in binary floating point.
  RateLimiter limiter;
  const policy::RateLimit limit = Limit(10, 1);
  double now = 0;
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(Allow(limiter, "r", "a", limit, now)) << i;
    now += 0.1;
  }
}

TEST(RateLimiter, ClockGoingBackwardsMintsNothing) {
  RateLimiter limiter;
  const policy::RateLimit limit = Limit(1, 1);
  EXPECT_TRUE(Allow(limiter, "r", "a", limit, 100.0));
  EXPECT_FALSE(Allow(limiter, "r", "a", limit, 50.0));
  EXPECT_FALSE(Allow(limiter, "r", "a", limit, 100.5));
  EXPECT_TRUE(Allow(limiter, "r", "a", limit, 101.0));
}

TEST(RateLimiter, RefusalSaysWhenTheNextTokenComes) {
  RateLimiter limiter;
  const policy::RateLimit limit = Limit(0.5, 1);  // one every two seconds
  double retry_after = -1;
  ASSERT_TRUE(limiter.Allow("r", "a", limit, 10.0, &retry_after));
  ASSERT_FALSE(limiter.Allow("r", "a", limit, 10.0, &retry_after));
  EXPECT_NEAR(retry_after, 2.0, 1e-9);
  ASSERT_FALSE(limiter.Allow("r", "a", limit, 11.5, &retry_after));
  EXPECT_NEAR(retry_after, 0.5, 1e-9);
  // Waiting exactly that long is enough.
  EXPECT_TRUE(limiter.Allow("r", "a", limit, 11.5 + retry_after, &retry_after));
}

TEST(RateLimiter, RetryAfterOfAFastRateIsBelowASecond) {
  RateLimiter limiter;
  const policy::RateLimit limit = Limit(100, 1);
  double retry_after = -1;
  ASSERT_TRUE(limiter.Allow("r", "a", limit, 0.0, &retry_after));
  ASSERT_FALSE(limiter.Allow("r", "a", limit, 0.0, &retry_after));
  EXPECT_NEAR(retry_after, 0.01, 1e-9);
}

TEST(RateLimiter, IdentitiesHaveTheirOwnBuckets) {
  RateLimiter limiter;
  const policy::RateLimit limit = Limit(1, 2);
  EXPECT_EQ(Passing(limiter, "r", "spiffe://example.org/ns/ci/sa/agent-1", limit, 0, 5), 2);
  EXPECT_EQ(Passing(limiter, "r", "spiffe://example.org/ns/ci/sa/agent-2", limit, 0, 5), 2);
  EXPECT_FALSE(Allow(limiter, "r", "spiffe://example.org/ns/ci/sa/agent-1", limit, 0));
}

TEST(RateLimiter, RulesHaveTheirOwnBuckets) {
  RateLimiter limiter;
  const policy::RateLimit limit = Limit(1, 1);
  EXPECT_TRUE(Allow(limiter, "read-only", "a", limit, 0));
  EXPECT_FALSE(Allow(limiter, "read-only", "a", limit, 0));
  EXPECT_TRUE(Allow(limiter, "writers", "a", limit, 0));
  EXPECT_FALSE(Allow(limiter, "writers", "a", limit, 0));
}

TEST(RateLimiter, RuleAndIdentityDoNotRunTogether) {
  // ("ab", "c") and ("a", "bc") are different buckets although their concatenations agree.
  RateLimiter limiter;
  const policy::RateLimit limit = Limit(1, 1);
  EXPECT_TRUE(Allow(limiter, "ab", "c", limit, 0));
  EXPECT_TRUE(Allow(limiter, "a", "bc", limit, 0));
  EXPECT_TRUE(Allow(limiter, "abc", "", limit, 0));
  EXPECT_TRUE(Allow(limiter, "", "abc", limit, 0));
  EXPECT_FALSE(Allow(limiter, "ab", "c", limit, 0));
  // An identity key holding a newline (subject "\n" issuer) is one key, not two parts.
  EXPECT_TRUE(Allow(limiter, "r", "CN=a\nCN=CA", limit, 0));
  EXPECT_TRUE(Allow(limiter, "r", "CN=a", limit, 0));
}

TEST(RateLimiter, SmallerBurstAfterAReloadAppliesAtOnce) {
  // The bucket is keyed by rule name; a reloaded rule with a smaller burst caps what the
  // bucket holds from the next request on.
  RateLimiter limiter;
  EXPECT_TRUE(Allow(limiter, "r", "a", Limit(1, 10), 0));  // 9 left
  EXPECT_EQ(Passing(limiter, "r", "a", Limit(1, 2), 0, 10), 2);
}

TEST(RateLimiter, TableStartsOverWhenFull) {
  RateLimiter limiter;
  const policy::RateLimit limit = Limit(0.001, 1);
  ASSERT_TRUE(Allow(limiter, "r", "victim", limit, 0));
  ASSERT_FALSE(Allow(limiter, "r", "victim", limit, 0));
  // Fill the table to exactly kMaxBuckets entries: the victim's bucket is still there.
  for (size_t i = 1; i < RateLimiter::kMaxBuckets; ++i) {
    ASSERT_TRUE(Allow(limiter, "r", "id-" + std::to_string(i), limit, 0)) << i;
  }
  EXPECT_FALSE(Allow(limiter, "r", "victim", limit, 0));
  // One more new key: the table starts over, so the victim's bucket is new and full.
  EXPECT_TRUE(Allow(limiter, "r", "one-too-many", limit, 0));
  EXPECT_TRUE(Allow(limiter, "r", "victim", limit, 0));
  EXPECT_FALSE(Allow(limiter, "r", "victim", limit, 0));
  // And the keys from before the start-over have fresh buckets too (it errs towards letting
  // requests through, never towards refusing them).
  EXPECT_TRUE(Allow(limiter, "r", "id-1", limit, 0));
}

}  // namespace
}  // namespace portcullis::reactor
