// List results filtered per identity when the upstream answers with text/event-stream (the
// example server only answers lists with JSON, so a ScriptedUpstream plays the server): each
// list kind, in LF, CRLF and CR line endings, with the events cut across TCP writes at awkward
// places (between CR and LF, inside "data:", inside the JSON). Events that are not list results
// pass unchanged; nextCursor passes; a list event larger than the bound is cut, never passed
// unfiltered. And the same lists as JSON replies: error replies, odd lists, the size bound.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/gateway/policy_fixture.h"

namespace portcullis::gateway_test {
namespace {

using testing::SseEvent;
using testing::SseReader;

// Nothing any identity may use is called this; it must never reach a client.
constexpr char kForbidden[] = "delete_all";

const std::string kPolicy = std::string(R"({
  "rules": [
    {"name": "agent-one", "match": [{"spiffe_id": ")") +
                            testing::kGoodClientSpiffeId + R"("}],
     "grant": {"lists": {"tools": ["echo", "get_*"], "deny_tools": ["get_secret"],
                         "prompts": ["greet"], "resources": ["file:///public/**"]}}},
    {"name": "agent-two", "match": [{"spiffe_id": ")" +
                            kAgentTwoSpiffe + R"("}],
     "grant": {"lists": {"tools": ["add"], "prompts": ["summarize"],
                         "resources": ["file:///team/**"]}}}
  ]
})";

struct Kind {
  const char* method;
  const char* array;
  const char* key;
  const char* entries;  // the upstream's full list
  NameSet agent_one;    // what each identity may see
  NameSet agent_two;
};

const Kind kKinds[] = {
    {"tools/list",
     "tools",
     "name",
     R"([{"name":"echo","description":"Echoes.","inputSchema":{"type":"object"}},{"name":"add"},)"
     R"({"name":"get_weather"},{"name":"get_secret"},{"name":"delete_all"}])",
     {"echo", "get_weather"},
     {"add"}},
    {"prompts/list",
     "prompts",
     "name",
     R"([{"name":"greet"},{"name":"summarize"},{"name":"delete_all"}])",
     {"greet"},
     {"summarize"}},
    {"resources/list",
     "resources",
     "uri",
     R"([{"uri":"file:///public/a.txt","name":"a"},{"uri":"file:///team/b.txt","name":"b"},)"
     R"({"uri":"file:///secret/delete_all","name":"s"}])",
     {"file:///public/a.txt"},
     {"file:///team/b.txt"}},
    {"resources/templates/list",
     "resourceTemplates",
     "uriTemplate",
     R"([{"uriTemplate":"file:///public/{path}","name":"p"},)"
     R"({"uriTemplate":"file:///team/{path}","name":"t"},)"
     R"({"uriTemplate":"file:///secret/delete_all/{x}","name":"s"}])",
     {"file:///public/{path}"},
     {"file:///team/{path}"}},
};

std::string MethodOf(const std::string& body) {
  rapidjson::Document doc = ParseJson(body);
  return doc.IsObject() && doc.HasMember("method") && doc["method"].IsString()
             ? doc["method"].GetString()
             : "";
}

std::string ListResult(const std::string& id_json, const Kind& kind) {
  return R"({"jsonrpc":"2.0","id":)" + id_json + R"(,"result":{")" + kind.array + R"(":)" +
         kind.entries + R"(,"nextCursor":"page-2"}})";
}

constexpr char kProgress[] = R"({"jsonrpc":"2.0","method":"notifications/progress",)"
                             R"("params":{"progressToken":"t","progress":1}})";

// One SSE event carrying `json`, with `eol` line endings; `split_data` spreads the JSON over
// several data lines (cut after each comma of the top level object's first members).
std::string Event(const std::string& json, const std::string& eol, int id, bool split_data) {
  std::string event = "event: message" + eol + "id: " + std::to_string(id) + eol;
  if (split_data) {
    size_t cut = json.find(',');
    size_t cut2 = json.find(',', cut + 1);
    event += "data: " + json.substr(0, cut + 1) + eol;
    event += "data: " + json.substr(cut + 1, cut2 - cut) + eol;
    event += "data: " + json.substr(cut2 + 1) + eol;
  } else {
    event += "data: " + json + eol;
  }
  return event + eol;
}

// Awkward places to cut an event: inside "event:", inside the JSON, and each of the last three
// bytes (for CRLF: between CR and LF of the data line, between the two line endings, between
// CR and LF of the blank line).
std::vector<size_t> AwkwardCuts(const std::string& event) {
  size_t n = event.size();
  return {1, 3, 9, n / 2, n - 3, n - 2, n - 1};
}

class GatewayPolicyListFilter : public PolicyTestBase {
 protected:
  // The scripted upstream's answer to a list request; set by each test before it calls.
  struct Script {
    bool sse = true;
    std::string eol = "\n";
    bool split_data = false;
  };

  void StartGateway(std::vector<std::string> limits = {}) {
    ASSERT_TRUE(upstream_.ok()) << upstream_.error();
    GatewayConfig config;
    config.AddUpstream("lists", upstream_.url());
    config.policy = kPolicy;
    config.limits = std::move(limits);
    Status s = gateway_.Start(config);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  ScriptedReply Answer(const ScriptedUpstream::Request& request) {
    std::string method = MethodOf(request.body);
    std::string id = JsonRpcIdText(request.body);
    Script script;
    std::vector<std::string> override_reply;
    {
      std::lock_guard<std::mutex> lock(mu_);
      script = script_;
      override_reply = override_reply_;
    }
    if (!override_reply.empty()) {
      return {override_reply, 15, false};
    }
    for (const Kind& kind : kKinds) {
      if (method != kind.method) {
        continue;
      }
      std::string result = ListResult(id, kind);
      if (!script.sse) {
        return JsonReply(result);
      }
      std::string first = Event(kProgress, script.eol, 1, false);
      std::string second = Event(result, script.eol, 2, script.split_data);
      std::vector<std::string> pieces = CutAt(first, AwkwardCuts(first));
      for (std::string& piece : CutAt(second, AwkwardCuts(second))) {
        pieces.push_back(std::move(piece));
      }
      return SseReply(pieces);
    }
    return JsonReply(R"({"jsonrpc":"2.0","id":)" + id + R"(,"result":{}})");
  }

  void SetScript(Script script) {
    std::lock_guard<std::mutex> lock(mu_);
    script_ = std::move(script);
  }

  // POSTs a list request as `cert` and reads the SSE reply to its end.
  struct SseListReply {
    HttpResponse head;
    std::vector<SseEvent> events;
    std::string error;  // a broken stream
  };
  SseListReply ListOverSse(const CertKey& cert, const Kind& kind, int id) {
    SseListReply out;
    auto client = McpClient::Connect(gateway_.port(), cert, "/mcp/lists", false);
    if (!client.ok()) {
      out.error = client.error();
      return out;
    }
    auto reader = SseReader::Open((*client)->tls(), "POST", "/mcp/lists", (*client)->Headers(),
                                  JsonRpc(id, kind.method), kRequestMs);
    if (!reader.ok()) {
      out.error = reader.error();
      return out;
    }
    out.head = (*reader)->response();
    for (int i = 0; i < 100; ++i) {
      auto next = (*reader)->Next(kWaitMs);
      if (!next.ok()) {
        out.error = next.error();
        break;
      }
      if (!next->has_value()) {
        break;
      }
      out.events.push_back(std::move(**next));
    }
    return out;
  }

  // The reply of `cert` to `kind`'s list over SSE: the progress event unchanged, then the
  // result with exactly `expected`, the cursor and the id.
  void ExpectFilteredSse(const CertKey& cert, const Kind& kind, const NameSet& expected) {
    SseListReply reply = ListOverSse(cert, kind, 77);
    ASSERT_TRUE(reply.error.empty()) << reply.error;
    EXPECT_EQ(reply.head.status, 200);
    EXPECT_EQ(reply.head.Header("X-Accel-Buffering").value_or(""), "no");
    ASSERT_EQ(reply.events.size(), 2u);
    EXPECT_EQ(reply.events[0].data, kProgress) << "a notification passes unchanged";
    EXPECT_EQ(reply.events[0].id, "1");
    const std::string& data = reply.events[1].data;
    EXPECT_EQ(reply.events[1].id, "2") << "the event's other fields are kept";
    EXPECT_EQ(reply.events[1].event, "message");
    EXPECT_EQ(ListedNames(data, kind.array, kind.key), expected) << data;
    EXPECT_EQ(JsonRpcIdText(data), "77") << data;
    rapidjson::Document doc = ParseJson(data);
    ASSERT_TRUE(doc.IsObject()) << data;
    ASSERT_TRUE(doc["result"].HasMember("nextCursor")) << data;
    EXPECT_STREQ(doc["result"]["nextCursor"].GetString(), "page-2");
    EXPECT_EQ(data.find(kForbidden), std::string::npos) << data;
  }

  std::mutex mu_;
  Script script_;
  std::vector<std::string> override_reply_;  // raw pieces that replace the scripted answer
  ScriptedUpstream upstream_{[this](const ScriptedUpstream::Request& r) { return Answer(r); }};
  GatewayProcess gateway_;
};

TEST_F(GatewayPolicyListFilter, EachListKindOverSseIsFilteredPerIdentity) {
  StartGateway();
  for (const Kind& kind : kKinds) {
    SCOPED_TRACE(kind.method);
    ExpectFilteredSse(agent_one(), kind, kind.agent_one);
    ExpectFilteredSse(agent_two(), kind, kind.agent_two);
  }
}

TEST_F(GatewayPolicyListFilter, EveryLineEndingStyleAndCutIsFiltered) {
  StartGateway();
  for (const char* eol : {"\n", "\r\n", "\r"}) {
    for (bool split_data : {false, true}) {
      SCOPED_TRACE(std::string(eol[0] == '\r' ? (eol[1] ? "CRLF" : "CR") : "LF") +
                   (split_data ? ", data over three lines" : ", one data line"));
      SetScript({true, eol, split_data});
      ExpectFilteredSse(agent_one(), kKinds[0], kKinds[0].agent_one);
    }
  }
}

TEST_F(GatewayPolicyListFilter, ListEventLargerThanTheBoundIsCutNotPassed) {
  // limits.max_body_bytes bounds a buffered list reply. An unfinished list event growing past
  // it must not be passed on unfiltered: the reply is cut instead.
  StartGateway({R"("max_body_bytes": 4096)"});
  std::string tools = "[";
  for (int i = 0; i < 1000; ++i) {
    tools += std::string(i ? "," : "") + R"({"name":")" + (i % 2 ? "echo" : kForbidden) + "_" +
             std::to_string(i) + R"("})";
  }
  tools += "]";
  std::string event =
      "data: " + std::string(R"({"jsonrpc":"2.0","id":5,"result":{"tools":)") + tools + "}}\n\n";
  ASSERT_GT(event.size(), 3 * 4096u);
  std::vector<size_t> cuts;
  for (size_t at = 1000; at < event.size(); at += 1000) {
    cuts.push_back(at);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    override_reply_ = SseReply(CutAt(event, cuts)).pieces;
  }
  SseListReply reply = ListOverSse(agent_one(), kKinds[0], 5);
  // Either the gateway cut the stream, or (if the whole event reached it in one read) the
  // event came filtered: agent-one may use none of these tools.
  for (const SseEvent& e : reply.events) {
    EXPECT_EQ(e.data.find(kForbidden), std::string::npos) << e.data.substr(0, 300);
    EXPECT_EQ(ToolNames(e.data), NameSet{}) << e.data.substr(0, 300);
  }
  // The gateway serves on.
  {
    std::lock_guard<std::mutex> lock(mu_);
    override_reply_.clear();
  }
  ExpectFilteredSse(agent_one(), kKinds[0], kKinds[0].agent_one);
}

// ---- The same lists as JSON replies
// --------------------------------------------------------------

TEST_F(GatewayPolicyListFilter, EachListKindAsJsonIsFilteredPerIdentity) {
  StartGateway();
  SetScript({false, "\n", false});
  for (const Kind& kind : kKinds) {
    SCOPED_TRACE(kind.method);
    for (const CertKey* cert : {&agent_one(), &agent_two()}) {
      auto client = McpClient::Connect(gateway_.port(), *cert, "/mcp/lists", false);
      ASSERT_TRUE(client.ok()) << client.error();
      auto response = (*client)->Post(JsonRpc(8, kind.method));
      ASSERT_TRUE(response.ok()) << response.error();
      ASSERT_EQ(response->status, 200);
      EXPECT_EQ(ListedNames(response->body, kind.array, kind.key),
                cert == &agent_one() ? kind.agent_one : kind.agent_two)
          << response->body;
      EXPECT_NE(response->body.find(R"("nextCursor":"page-2")"), std::string::npos);
      EXPECT_EQ(response->body.find(kForbidden), std::string::npos) << response->body;
    }
  }
}

TEST_F(GatewayPolicyListFilter, JsonErrorReplyPassesUnchanged) {
  StartGateway();
  const std::string error =
      R"({"jsonrpc":"2.0","id":9,"error":{"code":-32601,"message":"no tools here"}})";
  {
    std::lock_guard<std::mutex> lock(mu_);
    override_reply_ = JsonReply(error).pieces;
  }
  auto client = McpClient::Connect(gateway_.port(), agent_one(), "/mcp/lists", false);
  ASSERT_TRUE(client.ok()) << client.error();
  auto response = (*client)->Post(JsonRpc(9, "tools/list"));
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, error);
}

TEST_F(GatewayPolicyListFilter, JsonListThatIsNotAnArrayComesBackEmpty) {
  StartGateway();
  {
    std::lock_guard<std::mutex> lock(mu_);
    override_reply_ =
        JsonReply(R"({"jsonrpc":"2.0","id":9,"result":{"tools":{"delete_all":{}}}})").pieces;
  }
  auto client = McpClient::Connect(gateway_.port(), agent_one(), "/mcp/lists", false);
  ASSERT_TRUE(client.ok()) << client.error();
  auto response = (*client)->Post(JsonRpc(9, "tools/list"));
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(ToolNames(response->body), NameSet{}) << response->body;
}

TEST_F(GatewayPolicyListFilter, ListReplyWithAnUnexpectedContentTypeIsNotPassedUnfiltered) {
  // Media types are case-insensitive (RFC 9110 §8.3.1), and an upstream may label its JSON
  // oddly; whatever the label, a 200 reply to a list request must not reach the client with
  // entries it may not use (filter it, or refuse it: fail closed).
  StartGateway();
  for (const char* type : {"Application/JSON; charset=utf-8", "text/plain", "application/x-json"}) {
    SCOPED_TRACE(type);
    std::string body = ListResult("9", kKinds[0]);
    {
      std::lock_guard<std::mutex> lock(mu_);
      override_reply_ = {HttpHead(200, type, {}, body.size()) + body};
    }
    auto client = McpClient::Connect(gateway_.port(), agent_one(), "/mcp/lists", false);
    ASSERT_TRUE(client.ok()) << client.error();
    auto response = (*client)->Post(JsonRpc(9, "tools/list"));
    ASSERT_TRUE(response.ok()) << response.error();
    EXPECT_EQ(response->body.find(kForbidden), std::string::npos)
        << "HTTP " << response->status << " " << response->Header("Content-Type").value_or("")
        << ": " << response->body;
  }
}

TEST_F(GatewayPolicyListFilter, ByteOrderMarkedJsonListIsNotPassedUnfiltered) {
  // RFC 8259 §8.1: parsers MAY ignore a leading byte order mark, and Python's json.loads on
  // bytes does. The filter must not hand such a list on as it came.
  StartGateway();
  std::string body = "\xEF\xBB\xBF" + ListResult("9", kKinds[0]);
  {
    std::lock_guard<std::mutex> lock(mu_);
    override_reply_ = JsonReply(body).pieces;
  }
  auto client = McpClient::Connect(gateway_.port(), agent_one(), "/mcp/lists", false);
  ASSERT_TRUE(client.ok()) << client.error();
  auto response = (*client)->Post(JsonRpc(9, "tools/list"));
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->body.find(kForbidden), std::string::npos)
      << "HTTP " << response->status << ": " << response->body;
}

TEST_F(GatewayPolicyListFilter, JsonListLargerThanTheBoundIsRefusedNotPassed) {
  StartGateway({R"("max_body_bytes": 4096)"});
  std::string tools = "[";
  for (int i = 0; i < 400; ++i) {
    tools += std::string(i ? "," : "") + R"({"name":")" + kForbidden + std::to_string(i) + R"("})";
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    override_reply_ =
        JsonReply(R"({"jsonrpc":"2.0","id":9,"result":{"tools":)" + tools + "]}}").pieces;
  }
  auto client = McpClient::Connect(gateway_.port(), agent_one(), "/mcp/lists", false);
  ASSERT_TRUE(client.ok()) << client.error();
  auto response = (*client)->Post(JsonRpc(9, "tools/list"));
  if (response.ok()) {
    EXPECT_EQ(response->status, 502) << response->body.substr(0, 300);
    EXPECT_EQ(response->body.find(kForbidden), std::string::npos);
  }
}

}  // namespace
}  // namespace portcullis::gateway_test
