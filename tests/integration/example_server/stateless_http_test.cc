// mcp-example-server over stateless Streamable HTTP (revision 2026-07-28): requests that declare
// the revision in params._meta need no session, their headers must mirror their body, results
// carry resultType; against the real binary on loopback.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/example_server/example_server_harness.h"

namespace portcullis::example_test {
namespace {

const char kVersion[] = "2026-07-28";
const char kMeta[] = R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"})";

// A 2026-07-28 request body; `params_json` holds extra params members ("" for none).
std::string StatelessRequest(const std::string& id_json, const std::string& method,
                             const std::string& params_json = "") {
  std::string params = "{" + params_json + (params_json.empty() ? "" : ",") + kMeta + "}";
  return Request(id_json, method, params);
}

// The headers a conforming client sends along (`name` is Mcp-Name; "" for none).
std::map<std::string, std::string> Headers(const std::string& method,
                                           const std::string& name = "") {
  std::map<std::string, std::string> headers = {{"MCP-Protocol-Version", kVersion},
                                                {"Mcp-Method", method}};
  if (!name.empty()) {
    headers["Mcp-Name"] = name;
  }
  return headers;
}

int ErrorCode(const rapidjson::Document& doc) {
  if (!doc.IsObject() || !doc.HasMember("error") || !doc["error"].HasMember("code")) {
    return 0;
  }
  return doc["error"]["code"].GetInt();
}

class ExampleServerStatelessHttp : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NE(server_.port(), 0) << "no \"listening on\" line"; }

  // One POST on its own connection.
  std::optional<HttpResponse> Post(const std::string& body,
                                   const std::map<std::string, std::string>& headers) {
    HttpClient client(server_.port());
    if (!client.Send("POST", body, headers)) {
      return std::nullopt;
    }
    return client.ReadResponse();
  }

  // Expects a 400 with a -32020 error answering `id`.
  void ExpectHeaderMismatch(const std::string& body,
                            const std::map<std::string, std::string>& headers, int id) {
    std::optional<HttpResponse> response = Post(body, headers);
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 400) << response->body;
    rapidjson::Document doc = ParseJson(response->body);
    EXPECT_EQ(ErrorCode(doc), -32020) << response->body;
    ASSERT_TRUE(doc.IsObject() && doc.HasMember("id") && doc["id"].IsInt()) << response->body;
    EXPECT_EQ(doc["id"].GetInt(), id);
  }

  HttpServerProcess server_;
};

TEST_F(ExampleServerStatelessHttp, ToolsListNeedsNoSessionAndReturnsNone) {
  std::optional<HttpResponse> response =
      Post(StatelessRequest("1", "tools/list"), Headers("tools/list"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("content-type"), "application/json");
  EXPECT_EQ(response->headers.count("mcp-session-id"), 0u);
  rapidjson::Document doc = ParseJson(response->body);
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("result")) << response->body;
  const rapidjson::Value& result = doc["result"];
  EXPECT_EQ(result["tools"].Size(), 3u);
  EXPECT_STREQ(result["resultType"].GetString(), "complete");
  // A cacheable result: the schema requires the caching hints.
  EXPECT_EQ(result["ttlMs"].GetInt(), 0);
  EXPECT_STREQ(result["cacheScope"].GetString(), "public");
  EXPECT_STREQ(result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"].GetString(),
               "mcp-example-server");
}

TEST_F(ExampleServerStatelessHttp, DiscoverListsVersionsAndCapabilities) {
  std::optional<HttpResponse> response =
      Post(StatelessRequest("\"d\"", "server/discover"), Headers("server/discover"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  rapidjson::Document doc = ParseJson(response->body);
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("result")) << response->body;
  const rapidjson::Value& result = doc["result"];
  std::vector<std::string> versions;
  for (const auto& version : result["supportedVersions"].GetArray()) {
    versions.push_back(version.GetString());
  }
  EXPECT_NE(std::find(versions.begin(), versions.end(), "2026-07-28"), versions.end());
  EXPECT_NE(std::find(versions.begin(), versions.end(), "2025-11-25"), versions.end());
  EXPECT_TRUE(result["capabilities"].HasMember("tools"));
  EXPECT_TRUE(result["capabilities"].HasMember("resources"));
  EXPECT_TRUE(result["capabilities"].HasMember("prompts"));
  EXPECT_STREQ(result["resultType"].GetString(), "complete");
  EXPECT_STREQ(result["_meta"]["io.modelcontextprotocol/serverInfo"]["version"].GetString(),
               "0.1.0");
}

TEST_F(ExampleServerStatelessHttp, ToolsResourcesAndPromptsWork) {
  std::optional<HttpResponse> echo =
      Post(StatelessRequest("2", "tools/call", R"("name":"echo","arguments":{"message":"hi"})"),
           Headers("tools/call", "echo"));
  ASSERT_TRUE(echo.has_value());
  rapidjson::Document doc = ParseJson(echo->body);
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("result")) << echo->body;
  EXPECT_STREQ(doc["result"]["content"][0]["text"].GetString(), "hi");
  EXPECT_STREQ(doc["result"]["resultType"].GetString(), "complete");
  EXPECT_FALSE(doc["result"].HasMember("ttlMs"));  // tools/call is not cacheable

  std::optional<HttpResponse> add =
      Post(StatelessRequest("3", "tools/call", R"("name":"add","arguments":{"a":2,"b":3})"),
           Headers("tools/call", "add"));
  ASSERT_TRUE(add.has_value());
  doc = ParseJson(add->body);
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("result")) << add->body;
  EXPECT_EQ(doc["result"]["structuredContent"]["sum"].GetInt(), 5);

  std::optional<HttpResponse> read =
      Post(StatelessRequest("4", "resources/read", R"("uri":"example://greeting")"),
           Headers("resources/read", "example://greeting"));
  ASSERT_TRUE(read.has_value());
  doc = ParseJson(read->body);
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("result")) << read->body;
  EXPECT_STREQ(doc["result"]["contents"][0]["text"].GetString(), "Hello from mcp-example-server");
  EXPECT_STREQ(doc["result"]["cacheScope"].GetString(), "public");

  // 2026-07-28 reports a missing resource as -32602, no longer -32002.
  std::optional<HttpResponse> missing =
      Post(StatelessRequest("5", "resources/read", R"("uri":"example://nothing")"),
           Headers("resources/read", "example://nothing"));
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(ErrorCode(ParseJson(missing->body)), -32602) << missing->body;

  std::optional<HttpResponse> prompt =
      Post(StatelessRequest("6", "prompts/get", R"("name":"greet","arguments":{"name":"Ada"})"),
           Headers("prompts/get", "greet"));
  ASSERT_TRUE(prompt.has_value());
  doc = ParseJson(prompt->body);
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("result")) << prompt->body;
  EXPECT_STREQ(doc["result"]["messages"][0]["content"]["text"].GetString(), "Please greet Ada.");

  for (const char* method : {"resources/list", "resources/templates/list", "prompts/list"}) {
    std::optional<HttpResponse> list = Post(StatelessRequest("7", method), Headers(method));
    ASSERT_TRUE(list.has_value());
    doc = ParseJson(list->body);
    ASSERT_TRUE(doc.IsObject() && doc.HasMember("result")) << method << ": " << list->body;
    EXPECT_STREQ(doc["result"]["resultType"].GetString(), "complete");
  }
}

TEST_F(ExampleServerStatelessHttp, HeaderMismatchesAre400With32020) {
  std::string list = StatelessRequest("8", "tools/list");
  ExpectHeaderMismatch(list, {{"Mcp-Method", "tools/list"}}, 8);  // no MCP-Protocol-Version
  ExpectHeaderMismatch(list, {{"MCP-Protocol-Version", "2025-11-25"}, {"Mcp-Method", "tools/list"}},
                       8);
  ExpectHeaderMismatch(list, {{"MCP-Protocol-Version", kVersion}}, 8);  // no Mcp-Method
  ExpectHeaderMismatch(list, Headers("prompts/list"), 8);
  ExpectHeaderMismatch(list, Headers("Tools/List"), 8);  // values are case-sensitive

  std::string call = StatelessRequest("9", "tools/call", R"("name":"echo","arguments":{})");
  ExpectHeaderMismatch(call, Headers("tools/call"), 9);  // no Mcp-Name
  ExpectHeaderMismatch(call, Headers("tools/call", "add"), 9);
  ExpectHeaderMismatch(call, Headers("tools/call", "=?base64?YWRk?="), 9);  // "add"
  ExpectHeaderMismatch(call, Headers("tools/call", "=?base64?not base64?="), 9);
  ExpectHeaderMismatch(StatelessRequest("10", "resources/read", R"("uri":"example://greeting")"),
                       Headers("resources/read", "example://other"), 10);
  ExpectHeaderMismatch(StatelessRequest("11", "prompts/get", R"("name":"greet")"),
                       Headers("prompts/get", "great"), 11);
}

TEST_F(ExampleServerStatelessHttp, Base64MirroredNameIsDecoded) {
  std::optional<HttpResponse> response =
      Post(StatelessRequest("12", "tools/call", R"("name":"echo","arguments":{"message":"b"})"),
           Headers("tools/call", "=?base64?ZWNobw==?="));  // "echo"
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200) << response->body;
  rapidjson::Document doc = ParseJson(response->body);
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("result")) << response->body;
  EXPECT_STREQ(doc["result"]["content"][0]["text"].GetString(), "b");
}

TEST_F(ExampleServerStatelessHttp, UnknownMethodAndVersionAreModernErrors) {
  // initialize belongs to the session era; in a 2026-07-28 request it is just unknown.
  std::optional<HttpResponse> unknown =
      Post(StatelessRequest("13", "initialize"), Headers("initialize"));
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(ErrorCode(ParseJson(unknown->body)), -32601) << unknown->body;

  std::optional<HttpResponse> version =
      Post(R"({"jsonrpc":"2.0","id":14,"method":"tools/list",)"
           R"("params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01"}}})",
           {{"MCP-Protocol-Version", "2099-01-01"}, {"Mcp-Method", "tools/list"}});
  ASSERT_TRUE(version.has_value());
  EXPECT_EQ(version->status, 400);
  rapidjson::Document doc = ParseJson(version->body);
  EXPECT_EQ(ErrorCode(doc), -32022) << version->body;
  ASSERT_TRUE(doc["error"].HasMember("data")) << version->body;
  EXPECT_STREQ(doc["error"]["data"]["supported"][0].GetString(), "2026-07-28");
  EXPECT_STREQ(doc["error"]["data"]["requested"].GetString(), "2099-01-01");
}

TEST_F(ExampleServerStatelessHttp, SessionHeaderIsIgnored) {
  std::map<std::string, std::string> headers = Headers("tools/list");
  headers["Mcp-Session-Id"] = "00000000000000000000000000000000";
  std::optional<HttpResponse> response = Post(StatelessRequest("15", "tools/list"), headers);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200) << response->body;
  EXPECT_EQ(response->headers.count("mcp-session-id"), 0u);
}

TEST_F(ExampleServerStatelessHttp, SlowCountStreamsProgressBeforeTheResult) {
  HttpClient client(server_.port());
  ASSERT_TRUE(client.Send("POST",
                          Request("\"s\"", "tools/call",
                                  R"({"name":"slow_count","arguments":{"n":3,"interval_ms":5},)"
                                  R"("_meta":{"progressToken":7,)"
                                  R"("io.modelcontextprotocol/protocolVersion":"2026-07-28"}})"),
                          Headers("tools/call", "slow_count")));
  std::optional<HttpResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("content-type"), "text/event-stream");
  EXPECT_EQ(response->headers.count("mcp-session-id"), 0u);
  std::vector<std::string> events = SseData(response->body);
  ASSERT_EQ(events.size(), 4u) << response->body;
  for (int i = 0; i < 3; ++i) {
    rapidjson::Document note = ParseJson(events[i]);
    ASSERT_TRUE(note.IsObject()) << events[i];
    EXPECT_STREQ(note["method"].GetString(), "notifications/progress");
    EXPECT_EQ(note["params"]["progressToken"].GetInt(), 7);
    EXPECT_EQ(note["params"]["progress"].GetInt(), i + 1);
  }
  rapidjson::Document result = ParseJson(events[3]);
  ASSERT_TRUE(result.IsObject() && result.HasMember("result")) << events[3];
  EXPECT_STREQ(result["id"].GetString(), "s");
  EXPECT_STREQ(result["result"]["content"][0]["text"].GetString(), "counted to 3");
  EXPECT_STREQ(result["result"]["resultType"].GetString(), "complete");
}

// Closing a stateless stream cancels its count (2026-07-28 "Cancellation"); the server serves on,
// also on a fresh request with the same id.
TEST_F(ExampleServerStatelessHttp, ClosingTheStreamLeavesTheServerServing) {
  std::string body =
      R"({"jsonrpc":"2.0","id":20,"method":"tools/call","params":{"name":"slow_count",)"
      R"("arguments":{"n":2,"interval_ms":60000},)"
      R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})";
  {
    HttpClient streaming(server_.port());
    ASSERT_TRUE(streaming.Send("POST", body, Headers("tools/call", "slow_count")));
    std::optional<HttpResponse> head = streaming.ReadHead();
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->Header("content-type"), "text/event-stream");
  }  // closes the connection

  HttpClient again(server_.port());
  ASSERT_TRUE(again.Send("POST", body, Headers("tools/call", "slow_count")));
  std::optional<HttpResponse> head = again.ReadHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);

  std::optional<HttpResponse> list =
      Post(StatelessRequest("21", "tools/list"), Headers("tools/list"));
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->status, 200);
}

// The session era's answers are unchanged: no session → 400 on POST and DELETE, GET → 405.
TEST_F(ExampleServerStatelessHttp, SessionEraAnswersAreUnchanged) {
  std::optional<HttpResponse> post = Post(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})", {});
  ASSERT_TRUE(post.has_value());
  EXPECT_EQ(post->status, 400);

  HttpClient client(server_.port());
  ASSERT_TRUE(client.Send("GET", "", {{"Accept", "text/event-stream"}}));
  std::optional<HttpResponse> get = client.ReadResponse();
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->status, 405);
  ASSERT_TRUE(client.Send("DELETE", ""));
  std::optional<HttpResponse> del = client.ReadResponse();
  ASSERT_TRUE(del.has_value());
  EXPECT_EQ(del->status, 400);

  // The modern version header on a body that does not declare it is a mismatch.
  std::optional<HttpResponse> undeclared =
      Post(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", Headers("tools/list"));
  ASSERT_TRUE(undeclared.has_value());
  EXPECT_EQ(undeclared->status, 400);
  EXPECT_EQ(ErrorCode(ParseJson(undeclared->body)), -32020) << undeclared->body;
}

}  // namespace
}  // namespace portcullis::example_test
