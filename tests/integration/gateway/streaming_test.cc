// Server-sent events stream through the gateway as they are produced, not buffered: progress
// notifications of a slow tool call arrive spread over the call's duration, before its result,
// and the response carries X-Accel-Buffering: no.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

using testing::SseEvent;
using testing::SseReader;

constexpr int kSteps = 4;
constexpr int kIntervalMs = 300;

std::string SlowCountCall(int id) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
         R"(,"method":"tools/call","params":{"name":"slow_count","arguments":{"n":)" +
         std::to_string(kSteps) + R"(,"interval_ms":)" + std::to_string(kIntervalMs) +
         R"(},"_meta":{"progressToken":"p-1"}}})";
}

long long MsBetween(std::chrono::steady_clock::time_point a,
                    std::chrono::steady_clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

class GatewayStreaming : public GatewayTestBase {
 protected:
  void SetUp() override {
    GatewayTestBase::SetUp();
    Status s = example_.Start();
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE(echo_.ok()) << echo_.error();
    GatewayConfig config;
    config.AddUpstream("example", example_.url());
    config.AddUpstream("echo", echo_.url());
    s = gateway_.Start(config);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  ExampleServer example_;
  EchoUpstream echo_;
  GatewayProcess gateway_;
};

TEST_F(GatewayStreaming, ProgressArrivesSpreadOutBeforeTheResult) {
  auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
  ASSERT_TRUE(client.ok()) << client.error();
  Result<std::string> session = OpenMcpSession(**client, "/mcp/example");
  ASSERT_TRUE(session.ok()) << session.error();

  auto reader = SseReader::Open(
      **client, "POST", "/mcp/example",
      JsonHeaders({{"Mcp-Session-Id", *session}, {"MCP-Protocol-Version", kProtocolVersion}}),
      SlowCountCall(42), kRequestMs);
  ASSERT_TRUE(reader.ok()) << reader.error();
  const HttpResponse& head = (*reader)->response();
  ASSERT_EQ(head.status, 200);
  EXPECT_TRUE((*reader)->is_event_stream()) << head.Header("Content-Type").value_or("(none)");
  EXPECT_EQ(head.Header("X-Accel-Buffering").value_or(""), "no");
  EXPECT_EQ(head.HeaderValues("X-Accel-Buffering").size(), 1u);

  std::vector<SseEvent> progress;
  std::optional<SseEvent> result;
  while (!result) {
    auto next = (*reader)->Next(kWaitMs);
    ASSERT_TRUE(next.ok()) << next.error();
    ASSERT_TRUE(next->has_value()) << "stream ended before the result";
    SseEvent event = std::move(**next);
    rapidjson::Document doc = ParseJson(event.data);
    ASSERT_TRUE(doc.IsObject()) << event.data;
    if (doc.HasMember("method")) {
      ASSERT_STREQ(doc["method"].GetString(), "notifications/progress") << event.data;
      EXPECT_STREQ(doc["params"]["progressToken"].GetString(), "p-1");
      EXPECT_EQ(doc["params"]["progress"].GetInt(), static_cast<int>(progress.size()) + 1);
      progress.push_back(std::move(event));
    } else {
      ASSERT_EQ(JsonRpcIdText(event.data), "42") << event.data;
      ASSERT_TRUE(doc.HasMember("result")) << event.data;
      EXPECT_NE(event.data.find("counted to 4"), std::string::npos) << event.data;
      result = std::move(event);
    }
  }
  ASSERT_EQ(progress.size(), static_cast<size_t>(kSteps));
  // The stream ends after the result.
  auto end = (*reader)->Next(kWaitMs);
  ASSERT_TRUE(end.ok()) << end.error();
  EXPECT_FALSE(end->has_value());

  // Arrival spacing relative to the configured interval (not an absolute speed): the upstream
  // produces one progress event per interval, so an unbuffered gateway delivers them spread out
  // over about (n-1) intervals; a buffering gateway would deliver them together with the result.
  // Only the whole span is compared, with a wide margin, so one scheduling hiccup on a loaded
  // machine cannot fail the test.
  EXPECT_LE(progress.front().arrived, result->arrived);
  long long span = MsBetween(progress.front().arrived, result->arrived);
  EXPECT_GE(span, (kSteps - 1) * kIntervalMs / 2)
      << "first progress to result in " << span << " ms; the upstream spent about "
      << (kSteps - 1) * kIntervalMs << " ms between them";
  // And the progress events came one by one: of the n-1 gaps between them, at most one (a
  // hiccup) may be shorter than a quarter of the interval.
  int spread_gaps = 0;
  std::string gaps;
  for (size_t i = 1; i < progress.size(); ++i) {
    long long gap = MsBetween(progress[i - 1].arrived, progress[i].arrived);
    gaps += std::to_string(gap) + " ms ";
    spread_gaps += gap >= kIntervalMs / 4 ? 1 : 0;
  }
  EXPECT_GE(spread_gaps, kSteps - 2)
      << "gaps between progress events: " << gaps << "(interval " << kIntervalMs << " ms)";

  // The connection stays usable after the stream.
  auto ping = testing::Request(
      **client, "POST", "/mcp/example",
      JsonHeaders({{"Mcp-Session-Id", *session}, {"MCP-Protocol-Version", kProtocolVersion}}),
      R"({"jsonrpc":"2.0","id":43,"method":"ping"})", kRequestMs);
  ASSERT_TRUE(ping.ok()) << ping.error();
  EXPECT_EQ(ping->status, 200) << ping->body;
}

TEST_F(GatewayStreaming, GatewayAddsXAccelBufferingToEventStreams) {
  // The echo upstream answers "?sse=1" with text/event-stream and no X-Accel-Buffering header:
  // the gateway adds it.
  auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
  ASSERT_TRUE(client.ok()) << client.error();
  auto reader =
      SseReader::Open(**client, "POST", "/mcp/echo?sse=1", JsonHeaders(), kPing, kRequestMs);
  ASSERT_TRUE(reader.ok()) << reader.error();
  EXPECT_EQ((*reader)->response().status, 200);
  EXPECT_TRUE((*reader)->is_event_stream());
  EXPECT_EQ((*reader)->response().Header("X-Accel-Buffering").value_or(""), "no");
  auto event = (*reader)->Next(kWaitMs);
  ASSERT_TRUE(event.ok()) << event.error();
  ASSERT_TRUE(event->has_value());
  EXPECT_EQ(JsonRpcIdText((*event)->data), "7") << (*event)->data;
  auto end = (*reader)->Next(kWaitMs);
  ASSERT_TRUE(end.ok()) << end.error();
  EXPECT_FALSE(end->has_value());
  // The query string reached the upstream with the upstream's own path.
  ASSERT_EQ(echo_.request_count(), 1u);
  EXPECT_EQ(echo_.requests()[0].target, "/mcp?sse=1");

  // A JSON (non-stream) reply gets no such header.
  auto plain = testing::Request(**client, "POST", "/mcp/echo", JsonHeaders(), kPing, kRequestMs);
  ASSERT_TRUE(plain.ok()) << plain.error();
  EXPECT_EQ(plain->status, 200);
  EXPECT_FALSE(plain->HasHeader("X-Accel-Buffering"));
}

}  // namespace
}  // namespace portcullis::gateway_test
