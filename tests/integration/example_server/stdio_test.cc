// mcp-example-server over stdio: the real binary on pipes, one JSON-RPC message per line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/example_server/example_server_harness.h"

namespace portcullis::example_test {
namespace {

const char kInitialize[] =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",)"
    R"("capabilities":{},"clientInfo":{"name":"test","version":"1"}}})";

// Sends one line and returns the parsed reply with `id_json`.
rapidjson::Document Call(ServerProcess& server, const std::string& line,
                         const std::string& id_json) {
  EXPECT_TRUE(server.WriteLine(line));
  std::optional<std::string> reply = server.ReadReply(id_json);
  EXPECT_TRUE(reply.has_value()) << "no reply to " << line;
  return ParseJson(reply.value_or("{}"));
}

std::string Text(const rapidjson::Document& reply) {
  if (!reply.IsObject() || !reply.HasMember("result")) {
    return "<no result>";
  }
  return reply["result"]["content"][0]["text"].GetString();
}

int ErrorCode(const rapidjson::Document& reply) {
  if (!reply.IsObject() || !reply.HasMember("error")) {
    return 0;
  }
  return reply["error"]["code"].GetInt();
}

TEST(ExampleServerStdio, InitializeEchoesSupportedVersion) {
  ServerProcess server({});
  ASSERT_TRUE(server.started());
  rapidjson::Document reply = Call(server, kInitialize, "1");
  ASSERT_TRUE(reply.HasMember("result"));
  const auto& result = reply["result"];
  EXPECT_STREQ(result["protocolVersion"].GetString(), "2025-06-18");
  EXPECT_STREQ(result["serverInfo"]["name"].GetString(), "mcp-example-server");
  EXPECT_STREQ(result["serverInfo"]["version"].GetString(), "0.1.0");
  EXPECT_FALSE(result["capabilities"]["tools"]["listChanged"].GetBool());
  EXPECT_TRUE(result["capabilities"]["resources"].IsObject());
  EXPECT_TRUE(result["capabilities"]["prompts"].IsObject());
}

TEST(ExampleServerStdio, InitializeOffersLatestForUnknownVersion) {
  ServerProcess server({});
  rapidjson::Document reply = Call(
      server, Request("\"init\"", "initialize", R"({"protocolVersion":"1999-01-01"})"), "\"init\"");
  ASSERT_TRUE(reply.HasMember("result"));
  EXPECT_STREQ(reply["result"]["protocolVersion"].GetString(), "2025-11-25");
}

TEST(ExampleServerStdio, ToolsListDescribesEveryTool) {
  ServerProcess server({});
  Call(server, kInitialize, "1");
  ASSERT_TRUE(server.WriteLine(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
  rapidjson::Document reply =
      Call(server, R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", "2");
  ASSERT_TRUE(reply.HasMember("result"));
  const auto& tools = reply["result"]["tools"];
  ASSERT_TRUE(tools.IsArray());
  std::vector<std::string> names;
  for (const auto& tool : tools.GetArray()) {
    names.push_back(tool["name"].GetString());
    EXPECT_STREQ(tool["inputSchema"]["type"].GetString(), "object");
    EXPECT_TRUE(tool["inputSchema"]["properties"].IsObject());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"echo", "add", "slow_count"}));
}

TEST(ExampleServerStdio, EchoAndAdd) {
  ServerProcess server({});
  rapidjson::Document echo = Call(server, ToolCall("3", "echo", R"({"message":"hi\nthere"})"), "3");
  EXPECT_EQ(Text(echo), "hi\nthere");
  rapidjson::Document add = Call(server, ToolCall("4", "add", R"({"a":2,"b":3})"), "4");
  EXPECT_EQ(Text(add), "5");
  ASSERT_TRUE(add["result"].HasMember("structuredContent"));
  EXPECT_EQ(add["result"]["structuredContent"]["sum"].GetInt(), 5);
  rapidjson::Document add_fractions =
      Call(server, ToolCall("5", "add", R"({"a":1.5,"b":-0.25})"), "5");
  EXPECT_EQ(Text(add_fractions), "1.25");
}

TEST(ExampleServerStdio, BadToolCallsAreInvalidParams) {
  ServerProcess server({});
  EXPECT_EQ(ErrorCode(Call(
                server,
                R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope"}})", "1")),
            -32602);
  EXPECT_EQ(ErrorCode(Call(server, ToolCall("2", "add", R"({"a":"1","b":2})"), "2")), -32602);
  EXPECT_EQ(ErrorCode(Call(server, ToolCall("3", "slow_count", R"({"n":100001})"), "3")), -32602);
  EXPECT_EQ(
      ErrorCode(Call(server, ToolCall("4", "slow_count", R"({"n":2,"interval_ms":-1})"), "4")),
      -32602);
}

TEST(ExampleServerStdio, SlowCountSendsProgressBeforeResult) {
  ServerProcess server({});
  ASSERT_TRUE(server.WriteLine(
      R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"slow_count",)"
      R"("arguments":{"n":3,"interval_ms":5},"_meta":{"progressToken":"tok"}}})"));
  std::vector<std::string> before;
  std::optional<std::string> reply = server.ReadReply("7", &before);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(Text(ParseJson(*reply)), "counted to 3");
  ASSERT_EQ(before.size(), 3u);
  for (size_t i = 0; i < before.size(); ++i) {
    rapidjson::Document note = ParseJson(before[i]);
    ASSERT_TRUE(note.IsObject()) << before[i];
    EXPECT_STREQ(note["method"].GetString(), "notifications/progress");
    EXPECT_STREQ(note["params"]["progressToken"].GetString(), "tok");
    EXPECT_EQ(note["params"]["progress"].GetInt(), static_cast<int>(i + 1));
    EXPECT_EQ(note["params"]["total"].GetInt(), 3);
    EXPECT_TRUE(note["params"]["message"].IsString());
  }
}

TEST(ExampleServerStdio, SlowCountWithoutTokenSendsOnlyTheResult) {
  ServerProcess server({});
  ASSERT_TRUE(server.WriteLine(ToolCall("8", "slow_count", R"({"n":2,"interval_ms":1})")));
  std::optional<std::string> line = server.ReadLine();
  ASSERT_TRUE(line.has_value());
  rapidjson::Document reply = ParseJson(*line);
  EXPECT_EQ(reply["id"].GetInt(), 8);
  EXPECT_EQ(Text(reply), "counted to 2");
}

// A slow_count that would take two minutes does not hold up other requests, and
// notifications/cancelled stops it without a reply.
TEST(ExampleServerStdio, ServesOtherRequestsWhileCountingAndCancels) {
  ServerProcess server({});
  ASSERT_TRUE(server.WriteLine(
      R"({"jsonrpc":"2.0","id":"long","method":"tools/call","params":{"name":"slow_count",)"
      R"("arguments":{"n":2,"interval_ms":60000},"_meta":{"progressToken":1}}})"));
  ASSERT_TRUE(server.WriteLine(R"({"jsonrpc":"2.0","id":2,"method":"ping"})"));
  std::optional<std::string> line = server.ReadLine();
  ASSERT_TRUE(line.has_value());
  rapidjson::Document pong = ParseJson(*line);
  EXPECT_EQ(pong["id"].GetInt(), 2);
  EXPECT_TRUE(pong["result"].IsObject());

  ASSERT_TRUE(server.WriteLine(R"({"jsonrpc":"2.0","method":"notifications/cancelled",)"
                               R"("params":{"requestId":"long","reason":"test"}})"));
  ASSERT_TRUE(server.WriteLine(R"({"jsonrpc":"2.0","id":3,"method":"ping"})"));
  line = server.ReadLine();
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(ParseJson(*line)["id"].GetInt(), 3);

  // Nothing more is written for the cancelled request: stdout ends cleanly at exit.
  server.CloseStdin();
  EXPECT_EQ(server.ReadLine(), std::nullopt);
  EXPECT_EQ(server.WaitExit(), 0);
}

TEST(ExampleServerStdio, NotificationsGetNoReply) {
  ServerProcess server({});
  ASSERT_TRUE(server.WriteLine(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
  ASSERT_TRUE(server.WriteLine(R"({"jsonrpc":"2.0","method":"no/such/notification"})"));
  ASSERT_TRUE(server.WriteLine(R"({"jsonrpc":"2.0","id":9,"result":{}})"));  // a response
  ASSERT_TRUE(server.WriteLine(R"({"jsonrpc":"2.0","id":4,"method":"ping"})"));
  std::optional<std::string> line = server.ReadLine();
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(ParseJson(*line)["id"].GetInt(), 4);
}

TEST(ExampleServerStdio, MalformedBatchAndUnknownMethod) {
  ServerProcess server({});
  ASSERT_TRUE(server.WriteLine(R"({"jsonrpc":"2.0","id":1,"method":)"));
  std::optional<std::string> line = server.ReadLine();
  ASSERT_TRUE(line.has_value());
  rapidjson::Document malformed = ParseJson(*line);
  EXPECT_EQ(ErrorCode(malformed), -32700);
  EXPECT_TRUE(malformed["id"].IsNull());

  ASSERT_TRUE(server.WriteLine(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])"));
  line = server.ReadLine();
  ASSERT_TRUE(line.has_value());
  rapidjson::Document batch = ParseJson(*line);
  EXPECT_EQ(ErrorCode(batch), -32600);
  EXPECT_TRUE(batch["id"].IsNull());

  EXPECT_EQ(ErrorCode(Call(server, R"({"jsonrpc":"2.0","id":5,"method":"no/such"})", "5")), -32601);
}

TEST(ExampleServerStdio, ResourcesAndPrompts) {
  ServerProcess server({});
  rapidjson::Document list =
      Call(server, R"({"jsonrpc":"2.0","id":1,"method":"resources/list"})", "1");
  ASSERT_TRUE(list.HasMember("result"));
  EXPECT_STREQ(list["result"]["resources"][0]["uri"].GetString(), "example://greeting");
  EXPECT_STREQ(list["result"]["resources"][0]["mimeType"].GetString(), "text/plain");

  rapidjson::Document read = Call(
      server,
      R"({"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"example://greeting"}})",
      "2");
  ASSERT_TRUE(read.HasMember("result"));
  EXPECT_STREQ(read["result"]["contents"][0]["text"].GetString(), "Hello from mcp-example-server");
  EXPECT_EQ(
      ErrorCode(Call(
          server,
          R"({"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"example://nope"}})",
          "3")),
      -32002);

  rapidjson::Document templates =
      Call(server, R"({"jsonrpc":"2.0","id":4,"method":"resources/templates/list"})", "4");
  EXPECT_TRUE(templates["result"]["resourceTemplates"].IsArray());

  rapidjson::Document prompts =
      Call(server, R"({"jsonrpc":"2.0","id":5,"method":"prompts/list"})", "5");
  ASSERT_TRUE(prompts.HasMember("result"));
  EXPECT_STREQ(prompts["result"]["prompts"][0]["name"].GetString(), "greet");
  EXPECT_TRUE(prompts["result"]["prompts"][0]["arguments"][0]["required"].GetBool());

  rapidjson::Document prompt = Call(
      server, Request("6", "prompts/get", R"({"name":"greet","arguments":{"name":"Ada"}})"), "6");
  ASSERT_TRUE(prompt.HasMember("result"));
  EXPECT_STREQ(prompt["result"]["messages"][0]["role"].GetString(), "user");
  EXPECT_STREQ(prompt["result"]["messages"][0]["content"]["text"].GetString(), "Please greet Ada.");
}

TEST(ExampleServerStdio, ExitsZeroOnEof) {
  ServerProcess server({});
  ASSERT_TRUE(server.WriteLine(R"({"jsonrpc":"2.0","id":1,"method":"ping"})"));
  ASSERT_TRUE(server.ReadLine().has_value());
  server.CloseStdin();
  EXPECT_EQ(server.WaitExit(), 0);
}

TEST(ExampleServerStdio, ExitsZeroOnSigterm) {
  ServerProcess server({});
  ASSERT_TRUE(server.WriteLine(R"({"jsonrpc":"2.0","id":1,"method":"ping"})"));
  ASSERT_TRUE(server.ReadLine().has_value());  // running and serving
  server.Signal(SIGTERM);
  EXPECT_EQ(server.WaitExit(), 0);
}

}  // namespace
}  // namespace portcullis::example_test
