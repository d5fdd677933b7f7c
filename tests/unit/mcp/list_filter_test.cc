// FilterListResponse (gateway/mcp/list_filter.h): a list result keeps exactly the entries the
// identity's grant allows, for each of the four list kinds; everything that is not such a
// result passes unchanged; odd entries are removed (fail closed); the rest of the response
// (id, nextCursor, _meta, the entries' other members) is kept as it was.
#include "gateway/mcp/list_filter.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "portcullis/identity.h"
#include "portcullis/policy.h"

namespace portcullis::mcp {
namespace {

constexpr char kPolicy[] = R"({
  "rules": [{
    "name": "team",
    "match": [{"cn": "agent-1"}],
    "grant": {
      "up": {
        "tools": ["echo", "get_*"], "deny_tools": ["get_secret*"],
        "prompts": ["greet", "summarize_*"], "deny_prompts": ["summarize_private"],
        "resources": ["file:///public/**", "example://greeting"],
        "deny_resources": ["file:///public/secret/**"]
      },
      "locked": {"tools": ["*"], "prompts": ["*"], "resources": ["**"],
                 "deny_methods": ["tools/call", "prompts/get", "resources/read"]}
    }
  }]
})";

Identity AgentOne() {
  Identity id;
  id.cn = "agent-1";
  id.subject = "CN=agent-1,O=Example";
  id.issuer = "CN=Portcullis Test CA,O=Portcullis Test";
  id.cert_sha256 = std::string(64, 'a');
  id.spki_sha256 = std::string(64, 'b');
  return id;
}

Identity Stranger() {
  Identity id = AgentOne();
  id.cn = "stranger";
  id.subject = "CN=stranger,O=Example";
  id.cert_sha256 = std::string(64, 'c');
  return id;
}

// error.code of a JSON-RPC error body, 0 otherwise; the id as JSON text, "" when absent.
int JsonRpcCode(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("error") ||
      !doc["error"].IsObject() || !doc["error"].HasMember("code") ||
      !doc["error"]["code"].IsInt()) {
    return 0;
  }
  return doc["error"]["code"].GetInt();
}

std::string IdOf(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("id")) {
    return "";
  }
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  doc["id"].Accept(writer);
  return std::string(out.GetString(), out.GetSize());
}

class ListFilter : public ::testing::Test {
 protected:
  void SetUp() override {
    policy::PolicyLoad load =
        policy::ParsePolicy("list_filter_test.json", kPolicy, {"up", "locked", "other"});
    ASSERT_TRUE(load.ok()) << (load.errors.empty() ? "" : load.errors[0].ToString());
    policy_ = load.policy;
    grant_ = policy_->GrantFor(identity_, "up");
    ASSERT_TRUE(grant_.granted());
  }

  // The filtered body, or "(unchanged)" for nullopt; *removed is what was taken out.
  std::string Filter(const std::string& body, ListKind kind, size_t* removed = nullptr,
                     const policy::UpstreamGrant* grant = nullptr) {
    size_t count = 12345;
    std::optional<std::string> out =
        FilterListResponse(body, kind, grant ? *grant : grant_, &count);
    if (removed) {
      *removed = count;
    }
    if (!out) {
      EXPECT_EQ(count, 0u) << "nothing is counted as removed from a body passed unchanged";
      return "(unchanged)";
    }
    rapidjson::Document doc;
    doc.Parse(out->c_str(), out->size());
    EXPECT_FALSE(doc.HasParseError()) << "filtered body is not JSON: " << *out;
    return *out;
  }

  // The values of `key` of each entry in result[array] of a filtered body.
  static std::vector<std::string> Names(const std::string& body, const char* array,
                                        const char* key) {
    std::vector<std::string> names;
    rapidjson::Document doc;
    doc.Parse(body.c_str(), body.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("result") ||
        !doc["result"].IsObject() || !doc["result"].HasMember(array) ||
        !doc["result"][array].IsArray()) {
      ADD_FAILURE() << "no result." << array << " array in " << body;
      return names;
    }
    for (const auto& entry : doc["result"][array].GetArray()) {
      names.push_back(entry.IsObject() && entry.HasMember(key) && entry[key].IsString()
                          ? entry[key].GetString()
                          : "(odd entry)");
    }
    return names;
  }

  Identity identity_ = AgentOne();
  std::shared_ptr<const policy::Policy> policy_;
  policy::UpstreamGrant grant_;
};

using Strings = std::vector<std::string>;

// ---- ListKindOf -----------------------------------------------------------------------------

TEST_F(ListFilter, ListKindOfEachListMethod) {
  EXPECT_EQ(ListKindOf("tools/list"), ListKind::kTools);
  EXPECT_EQ(ListKindOf("prompts/list"), ListKind::kPrompts);
  EXPECT_EQ(ListKindOf("resources/list"), ListKind::kResources);
  EXPECT_EQ(ListKindOf("resources/templates/list"), ListKind::kResourceTemplates);
}

TEST_F(ListFilter, ListKindOfOtherMethodsIsNone) {
  for (const char* method : {"", "tools/call", "prompts/get", "resources/read", "initialize",
                             "Tools/List", "tools/list ", "tools/list/x", "tools", "roots/list"}) {
    EXPECT_EQ(ListKindOf(method), ListKind::kNone) << '"' << method << '"';
  }
}

// ---- Each list kind ---------------------------------------------------------------------------

TEST_F(ListFilter, ToolsAreFilteredByName) {
  size_t removed = 0;
  std::string out =
      Filter(R"({"jsonrpc":"2.0","id":2,"result":{"tools":[)"
             R"({"name":"echo","description":"Echoes.","inputSchema":{"type":"object"}},)"
             R"({"name":"get_weather"},{"name":"get_secret_key"},{"name":"delete_all"},)"
             R"({"name":"get_time","title":"Time"}]}})",
             ListKind::kTools, &removed);
  EXPECT_EQ(Names(out, "tools", "name"), (Strings{"echo", "get_weather", "get_time"}));
  EXPECT_EQ(removed, 2u);
  // The kept entries are whole, in their order.
  rapidjson::Document doc;
  doc.Parse(out.c_str());
  const auto& echo = doc["result"]["tools"][0];
  EXPECT_STREQ(echo["description"].GetString(), "Echoes.");
  EXPECT_STREQ(echo["inputSchema"]["type"].GetString(), "object");
  EXPECT_STREQ(doc["result"]["tools"][2]["title"].GetString(), "Time");
  EXPECT_EQ(doc["id"].GetInt(), 2);
  EXPECT_STREQ(doc["jsonrpc"].GetString(), "2.0");
}

TEST_F(ListFilter, PromptsAreFilteredByName) {
  size_t removed = 0;
  std::string out =
      Filter(R"({"jsonrpc":"2.0","id":"p","result":{"prompts":[{"name":"greet","arguments":[]},)"
             R"({"name":"summarize_public"},{"name":"summarize_private"},{"name":"echo"}]}})",
             ListKind::kPrompts, &removed);
  EXPECT_EQ(Names(out, "prompts", "name"), (Strings{"greet", "summarize_public"}));
  EXPECT_EQ(removed, 2u);
}

TEST_F(ListFilter, ResourcesAreFilteredByUriNotByName) {
  size_t removed = 0;
  std::string out = Filter(R"({"jsonrpc":"2.0","id":3,"result":{"resources":[)"
                           R"({"uri":"file:///public/a.txt","name":"a"},)"
                           R"({"uri":"file:///public/secret/key.pem","name":"key"},)"
                           R"({"uri":"file:///etc/passwd","name":"echo"},)"
                           R"({"uri":"example://greeting","name":"file:///etc/passwd"},)"
                           R"({"name":"file:///public/no-uri.txt"}]}})",
                           ListKind::kResources, &removed);
  EXPECT_EQ(Names(out, "resources", "uri"),
            (Strings{"file:///public/a.txt", "example://greeting"}));
  EXPECT_EQ(removed, 3u);
}

TEST_F(ListFilter, ResourceTemplatesAreFilteredByTheirLiteralPrefix) {
  size_t removed = 0;
  std::string out = Filter(R"({"jsonrpc":"2.0","id":4,"result":{"resourceTemplates":[)"
                           R"({"uriTemplate":"file:///public/{path}","name":"public"},)"
                           R"({"uriTemplate":"file:///public/secret/{path}","name":"secret"},)"
                           R"({"uriTemplate":"file:///etc/{path}","name":"etc"},)"
                           R"({"uriTemplate":"example://greeting{?lang}","name":"greeting"},)"
                           R"({"uriTemplate":"{scheme}://anything","name":"any"},)"
                           R"({"uri":"file:///public/x","name":"uri, not uriTemplate"}]}})",
                           ListKind::kResourceTemplates, &removed);
  EXPECT_EQ(Names(out, "resourceTemplates", "uriTemplate"),
            (Strings{"file:///public/{path}", "example://greeting{?lang}"}));
  EXPECT_EQ(removed, 4u);
}

TEST_F(ListFilter, DeniedMethodHidesItsObjects) {
  // A list shows exactly what a call would be allowed: with tools/call denied, no tool.
  policy::UpstreamGrant locked = policy_->GrantFor(identity_, "locked");
  ASSERT_TRUE(locked.granted());
  size_t removed = 0;
  std::string out = Filter(R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"}]}})",
                           ListKind::kTools, &removed, &locked);
  EXPECT_EQ(Names(out, "tools", "name"), Strings{});
  EXPECT_EQ(removed, 1u);
  out = Filter(R"({"jsonrpc":"2.0","id":1,"result":{"resources":[{"uri":"example://x"}]}})",
               ListKind::kResources, &removed, &locked);
  EXPECT_EQ(Names(out, "resources", "uri"), Strings{});
}

TEST_F(ListFilter, NoGrantRemovesEverything) {
  policy::UpstreamGrant none = policy_->GrantFor(Stranger(), "up");
  EXPECT_FALSE(none.granted());
  size_t removed = 0;
  std::string out =
      Filter(R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"},{"name":"get_x"}]}})",
             ListKind::kTools, &removed, &none);
  EXPECT_EQ(Names(out, "tools", "name"), Strings{});
  EXPECT_EQ(removed, 2u);
}

TEST_F(ListFilter, EmptyListStaysEmpty) {
  size_t removed = 99;
  std::string out =
      Filter(R"({"jsonrpc":"2.0","id":1,"result":{"tools":[]}})", ListKind::kTools, &removed);
  EXPECT_EQ(Names(out, "tools", "name"), Strings{});
  EXPECT_EQ(removed, 0u);
}

TEST_F(ListFilter, EverythingAllowedKeepsEverything) {
  size_t removed = 99;
  std::string out =
      Filter(R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"},{"name":"get_a"}]}})",
             ListKind::kTools, &removed);
  EXPECT_EQ(Names(out, "tools", "name"), (Strings{"echo", "get_a"}));
  EXPECT_EQ(removed, 0u);
}

// ---- Pagination and the rest of the response -------------------------------------------------

TEST_F(ListFilter, NextCursorAndMetaPassThrough) {
  std::string out =
      Filter(R"({"jsonrpc":"2.0","id":"page-2","result":{"tools":[{"name":"delete_all"}],)"
             R"("nextCursor":"opaque==cursor/3","_meta":{"k":[1,2]},"ttlMs":0}})",
             ListKind::kTools);
  rapidjson::Document doc;
  doc.Parse(out.c_str());
  ASSERT_TRUE(doc.IsObject()) << out;
  EXPECT_STREQ(doc["id"].GetString(), "page-2");
  // A page may come back shorter, even empty, while the cursor still leads on.
  EXPECT_EQ(doc["result"]["tools"].Size(), 0u);
  EXPECT_STREQ(doc["result"]["nextCursor"].GetString(), "opaque==cursor/3");
  EXPECT_EQ(doc["result"]["_meta"]["k"][1].GetInt(), 2);
  EXPECT_EQ(doc["result"]["ttlMs"].GetInt(), 0);
}

TEST_F(ListFilter, UnicodeEscapedNamesAreJudgedUnescaped) {
  // "\u0065cho" is "echo" to every JSON parser, so it is the tool echo; and a name that only
  // looks like an allowed one after escaping is judged by what it really is.
  size_t removed = 0;
  std::string out = Filter(R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"\u0065cho"},)"
                           R"({"name":"get_secret\u005fkey"},{"name":"echo\u0000"}]}})",
                           ListKind::kTools, &removed);
  EXPECT_EQ(Names(out, "tools", "name"), Strings{"echo"});
  EXPECT_EQ(removed, 2u);
}

TEST_F(ListFilter, LongListIsFiltered) {
  std::string body = R"({"jsonrpc":"2.0","id":1,"result":{"tools":[)";
  for (int i = 0; i < 10000; ++i) {
    body += (i ? "," : "") + std::string(R"({"name":")") + (i % 2 ? "get_" : "nope_") +
            std::to_string(i) + "\"}";
  }
  body += "]}}";
  size_t removed = 0;
  std::string out = Filter(body, ListKind::kTools, &removed);
  EXPECT_EQ(Names(out, "tools", "name").size(), 5000u);
  EXPECT_EQ(removed, 5000u);
}

// ---- Odd entries and odd lists: fail closed ----------------------------------------------------

TEST_F(ListFilter, EntriesWithoutAUsableNameAreRemoved) {
  size_t removed = 0;
  std::string out = Filter(
      R"({"jsonrpc":"2.0","id":1,"result":{"tools":["echo",7,null,true,["echo"],{},)"
      R"({"title":"echo"},{"name":7},{"name":null},{"name":{"text":"echo"}},{"name":["echo"]},)"
      R"({"Name":"echo"},{"name":"echo"}]}})",
      ListKind::kTools, &removed);
  EXPECT_EQ(Names(out, "tools", "name"), Strings{"echo"});
  EXPECT_EQ(removed, 12u);
}

TEST_F(ListFilter, ListThatIsNotAnArrayIsEmptied) {
  for (const char* list : {R"({"echo":{"name":"echo"}})", R"("echo")", "null", "7", "true"}) {
    size_t removed = 0;
    std::string out = Filter(std::string(R"({"jsonrpc":"2.0","id":1,"result":{"tools":)") + list +
                                 R"(,"nextCursor":"c"}})",
                             ListKind::kTools, &removed);
    EXPECT_EQ(Names(out, "tools", "name"), Strings{}) << list;
    EXPECT_EQ(removed, 1u) << list;
    EXPECT_NE(out.find(R"("nextCursor":"c")"), std::string::npos) << out;
  }
}

// ---- What is not a list result passes unchanged
// --------------------------------------------------

TEST_F(ListFilter, ErrorResponsePassesUnchanged) {
  EXPECT_EQ(Filter(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}})",
                   ListKind::kTools),
            "(unchanged)");
}

TEST_F(ListFilter, NotificationsAndServerRequestsPassUnchanged) {
  // In an SSE reply, the events before the result are notifications or server requests.
  EXPECT_EQ(Filter(R"({"jsonrpc":"2.0","method":"notifications/progress",)"
                   R"("params":{"progressToken":1,"progress":1,"tools":[{"name":"x"}]}})",
                   ListKind::kTools),
            "(unchanged)");
  EXPECT_EQ(Filter(R"({"jsonrpc":"2.0","id":"s1","method":"roots/list"})", ListKind::kTools),
            "(unchanged)");
}

TEST_F(ListFilter, ResultWithoutTheListOfThisKindPassesUnchanged) {
  EXPECT_EQ(Filter(R"({"jsonrpc":"2.0","id":1,"result":{}})", ListKind::kTools), "(unchanged)");
  EXPECT_EQ(
      Filter(R"({"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":"x"}]}})", ListKind::kTools),
      "(unchanged)");
  EXPECT_EQ(Filter(R"({"jsonrpc":"2.0","id":1,"result":[{"name":"x"}]})", ListKind::kTools),
            "(unchanged)");
  EXPECT_EQ(Filter(R"({"jsonrpc":"2.0","id":1,"result":null})", ListKind::kTools), "(unchanged)");
  EXPECT_EQ(Filter(R"({"jsonrpc":"2.0","id":1,"result":"tools"})", ListKind::kTools),
            "(unchanged)");
}

TEST_F(ListFilter, NotJsonOrNotAnObjectPassesUnchanged) {
  for (const char* body : {"", "not json", "{", R"([{"jsonrpc":"2.0","id":1,"result":{}}])",
                           R"("tools")", "null", "{\"result\":{\"tools\":[{\"name\":\"x\"}]"}) {
    EXPECT_EQ(Filter(body, ListKind::kTools), "(unchanged)") << body;
  }
}

TEST_F(ListFilter, KindNoneFiltersNothing) {
  EXPECT_EQ(Filter(R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"delete_all"}]}})",
                   ListKind::kNone),
            "(unchanged)");
}

// ---- Deep nesting ------------------------------------------------------------------------------

std::string Nested(int depth) {
  return std::string(static_cast<size_t>(depth), '[') +
         std::string(static_cast<size_t>(depth), ']');
}

TEST_F(ListFilter, ModeratelyNestedSchemasAreFilteredNormally) {
  size_t removed = 0;
  std::string out = Filter(R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo",)"
                           R"("inputSchema":)" +
                               Nested(50) + R"(},{"name":"delete_all"}]}})",
                           ListKind::kTools, &removed);
  EXPECT_EQ(Names(out, "tools", "name"), Strings{"echo"});
  EXPECT_EQ(removed, 1u);
  EXPECT_NE(out.find(Nested(50)), std::string::npos);
}

TEST_F(ListFilter, DeeplyNestedListIsReplacedNotPassedUnfiltered) {
  // An upstream's reply nested 100000 deep cannot be walked safely; it must not come out as
  // it went in (with delete_all in it), and must not crash the filter.
  size_t removed = 0;
  std::string body = R"({"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"delete_all",)"
                     R"("inputSchema":)" +
                     Nested(100000) + "}]}}";
  std::string out = Filter(body, ListKind::kTools, &removed);
  ASSERT_NE(out, "(unchanged)");
  EXPECT_EQ(out.find("delete_all"), std::string::npos) << out.substr(0, 200);
  EXPECT_GE(removed, 1u);
  rapidjson::Document doc;
  doc.Parse(out.c_str());
  ASSERT_TRUE(doc.IsObject()) << out.substr(0, 200);
  EXPECT_TRUE(doc.HasMember("error")) << out.substr(0, 200);
}

TEST_F(ListFilter, ErrorReplacingADeepListKeepsTheRequestsId) {
  // The replacement answers the client's request: with "id": null (JSON-RPC 2.0 §5: only when
  // the id cannot be known) the client cannot match it and waits for an answer forever.
  std::string body = R"({"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo","inputSchema":)" +
                     Nested(1000) + "}]}}";
  std::string out = Filter(body, ListKind::kTools);
  rapidjson::Document doc;
  doc.Parse(out.c_str());
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("id")) << out.substr(0, 200);
  EXPECT_TRUE(doc["id"].IsInt() && doc["id"].GetInt() == 7) << out.substr(0, 200);
}

TEST_F(ListFilter, DeeplyNestedNotificationPassesUnchanged) {
  // In an SSE list reply the events before the result are notifications; one with deep params
  // is not a list result and must pass as it is (the header's contract), not become an error
  // response that no request asked for.
  std::string body = R"({"jsonrpc":"2.0","method":"notifications/message","params":{"data":)" +
                     Nested(1000) + "}}";
  EXPECT_EQ(Filter(body, ListKind::kTools), "(unchanged)");
}

// ---- Duplicate keys ----------------------------------------------------------------------------

// JSON leaves duplicate member names undefined (RFC 8259 §4) and parsers differ: most clients
// (JavaScript's JSON.parse, Python's json) keep the LAST one. A filter that judges the first and
// forwards both lets an upstream (or anything that can shape its reply) show a client tools it
// may not use. Whatever the filter does with them, no forbidden name may come out.
TEST_F(ListFilter, DuplicateKeysCannotSmuggleForbiddenEntries) {
  struct Smuggle {
    const char* what;
    const char* body;
    ListKind kind;
  };
  const Smuggle cases[] = {
      {"second tools array",
       R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"}],)"
       R"("tools":[{"name":"delete_all"}]}})",
       ListKind::kTools},
      {"second result",
       R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"}]},)"
       R"("result":{"tools":[{"name":"delete_all"}]}})",
       ListKind::kTools},
      {"second name in one entry",
       R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo","name":"delete_all"}]}})",
       ListKind::kTools},
      {"second uri in one resource",
       R"({"jsonrpc":"2.0","id":1,"result":{"resources":[)"
       R"({"uri":"example://greeting","uri":"file:///etc/delete_all"}]}})",
       ListKind::kResources},
  };
  for (const Smuggle& c : cases) {
    std::string out = Filter(c.body, c.kind);
    EXPECT_EQ(out.find("delete_all"), std::string::npos) << c.what << ": " << out;
  }
}

TEST_F(ListFilter, RepeatedListOrResultBecomesAnErrorForTheSameRequest) {
  for (const char* body : {R"({"jsonrpc":"2.0","id":"r-1","result":{"tools":[{"name":"echo"}],)"
                           R"("tools":[]}})",
                           R"({"jsonrpc":"2.0","id":"r-1","result":{"tools":[]},"result":{}})"}) {
    size_t removed = 0;
    std::string out = Filter(body, ListKind::kTools, &removed);
    EXPECT_EQ(JsonRpcCode(out), -32603) << out;
    EXPECT_EQ(IdOf(out), R"("r-1")") << out;
    EXPECT_GE(removed, 1u);
  }
}

TEST_F(ListFilter, EntryWithARepeatedNameIsRemoved) {
  size_t removed = 0;
  std::string out = Filter(R"({"jsonrpc":"2.0","id":1,"result":{"tools":[)"
                           R"({"name":"echo","name":"echo"},{"name":"get_a"}]}})",
                           ListKind::kTools, &removed);
  EXPECT_EQ(Names(out, "tools", "name"), Strings{"get_a"});
  EXPECT_EQ(removed, 1u);
}

// ---- Bodies that are not plain JSON --------------------------------------------------------

// A UTF-8 byte order mark before the JSON: RFC 8259 §8.1 says a parser MAY ignore it, and
// several do (Python's json.loads on bytes, which is what httpx's Response.json() calls). A
// list reply the filter cannot read must not go to the client as it came.
TEST_F(ListFilter, ByteOrderMarkedListIsNotPassedUnfiltered) {
  std::string body = "\xEF\xBB\xBF" + std::string(R"({"jsonrpc":"2.0","id":1,"result":{"tools":[)"
                                                  R"({"name":"echo"},{"name":"delete_all"}]}})");
  std::string out = Filter(body, ListKind::kTools);
  EXPECT_NE(out, "(unchanged)");
  EXPECT_EQ(out.find("delete_all"), std::string::npos) << out;
}

}  // namespace
}  // namespace portcullis::mcp
