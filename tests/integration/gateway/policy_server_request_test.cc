// Server-to-client requests (sampling, elicitation, roots) inside an upstream's SSE stream are
// decided by the policy's "server_requests": a refused one never reaches the client, and the
// upstream receives a JSON-RPC error in the client's place (so it does not wait for an answer
// that cannot come); an allowed one passes untouched. A ScriptedUpstream plays the server.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/gateway/policy_fixture.h"

namespace portcullis::gateway_test {
namespace {

using testing::SseEvent;
using testing::SseReader;

constexpr char kSampling[] =
    R"({"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{"messages":[]}})";

std::string Policy(bool allow_sampling) {
  return std::string(R"({"rules": [{"name": "agent-one", "match": [{"spiffe_id": ")") +
         testing::kGoodClientSpiffeId + R"("}], "grant": {"srv": {"tools": ["*"])" +
         (allow_sampling ? R"(, "server_requests": ["sampling/*"])" : "") + "}}}]}";
}

class GatewayPolicyServerRequests : public PolicyTestBase {
 protected:
  void StartGateway(bool allow_sampling) {
    ASSERT_TRUE(upstream_.ok()) << upstream_.error();
    GatewayConfig config;
    config.AddUpstream("srv", upstream_.url());
    config.policy = Policy(allow_sampling);
    Status s = gateway_.Start(config);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  // tools/call → an SSE stream: the server's sampling request, a progress notification, the
  // result. A POSTed JSON-RPC response (the client's, or the gateway's refusal) → 202.
  static ScriptedReply Answer(const ScriptedUpstream::Request& request) {
    rapidjson::Document doc = ParseJson(request.body);
    if (doc.IsObject() && !doc.HasMember("method")) {
      return {{HttpHead(202, "application/json", {}, 0)}, 0, false};
    }
    std::string id = JsonRpcIdText(request.body);
    std::string result = R"({"jsonrpc":"2.0","id":)" + id + R"(,"result":{"content":[]}})";
    std::string progress =
        R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}})";
    return SseReply({"event: message\ndata: " + std::string(kSampling) + "\n\n",
                     "event: message\ndata: " + progress + "\n\n",
                     "event: message\ndata: " + result + "\n\n"});
  }

  std::vector<SseEvent> CallTool() {
    std::vector<SseEvent> events;
    auto client = McpClient::Connect(gateway_.port(), agent_one(), "/mcp/srv", false);
    EXPECT_TRUE(client.ok()) << client.error();
    if (!client.ok()) return events;
    auto reader = SseReader::Open((*client)->tls(), "POST", "/mcp/srv", (*client)->Headers(),
                                  ToolsCall(5, "anything", "{}"), kRequestMs);
    EXPECT_TRUE(reader.ok()) << reader.error();
    if (!reader.ok()) return events;
    for (int i = 0; i < 10; ++i) {
      auto next = (*reader)->Next(kWaitMs);
      EXPECT_TRUE(next.ok()) << next.error();
      if (!next.ok() || !next->has_value()) break;
      events.push_back(std::move(**next));
    }
    return events;
  }

  // The JSON-RPC responses the upstream received (bounded wait for `count` of them).
  std::vector<std::string> ResponsesReceived(size_t count) {
    std::vector<std::string> responses;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
    while (std::chrono::steady_clock::now() < deadline) {
      responses.clear();
      for (const auto& request : upstream_.requests()) {
        rapidjson::Document doc = ParseJson(request.body);
        if (doc.IsObject() && !doc.HasMember("method")) responses.push_back(request.body);
      }
      if (responses.size() >= count) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return responses;
  }

  ScriptedUpstream upstream_{Answer};
  GatewayProcess gateway_;
};

TEST_F(GatewayPolicyServerRequests, RefusedRequestNeverReachesTheClientAndTheUpstreamHearsWhy) {
  StartGateway(/*allow_sampling=*/false);
  std::vector<SseEvent> events = CallTool();
  ASSERT_EQ(events.size(), 2u) << "the sampling request must be dropped";
  EXPECT_EQ(events[0].data.find("sampling/createMessage"), std::string::npos) << events[0].data;
  EXPECT_NE(events[0].data.find("notifications/progress"), std::string::npos) << events[0].data;
  EXPECT_NE(events[1].data.find("\"result\""), std::string::npos) << events[1].data;

  std::vector<std::string> responses = ResponsesReceived(1);
  ASSERT_EQ(responses.size(), 1u) << "the gateway answers the refused request upstream";
  EXPECT_EQ(JsonRpcIdText(responses[0]), "\"s1\"") << responses[0];
  EXPECT_EQ(JsonRpcErrorCode(responses[0]), -32003) << responses[0];
  EXPECT_NE(gateway_.Log().find("sampling/createMessage: refused"), std::string::npos)
      << gateway_.Log();
}

TEST_F(GatewayPolicyServerRequests, AllowedRequestPassesAndTheGatewayDoesNotAnswerIt) {
  StartGateway(/*allow_sampling=*/true);
  std::vector<SseEvent> events = CallTool();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_NE(events[0].data.find("sampling/createMessage"), std::string::npos) << events[0].data;
  // Give a (wrong) refusal time to arrive; none may.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(ResponsesReceived(0).empty());
}

}  // namespace
}  // namespace portcullis::gateway_test
