#include "portcullis/located_json.h"

#include <gtest/gtest.h>

#include <string>

namespace portcullis {
namespace {

LocatedJson Parse(std::string_view text) {
  Result<LocatedJson> parsed = ParseLocatedJson(text);
  EXPECT_TRUE(parsed.ok()) << parsed.error();
  return parsed.ok() ? std::move(parsed).value() : LocatedJson();
}

std::string ParseError(std::string_view text, int max_depth = 64) {
  Result<LocatedJson> parsed = ParseLocatedJson(text, max_depth);
  EXPECT_FALSE(parsed.ok());
  return parsed.ok() ? "" : parsed.error();
}

JsonLocation At(int line, int col) { return JsonLocation{line, col}; }

TEST(LocatedJson, ParsesEveryTypeWithItsLocation) {
  LocatedJson root = Parse(
      "{\n"
      "  \"n\": null,\n"
      "  \"t\": true, \"f\": false,\n"
      "  \"num\": -12.5e1,\n"
      "  \"s\": \"hi\",\n"
      "  \"a\": [1, [], {}],\n"
      "  \"o\": {\"k\": \"v\"}\n"
      "}\n");
  ASSERT_TRUE(root.is_object());
  EXPECT_EQ(root.loc, At(1, 1));
  ASSERT_EQ(root.members.size(), 7u);
  EXPECT_EQ(root.members[0].key, "n");
  EXPECT_EQ(root.members[0].key_loc, At(2, 3));
  EXPECT_TRUE(root.members[0].value.is_null());
  EXPECT_EQ(root.members[0].value.loc, At(2, 8));

  const LocatedJson* t = root.Find("t");
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->is_bool());
  EXPECT_TRUE(t->boolean);
  EXPECT_EQ(t->loc, At(3, 8));
  const LocatedJson* f = root.Find("f");
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(f->boolean);
  EXPECT_EQ(f->loc, At(3, 19));
  EXPECT_EQ(root.FindMember("f")->key_loc, At(3, 14));

  const LocatedJson* num = root.Find("num");
  ASSERT_NE(num, nullptr);
  EXPECT_TRUE(num->is_number());
  EXPECT_EQ(num->raw, "-12.5e1");
  EXPECT_DOUBLE_EQ(num->number, -125.0);
  EXPECT_EQ(num->loc, At(4, 10));

  const LocatedJson* s = root.Find("s");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->string, "hi");
  EXPECT_EQ(s->loc, At(5, 8));

  const LocatedJson* a = root.Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->is_array());
  ASSERT_EQ(a->items.size(), 3u);
  EXPECT_EQ(a->loc, At(6, 8));
  EXPECT_EQ(a->items[0].loc, At(6, 9));
  EXPECT_TRUE(a->items[1].is_array());
  EXPECT_EQ(a->items[1].loc, At(6, 12));
  EXPECT_TRUE(a->items[2].is_object());
  EXPECT_EQ(a->items[2].loc, At(6, 16));

  const LocatedJson* o = root.Find("o");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->loc, At(7, 8));
  EXPECT_EQ(o->FindMember("k")->key_loc, At(7, 9));
  EXPECT_EQ(o->Find("k")->loc, At(7, 14));
  EXPECT_EQ(o->Find("missing"), nullptr);
  EXPECT_EQ(s->Find("k"), nullptr);  // not an object
}

TEST(LocatedJson, KeepsTheExactTextOfNumbers) {
  LocatedJson root = Parse("[0, -0, 10000, 1e3, 1.50, 18446744073709551616, -9223372036854775808]");
  ASSERT_EQ(root.items.size(), 7u);
  EXPECT_EQ(root.items[0].raw, "0");
  EXPECT_EQ(root.items[1].raw, "-0");
  EXPECT_EQ(root.items[2].raw, "10000");
  EXPECT_EQ(root.items[3].raw, "1e3");
  EXPECT_DOUBLE_EQ(root.items[3].number, 1000.0);
  EXPECT_EQ(root.items[4].raw, "1.50");
  EXPECT_EQ(root.items[5].raw, "18446744073709551616");
  EXPECT_EQ(root.items[6].raw, "-9223372036854775808");

  EXPECT_EQ(root.items[2].AsInt64(), 10000);
  EXPECT_EQ(root.items[1].AsInt64(), 0);
  EXPECT_EQ(root.items[3].AsInt64(), std::nullopt);  // exponent: not an integer literal
  EXPECT_EQ(root.items[4].AsInt64(), std::nullopt);
  EXPECT_EQ(root.items[5].AsInt64(), std::nullopt);  // does not fit
  EXPECT_EQ(root.items[6].AsInt64(), INT64_MIN);
  EXPECT_EQ(root.items[6].loc, At(1, 49));
  LocatedJson text = Parse("\"12\"");
  EXPECT_EQ(text.AsInt64(), std::nullopt);  // strings are not numbers
}

TEST(LocatedJson, AllowsCommentsAndTrailingCommas) {
  LocatedJson root = Parse(
      "// leading comment\n"
      "{\n"
      "  /* block */ \"a\": [1, 2,], // after\n"
      "  \"b\": {\"c\": 1,},\n"
      "}\n"
      "/* trailing */\n");
  ASSERT_EQ(root.members.size(), 2u);
  EXPECT_EQ(root.loc, At(2, 1));
  EXPECT_EQ(root.members[0].key_loc, At(3, 15));
  EXPECT_EQ(root.Find("a")->items.size(), 2u);
  EXPECT_EQ(root.Find("b")->members.size(), 1u);
}

TEST(LocatedJson, LocatesStringsWithEscapedQuotesAndBackslashes) {
  LocatedJson root = Parse("{\"k\\\"ey\": \"a\\\\\", \"x\": \"\\\\\\\"\", \"u\": \"\\u00e9\"}");
  ASSERT_EQ(root.members.size(), 3u);
  EXPECT_EQ(root.members[0].key, "k\"ey");
  EXPECT_EQ(root.members[0].key_loc, At(1, 2));
  EXPECT_EQ(root.members[0].value.string, "a\\");
  EXPECT_EQ(root.members[0].value.loc, At(1, 11));
  EXPECT_EQ(root.members[1].key_loc, At(1, 18));
  EXPECT_EQ(root.members[1].value.string, "\\\"");
  EXPECT_EQ(root.members[1].value.loc, At(1, 23));
  EXPECT_EQ(root.members[2].value.string, "\xc3\xa9");
}

TEST(LocatedJson, CountsColumnsInBytesAndHandlesCrLf) {
  // "é" is two bytes, so the value after it starts one column later than it looks.
  LocatedJson root = Parse("{\r\n\"\xc3\xa9\": 1,\r\n  \"b\": 2}");
  EXPECT_EQ(root.members[0].key_loc, At(2, 1));
  EXPECT_EQ(root.members[0].value.loc, At(2, 7));
  EXPECT_EQ(root.members[1].key_loc, At(3, 3));
}

TEST(LocatedJson, ReportsSyntaxErrorsAtLineAndColumn) {
  EXPECT_EQ(ParseError("{\n  \"a\": 1\n  \"b\": 2\n}"),
            "3:3: missing a comma or '}' after an object member");
  EXPECT_EQ(ParseError("{\"a\" 1}"), "1:6: missing a colon after a name of object member");
  EXPECT_EQ(ParseError("[1,\n 2\n 3]"), "3:2: missing a comma or ']' after an array element");
  EXPECT_EQ(ParseError(""), "1:1: the document is empty");
  EXPECT_EQ(ParseError("  // only a comment\n"), "2:1: the document is empty");
  EXPECT_EQ(ParseError("{} {}"), "1:4: the document root must not be followed by other values");
  EXPECT_EQ(ParseError("{\"a\": \"x\\q\"}"), "1:9: invalid escape character in string");
  // Bad literals are reported where they start, not where RapidJSON gave up.
  EXPECT_NE(ParseError("{\"a\": tru}").find("1:7: invalid value"), std::string::npos);
  EXPECT_NE(ParseError("{\"a\": True}").find("1:7: invalid value"), std::string::npos);
  EXPECT_NE(ParseError("[1, -]").find("1:5: invalid value"), std::string::npos);
  EXPECT_NE(ParseError("{\"a\": 'x'}").find("1:7: invalid value"), std::string::npos);
  EXPECT_NE(ParseError("[1,,2]").find("1:4: invalid value"), std::string::npos);
  EXPECT_NE(ParseError("{} /* never closed").find("1:19: syntax error"), std::string::npos);
  EXPECT_EQ(ParseError("{\"a\": \"open"), "1:12: missing a closing quotation mark in string");
  EXPECT_EQ(ParseError("[1e999]"), "1:2: number too big to be stored in double");
}

TEST(LocatedJson, RejectsInvalidUtf8AndNulBytes) {
  EXPECT_EQ(ParseError("[\"a\xff\"]"), "1:4: invalid encoding in string");
  EXPECT_EQ(ParseError(std::string_view("{}\0{}", 5)), "1:3: unexpected NUL byte");
}

TEST(LocatedJson, RejectsDuplicateKeysCitingBothPlaces) {
  EXPECT_EQ(ParseError("{\n  \"a\": 1,\n  \"b\": {\"a\": 2},\n  \"a\": 3\n}"),
            "4:3: duplicate key \"a\" (first at 2:3)");
}

TEST(LocatedJson, EnforcesTheDepthLimitWithoutCrashing) {
  EXPECT_TRUE(ParseLocatedJson("[[[1]]]", 3).ok());
  EXPECT_EQ(ParseError("[[[[1]]]]", 3), "1:4: nesting deeper than 3 levels");
  EXPECT_EQ(ParseError("{\"a\": {\"b\": {}}}", 2), "1:13: nesting deeper than 2 levels");
  // Far deeper than any stack would survive if the parser recursed without a limit.
  std::string deep(1000000, '[');
  EXPECT_EQ(ParseError(deep, 64), "1:65: nesting deeper than 64 levels");
}

TEST(LocatedJson, FillsTheStructuredErrorToo) {
  JsonParseError error;
  Result<LocatedJson> parsed = ParseLocatedJson("{\n\n   x}", 64, &error);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(error.loc, At(3, 4));
  EXPECT_EQ(error.message, "missing a name for object member");
  EXPECT_EQ(error.ToString(), parsed.error());
}

TEST(LocatedJson, AcceptsScalarRoots) {
  EXPECT_TRUE(Parse("42").is_number());
  EXPECT_EQ(Parse("  \"s\"  ").loc, At(1, 3));
  EXPECT_TRUE(Parse("null").is_null());
}

TEST(LocatedJson, AppendsJsonPointerTokens) {
  EXPECT_EQ(JsonPointerAppend("", "tls"), "/tls");
  EXPECT_EQ(JsonPointerAppend("/upstreams", "a/b~c"), "/upstreams/a~1b~0c");
  EXPECT_EQ(JsonPointerAppend("/listen", size_t{2}), "/listen/2");
}

TEST(LocatedJson, NamesTypesForMessages) {
  EXPECT_STREQ(LocatedJson::TypeName(LocatedJson::Type::kArray), "an array");
  EXPECT_STREQ(Parse("{}").type_name(), "an object");
  EXPECT_STREQ(Parse("true").type_name(), "a boolean");
}

}  // namespace
}  // namespace portcullis
