// IdentityIndex: finds the rules whose identity matchers match a certificate without testing
// every rule.
//
// Each matcher is filed under one of its conditions: an exact value (hash map from the
// value to the matchers), else the glob with the longest literal prefix or suffix (hash map
// from the prefix or suffix; a lookup tries each distinct length: "spiffe://x/ns/ci/sa/*",
// "*.ci.example.com", "*@data.example.com"), else in a short list walked for every identity
// ("*", "?*-agent"). A lookup tests only the matchers filed under the identity's own values, then
// all of their conditions. With a thousand rules keyed by exact SPIFFE ID or CN that is a handful
// of hash lookups.
//
// Also the explanations of why a matcher did or did not match.
//
// Internal to policy/. Immutable after Build; const lookups are safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/policy_model.h"

namespace portcullis::policy::internal {

class IdentityIndex {
 public:
  // `rules` must outlive the index and not change.
  explicit IdentityIndex(const std::vector<Rule>* rules);

  // The indices of the rules with at least one matching matcher, ascending (file order).
  void MatchingRules(const Identity& identity, std::vector<uint32_t>* out) const;

  // How many matchers every lookup tests regardless of the identity (for tests and benchmarks).
  size_t unindexed_count() const { return unindexed_.size(); }

 private:
  struct Ref {
    uint32_t rule;
    uint32_t matcher;
  };
  // Heterogeneous lookup: probe with a string_view without building a std::string.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, std::vector<Ref>, Hash, std::equal_to<>>;
  struct FieldIndex {
    Map exact;
    Map by_prefix;
    std::vector<size_t> prefix_lengths;  // distinct, ascending
    Map by_suffix;
    std::vector<size_t> suffix_lengths;  // distinct, ascending
    bool empty() const { return exact.empty() && by_prefix.empty() && by_suffix.empty(); }
  };

  void File(Ref ref, const Matcher& matcher);
  void Probe(const FieldIndex& index, std::string_view value, std::vector<Ref>* candidates) const;

  const std::vector<Rule>* rules_;
  std::array<FieldIndex, kFieldCount> fields_;
  std::vector<Ref> unindexed_;
};

// Why `matcher` fails for `identity`, naming the first condition that does not hold:
//   cn "bob" does not match "agent-*"
//   no uri_san matches "spiffe://x/*" (the certificate has "spiffe://y/a")
//   the certificate has no spiffe_id (wanted "spiffe://x/*")
// Empty when the matcher matches.
std::string DescribeMismatch(const Matcher& matcher, const Identity& identity);

// Why `matcher` matches, e.g. `cn "agent-1" matches "agent-*", issuer "CN=CA" matches "CN=CA"`.
std::string DescribeMatch(const Matcher& matcher, const Identity& identity);

}  // namespace portcullis::policy::internal
