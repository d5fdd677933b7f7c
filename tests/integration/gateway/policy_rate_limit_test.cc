// A rule's rate limit over real TLS: past the burst, 429 with JSON-RPC -32006 and Retry-After,
// and the request is not forwarded; identities have their own buckets; refused calls spend no
// tokens; waiting as long as Retry-After says is enough. Only counts of immediate calls are
// asserted: the slow rates leave seconds of slack, so a loaded machine cannot change them.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "tests/integration/gateway/policy_fixture.h"

namespace portcullis::gateway_test {
namespace {

// requests_per_second 0.1 and burst 2: two immediate calls pass, the third is refused unless
// ten seconds went by.
constexpr char kPolicy[] = R"({
  "rules": [
    {"name": "agents", "match": [{"cn": "agent-*"}],
     "grant": {"echo": {"tools": ["*"], "deny_tools": ["delete_*"]}},
     "rate_limit": {"requests_per_second": 0.1, "burst": 2}},
    {"name": "unlimited", "match": [{"cn": "stranger"}],
     "grant": {"echo": {"tools": ["*"]}}}
  ]
})";

// One token every two seconds, burst 1: Retry-After must say 2 (or more), not 1.
constexpr char kSlowPolicy[] = R"({
  "rules": [
    {"name": "slow", "match": [{"cn": "agent-1"}],
     "grant": {"echo": {"tools": ["*"]}},
     "rate_limit": {"requests_per_second": 0.5, "burst": 1}}
  ]
})";

class GatewayPolicyRateLimit : public PolicyTestBase {
 protected:
  void Start(const char* policy) {
    ASSERT_TRUE(echo_.ok()) << echo_.error();
    GatewayConfig config;
    config.AddUpstream("echo", echo_.url());
    config.policy = policy;
    Status s = gateway_.Start(config);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  std::unique_ptr<McpClient> Connect(const CertKey& cert) {
    auto client = McpClient::Connect(gateway_.port(), cert, "/mcp/echo", false);
    EXPECT_TRUE(client.ok()) << client.error();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  // Status of tools/call `tool` (-1 when no reply came).
  int Call(McpClient& client, int id, const std::string& tool = "echo",
           HttpResponse* out = nullptr) {
    auto response = client.Post(ToolsCall(id, tool));
    EXPECT_TRUE(response.ok()) << response.error();
    if (!response.ok()) {
      return -1;
    }
    if (out) {
      *out = *response;
    }
    return response->status;
  }

  EchoUpstream echo_;
  GatewayProcess gateway_;
};

TEST_F(GatewayPolicyRateLimit, ThirdImmediateCallIs429AndIsNotForwarded) {
  Start(kPolicy);
  auto one = Connect(agent_one());
  ASSERT_TRUE(one);
  HttpResponse first, second, third;
  EXPECT_EQ(Call(*one, 1, "echo", &first), 200);
  EXPECT_EQ(Call(*one, 2, "echo", &second), 200);
  EXPECT_TRUE(HasResult(first.body) && HasResult(second.body));
  ASSERT_EQ(Call(*one, 3, "echo", &third), 429) << third.body;
  EXPECT_EQ(JsonRpcErrorCode(third.body), -32006) << third.body;
  EXPECT_EQ(JsonRpcIdText(third.body), "3") << third.body;
  EXPECT_NE(JsonRpcErrorMessage(third.body).find("agents"), std::string::npos)
      << "the message names the rule: " << third.body;
  std::string retry_after = third.Header("Retry-After").value_or("");
  ASSERT_FALSE(retry_after.empty()) << "429 without Retry-After";
  EXPECT_EQ(retry_after.find_first_not_of("0123456789"), std::string::npos)
      << "Retry-After is delay-seconds (RFC 9110 §10.2.3): " << retry_after;
  EXPECT_GE(std::atoi(retry_after.c_str()), 1);
  EXPECT_EQ(echo_.request_count(), 2u);
  // The connection stays usable, and still limited.
  EXPECT_EQ(Call(*one, 4), 429);
  EXPECT_EQ(echo_.request_count(), 2u);
}

TEST_F(GatewayPolicyRateLimit, LimitHoldsAcrossConnections) {
  Start(kPolicy);
  for (int i = 1; i <= 3; ++i) {
    auto one = Connect(agent_one());
    ASSERT_TRUE(one);
    EXPECT_EQ(Call(*one, i), i <= 2 ? 200 : 429) << "call " << i << " on its own connection";
  }
  EXPECT_EQ(echo_.request_count(), 2u);
}

TEST_F(GatewayPolicyRateLimit, EachIdentityHasItsOwnBucket) {
  Start(kPolicy);
  auto one = Connect(agent_one());
  auto two = Connect(agent_two());
  auto stranger = Connect(this->stranger());
  ASSERT_TRUE(one && two && stranger);
  EXPECT_EQ(Call(*one, 1), 200);
  EXPECT_EQ(Call(*one, 2), 200);
  EXPECT_EQ(Call(*one, 3), 429);
  // agent-2 matches the same rule, with a bucket of its own.
  EXPECT_EQ(Call(*two, 1), 200);
  EXPECT_EQ(Call(*two, 2), 200);
  EXPECT_EQ(Call(*two, 3), 429);
  // A rule without a rate limit is not limited.
  for (int i = 1; i <= 10; ++i) {
    EXPECT_EQ(Call(*stranger, i), 200) << i;
  }
  EXPECT_EQ(echo_.request_count(), 14u);
}

TEST_F(GatewayPolicyRateLimit, RefusedCallsSpendNoTokens) {
  Start(kPolicy);
  auto one = Connect(agent_one());
  ASSERT_TRUE(one);
  for (int i = 1; i <= 5; ++i) {
    HttpResponse refused;
    EXPECT_EQ(Call(*one, i, "delete_all", &refused), 200);
    EXPECT_EQ(JsonRpcErrorCode(refused.body), -32003) << refused.body;
  }
  EXPECT_EQ(Call(*one, 6), 200);
  EXPECT_EQ(Call(*one, 7), 200);
  EXPECT_EQ(Call(*one, 8), 429);
  EXPECT_EQ(echo_.request_count(), 2u);
}

TEST_F(GatewayPolicyRateLimit, WaitingRetryAfterSecondsIsEnough) {
  // A client that honours Retry-After must not be refused again. At 0.5 requests per second
  // the next token is two seconds away; "Retry-After: 1" would send it back too early.
  Start(kSlowPolicy);
  auto one = Connect(agent_one());
  ASSERT_TRUE(one);
  EXPECT_EQ(Call(*one, 1), 200);
  HttpResponse limited;
  ASSERT_EQ(Call(*one, 2, "echo", &limited), 429);
  int retry_after = std::atoi(limited.Header("Retry-After").value_or("0").c_str());
  ASSERT_GE(retry_after, 1);
  ASSERT_LE(retry_after, 10) << "a bounded wait";
  std::this_thread::sleep_for(std::chrono::seconds(retry_after) + std::chrono::milliseconds(50));
  HttpResponse after;
  EXPECT_EQ(Call(*one, 3, "echo", &after), 200)
      << "refused again after waiting Retry-After: " << retry_after << " s: " << after.body;
}

}  // namespace
}  // namespace portcullis::gateway_test
