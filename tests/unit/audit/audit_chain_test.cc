#include "gateway/audit/hash_chain.h"

#include <gtest/gtest.h>

#include <string>

namespace portcullis::audit {
namespace {

TEST(AuditChain, Sha256MatchesTheStandardVectors) {
  // FIPS 180-2, appendix B.1 and the empty string.
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 incremental;
  incremental.Update("a");
  incremental.Update("bc");
  EXPECT_EQ(incremental.HexDigest(), Sha256Hex("abc"));
  incremental.Update("abc");  // reusable after HexDigest
  EXPECT_EQ(incremental.HexDigest(), Sha256Hex("abc"));
}

TEST(AuditChain, SealAppendsSeqPrevHashOverTheBytesBeforeHash) {
  ChainPosition pos;
  std::string line = R"({"ts":"2026-01-01T00:00:00.000000Z","event":"x","k":"v")";
  SealRecord(&pos, &line);
  const std::string expected_body = R"({"ts":"2026-01-01T00:00:00.000000Z","event":"x","k":"v")"
                                    R"(,"seq":1,"prev":")" +
                                    std::string(kGenesisHash) + "\"";
  const std::string hash = Sha256Hex(expected_body);
  EXPECT_EQ(line, expected_body + R"(,"hash":")" + hash + "\"}\n");
  EXPECT_EQ(pos.seq, 1u);
  EXPECT_EQ(pos.hash, hash);

  std::string second = R"({"ts":"2026-01-01T00:00:01.000000Z","event":"y")";
  SealRecord(&pos, &second);
  EXPECT_NE(second.find(R"("seq":2,"prev":")" + hash + "\""), std::string::npos);
  EXPECT_EQ(pos.seq, 2u);
}

TEST(AuditChain, ParsesBackWhatItSeals) {
  ChainPosition pos;
  pos.seq = 41;
  pos.hash = std::string(64, 'c');
  std::string line = R"({"ts":"t","event":"audit.recovered","unreadable_bytes":12,)"
                     R"("unreadable_sha256":"ab","nested":{"event":"no"})";
  SealRecord(&pos, &line);
  line.pop_back();  // the '\n'
  std::optional<ParsedRecord> record = ParseRecordLine(line);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->tail.seq, 42u);
  EXPECT_EQ(record->tail.prev, std::string(64, 'c'));
  EXPECT_EQ(record->tail.hash, pos.hash);
  EXPECT_TRUE(record->hash_ok);
  EXPECT_EQ(record->event, "audit.recovered");
  EXPECT_EQ(record->unreadable_bytes, 12u);
  EXPECT_EQ(record->unreadable_sha256, "ab");
}

TEST(AuditChain, RejectsLinesThatAreNotExactlyRecords) {
  ChainPosition pos;
  std::string good = R"({"ts":"t","event":"x")";
  SealRecord(&pos, &good);
  good.pop_back();
  ASSERT_TRUE(ParseRecordLine(good).has_value());
  const std::string hex(64, 'a');
  const std::string zeros(kGenesisHash);
  std::vector<std::string> bad = {
      "",
      "not json",
      "{}",
      R"({"ts":"t","seq":1,"prev":")" + zeros + R"(","hash":")" + hex + R"("} )",  // trailing
      R"({"ts":"t","seq":01,"prev":")" + zeros + R"(","hash":")" + hex + R"("})",  // leading 0
      R"({"ts":"t","seq":0,"prev":")" + zeros + R"(","hash":")" + hex + R"("})",   // seq 0
      R"({"ts":"t","seq":1,"prev":")" + zeros + R"(","hash":")" + std::string(64, 'A') +
          R"("})",                                                                 // upper
      R"({"ts":"t","seq":1, "prev":")" + zeros + R"(","hash":")" + hex + R"("})",  // space
      R"({"ts":"t","prev":")" + zeros + R"(","hash":")" + hex + R"("})",           // no seq
      R"({"ts":"t","seq":1,"hash":")" + hex + R"("})",                             // no prev
      R"({"ts":"t","seq":99999999999999999999999,"prev":")" + zeros + R"(","hash":")" + hex +
          R"("})",  // overflow
      good + "x",
      good.substr(0, good.size() - 1),
      good.substr(0, 40),
      std::string(R"({"a":1})") + '\0' + good.substr(1),        // a raw NUL must not end the input
      R"({"ts":"a)" + std::string(1, '\x01') + good.substr(9),  // raw control byte
      R"({"ts":"a)" + std::string(1, '\xff') + good.substr(9),  // invalid UTF-8
  };
  for (const std::string& line : bad) {
    std::string why;
    EXPECT_FALSE(ParseRecordLine(line, &why).has_value()) << line;
    EXPECT_FALSE(why.empty());
  }
}

TEST(AuditChain, HashMismatchIsReportedNotRejected) {
  ChainPosition pos;
  std::string line = R"({"ts":"t","event":"x","k":"v")";
  SealRecord(&pos, &line);
  line.pop_back();
  line[line.find("\"v\"") + 1] = 'w';
  std::optional<ParsedRecord> record = ParseRecordLine(line);
  ASSERT_TRUE(record.has_value());
  EXPECT_FALSE(record->hash_ok);
}

}  // namespace
}  // namespace portcullis::audit
