// ParsePolicy: policy text (DESIGN §4, docs/POLICY.md) → a compiled Policy, or every error in
// it, each located as file:line:col with its JSON pointer.
//
// The text is parsed into a LocatedJson tree (a syntax error stops there: one error), then
// walked object by object. Each object is a table of known keys: an unknown key is an error
// with a did-you-mean, a value of the wrong type or range is an error naming what was expected,
// and the walk goes on so that one run reports every mistake. Errors are sorted into file order
// at the end, because a few checks (a missing key) run after their object has been walked.

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "policy/evaluator.h"
#include "policy/glob.h"
#include "policy/policy_model.h"
#include "portcullis/did_you_mean.h"
#include "portcullis/located_json.h"
#include "portcullis/policy.h"

namespace portcullis::policy {

std::string PolicyError::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line) + ":" + std::to_string(col);
  }
  out += ": ";
  if (!pointer.empty()) {
    out += pointer + ": ";
  }
  out += message;
  return out;
}

namespace {

using internal::Condition;
using internal::FieldInfo;
using internal::Grant;
using internal::Matcher;
using internal::PatternList;
using internal::Quote;
using internal::Rule;

constexpr int kMaxPolicyDepth = 64;
// Far above any real need; keeps arithmetic on the values well away from overflow.
constexpr double kMaxRate = 1e9;

// Methods decided by something other than "methods": listing them there does nothing.
bool IsObjectMethod(std::string_view method) {
  return method == "tools/call" || method == "prompts/get" || method == "resources/read" ||
         method == "resources/subscribe" || method == "resources/unsubscribe" ||
         method == "completion/complete";
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

class Loader {
 public:
  Loader(PolicyLoad* out, const std::string& file, const std::vector<std::string>& upstreams)
      : out_(out), file_(file), upstreams_(upstreams) {}

  void Load(const LocatedJson& root) {
    if (!root.is_object()) {
      Error(root.loc, "",
            std::string("a policy must be a JSON object with \"rules\", got ") + root.type_name());
      return;
    }
    VisitObject(root, "", {{"rules", [this](auto& v, auto& p) { ReadRules(v, p); }, true}});
  }

  // Sorts what was found into file order and publishes the warnings.
  void Finish() {
    auto by_position = [](const PolicyError& a, const PolicyError& b) {
      return std::tie(a.line, a.col) < std::tie(b.line, b.col);
    };
    std::stable_sort(out_->errors.begin(), out_->errors.end(), by_position);
    std::stable_sort(warnings_.begin(), warnings_.end(), by_position);
    for (const PolicyError& warning : warnings_) {
      out_->warnings.push_back(warning.ToString());
    }
  }

  std::vector<Rule> TakeRules() { return std::move(rules_); }

 private:
  using Handler = std::function<void(const LocatedJson& value, const std::string& pointer)>;
  struct Field {
    std::string key;
    Handler handler;
    bool required = false;
  };

  // --- Reporting -------------------------------------------------------------------------

  void Error(JsonLocation loc, const std::string& pointer, std::string message) {
    out_->errors.push_back(PolicyError{file_, loc.line, loc.col, pointer, std::move(message)});
  }

  void Warn(JsonLocation loc, const std::string& pointer, std::string message) {
    warnings_.push_back(PolicyError{file_, loc.line, loc.col, pointer, std::move(message)});
  }

  void TypeError(const LocatedJson& value, const std::string& pointer, const char* expected) {
    std::string got = value.type_name();
    if (value.is_number()) {
      got += " (" + value.raw + ")";
    }
    Error(value.loc, pointer, std::string("expected ") + expected + ", got " + got);
  }

  static std::string DidYouMean(const std::string& word, const std::vector<std::string>& words) {
    std::string suggestion = ClosestMatch(word, words);
    return suggestion.empty() ? "" : "; did you mean " + Quote(suggestion) + "?";
  }

  // --- Generic readers ---------------------------------------------------------------------

  // Dispatches each member of `object`, in file order, to the field of the same key; reports
  // unknown keys (with a suggestion) and missing required keys. False if not an object.
  bool VisitObject(const LocatedJson& object, const std::string& pointer,
                   const std::vector<Field>& fields, const char* what = "an object") {
    if (!object.is_object()) {
      TypeError(object, pointer, what);
      return false;
    }
    for (const LocatedJson::Member& member : object.members) {
      std::string member_pointer = JsonPointerAppend(pointer, member.key);
      auto field = std::find_if(fields.begin(), fields.end(),
                                [&](const Field& f) { return f.key == member.key; });
      if (field == fields.end()) {
        std::vector<std::string> keys;
        for (const Field& f : fields) {
          keys.push_back(f.key);
        }
        Error(member.key_loc, member_pointer,
              "unknown key " + Quote(member.key) + DidYouMean(member.key, keys));
        continue;
      }
      field->handler(member.value, member_pointer);
    }
    for (const Field& field : fields) {
      if (field.required && object.Find(field.key) == nullptr) {
        Error(object.loc, pointer, "missing required key " + Quote(field.key));
      }
    }
    return true;
  }

  // A non-empty string, compiled as a glob.
  bool ReadPattern(const LocatedJson& value, const std::string& pointer, Glob::Case match_case,
                   Glob* out) {
    if (!value.is_string()) {
      TypeError(value, pointer, "a string (an exact value or a glob)");
      return false;
    }
    if (value.string.empty()) {
      Error(value.loc, pointer, "must not be empty");
      return false;
    }
    Result<Glob> glob = Glob::Compile(value.string, match_case);
    if (!glob.ok()) {
      Error(value.loc, pointer, "invalid pattern " + Quote(value.string) + ": " + glob.error());
      return false;
    }
    *out = std::move(glob).value();
    return true;
  }

  // --- rules -------------------------------------------------------------------------------

  void ReadRules(const LocatedJson& value, const std::string& pointer) {
    if (!value.is_array()) {
      TypeError(value, pointer, "an array of rules");
      return;
    }
    if (value.items.empty()) {
      Warn(value.loc, pointer, "no rules: every request is denied");
    }
    for (size_t i = 0; i < value.items.size(); ++i) {
      ReadRule(value.items[i], JsonPointerAppend(pointer, i));
    }
  }

  void ReadRule(const LocatedJson& value, const std::string& pointer) {
    Rule rule;
    bool visited =
        VisitObject(value, pointer,
                    {
                        {"name", [&](auto& v, auto& p) { ReadName(v, p, &rule.name); }, true},
                        {"description",
                         [&](auto& v, auto& p) {
                           if (!v.is_string()) {
                             TypeError(v, p, "a string");
                           }
                         }},
                        {"match", [&](auto& v, auto& p) { ReadMatch(v, p, &rule.matchers); }, true},
                        {"grant", [&](auto& v, auto& p) { ReadGrants(v, p, &rule.grants); }, true},
                        {"rate_limit", [&](auto& v, auto& p) { ReadRateLimit(v, p, &rule); }},
                    },
                    "an object (a rule with \"name\", \"match\" and \"grant\")");
    if (visited) {
      rules_.push_back(std::move(rule));
    }
  }

  void ReadName(const LocatedJson& value, const std::string& pointer, std::string* out) {
    if (!value.is_string()) {
      TypeError(value, pointer, "a string");
      return;
    }
    const std::string& name = value.string;
    if (name.empty()) {
      Error(value.loc, pointer, "must not be empty: decisions and the audit log name the rule");
      return;
    }
    if (std::any_of(name.begin(), name.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      Error(value.loc, pointer, "must not contain control characters");
      return;
    }
    auto [it, inserted] = names_.emplace(name, value.loc);
    if (!inserted) {
      Error(value.loc, pointer,
            "duplicate rule name " + Quote(name) + " (first at " + it->second.ToString() +
                "): decisions name their rule, so names must be unique");
      return;
    }
    *out = name;
  }

  // --- match -------------------------------------------------------------------------------

  void ReadMatch(const LocatedJson& value, const std::string& pointer, std::vector<Matcher>* out) {
    if (value.is_object()) {
      ReadMatcher(value, pointer, out);
      return;
    }
    if (!value.is_array()) {
      TypeError(value, pointer, "an array of matchers (objects such as {\"cn\": \"agent-*\"})");
      return;
    }
    if (value.items.empty()) {
      Error(value.loc, pointer, "needs at least one matcher: with none the rule matches nobody");
    }
    for (size_t i = 0; i < value.items.size(); ++i) {
      ReadMatcher(value.items[i], JsonPointerAppend(pointer, i), out);
    }
  }

  void ReadMatcher(const LocatedJson& value, const std::string& pointer,
                   std::vector<Matcher>* out) {
    if (!value.is_object()) {
      TypeError(value, pointer, "an object such as {\"cn\": \"agent-*\"}");
      return;
    }
    if (value.members.empty()) {
      // Fail closed (ghostunnel: an empty access list allows nobody): {} would otherwise be
      // "every condition holds" and match every certificate.
      Error(value.loc, pointer,
            "an empty matcher is refused because it would match every certificate; to mean "
            "that, write {\"fingerprint_sha256\": \"*\"}");
      return;
    }
    std::vector<std::string> keys;
    for (const FieldInfo& info : internal::AllFields()) {
      keys.push_back(info.key);
    }
    Matcher matcher;
    for (const LocatedJson::Member& member : value.members) {
      std::string member_pointer = JsonPointerAppend(pointer, member.key);
      const FieldInfo* info = nullptr;
      for (const FieldInfo& candidate : internal::AllFields()) {
        if (member.key == candidate.key) {
          info = &candidate;
        }
      }
      if (info == nullptr) {
        Error(member.key_loc, member_pointer,
              "unknown matcher key " + Quote(member.key) + DidYouMean(member.key, keys));
        continue;
      }
      Condition condition{info->field, Glob()};
      if (ReadCondition(member.value, member_pointer, *info, &condition.glob)) {
        matcher.conditions.push_back(std::move(condition));
      }
    }
    out->push_back(std::move(matcher));
  }

  bool ReadCondition(const LocatedJson& value, const std::string& pointer, const FieldInfo& info,
                     Glob* out) {
    Glob::Case match_case = info.fold ? Glob::Case::kInsensitive : Glob::Case::kSensitive;
    if (info.field != internal::Field::kFingerprint && info.field != internal::Field::kSpki) {
      return ReadPattern(value, pointer, match_case, out);
    }
    // Fingerprints as openssl prints them ("AB:CD:...") or as the audit log does ("abcd...").
    if (!value.is_string()) {
      TypeError(value, pointer, "a string (64 hex digits, or a glob of them)");
      return false;
    }
    if (value.string.empty()) {
      Error(value.loc, pointer, "must not be empty");
      return false;
    }
    std::string hex;
    bool wild = false;
    for (char c : value.string) {
      if (c == ':') {
        continue;
      }
      if (c == '*' || c == '?') {
        wild = true;
      } else if (!IsHexDigit(c)) {
        Error(value.loc, pointer,
              "expected a SHA-256 fingerprint (64 hex digits, colons allowed) or a glob of "
              "one, got " +
                  Quote(value.string));
        return false;
      }
      hex += c;
    }
    if (!wild && hex.size() != 64) {
      Error(value.loc, pointer,
            "a SHA-256 fingerprint has 64 hex digits, this one has " + std::to_string(hex.size()));
      return false;
    }
    *out = Glob::Compile(hex, match_case).value();  // only hex digits and wildcards
    return true;
  }

  // --- grant -------------------------------------------------------------------------------

  void ReadGrants(const LocatedJson& value, const std::string& pointer, std::vector<Grant>* out) {
    if (!value.is_object()) {
      TypeError(value, pointer, "an object mapping upstream names (or \"*\") to what they allow");
      return;
    }
    if (value.members.empty()) {
      Warn(value.loc, pointer, "grants no upstream: this rule allows nothing");
    }
    for (const LocatedJson::Member& member : value.members) {
      std::string member_pointer = JsonPointerAppend(pointer, member.key);
      const std::string& name = member.key;
      if (name != "*" &&
          std::find(upstreams_.begin(), upstreams_.end(), name) == upstreams_.end()) {
        std::string message = "unknown upstream " + Quote(name);
        if (upstreams_.empty()) {
          message += " (the configuration defines no upstreams)";
        } else {
          message += DidYouMean(name, upstreams_);
        }
        Error(member.key_loc, member_pointer, std::move(message));
      }
      Grant grant;
      grant.upstream = name;
      if (!ReadGrant(member.value, member_pointer, &grant)) {
        continue;
      }
      bool allows = grant.tools.present || grant.resources.present || grant.prompts.present ||
                    grant.methods.present || grant.server_requests.present;
      bool denies = grant.deny_tools.present || grant.deny_resources.present ||
                    grant.deny_prompts.present || grant.deny_methods.present;
      if (name == "*" && denies && !allows) {
        Warn(member.key_loc, member_pointer,
             "this grant only denies, yet it opens every upstream's housekeeping (initialize, "
             "ping, the lists) to the identities the rule matches; name the upstreams instead "
             "of \"*\" unless that is meant");
      }
      out->push_back(std::move(grant));
    }
  }

  bool ReadGrant(const LocatedJson& value, const std::string& pointer, Grant* grant) {
    auto list = [&](PatternList* target) {
      return [=, this](const LocatedJson& v, const std::string& p) { ReadPatterns(v, p, target); };
    };
    return VisitObject(value, pointer,
                       {
                           {"tools", list(&grant->tools)},
                           {"deny_tools", list(&grant->deny_tools)},
                           {"resources", list(&grant->resources)},
                           {"deny_resources", list(&grant->deny_resources)},
                           {"prompts", list(&grant->prompts)},
                           {"deny_prompts", list(&grant->deny_prompts)},
                           {"methods", list(&grant->methods)},
                           {"deny_methods", list(&grant->deny_methods)},
                           {"server_requests", list(&grant->server_requests)},
                       },
                       "an object such as {\"tools\": [\"echo\"]}");
  }

  void ReadPatterns(const LocatedJson& value, const std::string& pointer, PatternList* out) {
    if (!value.is_array()) {
      TypeError(value, pointer, "an array of names or globs");
      return;
    }
    out->present = true;
    const bool methods = pointer.ends_with("/methods");
    const bool deny_methods = pointer.ends_with("/deny_methods");
    for (size_t i = 0; i < value.items.size(); ++i) {
      const LocatedJson& item = value.items[i];
      std::string item_pointer = JsonPointerAppend(pointer, i);
      Glob glob;
      if (!ReadPattern(item, item_pointer, Glob::Case::kSensitive, &glob)) {
        continue;
      }
      if (methods && glob.is_literal() && IsHousekeeping(glob.literal_prefix())) {
        Warn(item.loc, item_pointer,
             Quote(item.string) +
                 " is housekeeping, allowed on every granted upstream; listing "
                 "it has no effect");
      } else if (methods && glob.is_literal() && IsObjectMethod(glob.literal_prefix())) {
        Warn(item.loc, item_pointer,
             Quote(item.string) +
                 " is decided by the tools, prompts and resources lists; listing it here has "
                 "no effect");
      } else if (deny_methods && glob.is_literal() && glob.literal_prefix() == "initialize") {
        Warn(item.loc, item_pointer,
             "\"initialize\" cannot be denied; to keep this identity off the upstream, do not "
             "grant the upstream");
      }
      out->globs.push_back(std::move(glob));
    }
  }

  // --- rate_limit --------------------------------------------------------------------------

  void ReadRateLimit(const LocatedJson& value, const std::string& pointer, Rule* rule) {
    bool has_burst = false;
    bool ok = true;
    RateLimit limit;
    auto number = [&](double min, bool inclusive, double* out) {
      return [=, &ok, this](const LocatedJson& v, const std::string& p) {
        if (!v.is_number()) {
          TypeError(v, p, "a number");
          ok = false;
          return;
        }
        bool low = inclusive ? v.number < min : v.number <= min;
        if (!std::isfinite(v.number) || low || v.number > kMaxRate) {
          Error(v.loc, p,
                std::string("must be a number ") + (inclusive ? "from 1" : "greater than 0") +
                    " up to 1e9, got " + v.raw);
          ok = false;
          return;
        }
        *out = v.number;
      };
    };
    bool visited =
        VisitObject(value, pointer,
                    {
                        {"requests_per_second", number(0, false, &limit.requests_per_second), true},
                        {"burst",
                         [&](const LocatedJson& v, const std::string& p) {
                           has_burst = true;
                           number(1, true, &limit.burst)(v, p);
                         }},
                    },
                    "an object such as {\"requests_per_second\": 10, \"burst\": 20}");
    if (!visited || !ok || value.Find("requests_per_second") == nullptr) {
      return;
    }
    if (!has_burst) {
      limit.burst = std::max(1.0, limit.requests_per_second);
    }
    rule->has_rate_limit = true;
    rule->rate_limit = limit;
  }

  PolicyLoad* out_;
  std::string file_;
  const std::vector<std::string>& upstreams_;
  std::vector<PolicyError> warnings_;
  std::vector<Rule> rules_;
  std::map<std::string, JsonLocation> names_;
};

}  // namespace

PolicyLoad ParsePolicy(const std::string& file, std::string_view text,
                       const std::vector<std::string>& known_upstreams) {
  PolicyLoad load;
  JsonParseError parse_error;
  Result<LocatedJson> root = ParseLocatedJson(text, kMaxPolicyDepth, &parse_error);
  if (!root.ok()) {
    load.errors.push_back(
        PolicyError{file, parse_error.loc.line, parse_error.loc.col, "", parse_error.message});
    return load;
  }
  Loader loader(&load, file, known_upstreams);
  loader.Load(*root);
  loader.Finish();
  if (load.errors.empty()) {
    load.policy = std::make_shared<internal::PolicyImpl>(loader.TakeRules());
  }
  return load;
}

}  // namespace portcullis::policy
