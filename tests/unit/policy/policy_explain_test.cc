// Explain: the decision plus, per rule, whether the identity matched, whether the rule grants
// the upstream, and the rule's own verdict.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "portcullis/policy.h"

namespace portcullis::policy {
namespace {

std::shared_ptr<const Policy> Load(const std::string& text) {
  PolicyLoad load = ParsePolicy("policy.json", text, {"everything", "files"});
  EXPECT_TRUE(load.ok());
  return load.policy;
}

constexpr const char* kPolicy = R"({"rules": [
  {"name": "ci-agents",
   "match": [{"spiffe_id": "spiffe://example.org/ns/ci/sa/*"},
             {"cn": "agent-*", "issuer": "CN=Team CA*"}],
   "grant": {"everything": {"tools": ["echo", "get-*"], "deny_tools": ["delete-*"]}}},
  {"name": "files-only", "match": [{"cn": "agent-*"}], "grant": {"files": {"tools": ["*"]}}},
  {"name": "sans", "match": [{"uri_san": "urn:team:*"}, {"dns_san": "*.ci.example.com"}],
   "grant": {"*": {"prompts": ["*"]}}},
  {"name": "deny-all-tools", "match": [{"cn": "agent-9"}],
   "grant": {"*": {"deny_tools": ["**"]}}},
  {"name": "nothing", "match": [{"cn": "agent-*"}], "grant": {}}
]})";

Identity Agent(const std::string& cn) {
  Identity id;
  id.cn = cn;
  id.issuer = "CN=Team CA,O=Example";
  id.uri_sans = {"https://x.example/a", "https://x.example/b"};
  id.cert_sha256 = std::string(64, 'a');
  return id;
}

TEST(PolicyExplain, NamesTheMatchingMatcherAndEachFailure) {
  auto policy = Load(kPolicy);
  Action action{"everything", "tools/call", Action::Object::kTool, "echo"};
  Explanation explanation = policy->Explain(Agent("agent-1"), action);
  EXPECT_TRUE(explanation.decision.allowed);
  EXPECT_EQ(explanation.decision.rule, "ci-agents");
  ASSERT_EQ(explanation.rules.size(), 5u);

  const RuleExplanation& ci = explanation.rules[0];
  EXPECT_EQ(ci.rule, "ci-agents");
  EXPECT_TRUE(ci.identity_matched);
  EXPECT_TRUE(ci.grants_upstream);
  EXPECT_EQ(ci.detail,
            "matcher 2: cn \"agent-1\" matches \"agent-*\", issuer \"CN=Team CA,O=Example\" "
            "matches \"CN=Team CA*\"; grants upstream \"everything\"");
  EXPECT_EQ(ci.verdict, "allows: tool \"echo\" matches tools \"echo\" of rule \"ci-agents\"");

  const RuleExplanation& files = explanation.rules[1];
  EXPECT_TRUE(files.identity_matched);
  EXPECT_FALSE(files.grants_upstream);
  EXPECT_EQ(files.detail,
            "matcher 1: cn \"agent-1\" matches \"agent-*\"; does not grant upstream "
            "\"everything\" (grants \"files\")");
  EXPECT_EQ(files.verdict, "");

  const RuleExplanation& sans = explanation.rules[2];
  EXPECT_FALSE(sans.identity_matched);
  EXPECT_TRUE(sans.grants_upstream);
  EXPECT_EQ(sans.detail,
            "matcher 1: no uri_san matches \"urn:team:*\" (the certificate has "
            "\"https://x.example/a\", \"https://x.example/b\"); matcher 2: the certificate has "
            "no dns_san (wanted \"*.ci.example.com\"); grants upstream \"everything\"");
  EXPECT_EQ(sans.verdict, "");

  const RuleExplanation& deny = explanation.rules[3];
  EXPECT_EQ(deny.detail,
            "matcher 1: cn \"agent-1\" does not match \"agent-9\"; grants upstream \"everything\"");

  const RuleExplanation& nothing = explanation.rules[4];
  EXPECT_TRUE(nothing.identity_matched);
  EXPECT_EQ(nothing.detail,
            "matcher 1: cn \"agent-1\" matches \"agent-*\"; does not grant upstream "
            "\"everything\" (grants nothing)");
}

TEST(PolicyExplain, FirstFailingKeyOfEachMatcher) {
  auto policy = Load(kPolicy);
  Identity bob = Agent("bob");
  bob.issuer = "CN=Other";
  Action action{"everything", "tools/call", Action::Object::kTool, "echo"};
  Explanation explanation = policy->Explain(bob, action);
  EXPECT_FALSE(explanation.decision.allowed);
  EXPECT_EQ(explanation.rules[0].detail,
            "matcher 1: the certificate has no spiffe_id (wanted "
            "\"spiffe://example.org/ns/ci/sa/*\"); matcher 2: cn \"bob\" does not match "
            "\"agent-*\"; grants upstream \"everything\"");
  Identity many = Agent("x");
  many.uri_sans = {"a:1", "a:2", "a:3", "a:4", "a:5", "a:6"};
  explanation = policy->Explain(many, action);
  EXPECT_EQ(explanation.rules[2].detail,
            "matcher 1: no uri_san matches \"urn:team:*\" (the certificate has \"a:1\", \"a:2\", "
            "\"a:3\", \"a:4\", \"a:5\", ...); matcher 2: the certificate has no dns_san (wanted "
            "\"*.ci.example.com\"); grants upstream \"everything\"");
}

TEST(PolicyExplain, EachRuleGivesItsOwnVerdict) {
  auto policy = Load(kPolicy);
  Action action{"everything", "tools/call", Action::Object::kTool, "get-x"};
  Explanation explanation = policy->Explain(Agent("agent-9"), action);
  EXPECT_FALSE(explanation.decision.allowed);
  EXPECT_EQ(explanation.decision.rule, "deny-all-tools");
  EXPECT_EQ(explanation.rules[0].verdict,
            "allows: tool \"get-x\" matches tools \"get-*\" of rule \"ci-agents\"");
  EXPECT_EQ(explanation.rules[3].verdict,
            "denies: tool \"get-x\" matches deny_tools \"**\" of rule \"deny-all-tools\"");
  // A rule that grants the upstream but has nothing to say about the tool.
  Identity both = Agent("agent-1");
  both.dns_sans = {"b1.ci.example.com"};
  explanation = policy->Explain(both, action);
  EXPECT_EQ(explanation.rules[2].verdict,
            "no opinion: no rule allows tool \"get-x\" on upstream \"everything\"");
  EXPECT_EQ(explanation.rules[2].detail,
            "matcher 2: dns_san \"b1.ci.example.com\" matches \"*.ci.example.com\"; grants "
            "upstream \"everything\"");
}

TEST(PolicyExplain, ToTextForTheCli) {
  auto policy = Load(kPolicy);
  Action action{"everything", "tools/call", Action::Object::kTool, "delete-db"};
  Explanation explanation = policy->Explain(Agent("agent-1"), action);
  EXPECT_EQ(explanation.ToText(),
            "decision: deny by rule \"ci-agents\": tool \"delete-db\" matches deny_tools "
            "\"delete-*\" of rule \"ci-agents\"\n"
            "rule \"ci-agents\": identity matched (matcher 2: cn \"agent-1\" matches \"agent-*\", "
            "issuer \"CN=Team CA,O=Example\" matches \"CN=Team CA*\"; grants upstream "
            "\"everything\")\n"
            "  denies: tool \"delete-db\" matches deny_tools \"delete-*\" of rule \"ci-agents\"\n"
            "rule \"files-only\": identity matched (matcher 1: cn \"agent-1\" matches "
            "\"agent-*\"; does not grant upstream \"everything\" (grants \"files\"))\n"
            "rule \"sans\": identity did not match (matcher 1: no uri_san matches \"urn:team:*\" "
            "(the certificate has \"https://x.example/a\", \"https://x.example/b\"); matcher 2: "
            "the certificate has no dns_san (wanted \"*.ci.example.com\"); grants upstream "
            "\"everything\")\n"
            "rule \"deny-all-tools\": identity did not match (matcher 1: cn \"agent-1\" does not "
            "match \"agent-9\"; grants upstream \"everything\")\n"
            "rule \"nothing\": identity matched (matcher 1: cn \"agent-1\" matches \"agent-*\"; "
            "does not grant upstream \"everything\" (grants nothing))\n");
  Explanation empty = DenyAllPolicy()->Explain(Agent("a"), action);
  EXPECT_EQ(empty.ToText(),
            "decision: deny (default): no rule grants upstream \"everything\" to this identity "
            "(default deny)\n"
            "the policy has no rules\n");
}

TEST(PolicyExplain, AgreesWithDecide) {
  auto policy = Load(kPolicy);
  for (const char* cn : {"agent-1", "agent-9", "bob"}) {
    for (const char* tool : {"echo", "get-a", "delete-a", "other"}) {
      for (const char* upstream : {"everything", "files"}) {
        Action action{upstream, "tools/call", Action::Object::kTool, tool};
        Decision decided = policy->Decide(Agent(cn), action);
        Decision explained = policy->Explain(Agent(cn), action).decision;
        EXPECT_EQ(decided.allowed, explained.allowed);
        EXPECT_EQ(decided.rule, explained.rule);
        EXPECT_EQ(decided.reason, explained.reason);
        EXPECT_EQ(decided.rate_limit, explained.rate_limit);
      }
    }
  }
}

}  // namespace
}  // namespace portcullis::policy
