// Helpers for the operations tests (address filtering, diagnose, TLS scan): a `portcullis run`
// whose whole config the test writes (top-level keys and listeners the shared GatewayConfig does
// not cover: "access", [::1], a server certificate of the test's own), its audit log, and
// `portcullis diagnose --json` run as a child and parsed.
//
// Header-only like gateway_fixture.h (tests/CMakeLists.txt compiles only *_test.cc files from
// tests/integration). Every wait is bounded; children are killed by their ChildProcess
// destructors. Test thread only.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <chrono>
#include <cstdint>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {

// `portcullis run --config <temp dir>/gateway.json`, with the config text given by the test.
// Relative paths in it (policy.json, audit.jsonl) land in the temp dir.
class ConfiguredGateway {
 public:
  ConfiguredGateway() : dir_("opsgw") {}

  // Writes `config_json` and `policy_json` (empty = allow everything) and starts the gateway.
  Status Start(const std::string& config_json, const std::string& policy_json = "") {
    dir_.Write("policy.json", policy_json.empty() ? GatewayConfig::kAllowAllPolicy : policy_json);
    config_path_ = dir_.Write("gateway.json", config_json);
    ChildProcess::Options options;
    options.stderr_path = dir_.File("gateway.log");
    options.stdout_path = dir_.File("gateway.out");
    if (Status s = process_.Start({PortcullisPath(), "run", "--config", config_path_}, options);
        !s.ok()) {
      return s;
    }
    std::smatch m;
    if (!process_.WaitForLog(R"(listening on (\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+))", kWaitMs, &m)) {
      return Status::Error("portcullis run did not report a listening port; stderr:\n" +
                           process_.Stderr() + "\nconfig:\n" + config_json);
    }
    port_ = static_cast<uint16_t>(std::stoi(m[2].str()));
    return Status::Ok();
  }

  uint16_t port() const { return port_; }
  std::string Log() const { return process_.Stderr(); }
  bool WaitForLog(const std::string& regex, int timeout_ms = kWaitMs) {
    return process_.WaitForLog(regex, timeout_ms);
  }
  const TempDir& dir() const { return dir_; }
  std::string AuditPath() const { return dir_.File("audit.jsonl"); }

  // Waits (bounded) until the audit log holds a record whose text contains every one of
  // `needles`; returns that line, or "" (the writer flushes about once a second).
  std::string WaitForAuditLine(const std::vector<std::string>& needles,
                               int timeout_ms = kWaitMs) const {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      std::istringstream lines(TempDir::ReadFile(AuditPath()));
      std::string line;
      while (std::getline(lines, line)) {
        bool all = true;
        for (const std::string& needle : needles) {
          all = all && line.find(needle) != std::string::npos;
        }
        if (all) {
          return line;
        }
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

 private:
  TempDir dir_;
  ChildProcess process_;
  std::string config_path_;
  uint16_t port_ = 0;
};

// A gateway config as text: `listen` is one "host:port" ("127.0.0.1:0", "[::1]:0"); `extra` are
// more top-level members (e.g. `"access": {...}`); the TLS material is the shared PKI's unless
// `cert`/`key` are given; the audit log goes to audit.jsonl next to the config.
inline std::string GatewayConfigText(const std::string& listen,
                                     const std::vector<std::string>& extra = {},
                                     const std::string& upstream_url = "",
                                     const std::string& cert = "", const std::string& key = "") {
  const TestPki& pki = SharedPki();
  std::string json = "// written by the operations tests\n{\n";
  json += "  \"listen\": [\"" + listen + "\"],\n";
  json += "  \"reactors\": 1,\n";
  json += "  \"tls\": {\"cert\": \"" + (cert.empty() ? pki.server().cert : cert) +
          "\", \"key\": \"" + (key.empty() ? pki.server().key : key) + "\", \"client_ca\": [\"" +
          pki.ca().cert + "\"]},\n";
  if (!upstream_url.empty()) {
    json += "  \"upstreams\": {\"echo\": {\"url\": \"" + upstream_url + "\"}},\n";
  }
  json += "  \"policy\": \"policy.json\",\n";
  json += "  \"audit\": {\"path\": \"audit.jsonl\", \"flush_interval_ms\": 50},\n";
  for (const std::string& member : extra) {
    json += "  " + member + ",\n";
  }
  json += "}\n";
  return json;
}

// True when this machine can bind [::1] (some containers have no IPv6 loopback).
inline bool CanBindIpv6Loopback() {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return ok;
}

// `portcullis diagnose ARGS --json`, run to completion and parsed.
struct DiagnoseRun {
  int exit_status = -1;
  std::string out;
  std::string err;
  rapidjson::Document json;
  bool parsed = false;

  // The string at a JSON pointer ("/failure/reason"), or "" when absent.
  std::string Str(const char* pointer) const {
    const rapidjson::Value* v = rapidjson::Pointer(pointer).Get(json);
    return v != nullptr && v->IsString() ? v->GetString() : "";
  }
  bool Bool(const char* pointer) const {
    const rapidjson::Value* v = rapidjson::Pointer(pointer).Get(json);
    return v != nullptr && v->IsBool() && v->GetBool();
  }
  int64_t Int(const char* pointer) const {
    const rapidjson::Value* v = rapidjson::Pointer(pointer).Get(json);
    return v != nullptr && v->IsInt64() ? v->GetInt64() : INT64_MIN;
  }
  size_t ChainSize() const {
    const rapidjson::Value* v = rapidjson::Pointer("/chain").Get(json);
    return v != nullptr && v->IsArray() ? v->Size() : 0;
  }
  // Everything, for failure messages.
  std::string Dump() const { return "exit " + std::to_string(exit_status) + "\n" + out + err; }
};

inline DiagnoseRun RunDiagnose(std::vector<std::string> args, bool json = true) {
  DiagnoseRun run;
  std::vector<std::string> argv = {PortcullisPath(), "diagnose"};
  argv.insert(argv.end(), args.begin(), args.end());
  if (json) {
    argv.push_back("--json");
  }
  Result<testing::CommandResult> result = testing::RunCommand(argv, 60000);
  if (!result.ok()) {
    run.err = result.error();
    return run;
  }
  run.exit_status = result->exit_status;
  run.out = result->out;
  run.err = result->err;
  if (json) {
    run.json.Parse(run.out.c_str(), run.out.size());
    run.parsed = !run.json.HasParseError() && run.json.IsObject();
  }
  return run;
}

}  // namespace portcullis::gateway_test
