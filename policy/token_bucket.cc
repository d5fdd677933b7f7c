// TokenBucket: tokens refill continuously at requests_per_second up to burst; each request
// takes one.

#include <algorithm>
#include <limits>

#include "portcullis/policy.h"

namespace portcullis::policy {

namespace {

// 0.1 s × 10/s is 0.9999999999999999 in binary floating point; a request that arrives exactly
// on time must not be refused for that.
constexpr double kEpsilon = 1e-9;

}  // namespace

TokenBucket::TokenBucket(const RateLimit& limit, double now_seconds)
    : tokens_(limit.burst), last_(now_seconds) {}

bool TokenBucket::TryTake(const RateLimit& limit, double now_seconds) {
  if (now_seconds > last_) {
    tokens_ += (now_seconds - last_) * limit.requests_per_second;
    last_ = now_seconds;
  }
  // Also applies a smaller burst after a reload.
  tokens_ = std::min(tokens_, limit.burst);
  if (tokens_ + kEpsilon < 1.0) {
    return false;
  }
  tokens_ = std::max(0.0, tokens_ - 1.0);
  return true;
}

double TokenBucket::SecondsUntilToken(const RateLimit& limit, double now_seconds) const {
  double tokens = std::min(tokens_ + std::max(0.0, now_seconds - last_) * limit.requests_per_second,
                           limit.burst);
  if (tokens + kEpsilon >= 1.0) {
    return 0.0;
  }
  if (limit.requests_per_second <= 0) {
    return std::numeric_limits<double>::infinity();  // never refills (not from a loaded policy)
  }
  return (1.0 - tokens) / limit.requests_per_second;
}

}  // namespace portcullis::policy
