#include "gateway/mcp/jsonrpc_error.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <set>
#include <string>

namespace portcullis::mcp {
namespace {

// Parses `body` strictly (UTF-8 validated) and fails the test if it is not JSON.
rapidjson::Document ParseStrict(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
  EXPECT_FALSE(doc.HasParseError()) << body;
  return doc;
}

TEST(JsonRpcError, BuildsBodyWithNullIdWhenIdIsEmpty) {
  EXPECT_EQ(JsonRpcErrorBody("", kParseError, "Parse error"),
            R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}})");
}

TEST(JsonRpcError, EchoesIntegerAndStringIdsVerbatim) {
  EXPECT_EQ(JsonRpcErrorBody("42", kInvalidParams, "Invalid params"),
            R"({"jsonrpc":"2.0","id":42,"error":{"code":-32602,"message":"Invalid params"}})");
  EXPECT_EQ(JsonRpcErrorBody(R"("a\u0041")", kInvalidRequest, "x"),
            R"({"jsonrpc":"2.0","id":"a\u0041","error":{"code":-32600,"message":"x"}})");
}

TEST(JsonRpcError, IncludesDataWhenGiven) {
  const std::string body =
      JsonRpcErrorBody("1", kUnsupportedProtocolVersion, "Unsupported protocol version",
                       R"({"supported":["2025-11-25"],"requested":"1900-01-01"})");
  rapidjson::Document doc = ParseStrict(body);
  ASSERT_TRUE(doc["error"].HasMember("data"));
  EXPECT_STREQ(doc["error"]["data"]["requested"].GetString(), "1900-01-01");
  EXPECT_EQ(doc["error"]["code"].GetInt(), -32022);
  EXPECT_FALSE(ParseStrict(JsonRpcErrorBody("1", kInternalError, "x"))["error"].HasMember("data"));
}

TEST(JsonRpcError, EscapesQuotesBackslashesNewlinesAndControlCharacters) {
  const std::string message =
      std::string("say \"hi\"\\ now\nnext\r\ttab ") + '\x01' + '\x1f' + " </script> \xC3\xA9";
  const std::string body = JsonRpcErrorBody("", kInternalError, message);
  EXPECT_NE(body.find(R"(say \"hi\"\\ now\nnext\r\ttab \u0001\u001F)"), std::string::npos) << body;
  EXPECT_EQ(body.find('\n'), std::string::npos);
  EXPECT_EQ(body.find('\x01'), std::string::npos);
  rapidjson::Document doc = ParseStrict(body);
  EXPECT_EQ(
      std::string(doc["error"]["message"].GetString(), doc["error"]["message"].GetStringLength()),
      message);
}

TEST(JsonRpcError, EscapesEmbeddedNul) {
  const std::string message("a\0b", 3);
  const std::string body = JsonRpcErrorBody("", kInternalError, message);
  EXPECT_NE(body.find(R"(a\u0000b)"), std::string::npos) << body;
  rapidjson::Document doc = ParseStrict(body);
  EXPECT_EQ(doc["error"]["message"].GetStringLength(), 3u);
}

TEST(JsonRpcError, ReplacesInvalidUtf8WithReplacementCharacter) {
  // A lone continuation byte, an overlong '/', a CESU surrogate and a truncated sequence.
  const std::string message =
      "a\x80"
      "b\xC0\xAF"
      "c\xED\xA0\x80"
      "d\xE2\x82";
  const std::string body = JsonRpcErrorBody("", kInternalError, message);
  rapidjson::Document doc = ParseStrict(body);
  const std::string got(doc["error"]["message"].GetString(),
                        doc["error"]["message"].GetStringLength());
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(got, "a" + r + "b" + r + r + "c" + r + r + r + "d" + r + r);
}

TEST(JsonRpcError, KeepsValidMultibyteUtf8) {
  const std::string message = "h\xC3\xA9llo \xE4\xB8\x96 \xF0\x9F\x98\x80";
  rapidjson::Document doc = ParseStrict(JsonRpcErrorBody("", kInternalError, message));
  EXPECT_EQ(doc["error"]["message"].GetString(), message);
}

TEST(JsonRpcError, FindsTheFirstInvalidUtf8ByteAtAnyAlignment) {
  EXPECT_EQ(ValidUtf8PrefixLength(""), 0u);
  EXPECT_EQ(ValidUtf8PrefixLength("plain ascii, longer than eight bytes"), 36u);
  for (size_t at = 0; at < 20; ++at) {
    std::string s(24, 'a');
    s[at] = '\xFF';
    EXPECT_EQ(ValidUtf8PrefixLength(s), at) << at;
    // A valid 4-byte sequence straddling the 8-byte words is not an error.
    std::string ok(24, 'a');
    ok.replace(at, 4, "\xF0\x9F\x98\x80");
    EXPECT_EQ(ValidUtf8PrefixLength(ok), ok.size()) << at;
  }
  EXPECT_EQ(ValidUtf8PrefixLength("abc\xC3"), 3u);  // truncated at the end
  EXPECT_EQ(ValidUtf8PrefixLength("abc\xF0\x9F\x98"), 3u);
  EXPECT_EQ(ValidUtf8PrefixLength("\xE0\x80\x80"), 0u);          // overlong
  EXPECT_EQ(ValidUtf8PrefixLength("\xED\xBF\xBF"), 0u);          // surrogate
  EXPECT_EQ(ValidUtf8PrefixLength("\xF4\x90\x80\x80"), 0u);      // above U+10FFFF
  EXPECT_EQ(ValidUtf8PrefixLength("\xF4\x8F\xBF\xBF"), 4u);      // U+10FFFF
  EXPECT_EQ(ValidUtf8PrefixLength("\xEF\xBF\xBF\xC2\x80"), 5u);  // U+FFFF, U+0080
}

TEST(JsonRpcError, MapsEveryCodeToItsHttpStatus) {
  EXPECT_EQ(HttpStatusForErrorCode(kParseError), 400);
  EXPECT_EQ(HttpStatusForErrorCode(kInvalidRequest), 400);
  EXPECT_EQ(HttpStatusForErrorCode(kMethodNotFound), 404);
  EXPECT_EQ(HttpStatusForErrorCode(kInvalidParams), 400);
  EXPECT_EQ(HttpStatusForErrorCode(kInternalError), 500);
  EXPECT_EQ(HttpStatusForErrorCode(kHeaderMismatch), 400);
  EXPECT_EQ(HttpStatusForErrorCode(kMissingRequiredClientCapability), 400);
  EXPECT_EQ(HttpStatusForErrorCode(kUnsupportedProtocolVersion), 400);
  EXPECT_EQ(HttpStatusForErrorCode(kUpstreamUnavailable), 502);
  EXPECT_EQ(HttpStatusForErrorCode(kUpstreamTimeout), 504);
  EXPECT_EQ(HttpStatusForErrorCode(kForbidden), 403);
  EXPECT_EQ(HttpStatusForErrorCode(kUnknownUpstream), 404);
  EXPECT_EQ(HttpStatusForErrorCode(kRequestTooLarge), 413);
  EXPECT_EQ(HttpStatusForErrorCode(kRateLimited), 429);
  EXPECT_EQ(HttpStatusForErrorCode(kGatewayDraining), 503);
  EXPECT_EQ(HttpStatusForErrorCode(-31999), 500);
}

TEST(JsonRpcError, TableKeepsGatewayCodesOutOfTheSpecRange) {
  std::set<int> codes;
  for (const JsonRpcErrorCode& entry : kJsonRpcErrorCodes) {
    EXPECT_TRUE(codes.insert(entry.code).second) << "duplicate code " << entry.code;
    EXPECT_FALSE(entry.name.empty());
    EXPECT_FALSE(entry.meaning.empty());
    EXPECT_GE(entry.http_status, 400);
    EXPECT_LT(entry.http_status, 600);
    // -32002 meant "resource not found" up to 2025-11-25 and is never reused.
    EXPECT_NE(entry.code, -32002);
  }
  for (int gateway_code : {kUpstreamUnavailable, kUpstreamTimeout, kForbidden, kUnknownUpstream,
                           kRequestTooLarge, kRateLimited, kGatewayDraining}) {
    EXPECT_LE(gateway_code, -32000);
    EXPECT_GE(gateway_code, -32019);
  }
  for (int spec_code :
       {kHeaderMismatch, kMissingRequiredClientCapability, kUnsupportedProtocolVersion}) {
    EXPECT_LE(spec_code, -32020);
    EXPECT_GE(spec_code, -32099);
  }
}

}  // namespace
}  // namespace portcullis::mcp
