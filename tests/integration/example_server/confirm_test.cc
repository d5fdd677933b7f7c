// mcp-example-server's confirm tool: a server-to-client request (elicitation/create, form mode)
// whose answer becomes the tool's result. Over stdio (the request is a line on stdout, the answer
// a line on stdin) and over sessionful Streamable HTTP (the request is an event on the call's SSE
// reply stream, the answer a POST of a JSON-RPC response, 202); against the real binary.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "tests/integration/example_server/example_server_harness.h"

namespace portcullis::example_test {
namespace {

// initialize with the given ClientCapabilities (JSON text).
std::string Initialize(const std::string& capabilities_json) {
  return Request("1", "initialize",
                 R"({"protocolVersion":"2025-11-25","capabilities":)" + capabilities_json +
                     R"(,"clientInfo":{"name":"test","version":"1"}})");
}

const char kInitialized[] = R"({"jsonrpc":"2.0","method":"notifications/initialized"})";

std::set<std::string> ToolNames(const rapidjson::Document& reply) {
  std::set<std::string> names;
  if (!reply.IsObject() || !reply.HasMember("result")) {
    return names;
  }
  for (const auto& tool : reply["result"]["tools"].GetArray()) {
    names.insert(tool["name"].GetString());
  }
  return names;
}

std::string Text(const rapidjson::Document& reply) {
  if (!reply.IsObject() || !reply.HasMember("result")) {
    return "<no result>";
  }
  return reply["result"]["content"][0]["text"].GetString();
}

bool IsError(const rapidjson::Document& reply) {
  return reply.IsObject() && reply.HasMember("result") && reply["result"]["isError"].GetBool();
}

int ErrorCode(const rapidjson::Document& reply) {
  if (!reply.IsObject() || !reply.HasMember("error")) {
    return 0;
  }
  return reply["error"]["code"].GetInt();
}

// An id as JSON text (`7`, `"confirm-1"`), to write back as is.
std::string IdText(const rapidjson::Value& id) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  id.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// A JSON-RPC response from the client to the server's request `id_json`.
std::string Answer(const std::string& id_json, const std::string& result_json) {
  return R"({"jsonrpc":"2.0","id":)" + id_json + R"(,"result":)" + result_json + "}";
}

// ---------------------------------------------------------------------------------------------
// stdio

// A stdio server, initialized with `capabilities_json`.
class StdioSession {
 public:
  explicit StdioSession(const std::string& capabilities_json) : server_({}) {
    EXPECT_TRUE(server_.WriteLine(Initialize(capabilities_json)));
    EXPECT_TRUE(server_.ReadReply("1").has_value());
    EXPECT_TRUE(server_.WriteLine(kInitialized));
  }

  ServerProcess& server() { return server_; }

  rapidjson::Document Call(const std::string& line, const std::string& id_json) {
    EXPECT_TRUE(server_.WriteLine(line));
    std::optional<std::string> reply = server_.ReadReply(id_json);
    EXPECT_TRUE(reply.has_value()) << "no reply to " << line;
    return ParseJson(reply.value_or("{}"));
  }

  // Starts confirm as request `id_json` and returns the elicitation/create request it sends.
  rapidjson::Document StartConfirm(const std::string& id_json, const std::string& arguments_json) {
    EXPECT_TRUE(server_.WriteLine(ToolCall(id_json, "confirm", arguments_json)));
    std::optional<std::string> line = server_.ReadLine();
    EXPECT_TRUE(line.has_value()) << "no elicitation/create from confirm";
    return ParseJson(line.value_or("{}"));
  }

 private:
  ServerProcess server_;
};

TEST(ExampleServerConfirm, ListedOnlyForClientsThatElicitInFormMode) {
  const std::set<std::string> base = {"echo", "add", "slow_count"};
  const std::set<std::string> with_confirm = {"echo", "add", "slow_count", "confirm"};
  const std::string list = Request("2", "tools/list");
  EXPECT_EQ(ToolNames(StdioSession("{}").Call(list, "2")), base);
  EXPECT_EQ(ToolNames(StdioSession(R"({"sampling":{}})").Call(list, "2")), base);
  // URL mode only: a form cannot be asked for.
  EXPECT_EQ(ToolNames(StdioSession(R"({"elicitation":{"url":{}}})").Call(list, "2")), base);
  EXPECT_EQ(ToolNames(StdioSession(R"({"elicitation":{}})").Call(list, "2")), with_confirm);
  EXPECT_EQ(ToolNames(StdioSession(R"({"elicitation":{"form":{}}})").Call(list, "2")),
            with_confirm);
}

TEST(ExampleServerConfirm, StdioAcceptRoundTrip) {
  StdioSession session(R"({"elicitation":{}})");
  rapidjson::Document ask = session.StartConfirm("7", R"({"question":"Deploy to prod?"})");
  ASSERT_TRUE(ask.IsObject() && ask.HasMember("id") && ask.HasMember("method"));
  EXPECT_STREQ(ask["method"].GetString(), "elicitation/create");
  EXPECT_STREQ(ask["params"]["message"].GetString(), "Deploy to prod?");
  const auto& schema = ask["params"]["requestedSchema"];
  EXPECT_STREQ(schema["type"].GetString(), "object");
  EXPECT_STREQ(schema["properties"]["confirmed"]["type"].GetString(), "boolean");
  std::string ask_id = IdText(ask["id"]);

  rapidjson::Document reply =
      session.Call(Answer(ask_id, R"({"action":"accept","content":{"confirmed":true}})"), "7");
  EXPECT_EQ(Text(reply), R"(accept {"confirmed":true})");
  EXPECT_FALSE(IsError(reply));
}

TEST(ExampleServerConfirm, StdioDefaultQuestionDeclineAndCancel) {
  StdioSession session(R"({"elicitation":{"form":{}}})");
  rapidjson::Document ask = session.StartConfirm("\"a\"", "{}");
  ASSERT_TRUE(ask.IsObject() && ask.HasMember("params"));
  EXPECT_STREQ(ask["params"]["message"].GetString(), "Proceed?");
  rapidjson::Document reply =
      session.Call(Answer(IdText(ask["id"]), R"({"action":"decline"})"), "\"a\"");
  EXPECT_EQ(Text(reply), "decline");

  rapidjson::Document again = session.StartConfirm("\"b\"", "{}");
  ASSERT_TRUE(again.IsObject() && again.HasMember("id"));
  // Every server request gets its own id.
  EXPECT_NE(IdText(again["id"]), IdText(ask["id"]));
  reply = session.Call(Answer(IdText(again["id"]), R"({"action":"cancel"})"), "\"b\"");
  EXPECT_EQ(Text(reply), "cancel");
}

TEST(ExampleServerConfirm, StdioErrorAnswerIsAToolError) {
  StdioSession session(R"({"elicitation":{}})");
  rapidjson::Document ask = session.StartConfirm("3", "{}");
  ASSERT_TRUE(ask.IsObject() && ask.HasMember("id"));
  rapidjson::Document reply =
      session.Call(R"({"jsonrpc":"2.0","id":)" + IdText(ask["id"]) +
                       R"(,"error":{"code":-32601,"message":"no elicitation here"}})",
                   "3");
  EXPECT_TRUE(IsError(reply));
  EXPECT_NE(Text(reply).find("-32601"), std::string::npos) << Text(reply);
  EXPECT_NE(Text(reply).find("no elicitation here"), std::string::npos) << Text(reply);
}

TEST(ExampleServerConfirm, StdioRefusedWithoutTheCapability) {
  StdioSession session("{}");
  // The error is the very next line: no elicitation/create went out first.
  ASSERT_TRUE(session.server().WriteLine(ToolCall("4", "confirm", "{}")));
  std::optional<std::string> line = session.server().ReadLine();
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(ErrorCode(ParseJson(*line)), -32602) << *line;
  // A bad argument is refused the same way once the capability is there.
  StdioSession eliciting(R"({"elicitation":{}})");
  EXPECT_EQ(ErrorCode(eliciting.Call(ToolCall("5", "confirm", R"({"question":7})"), "5")), -32602);
}

TEST(ExampleServerConfirm, StdioCancelledCallCancelsTheQuestion) {
  StdioSession session(R"({"elicitation":{}})");
  rapidjson::Document ask = session.StartConfirm("9", "{}");
  ASSERT_TRUE(ask.IsObject() && ask.HasMember("id"));
  std::string ask_id = IdText(ask["id"]);
  ASSERT_TRUE(session.server().WriteLine(
      R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9}})"));
  std::optional<std::string> line = session.server().ReadLine();
  ASSERT_TRUE(line.has_value());
  rapidjson::Document cancelled = ParseJson(*line);
  ASSERT_TRUE(cancelled.IsObject() && cancelled.HasMember("method")) << *line;
  EXPECT_STREQ(cancelled["method"].GetString(), "notifications/cancelled");
  EXPECT_EQ(IdText(cancelled["params"]["requestId"]), ask_id);

  // A late answer, and one to a request never sent, are ignored: the next line is the ping's.
  ASSERT_TRUE(session.server().WriteLine(Answer(ask_id, R"({"action":"accept"})")));
  ASSERT_TRUE(session.server().WriteLine(Answer("\"nobody\"", "{}")));
  ASSERT_TRUE(session.server().WriteLine(Request("10", "ping")));
  line = session.server().ReadLine();
  ASSERT_TRUE(line.has_value());
  rapidjson::Document pong = ParseJson(*line);
  ASSERT_TRUE(pong.IsObject() && pong.HasMember("id")) << *line;
  EXPECT_EQ(IdText(pong["id"]), "10");
}

// ---------------------------------------------------------------------------------------------
// HTTP

class ExampleServerConfirmHttp : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NE(server_.port(), 0) << "no \"listening on\" line"; }

  // initialize (with `capabilities_json`) + notifications/initialized; returns the session id.
  std::string OpenSession(const std::string& capabilities_json) {
    HttpClient client(server_.port());
    EXPECT_TRUE(client.Send("POST", Initialize(capabilities_json)));
    std::optional<HttpResponse> response = client.ReadResponse();
    EXPECT_TRUE(response.has_value());
    if (!response) {
      return "";
    }
    std::string session = response->Header("mcp-session-id");
    EXPECT_TRUE(client.Send("POST", kInitialized, Headers(session)));
    std::optional<HttpResponse> accepted = client.ReadResponse();
    EXPECT_EQ(accepted ? accepted->status : 0, 202);
    return session;
  }

  static std::map<std::string, std::string> Headers(const std::string& session) {
    return {{"Mcp-Session-Id", session}, {"MCP-Protocol-Version", "2025-11-25"}};
  }

  // One POST on its own connection.
  std::optional<HttpResponse> Post(const std::string& body, const std::string& session) {
    HttpClient client(server_.port());
    if (!client.Send("POST", body, Headers(session))) {
      return std::nullopt;
    }
    return client.ReadResponse();
  }

  // The next SSE event's data on a streaming response, parsed.
  static rapidjson::Document NextEvent(HttpClient& client) {
    std::optional<std::string> chunk = client.ReadChunk();
    EXPECT_TRUE(chunk.has_value()) << "the stream stalled";
    std::vector<std::string> data = SseData(chunk.value_or(""));
    EXPECT_EQ(data.size(), 1u) << chunk.value_or("");
    return ParseJson(data.empty() ? "{}" : data[0]);
  }

  HttpServerProcess server_;
};

TEST_F(ExampleServerConfirmHttp, ElicitationOnTheReplyStreamAnswerByPost) {
  std::string session = OpenSession(R"({"elicitation":{}})");
  std::optional<HttpResponse> list = Post(Request("2", "tools/list"), session);
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(ToolNames(ParseJson(list->body)),
            (std::set<std::string>{"echo", "add", "slow_count", "confirm"}));

  HttpClient call(server_.port());
  ASSERT_TRUE(
      call.Send("POST", ToolCall("3", "confirm", R"({"question":"Ship it?"})"), Headers(session)));
  std::optional<HttpResponse> head = call.ReadHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-type"), "text/event-stream");
  EXPECT_EQ(head->Header("mcp-session-id"), session);
  ASSERT_TRUE(head->chunked);

  rapidjson::Document ask = NextEvent(call);
  ASSERT_TRUE(ask.IsObject() && ask.HasMember("method") && ask.HasMember("id"));
  EXPECT_STREQ(ask["method"].GetString(), "elicitation/create");
  EXPECT_STREQ(ask["params"]["message"].GetString(), "Ship it?");

  // The answer is a POST of a JSON-RPC response on another connection: 202, no body.
  std::optional<HttpResponse> accepted = Post(
      Answer(IdText(ask["id"]), R"({"action":"accept","content":{"confirmed":false}})"), session);
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ(accepted->status, 202);
  EXPECT_TRUE(accepted->body.empty());

  rapidjson::Document reply = NextEvent(call);
  ASSERT_TRUE(reply.IsObject() && reply.HasMember("id"));
  EXPECT_EQ(IdText(reply["id"]), "3");
  EXPECT_EQ(Text(reply), R"(accept {"confirmed":false})");
  // The stream ends after the result.
  std::optional<std::string> last = call.ReadChunk();
  ASSERT_TRUE(last.has_value());
  EXPECT_TRUE(last->empty());
}

TEST_F(ExampleServerConfirmHttp, AnswerFromAnotherSessionDoesNotCount) {
  std::string asking = OpenSession(R"({"elicitation":{}})");
  std::string other = OpenSession(R"({"elicitation":{}})");
  HttpClient call(server_.port());
  ASSERT_TRUE(call.Send("POST", ToolCall("4", "confirm", "{}"), Headers(asking)));
  ASSERT_TRUE(call.ReadHead().has_value());
  rapidjson::Document ask = NextEvent(call);
  ASSERT_TRUE(ask.IsObject() && ask.HasMember("id"));
  std::string ask_id = IdText(ask["id"]);

  // Sessions are separate: the other session's answer is accepted (202) and ignored.
  std::optional<HttpResponse> stray = Post(Answer(ask_id, R"({"action":"decline"})"), other);
  ASSERT_TRUE(stray.has_value());
  EXPECT_EQ(stray->status, 202);
  std::optional<HttpResponse> real = Post(Answer(ask_id, R"({"action":"cancel"})"), asking);
  ASSERT_TRUE(real.has_value());
  EXPECT_EQ(real->status, 202);
  EXPECT_EQ(Text(NextEvent(call)), "cancel");
}

TEST_F(ExampleServerConfirmHttp, NotOfferedWithoutTheCapabilityNorStateless) {
  std::string session = OpenSession("{}");
  std::optional<HttpResponse> list = Post(Request("2", "tools/list"), session);
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(ToolNames(ParseJson(list->body)), (std::set<std::string>{"echo", "add", "slow_count"}));
  std::optional<HttpResponse> refused = Post(ToolCall("3", "confirm", "{}"), session);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 200);
  EXPECT_EQ(ErrorCode(ParseJson(refused->body)), -32602) << refused->body;

  // 2026-07-28 has no server-to-client requests: confirm is neither listed nor callable.
  HttpClient client(server_.port());
  const std::string meta = R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"})";
  ASSERT_TRUE(client.Send(
      "POST", Request("5", "tools/call", R"({"name":"confirm","arguments":{},)" + meta + "}"),
      {{"MCP-Protocol-Version", "2026-07-28"},
       {"Mcp-Method", "tools/call"},
       {"Mcp-Name", "confirm"}}));
  std::optional<HttpResponse> stateless = client.ReadResponse();
  ASSERT_TRUE(stateless.has_value());
  EXPECT_EQ(ErrorCode(ParseJson(stateless->body)), -32602) << stateless->body;
  ASSERT_TRUE(client.Send("POST", Request("6", "tools/list", "{" + meta + "}"),
                          {{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/list"}}));
  std::optional<HttpResponse> stateless_list = client.ReadResponse();
  ASSERT_TRUE(stateless_list.has_value());
  EXPECT_EQ(ToolNames(ParseJson(stateless_list->body)),
            (std::set<std::string>{"echo", "add", "slow_count"}));
}

}  // namespace
}  // namespace portcullis::example_test
