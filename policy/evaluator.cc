// The decision procedure (docs/POLICY.md, "How a decision is made"):
//   1. M = the grants, for the action's upstream (by name or "*"), of the rules whose matchers
//      match the identity. None → default deny.
//   2. A deny_methods pattern of M matching the method → deny (initialize excepted).
//   3. Server-to-client requests: allowed iff some server_requests pattern of M matches.
//   4. Housekeeping → allowed, by the first rule of M.
//   5. Tools, prompts, resources: a deny pattern of M → deny; else an allow pattern → allow;
//      else default deny.
//   6. Other methods: a methods pattern of M → allow; else default deny.
// Decide finds M through the identity index; Explain tests every rule and must agree.

#include "policy/evaluator.h"

#include <memory>
#include <utility>

namespace portcullis::policy {

namespace internal {

namespace {

using Object = Action::Object;

const char* KindWord(Object object) {
  return object == Object::kTool ? "tool" : object == Object::kPrompt ? "prompt" : "resource";
}
const char* AllowKey(Object object) {
  return object == Object::kTool ? "tools" : object == Object::kPrompt ? "prompts" : "resources";
}
const char* DenyKey(Object object) {
  return object == Object::kTool     ? "deny_tools"
         : object == Object::kPrompt ? "deny_prompts"
                                     : "deny_resources";
}

// Whether `method` acts on a tool, prompt or resource, and which: *object is kNone when the
// gateway did not name one the method can act on (fail closed).
bool ObjectMethod(std::string_view method, Object given, Object* object) {
  if (method == "tools/call") {
    *object = given == Object::kTool ? Object::kTool : Object::kNone;
  } else if (method == "prompts/get") {
    *object = given == Object::kPrompt ? Object::kPrompt : Object::kNone;
  } else if (method == "resources/read" || method == "resources/subscribe" ||
             method == "resources/unsubscribe") {
    *object = given == Object::kResource ? Object::kResource : Object::kNone;
  } else if (method == "completion/complete") {
    // params.ref names a prompt or a resource (URI or URI template).
    *object = (given == Object::kPrompt || given == Object::kResource) ? given : Object::kNone;
  } else {
    return false;
  }
  return true;
}

bool IsListMethod(std::string_view method) {
  return method == "tools/list" || method == "prompts/list" || method == "resources/list" ||
         method == "resources/templates/list";
}

Decision Deny(const Rule* rule, std::string reason) {
  Decision decision;
  decision.rule = rule == nullptr ? "" : rule->name;
  decision.reason = std::move(reason);
  return decision;
}

Decision Allow(const Rule& rule, std::string reason) {
  Decision decision;
  decision.allowed = true;
  decision.rule = rule.name;
  decision.reason = std::move(reason);
  decision.rate_limit = rule.has_rate_limit ? &rule.rate_limit : nullptr;
  return decision;
}

std::string Of(const char* key, const Glob& glob, const Rule& rule) {
  return std::string(" matches ") + key + " " + Quote(glob.pattern()) + " of rule " +
         Quote(rule.name);
}

}  // namespace

PolicyImpl::PolicyImpl(std::vector<Rule> rules) : rules_(std::move(rules)), index_(&rules_) {}

void PolicyImpl::Collect(const std::vector<uint32_t>& matched, std::string_view upstream,
                         std::vector<Entry>* entries) const {
  entries->clear();
  for (uint32_t id : matched) {
    const Rule& rule = rules_[id];
    for (const Grant& grant : rule.grants) {
      if (grant.upstream == upstream || grant.upstream == "*") {
        entries->push_back(Entry{&rule, &grant});
      }
    }
  }
}

Decision PolicyImpl::DecideFor(const std::vector<Entry>& entries, const Action& action) {
  const std::string_view method = action.method;
  if (entries.empty()) {
    return Deny(nullptr, "no rule grants upstream " + Quote(action.upstream) +
                             " to this identity (default deny)");
  }
  // initialize cannot be denied: refusing it would only break the session in a confusing
  // way; a rule that should not reach the upstream must not grant it. A response has no
  // method to deny.
  if (!method.empty() && method != "initialize") {
    for (const Entry& e : entries) {
      if (const Glob* glob = e.grant->deny_methods.FirstMatch(method)) {
        return Deny(e.rule, "method " + Quote(method) + Of("deny_methods", *glob, *e.rule));
      }
    }
  }
  auto housekeeping = [&]() {
    const Entry& first = entries.front();
    std::string what = method.empty() ? std::string("a response") : Quote(method);
    std::string reason = what + " is housekeeping, allowed on any granted upstream (rule " +
                         Quote(first.rule->name) + " grants " + Quote(first.grant->upstream) + ")";
    if (IsListMethod(method)) {
      reason += "; the result lists only what the identity may use";
    }
    return Allow(*first.rule, std::move(reason));
  };
  if (action.server_request) {
    // Either side may ping (MCP basic/utilities/ping); refusing a server's ping would make
    // it think the client is gone.
    if (method == "ping") {
      return housekeeping();
    }
    for (const Entry& e : entries) {
      if (const Glob* glob = e.grant->server_requests.FirstMatch(method)) {
        return Allow(*e.rule,
                     "server request " + Quote(method) + Of("server_requests", *glob, *e.rule));
      }
    }
    return Deny(nullptr, "no rule allows server request " + Quote(method) + " on upstream " +
                             Quote(action.upstream));
  }
  if (IsHousekeeping(method)) {
    return housekeeping();
  }
  Object object = Object::kNone;
  if (ObjectMethod(method, action.object, &object)) {
    if (object == Object::kNone) {
      return Deny(nullptr, "method " + Quote(method) +
                               " names no tool, prompt or resource that the policy can check");
    }
    const char* kind = KindWord(object);
    for (const Entry& e : entries) {
      if (const Glob* glob = e.grant->Deny(object).FirstMatch(action.name)) {
        return Deny(e.rule, std::string(kind) + " " + Quote(action.name) +
                                Of(DenyKey(object), *glob, *e.rule));
      }
    }
    for (const Entry& e : entries) {
      if (const Glob* glob = e.grant->Allow(object).FirstMatch(action.name)) {
        return Allow(*e.rule, std::string(kind) + " " + Quote(action.name) +
                                  Of(AllowKey(object), *glob, *e.rule));
      }
    }
    return Deny(nullptr, std::string("no rule allows ") + kind + " " + Quote(action.name) +
                             " on upstream " + Quote(action.upstream));
  }
  for (const Entry& e : entries) {
    if (const Glob* glob = e.grant->methods.FirstMatch(method)) {
      return Allow(*e.rule, "method " + Quote(method) + Of("methods", *glob, *e.rule));
    }
  }
  return Deny(nullptr,
              "no rule allows method " + Quote(method) + " on upstream " + Quote(action.upstream));
}

Decision PolicyImpl::Decide(const Identity& identity, const Action& action) const {
  std::vector<uint32_t> matched;
  index_.MatchingRules(identity, &matched);
  std::vector<Entry> entries;
  Collect(matched, action.upstream, &entries);
  return DecideFor(entries, action);
}

UpstreamGrant PolicyImpl::GrantFor(const Identity& identity, std::string_view upstream) const {
  std::vector<uint32_t> matched;
  index_.MatchingRules(identity, &matched);
  std::vector<Entry> entries;
  Collect(matched, upstream, &entries);
  UpstreamGrant grant;
  for (const Entry& e : entries) {
    grant.grants_.push_back(e.grant);
  }
  return grant;
}

Explanation PolicyImpl::Explain(const Identity& identity, const Action& action) const {
  Explanation explanation;
  std::vector<uint32_t> matched;
  for (uint32_t id = 0; id < rules_.size(); ++id) {
    const Rule& rule = rules_[id];
    RuleExplanation out;
    out.rule = rule.name;
    std::string detail;
    for (size_t m = 0; m < rule.matchers.size() && !out.identity_matched; ++m) {
      const Matcher& matcher = rule.matchers[m];
      std::string label = "matcher " + std::to_string(m + 1) + ": ";
      if (matcher.Matches(identity)) {
        out.identity_matched = true;
        detail = label + DescribeMatch(matcher, identity);
      } else {
        detail += (detail.empty() ? "" : "; ") + label + DescribeMismatch(matcher, identity);
      }
    }
    std::string granted;
    for (const Grant& grant : rule.grants) {
      granted += (granted.empty() ? "" : ", ") + Quote(grant.upstream);
      if (grant.upstream == action.upstream || grant.upstream == "*") {
        out.grants_upstream = true;
      }
    }
    if (out.grants_upstream) {
      detail += "; grants upstream " + Quote(action.upstream);
    } else {
      detail += "; does not grant upstream " + Quote(action.upstream) +
                (granted.empty() ? " (grants nothing)" : " (grants " + granted + ")");
    }
    out.detail = std::move(detail);
    if (out.identity_matched) {
      matched.push_back(id);
      if (out.grants_upstream) {
        std::vector<Entry> own;
        Collect({id}, action.upstream, &own);
        Decision alone = DecideFor(own, action);
        out.verdict = alone.allowed        ? "allows: " + alone.reason
                      : alone.rule.empty() ? "no opinion: " + alone.reason
                                           : "denies: " + alone.reason;
      }
    }
    explanation.rules.push_back(std::move(out));
  }
  std::vector<Entry> entries;
  Collect(matched, action.upstream, &entries);
  explanation.decision = DecideFor(entries, action);
  return explanation;
}

}  // namespace internal

bool UpstreamGrant::Allows(Action::Object object, std::string_view method,
                           std::string_view name) const {
  // The same steps as Decide for that method (steps 2 and 5), so that a list shows exactly
  // what a call would be allowed.
  for (const internal::Grant* grant : grants_) {
    if (grant->deny_methods.FirstMatch(method) != nullptr) {
      return false;
    }
  }
  for (const internal::Grant* grant : grants_) {
    if (grant->Deny(object).FirstMatch(name) != nullptr) {
      return false;
    }
  }
  for (const internal::Grant* grant : grants_) {
    if (grant->Allow(object).FirstMatch(name) != nullptr) {
      return true;
    }
  }
  return false;
}

bool UpstreamGrant::AllowsTool(std::string_view name) const {
  return Allows(Action::Object::kTool, "tools/call", name);
}

bool UpstreamGrant::AllowsPrompt(std::string_view name) const {
  return Allows(Action::Object::kPrompt, "prompts/get", name);
}

bool UpstreamGrant::AllowsResource(std::string_view uri) const {
  return Allows(Action::Object::kResource, "resources/read", uri);
}

bool UpstreamGrant::AllowsResourceTemplate(std::string_view uri_template) const {
  // RFC 6570: everything before the first expression is literal in every expansion.
  return AllowsResource(uri_template.substr(0, uri_template.find('{')));
}

bool IsHousekeeping(std::string_view method) {
  return method.empty() || method == "initialize" || method == "ping" ||
         method.starts_with("notifications/") || method == "server/discover" ||
         method == "tools/list" || method == "prompts/list" || method == "resources/list" ||
         method == "resources/templates/list" || method == "subscriptions/listen";
}

std::string Explanation::ToText() const {
  std::string out = "decision: ";
  out += decision.allowed ? "allow" : "deny";
  out += decision.rule.empty() ? " (default)" : " by rule " + internal::Quote(decision.rule);
  out += ": " + decision.reason + "\n";
  if (rules.empty()) {
    out += "the policy has no rules\n";
  }
  for (const RuleExplanation& rule : rules) {
    out += "rule " + internal::Quote(rule.rule) + ": identity " +
           (rule.identity_matched ? "matched" : "did not match") + " (" + rule.detail + ")\n";
    if (!rule.verdict.empty()) {
      out += "  " + rule.verdict + "\n";
    }
  }
  return out;
}

std::shared_ptr<const Policy> DenyAllPolicy() {
  static const std::shared_ptr<const Policy> kDenyAll =
      std::make_shared<internal::PolicyImpl>(std::vector<internal::Rule>{});
  return kDenyAll;
}

}  // namespace portcullis::policy
