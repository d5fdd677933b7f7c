#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <random>
#include <regex>
#include <string>

#include "gateway/audit/timestamp.h"
#include "gateway/audit/utf8.h"
#include "portcullis/audit.h"
#include "tests/unit/audit/audit_test_util.h"

namespace portcullis::audit {
namespace {

using testing::ParseJson;

// The record as the sink would see it, closed so it parses on its own.
std::string Closed(Record& r) { return r.TakeOpenJson() + "}"; }

// One line, nothing a JSON-lines reader could trip on.
void ExpectOneCleanLine(const std::string& json) {
  for (unsigned char c : json) {
    ASSERT_GE(c, 0x20) << "raw control byte in: " << json;
  }
  EXPECT_TRUE(IsValidUtf8(json));
}

TEST(AuditRecord, StartsWithTsThenEventThenFieldsInOrder) {
  Record r("tls.handshake");
  r.Str("conn", "c1").Int("neg", -5).Uint("big", UINT64_MAX).Bool("resumed", true).Double("x", 1.5);
  EXPECT_EQ(r.event(), "tls.handshake");
  std::string json = Closed(r);
  rapidjson::Document doc = ParseJson(json);
  ASSERT_TRUE(doc.IsObject());
  std::vector<std::string> keys;
  for (auto& m : doc.GetObject()) {
    keys.emplace_back(m.name.GetString());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"ts", "event", "conn", "neg", "big", "resumed", "x"}));
  EXPECT_STREQ(doc["event"].GetString(), "tls.handshake");
  EXPECT_EQ(doc["neg"].GetInt64(), -5);
  EXPECT_EQ(doc["big"].GetUint64(), UINT64_MAX);
  EXPECT_TRUE(doc["resumed"].GetBool());
  EXPECT_DOUBLE_EQ(doc["x"].GetDouble(), 1.5);
  EXPECT_TRUE(std::regex_match(doc["ts"].GetString(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")))
      << doc["ts"].GetString();
}

TEST(AuditRecord, TimestampIsNowInUtc) {
  int64_t before_s;
  uint32_t before_us;
  NowRealtime(&before_s, &before_us);
  Record r("x");
  std::string json = Closed(r);
  rapidjson::Document doc = ParseJson(json);
  std::string expected_prefix;
  AppendTimestampSeconds(before_s, &expected_prefix);
  // Same second (or the next one, if the clock ticked over between the two reads).
  std::string next_prefix;
  AppendTimestampSeconds(before_s + 1, &next_prefix);
  std::string ts = doc["ts"].GetString();
  EXPECT_TRUE(ts.substr(0, 19) == expected_prefix.substr(0, 19) ||
              ts.substr(0, 19) == next_prefix.substr(0, 19))
      << ts << " vs " << expected_prefix;
}

TEST(AuditRecord, FormatsKnownTimestamps) {
  std::string s;
  AppendTimestampMicros(0, 0, &s);
  EXPECT_EQ(s, "1970-01-01T00:00:00.000000Z");
  s.clear();
  AppendTimestampMicros(1795786477, 123456, &s);  // the example in the brief
  EXPECT_EQ(s, "2026-11-27T13:34:37.123456Z");
  s.clear();
  AppendTimestampSeconds(951782400, &s);  // leap day of a century leap year
  EXPECT_EQ(s, "2000-02-29T00:00:00Z");
  s.clear();
  AppendTimestampSeconds(4102444799, &s);
  EXPECT_EQ(s, "2099-12-31T23:59:59Z");
  s.clear();
  AppendTimestampSeconds(-1, &s);
  EXPECT_EQ(s, "1969-12-31T23:59:59Z");
}

TEST(AuditRecord, EscapesQuotesNewlinesAndControlBytes) {
  std::string hostile = "a\"b\\c\nd\re\tf";
  for (int c = 0; c < 0x20; ++c) {
    hostile.push_back(static_cast<char>(c));
  }
  hostile.push_back('\x7f');
  hostile += std::string("nul\0inside", 10);
  hostile += "\"}\n{\"event\":\"forged\"";
  Record r("mcp.request");
  r.Str("tool", hostile).Str(hostile, "as a key too");
  std::string json = Closed(r);
  ExpectOneCleanLine(json);
  rapidjson::Document doc = ParseJson(json);
  ASSERT_TRUE(doc.IsObject());
  // Nothing was lost or changed: the value reads back byte for byte, NUL included.
  EXPECT_EQ(std::string(doc["tool"].GetString(), doc["tool"].GetStringLength()), hostile);
  EXPECT_STREQ(doc["event"].GetString(), "mcp.request");
  EXPECT_EQ(doc.MemberCount(), 4u);
}

TEST(AuditRecord, ReplacesInvalidUtf8) {
  struct Case {
    std::string in;
    std::string out;
  };
  const std::string fffd = "\xEF\xBF\xBD";
  std::vector<Case> cases = {
      {"a\xFF"
       "b",
       "a" + fffd + "b"},                               // never valid
      {"\x80", fffd},                                   // lone continuation
      {"\xC0\x80", fffd + fffd},                        // overlong NUL
      {"\xED\xA0\x80", fffd + fffd + fffd},             // UTF-16 surrogate
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd},  // above U+10FFFF
      {"x\xE2\x82", "x" + fffd},                        // cut in the middle at the end
      {"\xE2\x82"
       "A",
       fffd + "A"},  // maximal subpart: one U+FFFD
      {"caf\xC3\xA9 \xF0\x9F\x98\x80", "caf\xC3\xA9 \xF0\x9F\x98\x80"},  // valid, kept
  };
  for (const Case& c : cases) {
    Record r("x");
    r.Str("v", c.in);
    std::string json = Closed(r);
    ExpectOneCleanLine(json);
    rapidjson::Document doc = ParseJson(json);
    ASSERT_TRUE(doc.IsObject());
    EXPECT_EQ(std::string(doc["v"].GetString()), c.out);
    EXPECT_FALSE(doc.HasMember("v_truncated"));
  }
}

TEST(AuditRecord, CutsLongStringsAtACharacterBoundaryAndSaysSo) {
  const std::string ascii(1 << 20, 'A');
  std::string accents;
  for (int i = 0; i < (1 << 19); ++i) {
    accents += "\xC3\xA9";  // é, 2 bytes
  }
  std::string emoji = "x";
  for (int i = 0; i < 5000; ++i) {
    emoji += "\xF0\x9F\x98\x80";  // 4 bytes; 1 + 4k never lands on 4096
  }
  std::string garbage;
  std::mt19937 rng(7);
  for (int i = 0; i < (1 << 20); ++i) {
    garbage.push_back(static_cast<char>(0x80 | (rng() & 0x7F)));
  }
  for (const std::string* in :
       std::vector<const std::string*>{&ascii, &accents, &emoji, &garbage}) {
    Record r("mcp.request");
    r.Str("tool", *in).Str("after", "still here");
    std::string json = Closed(r);
    ExpectOneCleanLine(json);
    rapidjson::Document doc = ParseJson(json);
    ASSERT_TRUE(doc.IsObject());
    size_t len = doc["tool"].GetStringLength();
    EXPECT_LE(len, Record::kMaxFieldBytes);
    EXPECT_GT(len, Record::kMaxFieldBytes - 4);
    EXPECT_TRUE(doc.HasMember("tool_truncated"));
    EXPECT_TRUE(doc["tool_truncated"].GetBool());
    EXPECT_STREQ(doc["after"].GetString(), "still here");
  }
  // Exactly at the limit is not cut.
  Record r("x");
  r.Str("v", std::string(Record::kMaxFieldBytes, 'b'));
  rapidjson::Document doc = ParseJson(Closed(r));
  EXPECT_EQ(doc["v"].GetStringLength(), Record::kMaxFieldBytes);
  EXPECT_FALSE(doc.HasMember("v_truncated"));
}

TEST(AuditRecord, RandomBytesAlwaysGiveOneValidLine) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(1 + rng() % 300, '\0');
    for (char& c : bytes) {
      c = static_cast<char>(rng());
    }
    Record r("fuzz");
    r.Str(bytes.substr(0, bytes.size() / 3), bytes).StrList("list", {bytes, bytes.substr(1)});
    std::string json = Closed(r);
    ExpectOneCleanLine(json);
    rapidjson::Document doc = ParseJson(json);
    ASSERT_TRUE(doc.IsObject()) << round;
  }
}

TEST(AuditRecord, NestedObjectsAndLists) {
  Record r("tls.handshake");
  r.Begin("tls").Str("version", "TLSv1.3").Bool("resumed", false).End().Uint("handshake_us", 900);
  std::vector<std::string> many;
  for (int i = 0; i < 100; ++i) {
    many.push_back("n" + std::to_string(i));
  }
  r.StrList("few", {"a", "b"}).StrList("many", many);
  rapidjson::Document doc = ParseJson(Closed(r));
  ASSERT_TRUE(doc.IsObject());
  EXPECT_STREQ(doc["tls"]["version"].GetString(), "TLSv1.3");
  EXPECT_EQ(doc["handshake_us"].GetUint(), 900u);
  EXPECT_EQ(doc["few"].Size(), 2u);
  EXPECT_FALSE(doc.HasMember("few_truncated"));
  EXPECT_EQ(doc["many"].Size(), Record::kMaxListItems);
  EXPECT_TRUE(doc["many_truncated"].GetBool());
}

TEST(AuditRecord, UnclosedObjectsAreClosedByTakeOpenJson) {
  Record r("x");
  r.Begin("a").Begin("b").Str("c", "d");
  rapidjson::Document doc = ParseJson(Closed(r));
  ASSERT_TRUE(doc.IsObject());
  EXPECT_STREQ(doc["a"]["b"]["c"].GetString(), "d");
}

TEST(AuditRecord, IdentityObject) {
  Identity id;
  id.subject = "CN=agent-1,O=Example";
  id.cn = "agent-1";
  id.issuer = "CN=Team CA";
  id.serial_hex = "0a1b";
  id.dns_sans = {"agent.example.org"};
  id.uri_sans = {"spiffe://example.org/ns/ci/sa/agent"};
  id.ip_sans = {"127.0.0.1", "::1"};
  id.spiffe_id = "spiffe://example.org/ns/ci/sa/agent";
  id.cert_sha256 = std::string(64, 'a');
  id.spki_sha256 = std::string(64, 'b');
  id.not_after = 1798761600;  // 2027-01-01
  Record r("tls.handshake");
  r.IdentityObject("identity", id).IdentityObject("none", Identity{});
  rapidjson::Document doc = ParseJson(Closed(r));
  ASSERT_TRUE(doc.IsObject());
  const auto& o = doc["identity"];
  std::vector<std::string> keys;
  for (auto& m : o.GetObject()) {
    keys.emplace_back(m.name.GetString());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"subject", "cn", "issuer", "serial", "spiffe_id", "dns",
                                            "uri", "email", "ip", "fingerprint_sha256",
                                            "spki_sha256", "not_after"}));
  EXPECT_STREQ(o["cn"].GetString(), "agent-1");
  EXPECT_EQ(o["ip"].Size(), 2u);
  EXPECT_EQ(o["email"].Size(), 0u);
  EXPECT_STREQ(o["not_after"].GetString(), "2027-01-01T00:00:00Z");
  EXPECT_TRUE(doc["none"].IsNull());
}

TEST(AuditRecord, NonFiniteDoublesBecomeNull) {
  Record r("x");
  r.Double("nan", std::nan("")).Double("inf", 1.0 / 0.0).Double("ok", 0.25);
  rapidjson::Document doc = ParseJson(Closed(r));
  ASSERT_TRUE(doc.IsObject());
  EXPECT_TRUE(doc["nan"].IsNull());
  EXPECT_TRUE(doc["inf"].IsNull());
  EXPECT_DOUBLE_EQ(doc["ok"].GetDouble(), 0.25);
}

TEST(AuditRecord, ChainMemberNamesAreRenamedAtTopLevelOnly) {
  Record r("x");
  r.Str("seq", "1").Str("hash", "h").Str("event", "e").Begin("inner").Str("seq", "ok").End();
  rapidjson::Document doc = ParseJson(Closed(r));
  ASSERT_TRUE(doc.IsObject());
  EXPECT_FALSE(doc.HasMember("seq"));
  EXPECT_FALSE(doc.HasMember("hash"));
  EXPECT_STREQ(doc["_seq"].GetString(), "1");
  EXPECT_STREQ(doc["_hash"].GetString(), "h");
  EXPECT_STREQ(doc["_event"].GetString(), "e");
  EXPECT_STREQ(doc["event"].GetString(), "x");
  EXPECT_STREQ(doc["inner"]["seq"].GetString(), "ok");
}

TEST(AuditRecord, MovesKeepTheContent) {
  Record a("moved");
  a.Str("k", "v");
  Record b(std::move(a));
  Record c("other");
  c = std::move(b);
  EXPECT_EQ(c.event(), "moved");
  rapidjson::Document doc = ParseJson(Closed(c));
  EXPECT_STREQ(doc["k"].GetString(), "v");
}

}  // namespace
}  // namespace portcullis::audit
