#include "gateway/mcp/jsonrpc_message.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

#include "gateway/mcp/jsonrpc_error.h"

namespace portcullis::mcp {
namespace {

using Kind = MessageInfo::Kind;

MessageInfo Ok(std::string_view body, int max_depth = kDefaultMaxJsonDepth) {
  InspectResult result = InspectMessage(body, max_depth);
  EXPECT_TRUE(result.ok()) << body.substr(0, 200) << " -> " << result.error().code << " "
                           << result.error().message;
  return result.ok() ? std::move(result).info() : MessageInfo{};
}

InspectError Fail(std::string_view body, int max_depth = kDefaultMaxJsonDepth) {
  InspectResult result = InspectMessage(body, max_depth);
  EXPECT_FALSE(result.ok()) << body.substr(0, 200);
  if (result.ok()) {
    return InspectError{};
  }
  EXPECT_EQ(result.error().http_status, 400);
  return result.error();
}

// ---- Kinds -------------------------------------------------------------------------------------

TEST(JsonRpcMessage, ReadsRequestWithIntegerId) {
  const MessageInfo info = Ok(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  EXPECT_EQ(info.kind, Kind::kRequest);
  EXPECT_EQ(info.method, "tools/list");
  EXPECT_EQ(info.id_json, "1");
  EXPECT_EQ(info.name, "");
  EXPECT_EQ(info.uri, "");
  EXPECT_EQ(info.progress_token_json, "");
  EXPECT_EQ(info.meta_protocol_version, "");
  EXPECT_FALSE(info.is_initialize);
}

TEST(JsonRpcMessage, KeepsIdExactlyAsWritten) {
  EXPECT_EQ(Ok(R"({"jsonrpc":"2.0","id":"abc","method":"ping"})").id_json, R"("abc")");
  EXPECT_EQ(Ok(R"({"jsonrpc":"2.0","id":-7,"method":"ping"})").id_json, "-7");
  EXPECT_EQ(Ok(R"({"jsonrpc":"2.0","id":0,"method":"ping"})").id_json, "0");
  EXPECT_EQ(Ok(R"({"jsonrpc":"2.0","id":18446744073709551615,"method":"ping"})").id_json,
            "18446744073709551615");
  EXPECT_EQ(Ok(R"({"jsonrpc":"2.0","id":-9223372036854775808,"method":"ping"})").id_json,
            "-9223372036854775808");
  // Escapes and whitespace around the colon: the id text is the value, escapes untouched.
  EXPECT_EQ(Ok("{\"jsonrpc\":\"2.0\",\"id\" \t\r\n:\n \"a\\u0041\\\"\\\\\" ,\"method\":\"ping\"}")
                .id_json,
            R"("a\u0041\"\\")");
  EXPECT_EQ(Ok(R"({"jsonrpc":"2.0","id":"","method":"ping"})").id_json, R"("")");
  // Key order does not matter.
  EXPECT_EQ(Ok(R"({"method":"ping","id":"z","jsonrpc":"2.0"})").id_json, R"("z")");
}

TEST(JsonRpcMessage, ReadsNotification) {
  const MessageInfo info = Ok(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(info.kind, Kind::kNotification);
  EXPECT_EQ(info.method, "notifications/initialized");
  EXPECT_EQ(info.id_json, "");
}

TEST(JsonRpcMessage, ReadsResultResponse) {
  const MessageInfo info = Ok(R"({"jsonrpc":"2.0","id":"s-1","result":{"roots":[]}})");
  EXPECT_EQ(info.kind, Kind::kResponse);
  EXPECT_EQ(info.id_json, R"("s-1")");
  EXPECT_EQ(info.method, "");
  // Any JSON value is a result as far as JSON-RPC goes.
  EXPECT_EQ(Ok(R"({"jsonrpc":"2.0","id":2,"result":null})").kind, Kind::kResponse);
}

TEST(JsonRpcMessage, ReadsErrorResponse) {
  const MessageInfo info =
      Ok(R"({"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"no","data":{"x":1}}})");
  EXPECT_EQ(info.kind, Kind::kResponse);
  EXPECT_EQ(info.id_json, "3");
}

TEST(JsonRpcMessage, ResponseIgnoresStrayParams) {
  const MessageInfo info =
      Ok(R"({"jsonrpc":"2.0","id":3,"result":{},"params":{"name":"x","uri":"y"}})");
  EXPECT_EQ(info.kind, Kind::kResponse);
  EXPECT_EQ(info.name, "");
  EXPECT_EQ(info.uri, "");
}

TEST(JsonRpcMessage, RefusesResponseWithBothResultAndError) {
  const InspectError e =
      Fail(R"({"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}})");
  EXPECT_EQ(e.code, kInvalidRequest);
  EXPECT_EQ(e.id_json, "1");
}

TEST(JsonRpcMessage, RefusesResponseWithoutUsableId) {
  EXPECT_EQ(Fail(R"({"jsonrpc":"2.0","result":{}})").code, kInvalidRequest);
  EXPECT_EQ(Fail(R"({"jsonrpc":"2.0","id":null,"result":{}})").code, kInvalidRequest);
  EXPECT_EQ(Fail(R"({"jsonrpc":"2.0","id":1.5,"error":{"code":1,"message":"m"}})").code,
            kInvalidRequest);
}

TEST(JsonRpcMessage, RefusesMalformedErrorObject) {
  for (const char* body : {
           R"({"jsonrpc":"2.0","id":1,"error":"boom"})",
           R"({"jsonrpc":"2.0","id":1,"error":{"message":"m"}})",
           R"({"jsonrpc":"2.0","id":1,"error":{"code":1}})",
           R"({"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"m"}})",
           R"({"jsonrpc":"2.0","id":1,"error":{"code":1,"message":7}})",
       }) {
    const InspectError e = Fail(body);
    EXPECT_EQ(e.code, kInvalidRequest) << body;
    EXPECT_EQ(e.id_json, "1") << body;
  }
}

TEST(JsonRpcMessage, RefusesRequestCarryingResultOrError) {
  EXPECT_EQ(Fail(R"({"jsonrpc":"2.0","id":1,"method":"ping","result":{}})").code, kInvalidRequest);
  EXPECT_EQ(Fail(R"({"jsonrpc":"2.0","method":"ping","error":{"code":1,"message":"m"}})").code,
            kInvalidRequest);
}

TEST(JsonRpcMessage, RefusesMessageWithNeitherMethodNorResult) {
  const InspectError e = Fail(R"({"jsonrpc":"2.0","id":4})");
  EXPECT_EQ(e.code, kInvalidRequest);
  EXPECT_NE(e.message.find("method"), std::string::npos);
  EXPECT_EQ(e.id_json, "4");
}

TEST(JsonRpcMessage, MarksInitializeRequestsOnly) {
  EXPECT_TRUE(Ok(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
      "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}})")
                  .is_initialize);
  EXPECT_FALSE(Ok(R"({"jsonrpc":"2.0","method":"initialize"})").is_initialize);
  EXPECT_FALSE(Ok(R"({"jsonrpc":"2.0","id":1,"method":"initialized"})").is_initialize);
}

TEST(JsonRpcMessage, IgnoresUnknownMembers) {
  const MessageInfo info =
      Ok(R"({"jsonrpc":"2.0","id":1,"method":"tools/list","extra":[1,{"method":"x"}],)"
         R"("params":{"cursor":"c","extra":{"name":"not-this"}}})");
  EXPECT_EQ(info.method, "tools/list");
  EXPECT_EQ(info.name, "");
}

// ---- Batches, non-objects, not JSON -------------------------------------------------------------

TEST(JsonRpcMessage, RefusesBatch) {
  for (const char* body : {
           R"([{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}])",
           "[]",
           " \n\t[1,2]",
           "[",
       }) {
    const InspectError e = Fail(body);
    EXPECT_EQ(e.code, kInvalidRequest) << body;
    EXPECT_EQ(e.message, "Batch requests are not supported");
    EXPECT_EQ(e.id_json, "");
  }
}

TEST(JsonRpcMessage, RefusesTopLevelNonObject) {
  for (const char* body : {"1", "-2.5", R"("tools/call")", "null", "true", "false"}) {
    const InspectError e = Fail(body);
    EXPECT_EQ(e.code, kInvalidRequest) << body;
    EXPECT_EQ(e.id_json, "");
  }
}

TEST(JsonRpcMessage, RefusesEmptyAndNonJsonBodies) {
  for (std::string_view body : {
           std::string_view(""), std::string_view(" \r\n\t "), std::string_view("hello"),
           std::string_view("{"), std::string_view(R"({"jsonrpc":"2.0",})"),
           std::string_view(R"({"jsonrpc":"2.0" "id":1})"),
           std::string_view(R"({'jsonrpc':'2.0'})"),
           std::string_view("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} // comment"),
           std::string_view(R"({"jsonrpc":"2.0","id":NaN,"method":"ping"})"),
           std::string_view("\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}"),  // BOM
       }) {
    const InspectError e = Fail(body);
    EXPECT_EQ(e.code, kParseError) << body;
    EXPECT_EQ(e.message.rfind("Parse error", 0), 0u) << e.message;
    EXPECT_EQ(e.id_json, "");
  }
}

TEST(JsonRpcMessage, RefusesTrailingContent) {
  EXPECT_EQ(Fail(R"({"jsonrpc":"2.0","method":"a"} {"jsonrpc":"2.0","method":"b"})").code,
            kParseError);
  EXPECT_EQ(Fail(R"({"jsonrpc":"2.0","method":"a"}x)").code, kParseError);
  // Trailing whitespace is fine.
  EXPECT_EQ(Ok("{\"jsonrpc\":\"2.0\",\"method\":\"a\"}\r\n ").method, "a");
}

TEST(JsonRpcMessage, RefusesRawNulBytesAnywhere) {
  using std::string_literals::operator""s;
  EXPECT_EQ(Fail("{\"jsonrpc\":\"2.0\",\"method\":\"a\"}\0{\"x\":1}"s).code, kParseError);
  EXPECT_EQ(Fail("{\"jsonrpc\":\"2.0\",\"method\":\"a\"}\0"s).code, kParseError);
  EXPECT_EQ(Fail("{\"jsonrpc\":\"2.0\",\"method\":\"a\0b\"}"s).code, kParseError);
  EXPECT_EQ(Fail("\0"s).code, kParseError);
}

TEST(JsonRpcMessage, RefusesInvalidUtf8) {
  for (std::string_view body : {
           std::string_view("{\"jsonrpc\":\"2.0\",\"method\":\"a\xFF\"}"),
           std::string_view("{\"jsonrpc\":\"2.0\",\"method\":\"a\xC0\xAF\"}"),      // overlong
           std::string_view("{\"jsonrpc\":\"2.0\",\"method\":\"a\xED\xA0\x80\"}"),  // surrogate
           std::string_view("{\"jsonrpc\":\"2.0\",\"method\":\"a\xE2\x82\"}"),      // truncated
       }) {
    EXPECT_EQ(Fail(body).code, kParseError) << body;
  }
  const InspectError e = Fail("{\"jsonrpc\":\"2.0\",\"method\":\"\xFF\"}");
  EXPECT_NE(e.message.find("invalid UTF-8 (at byte 27)"), std::string::npos) << e.message;
  // Outside strings, too.
  EXPECT_EQ(Fail("{\"jsonrpc\":\"2.0\",\"method\":\"x\"}\xC3\xA9").code, kParseError);
}

// ---- jsonrpc, id, method, params
// -----------------------------------------------------------------

TEST(JsonRpcMessage, RefusesWrongJsonrpcVersionAndEchoesId) {
  for (const char* body : {
           R"({"id":9,"method":"ping"})",
           R"({"jsonrpc":"1.0","id":9,"method":"ping"})",
           R"({"jsonrpc":2.0,"id":9,"method":"ping"})",
           R"({"jsonrpc":"2.0 ","id":9,"method":"ping"})",
           R"({"jsonrpc":null,"id":9,"method":"ping"})",
       }) {
    const InspectError e = Fail(body);
    EXPECT_EQ(e.code, kInvalidRequest) << body;
    EXPECT_EQ(e.id_json, "9") << body;
    EXPECT_NE(e.message.find("jsonrpc"), std::string::npos);
  }
}

TEST(JsonRpcMessage, RefusesIdsThatAreNotStringsOrIntegers) {
  for (const char* id : {"null", "1.5", "1.0", "1e2", "-0.0", "18446744073709551616", "true", "{}",
                         R"({"a":1})", "[1]"}) {
    const std::string body = std::string(R"({"jsonrpc":"2.0","method":"ping","id":)") + id + "}";
    const InspectError e = Fail(body);
    EXPECT_EQ(e.code, kInvalidRequest) << body;
    EXPECT_EQ(e.id_json, "") << body;  // an invalid id is never echoed
  }
}

TEST(JsonRpcMessage, RefusesMissingEmptyOrNonStringMethod) {
  for (const char* body : {
           R"({"jsonrpc":"2.0","id":1,"method":""})",
           R"({"jsonrpc":"2.0","id":1,"method":5})",
           R"({"jsonrpc":"2.0","id":1,"method":null})",
           R"({"jsonrpc":"2.0","id":1,"method":["tools/call"]})",
           R"({"jsonrpc":"2.0","id":1,"method":{"name":"tools/call"}})",
       }) {
    const InspectError e = Fail(body);
    EXPECT_EQ(e.code, kInvalidRequest) << body;
    EXPECT_EQ(e.id_json, "1") << body;
  }
}

TEST(JsonRpcMessage, RefusesParamsThatAreNotObjects) {
  EXPECT_EQ(Fail(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":["x"]})").code,
            kInvalidParams);
  for (const char* params : {"null", "1", R"("x")", "true"}) {
    const std::string body =
        std::string(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":)") + params + "}";
    EXPECT_EQ(Fail(body).code, kInvalidRequest) << body;
  }
  EXPECT_EQ(Ok(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{}})").method, "ping");
}

// ---- Per-method fields --------------------------------------------------------------------------

TEST(JsonRpcMessage, ReadsToolsCallName) {
  const MessageInfo info = Ok(R"({"jsonrpc":"2.0","id":1,"method":"tools/call",)"
                              R"("params":{"arguments":{"name":"decoy","uri":"u"},"name":"add"}})");
  EXPECT_EQ(info.method, "tools/call");
  EXPECT_EQ(info.name, "add");
  EXPECT_EQ(info.uri, "");
}

TEST(JsonRpcMessage, ToolsCallAndPromptsGetNeedStringName) {
  for (const char* method : {"tools/call", "prompts/get"}) {
    for (const char* params :
         {"", R"(,"params":{})", R"(,"params":{"name":null})", R"(,"params":{"name":7})",
          R"(,"params":{"name":["a"]})", R"(,"params":{"arguments":{"name":"x"}})"}) {
      const std::string body =
          std::string(R"({"jsonrpc":"2.0","id":11,"method":")") + method + "\"" + params + "}";
      const InspectError e = Fail(body);
      EXPECT_EQ(e.code, kInvalidParams) << body;
      EXPECT_EQ(e.message.rfind("Invalid params", 0), 0u) << e.message;
      EXPECT_EQ(e.id_json, "11") << body;
    }
  }
  EXPECT_EQ(Ok(R"({"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"p"}})").name,
            "p");
  // An empty name is a string; whether it exists is the upstream's business.
  EXPECT_EQ(Ok(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":""}})").name, "");
}

TEST(JsonRpcMessage, ResourceMethodsNeedStringUri) {
  for (const char* method : {"resources/read", "resources/subscribe", "resources/unsubscribe"}) {
    const std::string good = std::string(R"({"jsonrpc":"2.0","id":1,"method":")") + method +
                             R"(","params":{"uri":"file:///a b"}})";
    EXPECT_EQ(Ok(good).uri, "file:///a b");
    const std::string missing =
        std::string(R"({"jsonrpc":"2.0","id":1,"method":")") + method + R"(","params":{}})";
    EXPECT_EQ(Fail(missing).code, kInvalidParams);
    const std::string wrong = std::string(R"({"jsonrpc":"2.0","id":1,"method":")") + method +
                              R"(","params":{"uri":{"href":"x"}}})";
    EXPECT_EQ(Fail(wrong).code, kInvalidParams);
  }
}

TEST(JsonRpcMessage, KeepsNameAndUriOfOtherMethodsOnlyWhenStrings) {
  const MessageInfo info =
      Ok(R"({"jsonrpc":"2.0","id":1,"method":"x/y","params":{"name":"n","uri":"u"}})");
  EXPECT_EQ(info.name, "n");
  EXPECT_EQ(info.uri, "u");
  const MessageInfo other =
      Ok(R"({"jsonrpc":"2.0","id":1,"method":"x/y","params":{"name":1,"uri":null}})");
  EXPECT_EQ(other.name, "");
  EXPECT_EQ(other.uri, "");
}

TEST(JsonRpcMessage, ChecksNotificationsLikeRequests) {
  // A notification named tools/call is nonsense, but the policy must still see its name.
  EXPECT_EQ(Ok(R"({"jsonrpc":"2.0","method":"tools/call","params":{"name":"t"}})").name, "t");
  EXPECT_EQ(Fail(R"({"jsonrpc":"2.0","method":"tools/call"})").code, kInvalidParams);
}

TEST(JsonRpcMessage, ReadsCompletionReferences) {
  const MessageInfo prompt = Ok(R"({"jsonrpc":"2.0","id":1,"method":"completion/complete",)"
                                R"("params":{"ref":{"type":"ref/prompt","name":"greet"},)"
                                R"("argument":{"name":"lang","value":"e"}}})");
  EXPECT_EQ(prompt.ref_type, "ref/prompt");
  EXPECT_EQ(prompt.ref_name_or_uri, "greet");
  EXPECT_EQ(prompt.name, "");  // params.name is not the reference

  const MessageInfo resource =
      Ok(R"({"jsonrpc":"2.0","id":1,"method":"completion/complete",)"
         R"("params":{"ref":{"uri":"file:///{p}","type":"ref/resource","x":1}}})");
  EXPECT_EQ(resource.ref_type, "ref/resource");
  EXPECT_EQ(resource.ref_name_or_uri, "file:///{p}");
}

TEST(JsonRpcMessage, RefusesUnusableCompletionReferences) {
  for (const char* params : {
           R"({})",
           R"({"ref":"ref/prompt"})",
           R"({"ref":{"name":"greet"}})",
           R"({"ref":{"type":1,"name":"greet"}})",
           R"({"ref":{"type":"ref/prompt"}})",
           R"({"ref":{"type":"ref/prompt","uri":"greet"}})",
           R"({"ref":{"type":"ref/resource","name":"x"}})",
           R"({"ref":{"type":"ref/tool","name":"x"}})",
       }) {
    const std::string body =
        std::string(R"({"jsonrpc":"2.0","id":1,"method":"completion/complete","params":)") +
        params + "}";
    EXPECT_EQ(Fail(body).code, kInvalidParams) << body;
  }
}

TEST(JsonRpcMessage, IgnoresRefOutsideCompletion) {
  const MessageInfo info =
      Ok(R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"ref":{"type":"ref/prompt"}}})");
  EXPECT_EQ(info.ref_type, "");
  EXPECT_EQ(info.ref_name_or_uri, "");
}

// ---- _meta -------------------------------------------------------------------------------------

TEST(JsonRpcMessage, ReadsMetaProtocolVersionAndProgressToken) {
  const MessageInfo info = Ok(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{
      "name":"get_weather","arguments":{"location":"Seattle, WA"},
      "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",
               "io.modelcontextprotocol/clientInfo":{"name":"ExampleClient","version":"1.0.0"},
               "io.modelcontextprotocol/clientCapabilities":{},
               "progressToken":"tok-1"}}})");
  EXPECT_EQ(info.meta_protocol_version, "2026-07-28");
  EXPECT_EQ(info.progress_token_json, R"("tok-1")");
  EXPECT_EQ(info.name, "get_weather");
  EXPECT_EQ(Ok(R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"progressToken": 42 }}})")
                .progress_token_json,
            "42");
}

TEST(JsonRpcMessage, OnlyReadsMetaAtParamsLevel) {
  const MessageInfo info = Ok(R"({"jsonrpc":"2.0","id":1,"method":"x",)"
                              R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"},)"
                              R"("params":{"arguments":{"_meta":{"progressToken":1,)"
                              R"("io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}})");
  EXPECT_EQ(info.meta_protocol_version, "");
  EXPECT_EQ(info.progress_token_json, "");
}

TEST(JsonRpcMessage, RefusesMistypedMeta) {
  for (const char* params : {
           R"({"_meta":[]})",
           R"({"_meta":"2026-07-28"})",
           R"({"_meta":{"io.modelcontextprotocol/protocolVersion":20260728}})",
           R"({"_meta":{"io.modelcontextprotocol/protocolVersion":""}})",
           R"({"_meta":{"io.modelcontextprotocol/protocolVersion":null}})",
           R"({"_meta":{"progressToken":1.5}})",
           R"({"_meta":{"progressToken":null}})",
           R"({"_meta":{"progressToken":{}}})",
       }) {
    const std::string body =
        std::string(R"({"jsonrpc":"2.0","id":1,"method":"x","params":)") + params + "}";
    EXPECT_EQ(Fail(body).code, kInvalidParams) << body;
  }
}

// ---- Strings: NUL, escapes, surrogates, size ---------------------------------------------------

TEST(JsonRpcMessage, RefusesEscapedNulInMethodNameUriAndRef) {
  for (const char* body : {
           R"({"jsonrpc":"2.0","id":1,"method":"tools/call\u0000x","params":{"name":"a"}})",
           R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a\u0000b"}})",
           R"({"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"f\u0000"}})",
           R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"uri":"\u0000"}})",
           R"({"jsonrpc":"2.0","id":1,"method":"completion/complete",)"
           R"("params":{"ref":{"type":"ref/prompt","name":"\u0000"}}})",
           R"({"jsonrpc":"2.0","id":1,"method":"x",)"
           R"("params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026\u0000"}}})",
       }) {
    const InspectError e = Fail(body);
    EXPECT_EQ(e.code, kInvalidRequest) << body;
    EXPECT_EQ(e.id_json, "1");
  }
  // A NUL in an id is just an id: it is echoed escaped, never interpreted.
  EXPECT_EQ(Ok(R"({"jsonrpc":"2.0","id":"a\u0000","method":"ping"})").id_json, R"("a\u0000")");
}

TEST(JsonRpcMessage, DecodesUnicodeEscapes) {
  const MessageInfo info = Ok(R"({"jsonrpc":"2.0","id":1,"method":"tools\/c\u0061ll",)"
                              R"("params":{"name":"h\u00e9llo \ud83d\ude00 \u4e16"}})");
  EXPECT_EQ(info.method, "tools/call");
  EXPECT_EQ(info.name, "h\xC3\xA9llo \xF0\x9F\x98\x80 \xE4\xB8\x96");
}

TEST(JsonRpcMessage, MatchesEscapedKeys) {
  // A key is its decoded text, as every upstream parser reads it.
  const MessageInfo info = Ok(R"({"jsonrpc":"2.0","id":1,"m\u0065thod":"tools/call",)"
                              R"("params":{"n\u0061me":"x"}})");
  EXPECT_EQ(info.method, "tools/call");
  EXPECT_EQ(info.name, "x");
}

TEST(JsonRpcMessage, RefusesUnpairedSurrogates) {
  // A lone high surrogate is a parse error in RapidJSON; a lone low one decodes to bytes that
  // are not UTF-8, which the inspector refuses itself.
  EXPECT_EQ(
      Fail(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a\ud800"}})").code,
      kParseError);
  EXPECT_EQ(
      Fail(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a\udc00"}})").code,
      kInvalidRequest);
  EXPECT_EQ(Fail(R"({"jsonrpc":"2.0","id":1,"method":"a\udfff"})").code, kInvalidRequest);
}

TEST(JsonRpcMessage, HandlesHugeStrings) {
  const std::string big_name(1 << 20, 'n');
  const std::string big_arg(4 << 20, 'a');
  const std::string body = R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":")" +
                           big_name + R"(","arguments":{"blob":")" + big_arg + R"("}}})";
  const MessageInfo info = Ok(body);
  EXPECT_EQ(info.name.size(), big_name.size());
  EXPECT_EQ(info.name, big_name);
}

// ---- Depth
// ---------------------------------------------------------------------------------------

std::string Nested(int depth, const char* open, const char* close) {
  std::string s;
  for (int i = 0; i < depth; ++i) {
    s += open;
  }
  s += "1";
  for (int i = 0; i < depth; ++i) {
    s += close;
  }
  return s;
}

TEST(JsonRpcMessage, RefusesDeepNestingWithoutCrashing) {
  // 100000 '[' is a batch, refused at the first byte.
  EXPECT_EQ(Fail(std::string(100000, '[')).code, kInvalidRequest);

  const std::string bomb =
      R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"a":)" + std::string(100000, '[');
  const InspectError e = Fail(bomb);
  EXPECT_EQ(e.code, kParseError);
  EXPECT_NE(e.message.find("nested deeper than 64"), std::string::npos) << e.message;
  EXPECT_EQ(e.id_json, "");

  const std::string objects =
      R"({"jsonrpc":"2.0","id":1,"method":"x","params":)" + Nested(100000, R"({"a":)", "}") + "}";
  EXPECT_EQ(Fail(objects).code, kParseError);
}

TEST(JsonRpcMessage, AcceptsNestingUpToTheLimit) {
  // The top-level object is level 1, params level 2, so 62 more arrays reach 64.
  const std::string prefix = R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"a":)";
  EXPECT_EQ(Ok(prefix + Nested(62, "[", "]") + "}}", 64).method, "x");
  EXPECT_EQ(Fail(prefix + Nested(63, "[", "]") + "}}", 64).code, kParseError);
  EXPECT_EQ(Ok(R"({"jsonrpc":"2.0","method":"x"})", 1).method, "x");
  EXPECT_EQ(Fail(R"({"jsonrpc":"2.0","method":"x","params":{}})", 1).code, kParseError);
}

TEST(JsonRpcMessage, ParsesIterativelySoAGenerousLimitCannotOverflowTheStack) {
  // Far deeper than a recursive parser survives with the default 8 MiB stack... in a body that
  // is complete and valid.
  const std::string body =
      R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"a":)" + Nested(300000, "[", "]") + "}}";
  EXPECT_EQ(Ok(body, 1 << 30).method, "x");
}

// ---- Duplicate keys
// ------------------------------------------------------------------------------

TEST(JsonRpcMessage, RefusesDuplicateKeysTheGatewayReads) {
  struct Case {
    const char* body;
    const char* id_json;
  };
  for (
      const Case& c : {
          Case{R"({"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"})", "1"},
          Case{R"({"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"method":"x"})", "1"},
          Case{R"({"jsonrpc":"2.0","id":1,"id":2,"method":"x"})", ""},
          Case{R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"},)"
               R"("params":{"name":"b"}})",
               "1"},
          Case{R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}})",
               "1"},
          Case{
              R"({"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"a","uri":"b"}})",
              "1"},
          Case{R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"progressToken":1,)"
               R"("progressToken":2}}})",
               "1"},
          Case{R"({"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":)"
               R"({"type":"ref/prompt","name":"a","name":"b"}}})",
               "1"},
          Case{R"({"jsonrpc":"2.0","id":1,"m\u0065thod":"a","method":"b"})", "1"},
          Case{R"({"jsonrpc":"2.0","id":1,"error":{"code":1,"code":2,"message":"m"}})", "1"},
      }) {
    const InspectError e = Fail(c.body);
    EXPECT_EQ(e.code, kInvalidRequest) << c.body;
    EXPECT_NE(e.message.find("duplicate key"), std::string::npos) << e.message;
    EXPECT_EQ(e.id_json, c.id_json) << c.body;
  }
}

TEST(JsonRpcMessage, AllowsDuplicateKeysItDoesNotRead) {
  EXPECT_EQ(Ok(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","x":1,"x":2,)"
               R"("params":{"name":"t","arguments":{"a":1,"a":2}}})")
                .name,
            "t");
}

// ---- The error body
// ------------------------------------------------------------------------------

TEST(JsonRpcMessage, ErrorBodyEchoesTheId) {
  const InspectError e = Fail(R"({"jsonrpc":"2.0","id":"r-9","method":"tools/call"})");
  rapidjson::Document doc;
  const std::string body = e.Body();
  doc.Parse(body.data(), body.size());
  ASSERT_FALSE(doc.HasParseError()) << body;
  EXPECT_STREQ(doc["id"].GetString(), "r-9");
  EXPECT_EQ(doc["error"]["code"].GetInt(), kInvalidParams);
  EXPECT_EQ(HttpStatusForErrorCode(e.code), e.http_status);

  const std::string parse_body = Fail("{").Body();
  doc.Parse(parse_body.data(), parse_body.size());
  ASSERT_FALSE(doc.HasParseError()) << parse_body;
  EXPECT_TRUE(doc["id"].IsNull());
  EXPECT_EQ(doc["error"]["code"].GetInt(), kParseError);
}

}  // namespace
}  // namespace portcullis::mcp
