// The policies users copy: the three examples of docs/POLICY.md, read from the page itself,
// and conf/policy.json, checked against the upstreams of conf/gateway.json.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "portcullis/located_json.h"
#include "portcullis/policy.h"

namespace portcullis::policy {
namespace {

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(PORTCULLIS_SOURCE_DIR) + "/" + relative, std::ios::binary);
  EXPECT_TRUE(in.good()) << relative;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Example {
  std::string text;
  std::vector<std::string> upstreams;
};

// The ```jsonc block after each "<!-- example: NAME (upstreams: a, b) -->" marker.
std::map<std::string, Example> DocExamples() {
  const std::string page = ReadSource("docs/POLICY.md");
  std::map<std::string, Example> out;
  const std::string marker = "<!-- example: ";
  for (size_t at = page.find(marker); at != std::string::npos; at = page.find(marker, at + 1)) {
    size_t name_end = page.find(" (upstreams: ", at);
    size_t list_end = page.find(") -->", name_end);
    std::string name = page.substr(at + marker.size(), name_end - at - marker.size());
    std::string list = page.substr(name_end + 13, list_end - name_end - 13);
    Example example;
    std::stringstream names(list);
    for (std::string upstream; std::getline(names, upstream, ',');) {
      example.upstreams.push_back(upstream.substr(upstream.find_first_not_of(' ')));
    }
    size_t open = page.find("```jsonc\n", list_end);
    size_t close = page.find("\n```", open + 9);
    example.text = page.substr(open + 9, close - open - 9);
    out[name] = example;
  }
  return out;
}

std::shared_ptr<const Policy> LoadExample(const std::string& name) {
  std::map<std::string, Example> examples = DocExamples();
  EXPECT_EQ(examples.count(name), 1u) << name;
  const Example& example = examples[name];
  PolicyLoad load = ParsePolicy("docs/POLICY.md#" + name, example.text, example.upstreams);
  std::string errors;
  for (const PolicyError& error : load.errors) {
    errors += error.ToString() + "\n";
  }
  EXPECT_TRUE(load.ok()) << errors;
  EXPECT_TRUE(load.warnings.empty()) << load.warnings.front();
  return load.policy;
}

bool Allowed(const std::shared_ptr<const Policy>& policy, const Identity& id,
             std::string_view upstream, std::string_view method,
             Action::Object object = Action::Object::kNone, std::string_view name = "") {
  return policy->Decide(id, Action{upstream, method, object, name}).allowed;
}

Identity Spiffe(const std::string& id) {
  Identity identity;
  identity.spiffe_id = id;
  identity.uri_sans = {id};
  identity.cert_sha256 = std::string(64, '1');
  return identity;
}

TEST(PolicyExamples, DocsHaveThreeExamples) { EXPECT_EQ(DocExamples().size(), 3u); }

TEST(PolicyExamples, KubernetesNamespaces) {
  auto policy = LoadExample("kubernetes");
  ASSERT_NE(policy, nullptr);
  using O = Action::Object;
  Identity payments = Spiffe("spiffe://prod.example.com/ns/payments/sa/agent");
  EXPECT_TRUE(Allowed(policy, payments, "billing", "tools/call", O::kTool, "invoice-create"));
  Decision decision =
      policy->Decide(payments, Action{"billing", "tools/call", O::kTool, "invoice-delete"});
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.rule, "payments");
  decision = policy->Decide(payments, Action{"billing", "tools/call", O::kTool, "invoice-list"});
  ASSERT_NE(decision.rate_limit, nullptr);
  EXPECT_EQ(decision.rate_limit->burst, 40);
  EXPECT_TRUE(Allowed(policy, payments, "billing", "resources/read", O::kResource,
                      "billing://invoices/2024/17"));
  EXPECT_TRUE(
      Allowed(policy, payments, "docs", "resources/read", O::kResource, "docs://public/faq"));
  EXPECT_FALSE(
      Allowed(policy, payments, "docs", "resources/read", O::kResource, "docs://internal/runbook"));

  Identity support = Spiffe("spiffe://prod.example.com/ns/support/sa/helpdesk");
  EXPECT_TRUE(Allowed(policy, support, "billing", "tools/call", O::kTool, "refund-lookup"));
  EXPECT_FALSE(Allowed(policy, support, "billing", "tools/call", O::kTool, "invoice-create"));
  EXPECT_TRUE(
      Allowed(policy, support, "docs", "resources/read", O::kResource, "docs://internal/runbook"));
  EXPECT_TRUE(Allowed(policy, support, "docs", "prompts/get", O::kPrompt, "summarize"));

  Identity dev = Spiffe("spiffe://prod.example.com/ns/dev/sa/x");
  EXPECT_TRUE(Allowed(policy, dev, "docs", "resources/read", O::kResource, "docs://public/a"));
  EXPECT_FALSE(Allowed(policy, dev, "billing", "initialize"));
  // Look-alikes: another namespace, extra segments, another trust domain.
  for (const char* id : {"spiffe://prod.example.com/ns/payments-evil/sa/agent",
                         "spiffe://prod.example.com/ns/payments/sa/agent/x",
                         "spiffe://dev.example.com/ns/payments/sa/agent"}) {
    EXPECT_FALSE(Allowed(policy, Spiffe(id), "billing", "tools/call", O::kTool, "invoice-create"))
        << id;
  }
  EXPECT_FALSE(
      Allowed(policy, Spiffe("spiffe://prod.example.com/ns/a/b/sa/x"), "docs", "initialize"));
}

TEST(PolicyExamples, CiAgents) {
  auto policy = LoadExample("ci");
  ASSERT_NE(policy, nullptr);
  using O = Action::Object;
  auto agent = [](const std::string& cn, const std::string& issuer) {
    Identity id;
    id.cn = cn;
    id.subject = "CN=" + cn;
    id.issuer = issuer;
    id.cert_sha256 = std::string(64, '2');
    return id;
  };
  Identity runner = agent("ci-agent-1234", "CN=CI Issuing CA,O=Example");
  Identity rotated = agent("ci-agent-77", "CN=CI Issuing CA 2,O=Example");
  Identity rogue = agent("ci-agent-1234", "CN=Someone Else,O=Example");
  Identity release = agent("ci-agent-release-1", "CN=CI Issuing CA,O=Example");
  for (const Identity& id : {runner, rotated, release}) {
    EXPECT_TRUE(Allowed(policy, id, "repo", "tools/call", O::kTool, "git-status")) << id.cn;
    EXPECT_FALSE(Allowed(policy, id, "repo", "tools/call", O::kTool, "git-push-force")) << id.cn;
    EXPECT_TRUE(Allowed(policy, id, "repo", "resources/read", O::kResource, "repo://src/a.cc"));
    EXPECT_FALSE(Allowed(policy, id, "repo", "resources/read", O::kResource, "repo://app/.env"));
    EXPECT_FALSE(Allowed(policy, id, "repo", "resources/read", O::kResource, "repo://secrets/k"));
    EXPECT_TRUE(Allowed(policy, id, "docs", "logging/setLevel"));
    EXPECT_FALSE(Allowed(policy, id, "docs", "tools/call", O::kTool, "git-status"));
    Action roots{"repo", "roots/list"};
    roots.server_request = true;
    EXPECT_TRUE(policy->Decide(id, roots).allowed);
  }
  EXPECT_FALSE(Allowed(policy, runner, "repo", "tools/call", O::kTool, "publish-release"));
  Decision decision =
      policy->Decide(release, Action{"repo", "tools/call", O::kTool, "publish-release"});
  EXPECT_TRUE(decision.allowed);
  EXPECT_EQ(decision.rule, "release-agents");
  EXPECT_EQ(decision.rate_limit, nullptr);
  decision = policy->Decide(release, Action{"repo", "tools/call", O::kTool, "git-push-force"});
  EXPECT_EQ(decision.rule, "ci-agents");
  EXPECT_FALSE(Allowed(policy, rogue, "repo", "initialize"));
  EXPECT_FALSE(Allowed(policy, agent("ci-agent-release-10", "CN=CI Issuing CA,O=Example"), "repo",
                       "tools/call", O::kTool, "publish-release"));
  // explain answers for it.
  Explanation explanation =
      policy->Explain(rogue, Action{"repo", "tools/call", O::kTool, "git-status"});
  EXPECT_EQ(explanation.rules[0].detail,
            "matcher 1: issuer \"CN=Someone Else,O=Example\" does not match \"CN=CI Issuing "
            "CA,O=Example\"; matcher 2: issuer \"CN=Someone Else,O=Example\" does not match "
            "\"CN=CI Issuing CA 2,O=Example\"; grants upstream \"repo\"");
}

TEST(PolicyExamples, ReadOnlyTeam) {
  auto policy = LoadExample("read-only");
  ASSERT_NE(policy, nullptr);
  using O = Action::Object;
  Identity alice;
  alice.cn = "Alice";
  alice.email_sans = {"alice@Data.Example.com"};
  alice.cert_sha256 = std::string(64, '3');
  Identity service;
  service.uri_sans = {"urn:example:team:data"};
  service.cert_sha256 = std::string(64, '4');
  Identity outsider;
  outsider.email_sans = {"bob@example.com"};
  outsider.cert_sha256 = std::string(64, '5');
  for (const Identity& id : {alice, service}) {
    EXPECT_TRUE(Allowed(policy, id, "warehouse", "tools/call", O::kTool, "describe-table"));
    EXPECT_TRUE(Allowed(policy, id, "warehouse", "tools/call", O::kTool, "query-readonly"));
    EXPECT_FALSE(Allowed(policy, id, "warehouse", "tools/call", O::kTool, "drop-table"));
    EXPECT_FALSE(Allowed(policy, id, "warehouse", "tools/call", O::kTool, "get-and-delete-row"));
    EXPECT_FALSE(Allowed(policy, id, "warehouse", "tools/call", O::kTool, "query"));
    EXPECT_TRUE(Allowed(policy, id, "warehouse", "resources/read", O::kResource,
                        "warehouse://schemas/sales/orders"));
    EXPECT_FALSE(Allowed(policy, id, "warehouse", "resources/subscribe", O::kResource,
                         "warehouse://schemas/sales/orders"));
    EXPECT_TRUE(Allowed(policy, id, "warehouse", "prompts/get", O::kPrompt, "explain-query"));
    EXPECT_FALSE(Allowed(policy, id, "billing", "initialize"));
    UpstreamGrant grant = policy->GrantFor(id, "warehouse");
    EXPECT_TRUE(grant.AllowsTool("list-tables"));
    EXPECT_FALSE(grant.AllowsTool("update-row"));
  }
  EXPECT_FALSE(Allowed(policy, outsider, "warehouse", "tools/call", O::kTool, "list-tables"));
}

TEST(PolicyExamples, ConfPolicyLoadsWithTheConfUpstreams) {
  Result<LocatedJson> config = ParseLocatedJson(ReadSource("conf/gateway.json"));
  ASSERT_TRUE(config.ok()) << config.error();
  std::vector<std::string> upstreams;
  for (const LocatedJson::Member& member : config->Find("upstreams")->members) {
    upstreams.push_back(member.key);
  }
  PolicyLoad load = ParsePolicy("conf/policy.json", ReadSource("conf/policy.json"), upstreams);
  std::string errors;
  for (const PolicyError& error : load.errors) {
    errors += error.ToString() + "\n";
  }
  ASSERT_TRUE(load.ok()) << errors;
  EXPECT_TRUE(load.warnings.empty());
  using O = Action::Object;
  auto& policy = load.policy;
  // The client certificate of `portcullis pki init`.
  Identity dev = Spiffe("spiffe://portcullis.local/client");
  dev.cn = "client";
  EXPECT_TRUE(Allowed(policy, dev, "example", "tools/call", O::kTool, "slow_count"));
  EXPECT_TRUE(
      Allowed(policy, dev, "example", "resources/read", O::kResource, "example://greeting"));
  EXPECT_TRUE(Allowed(policy, dev, "example", "prompts/get", O::kPrompt, "greet"));
  EXPECT_FALSE(Allowed(policy, dev, "files", "tools/call", O::kTool, "delete_file"));
  Identity agent;
  agent.cn = "agent-1";
  agent.issuer = "CN=Team CA,O=Example";
  agent.cert_sha256 = std::string(64, '6');
  EXPECT_TRUE(Allowed(policy, agent, "example", "tools/call", O::kTool, "echo"));
  Decision decision =
      policy->Decide(agent, Action{"example", "tools/call", O::kTool, "slow_count"});
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.rule, "ci-no-slow-tools");
  EXPECT_FALSE(Allowed(policy, agent, "files", "initialize"));
}

}  // namespace
}  // namespace portcullis::policy
