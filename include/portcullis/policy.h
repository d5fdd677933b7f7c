// Policy: which client identities may reach which upstreams, methods, tools, resources and
// prompts (DESIGN §4; semantics in docs/POLICY.md).
//
// A Policy is built once by ParsePolicy (policy/policy_loader.cc) and never changes; share it
// between threads freely (const methods only, no mutable state). A reload builds a new one.
// Zero trust: default deny, an explicit deny beats any allow, every decision names its rule.
// Pure: no I/O, no clock (callers pass the time), no logging.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "portcullis/identity.h"
#include "portcullis/result.h"

namespace portcullis::policy {

// What a message asks for, as the gateway extracted it from the JSON-RPC body.
struct Action {
  enum class Object { kNone, kTool, kResource, kPrompt };
  std::string_view upstream;  // the {upstream} of the route
  std::string_view method;    // JSON-RPC method; for a client's response to a server request,
                              // the method of that server request (e.g. "sampling/createMessage")
  Object object = Object::kNone;
  std::string_view name;  // tool or prompt name, or resource URI (empty when kNone)
  // True when this is a server-to-client request (sampling/createMessage, elicitation/create,
  // roots/list, ...) or the client's response to one.
  bool server_request = false;
};

struct RateLimit {
  double requests_per_second = 0;  // > 0
  double burst = 0;                // >= 1
};

struct Decision {
  bool allowed = false;
  // The rule that decided, or "" when nothing matched (the default deny).
  std::string rule;
  // One sentence for operators and for the JSON-RPC error's data:
  //   "tool \"delete_all\" matches deny_tools \"delete-*\" of rule \"ci-agents\""
  //   "no rule grants upstream \"billing\" to this identity (default deny)"
  std::string reason;
  // The rate limit of the rule that allowed, if it has one (null otherwise). Points into the
  // Policy, which outlives the decision.
  const RateLimit* rate_limit = nullptr;
};

// What one identity may use on one upstream: the union of the grants of every rule that
// matches it. Used to filter list results (tools/list, prompts/list, resources/list,
// resources/templates/list) and to decide many names quickly. Valid while its Policy lives.
namespace internal {
struct Grant;
class PolicyImpl;
}  // namespace internal

class UpstreamGrant {
 public:
  bool granted() const { return !grants_.empty(); }
  bool AllowsTool(std::string_view name) const;
  bool AllowsPrompt(std::string_view name) const;
  bool AllowsResource(std::string_view uri) const;
  // A resource template (resources/templates/list) is shown when its uriTemplate could expand
  // to an allowed URI; the gateway passes the template text and this answers conservatively:
  // allowed iff the literal prefix before the first '{' is allowed by some resource pattern.
  bool AllowsResourceTemplate(std::string_view uri_template) const;

 private:
  friend class internal::PolicyImpl;
  bool Allows(Action::Object object, std::string_view method, std::string_view name) const;
  // The grants for this upstream of every rule matching the identity, in file order. They
  // point into the Policy.
  std::vector<const internal::Grant*> grants_;
};

// Why each rule did or did not match, for `portcullis policy explain`.
struct RuleExplanation {
  std::string rule;
  bool identity_matched = false;
  bool grants_upstream = false;
  std::string detail;  // e.g. "matcher 1: cn \"bob\" does not match \"agent-*\""
  // When the rule matched and grants the upstream: what this rule alone says about the action,
  // "allows: ...", "denies: ..." or "no opinion: ..."; empty otherwise.
  std::string verdict;
};

struct Explanation {
  Decision decision;
  std::vector<RuleExplanation> rules;  // in file order
  // Human-readable, several lines (for `portcullis policy explain`):
  //   decision: allow by rule "ci-agents": tool "echo" matches tools "echo" of rule "ci-agents"
  //   rule "ci-agents": identity matched (matcher 1: cn "agent-1" matches "agent-*"); ...
  std::string ToText() const;
};

// True for the protocol's housekeeping, allowed on any granted upstream (docs/POLICY.md):
// "" (a response), initialize, ping, notifications/*, server/discover, tools/list, prompts/list,
// resources/list, resources/templates/list, subscriptions/listen.
bool IsHousekeeping(std::string_view method);

class Policy {
 public:
  virtual ~Policy() = default;
  virtual Decision Decide(const Identity& identity, const Action& action) const = 0;
  virtual UpstreamGrant GrantFor(const Identity& identity, std::string_view upstream) const = 0;
  virtual Explanation Explain(const Identity& identity, const Action& action) const = 0;
  virtual size_t rule_count() const = 0;
};

struct PolicyError {
  std::string file;
  int line = 0;
  int col = 0;
  std::string pointer;
  std::string message;
  std::string ToString() const;  // "file:line:col: /pointer: message"
};

struct PolicyLoad {
  bool ok() const { return errors.empty(); }
  std::shared_ptr<const Policy> policy;  // set only when ok()
  std::vector<PolicyError> errors;       // all of them, in file order
  std::vector<std::string> warnings;
};

// Parses and validates policy text. `known_upstreams` are the upstream names of the config:
// a grant for any other name (except "*") is an error with a did-you-mean.
PolicyLoad ParsePolicy(const std::string& file, std::string_view text,
                       const std::vector<std::string>& known_upstreams);

// A policy that denies everything (no policy configured).
std::shared_ptr<const Policy> DenyAllPolicy();

// Token bucket for a rule's rate limit. The caller owns one per (rule, identity) and passes
// the current time; pure arithmetic.
class TokenBucket {
 public:
  explicit TokenBucket(const RateLimit& limit, double now_seconds);
  // Takes one token if available. A clock that goes backwards refills nothing.
  bool TryTake(const RateLimit& limit, double now_seconds);
  // Seconds from now_seconds until TryTake would succeed (0 when it would now): the
  // Retry-After of a 429.
  double SecondsUntilToken(const RateLimit& limit, double now_seconds) const;
  double tokens() const { return tokens_; }  // as of the last call

 private:
  double tokens_;
  double last_;
};

}  // namespace portcullis::policy
