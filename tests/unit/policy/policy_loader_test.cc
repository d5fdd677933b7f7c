// ParsePolicy: every error located as file:line:col with its JSON pointer, all at once.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "portcullis/policy.h"

namespace portcullis::policy {
namespace {

const std::vector<std::string> kUpstreams = {"everything", "files", "billing"};

std::vector<std::string> Errors(const std::string& text,
                                const std::vector<std::string>& upstreams = kUpstreams) {
  PolicyLoad load = ParsePolicy("conf/policy.json", text, upstreams);
  std::vector<std::string> out;
  for (const PolicyError& error : load.errors) {
    out.push_back(error.ToString());
  }
  EXPECT_EQ(load.ok(), out.empty());
  EXPECT_EQ(load.policy != nullptr, out.empty());
  return out;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) {
    out += line + "\n";
  }
  return out;
}

std::string OneError(const std::string& text) {
  std::vector<std::string> errors = Errors(text);
  EXPECT_EQ(errors.size(), 1u) << Joined(errors);
  return errors.empty() ? "" : errors[0];
}

// A rule on line 2 whose body is `rule` (the rule's object opens at column 3).
std::string RuleError(const std::string& rule) {
  return OneError("{\"rules\": [\n  " + rule + "\n]}");
}

std::vector<std::string> Warnings(const std::string& text) {
  PolicyLoad load = ParsePolicy("p.json", text, kUpstreams);
  EXPECT_TRUE(load.ok());
  return load.warnings;
}

constexpr const char* kOk = R"({"name": "r", "match": {"cn": "a"}, "grant": {"files": {}}})";

TEST(PolicyLoader, AcceptsTheDesignExample) {
  const char* text = R"({
  "rules": [
    {
      "name": "ci-agents",
      // any one matcher may match; inside a matcher every key must match; values are exact or globs
      "match": [ { "spiffe_id": "spiffe://example.org/ns/ci/sa/*" }, { "cn": "agent-*", "issuer": "CN=Team CA*" } ],
      "grant": {
        "everything": {                       // an upstream name from the config, or "*" for all
          "tools": ["echo", "get-*"], "deny_tools": ["delete-*"],
          "resources": ["file:///public/**"], "deny_resources": [],
          "prompts": ["*"], "deny_prompts": []
        }
      }
    }
  ]
})";
  PolicyLoad load = ParsePolicy("p.json", text, {"everything"});
  ASSERT_TRUE(load.ok()) << Joined(Errors(text, {"everything"}));
  EXPECT_EQ(load.policy->rule_count(), 1u);
  EXPECT_TRUE(load.warnings.empty());
}

TEST(PolicyLoader, AcceptsEveryKeyAndTrailingCommas) {
  const char* text = R"({
  "rules": [
    {
      "name": "all-keys",
      "description": "every key once",
      "match": [{"cn": "a", "spiffe_id": "spiffe://x/*", "uri_san": "urn:*", "dns_san": "*.x",
                 "email_san": "*@x", "issuer": "CN=CA", "subject": "CN=a",
                 "fingerprint_sha256": "AB:CD:*", "spki_sha256": "??*",},],
      "grant": {"*": {"tools": [], "deny_tools": [], "resources": [], "deny_resources": [],
                      "prompts": [], "deny_prompts": [], "methods": ["x/*"], "deny_methods": [],
                      "server_requests": ["roots/list"],},},
      "rate_limit": {"requests_per_second": 1, "burst": 1,},
    },
  ],
})";
  EXPECT_TRUE(Errors(text).empty()) << Joined(Errors(text));
}

TEST(PolicyLoader, SyntaxErrorIsOneLocatedError) {
  EXPECT_EQ(OneError("{\"rules\": [\n  {\"name\": \"a\" \"match\": {}}\n]}"),
            "conf/policy.json:2:16: missing a comma or '}' after an object member");
  EXPECT_EQ(OneError(""), "conf/policy.json:1:1: the document is empty");
}

TEST(PolicyLoader, TopLevelShape) {
  EXPECT_EQ(OneError("[]"),
            "conf/policy.json:1:1: a policy must be a JSON object with \"rules\", got an array");
  EXPECT_EQ(OneError("{}"), "conf/policy.json:1:1: missing required key \"rules\"");
  EXPECT_EQ(OneError("{\"rules\": {}}"),
            "conf/policy.json:1:11: /rules: expected an array of rules, got an object");
  std::vector<std::string> errors = Errors("{\"rule\": []}");
  ASSERT_EQ(errors.size(), 2u) << Joined(errors);
  EXPECT_EQ(errors[0], "conf/policy.json:1:1: missing required key \"rules\"");
  EXPECT_EQ(errors[1],
            "conf/policy.json:1:2: /rule: unknown key \"rule\"; did you mean \"rules\"?");
}

TEST(PolicyLoader, RuleShape) {
  EXPECT_EQ(RuleError("42"),
            "conf/policy.json:2:3: /rules/0: expected an object (a rule with \"name\", \"match\" "
            "and \"grant\"), got a number (42)");
  std::vector<std::string> errors = Errors("{\"rules\": [\n  {}\n]}");
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "conf/policy.json:2:3: /rules/0: missing required key \"name\"",
                        "conf/policy.json:2:3: /rules/0: missing required key \"match\"",
                        "conf/policy.json:2:3: /rules/0: missing required key \"grant\""}));
  errors =
      Errors("{\"rules\": [\n  {\"name\": \"r\", \"match\": {\"cn\": \"a\"}, \"grants\": {}}\n]}");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[1],
            "conf/policy.json:2:39: /rules/0/grants: unknown key \"grants\"; did you mean "
            "\"grant\"?");
  EXPECT_EQ(RuleError(R"({"name": "r", "description": 1, "match": {"cn": "a"}, "grant": {}})"),
            "conf/policy.json:2:32: /rules/0/description: expected a string, got a number (1)");
}

TEST(PolicyLoader, RuleNames) {
  EXPECT_EQ(RuleError(R"({"name": 7, "match": {"cn": "a"}, "grant": {}})"),
            "conf/policy.json:2:12: /rules/0/name: expected a string, got a number (7)");
  EXPECT_EQ(RuleError(R"({"name": "", "match": {"cn": "a"}, "grant": {}})"),
            "conf/policy.json:2:12: /rules/0/name: must not be empty: decisions and the audit "
            "log name the rule");
  EXPECT_EQ(RuleError(R"({"name": "a\tb", "match": {"cn": "a"}, "grant": {}})"),
            "conf/policy.json:2:12: /rules/0/name: must not contain control characters");
  EXPECT_EQ(RuleError(R"({"name": "a\u007f", "match": {"cn": "a"}, "grant": {}})"),
            "conf/policy.json:2:12: /rules/0/name: must not contain control characters");
  EXPECT_EQ(OneError("{\"rules\": [\n  " + std::string(kOk) + ",\n  " + std::string(kOk) + "\n]}"),
            "conf/policy.json:3:12: /rules/1/name: duplicate rule name \"r\" (first at 2:12): "
            "decisions name their rule, so names must be unique");
}

TEST(PolicyLoader, Matchers) {
  EXPECT_EQ(RuleError(R"({"name": "r", "match": "cn=a", "grant": {}})"),
            "conf/policy.json:2:26: /rules/0/match: expected an array of matchers (objects such "
            "as {\"cn\": \"agent-*\"}), got a string");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": [], "grant": {}})"),
            "conf/policy.json:2:26: /rules/0/match: needs at least one matcher: with none the "
            "rule matches nobody");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": [{"cn": "a"}, []], "grant": {}})"),
            "conf/policy.json:2:40: /rules/0/match/1: expected an object such as {\"cn\": "
            "\"agent-*\"}, got an array");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": [{}], "grant": {}})"),
            "conf/policy.json:2:27: /rules/0/match/0: an empty matcher is refused because it "
            "would match every certificate; to mean that, write {\"fingerprint_sha256\": \"*\"}");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {}, "grant": {}})"),
            "conf/policy.json:2:26: /rules/0/match: an empty matcher is refused because it "
            "would match every certificate; to mean that, write {\"fingerprint_sha256\": \"*\"}");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"spifee_id": "x"}, "grant": {}})"),
            "conf/policy.json:2:27: /rules/0/match/spifee_id: unknown matcher key \"spifee_id\"; "
            "did you mean \"spiffe_id\"?");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"ip": "x"}, "grant": {}})"),
            "conf/policy.json:2:27: /rules/0/match/ip: unknown matcher key \"ip\"");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"cn": ["a"]}, "grant": {}})"),
            "conf/policy.json:2:33: /rules/0/match/cn: expected a string (an exact value or a "
            "glob), got an array");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"cn": ""}, "grant": {}})"),
            "conf/policy.json:2:33: /rules/0/match/cn: must not be empty");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"cn": "a\\"}, "grant": {}})"),
            "conf/policy.json:2:33: /rules/0/match/cn: invalid pattern \"a\\\\\": ends with an "
            "unfinished escape '\\' (write \"\\\\\" for a backslash)");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"cn": "a\u0000"}, "grant": {}})"),
            "conf/policy.json:2:33: /rules/0/match/cn: invalid pattern \"a\\x00\": contains a "
            "NUL character");
}

TEST(PolicyLoader, Fingerprints) {
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"fingerprint_sha256": "abc"}, "grant": {}})"),
            "conf/policy.json:2:49: /rules/0/match/fingerprint_sha256: a SHA-256 fingerprint has "
            "64 hex digits, this one has 3");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"spki_sha256": "xyz*"}, "grant": {}})"),
            "conf/policy.json:2:42: /rules/0/match/spki_sha256: expected a SHA-256 fingerprint "
            "(64 hex digits, colons allowed) or a glob of one, got \"xyz*\"");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"spki_sha256": ""}, "grant": {}})"),
            "conf/policy.json:2:42: /rules/0/match/spki_sha256: must not be empty");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"spki_sha256": 1}, "grant": {}})"),
            "conf/policy.json:2:42: /rules/0/match/spki_sha256: expected a string (64 hex "
            "digits, or a glob of them), got a number (1)");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"spki_sha256": "::"}, "grant": {}})"),
            "conf/policy.json:2:42: /rules/0/match/spki_sha256: a SHA-256 fingerprint has 64 hex "
            "digits, this one has 0");
}

TEST(PolicyLoader, Grants) {
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"cn": "a"}, "grant": ["files"]})"),
            "conf/policy.json:2:48: /rules/0/grant: expected an object mapping upstream names "
            "(or \"*\") to what they allow, got an array");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"cn": "a"}, "grant": {"biling": {}}})"),
            "conf/policy.json:2:49: /rules/0/grant/biling: unknown upstream \"biling\"; did you "
            "mean \"billing\"?");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"cn": "a"}, "grant": {"zzz": {}}})"),
            "conf/policy.json:2:49: /rules/0/grant/zzz: unknown upstream \"zzz\"");
  std::vector<std::string> none =
      Errors(R"({"rules": [{"name": "r", "match": {"cn": "a"}, "grant": {"files": {}}}]})", {});
  EXPECT_EQ(none, (std::vector<std::string>{
                      "conf/policy.json:1:58: /rules/0/grant/files: unknown upstream \"files\" "
                      "(the configuration defines no upstreams)"}));
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"cn": "a"}, "grant": {"files": true}})"),
            "conf/policy.json:2:58: /rules/0/grant/files: expected an object such as "
            "{\"tools\": [\"echo\"]}, got a boolean");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"cn": "a"}, "grant": {"files": {"tols": []}}})"),
            "conf/policy.json:2:59: /rules/0/grant/files/tols: unknown key \"tols\"; did you "
            "mean \"tools\"?");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"cn": "a"}, "grant": {"*": {"tools": "echo"}}})"),
            "conf/policy.json:2:64: /rules/0/grant/*/tools: expected an array of names or globs, "
            "got a string");
  EXPECT_EQ(RuleError(R"({"name": "r", "match": {"cn": "a"}, "grant": {"*": {"tools": [1]}}})"),
            "conf/policy.json:2:65: /rules/0/grant/*/tools/0: expected a string (an exact value "
            "or a glob), got a number (1)");
  EXPECT_EQ(
      RuleError(R"({"name": "r", "match": {"cn": "a"}, "grant": {"*": {"prompts": ["a", ""]}}})"),
      "conf/policy.json:2:72: /rules/0/grant/*/prompts/1: must not be empty");
  EXPECT_EQ(
      RuleError(R"({"name": "r", "match": {"cn": "a"}, "grant": {"*": {"methods": ["x\\"]}}})"),
      "conf/policy.json:2:67: /rules/0/grant/*/methods/0: invalid pattern \"x\\\\\": ends "
      "with an unfinished escape '\\' (write \"\\\\\" for a backslash)");
}

TEST(PolicyLoader, RateLimits) {
  auto rule = [](const std::string& limit) {
    return RuleError(R"({"name": "r", "match": {"cn": "a"}, "grant": {}, "rate_limit": )" + limit +
                     "}");
  };
  // The rate_limit value starts at column 66 of line 2.
  EXPECT_EQ(rule("10"),
            "conf/policy.json:2:66: /rules/0/rate_limit: expected an object such as "
            "{\"requests_per_second\": 10, \"burst\": 20}, got a number (10)");
  EXPECT_EQ(rule("{}"),
            "conf/policy.json:2:66: /rules/0/rate_limit: missing required key "
            "\"requests_per_second\"");
  EXPECT_EQ(rule(R"({"requests_per_second": 0})"),
            "conf/policy.json:2:90: /rules/0/rate_limit/requests_per_second: must be a number "
            "greater than 0 up to 1e9, got 0");
  EXPECT_EQ(rule(R"({"requests_per_second": -1})"),
            "conf/policy.json:2:90: /rules/0/rate_limit/requests_per_second: must be a number "
            "greater than 0 up to 1e9, got -1");
  EXPECT_EQ(rule(R"({"requests_per_second": "10"})"),
            "conf/policy.json:2:90: /rules/0/rate_limit/requests_per_second: expected a number, "
            "got a string");
  EXPECT_EQ(rule(R"({"requests_per_second": 1, "burst": 0.5})"),
            "conf/policy.json:2:102: /rules/0/rate_limit/burst: must be a number from 1 up to "
            "1e9, got 0.5");
  EXPECT_EQ(rule(R"({"requests_per_second": 1, "burst": 1e10})"),
            "conf/policy.json:2:102: /rules/0/rate_limit/burst: must be a number from 1 up to "
            "1e9, got 1e10");
  EXPECT_EQ(rule(R"({"requests_per_second": 1, "bursts": 2})"),
            "conf/policy.json:2:93: /rules/0/rate_limit/bursts: unknown key \"bursts\"; did you "
            "mean \"burst\"?");
}

// One file with many mistakes: every one is reported, in file order, each at its place.
TEST(PolicyLoader, ReportsEveryErrorAtOnceInFileOrder) {
  const char* text = R"({
  "rules": [
    {
      "name": "ci",
      "match": [{"cn": "agent-*", "isuer": "CN=x"}, {}],
      "grant": {"everything": {"tols": ["echo"]}, "biling": {}},
    },
    {"name": "ci", "match": [], "grant": {"*": {"tools": [""]}}},
    {"name": "ok", "match": {"cn": "b"}, "grant": {"files": {}},
     "rate_limit": {"requests_per_second": 0}},
  ],
  "extra": 1,
})";
  std::vector<std::string> errors = Errors(text);
  EXPECT_EQ(errors,
            (std::vector<std::string>{
                "conf/policy.json:5:35: /rules/0/match/0/isuer: unknown matcher key \"isuer\"; "
                "did you mean \"issuer\"?",
                "conf/policy.json:5:53: /rules/0/match/1: an empty matcher is refused because "
                "it would match every certificate; to mean that, write "
                "{\"fingerprint_sha256\": \"*\"}",
                "conf/policy.json:6:32: /rules/0/grant/everything/tols: unknown key \"tols\"; "
                "did you mean \"tools\"?",
                "conf/policy.json:6:51: /rules/0/grant/biling: unknown upstream \"biling\"; did "
                "you mean \"billing\"?",
                "conf/policy.json:8:14: /rules/1/name: duplicate rule name \"ci\" (first at "
                "4:15): decisions name their rule, so names must be unique",
                "conf/policy.json:8:29: /rules/1/match: needs at least one matcher: with none "
                "the rule matches nobody",
                "conf/policy.json:8:59: /rules/1/grant/*/tools/0: must not be empty",
                "conf/policy.json:10:44: /rules/2/rate_limit/requests_per_second: must be a "
                "number greater than 0 up to 1e9, got 0",
                "conf/policy.json:12:3: /extra: unknown key \"extra\"",
            }))
      << Joined(errors);
}

TEST(PolicyLoader, Warnings) {
  EXPECT_EQ(Warnings(R"({"rules": []})"),
            (std::vector<std::string>{"p.json:1:11: /rules: no rules: every request is denied"}));
  EXPECT_EQ(Warnings(R"({"rules": [{"name": "r", "match": {"cn": "a"}, "grant": {}}]})"),
            (std::vector<std::string>{
                "p.json:1:57: /rules/0/grant: grants no upstream: this rule allows nothing"}));
  std::vector<std::string> warnings = Warnings(R"({"rules": [{"name": "r", "match": {"cn": "a"},
    "grant": {"*": {"methods": ["tools/list", "tools/call", "x/*", "tasks/get"],
                    "deny_methods": ["initialize", "ping"]}}}]})");
  EXPECT_EQ(warnings,
            (std::vector<std::string>{
                "p.json:2:33: /rules/0/grant/*/methods/0: \"tools/list\" is housekeeping, "
                "allowed on every granted upstream; listing it has no effect",
                "p.json:2:47: /rules/0/grant/*/methods/1: \"tools/call\" is decided by the "
                "tools, prompts and resources lists; listing it here has no effect",
                "p.json:3:38: /rules/0/grant/*/deny_methods/0: \"initialize\" cannot be denied; "
                "to keep this identity off the upstream, do not grant the upstream",
            }));
}

TEST(PolicyLoader, WarnsWhenADenyOnlyGrantOpensEveryUpstream) {
  EXPECT_EQ(Warnings(R"({"rules": [{"name": "r", "match": {"cn": "a"},
    "grant": {"*": {"deny_tools": ["x"]}, "files": {"deny_tools": ["y"]}}}]})"),
            (std::vector<std::string>{
                "p.json:2:15: /rules/0/grant/*: this grant only denies, yet it opens every "
                "upstream's housekeeping (initialize, ping, the lists) to the identities the "
                "rule matches; name the upstreams instead of \"*\" unless that is meant"}));
  EXPECT_TRUE(Warnings(R"({"rules": [{"name": "r", "match": {"cn": "a"},
    "grant": {"*": {"deny_tools": ["x"], "prompts": []}}}]})")
                  .empty());
}

TEST(PolicyErrorFormat, MatchesTheConfigLoader) {
  EXPECT_EQ((PolicyError{"p.json", 3, 7, "/rules/0", "boom"}).ToString(),
            "p.json:3:7: /rules/0: boom");
  EXPECT_EQ((PolicyError{"p.json", 3, 7, "", "boom"}).ToString(), "p.json:3:7: boom");
  EXPECT_EQ((PolicyError{"p.json", 0, 0, "", "cannot open"}).ToString(), "p.json: cannot open");
}

TEST(PolicyLoader, DeepNestingIsAnErrorNotACrash) {
  std::string deep = "{\"rules\": " + std::string(100, '[') + std::string(100, ']') + "}";
  std::vector<std::string> errors = Errors(deep);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("conf/policy.json:1:"), std::string::npos);
}

}  // namespace
}  // namespace portcullis::policy
