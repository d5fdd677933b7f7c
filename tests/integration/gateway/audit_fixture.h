// Helpers for the audit integration tests (audit_*_test.cc), on top of gateway_fixture.h:
//
//  - AuditGateway: a GatewayProcess whose config writes the audit log to audit.jsonl in its own
//    temp dir (plus any "anomalies" thresholds), which a test stops with SIGTERM so that the
//    log is complete (the gateway flushes it before exiting) before it is read.
//  - AuditLog: the file read back, one RapidJSON document per line; lines that do not parse
//    are kept and counted, so a test can assert that every line is one JSON object.
//  - RunVerify: `portcullis audit verify FILE...`, bounded.
//  - LocalPeer: "127.0.0.1:<port>" of a client socket, as the gateway names that peer.
//  - ClientHello: a hand-made TLS ClientHello of a chosen version, for partial and TLS 1.1
//    handshakes sent through a RawSocket (whose local port the test knows).
//
// Header-only for the same reason as gateway_fixture.h. Every wait is bounded; every process
// is killed by its owner's destructor. Used from the test's thread only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "portcullis/audit.h"
#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {

using testing::CommandResult;
using testing::kGoodClientCn;
using testing::kGoodClientDns;
using testing::kGoodClientSerialHex;
using testing::kGoodClientSpiffeId;
using testing::RunCommand;

// ---------------------------------------------------------------------------------------------
// Reading the log

// A string member of a JSON object, or "" when absent or not a string.
inline std::string JStr(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsString()) {
    return "";
  }
  return std::string(v[key].GetString(), v[key].GetStringLength());
}

// An integer member, or nullopt when absent or not an integer.
inline std::optional<int64_t> JInt(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsInt64()) {
    return std::nullopt;
  }
  return v[key].GetInt64();
}

inline bool JHas(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key);
}

// One audit file (or several, oldest first) read back line by line.
class AuditLog {
 public:
  // Reads `paths` in order. A missing file reads as empty.
  static AuditLog Read(const std::vector<std::string>& paths) {
    AuditLog log;
    for (const std::string& path : paths) {
      std::string text = TempDir::ReadFile(path);
      log.bytes_ += text.size();
      if (!text.empty() && text.back() != '\n') {
        log.unterminated_ = true;
      }
      size_t pos = 0;
      while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        std::string line =
            text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
        pos = eol == std::string::npos ? text.size() : eol + 1;
        auto doc = std::make_unique<rapidjson::Document>();
        doc->Parse(line.c_str(), line.size());
        if (doc->HasParseError() || !doc->IsObject()) {
          log.bad_lines_.push_back(line.substr(0, 200));
          continue;
        }
        log.records_.push_back(std::move(doc));
      }
    }
    return log;
  }
  static AuditLog Read(const std::string& path) { return Read(std::vector<std::string>{path}); }

  size_t size() const { return records_.size(); }
  const rapidjson::Value& at(size_t i) const { return *records_[i]; }
  // Lines that are not one JSON object (the first 200 bytes of each).
  const std::vector<std::string>& bad_lines() const { return bad_lines_; }
  bool unterminated() const { return unterminated_; }
  size_t bytes() const { return bytes_; }

  // Records whose "event" is `event`, in file order.
  std::vector<const rapidjson::Value*> Events(std::string_view event) const {
    std::vector<const rapidjson::Value*> out;
    for (const auto& doc : records_) {
      if (JStr(*doc, "event") == event) {
        out.push_back(doc.get());
      }
    }
    return out;
  }
  // Records whose "event" starts with `prefix`.
  std::vector<const rapidjson::Value*> EventsWithPrefix(std::string_view prefix) const {
    std::vector<const rapidjson::Value*> out;
    for (const auto& doc : records_) {
      if (JStr(*doc, "event").rfind(prefix, 0) == 0) {
        out.push_back(doc.get());
      }
    }
    return out;
  }
  // Records of `event` whose "peer" is `peer`.
  std::vector<const rapidjson::Value*> ForPeer(std::string_view event,
                                               std::string_view peer) const {
    std::vector<const rapidjson::Value*> out;
    for (const rapidjson::Value* r : Events(event)) {
      if (JStr(*r, "peer") == peer) {
        out.push_back(r);
      }
    }
    return out;
  }

  // "event seq ..." lines of every record, for failure messages.
  std::string Summary(size_t max_records = 200) const {
    std::string out;
    for (size_t i = 0; i < records_.size() && i < max_records; ++i) {
      const rapidjson::Value& r = *records_[i];
      out += "  " + std::to_string(JInt(r, "seq").value_or(-1)) + " " + JStr(r, "event");
      for (const char* key : {"peer", "reason", "method", "tool", "id", "status", "subject"}) {
        if (JHas(r, key)) {
          out += std::string(" ") + key + "=";
          out += r[key].IsString() ? JStr(r, key).substr(0, 80)
                                   : std::to_string(JInt(r, key).value_or(0));
        }
      }
      out += "\n";
    }
    if (records_.size() > max_records) {
      out += "  ... " + std::to_string(records_.size() - max_records) + " more\n";
    }
    return out;
  }

 private:
  std::vector<std::unique_ptr<rapidjson::Document>> records_;
  std::vector<std::string> bad_lines_;
  bool unterminated_ = false;
  size_t bytes_ = 0;
};

// `portcullis audit verify [--strict] FILE...`.
inline CommandResult RunVerify(const std::vector<std::string>& files, bool strict = false) {
  std::vector<std::string> argv = {PortcullisPath(), "audit", "verify"};
  if (strict) {
    argv.push_back("--strict");
  }
  argv.insert(argv.end(), files.begin(), files.end());
  Result<CommandResult> result = RunCommand(argv, kWaitMs);
  if (!result.ok()) {
    ADD_FAILURE() << "audit verify did not run: " << result.error();
    return CommandResult{-1, "", result.error()};
  }
  return *result;
}

// The audit file and its rotated siblings that exist, oldest first: path.N ... path.1, path.
inline std::vector<std::string> AuditFilesOldestFirst(const std::string& path) {
  std::vector<std::string> out;
  int n = 1;
  while (std::filesystem::exists(path + "." + std::to_string(n))) {
    ++n;
  }
  for (int i = n - 1; i >= 1; --i) {
    out.push_back(path + "." + std::to_string(i));
  }
  out.push_back(path);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Peers and raw handshakes

// "127.0.0.1:<local port>" of a connected client socket: the gateway's "peer" for it.
inline std::string LocalPeer(int fd) {
  sockaddr_in address{};
  socklen_t len = sizeof(address);
  if (fd < 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len) != 0) {
    return "(getsockname failed)";
  }
  char ip[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address.sin_addr, ip, sizeof(ip));
  return std::string(ip) + ":" + std::to_string(ntohs(address.sin_port));
}

// A TLS record holding a ClientHello with legacy_version `version` (0x0302 = TLS 1.1,
// 0x0303 = TLS 1.2), a few ECDHE-ECDSA suites, no session id and the extensions a TLS 1.2
// server needs to pick an ECDSA suite (supported_groups P-256, ec_point_formats, and
// signature_algorithms ecdsa_secp256r1_sha256).
inline std::string ClientHello(uint16_t version) {
  std::string body;
  auto u8 = [&body](unsigned v) { body.push_back(static_cast<char>(v & 0xff)); };
  auto u16 = [&](unsigned v) {
    u8(v >> 8);
    u8(v);
  };
  u16(version);
  for (int i = 0; i < 32; ++i) {
    u8(0x40 + i);  // client random: any bytes will do
  }
  u8(0);  // session id length
  const unsigned suites[] = {0xc02b, 0xc009, 0xc00a, 0x002f};
  u16(sizeof(suites) / sizeof(suites[0]) * 2);
  for (unsigned s : suites) {
    u16(s);
  }
  u8(1);  // compression methods: null only
  u8(0);
  std::string ext;
  auto e8 = [&ext](unsigned v) { ext.push_back(static_cast<char>(v & 0xff)); };
  auto e16 = [&](unsigned v) {
    e8(v >> 8);
    e8(v);
  };
  e16(0x000a);  // supported_groups: secp256r1
  e16(4);
  e16(2);
  e16(0x0017);
  e16(0x000b);  // ec_point_formats: uncompressed
  e16(2);
  e8(1);
  e8(0);
  e16(0x000d);  // signature_algorithms: ecdsa_secp256r1_sha256
  e16(4);
  e16(2);
  e16(0x0403);
  u16(static_cast<unsigned>(ext.size()));
  body += ext;
  std::string handshake;
  handshake.push_back(0x01);  // client_hello
  handshake.push_back(static_cast<char>((body.size() >> 16) & 0xff));
  handshake.push_back(static_cast<char>((body.size() >> 8) & 0xff));
  handshake.push_back(static_cast<char>(body.size() & 0xff));
  handshake += body;
  std::string record = {0x16, 0x03, 0x01, static_cast<char>((handshake.size() >> 8) & 0xff),
                        static_cast<char>(handshake.size() & 0xff)};
  return record + handshake;
}

// Sends `bytes` on a new plain TCP connection to the gateway and waits (bounded) for the
// gateway to close it; the client's peer name. With `reset_after` the client resets the
// connection (RST) right after writing instead; with `close_after` it closes it (FIN).
inline std::string RawHandshake(uint16_t port, const std::string& bytes, bool reset_after = false,
                                bool close_after = false) {
  auto socket = RawSocket::Connect("127.0.0.1", port, kRequestMs);
  EXPECT_TRUE(socket.ok()) << socket.error();
  if (!socket.ok()) {
    return "(no connection)";
  }
  std::string peer = LocalPeer((*socket)->fd());
  EXPECT_TRUE((*socket)->WriteAll(bytes).ok());
  if (reset_after) {
    (*socket)->Reset();
    return peer;
  }
  if (close_after) {
    return peer;  // the destructor closes: a FIN in the middle of the handshake
  }
  auto rest = (*socket)->ReadUntilClose(kWaitMs);
  EXPECT_TRUE(rest.ok()) << "the gateway should close the connection: " << rest.error();
  return peer;
}

// A TLS 1.3 client presenting `cert` (empty: none) whose handshake completes on its side and
// which the gateway refuses once it has read the client's certificate (TLS 1.3 judges it after
// the client's Finished). The client's peer name.
inline std::string RefusedTls13Client(uint16_t port, const CertKey& cert) {
  auto client = TlsClient::Connect("127.0.0.1", port, ClientOptions(cert, "1.3"));
  EXPECT_TRUE(client.ok()) << "TLS 1.3 handshake should complete on the client's side: "
                           << client.error();
  if (!client.ok()) {
    return "(no connection)";
  }
  std::string peer = LocalPeer((*client)->fd());
  auto response = testing::Request(**client, "POST", "/mcp/echo", JsonHeaders(), kPing, kRequestMs);
  EXPECT_FALSE(response.ok()) << "served HTTP " << response->status;
  return peer;
}

// ---------------------------------------------------------------------------------------------
// The gateway with its audit log

// The "audit" member for a log at audit.jsonl next to the config, with `more` members added
// (e.g. R"("rotate_mb": 1)").
inline std::string AuditMember(const std::string& more = "") {
  std::string member = R"("audit": {"path": "audit.jsonl", "flush_interval_ms": 50)";
  if (!more.empty()) {
    member += ", " + more;
  }
  return member + "}";
}

class AuditGateway {
 public:
  // Starts `portcullis run` with config.extra += the audit member (with `audit_more`) and, if
  // given, an "anomalies" member with `anomalies` as its body (without braces).
  Status Start(GatewayConfig config, const std::string& audit_more = "",
               const std::string& anomalies = "") {
    config.extra.push_back(AuditMember(audit_more));
    if (!anomalies.empty()) {
      config.extra.push_back("\"anomalies\": {" + anomalies + "}");
    }
    config_ = config;
    return process_.Start(config);
  }

  uint16_t port() const { return process_.port(); }
  GatewayProcess& process() { return process_; }
  const GatewayConfig& config() const { return config_; }
  std::string audit_path() const { return process_.dir().File("audit.jsonl"); }

  // SIGTERM, then waits (bounded) for the exit: the gateway drains and flushes its audit log
  // first, so the file is complete afterwards. The exit code, or nullopt if it did not exit.
  std::optional<int> Stop() {
    if (stopped_) {
      return exit_code_;
    }
    stopped_ = true;
    process_.process().Signal(SIGTERM);
    exit_code_ = process_.process().Wait(2 * kWaitMs);
    return exit_code_;
  }

  // Stops the gateway (expecting a clean exit) and reads the whole log.
  AuditLog StopAndRead() {
    std::optional<int> code = Stop();
    EXPECT_EQ(code, std::optional<int>(0)) << "gateway log:\n" << process_.Log();
    return AuditLog::Read(AuditFilesOldestFirst(audit_path()));
  }

  // Polls the live log (bounded) until `done` holds for it; the last snapshot either way.
  AuditLog WaitFor(const std::function<bool(const AuditLog&)>& done, int timeout_ms = kWaitMs) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      AuditLog log = AuditLog::Read(audit_path());
      if (done(log) || std::chrono::steady_clock::now() >= deadline) {
        return log;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

 private:
  GatewayProcess process_;
  GatewayConfig config_;
  bool stopped_ = false;
  std::optional<int> exit_code_;
};

// A JSON string literal (with quotes) for `text`, escaped by RapidJSON.
inline std::string JsonString(std::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

// {"jsonrpc":"2.0","id":<id_json>,"method":"tools/call","params":{"name":<tool>,...}}.
inline std::string ToolCallBody(const std::string& id_json, std::string_view tool) {
  return R"({"jsonrpc":"2.0","id":)" + id_json + R"(,"method":"tools/call","params":{"name":)" +
         JsonString(tool) + R"(,"arguments":{}}})";
}

// Base for the audit tests: the shared PKI must exist.
class AuditTestBase : public GatewayTestBase {};

}  // namespace portcullis::gateway_test
