#include "gateway/reactor/rate_limiter.h"

namespace portcullis::reactor {

bool RateLimiter::Allow(const std::string& rule, const std::string& identity_key,
                        const policy::RateLimit& limit, double now_seconds,
                        double* retry_after_s) {
  std::string key;
  key.reserve(rule.size() + 1 + identity_key.size());
  key.append(rule).push_back('\0');
  key.append(identity_key);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxBuckets) buckets_.clear();
    it = buckets_.emplace(std::move(key), policy::TokenBucket(limit, now_seconds)).first;
  }
  if (it->second.TryTake(limit, now_seconds)) return true;
  *retry_after_s = it->second.SecondsUntilToken(limit, now_seconds);
  return false;
}

}  // namespace portcullis::reactor
