// GrantFor / UpstreamGrant: list filtering gives exactly the answers Decide gives for the
// corresponding calls.

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "portcullis/policy.h"

namespace portcullis::policy {
namespace {

std::shared_ptr<const Policy> Load(const std::string& text) {
  PolicyLoad load = ParsePolicy("policy.json", text, {"everything", "files"});
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
  id.cert_sha256 = std::string(64, 'a');
  return id;
}

constexpr const char* kPolicy = R"({"rules": [
  {"name": "team", "match": [{"cn": "dev-*"}],
   "grant": {"everything": {"tools": ["get-*", "list-*", "echo"], "deny_tools": ["get-secret*"],
                            "prompts": ["review", "summarize-*"],
                            "resources": ["file:///repo/**", "https://docs.example.com/*"],
                            "deny_resources": ["file:///repo/.git/**"]}}},
  {"name": "no-prompts", "match": [{"cn": "dev-2"}],
   "grant": {"everything": {"deny_methods": ["prompts/get"]}}},
  {"name": "extra", "match": [{"cn": "dev-3"}], "grant": {"*": {"tools": ["deploy"]}}}
]})";

TEST(PolicyGrant, NotGrantedWhenNoRuleGrantsTheUpstream) {
  auto policy = Load(kPolicy);
  UpstreamGrant none = policy->GrantFor(WithCn("dev-1"), "files");
  EXPECT_FALSE(none.granted());
  EXPECT_FALSE(none.AllowsTool("echo"));
  EXPECT_FALSE(none.AllowsPrompt("review"));
  EXPECT_FALSE(none.AllowsResource("file:///repo/a"));
  EXPECT_FALSE(none.AllowsResourceTemplate("file:///repo/{path}"));
  EXPECT_FALSE(policy->GrantFor(WithCn("ops"), "everything").granted());
  EXPECT_TRUE(policy->GrantFor(WithCn("dev-1"), "everything").granted());
  EXPECT_TRUE(policy->GrantFor(WithCn("dev-3"), "files").granted());
  EXPECT_TRUE(policy->GrantFor(WithCn("dev-3"), "files").AllowsTool("deploy"));
}

TEST(PolicyGrant, FiltersLikeDecide) {
  auto policy = Load(kPolicy);
  UpstreamGrant grant = policy->GrantFor(WithCn("dev-1"), "everything");
  EXPECT_TRUE(grant.AllowsTool("get-user"));
  EXPECT_TRUE(grant.AllowsTool("echo"));
  EXPECT_FALSE(grant.AllowsTool("get-secret-key"));
  EXPECT_FALSE(grant.AllowsTool("deploy"));
  EXPECT_TRUE(grant.AllowsPrompt("review"));
  EXPECT_FALSE(grant.AllowsPrompt("other"));
  EXPECT_TRUE(grant.AllowsResource("file:///repo/src/main.cc"));
  EXPECT_FALSE(grant.AllowsResource("file:///repo/.git/config"));
  EXPECT_FALSE(grant.AllowsResource("file:///etc/passwd"));
  // dev-2 matches the rule that denies prompts/get: no prompt is listed.
  UpstreamGrant no_prompts = policy->GrantFor(WithCn("dev-2"), "everything");
  EXPECT_FALSE(no_prompts.AllowsPrompt("review"));
  EXPECT_TRUE(no_prompts.AllowsTool("echo"));
  // dev-3: the union of both rules' grants.
  UpstreamGrant both = policy->GrantFor(WithCn("dev-3"), "everything");
  EXPECT_TRUE(both.AllowsTool("deploy"));
  EXPECT_TRUE(both.AllowsTool("echo"));
}

TEST(PolicyGrant, ResourceTemplatesShownWhenTheirLiteralPrefixIsAllowed) {
  auto policy = Load(kPolicy);
  UpstreamGrant grant = policy->GrantFor(WithCn("dev-1"), "everything");
  EXPECT_TRUE(grant.AllowsResourceTemplate("file:///repo/{+path}"));
  EXPECT_TRUE(grant.AllowsResourceTemplate("file:///repo/src/{name}.cc"));
  EXPECT_TRUE(grant.AllowsResourceTemplate("https://docs.example.com/{page}"));
  // Could expand to an allowed URI, but the prefix alone is not allowed: hidden (conservative).
  EXPECT_FALSE(grant.AllowsResourceTemplate("file:///{path}"));
  EXPECT_FALSE(grant.AllowsResourceTemplate("https://docs.example.com{/page}"));
  EXPECT_FALSE(grant.AllowsResourceTemplate("file:///repo/.git/{x}"));
  // Without an expression the template is a plain URI.
  EXPECT_TRUE(grant.AllowsResourceTemplate("file:///repo/README"));
  EXPECT_FALSE(grant.AllowsResourceTemplate("file:///etc/passwd"));
}

// The property the gateway relies on: for every name, the list filter and Decide agree.
TEST(PolicyGrant, AgreesWithDecideForEveryName) {
  auto policy = Load(kPolicy);
  std::mt19937 rng(99);
  const std::vector<std::string> parts = {"get-",
                                          "list-",
                                          "secret",
                                          "echo",
                                          "review",
                                          "summarize-",
                                          "file:///repo/",
                                          ".git/",
                                          "x",
                                          "/",
                                          "https://docs.example.com/",
                                          "deploy",
                                          ""};
  for (const char* cn : {"dev-1", "dev-2", "dev-3", "ops"}) {
    for (const char* upstream : {"everything", "files", "other"}) {
      Identity id = WithCn(cn);
      UpstreamGrant grant = policy->GrantFor(id, upstream);
      for (int i = 0; i < 400; ++i) {
        std::string name;
        for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k) {
          name += parts[rng() % parts.size()];
        }
        Action tool{upstream, "tools/call", Action::Object::kTool, name};
        Action prompt{upstream, "prompts/get", Action::Object::kPrompt, name};
        Action resource{upstream, "resources/read", Action::Object::kResource, name};
        ASSERT_EQ(grant.AllowsTool(name), policy->Decide(id, tool).allowed) << cn << " " << name;
        ASSERT_EQ(grant.AllowsPrompt(name), policy->Decide(id, prompt).allowed) << name;
        ASSERT_EQ(grant.AllowsResource(name), policy->Decide(id, resource).allowed) << name;
      }
    }
  }
}

TEST(PolicyGrant, DenyMethodsHideTheWholeList) {
  auto policy = Load(R"({"rules": [{"name": "r", "match": {"cn": "a"},
    "grant": {"everything": {"tools": ["*"], "resources": ["**"],
                             "deny_methods": ["tools/call", "resources/read"]}}}]})");
  UpstreamGrant grant = policy->GrantFor(WithCn("a"), "everything");
  EXPECT_TRUE(grant.granted());
  EXPECT_FALSE(grant.AllowsTool("echo"));
  EXPECT_FALSE(grant.AllowsResource("file:///a"));
  EXPECT_FALSE(grant.AllowsResourceTemplate("file:///{a}"));
}

TEST(PolicyGrant, OutlivesNothingButItsPolicy) {
  std::shared_ptr<const Policy> policy = Load(kPolicy);
  UpstreamGrant grant = policy->GrantFor(WithCn("dev-1"), "everything");
  UpstreamGrant copy = grant;  // a plain value: copies share the policy's grants
  EXPECT_TRUE(copy.AllowsTool("echo"));
}

}  // namespace
}  // namespace portcullis::policy
