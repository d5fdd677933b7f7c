// jsonrpc_rewrite (gateway/session/jsonrpc_rewrite.h): a member's value is replaced and every
// other byte kept; only the member asked for (top level, or inside params) is touched; a
// missing, duplicated or misplaced member is refused; ids and tokens compare in one spelling.
#include "gateway/session/jsonrpc_rewrite.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <optional>
#include <string>

namespace portcullis::session {
namespace {

TEST(JsonRpcRewrite, ReplaceIdSwapsIntegerAndStringIds) {
  EXPECT_EQ(ReplaceId(R"({"jsonrpc":"2.0","id":7,"method":"ping"})", "1"),
            R"({"jsonrpc":"2.0","id":1,"method":"ping"})");
  EXPECT_EQ(ReplaceId(R"({"jsonrpc":"2.0","id":"abc","result":{}})", "42"),
            R"({"jsonrpc":"2.0","id":42,"result":{}})");
  EXPECT_EQ(ReplaceId(R"({"jsonrpc":"2.0","id":3,"result":{}})", R"("\u0041-b")"),
            R"({"jsonrpc":"2.0","id":"\u0041-b","result":{}})");
}

TEST(JsonRpcRewrite, ReplaceIdKeepsEveryOtherByte) {
  // Spaces, escapes, a float RapidJSON would respell, a huge integer, and nested "id" members
  // that are not the message's id.
  const std::string message =
      "{ \"id\" :\t\"x\\/y\" , \"method\":\"tools/call\",\n"
      " \"params\":{\"id\":5,\"name\":\"echo\",\"arguments\":{\"id\":[1,{\"id\":2}],"
      "\"f\":1.10e+2,\"big\":123456789012345678901234567890,\"s\":\"\\u00e9\"}} }";
  std::optional<std::string> out = ReplaceId(message, "9");
  ASSERT_TRUE(out);
  const std::string old_id = "\"x\\/y\"";
  std::string expected = message;
  expected.replace(expected.find(old_id), old_id.size(), "9");
  EXPECT_EQ(*out, expected);
}

TEST(JsonRpcRewrite, ReplaceIdOfContainerValueTakesTheWholeValue) {
  EXPECT_EQ(ReplaceId(R"({"id":{"a":[1,2]},"b":1})", "3"), R"({"id":3,"b":1})");
  EXPECT_EQ(ReplaceId(R"({"id":[1,[2]] ,"b":1})", "3"), R"({"id":3 ,"b":1})");
}

TEST(JsonRpcRewrite, ReplaceIdRefusesWhatIsNotOneMessageWithOneId) {
  EXPECT_FALSE(ReplaceId(R"({"jsonrpc":"2.0","method":"notifications/x"})", "1"));
  EXPECT_FALSE(ReplaceId(R"({"id":1,"id":2})", "3"));
  EXPECT_FALSE(ReplaceId(R"([{"id":1}])", "3"));
  EXPECT_FALSE(ReplaceId(R"("id")", "3"));
  EXPECT_FALSE(ReplaceId("not json", "3"));
  EXPECT_FALSE(ReplaceId(R"({"id":1} trailing)", "3"));
  EXPECT_FALSE(ReplaceId(std::string("{\"id\":1}\0{\"id\":2}", 17), "3"));
  EXPECT_FALSE(ReplaceId("", "3"));
  // Only the top level counts.
  EXPECT_FALSE(ReplaceId(R"({"params":{"id":1}})", "3"));
}

TEST(JsonRpcRewrite, ReplaceMemberInsideParams) {
  const std::string cancel =
      R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"c-1","reason":"x"}})";
  EXPECT_EQ(
      ReplaceMember(cancel, "params", "requestId", "12"),
      R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":12,"reason":"x"}})");
  // A requestId elsewhere (top level, or nested deeper) is not params.requestId.
  EXPECT_FALSE(ReplaceMember(R"({"requestId":1,"params":{}})", "params", "requestId", "2"));
  EXPECT_FALSE(ReplaceMember(R"({"params":{"x":{"requestId":1}}})", "params", "requestId", "2"));
  // params not an object, duplicated params, duplicated member.
  EXPECT_FALSE(ReplaceMember(R"({"params":[{"requestId":1}]})", "params", "requestId", "2"));
  EXPECT_FALSE(ReplaceMember(R"({"params":"requestId"})", "params", "requestId", "2"));
  EXPECT_FALSE(
      ReplaceMember(R"({"params":{"requestId":1},"params":{}})", "params", "requestId", "2"));
  EXPECT_FALSE(
      ReplaceMember(R"({"params":{"requestId":1,"requestId":1}})", "params", "requestId", "2"));
  // The member after params is found too.
  EXPECT_EQ(ReplaceMember(R"({"params":{"a":{"requestId":0},"requestId":1},"z":1})", "params",
                          "requestId", "2"),
            R"({"params":{"a":{"requestId":0},"requestId":2},"z":1})");
}

TEST(JsonRpcRewrite, ReadStringOrIntegerIsCanonical) {
  const std::string progress =
      R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"\u0074ok","progress":1}})";
  EXPECT_EQ(ReadStringOrInteger(progress, "params", "progressToken"), "\"tok\"");
  EXPECT_EQ(ReadStringOrInteger(R"({"params":{"progressToken": 17 }})", "params", "progressToken"),
            "17");
  EXPECT_EQ(ReadStringOrInteger(R"({"id":-5})", "", "id"), "-5");
  EXPECT_EQ(ReadStringOrInteger(R"({"method":"a/b"})", "", "method"), "\"a/b\"");
  // Anything but a string or an integer, or no such member: "".
  EXPECT_EQ(ReadStringOrInteger(R"({"params":{"progressToken":1.5}})", "params", "progressToken"),
            "");
  EXPECT_EQ(ReadStringOrInteger(R"({"params":{"progressToken":null}})", "params", "progressToken"),
            "");
  EXPECT_EQ(ReadStringOrInteger(R"({"params":{"progressToken":{}}})", "params", "progressToken"),
            "");
  EXPECT_EQ(ReadStringOrInteger(R"({"params":{}})", "params", "progressToken"), "");
  EXPECT_EQ(ReadStringOrInteger("garbage", "params", "progressToken"), "");
}

TEST(JsonRpcRewrite, CanonicalIdJsonSpellsEachIdOneWay) {
  EXPECT_EQ(CanonicalIdJson(R"("\u0041")"), R"("A")");
  EXPECT_EQ(CanonicalIdJson(R"("A")"), R"("A")");
  EXPECT_EQ(CanonicalIdJson(R"("a\/b")"), R"("a/b")");
  EXPECT_EQ(CanonicalIdJson(R"("q\"")"), R"("q\"")");
  EXPECT_EQ(CanonicalIdJson(" 7 "), "7");
  EXPECT_EQ(CanonicalIdJson("-12"), "-12");
  EXPECT_EQ(CanonicalIdJson("18446744073709551615"), "18446744073709551615");
  EXPECT_EQ(CanonicalIdJson("1.0"), "");
  EXPECT_EQ(CanonicalIdJson("1e3"), "");
  EXPECT_EQ(CanonicalIdJson("null"), "");
  EXPECT_EQ(CanonicalIdJson("[1]"), "");
  EXPECT_EQ(CanonicalIdJson(""), "");
  EXPECT_EQ(CanonicalIdJson(std::string("1\0"
                                        "2",
                                        3)),
            "");
}

TEST(JsonRpcRewrite, ParseIntegerIdTakesOnlyJsonIntegers) {
  EXPECT_EQ(ParseIntegerId("42"), 42);
  EXPECT_EQ(ParseIntegerId("-3"), -3);
  EXPECT_EQ(ParseIntegerId("0"), 0);
  EXPECT_EQ(ParseIntegerId("9223372036854775807"), INT64_MAX);
  EXPECT_FALSE(ParseIntegerId("9223372036854775808"));
  EXPECT_FALSE(ParseIntegerId("\"1\""));
  EXPECT_FALSE(ParseIntegerId("01"));
  EXPECT_FALSE(ParseIntegerId("1.0"));
  EXPECT_FALSE(ParseIntegerId(" 1"));
  EXPECT_FALSE(ParseIntegerId("+1"));
  EXPECT_FALSE(ParseIntegerId("-"));
  EXPECT_FALSE(ParseIntegerId(""));
}

TEST(JsonRpcRewrite, CancelledNotificationIsAValidMessage) {
  const std::string text = CancelledNotification("12", "client \"gone\"");
  EXPECT_EQ(
      text,
      R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":12,"reason":"client \"gone\""}})");
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_EQ(doc["params"]["requestId"].GetInt(), 12);
  EXPECT_EQ(
      CancelledNotification(R"("s")", "r"),
      R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"s","reason":"r"}})");
}

TEST(JsonRpcRewrite, DeepNestingDoesNotExhaustTheStack) {
  std::string deep = "{\"id\":1,\"params\":";
  for (int i = 0; i < 100000; ++i) deep += "[";
  for (int i = 0; i < 100000; ++i) deep += "]";
  deep += "}";
  std::optional<std::string> out = ReplaceId(deep, "2");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->substr(0, 8), "{\"id\":2,");
}

}  // namespace
}  // namespace portcullis::session
