// The compiled policy: rules with their identity matchers and per-upstream grants, as the
// loader (policy_loader.cc) builds them and the evaluator (evaluator.cc) reads them.
//
// Internal to policy/. Built once, then immutable; read from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/glob.h"
#include "portcullis/identity.h"
#include "portcullis/policy.h"

namespace portcullis::policy::internal {

// The certificate fields a matcher can test (DESIGN §4: the matcher keys).
enum class Field : uint8_t {
  kCn,
  kSpiffeId,
  kUriSan,
  kDnsSan,
  kEmailSan,
  kIssuer,
  kSubject,
  kFingerprint,
  kSpki,
};
inline constexpr size_t kFieldCount = 9;

struct FieldInfo {
  Field field;
  const char* key;  // the matcher key in policy files
  bool multi;       // a list on the certificate (SANs): the condition holds if any value matches
  bool fold;        // compared without regard to ASCII case
};

// Every field, in the order the documentation lists them.
std::span<const FieldInfo> AllFields();
const FieldInfo& InfoFor(Field field);

// Calls fn(value) for each non-empty value the identity has for `field`; stops early when fn
// returns true, and returns whether it did. Empty values never reach fn: a field the
// certificate does not have matches no pattern, not even "**".
template <typename Fn>
bool AnyValue(const Identity& identity, Field field, Fn&& fn) {
  auto one = [&](const std::string& value) { return !value.empty() && fn(value); };
  auto many = [&](const std::vector<std::string>& values) {
    for (const std::string& value : values) {
      if (one(value)) {
        return true;
      }
    }
    return false;
  };
  switch (field) {
    case Field::kCn:
      return one(identity.cn);
    case Field::kSpiffeId:
      return one(identity.spiffe_id);
    case Field::kUriSan:
      return many(identity.uri_sans);
    case Field::kDnsSan:
      return many(identity.dns_sans);
    case Field::kEmailSan:
      return many(identity.email_sans);
    case Field::kIssuer:
      return one(identity.issuer);
    case Field::kSubject:
      return one(identity.subject);
    case Field::kFingerprint:
      return one(identity.cert_sha256);
    case Field::kSpki:
      return one(identity.spki_sha256);
  }
  return false;
}

// One "key": "pattern" pair of a matcher.
struct Condition {
  Field field;
  Glob glob;  // compiled case-insensitively for fold fields
  bool Matches(const Identity& identity) const {
    return AnyValue(identity, field, [&](const std::string& v) { return glob.Matches(v); });
  }
};

// One object of "match": every condition must hold.
struct Matcher {
  std::vector<Condition> conditions;
  // The index of the first condition that does not hold, or conditions.size() when all hold.
  size_t FirstFailure(const Identity& identity) const {
    for (size_t i = 0; i < conditions.size(); ++i) {
      if (!conditions[i].Matches(identity)) {
        return i;
      }
    }
    return conditions.size();
  }
  bool Matches(const Identity& identity) const {
    return FirstFailure(identity) == conditions.size();
  }
};

// An allow or deny list of a grant. `present` tells "tools": [] from no "tools" key (the same
// for decisions: neither allows anything; kept for explanations).
struct PatternList {
  std::vector<Glob> globs;
  bool present = false;
  // The first pattern matching `name`, or nullptr.
  const Glob* FirstMatch(std::string_view name) const {
    for (const Glob& glob : globs) {
      if (glob.Matches(name)) {
        return &glob;
      }
    }
    return nullptr;
  }
};

// What one rule grants on one upstream (or on every upstream, "*").
struct Grant {
  std::string upstream;
  PatternList tools, deny_tools;
  PatternList resources, deny_resources;
  PatternList prompts, deny_prompts;
  PatternList methods, deny_methods;
  PatternList server_requests;

  const PatternList& Allow(Action::Object object) const {
    return object == Action::Object::kTool     ? tools
           : object == Action::Object::kPrompt ? prompts
                                               : resources;
  }
  const PatternList& Deny(Action::Object object) const {
    return object == Action::Object::kTool     ? deny_tools
           : object == Action::Object::kPrompt ? deny_prompts
                                               : deny_resources;
  }
};

struct Rule {
  std::string name;
  std::vector<Matcher> matchers;  // any one may match
  std::vector<Grant> grants;      // in file order
  bool has_rate_limit = false;
  RateLimit rate_limit;
};

// "\"text\"" for messages: quotes, backslashes and control characters escaped, and very long
// values cut (a hostile 4 MiB tool name must not become a 4 MiB audit reason).
std::string Quote(std::string_view text);

}  // namespace portcullis::policy::internal
