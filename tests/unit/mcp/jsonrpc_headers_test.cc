// Header/body agreement (CheckRequestHeaders) and the base64 sentinel (DecodeMcpHeaderValue).
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <optional>
#include <ostream>
#include <string>

#include "gateway/mcp/jsonrpc_error.h"
#include "gateway/mcp/jsonrpc_message.h"

namespace portcullis::mcp {

// So that a failing EXPECT_EQ(..., nullopt) shows the error rather than its bytes.
void PrintTo(const InspectError& error, std::ostream* os) {
  *os << error.http_status << " " << error.code << " " << error.message;
}

namespace {

using std::nullopt;

MessageInfo Inspect(std::string_view body) {
  InspectResult result = InspectMessage(body, kDefaultMaxJsonDepth);
  EXPECT_TRUE(result.ok()) << body << " -> " << result.error().message;
  return result.ok() ? std::move(result).info() : MessageInfo{};
}

// A 2026-07-28 request of `method` whose params hold `params_fields` plus the _meta version.
MessageInfo Modern(std::string_view method, std::string_view params_fields,
                   std::string_view version = "2026-07-28") {
  std::string body = R"({"jsonrpc":"2.0","id":7,"method":")" + std::string(method) +
                     R"(","params":{)" + std::string(params_fields);
  if (!params_fields.empty()) {
    body += ",";
  }
  body += R"("_meta":{"io.modelcontextprotocol/protocolVersion":")" + std::string(version) +
          R"(","io.modelcontextprotocol/clientCapabilities":{}}}})";
  return Inspect(body);
}

MessageInfo Legacy(std::string_view method, std::string_view params_fields) {
  return Inspect(R"({"jsonrpc":"2.0","id":8,"method":")" + std::string(method) + R"(","params":{)" +
                 std::string(params_fields) + "}}");
}

void ExpectMismatch(const std::optional<InspectError>& error, std::string_view needle = "") {
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->http_status, 400);
  EXPECT_EQ(error->code, kHeaderMismatch);
  EXPECT_EQ(error->message.rfind("Header mismatch: ", 0), 0u) << error->message;
  EXPECT_NE(error->message.find(needle), std::string::npos) << error->message;
}

// ---- Modern (2026-07-28) requests ---------------------------------------------------------------

TEST(JsonRpcHeaders, ModernRequestWithMatchingHeadersPasses) {
  EXPECT_EQ(CheckRequestHeaders(Modern("tools/call", R"("name":"get_weather")"), "tools/call",
                                "get_weather", "2026-07-28"),
            nullopt);
  EXPECT_EQ(CheckRequestHeaders(Modern("resources/read", R"("uri":"file:///projects/a.json")"),
                                "resources/read", "file:///projects/a.json", "2026-07-28"),
            nullopt);
  EXPECT_EQ(CheckRequestHeaders(Modern("prompts/get", R"("name":"greet")"), "prompts/get", "greet",
                                "2026-07-28"),
            nullopt);
  // Mcp-Name is required only for the three methods above.
  EXPECT_EQ(CheckRequestHeaders(Modern("tools/list", ""), "tools/list", nullopt, "2026-07-28"),
            nullopt);
  EXPECT_EQ(
      CheckRequestHeaders(Modern("server/discover", ""), "server/discover", nullopt, "2026-07-28"),
      nullopt);
}

TEST(JsonRpcHeaders, ModernRequestNeedsProtocolVersionHeaderEqualToMeta) {
  const MessageInfo info = Modern("tools/call", R"("name":"t")");
  ExpectMismatch(CheckRequestHeaders(info, "tools/call", "t", nullopt), "MCP-Protocol-Version");
  ExpectMismatch(CheckRequestHeaders(info, "tools/call", "t", "2025-11-25"),
                 "MCP-Protocol-Version");
  ExpectMismatch(CheckRequestHeaders(info, "tools/call", "t", ""), "MCP-Protocol-Version");
  ExpectMismatch(CheckRequestHeaders(info, "tools/call", "t", "2026-07-28\x01"),
                 "MCP-Protocol-Version");
  // The error echoes the request's id.
  EXPECT_EQ(CheckRequestHeaders(info, "tools/call", "t", nullopt)->id_json, "7");
}

TEST(JsonRpcHeaders, ModernRequestNeedsMcpMethodEqualToMethod) {
  const MessageInfo info = Modern("tools/call", R"("name":"t")");
  ExpectMismatch(CheckRequestHeaders(info, nullopt, "t", "2026-07-28"), "Mcp-Method");
  ExpectMismatch(CheckRequestHeaders(info, "tools/list", "t", "2026-07-28"), "Mcp-Method");
  // Values are case-sensitive.
  ExpectMismatch(CheckRequestHeaders(info, "Tools/Call", "t", "2026-07-28"), "Mcp-Method");
  ExpectMismatch(CheckRequestHeaders(info, "", "t", "2026-07-28"), "Mcp-Method");
  ExpectMismatch(CheckRequestHeaders(info, "tools/call\r", "t", "2026-07-28"),
                 "Mcp-Method header contains invalid characters");
  // The sentinel is for Mcp-Name and Mcp-Param-* only.
  ExpectMismatch(CheckRequestHeaders(info, "=?base64?dG9vbHMvY2FsbA==?=", "t", "2026-07-28"),
                 "Mcp-Method");
}

TEST(JsonRpcHeaders, ModernRequestNeedsMcpNameForCallReadAndGet) {
  ExpectMismatch(CheckRequestHeaders(Modern("tools/call", R"("name":"t")"), "tools/call", nullopt,
                                     "2026-07-28"),
                 "Mcp-Name header is required");
  ExpectMismatch(CheckRequestHeaders(Modern("resources/read", R"("uri":"u")"), "resources/read",
                                     nullopt, "2026-07-28"),
                 "Mcp-Name");
  ExpectMismatch(CheckRequestHeaders(Modern("prompts/get", R"("name":"p")"), "prompts/get", nullopt,
                                     "2026-07-28"),
                 "Mcp-Name");
}

TEST(JsonRpcHeaders, RefusesMcpNameThatDiffersFromBody) {
  ExpectMismatch(CheckRequestHeaders(Modern("tools/call", R"("name":"delete_all")"), "tools/call",
                                     "read_only", "2026-07-28"),
                 "Mcp-Name");
  ExpectMismatch(CheckRequestHeaders(Modern("resources/read", R"("uri":"file:///etc/shadow")"),
                                     "resources/read", "file:///tmp/x", "2026-07-28"),
                 "Mcp-Name");
  // For tools/call the name is params.name, not params.uri.
  ExpectMismatch(CheckRequestHeaders(Modern("tools/call", R"("name":"a","uri":"b")"), "tools/call",
                                     "b", "2026-07-28"),
                 "Mcp-Name");
  // Present for a method whose body names nothing.
  ExpectMismatch(CheckRequestHeaders(Modern("tools/list", ""), "tools/list", "x", "2026-07-28"),
                 "Mcp-Name");
}

TEST(JsonRpcHeaders, DecodesBase64McpName) {
  // "Hello, 世界" from the spec's encoding examples.
  const MessageInfo info = Modern("tools/call", R"("name":"Hello, \u4e16\u754c")");
  EXPECT_EQ(
      CheckRequestHeaders(info, "tools/call", "=?base64?SGVsbG8sIOS4lueVjA==?=", "2026-07-28"),
      nullopt);
  // Without padding too.
  EXPECT_EQ(CheckRequestHeaders(info, "tools/call", "=?base64?SGVsbG8sIOS4lueVjA?=", "2026-07-28"),
            nullopt);
  // Decoded, but different.
  ExpectMismatch(
      CheckRequestHeaders(info, "tools/call", "=?base64?SGVsbG8sIHdvcmxk?=", "2026-07-28"),
      "does not match");
  // Non-ASCII must be encoded, never sent raw.
  ExpectMismatch(
      CheckRequestHeaders(info, "tools/call", "Hello, \xE4\xB8\x96\xE7\x95\x8C", "2026-07-28"),
      "invalid characters");
  // A URI with a newline.
  const MessageInfo uri = Modern("resources/read", R"("uri":"line1\nline2")");
  EXPECT_EQ(CheckRequestHeaders(uri, "resources/read", "=?base64?bGluZTEKbGluZTI=?=", "2026-07-28"),
            nullopt);
}

TEST(JsonRpcHeaders, RefusesMalformedBase64McpName) {
  const MessageInfo info = Modern("tools/call", R"("name":"t")");
  for (const char* bad : {"=?base64?dA=?=", "=?base64?d?=", "=?base64?d!==?=", "=?base64?dA= =?=",
                          "=?base64?dA-_?=", "=?base64?dA===?="}) {
    ExpectMismatch(CheckRequestHeaders(info, "tools/call", bad, "2026-07-28"), "Mcp-Name");
  }
}

TEST(JsonRpcHeaders, SentinelLookalikesAreCompared) {
  // The markers are case-sensitive: an upper-case one is a plain value, compared as such.
  const MessageInfo literal = Modern("tools/call", R"("name":"=?BASE64?dA==?=")");
  EXPECT_EQ(CheckRequestHeaders(literal, "tools/call", "=?BASE64?dA==?=", "2026-07-28"), nullopt);
  // A name that looks like the sentinel must itself be encoded (spec "Value Encoding").
  const MessageInfo looks = Modern("tools/call", R"("name":"=?base64?literal?=")");
  ExpectMismatch(CheckRequestHeaders(looks, "tools/call", "=?base64?literal?=", "2026-07-28"));
  EXPECT_EQ(
      CheckRequestHeaders(looks, "tools/call", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=", "2026-07-28"),
      nullopt);
}

TEST(JsonRpcHeaders, TrimsOptionalWhitespace) {
  EXPECT_EQ(CheckRequestHeaders(Modern("tools/call", R"("name":"t")"), " tools/call\t", "\tt ",
                                " 2026-07-28 "),
            nullopt);
}

TEST(JsonRpcHeaders, RefusesUnknownModernVersionWithSupportedList) {
  const MessageInfo info = Modern("tools/call", R"("name":"t")", "2099-01-01");
  const std::optional<InspectError> error =
      CheckRequestHeaders(info, "tools/call", "t", "2099-01-01");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->http_status, 400);
  EXPECT_EQ(error->code, kUnsupportedProtocolVersion);
  EXPECT_EQ(error->message, "Unsupported protocol version");
  EXPECT_EQ(error->id_json, "7");

  rapidjson::Document doc;
  const std::string body = error->Body();
  doc.Parse(body.data(), body.size());
  ASSERT_FALSE(doc.HasParseError()) << body;
  EXPECT_EQ(doc["id"].GetInt(), 7);
  const auto& data = doc["error"]["data"];
  EXPECT_STREQ(data["requested"].GetString(), "2099-01-01");
  ASSERT_TRUE(data["supported"].IsArray());
  ASSERT_EQ(data["supported"].Size(), std::size(kKnownProtocolVersions));
  for (rapidjson::SizeType i = 0; i < data["supported"].Size(); ++i) {
    EXPECT_EQ(data["supported"][i].GetString(), kKnownProtocolVersions[i]);
  }
}

TEST(JsonRpcHeaders, UnknownVersionWithoutHeaderIsStillUnsupported) {
  // A notification carrying _meta but no header: the body's version alone is checked.
  const MessageInfo info =
      Inspect(R"({"jsonrpc":"2.0","method":"notifications/x",)"
              R"("params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"1900-01-01"}}})");
  const std::optional<InspectError> error = CheckRequestHeaders(info, nullopt, nullopt, nullopt);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, kUnsupportedProtocolVersion);
  EXPECT_NE(error->data_json.find(R"("requested":"1900-01-01")"), std::string::npos);
}

TEST(JsonRpcHeaders, EscapesRequestedVersionInData) {
  const MessageInfo info = Modern("tools/list", "", R"(x\"y\\)");
  const std::optional<InspectError> error =
      CheckRequestHeaders(info, "tools/list", nullopt, R"(x"y\)");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, kUnsupportedProtocolVersion);
  rapidjson::Document doc;
  doc.Parse(error->data_json.data(), error->data_json.size());
  ASSERT_FALSE(doc.HasParseError()) << error->data_json;
  EXPECT_STREQ(doc["requested"].GetString(), R"(x"y\)");
}

// ---- Older revisions ---------------------------------------------------------------------------

TEST(JsonRpcHeaders, LegacyRequestWithoutHeadersPasses) {
  EXPECT_EQ(CheckRequestHeaders(Legacy("tools/call", R"("name":"t")"), nullopt, nullopt, nullopt),
            nullopt);
  for (std::string_view version : {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"}) {
    EXPECT_EQ(CheckRequestHeaders(Legacy("tools/call", R"("name":"t")"), nullopt, nullopt, version),
              nullopt)
        << version;
  }
}

TEST(JsonRpcHeaders, LegacyHeadersThatArePresentMustAgree) {
  const MessageInfo info = Legacy("tools/call", R"("name":"t")");
  EXPECT_EQ(CheckRequestHeaders(info, "tools/call", "t", "2025-11-25"), nullopt);
  EXPECT_EQ(CheckRequestHeaders(info, "tools/call", "=?base64?dA==?=", nullopt), nullopt);
  ExpectMismatch(CheckRequestHeaders(info, "tools/list", nullopt, nullopt), "Mcp-Method");
  ExpectMismatch(CheckRequestHeaders(info, nullopt, "other", nullopt), "Mcp-Name");
  ExpectMismatch(CheckRequestHeaders(Legacy("tools/list", ""), nullopt, "t", nullopt), "Mcp-Name");
  EXPECT_EQ(CheckRequestHeaders(info, nullopt, "other", nullopt)->id_json, "8");
  // resources/subscribe: Mcp-Name is optional but, when sent, is the URI.
  const MessageInfo sub = Legacy("resources/subscribe", R"("uri":"file:///a")");
  EXPECT_EQ(CheckRequestHeaders(sub, nullopt, nullopt, nullopt), nullopt);
  EXPECT_EQ(CheckRequestHeaders(sub, nullopt, "file:///a", nullopt), nullopt);
  ExpectMismatch(CheckRequestHeaders(sub, nullopt, "file:///b", nullopt), "Mcp-Name");
}

TEST(JsonRpcHeaders, LegacyUnknownVersionHeaderIsUnsupported) {
  const std::optional<InspectError> error =
      CheckRequestHeaders(Legacy("tools/list", ""), nullopt, nullopt, "1900-01-01");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->http_status, 400);
  EXPECT_EQ(error->code, kUnsupportedProtocolVersion);
  EXPECT_EQ(error->id_json, "8");
}

TEST(JsonRpcHeaders, StatelessVersionHeaderNeedsMetaInBody) {
  // Otherwise a component trusting "2026-07-28" would assume the headers were validated.
  ExpectMismatch(
      CheckRequestHeaders(Legacy("tools/call", R"("name":"t")"), "tools/call", "t", "2026-07-28"),
      "_meta");
}

TEST(JsonRpcHeaders, NotificationsAndResponsesNeedNoHeaders) {
  const MessageInfo note = Inspect(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(CheckRequestHeaders(note, nullopt, nullopt, nullopt), nullopt);
  EXPECT_EQ(CheckRequestHeaders(note, "notifications/initialized", nullopt, "2025-11-25"), nullopt);
  ExpectMismatch(CheckRequestHeaders(note, "notifications/cancelled", nullopt, nullopt),
                 "Mcp-Method");
  // The notification error has no id to echo.
  EXPECT_EQ(CheckRequestHeaders(note, "x", nullopt, nullopt)->id_json, "");

  const MessageInfo response = Inspect(R"({"jsonrpc":"2.0","id":"s1","result":{}})");
  EXPECT_EQ(CheckRequestHeaders(response, nullopt, nullopt, "2025-11-25"), nullopt);
  ExpectMismatch(CheckRequestHeaders(response, "tools/call", nullopt, nullopt), "Mcp-Method");
}

TEST(JsonRpcHeaders, ModernNotificationWithMetaMustMatchVersionHeader) {
  const MessageInfo info =
      Inspect(R"({"jsonrpc":"2.0","method":"notifications/x",)"
              R"("params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})");
  EXPECT_EQ(CheckRequestHeaders(info, nullopt, nullopt, nullopt), nullopt);
  EXPECT_EQ(CheckRequestHeaders(info, nullopt, nullopt, "2026-07-28"), nullopt);
  ExpectMismatch(CheckRequestHeaders(info, nullopt, nullopt, "2025-11-25"), "MCP-Protocol-Version");
}

// ---- DecodeMcpHeaderValue
// ------------------------------------------------------------------------

TEST(JsonRpcHeaders, DecodeLeavesPlainValuesAlone) {
  EXPECT_EQ(DecodeMcpHeaderValue("us-west1"), "us-west1");
  EXPECT_EQ(DecodeMcpHeaderValue(""), "");
  EXPECT_EQ(DecodeMcpHeaderValue("=?base64?"), "=?base64?");
  EXPECT_EQ(DecodeMcpHeaderValue("=?base64?="), "=?base64?=");  // prefix and suffix overlap
  EXPECT_EQ(DecodeMcpHeaderValue("=?Base64?dA==?="), "=?Base64?dA==?=");
}

TEST(JsonRpcHeaders, DecodesSpecExamples) {
  EXPECT_EQ(DecodeMcpHeaderValue("=?base64?SGVsbG8sIOS4lueVjA==?="),
            "Hello, \xE4\xB8\x96\xE7\x95\x8C");
  EXPECT_EQ(DecodeMcpHeaderValue("=?base64?IHBhZGRlZCA=?="), " padded ");
  EXPECT_EQ(DecodeMcpHeaderValue("=?base64?bGluZTEKbGluZTI=?="), "line1\nline2");
  EXPECT_EQ(DecodeMcpHeaderValue("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="), "=?base64?literal?=");
  EXPECT_EQ(DecodeMcpHeaderValue("=?base64?"
                                 "?="),
            "");
  EXPECT_EQ(DecodeMcpHeaderValue("=?base64?AA==?="), std::string(1, '\0'));
  EXPECT_EQ(DecodeMcpHeaderValue("=?base64?+/+/?="), "\xFB\xFF\xBF");
}

TEST(JsonRpcHeaders, DecodeRefusesMalformedBase64) {
  for (const char* bad :
       {"=?base64?A?=", "=?base64?AAAAA?=", "=?base64?A===?=", "=?base64?AA=?=", "=?base64?=AAA?=",
        "=?base64?AA AA?=", "=?base64?-_-_?=", "=?base64?AA==AA==?="}) {
    EXPECT_EQ(DecodeMcpHeaderValue(bad), nullopt) << bad;
  }
}

}  // namespace
}  // namespace portcullis::mcp
