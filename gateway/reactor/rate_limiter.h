// RateLimiter: the token buckets of the policy's per-rule rate limits, one per (rule,
// identity), kept per reactor so that no lock is taken on the request path.
//
// A client's keep-alive connection stays on one reactor, so its limit holds there; a client
// spreading many connections over N reactors can get up to N times the rate (documented in
// docs/POLICY.md). Memory is bounded: past kMaxBuckets the table starts over (every bucket
// refills), which only ever errs towards letting requests through for a moment.
// Reactor thread only.
#pragma once

#include <string>
#include <unordered_map>

#include "portcullis/policy.h"

namespace portcullis::reactor {

class RateLimiter {
 public:
  static constexpr size_t kMaxBuckets = 100000;

  // True if `identity_key` may make one more request under `rule`'s `limit` at `now_seconds`;
  // otherwise *retry_after_s says when the next token comes (for Retry-After).
  bool Allow(const std::string& rule, const std::string& identity_key,
             const policy::RateLimit& limit, double now_seconds, double* retry_after_s);

 private:
  std::unordered_map<std::string, policy::TokenBucket> buckets_;
};

}  // namespace portcullis::reactor
