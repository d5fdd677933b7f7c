// The policy on the command line: `portcullis check` validates the policy with the config and
// reports every error as file:line:col (exit 1); `portcullis run` refuses to start on a broken
// policy; `portcullis policy explain` prints the identity, the request, the decision with its
// rule, the reason and a line per rule, exits 0 when allowed and 3 when denied, and agrees with
// what the running gateway does.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/gateway/policy_fixture.h"

namespace portcullis::gateway_test {
namespace {

using testing::CommandResult;
using testing::RunCommand;

constexpr char kPolicy[] = R"({
  "rules": [
    {
      "name": "ci-agents",
      "match": [{"spiffe_id": "spiffe://example.org/ns/ci/sa/*"}],
      "grant": {
        "example": {"tools": ["echo", "slow_*"], "prompts": ["greet"],
                    "resources": ["example://**"]},
        "echo": {"tools": ["*"], "deny_tools": ["delete_*"]}
      }
    },
    {
      "name": "web-agents",
      "match": [{"cn": "agent-2"}],
      "grant": {"example": {"tools": ["add"]}}
    }
  ]
})";

class GatewayPolicyCli : public PolicyTestBase {
 protected:
  void SetUp() override {
    PolicyTestBase::SetUp();
    ASSERT_TRUE(echo_.ok()) << echo_.error();
    GatewayConfig config;
    config.AddUpstream("example", echo_.url());
    config.AddUpstream("echo", echo_.url());
    config_text_ = config.ToJson();
    config_path_ = dir_.Write("gateway.json", config_text_);
    policy_path_ = dir_.Write("policy.json", kPolicy);
  }

  CommandResult Run(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {PortcullisPath()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto result = RunCommand(argv, kWaitMs);
    EXPECT_TRUE(result.ok()) << result.error();
    return result.ok() ? std::move(result).value() : CommandResult{-1, "", ""};
  }

  CommandResult Check(const std::string& policy) {
    policy_path_ = dir_.Write("policy.json", policy);
    return Run({"check", "--config", config_path_});
  }

  CommandResult Explain(const CertKey& cert, const std::string& server,
                        std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"policy", "explain", "--config", config_path_,
                                     "--cert", cert.cert, "--server", server};
    args.insert(args.end(), more.begin(), more.end());
    return Run(args);
  }

  // The line of `out` that starts with `prefix`, or "".
  static std::string LineStarting(const std::string& out, const std::string& prefix) {
    size_t pos = 0;
    while (pos < out.size()) {
      size_t end = out.find('\n', pos);
      std::string line = out.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      if (line.rfind(prefix, 0) == 0) {
        return line;
      }
      if (end == std::string::npos) {
        break;
      }
      pos = end + 1;
    }
    return "";
  }

  // The "rules:" line naming `rule`, or "".
  static std::string RuleLine(const std::string& out, const std::string& rule) {
    return LineStarting(out, "  " + rule + " ");
  }

  EchoUpstream echo_;
  TempDir dir_{"gwpolicycli"};
  std::string config_text_;
  std::string config_path_;
  std::string policy_path_;
};

// ---- check ----------------------------------------------------------------------------------

TEST_F(GatewayPolicyCli, CheckAcceptsAGoodPolicy) {
  CommandResult result = Check(kPolicy);
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("OK"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("2 policy rule(s)"), std::string::npos) << result.out;
}

TEST_F(GatewayPolicyCli, CheckReportsEveryPolicyErrorWithFileLineCol) {
  const std::string policy = R"({
  "rules": [
    {"name": "a", "match": [{"cn": "agent-1"}],
     "grant": {"exampel": {"tools": ["echo"]}}},
    {"name": "b", "match": [{"common_name": "agent-2"}],
     "grant": {"echo": {"tols": ["echo"]}}}
  ]
})";
  CommandResult result = Check(policy);
  EXPECT_EQ(result.exit_status, 1) << result.out;
  // All three at once, each where it is, the unknown upstream with a did-you-mean.
  for (const char* needle : {"\"exampel\"", "\"common_name\"", "\"tols\""}) {
    std::string where = policy_path_ + ":" + LineColOf(policy, needle) + ":";
    EXPECT_NE(result.err.find(where), std::string::npos)
        << "expected " << where << " for " << needle << "; stderr:\n"
        << result.err;
  }
  EXPECT_NE(result.err.find("did you mean \"example\""), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(" error(s)"), std::string::npos) << result.err;
}

TEST_F(GatewayPolicyCli, CheckReportsASyntaxErrorWithFileLineCol) {
  const std::string policy = "{\n  \"rules\": [\n    {\"name\": \"a\" \"match\": []}\n  ]\n}\n";
  CommandResult result = Check(policy);
  EXPECT_EQ(result.exit_status, 1) << result.out;
  EXPECT_NE(result.err.find(policy_path_ + ":3:"), std::string::npos) << result.err;
}

TEST_F(GatewayPolicyCli, CheckReportsAMissingPolicyFile) {
  ASSERT_EQ(unlink(dir_.File("policy.json").c_str()), 0);
  CommandResult result = Run({"check", "--config", config_path_});
  EXPECT_EQ(result.exit_status, 1) << result.out;
  EXPECT_NE(result.err.find(dir_.File("policy.json")), std::string::npos) << result.err;
}

TEST_F(GatewayPolicyCli, RunRefusesABrokenPolicy) {
  const std::string policy =
      "{\"rules\": [{\"name\": \"a\", \"match\": [{\"cn\": \"x\"}],\n"
      "  \"grant\": {\"nowhere\": {}}}]}\n";
  policy_path_ = dir_.Write("policy.json", policy);
  CommandResult result = Run({"run", "--config", config_path_});
  EXPECT_NE(result.exit_status, 0) << result.err;
  EXPECT_NE(result.err.find(policy_path_ + ":" + LineColOf(policy, "\"nowhere\"") + ":"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(result.err.find("listening on"), std::string::npos) << result.err;
}

// ---- explain ----------------------------------------------------------------------------------

TEST_F(GatewayPolicyCli, ExplainAnAllowedTool) {
  CommandResult r = Explain(agent_one(), "example", {"--tool", "echo"});
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_NE(LineStarting(r.out, "identity:").find("agent-1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(testing::kGoodClientSpiffeId), std::string::npos) << r.out;
  EXPECT_EQ(LineStarting(r.out, "request:"),
            "request:   tools/call on upstream \"example\" for echo")
      << r.out;
  EXPECT_EQ(LineStarting(r.out, "decision:"), "decision:  ALLOW by rule \"ci-agents\"") << r.out;
  EXPECT_NE(LineStarting(r.out, "reason:").find("echo"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nrules:\n"), std::string::npos) << r.out;
  EXPECT_NE(RuleLine(r.out, "ci-agents").find("identity matches, grants the upstream"),
            std::string::npos)
      << r.out;
  EXPECT_NE(RuleLine(r.out, "web-agents").find("identity does not match"), std::string::npos)
      << r.out;
}

TEST_F(GatewayPolicyCli, ExplainAnExplicitDeny) {
  CommandResult r = Explain(agent_one(), "echo", {"--tool", "delete_all"});
  EXPECT_EQ(r.exit_status, 3) << r.out << r.err;
  EXPECT_EQ(LineStarting(r.out, "decision:"), "decision:  DENY by rule \"ci-agents\"") << r.out;
  std::string reason = LineStarting(r.out, "reason:");
  EXPECT_NE(reason.find("delete_all"), std::string::npos) << r.out;
  EXPECT_NE(reason.find("deny_tools"), std::string::npos) << r.out;
}

TEST_F(GatewayPolicyCli, ExplainADefaultDeny) {
  CommandResult r = Explain(agent_two(), "example", {"--tool", "echo"});
  EXPECT_EQ(r.exit_status, 3) << r.out << r.err;
  EXPECT_EQ(LineStarting(r.out, "decision:"), "decision:  DENY by default (no rule)") << r.out;
  EXPECT_NE(LineStarting(r.out, "reason:").find("echo"), std::string::npos) << r.out;
  EXPECT_NE(RuleLine(r.out, "web-agents").find("identity matches, grants the upstream"),
            std::string::npos)
      << r.out;
  EXPECT_NE(RuleLine(r.out, "ci-agents").find("identity does not match"), std::string::npos)
      << r.out;
}

TEST_F(GatewayPolicyCli, ExplainAnUngrantedUpstream) {
  CommandResult r = Explain(agent_two(), "echo", {"--tool", "echo"});
  EXPECT_EQ(r.exit_status, 3) << r.out << r.err;
  EXPECT_EQ(LineStarting(r.out, "decision:"), "decision:  DENY by default (no rule)") << r.out;
  EXPECT_NE(RuleLine(r.out, "web-agents").find("does not grant the upstream"), std::string::npos)
      << r.out;
  CommandResult s = Explain(stranger(), "example");
  EXPECT_EQ(s.exit_status, 3) << s.out << s.err;
  EXPECT_EQ(LineStarting(s.out, "decision:"), "decision:  DENY by default (no rule)") << s.out;
  EXPECT_NE(RuleLine(s.out, "ci-agents").find("identity does not match"), std::string::npos)
      << s.out;
  EXPECT_NE(RuleLine(s.out, "web-agents").find("identity does not match"), std::string::npos)
      << s.out;
}

TEST_F(GatewayPolicyCli, ExplainPromptsResourcesAndMethods) {
  struct Case {
    const CertKey* cert;
    std::vector<std::string> args;
    int exit;
    const char* request;
  };
  const Case cases[] = {
      {&agent_one(), {"--prompt", "greet"}, 0, "prompts/get on upstream \"example\" for greet"},
      {&agent_two(), {"--prompt", "greet"}, 3, "prompts/get on upstream \"example\" for greet"},
      {&agent_one(),
       {"--resource", "example://greeting"},
       0,
       "resources/read on upstream \"example\" for example://greeting"},
      {&agent_one(),
       {"--resource", "file:///etc/passwd"},
       3,
       "resources/read on upstream \"example\" for file:///etc/passwd"},
      {&agent_two(), {}, 0, "tools/list on upstream \"example\""},
      {&agent_one(),
       {"--method", "logging/setLevel"},
       3,
       "logging/setLevel on upstream \"example\""},
      {&agent_one(),
       {"--method", "resources/subscribe", "--resource", "example://greeting"},
       0,
       "resources/subscribe on upstream \"example\" for example://greeting"},
  };
  for (const Case& c : cases) {
    CommandResult r = Explain(*c.cert, "example", c.args);
    EXPECT_EQ(r.exit_status, c.exit) << c.request << "\n" << r.out << r.err;
    EXPECT_EQ(LineStarting(r.out, "request:"), std::string("request:   ") + c.request) << r.out;
    EXPECT_EQ(LineStarting(r.out, "decision:")
                  .rfind(c.exit == 0 ? "decision:  ALLOW by rule \"" : "decision:  DENY by ", 0),
              0u)
        << r.out;
  }
}

TEST_F(GatewayPolicyCli, ExplainUsageAndErrors) {
  EXPECT_EQ(
      Run({"policy", "explain", "--config", config_path_, "--cert", agent_one().cert}).exit_status,
      2);
  EXPECT_EQ(Explain(agent_one(), "example", {"--tool", "echo", "--prompt", "greet"}).exit_status,
            2);
  EXPECT_EQ(Explain(agent_one(), "example", {"--color", "red"}).exit_status, 2);
  EXPECT_EQ(Run({"policy", "lint"}).exit_status, 2);
  CommandResult missing_cert = Explain({dir_.File("nope.pem"), ""}, "example");
  EXPECT_EQ(missing_cert.exit_status, 1) << missing_cert.err;
  CommandResult not_a_cert = Explain({config_path_, ""}, "example");
  EXPECT_EQ(not_a_cert.exit_status, 1) << not_a_cert.err;
  policy_path_ = dir_.Write("policy.json", "{\"rules\": 7}");
  CommandResult broken = Explain(agent_one(), "example");
  EXPECT_EQ(broken.exit_status, 1) << broken.out;
  EXPECT_NE(broken.err.find(policy_path_ + ":1:"), std::string::npos) << broken.err;
}

TEST_F(GatewayPolicyCli, ExplainAgreesWithTheGateway) {
  GatewayConfig config;
  config.AddUpstream("example", echo_.url());
  config.AddUpstream("echo", echo_.url());
  config.policy = kPolicy;
  GatewayProcess gateway;
  Status s = gateway.Start(config);
  ASSERT_TRUE(s.ok()) << s.message();
  struct Case {
    const CertKey* cert;
    const char* server;
    const char* tool;
  };
  const Case cases[] = {
      {&agent_one(), "example", "echo"},       {&agent_one(), "example", "add"},
      {&agent_one(), "example", "slow_count"}, {&agent_one(), "echo", "anything"},
      {&agent_one(), "echo", "delete_all"},    {&agent_two(), "example", "add"},
      {&agent_two(), "example", "echo"},       {&agent_two(), "echo", "add"},
      {&stranger(), "example", "echo"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.server) + " " + c.tool + " as " + c.cert->cert);
    CommandResult explained = Run({"policy", "explain", "--config", gateway.config_path(), "--cert",
                                   c.cert->cert, "--server", c.server, "--tool", c.tool});
    ASSERT_TRUE(explained.exit_status == 0 || explained.exit_status == 3) << explained.err;
    auto client =
        McpClient::Connect(gateway.port(), *c.cert, std::string("/mcp/") + c.server, false);
    ASSERT_TRUE(client.ok()) << client.error();
    auto response = (*client)->Post(ToolsCall(1, c.tool));
    ASSERT_TRUE(response.ok()) << response.error();
    bool gateway_allowed = response->status == 200 && HasResult(response->body);
    bool gateway_denied = (response->status == 200 || response->status == 403) &&
                          JsonRpcErrorCode(response->body) == -32003;
    ASSERT_TRUE(gateway_allowed || gateway_denied) << response->body;
    EXPECT_EQ(explained.exit_status == 0, gateway_allowed)
        << "explain says " << LineStarting(explained.out, "decision:") << "; the gateway answered "
        << response->status << " " << response->body;
  }
}

}  // namespace
}  // namespace portcullis::gateway_test
