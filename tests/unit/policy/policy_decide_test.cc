// Decide: the decision procedure of docs/POLICY.md, step by step, with identities built in
// memory (no certificates, files or sockets).

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "portcullis/policy.h"

namespace portcullis::policy {
namespace {

const std::vector<std::string> kUpstreams = {"everything", "files", "billing"};

std::shared_ptr<const Policy> Load(const std::string& text) {
  PolicyLoad load = ParsePolicy("policy.json", text, kUpstreams);
  std::string errors;
  for (const PolicyError& error : load.errors) {
    errors += error.ToString() + "\n";
  }
  EXPECT_TRUE(load.ok()) << errors;
  return load.policy;
}

Identity WithCn(const std::string& cn) {
  Identity id;
  id.cn = cn;
  id.subject = "CN=" + cn + ",O=Example";
  id.issuer = "CN=Team CA,O=Example";
  id.cert_sha256 = std::string(64, 'a');
  id.spki_sha256 = std::string(64, 'b');
  return id;
}

Identity WithSpiffe(const std::string& spiffe_id) {
  Identity id;
  id.spiffe_id = spiffe_id;
  id.uri_sans = {spiffe_id};
  id.issuer = "O=SPIRE";
  id.cert_sha256 = std::string(64, 'c');
  id.spki_sha256 = std::string(64, 'd');
  return id;
}

Action Tool(std::string_view upstream, std::string_view name) {
  return Action{upstream, "tools/call", Action::Object::kTool, name};
}
Action Prompt(std::string_view upstream, std::string_view name) {
  return Action{upstream, "prompts/get", Action::Object::kPrompt, name};
}
Action Resource(std::string_view upstream, std::string_view uri,
                std::string_view method = "resources/read") {
  return Action{upstream, method, Action::Object::kResource, uri};
}
Action Method(std::string_view upstream, std::string_view method) {
  return Action{upstream, method};
}
Action ServerRequest(std::string_view upstream, std::string_view method) {
  Action action{upstream, method};
  action.server_request = true;
  return action;
}

// A one-rule policy granting "everything" (tools echo) to identities matched by `matcher`.
std::string OneRule(const std::string& matcher) {
  return R"({"rules": [{"name": "r", "match": [)" + matcher +
         R"(], "grant": {"everything": {"tools": ["echo"]}}}]})";
}

bool Allows(const std::string& matcher, const Identity& identity) {
  return Load(OneRule(matcher))->Decide(identity, Tool("everything", "echo")).allowed;
}

// --- Default deny ------------------------------------------------------------------------

TEST(PolicyDecide, EmptyPolicyDeniesEverything) {
  auto policy = Load(R"({"rules": []})");
  EXPECT_EQ(policy->rule_count(), 0u);
  Identity id = WithCn("agent-1");
  for (const Action& action :
       {Tool("everything", "echo"), Method("everything", "initialize"), Method("everything", ""),
        Method("everything", "tools/list"), ServerRequest("everything", "ping"),
        Resource("files", "file:///a")}) {
    Decision decision = policy->Decide(id, action);
    EXPECT_FALSE(decision.allowed);
    EXPECT_EQ(decision.rule, "");
    EXPECT_EQ(decision.rate_limit, nullptr);
  }
  EXPECT_EQ(policy->Decide(id, Tool("billing", "x")).reason,
            "no rule grants upstream \"billing\" to this identity (default deny)");
  EXPECT_FALSE(policy->GrantFor(id, "everything").granted());
}

TEST(PolicyDecide, DenyAllPolicyDeniesEverything) {
  auto policy = DenyAllPolicy();
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->rule_count(), 0u);
  Decision decision = policy->Decide(WithCn("root"), Method("everything", "initialize"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.reason,
            "no rule grants upstream \"everything\" to this identity (default deny)");
  EXPECT_FALSE(policy->GrantFor(WithCn("root"), "everything").AllowsTool("echo"));
  EXPECT_TRUE(policy->Explain(WithCn("root"), Tool("everything", "echo")).rules.empty());
}

TEST(PolicyDecide, UnmatchedIdentityIsDeniedEvenHousekeeping) {
  auto policy = Load(OneRule(R"({"cn": "agent-*"})"));
  Decision decision = policy->Decide(WithCn("bob"), Method("everything", "initialize"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.rule, "");
}

TEST(PolicyDecide, UngrantedUpstreamIsDenied) {
  auto policy = Load(OneRule(R"({"cn": "agent-*"})"));
  Decision decision = policy->Decide(WithCn("agent-1"), Method("billing", "ping"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.reason, "no rule grants upstream \"billing\" to this identity (default deny)");
  // An upstream the policy has never heard of, too.
  EXPECT_FALSE(policy->Decide(WithCn("agent-1"), Tool("nope", "echo")).allowed);
}

// --- Matcher keys ------------------------------------------------------------------------

TEST(PolicyDecide, MatchesCn) {
  EXPECT_TRUE(Allows(R"({"cn": "agent-1"})", WithCn("agent-1")));
  EXPECT_TRUE(Allows(R"({"cn": "agent-*"})", WithCn("agent-7")));
  EXPECT_FALSE(Allows(R"({"cn": "agent-*"})", WithCn("Agent-7")));
  EXPECT_FALSE(Allows(R"({"cn": "agent-1"})", WithCn("agent-10")));
}

TEST(PolicyDecide, MatchesSpiffeId) {
  const std::string id = "spiffe://example.org/ns/ci/sa/builder";
  EXPECT_TRUE(Allows(R"({"spiffe_id": "spiffe://example.org/ns/ci/sa/builder"})", WithSpiffe(id)));
  EXPECT_TRUE(Allows(R"({"spiffe_id": "spiffe://example.org/ns/ci/sa/*"})", WithSpiffe(id)));
  EXPECT_FALSE(Allows(R"({"spiffe_id": "spiffe://example.org/ns/ci/*"})", WithSpiffe(id)));
  EXPECT_TRUE(Allows(R"({"spiffe_id": "spiffe://example.org/ns/ci/**"})", WithSpiffe(id)));
  EXPECT_FALSE(Allows(R"({"spiffe_id": "spiffe://EXAMPLE.org/ns/ci/**"})", WithSpiffe(id)));
  // A certificate with URI SANs but no SPIFFE ID.
  Identity plain = WithCn("x");
  plain.uri_sans = {"spiffe-like://example.org/ns/ci/sa/builder"};
  EXPECT_FALSE(Allows(R"({"spiffe_id": "**"})", plain));
}

TEST(PolicyDecide, MatchesAnyUriSan) {
  Identity id = WithCn("x");
  id.uri_sans = {"https://a.example/x", "urn:example:team:blue"};
  EXPECT_TRUE(Allows(R"({"uri_san": "urn:example:team:blue"})", id));
  EXPECT_TRUE(Allows(R"({"uri_san": "https://a.example/*"})", id));
  EXPECT_TRUE(Allows(R"({"uri_san": "urn:example:team:*"})", id));
  EXPECT_FALSE(Allows(R"({"uri_san": "urn:example:team:red"})", id));
  // The SPIFFE ID is a URI SAN as well.
  EXPECT_TRUE(Allows(R"({"uri_san": "spiffe://example.org/**"})",
                     WithSpiffe("spiffe://example.org/ns/a/sa/b")));
}

TEST(PolicyDecide, MatchesAnyDnsSanIgnoringCase) {
  Identity id = WithCn("x");
  id.dns_sans = {"build-1.ci.example.com", "Runner.Example.COM"};
  EXPECT_TRUE(Allows(R"({"dns_san": "*.ci.example.com"})", id));
  EXPECT_TRUE(Allows(R"({"dns_san": "runner.example.com"})", id));
  EXPECT_TRUE(Allows(R"({"dns_san": "RUNNER.example.com"})", id));
  EXPECT_TRUE(Allows(R"({"dns_san": "Runner.*"})", id));
  EXPECT_FALSE(Allows(R"({"dns_san": "*.example.com"})", WithCn("x")));
  EXPECT_FALSE(Allows(R"({"dns_san": "example.com"})", id));
}

TEST(PolicyDecide, MatchesAnyEmailSanIgnoringCase) {
  Identity id = WithCn("x");
  id.email_sans = {"Alice@Example.com"};
  EXPECT_TRUE(Allows(R"({"email_san": "alice@example.com"})", id));
  EXPECT_TRUE(Allows(R"({"email_san": "*@EXAMPLE.COM"})", id));
  EXPECT_FALSE(Allows(R"({"email_san": "*@example.org"})", id));
}

TEST(PolicyDecide, MatchesIssuerAndSubject) {
  Identity id = WithCn("agent-1");
  EXPECT_TRUE(Allows(R"({"issuer": "CN=Team CA,O=Example"})", id));
  EXPECT_TRUE(Allows(R"({"issuer": "CN=Team CA*"})", id));
  EXPECT_FALSE(Allows(R"({"issuer": "CN=Other CA*"})", id));
  EXPECT_TRUE(Allows(R"({"subject": "CN=agent-1,O=Example"})", id));
  EXPECT_TRUE(Allows(R"({"subject": "*,O=Example"})", id));
  EXPECT_FALSE(Allows(R"({"subject": "cn=agent-1,o=example"})", id));
  // An RFC 4514 escape in the subject is a backslash: a glob escape, written twice in JSON.
  Identity smith = WithCn("Smith, John");
  smith.subject = "CN=Smith\\, John,O=Example";
  EXPECT_TRUE(Allows(R"({"subject": "CN=Smith\\\\, John,*"})", smith));
  EXPECT_FALSE(Allows(R"({"subject": "CN=Smith\\, John,*"})", smith));
}

TEST(PolicyDecide, MatchesFingerprintsInAnyCaseAndWithColons) {
  const std::string lower = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  const std::string upper = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF";
  const std::string spki = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
  auto key = [](const char* name, const std::string& value) {
    return std::string("{\"") + name + "\": \"" + value + "\"}";
  };
  Identity id = WithCn("x");
  id.cert_sha256 = lower;
  id.spki_sha256 = spki;
  EXPECT_TRUE(Allows(key("fingerprint_sha256", upper), id));
  EXPECT_TRUE(Allows(key("fingerprint_sha256",
                         "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                         "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"),
                     id));
  EXPECT_TRUE(Allows(key("fingerprint_sha256", "0011*"), id));
  EXPECT_FALSE(Allows(key("fingerprint_sha256", "0012*"), id));
  EXPECT_TRUE(Allows(key("spki_sha256", "FFEEDDCCBBAA99887766554433221100" + spki.substr(32)), id));
  EXPECT_FALSE(Allows(key("spki_sha256", lower), id));
  // An identity whose fingerprint arrives in upper case still matches.
  Identity shouting = id;
  shouting.cert_sha256 = upper;
  EXPECT_TRUE(Allows(key("fingerprint_sha256", lower), shouting));
  EXPECT_TRUE(Allows(key("fingerprint_sha256", "00112233*"), shouting));
}

TEST(PolicyDecide, AFieldTheCertificateLacksMatchesNothing) {
  Identity bare;
  bare.cert_sha256 = std::string(64, 'e');
  EXPECT_FALSE(Allows(R"({"cn": "**"})", bare));
  EXPECT_FALSE(Allows(R"({"spiffe_id": "**"})", bare));
  EXPECT_FALSE(Allows(R"({"uri_san": "**"})", bare));
  EXPECT_FALSE(Allows(R"({"dns_san": "**"})", bare));
  EXPECT_FALSE(Allows(R"({"email_san": "**"})", bare));
  EXPECT_FALSE(Allows(R"({"issuer": "**"})", bare));
  EXPECT_FALSE(Allows(R"({"subject": "**"})", bare));
  EXPECT_FALSE(Allows(R"({"spki_sha256": "*"})", bare));
  // The documented way to match every certificate.
  EXPECT_TRUE(Allows(R"({"fingerprint_sha256": "*"})", bare));
  // An empty SAN in a list is skipped, not matched.
  bare.dns_sans = {""};
  EXPECT_FALSE(Allows(R"({"dns_san": "*"})", bare));
}

TEST(PolicyDecide, KeysInsideOneMatcherAreAnded) {
  const std::string matcher = R"({"cn": "agent-*", "issuer": "CN=Team CA*"})";
  EXPECT_TRUE(Allows(matcher, WithCn("agent-1")));
  Identity other_ca = WithCn("agent-1");
  other_ca.issuer = "CN=Rogue CA";
  EXPECT_FALSE(Allows(matcher, other_ca));
  EXPECT_FALSE(Allows(matcher, WithCn("bob")));
}

TEST(PolicyDecide, MatchersAreOred) {
  const std::string matchers =
      R"({"spiffe_id": "spiffe://example.org/ns/ci/sa/*"}, {"cn": "agent-*"})";
  EXPECT_TRUE(Allows(matchers, WithCn("agent-1")));
  EXPECT_TRUE(Allows(matchers, WithSpiffe("spiffe://example.org/ns/ci/sa/x")));
  EXPECT_FALSE(Allows(matchers, WithSpiffe("spiffe://example.org/ns/prod/sa/x")));
}

TEST(PolicyDecide, ASingleMatcherObjectIsAccepted) {
  auto policy = Load(R"({"rules": [{"name": "r", "match": {"cn": "a"},
                                     "grant": {"everything": {"tools": ["*"]}}}]})");
  EXPECT_TRUE(policy->Decide(WithCn("a"), Tool("everything", "x")).allowed);
  EXPECT_FALSE(policy->Decide(WithCn("b"), Tool("everything", "x")).allowed);
}

// --- Tools, prompts, resources -----------------------------------------------------------

constexpr const char* kTwoRules = R"({"rules": [
  {"name": "ci", "match": [{"cn": "agent-*"}],
   "grant": {"everything": {"tools": ["echo", "get-*", "delete-*"], "deny_tools": ["delete-all"],
                            "prompts": ["*"], "resources": ["file:///public/**"]}}},
  {"name": "safety", "match": [{"issuer": "CN=Team CA*"}],
   "grant": {"everything": {"deny_tools": ["delete-*"], "deny_prompts": ["secret-*"],
                            "deny_resources": ["file:///public/keys/**"]}}}
]})";

TEST(PolicyDecide, AllowedToolNamesItsRuleAndPattern) {
  auto policy = Load(kTwoRules);
  Decision decision = policy->Decide(WithCn("agent-1"), Tool("everything", "get-user"));
  EXPECT_TRUE(decision.allowed);
  EXPECT_EQ(decision.rule, "ci");
  EXPECT_EQ(decision.reason, "tool \"get-user\" matches tools \"get-*\" of rule \"ci\"");
}

TEST(PolicyDecide, ExplicitDenyBeatsAllowAcrossRules) {
  auto policy = Load(kTwoRules);
  Identity id = WithCn("agent-1");
  Decision decision = policy->Decide(id, Tool("everything", "delete-user"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.rule, "safety");
  EXPECT_EQ(decision.reason,
            "tool \"delete-user\" matches deny_tools \"delete-*\" of rule \"safety\"");
  // Both rules deny "delete-all": the first one in file order is named.
  EXPECT_EQ(policy->Decide(id, Tool("everything", "delete-all")).rule, "ci");
  decision = policy->Decide(id, Prompt("everything", "secret-plan"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.reason,
            "prompt \"secret-plan\" matches deny_prompts \"secret-*\" of rule \"safety\"");
  EXPECT_TRUE(policy->Decide(id, Prompt("everything", "summary")).allowed);
  decision = policy->Decide(id, Resource("everything", "file:///public/keys/id_rsa"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.rule, "safety");
  EXPECT_TRUE(policy->Decide(id, Resource("everything", "file:///public/readme")).allowed);
  // Without the second rule's issuer the deny does not apply.
  Identity other = id;
  other.issuer = "CN=Else";
  EXPECT_TRUE(policy->Decide(other, Tool("everything", "delete-user")).allowed);
}

TEST(PolicyDecide, UnlistedToolIsDeniedByDefault) {
  auto policy = Load(kTwoRules);
  Decision decision = policy->Decide(WithCn("agent-1"), Tool("everything", "rm"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.rule, "");
  EXPECT_EQ(decision.reason, "no rule allows tool \"rm\" on upstream \"everything\"");
  decision = policy->Decide(WithCn("agent-1"), Resource("everything", "file:///etc/passwd"));
  EXPECT_EQ(decision.reason,
            "no rule allows resource \"file:///etc/passwd\" on upstream \"everything\"");
}

TEST(PolicyDecide, GrantWithoutToolsAllowsNoTool) {
  auto policy = Load(R"({"rules": [
    {"name": "prompts-only", "match": [{"cn": "a"}], "grant": {"everything": {"prompts": ["*"]}}},
    {"name": "empty-tools", "match": [{"cn": "b"}], "grant": {"everything": {"tools": []}}},
    {"name": "bare", "match": [{"cn": "c"}], "grant": {"everything": {}}}
  ]})");
  for (const char* cn : {"a", "b", "c"}) {
    Identity id = WithCn(cn);
    EXPECT_FALSE(policy->Decide(id, Tool("everything", "echo")).allowed) << cn;
    EXPECT_FALSE(policy->Decide(id, Resource("everything", "file:///x")).allowed) << cn;
    EXPECT_FALSE(policy->Decide(id, Method("everything", "logging/setLevel")).allowed) << cn;
    // ... but the upstream is granted: housekeeping works.
    EXPECT_TRUE(policy->Decide(id, Method("everything", "tools/list")).allowed) << cn;
  }
  EXPECT_TRUE(policy->Decide(WithCn("a"), Prompt("everything", "p")).allowed);
  EXPECT_FALSE(policy->Decide(WithCn("b"), Prompt("everything", "p")).allowed);
}

TEST(PolicyDecide, ResourceMethodsShareTheResourceLists) {
  auto policy = Load(kTwoRules);
  Identity id = WithCn("agent-1");
  for (const char* method : {"resources/read", "resources/subscribe", "resources/unsubscribe"}) {
    EXPECT_TRUE(policy->Decide(id, Resource("everything", "file:///public/a", method)).allowed)
        << method;
    EXPECT_FALSE(policy->Decide(id, Resource("everything", "file:///private/a", method)).allowed)
        << method;
  }
}

TEST(PolicyDecide, CompletionIsDecidedByItsReference) {
  auto policy = Load(kTwoRules);
  Identity id = WithCn("agent-1");
  Action prompt_ref{"everything", "completion/complete", Action::Object::kPrompt, "summary"};
  EXPECT_TRUE(policy->Decide(id, prompt_ref).allowed);
  prompt_ref.name = "secret-x";
  EXPECT_FALSE(policy->Decide(id, prompt_ref).allowed);
  Action resource_ref{"everything", "completion/complete", Action::Object::kResource,
                      "file:///public/{path}"};
  EXPECT_TRUE(policy->Decide(id, resource_ref).allowed);
  resource_ref.name = "file:///private/{path}";
  Decision decision = policy->Decide(id, resource_ref);
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.reason,
            "no rule allows resource \"file:///private/{path}\" on upstream \"everything\"");
  // A completion whose reference the gateway could not name, or names as a tool: refused.
  for (Action::Object object : {Action::Object::kNone, Action::Object::kTool}) {
    Action odd{"everything", "completion/complete", object, "summary"};
    decision = policy->Decide(id, odd);
    EXPECT_FALSE(decision.allowed);
    EXPECT_EQ(decision.rule, "");
    EXPECT_EQ(decision.reason,
              "method \"completion/complete\" names no tool, prompt or resource that the policy "
              "can check");
  }
}

TEST(PolicyDecide, ObjectMethodWithTheWrongObjectIsRefused) {
  auto policy = Load(R"({"rules": [{"name": "all", "match": [{"cn": "a"}],
    "grant": {"*": {"tools": ["**"], "prompts": ["**"], "resources": ["**"]}}}]})");
  Identity id = WithCn("a");
  EXPECT_FALSE(policy->Decide(id, Method("everything", "tools/call")).allowed);
  EXPECT_FALSE(
      policy->Decide(id, Action{"everything", "prompts/get", Action::Object::kTool, "x"}).allowed);
  EXPECT_FALSE(
      policy->Decide(id, Action{"everything", "resources/read", Action::Object::kPrompt, "x"})
          .allowed);
  EXPECT_TRUE(policy->Decide(id, Tool("everything", "x")).allowed);
  EXPECT_TRUE(policy->Decide(id, Prompt("everything", "x")).allowed);
  EXPECT_TRUE(policy->Decide(id, Resource("everything", "x")).allowed);
  // "**" matches an empty name as well.
  EXPECT_TRUE(policy->Decide(id, Tool("everything", "")).allowed);
}

TEST(PolicyDecide, StarUpstreamGrantsEveryUpstream) {
  auto policy = Load(R"({"rules": [
    {"name": "all", "match": [{"cn": "ops"}], "grant": {"*": {"tools": ["status"]}}},
    {"name": "files", "match": [{"cn": "ops"}], "grant": {"files": {"tools": ["read"]},
                                                          "*": {"deny_tools": ["read"]}}}
  ]})");
  Identity id = WithCn("ops");
  for (const char* upstream : {"everything", "files", "billing", "unknown"}) {
    Decision decision = policy->Decide(id, Tool(upstream, "status"));
    EXPECT_TRUE(decision.allowed) << upstream;
    EXPECT_EQ(decision.rule, "all");
  }
  // The second rule grants "files" by name and every upstream through "*": both grants apply.
  Decision decision = policy->Decide(id, Tool("files", "read"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.reason, "tool \"read\" matches deny_tools \"read\" of rule \"files\"");
  EXPECT_EQ(policy->Decide(id, Method("billing", "ping")).rule, "all");
}

TEST(PolicyDecide, FirstAllowingRuleInFileOrderIsNamed) {
  auto policy = Load(R"({"rules": [
    {"name": "one", "match": [{"cn": "x"}], "grant": {"files": {"tools": ["a"]}}},
    {"name": "two", "match": [{"cn": "x"}], "grant": {"everything": {"tools": ["*"]}}},
    {"name": "three", "match": [{"cn": "*"}], "grant": {"everything": {"tools": ["b*"]}}}
  ]})");
  Identity id = WithCn("x");
  EXPECT_EQ(policy->Decide(id, Tool("everything", "b1")).rule, "two");
  EXPECT_EQ(policy->Decide(WithCn("y"), Tool("everything", "b1")).rule, "three");
  EXPECT_FALSE(policy->Decide(WithCn("y"), Tool("everything", "c")).allowed);
  // Housekeeping names the first rule that grants the upstream.
  EXPECT_EQ(policy->Decide(id, Method("everything", "tools/list")).rule, "two");
  EXPECT_EQ(policy->Decide(id, Method("files", "tools/list")).rule, "one");
}

// --- Housekeeping and methods ------------------------------------------------------------

TEST(PolicyDecide, HousekeepingIsAllowedOnAnyGrantedUpstream) {
  auto policy = Load(R"({"rules": [{"name": "r", "match": [{"cn": "a"}],
                                     "grant": {"files": {}}}]})");
  Identity id = WithCn("a");
  for (const char* method :
       {"initialize", "ping", "notifications/initialized", "notifications/cancelled",
        "notifications/roots/list_changed", "server/discover", "tools/list", "prompts/list",
        "resources/list", "resources/templates/list", "subscriptions/listen", ""}) {
    EXPECT_TRUE(IsHousekeeping(method)) << method;
    Decision decision = policy->Decide(id, Method("files", method));
    EXPECT_TRUE(decision.allowed) << method;
    EXPECT_EQ(decision.rule, "r");
    EXPECT_FALSE(policy->Decide(id, Method("everything", method)).allowed) << method;
  }
  EXPECT_EQ(policy->Decide(id, Method("files", "ping")).reason,
            "\"ping\" is housekeeping, allowed on any granted upstream (rule \"r\" grants "
            "\"files\")");
  EXPECT_EQ(policy->Decide(id, Method("files", "tools/list")).reason,
            "\"tools/list\" is housekeeping, allowed on any granted upstream (rule \"r\" grants "
            "\"files\"); the result lists only what the identity may use");
  EXPECT_EQ(policy->Decide(id, Method("files", "")).reason,
            "a response is housekeeping, allowed on any granted upstream (rule \"r\" grants "
            "\"files\")");
  for (const char* method : {"notifications", "tools/listx", "initialized", "logging/setLevel"}) {
    EXPECT_FALSE(IsHousekeeping(method)) << method;
    EXPECT_FALSE(policy->Decide(id, Method("files", method)).allowed) << method;
  }
}

TEST(PolicyDecide, MethodsAndDenyMethods) {
  auto policy = Load(R"({"rules": [
    {"name": "ops", "match": [{"cn": "a"}],
     "grant": {"everything": {"methods": ["logging/setLevel", "tasks/*"],
                              "tools": ["*"], "deny_methods": ["tasks/cancel"]}}},
    {"name": "lockdown", "match": [{"cn": "a"}],
     "grant": {"everything": {"deny_methods": ["tools/*", "initialize", "ping",
                                               "notifications/**", "**"]}}}
  ]})");
  Identity id = WithCn("a");
  Decision decision = policy->Decide(id, Method("everything", "tasks/get"));
  // "**" in the second rule denies every method except initialize (and responses).
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.rule, "lockdown");

  auto open = Load(R"({"rules": [
    {"name": "ops", "match": [{"cn": "a"}],
     "grant": {"everything": {"methods": ["logging/setLevel", "tasks/*"], "tools": ["*"],
                              "deny_methods": ["tasks/cancel", "tools/call"]}}}]})");
  decision = open->Decide(id, Method("everything", "tasks/get"));
  EXPECT_TRUE(decision.allowed);
  EXPECT_EQ(decision.reason, "method \"tasks/get\" matches methods \"tasks/*\" of rule \"ops\"");
  decision = open->Decide(id, Method("everything", "tasks/cancel"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.rule, "ops");
  EXPECT_EQ(decision.reason,
            "method \"tasks/cancel\" matches deny_methods \"tasks/cancel\" of rule \"ops\"");
  EXPECT_TRUE(open->Decide(id, Method("everything", "logging/setLevel")).allowed);
  decision = open->Decide(id, Method("everything", "sampling/other"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.reason, "no rule allows method \"sampling/other\" on upstream \"everything\"");
  // deny_methods beats "tools": ["*"]
  decision = open->Decide(id, Tool("everything", "echo"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.reason,
            "method \"tools/call\" matches deny_methods \"tools/call\" of rule \"ops\"");
}

TEST(PolicyDecide, InitializeAndResponsesCannotBeDenied) {
  auto policy = Load(R"({"rules": [{"name": "r", "match": [{"cn": "a"}],
    "grant": {"everything": {"deny_methods": ["**", "initialize"]}}}]})");
  Identity id = WithCn("a");
  EXPECT_TRUE(policy->Decide(id, Method("everything", "initialize")).allowed);
  EXPECT_TRUE(policy->Decide(id, Method("everything", "")).allowed);
  EXPECT_FALSE(policy->Decide(id, Method("everything", "ping")).allowed);
  EXPECT_FALSE(policy->Decide(id, Method("everything", "notifications/initialized")).allowed);
  EXPECT_FALSE(policy->Decide(id, Method("everything", "tools/list")).allowed);
}

TEST(PolicyDecide, ServerRequestsNeedServerRequests) {
  auto policy = Load(R"({"rules": [
    {"name": "agents", "match": [{"cn": "a*"}],
     "grant": {"everything": {"server_requests": ["sampling/createMessage", "roots/*"],
                              "methods": ["elicitation/create"]}}},
    {"name": "no-roots", "match": [{"cn": "a2"}],
     "grant": {"everything": {"deny_methods": ["roots/list"]}}}
  ]})");
  Identity id = WithCn("a1");
  Decision decision = policy->Decide(id, ServerRequest("everything", "sampling/createMessage"));
  EXPECT_TRUE(decision.allowed);
  EXPECT_EQ(decision.rule, "agents");
  EXPECT_EQ(decision.reason,
            "server request \"sampling/createMessage\" matches server_requests "
            "\"sampling/createMessage\" of rule \"agents\"");
  EXPECT_TRUE(policy->Decide(id, ServerRequest("everything", "roots/list")).allowed);
  // "methods" is for client requests only.
  decision = policy->Decide(id, ServerRequest("everything", "elicitation/create"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.rule, "");
  EXPECT_EQ(decision.reason,
            "no rule allows server request \"elicitation/create\" on upstream \"everything\"");
  // The server may always ping.
  decision = policy->Decide(id, ServerRequest("everything", "ping"));
  EXPECT_TRUE(decision.allowed);
  EXPECT_EQ(decision.rule, "agents");
  // deny_methods applies to server requests too.
  decision = policy->Decide(WithCn("a2"), ServerRequest("everything", "roots/list"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.rule, "no-roots");
  // No grant, no server requests.
  EXPECT_FALSE(policy->Decide(id, ServerRequest("files", "sampling/createMessage")).allowed);
  EXPECT_FALSE(policy->Decide(WithCn("b"), ServerRequest("everything", "ping")).allowed);
}

// --- Rate limits -------------------------------------------------------------------------

TEST(PolicyDecide, RateLimitComesFromTheAllowingRule) {
  auto policy = Load(R"({"rules": [
    {"name": "limited", "match": [{"cn": "a"}], "grant": {"everything": {"tools": ["slow"]}},
     "rate_limit": {"requests_per_second": 2.5, "burst": 5}},
    {"name": "free", "match": [{"cn": "a"}], "grant": {"everything": {"tools": ["fast"]}}},
    {"name": "default-burst", "match": [{"cn": "b"}], "grant": {"everything": {"tools": ["*"]}},
     "rate_limit": {"requests_per_second": 0.5}},
    {"name": "big", "match": [{"cn": "c"}], "grant": {"everything": {"tools": ["*"]}},
     "rate_limit": {"requests_per_second": 40}}
  ]})");
  Identity id = WithCn("a");
  Decision decision = policy->Decide(id, Tool("everything", "slow"));
  ASSERT_NE(decision.rate_limit, nullptr);
  EXPECT_EQ(decision.rate_limit->requests_per_second, 2.5);
  EXPECT_EQ(decision.rate_limit->burst, 5);
  EXPECT_EQ(policy->Decide(id, Tool("everything", "fast")).rate_limit, nullptr);
  EXPECT_EQ(policy->Decide(id, Tool("everything", "other")).rate_limit, nullptr);
  // Housekeeping is counted against the first rule's limit.
  decision = policy->Decide(id, Method("everything", "tools/list"));
  ASSERT_NE(decision.rate_limit, nullptr);
  EXPECT_EQ(decision.rate_limit->requests_per_second, 2.5);
  decision = policy->Decide(WithCn("b"), Tool("everything", "x"));
  ASSERT_NE(decision.rate_limit, nullptr);
  EXPECT_EQ(decision.rate_limit->burst, 1);
  decision = policy->Decide(WithCn("c"), Tool("everything", "x"));
  ASSERT_NE(decision.rate_limit, nullptr);
  EXPECT_EQ(decision.rate_limit->burst, 40);
  // The pointer is stable: the same object for every decision of the same rule.
  EXPECT_EQ(policy->Decide(WithCn("c"), Tool("everything", "y")).rate_limit, decision.rate_limit);
}

// --- Odd input ---------------------------------------------------------------------------

TEST(PolicyDecide, ReasonsQuoteOddNamesSafely) {
  auto policy = Load(R"({"rules": [{"name": "r", "match": [{"cn": "a"}],
                                     "grant": {"everything": {"tools": ["ok"]}}}]})");
  Identity id = WithCn("a");
  Decision decision = policy->Decide(id, Tool("everything", "say \"hi\"\\\n\x01\x7f"));
  EXPECT_EQ(decision.reason,
            "no rule allows tool \"say \\\"hi\\\"\\\\\\x0a\\x01\\x7f\" on upstream "
            "\"everything\"");
  const std::string long_name(5000, 'x');
  decision = policy->Decide(id, Tool("everything", long_name));
  EXPECT_FALSE(decision.allowed);
  EXPECT_LT(decision.reason.size(), 300u);
  EXPECT_NE(decision.reason.find("... (5000 bytes)"), std::string::npos);
  // A NUL byte in a name never matches any pattern.
  auto all = Load(R"({"rules": [{"name": "r", "match": [{"cn": "a"}],
                                  "grant": {"everything": {"tools": ["**"]}}}]})");
  EXPECT_FALSE(all->Decide(id, Tool("everything", std::string("a\0b", 3))).allowed);
  EXPECT_TRUE(all->Decide(id, Tool("everything", std::string(1 << 20, 'y'))).allowed);
  // Nor a NUL byte in an identity value.
  Identity nul = WithCn(std::string("a\0", 2));
  EXPECT_FALSE(all->Decide(nul, Tool("everything", "x")).allowed);
}

TEST(PolicyDecide, EmptyIdentityMatchesNothingButTheEveryoneMatcher) {
  auto policy = Load(R"({"rules": [{"name": "r", "match": [{"cn": "**"}, {"subject": "**"}],
                                     "grant": {"everything": {"tools": ["**"]}}}]})");
  EXPECT_FALSE(policy->Decide(Identity{}, Tool("everything", "x")).allowed);
}

// --- The index agrees with testing every rule ---------------------------------------------

// Random policies mixing exact values, prefixed globs and unprefixed globs on every key, and
// random identities (some upper-cased where case does not matter): Decide, which uses the
// index, must agree with Explain, which tests every rule.
TEST(PolicyDecide, IndexAgreesWithTestingEveryRule) {
  std::mt19937 rng(7);
  const char* keys[] = {"cn",      "spiffe_id",          "uri_san",
                        "dns_san", "email_san",          "issuer",
                        "subject", "fingerprint_sha256", "spki_sha256"};
  auto value_for = [&](const std::string& key, int n) {
    if (key == "fingerprint_sha256" || key == "spki_sha256") {
      std::string hex = std::to_string(n % 7);
      return hex + std::string(63, "ab"[n % 2]);
    }
    if (key == "spiffe_id" || key == "uri_san") {
      return "spiffe://example.org/ns/n" + std::to_string(n % 5) + "/sa/s" + std::to_string(n % 3);
    }
    if (key == "dns_san") {
      return "h" + std::to_string(n % 5) + ".example.com";
    }
    if (key == "email_san") {
      return "u" + std::to_string(n % 4) + "@example.com";
    }
    return key + "-" + std::to_string(n % 6);
  };
  auto pattern_for = [&](const std::string& key, int n) {
    std::string value = value_for(key, n);
    switch (rng() % 5) {
      case 0:
        return value;  // exact
      case 1:
        return value.substr(0, value.size() / 2) + "*";  // a literal prefix
      case 2:
        return "*" + value.substr(value.size() / 2);  // a literal suffix
      case 3:
        return "*" + value.substr(2, 3) + "**";  // neither
      default:
        return value.substr(0, 3) + "**";
    }
  };
  for (int round = 0; round < 20; ++round) {
    std::string text = R"({"rules": [)";
    int rule_count = 1 + static_cast<int>(rng() % 40);
    for (int r = 0; r < rule_count; ++r) {
      text += r ? "," : "";
      text += R"({"name": "r)" + std::to_string(r) + R"(", "match": [)";
      int matchers = 1 + static_cast<int>(rng() % 3);
      for (int m = 0; m < matchers; ++m) {
        text += m ? ",{" : "{";
        int conditions = 1 + static_cast<int>(rng() % 2);
        std::vector<std::string> used;
        for (int c = 0; c < conditions; ++c) {
          std::string key = keys[rng() % 9];
          if (std::find(used.begin(), used.end(), key) != used.end()) {
            continue;
          }
          used.push_back(key);
          text += (used.size() > 1 ? ", \"" : "\"") + key + "\": \"" +
                  pattern_for(key, static_cast<int>(rng() % 12)) + "\"";
        }
        text += "}";
      }
      text += R"(], "grant": {")" + std::string(rng() % 2 ? "everything" : "*") +
              R"(": {"tools": ["t)" + std::to_string(rng() % 3) + R"("]}}})";
    }
    text += "]}";
    auto policy = Load(text);
    ASSERT_NE(policy, nullptr) << text;
    for (int i = 0; i < 100; ++i) {
      Identity id;
      int n = static_cast<int>(rng() % 12);
      id.cn = value_for("cn", n);
      id.spiffe_id = value_for("spiffe_id", static_cast<int>(rng() % 12));
      id.uri_sans = {id.spiffe_id, value_for("uri_san", static_cast<int>(rng() % 12))};
      id.dns_sans = {value_for("dns_san", static_cast<int>(rng() % 12))};
      id.email_sans = {value_for("email_san", static_cast<int>(rng() % 12))};
      id.issuer = value_for("issuer", static_cast<int>(rng() % 12));
      id.subject = value_for("subject", static_cast<int>(rng() % 12));
      id.cert_sha256 = value_for("fingerprint_sha256", static_cast<int>(rng() % 12));
      id.spki_sha256 = value_for("spki_sha256", static_cast<int>(rng() % 12));
      if (rng() % 3 == 0) {
        for (std::string* s : {&id.dns_sans[0], &id.email_sans[0], &id.cert_sha256}) {
          for (char& c : *s) {
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          }
        }
      }
      for (int t = 0; t < 3; ++t) {
        const std::string tool = "t" + std::to_string(t);  // Action holds a view of it
        Action action = Tool("everything", tool);
        Decision decided = policy->Decide(id, action);
        Explanation explained = policy->Explain(id, action);
        ASSERT_EQ(decided.allowed, explained.decision.allowed)
            << text << "\n"
            << explained.ToText() << "\n"
            << decided.reason << "\n"
            << id.cn << "|" << id.spiffe_id << "|" << id.uri_sans[1] << "|" << id.dns_sans[0] << "|"
            << id.email_sans[0] << "|" << id.issuer << "|" << id.subject << "|" << id.cert_sha256
            << "|" << id.spki_sha256;
        ASSERT_EQ(decided.rule, explained.decision.rule) << text;
        ASSERT_EQ(decided.reason, explained.decision.reason) << text;
      }
    }
  }
}

}  // namespace
}  // namespace portcullis::policy
