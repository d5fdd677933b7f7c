// mcp-example-server over Streamable HTTP (--http 127.0.0.1:0): session rules, JSON and SSE
// replies, keep-alive, and refusals, against the real binary on loopback.
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "tests/integration/example_server/example_server_harness.h"

namespace portcullis::example_test {
namespace {

const char kInitialize[] =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",)"
    R"("capabilities":{},"clientInfo":{"name":"test","version":"1"}}})";

class ExampleServerHttp : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NE(server_.port(), 0) << "no \"listening on\" line"; }

  int port() { return server_.port(); }

  // initialize + notifications/initialized on a fresh connection; returns the session id.
  std::string OpenSession() {
    HttpClient client(port());
    EXPECT_TRUE(client.Send("POST", kInitialize));
    std::optional<HttpResponse> response = client.ReadResponse();
    EXPECT_TRUE(response.has_value());
    if (!response) {
      return "";
    }
    std::string session = response->Header("mcp-session-id");
    EXPECT_TRUE(client.Send("POST", R"({"jsonrpc":"2.0","method":"notifications/initialized"})",
                            {{"Mcp-Session-Id", session}}));
    std::optional<HttpResponse> accepted = client.ReadResponse();
    EXPECT_TRUE(accepted.has_value());
    EXPECT_EQ(accepted ? accepted->status : 0, 202);
    return session;
  }

  // One POST on its own connection.
  std::optional<HttpResponse> Post(const std::string& body, const std::string& session) {
    HttpClient client(port());
    std::map<std::string, std::string> headers;
    if (!session.empty()) {
      headers["Mcp-Session-Id"] = session;
    }
    if (!client.Send("POST", body, headers)) {
      return std::nullopt;
    }
    return client.ReadResponse();
  }

  HttpServerProcess server_;
};

int ErrorCode(const std::string& body) {
  rapidjson::Document doc = ParseJson(body);
  if (!doc.IsObject() || !doc.HasMember("error")) {
    return 0;
  }
  return doc["error"]["code"].GetInt();
}

TEST_F(ExampleServerHttp, InitializeReturnsJsonAndSessionId) {
  HttpClient client(port());
  ASSERT_TRUE(client.Send("POST", kInitialize));
  std::optional<HttpResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("content-type"), "application/json");
  std::string session = response->Header("mcp-session-id");
  ASSERT_EQ(session.size(), 32u);
  for (char c : session) {
    EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(c)) << session;
  }
  rapidjson::Document doc = ParseJson(response->body);
  ASSERT_TRUE(doc.IsObject());
  EXPECT_STREQ(doc["result"]["protocolVersion"].GetString(), "2025-11-25");
  EXPECT_STREQ(doc["result"]["serverInfo"]["name"].GetString(), "mcp-example-server");

  // Two sessions never share an id.
  EXPECT_NE(OpenSession(), session);
}

TEST_F(ExampleServerHttp, RequestsWithoutSessionAre400) {
  std::optional<HttpResponse> response = Post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})", "");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 400);
  EXPECT_NE(ErrorCode(response->body), 0) << response->body;
}

TEST_F(ExampleServerHttp, UnknownSessionIs404) {
  std::optional<HttpResponse> response =
      Post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})", "00000000000000000000000000000000");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 404);
  EXPECT_NE(ErrorCode(response->body), 0) << response->body;
}

TEST_F(ExampleServerHttp, NotificationIs202WithEmptyBody) {
  std::string session = OpenSession();
  std::optional<HttpResponse> response = Post(
      R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":99}})", session);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 202);
  EXPECT_TRUE(response->body.empty());
  // A JSON-RPC response from the client is accepted the same way.
  response = Post(R"({"jsonrpc":"2.0","id":"s1","result":{}})", session);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 202);
}

TEST_F(ExampleServerHttp, GetIs405) {
  std::string session = OpenSession();
  HttpClient client(port());
  ASSERT_TRUE(
      client.Send("GET", "", {{"Mcp-Session-Id", session}, {"Accept", "text/event-stream"}}));
  std::optional<HttpResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 405);
}

TEST_F(ExampleServerHttp, DeleteEndsTheSession) {
  std::string session = OpenSession();
  HttpClient client(port());
  ASSERT_TRUE(client.Send("DELETE", "", {{"Mcp-Session-Id", session}}));
  std::optional<HttpResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);

  response = Post(R"({"jsonrpc":"2.0","id":3,"method":"ping"})", session);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 404);

  ASSERT_TRUE(client.Send("DELETE", "", {{"Mcp-Session-Id", session}}));
  response = client.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 404);
}

TEST_F(ExampleServerHttp, ToolCallsOnOneKeptAliveConnection) {
  std::string session = OpenSession();
  HttpClient client(port());
  std::map<std::string, std::string> headers = {{"Mcp-Session-Id", session},
                                                {"MCP-Protocol-Version", "2025-11-25"}};
  ASSERT_TRUE(client.Send("POST", R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", headers));
  std::optional<HttpResponse> list = client.ReadResponse();
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->status, 200);
  rapidjson::Document tools = ParseJson(list->body);
  ASSERT_TRUE(tools.IsObject());
  EXPECT_EQ(tools["result"]["tools"].Size(), 3u);

  ASSERT_TRUE(client.Send("POST", ToolCall("3", "echo", R"({"message":"hello"})"), headers));
  std::optional<HttpResponse> echo = client.ReadResponse();
  ASSERT_TRUE(echo.has_value());
  EXPECT_STREQ(ParseJson(echo->body)["result"]["content"][0]["text"].GetString(), "hello");

  ASSERT_TRUE(client.Send("POST", ToolCall("4", "add", R"({"a":2,"b":3})"), headers));
  std::optional<HttpResponse> add = client.ReadResponse();
  ASSERT_TRUE(add.has_value());
  rapidjson::Document sum = ParseJson(add->body);
  EXPECT_STREQ(sum["result"]["content"][0]["text"].GetString(), "5");
  EXPECT_EQ(sum["result"]["structuredContent"]["sum"].GetInt(), 5);
}

TEST_F(ExampleServerHttp, SlowCountStreamsProgressThenResult) {
  std::string session = OpenSession();
  HttpClient client(port());
  ASSERT_TRUE(client.Send(
      "POST",
      R"({"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"slow_count",)"
      R"("arguments":{"n":3,"interval_ms":5},"_meta":{"progressToken":42}}})",
      {{"Mcp-Session-Id", session}}));
  std::optional<HttpResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("content-type"), "text/event-stream");
  EXPECT_EQ(response->Header("cache-control"), "no-cache");
  EXPECT_EQ(response->Header("x-accel-buffering"), "no");
  EXPECT_TRUE(response->chunked);
  EXPECT_NE(response->body.find("event: message\n"), std::string::npos);

  std::vector<std::string> events = SseData(response->body);
  ASSERT_EQ(events.size(), 4u) << response->body;
  for (int i = 0; i < 3; ++i) {
    rapidjson::Document note = ParseJson(events[i]);
    ASSERT_TRUE(note.IsObject()) << events[i];
    EXPECT_STREQ(note["method"].GetString(), "notifications/progress");
    EXPECT_EQ(note["params"]["progressToken"].GetInt(), 42);
    EXPECT_EQ(note["params"]["progress"].GetInt(), i + 1);
    EXPECT_EQ(note["params"]["total"].GetInt(), 3);
  }
  rapidjson::Document result = ParseJson(events[3]);
  EXPECT_STREQ(result["id"].GetString(), "c");
  EXPECT_STREQ(result["result"]["content"][0]["text"].GetString(), "counted to 3");

  // The connection is still usable after the stream ended.
  ASSERT_TRUE(client.Send("POST", R"({"jsonrpc":"2.0","id":5,"method":"ping"})",
                          {{"Mcp-Session-Id", session}}));
  std::optional<HttpResponse> pong = client.ReadResponse();
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(pong->status, 200);
}

// While a long slow_count streams on one connection, other requests are answered; cancelling it
// ends its stream without a result.
TEST_F(ExampleServerHttp, ServesOthersWhileStreamingAndCancels) {
  std::string session = OpenSession();
  HttpClient streaming(port());
  ASSERT_TRUE(streaming.Send(
      "POST",
      R"({"jsonrpc":"2.0","id":77,"method":"tools/call","params":{"name":"slow_count",)"
      R"("arguments":{"n":2,"interval_ms":60000},"_meta":{"progressToken":"p"}}})",
      {{"Mcp-Session-Id", session}}));
  std::optional<HttpResponse> head = streaming.ReadHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->Header("content-type"), "text/event-stream");

  std::optional<HttpResponse> pong = Post(R"({"jsonrpc":"2.0","id":6,"method":"ping"})", session);
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(pong->status, 200);

  std::optional<HttpResponse> cancel = Post(
      R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":77}})", session);
  ASSERT_TRUE(cancel.has_value());
  EXPECT_EQ(cancel->status, 202);

  // The stream ends (last chunk) and carried no result.
  std::string body;
  while (true) {
    std::optional<std::string> chunk = streaming.ReadChunk();
    ASSERT_TRUE(chunk.has_value()) << "stream did not end";
    if (chunk->empty()) {
      break;
    }
    body += *chunk;
  }
  EXPECT_EQ(body.find("\"result\""), std::string::npos) << body;
}

TEST_F(ExampleServerHttp, BatchAndMalformedBodiesAreRejected) {
  std::string session = OpenSession();
  std::optional<HttpResponse> batch =
      Post(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])", session);
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->status, 400);
  EXPECT_EQ(ErrorCode(batch->body), -32600);
  EXPECT_TRUE(ParseJson(batch->body)["id"].IsNull());

  std::optional<HttpResponse> malformed = Post(R"({"jsonrpc":"2.0","id":1,)", session);
  ASSERT_TRUE(malformed.has_value());
  EXPECT_EQ(malformed->status, 400);
  EXPECT_EQ(ErrorCode(malformed->body), -32700);
  EXPECT_TRUE(ParseJson(malformed->body)["id"].IsNull());

  std::optional<HttpResponse> unknown =
      Post(R"({"jsonrpc":"2.0","id":2,"method":"no/such"})", session);
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(unknown->status, 200);
  EXPECT_EQ(ErrorCode(unknown->body), -32601);
}

TEST_F(ExampleServerHttp, OversizedBodyIs413) {
  HttpClient client(port());
  // Announced size over the limit: refused before the body is read.
  ASSERT_TRUE(
      client.SendRaw("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: 5000000\r\n\r\n{"));
  std::optional<HttpResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(ExampleServerHttp, GarbageGets400AndServerLivesOn) {
  HttpClient client(port());
  ASSERT_TRUE(client.SendRaw(std::string("\x16\x03\x01\x00\xa5 not http\r\n\r\n")));
  std::optional<HttpResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 400);
  EXPECT_FALSE(OpenSession().empty());
}

TEST_F(ExampleServerHttp, SigtermExitsZero) {
  OpenSession();
  server_.process().Signal(SIGTERM);
  EXPECT_EQ(server_.process().WaitExit(), 0);
}

}  // namespace
}  // namespace portcullis::example_test
