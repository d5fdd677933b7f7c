// Helpers shared by the audit unit tests: read a log back, parse a line, write records.
// Header-only; test threads only.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "portcullis/audit.h"

namespace portcullis::audit::testing {

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline void WriteAll(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The file's lines without their '\n' (a last line without one is included as is).
inline std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::string all = ReadAll(path);
  size_t start = 0;
  while (start < all.size()) {
    size_t nl = all.find('\n', start);
    if (nl == std::string::npos) {
      lines.push_back(all.substr(start));
      break;
    }
    lines.push_back(all.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

inline std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) {
    out += l;
    out += '\n';
  }
  return out;
}

// Parses with UTF-8 validation; fails the test (and returns a null document) on error.
inline rapidjson::Document ParseJson(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  EXPECT_FALSE(doc.HasParseError()) << rapidjson::GetParseError_En(doc.GetParseError()) << " at "
                                    << doc.GetErrorOffset() << " in: " << text;
  return doc;
}

inline AuditOptions TestOptions(const std::string& path) {
  AuditOptions options;
  options.path = path;
  options.fsync = FsyncPolicy::kNone;  // the tests check content, not durability
  return options;
}

inline std::unique_ptr<AuditSink> OpenOrDie(const AuditOptions& options) {
  Result<std::unique_ptr<AuditSink>> log = OpenAuditLog(options);
  EXPECT_TRUE(log.ok()) << log.error();
  return log.ok() ? std::move(log).value() : nullptr;
}

// A record shaped like the gateway's mcp.request.
inline Record RequestRecord(uint64_t n) {
  Record r("mcp.request");
  r.Str("conn", "r0-c17")
      .Str("peer", "127.0.0.1:51234")
      .Begin("identity")
      .Str("cn", "agent-1")
      .Str("spiffe_id", "spiffe://example.org/ns/ci/sa/agent")
      .End()
      .Str("server", "everything")
      .Str("method", "tools/call")
      .Str("tool", "echo")
      .Str("id", "42")
      .Str("decision", "allow")
      .Str("rule", "ci-agents")
      .Int("status", 200)
      .Uint("latency_us", 1234)
      .Uint("bytes", 512)
      .Uint("n", n);
  return r;
}

inline void WriteRequests(AuditSink* sink, uint64_t count, uint64_t first = 1) {
  for (uint64_t i = 0; i < count; ++i) {
    sink->Write(RequestRecord(first + i));
  }
}

}  // namespace portcullis::audit::testing
