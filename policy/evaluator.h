// PolicyImpl: the Policy interface over compiled rules (policy_model.h): Decide, GrantFor and
// Explain, with the decision procedure of docs/POLICY.md ("How a decision is made").
//
// Internal to policy/; callers see only portcullis/policy.h. Immutable once constructed, so
// every method is safe to call from any number of threads at once.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "policy/identity_matcher.h"
#include "policy/policy_model.h"
#include "portcullis/policy.h"

namespace portcullis::policy::internal {

class PolicyImpl final : public Policy {
 public:
  explicit PolicyImpl(std::vector<Rule> rules);
  PolicyImpl(const PolicyImpl&) = delete;
  PolicyImpl& operator=(const PolicyImpl&) = delete;

  Decision Decide(const Identity& identity, const Action& action) const override;
  UpstreamGrant GrantFor(const Identity& identity, std::string_view upstream) const override;
  Explanation Explain(const Identity& identity, const Action& action) const override;
  size_t rule_count() const override { return rules_.size(); }

  const std::vector<Rule>& rules() const { return rules_; }
  const IdentityIndex& index() const { return index_; }

 private:
  // One grant of a rule that matched the identity and grants the upstream ("M").
  struct Entry {
    const Rule* rule;
    const Grant* grant;
  };

  // M in file order, from the rules (ascending indices) that matched the identity.
  void Collect(const std::vector<uint32_t>& matched, std::string_view upstream,
               std::vector<Entry>* entries) const;
  static Decision DecideFor(const std::vector<Entry>& entries, const Action& action);

  std::vector<Rule> rules_;
  IdentityIndex index_;
};

}  // namespace portcullis::policy::internal
