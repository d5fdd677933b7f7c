#include <gtest/gtest.h>
#include <unistd.h>
#include <wolfssl/options.h>  // MAX_CHAIN_DEPTH, when the wolfSSL build sets it

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "portcullis/config.h"

namespace portcullis {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFile = "/etc/portcullis/gateway.json";

// The smallest valid configuration; tests splice their keys in front of its tail.
constexpr const char* kMinimalTail =
    "  \"listen\": [\"127.0.0.1:8443\"],\n"
    "  \"tls\": {\"cert\": \"s.crt\", \"key\": \"s.key\", \"client_ca\": [\"ca.crt\"]}\n"
    "}\n";

std::vector<std::string> Errors(const ConfigLoad& load) {
  std::vector<std::string> out;
  for (const ConfigError& error : load.errors) {
    out.push_back(error.ToString());
  }
  return out;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) {
    out += line + "\n";
  }
  return out;
}

// Parses `{` + body + minimal tail and expects success.
Config ParseOk(const std::string& body) {
  ConfigLoad load = ParseConfig(kFile, "{\n" + body + kMinimalTail);
  EXPECT_TRUE(load.ok()) << Joined(Errors(load));
  return load.config;
}

// The one error expected from a document, as "FILE:LINE:COL: /pointer: message".
std::string OneError(const std::string& text) {
  ConfigLoad load = ParseConfig(kFile, text);
  EXPECT_EQ(load.errors.size(), 1u) << Joined(Errors(load));
  return load.errors.empty() ? "" : load.errors[0].ToString();
}

// Same with the minimal tail after `body` (whose first line is line 2).
std::string BodyError(const std::string& body) { return OneError("{\n" + body + kMinimalTail); }

bool HasWarning(const Config& config, const std::string& text) {
  return std::any_of(config.warnings.begin(), config.warnings.end(),
                     [&](const std::string& w) { return w == text; });
}

TEST(ConfigLoader, AcceptsEveryKey) {
  ConfigLoad load = ParseConfig(kFile, R"({
  "listen": ["0.0.0.0:8443", "[::1]:9443"],
  "reactors": 3,
  "tls": {
    "cert": "pki/server.crt", "key": "pki/server.key",
    "client_ca": ["pki/ca.crt", "/abs/other-ca.crt"],
    "crl": ["pki/ca.crl"],
    "min_version": "1.3",
    "ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ciphersuites": "TLS_AES_128_GCM_SHA256",
    "session_tickets": true,
    "ticket_key_file": "pki/tickets.key",
    "handshake_timeout_ms": 5000,
    "verify_depth": 3
  },
  "upstreams": {
    "everything": { "url": "http://127.0.0.1:3001/mcp", "max_sessions": 8,
                    "connect_timeout_ms": 100, "response_timeout_ms": 200,
                    "pass_authorization": true },
    "files": { "command": ["mcp-example-server", "--flag"], "env": {"A": "1", "B": ""},
               "max_sessions": 2, "response_timeout_ms": 300 },
    "billing": { "url": "https://billing.internal:9443/mcp", "ca": "pki/billing-ca.crt",
                 "cert": "pki/gw-client.crt", "key": "pki/gw-client.key",
                 "server_name": "billing.internal" }
  },
  "policy": "policy.json",
  "audit": { "path": "audit.jsonl", "rotate_mb": 5, "keep": 3 },
  "admin": { "listen": "127.0.0.1:9901" },
  "limits": { "max_connections": 11, "max_header_bytes": 2048, "max_body_bytes": 4096,
              "header_timeout_ms": 12, "idle_timeout_ms": 13, "stream_timeout_ms": 14,
              "drain_timeout_ms": 15, "max_json_depth": 16 }
})");
  ASSERT_TRUE(load.ok()) << Joined(Errors(load));
  const Config& c = load.config;
  EXPECT_EQ(c.file, kFile);
  EXPECT_EQ(c.base_dir, "/etc/portcullis");
  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(c.listen[0].host, "0.0.0.0");
  EXPECT_EQ(c.listen[0].port, 8443);
  EXPECT_EQ(c.listen[1].host, "::1");
  EXPECT_EQ(c.listen[1].port, 9443);
  EXPECT_EQ(c.reactors, 3u);

  EXPECT_EQ(c.tls.cert, "/etc/portcullis/pki/server.crt");
  EXPECT_EQ(c.tls.key, "/etc/portcullis/pki/server.key");
  EXPECT_EQ(c.tls.client_ca,
            (std::vector<std::string>{"/etc/portcullis/pki/ca.crt", "/abs/other-ca.crt"}));
  EXPECT_EQ(c.tls.crl, std::vector<std::string>{"/etc/portcullis/pki/ca.crl"});
  EXPECT_EQ(c.tls.min_version, "1.3");
  EXPECT_EQ(c.tls.ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256");
  EXPECT_EQ(c.tls.ciphersuites, "TLS_AES_128_GCM_SHA256");
  EXPECT_TRUE(c.tls.session_tickets);
  EXPECT_EQ(c.tls.ticket_key_file, "/etc/portcullis/pki/tickets.key");
  // Accepted, but said to be ignored (wolfSSL 5.5.4 tickets carry no client certificate).
  EXPECT_TRUE(std::any_of(c.warnings.begin(), c.warnings.end(), [](const std::string& w) {
    return w.find("/tls/ticket_key_file: ignored: shared ticket keys") != std::string::npos;
  })) << Joined(c.warnings);
  EXPECT_EQ(c.tls.handshake_timeout_ms, 5000u);
  EXPECT_EQ(c.tls.verify_depth, 3u);

  ASSERT_EQ(c.upstreams.size(), 3u);
  const UpstreamConfig* everything = c.FindUpstream("everything");
  ASSERT_NE(everything, nullptr);
  EXPECT_EQ(everything->name, "everything");
  EXPECT_EQ(everything->kind, UpstreamConfig::Kind::kHttp);
  EXPECT_EQ(everything->url, "http://127.0.0.1:3001/mcp");
  EXPECT_EQ(everything->scheme, "http");
  EXPECT_EQ(everything->host, "127.0.0.1");
  EXPECT_EQ(everything->port, 3001);
  EXPECT_EQ(everything->path, "/mcp");
  EXPECT_EQ(everything->max_sessions, 8u);
  EXPECT_EQ(everything->connect_timeout_ms, 100u);
  EXPECT_EQ(everything->response_timeout_ms, 200u);
  EXPECT_TRUE(everything->pass_authorization);

  const UpstreamConfig* files = c.FindUpstream("files");
  ASSERT_NE(files, nullptr);
  EXPECT_EQ(files->kind, UpstreamConfig::Kind::kStdio);
  EXPECT_EQ(files->command, (std::vector<std::string>{"mcp-example-server", "--flag"}));
  EXPECT_EQ(files->env, (std::map<std::string, std::string>{{"A", "1"}, {"B", ""}}));
  EXPECT_EQ(files->max_sessions, 2u);
  EXPECT_EQ(files->response_timeout_ms, 300u);

  const UpstreamConfig* billing = c.FindUpstream("billing");
  ASSERT_NE(billing, nullptr);
  EXPECT_EQ(billing->scheme, "https");
  EXPECT_EQ(billing->host, "billing.internal");
  EXPECT_EQ(billing->port, 9443);
  EXPECT_EQ(billing->ca, "/etc/portcullis/pki/billing-ca.crt");
  EXPECT_EQ(billing->cert, "/etc/portcullis/pki/gw-client.crt");
  EXPECT_EQ(billing->key, "/etc/portcullis/pki/gw-client.key");
  EXPECT_EQ(billing->server_name, "billing.internal");
  EXPECT_FALSE(billing->pass_authorization);

  EXPECT_EQ(c.policy, "/etc/portcullis/policy.json");
  EXPECT_EQ(c.audit.path, "/etc/portcullis/audit.jsonl");
  EXPECT_EQ(c.audit.rotate_mb, 5u);
  EXPECT_EQ(c.audit.keep, 3u);
  EXPECT_EQ(c.admin.listen, "127.0.0.1:9901");
  EXPECT_EQ(c.limits.max_connections, 11u);
  EXPECT_EQ(c.limits.max_header_bytes, 2048u);
  EXPECT_EQ(c.limits.max_body_bytes, 4096u);
  EXPECT_EQ(c.limits.header_timeout_ms, 12u);
  EXPECT_EQ(c.limits.idle_timeout_ms, 13u);
  EXPECT_EQ(c.limits.stream_timeout_ms, 14u);
  EXPECT_EQ(c.limits.drain_timeout_ms, 15u);
  EXPECT_EQ(c.limits.max_json_depth, 16u);
}

TEST(ConfigLoader, LoadsTheExampleConfig) {
  std::string conf_dir = std::string(PORTCULLIS_SOURCE_DIR) + "/conf";
  ConfigLoad load = LoadConfig(conf_dir + "/gateway.json");
  ASSERT_TRUE(load.ok()) << Joined(Errors(load));
  const Config& c = load.config;
  EXPECT_EQ(c.base_dir, fs::path(conf_dir).lexically_normal().string());
  EXPECT_EQ(c.tls.cert, c.base_dir + "/pki/server.crt");
  EXPECT_EQ(c.tls.client_ca, std::vector<std::string>{c.base_dir + "/pki/ca.crt"});
  ASSERT_NE(c.FindUpstream("example"), nullptr);
  EXPECT_EQ(c.FindUpstream("example")->port, 3001);
  EXPECT_EQ(c.FindUpstream("example")->path, "/mcp");
  ASSERT_NE(c.FindUpstream("files"), nullptr);
  EXPECT_EQ(c.FindUpstream("files")->command, std::vector<std::string>{"mcp-example-server"});
  EXPECT_EQ(c.audit.path, "-");
  EXPECT_GE(c.reactors, 1u);
  // Only warnings about features not built yet.
  for (const std::string& warning : c.warnings) {
    EXPECT_NE(warning.find("not"), std::string::npos) << warning;
  }
}

TEST(ConfigLoader, FillsDefaults) {
  Config c = ParseOk("");
  EXPECT_GE(c.reactors, 1u);  // 0 = one per CPU, resolved here
  EXPECT_LE(c.reactors, 256u);
  EXPECT_EQ(c.tls.min_version, "1.2");
  EXPECT_FALSE(c.tls.session_tickets);
  EXPECT_EQ(c.tls.verify_depth, 4u);
  EXPECT_TRUE(c.tls.crl.empty());
  EXPECT_TRUE(c.policy.empty());
  EXPECT_TRUE(c.audit.path.empty());
  EXPECT_EQ(c.limits.max_body_bytes, 4194304u);
  EXPECT_EQ(c.limits.max_json_depth, 64u);
  EXPECT_TRUE(c.upstreams.empty());
  EXPECT_TRUE(HasWarning(
      c, std::string(kFile) + ":1:1: no \"upstreams\": every request will be answered 404"));
}

TEST(ConfigLoader, ResolvesZeroReactorsToTheCpuCount) {
  Config c = ParseOk("  \"reactors\": 0,\n");
  uint32_t cpus = std::max(1u, std::min(256u, std::thread::hardware_concurrency()));
  EXPECT_EQ(c.reactors, cpus);
  EXPECT_EQ(BodyError("  \"reactors\": 300,\n"),
            std::string(kFile) + ":2:15: /reactors: must be an integer from 0 to 256, got 300");
  EXPECT_EQ(BodyError("  \"reactors\": -1,\n"),
            std::string(kFile) + ":2:15: /reactors: must be an integer from 0 to 256, got -1");
}

TEST(ConfigLoader, AllowsCommentsAndTrailingCommas) {
  ConfigLoad load = ParseConfig(kFile, R"(// gateway
{
  /* listeners */ "listen": ["127.0.0.1:8443",],  // trailing comma in an array
  "tls": {"cert": "s.crt", "key": "s.key", "client_ca": ["ca.crt"],},
  "limits": {"max_connections": 5,},
}
// the end
)");
  ASSERT_TRUE(load.ok()) << Joined(Errors(load));
  EXPECT_EQ(load.config.limits.max_connections, 5u);
}

TEST(ConfigLoader, ReportsSyntaxErrorsWithFileLineAndColumn) {
  EXPECT_EQ(OneError("{\n  \"listen\": [\"127.0.0.1:8443\"]\n  \"tls\": {}\n}\n"),
            std::string(kFile) + ":3:3: missing a comma or '}' after an object member");
  EXPECT_EQ(OneError("{\n  \"reactors\": 1,\n  \"reactors\": 2\n}"),
            std::string(kFile) + ":3:3: duplicate key \"reactors\" (first at 2:3)");
  EXPECT_EQ(OneError("[]"),
            std::string(kFile) + ":1:1: the configuration must be a JSON object, got an array");
}

TEST(ConfigLoader, RejectsNestingBeyondTheDepthLimit) {
  std::string deep = "{\"x\": " + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_EQ(OneError(deep), std::string(kFile) + ":1:70: nesting deeper than 64 levels");
}

TEST(ConfigLoader, SuggestsTheKeyMeantForAnUnknownKey) {
  ConfigLoad load = ParseConfig(kFile, R"({
  "listen": ["127.0.0.1:8443"],
  "tls": {"cert": "s.crt", "key": "s.key",
          "clent_ca": ["ca.crt"]},
  "limits": {"max_conections": 5, "bogus": 1},
  "upstream": {}
})");
  EXPECT_EQ(Errors(load),
            (std::vector<std::string>{
                std::string(kFile) + ":3:10: /tls: missing required key \"client_ca\"",
                std::string(kFile) +
                    ":4:11: /tls/clent_ca: unknown key \"clent_ca\"; did you mean \"client_ca\"?",
                std::string(kFile) + ":5:14: /limits/max_conections: unknown key "
                                     "\"max_conections\"; did you mean \"max_connections\"?",
                std::string(kFile) + ":5:35: /limits/bogus: unknown key \"bogus\"",
                std::string(kFile) +
                    ":6:3: /upstream: unknown key \"upstream\"; did you mean \"upstreams\"?",
            }));
}

TEST(ConfigLoader, NamesTheExpectedTypeForWrongTypes) {
  std::string f = kFile;
  EXPECT_EQ(BodyError("  \"reactors\": \"4\",\n"),
            f + ":2:15: /reactors: expected an integer, got a string");
  EXPECT_EQ(BodyError("  \"reactors\": 1.5,\n"),
            f + ":2:15: /reactors: expected an integer, got 1.5");
  EXPECT_EQ(BodyError("  \"reactors\": 1e2,\n"),
            f + ":2:15: /reactors: expected an integer, got 1e2");
  EXPECT_EQ(BodyError("  \"policy\": 42,\n"),
            f + ":2:13: /policy: expected a string, got a number (42)");
  EXPECT_EQ(BodyError("  \"policy\": \"\",\n"), f + ":2:13: /policy: must not be empty");
  EXPECT_EQ(BodyError("  \"limits\": [],\n"),
            f + ":2:13: /limits: expected an object, got an array");
  EXPECT_EQ(BodyError("  \"audit\": {\"keep\": null},\n"),
            f + ":2:21: /audit/keep: expected an integer, got null");
  EXPECT_EQ(BodyError("  \"upstreams\": [],\n"),
            f + ":2:16: /upstreams: expected an object mapping upstream names to settings, got "
                "an array");
  EXPECT_EQ(
      OneError(
          "{\"listen\": 8443, \"tls\": {\"cert\": \"c\", \"key\": \"k\", \"client_ca\": \"a\"}}"),
      f + ":1:12: /listen: expected an array of \"host:port\" strings, got a number (8443)");
  EXPECT_EQ(OneError("{\"listen\": [\"127.0.0.1:1\"], \"tls\": {\"cert\": \"c\", \"key\": \"k\", "
                     "\"client_ca\": \"a\", \"session_tickets\": \"yes\"}}"),
            f + ":1:99: /tls/session_tickets: expected true or false, got a string");
  EXPECT_EQ(OneError("{\"listen\": [\"127.0.0.1:1\"], \"tls\": {\"cert\": \"c\", \"key\": \"k\", "
                     "\"client_ca\": \"a\", \"ticket_key_file\": 1}}"),
            f + ":1:99: /tls/ticket_key_file: expected a file name or null, got a number (1)");
}

TEST(ConfigLoader, EnforcesLimitBounds) {
  std::string f = kFile;
  EXPECT_EQ(BodyError("  \"limits\": {\"max_header_bytes\": 10},\n"),
            f + ":2:34: /limits/max_header_bytes: must be an integer from 1024 to 1048576, got 10");
  EXPECT_EQ(BodyError("  \"limits\": {\"idle_timeout_ms\": 0},\n"),
            f + ":2:33: /limits/idle_timeout_ms: must be an integer from 1 to 86400000, got 0");
  EXPECT_EQ(BodyError("  \"limits\": {\"max_connections\": 99999999999999999999999},\n"),
            f + ":2:33: /limits/max_connections: must be an integer from 1 to 1000000, got "
                "99999999999999999999999");
}

TEST(ConfigLoader, ReportsEveryErrorInFileOrder) {
  ConfigLoad load = ParseConfig(kFile, R"({
  "upstreams": {
    "a": {"url": "ftp://x/"},
    "b": {}
  },
  "listen": ["localhost:99999", "10.0.0.1:80"],
  "reactors": true,
  "tls": {"cert": 1, "key": "k", "client_ca": [], "min_version": "1.1"}
})");
  std::string f = kFile;
  EXPECT_EQ(
      Errors(load),
      (std::vector<std::string>{
          f + ":3:18: /upstreams/a/url: unsupported scheme \"ftp\"; use http:// or https://",
          f + ":4:10: /upstreams/b: missing \"url\" (an HTTP upstream) or \"command\" (a stdio "
              "upstream)",
          f + ":6:14: /listen/0: port must be a number from 0 to 65535, got \"99999\"",
          f + ":7:15: /reactors: expected an integer, got a boolean",
          f + ":8:19: /tls/cert: expected a string, got a number (1)",
          f + ":8:47: /tls/client_ca: needs at least one CA file: clients must chain to it",
          f + ":8:66: /tls/min_version: TLS 1.0/1.1 cannot be enabled (deprecated by RFC 8996); "
              "use \"1.2\" or \"1.3\"",
      }));
}

TEST(ConfigLoader, ParsesListenAddresses) {
  ConfigLoad load = ParseConfig(kFile, R"({
  "listen": ["0.0.0.0:8443", "[::]:8443", "[::1]:0", "localhost:7", "127.0.0.1:0", "127.0.0.1:0"],
  "tls": {"cert": "c", "key": "k", "client_ca": "ca"}
})");
  ASSERT_TRUE(load.ok()) << Joined(Errors(load));
  const std::vector<ListenAddress>& listen = load.config.listen;
  ASSERT_EQ(listen.size(), 6u);  // port 0 may repeat: each gets its own free port
  EXPECT_EQ(listen[0].ToString(), "0.0.0.0:8443");
  EXPECT_EQ(listen[1].host, "::");
  EXPECT_EQ(listen[1].ToString(), "[::]:8443");
  EXPECT_EQ(listen[2].host, "::1");
  EXPECT_EQ(listen[2].port, 0);
  EXPECT_EQ(listen[3].host, "127.0.0.1");
  EXPECT_EQ(listen[3].port, 7);
  EXPECT_EQ(load.config.tls.client_ca, std::vector<std::string>{"/etc/portcullis/ca"});

  // A single string is a list of one.
  Config single = ParseConfig(kFile,
                              "{\"listen\": \"[::1]:1\", \"tls\": {\"cert\": \"c\", "
                              "\"key\": \"k\", \"client_ca\": \"ca\"}}")
                      .config;
  ASSERT_EQ(single.listen.size(), 1u);
  EXPECT_EQ(single.listen[0].ToString(), "[::1]:1");
}

TEST(ConfigLoader, RejectsBadListenAddresses) {
  auto listen_error = [](const std::string& address) {
    return OneError(
        "{\"tls\": {\"cert\": \"c\", \"key\": \"k\", \"client_ca\": \"ca\"},\n"
        "\"listen\": [\"" +
        address + "\"]}");
  };
  std::string f = std::string(kFile) + ":2:12: /listen/0: ";
  EXPECT_EQ(listen_error("::1:8443"), f + "an IPv6 address needs brackets, e.g. \"[::1]:8443\"");
  EXPECT_EQ(listen_error("example.com:8443"),
            f + "the host must be a literal IP address (or \"localhost\"), got \"example.com\"");
  EXPECT_EQ(listen_error("8443"), f + "expected \"host:port\", e.g. \"0.0.0.0:8443\"");
  EXPECT_EQ(listen_error(":8443"),
            f + "missing address before the port (\"0.0.0.0\" listens on every IPv4 address)");
  EXPECT_EQ(listen_error("1.2.3.4:"), f + "port must be a number from 0 to 65535, got \"\"");
  EXPECT_EQ(listen_error("1.2.3.4:-1"), f + "port must be a number from 0 to 65535, got \"-1\"");
  EXPECT_EQ(listen_error("[1.2.3.4]:1"), f + "\"1.2.3.4\" is not an IPv6 address");
  EXPECT_EQ(listen_error("[::1"), f + "missing ']' after the IPv6 address");
  EXPECT_EQ(listen_error("[::1]8443"), f + "expected \"[address]:port\", e.g. \"[::1]:8443\"");
  EXPECT_EQ(listen_error("256.0.0.1:1"),
            f + "the host must be a literal IP address (or \"localhost\"), got \"256.0.0.1\"");

  EXPECT_EQ(
      OneError("{\"tls\": {\"cert\": \"c\", \"key\": \"k\", \"client_ca\": \"ca\"},\n"
               "\"listen\": []}"),
      std::string(kFile) + ":2:11: /listen: needs at least one address, e.g. [\"0.0.0.0:8443\"]");
  EXPECT_EQ(OneError("{\"tls\": {\"cert\": \"c\", \"key\": \"k\", \"client_ca\": \"ca\"},\n"
                     "\"listen\": [\"127.0.0.1:1\",\n \"localhost:1\"]}"),
            std::string(kFile) + ":3:2: /listen/1: 127.0.0.1:1 is listed twice (first at 2:12)");
  EXPECT_EQ(OneError("{\"tls\": {\"cert\": \"c\", \"key\": \"k\", \"client_ca\": \"ca\"}}"),
            std::string(kFile) + ":1:1: missing required key \"listen\"");
}

// Parses one upstream {"u": {"url": URL}} and returns it (or the error).
struct UrlOutcome {
  UpstreamConfig upstream;
  std::string error;
};
UrlOutcome ParseUrl(const std::string& url) {
  ConfigLoad load = ParseConfig(
      kFile, "{\n  \"upstreams\": {\"u\": {\"url\": \"" + url + "\"}},\n" + kMinimalTail);
  UrlOutcome outcome;
  if (!load.ok()) {
    outcome.error = load.errors[0].ToString();
  } else if (const UpstreamConfig* u = load.config.FindUpstream("u")) {
    outcome.upstream = *u;
  }
  return outcome;
}

TEST(ConfigLoader, ParsesUpstreamUrls) {
  UrlOutcome plain = ParseUrl("http://127.0.0.1");
  EXPECT_EQ(plain.error, "");
  EXPECT_EQ(plain.upstream.scheme, "http");
  EXPECT_EQ(plain.upstream.host, "127.0.0.1");
  EXPECT_EQ(plain.upstream.port, 80);
  EXPECT_EQ(plain.upstream.path, "/");

  UrlOutcome https = ParseUrl("https://mcp.example.com/v1/mcp");
  EXPECT_EQ(https.upstream.scheme, "https");
  EXPECT_EQ(https.upstream.host, "mcp.example.com");
  EXPECT_EQ(https.upstream.port, 443);
  EXPECT_EQ(https.upstream.path, "/v1/mcp");
  EXPECT_EQ(https.upstream.url, "https://mcp.example.com/v1/mcp");

  UrlOutcome v6 = ParseUrl("HTTP://[::1]:3001/mcp?tenant=a");
  EXPECT_EQ(v6.error, "");
  EXPECT_EQ(v6.upstream.scheme, "http");
  EXPECT_EQ(v6.upstream.host, "::1");
  EXPECT_EQ(v6.upstream.port, 3001);
  EXPECT_EQ(v6.upstream.path, "/mcp?tenant=a");

  EXPECT_EQ(ParseUrl("https://[::1]").upstream.port, 443);
  EXPECT_EQ(ParseUrl("http://h:8080?x=1").upstream.path, "/?x=1");
  EXPECT_EQ(ParseUrl("http://my_server:1/").upstream.host, "my_server");
}

TEST(ConfigLoader, RejectsBadUpstreamUrls) {
  std::string f = std::string(kFile) + ":2:30: /upstreams/u/url: ";
  EXPECT_EQ(ParseUrl("ftp://x/").error, f + "unsupported scheme \"ftp\"; use http:// or https://");
  EXPECT_EQ(ParseUrl("127.0.0.1:3001/mcp").error,
            f + "expected a URL such as \"http://127.0.0.1:3001/mcp\"");
  EXPECT_EQ(ParseUrl("http://h:0/").error, f + "port must be a number from 1 to 65535, got \"0\"");
  EXPECT_EQ(ParseUrl("http://h:65536/").error,
            f + "port must be a number from 1 to 65535, got \"65536\"");
  EXPECT_EQ(ParseUrl("http://h:x/").error, f + "port must be a number from 1 to 65535, got \"x\"");
  EXPECT_EQ(ParseUrl("http://h:/").error, f + "missing port after ':'");
  EXPECT_EQ(ParseUrl("http:///mcp").error, f + "missing host in the URL");
  EXPECT_EQ(ParseUrl("http://u:p@h/").error,
            f + "user names and passwords in the URL are not supported");
  EXPECT_EQ(ParseUrl("http://h/mcp#x").error,
            f + "a URL fragment ('#') has no meaning for an upstream");
  EXPECT_EQ(ParseUrl("http://h/a b").error, f + "the URL contains a space or a control character");
  EXPECT_EQ(ParseUrl("http://::1:80/").error,
            f + "invalid host \"::1\" (IPv6 addresses go in brackets)");
  EXPECT_EQ(ParseUrl("http://[zz]:80/").error, f + "\"zz\" is not an IPv6 address");
  EXPECT_EQ(ParseUrl("").error, f + "must not be empty");
}

TEST(ConfigLoader, ChecksHowUpstreamKeysCombine) {
  ConfigLoad load = ParseConfig(kFile, R"({
  "upstreams": {
    "both": {"url": "http://h/", "command": ["x"]},
    "plain": {"url": "http://h/", "ca": "ca.crt", "env": {}},
    "half": {"url": "https://h/", "cert": "c.crt"},
    "stdio": {"command": ["x"], "pass_authorization": true},
    "no/slash": {"url": "http://h/"},
    "..": {"url": "http://h/"},
    "empty": {"command": []},
    "noprog": {"command": ["", "arg"]},
    "badenv": {"command": ["x"], "env": {"A=B": "1", "C": 2}}
  },
  "listen": ["127.0.0.1:1"],
  "tls": {"cert": "c", "key": "k", "client_ca": "ca"}
})");
  std::string f = kFile;
  EXPECT_EQ(
      Errors(load),
      (std::vector<std::string>{
          f + ":3:34: /upstreams/both/command: an upstream has either \"url\" (HTTP) or "
              "\"command\" (stdio), not both",
          f + ":4:35: /upstreams/plain/ca: \"ca\" only applies to https:// upstreams",
          f + ":4:51: /upstreams/plain/env: \"env\" only applies to stdio upstreams (\"command\")",
          f + ":5:35: /upstreams/half/cert: \"cert\" and \"key\" go together (the gateway's "
              "client certificate for this upstream)",
          f + ":6:33: /upstreams/stdio/pass_authorization: \"pass_authorization\" only applies to "
              "HTTP upstreams (\"url\")",
          f + ":7:5: /upstreams/no~1slash: invalid upstream name \"no/slash\": use letters, "
              "digits, '.', '_' and '-' (it becomes part of /mcp/NAME)",
          f + ":8:5: /upstreams/..: invalid upstream name \"..\": use letters, digits, '.', '_' "
              "and '-' (it becomes part of /mcp/NAME)",
          f + ":9:26: /upstreams/empty/command: needs at least the program to run",
          f + ":10:28: /upstreams/noprog/command/0: must not be empty",
          f + ":11:42: /upstreams/badenv/env/A=B: invalid environment variable name \"A=B\"",
          f + ":11:59: /upstreams/badenv/env/C: expected a string, got a number (2)",
      }));
}

TEST(ConfigLoader, AcceptsStdioUpstreams) {
  ConfigLoad load = ParseConfig(kFile, R"({
  "listen": ["127.0.0.1:1"],
  "tls": {"cert": "c", "key": "k", "client_ca": "ca"},
  "upstreams": {"files": {"command": ["mcp-example-server", "--flag"], "env": {"A": "1"}},
                "local": {"command": ["bin/server"]}},
  "policy": "policy.json",
  "audit": {"path": "-"},
  "admin": {"listen": "localhost:9901"}
})");
  ASSERT_TRUE(load.ok()) << Joined(Errors(load));
  EXPECT_TRUE(load.config.warnings.empty()) << Joined(load.config.warnings);
  const UpstreamConfig* files = load.config.FindUpstream("files");
  ASSERT_NE(files, nullptr);
  EXPECT_EQ(files->kind, UpstreamConfig::Kind::kStdio);
  EXPECT_EQ(files->command, (std::vector<std::string>{"mcp-example-server", "--flag"}));
  EXPECT_EQ(files->env.at("A"), "1");
  // A relative program path is resolved against the config's folder, a bare name is not.
  const UpstreamConfig* local = load.config.FindUpstream("local");
  ASSERT_NE(local, nullptr);
  ASSERT_FALSE(local->command.empty());
  EXPECT_EQ(local->command[0].front(), '/');
  EXPECT_NE(local->command[0].find("bin/server"), std::string::npos);
  EXPECT_EQ(load.config.admin.listen, "127.0.0.1:9901");
  EXPECT_EQ(load.config.audit.path, "-");
}

TEST(ConfigLoader, ValidatesTlsSettings) {
  std::string f = kFile;
  auto tls_error = [](const std::string& extra) {
    return OneError(
        "{\"listen\": [\"127.0.0.1:1\"],\n\"tls\": {\"cert\": \"c\", \"key\": \"k\", "
        "\"client_ca\": \"ca\", " +
        extra + "}}");
  };
  EXPECT_EQ(tls_error("\"min_version\": \"1.0\""),
            f + ":2:68: /tls/min_version: TLS 1.0/1.1 cannot be enabled (deprecated by RFC 8996); "
                "use \"1.2\" or \"1.3\"");
  EXPECT_EQ(tls_error("\"min_version\": \"1.4\""),
            f + ":2:68: /tls/min_version: expected \"1.2\" or \"1.3\", got \"1.4\"");
  EXPECT_EQ(tls_error("\"min_version\": 1.2"),
            f + ":2:68: /tls/min_version: expected a string, got a number (1.2)");
  // The bound is the wolfSSL build's: 9 by default, 4 in the gateway-tuned build.
#ifdef MAX_CHAIN_DEPTH
  const std::string max_depth = std::to_string(MAX_CHAIN_DEPTH - 1);
#else
  const std::string max_depth = "9";
#endif
  EXPECT_EQ(tls_error("\"verify_depth\": 10"),
            f + ":2:69: /tls/verify_depth: must be an integer from 1 to " + max_depth + ", got 10");
  EXPECT_EQ(tls_error("\"crl\": [\"a.crl\", 5]"),
            f + ":2:70: /tls/crl/1: expected a string, got a number (5)");
  EXPECT_EQ(tls_error("\"client_key\": \"x\""),
            f + ":2:53: /tls/client_key: unknown key \"client_key\"");
  EXPECT_EQ(OneError("{\"listen\": [\"127.0.0.1:1\"],\n\"tls\": {\"cert\": \"c\", \"key\": \"k\", "
                     "\"client_ca\": []}}"),
            f + ":2:47: /tls/client_ca: needs at least one CA file: clients must chain to it");
  ConfigLoad missing = ParseConfig(kFile, "{\"listen\": [\"127.0.0.1:1\"], \"tls\": {}}");
  EXPECT_EQ(Errors(missing), (std::vector<std::string>{
                                 f + ":1:36: /tls: missing required key \"cert\"",
                                 f + ":1:36: /tls: missing required key \"key\"",
                                 f + ":1:36: /tls: missing required key \"client_ca\"",
                             }));
  EXPECT_EQ(OneError("{\"listen\": [\"127.0.0.1:1\"]}"), f + ":1:1: missing required key \"tls\"");

  Config ticket = ParseOk("  \"limits\": {},\n");
  EXPECT_TRUE(ticket.tls.ticket_key_file.empty());
}

TEST(ConfigLoader, ResolvesRelativePathsAgainstTheConfigFolder) {
  ConfigLoad load = ParseConfig("/srv/gw/conf/../conf/gateway.json", R"({
  "listen": ["127.0.0.1:1"],
  "tls": {"cert": "pki/../pki/server.crt", "key": "/abs/server.key", "client_ca": "../ca.crt",
          "crl": "crl.pem", "ticket_key_file": "keys/ticket.key"},
  "upstreams": {"b": {"url": "https://b/", "ca": "b-ca.crt", "cert": "b.crt", "key": "b.key"}},
  "policy": "./policy.json",
  "audit": {"path": "logs/audit.jsonl"}
})");
  ASSERT_TRUE(load.ok()) << Joined(Errors(load));
  const Config& c = load.config;
  EXPECT_EQ(c.file, "/srv/gw/conf/gateway.json");
  EXPECT_EQ(c.base_dir, "/srv/gw/conf");
  EXPECT_EQ(c.tls.cert, "/srv/gw/conf/pki/server.crt");
  EXPECT_EQ(c.tls.key, "/abs/server.key");
  EXPECT_EQ(c.tls.client_ca, std::vector<std::string>{"/srv/gw/ca.crt"});
  EXPECT_EQ(c.tls.crl, std::vector<std::string>{"/srv/gw/conf/crl.pem"});
  EXPECT_EQ(c.tls.ticket_key_file, "/srv/gw/conf/keys/ticket.key");
  EXPECT_EQ(c.upstreams.at("b").ca, "/srv/gw/conf/b-ca.crt");
  EXPECT_EQ(c.upstreams.at("b").cert, "/srv/gw/conf/b.crt");
  EXPECT_EQ(c.upstreams.at("b").key, "/srv/gw/conf/b.key");
  EXPECT_EQ(c.policy, "/srv/gw/conf/policy.json");
  EXPECT_EQ(c.audit.path, "/srv/gw/conf/logs/audit.jsonl");

  // A relative config path is taken from the working directory.
  ConfigLoad relative = ParseConfig("conf/gw.json", std::string("{\n") + kMinimalTail);
  ASSERT_TRUE(relative.ok());
  fs::path cwd = fs::current_path();
  EXPECT_EQ(relative.config.file, (cwd / "conf/gw.json").lexically_normal().string());
  EXPECT_EQ(relative.config.base_dir, (cwd / "conf").lexically_normal().string());
  EXPECT_EQ(relative.config.tls.cert, (cwd / "conf/s.crt").lexically_normal().string());
}

class ConfigLoaderFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "portcullis-config-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(ConfigLoaderFiles, LoadsAFileAndResolvesPathsNextToIt) {
  fs::path file = dir_ / "gateway.json";
  std::ofstream(file) << "{\n" << kMinimalTail;
  ConfigLoad load = LoadConfig(file.string());
  ASSERT_TRUE(load.ok()) << Joined(Errors(load));
  EXPECT_EQ(load.config.file, file.string());
  EXPECT_EQ(load.config.base_dir, dir_.string());
  EXPECT_EQ(load.config.tls.cert, (dir_ / "s.crt").string());
}

TEST_F(ConfigLoaderFiles, ReportsErrorsWithTheFileName) {
  fs::path file = dir_ / "bad.json";
  std::ofstream(file)
      << "{\n  \"listen\": [\"127.0.0.1:1\"],\n  \"tls\": {\"cert\": \"c\", \"key\": "
         "\"k\", \"client_ca\": \"a\", \"min_version\": \"1.1\"}\n}\n";
  ConfigLoad load = LoadConfig(file.string());
  EXPECT_EQ(Errors(load),
            std::vector<std::string>{file.string() +
                                     ":3:69: /tls/min_version: TLS 1.0/1.1 cannot be enabled "
                                     "(deprecated by RFC 8996); use \"1.2\" or \"1.3\""});
}

TEST_F(ConfigLoaderFiles, ReportsFilesThatCannotBeRead) {
  fs::path missing = dir_ / "missing.json";
  EXPECT_EQ(
      Errors(LoadConfig(missing.string())),
      std::vector<std::string>{missing.string() + ": cannot open: No such file or directory"});
  EXPECT_EQ(Errors(LoadConfig(dir_.string())),
            std::vector<std::string>{dir_.string() + ": is a directory, not a configuration file"});
  EXPECT_EQ(Errors(LoadConfig("")), std::vector<std::string>{": no configuration file given"});
  fs::path empty = dir_ / "empty.json";
  std::ofstream(empty).close();
  EXPECT_EQ(Errors(LoadConfig(empty.string())),
            std::vector<std::string>{empty.string() + ":1:1: the document is empty"});
}

TEST(ConfigLoader, FormatsErrorsAndAddresses) {
  EXPECT_EQ((ConfigError{"f.json", 3, 7, "/tls/cert", "bad"}).ToString(),
            "f.json:3:7: /tls/cert: bad");
  EXPECT_EQ((ConfigError{"f.json", 1, 1, "", "bad"}).ToString(), "f.json:1:1: bad");
  EXPECT_EQ((ConfigError{"f.json", 0, 0, "", "cannot open"}).ToString(), "f.json: cannot open");
  EXPECT_EQ((ListenAddress{"127.0.0.1", 8443}).ToString(), "127.0.0.1:8443");
  EXPECT_EQ((ListenAddress{"::1", 8443}).ToString(), "[::1]:8443");
}

// "access": allow/deny CIDR lists for the TLS listener (gateway/reactor/address_filter.h).
TEST(ConfigLoader, ParsesAccessLists) {
  Config none = ParseOk("");
  EXPECT_TRUE(none.access.empty());

  Config c = ParseOk(
      "  \"access\": {\"allow\": [\"10.0.0.0/8\", \"::1/128\", \"192.0.2.7\", \"2001:DB8::/32\"],\n"
      "             \"deny\": [\"10.66.0.0/16\"]},\n");
  ASSERT_EQ(c.access.allow.size(), 4u);
  EXPECT_EQ(c.access.allow[0].text, "10.0.0.0/8");
  EXPECT_EQ(c.access.allow[0].family, 4);
  EXPECT_EQ(c.access.allow[0].prefix_length, 8);
  EXPECT_EQ(c.access.allow[1].text, "::1/128");
  EXPECT_EQ(c.access.allow[1].family, 6);
  EXPECT_EQ(c.access.allow[2].text, "192.0.2.7/32") << "a bare address is one host";
  EXPECT_EQ(c.access.allow[3].text, "2001:db8::/32") << "canonical form";
  ASSERT_EQ(c.access.deny.size(), 1u);
  EXPECT_EQ(c.access.deny[0].text, "10.66.0.0/16");

  Config deny_only = ParseOk("  \"access\": {\"deny\": [\"0.0.0.0/0\"]},\n");
  EXPECT_TRUE(deny_only.access.allow.empty());
  EXPECT_EQ(deny_only.access.deny.size(), 1u);
}

TEST(ConfigLoader, RejectsBadAccessLists) {
  const std::string f = kFile;
  EXPECT_EQ(BodyError("  \"access\": {\"allow\": [\"10.1.2.3/8\"]},\n"),
            f + ":2:24: /access/allow/0: \"10.1.2.3/8\" has host bits set; did you mean "
                "\"10.0.0.0/8\"?");
  EXPECT_EQ(BodyError("  \"access\": {\"deny\": [\"10.0.0.0/33\"]},\n"),
            f + ":2:23: /access/deny/0: prefix length \"33\" must be a number from 0 to 32");
  EXPECT_EQ(BodyError("  \"access\": {\"deny\": [\"::1/129\"]},\n"),
            f + ":2:23: /access/deny/0: prefix length \"129\" must be a number from 0 to 128");
  EXPECT_EQ(BodyError("  \"access\": {\"deny\": [\"10.0.0.0/\"]},\n"),
            f + ":2:23: /access/deny/0: prefix length \"\" must be a number from 0 to 32");
  EXPECT_EQ(BodyError("  \"access\": {\"deny\": [\"localhost\"]},\n"),
            f + ":2:23: /access/deny/0: \"localhost\" is not an address or CIDR block, e.g. "
                "\"10.0.0.0/8\" or \"2001:db8::/32\"");
  EXPECT_EQ(BodyError("  \"access\": {\"deny\": [\"fe80::zz/64\"]},\n"),
            f + ":2:23: /access/deny/0: \"fe80::zz\" is not an IPv6 address");
  EXPECT_EQ(BodyError("  \"access\": {\"deny\": [\"::ffff:10.0.0.0/104\"]},\n"),
            f + ":2:23: /access/deny/0: IPv4-mapped addresses are matched as IPv4: write "
                "\"10.0.0.0/8\"");
  EXPECT_EQ(BodyError("  \"access\": {\"allow\": []},\n"),
            f + ":2:23: /access/allow: an empty allow list is ambiguous: remove the key to allow "
                "every address, or list the blocks to allow");
  EXPECT_EQ(BodyError("  \"access\": {\"deny\": \"10.0.0.0/8\"},\n"),
            f + ":2:22: /access/deny: expected an array of CIDR blocks, e.g. [\"10.0.0.0/8\", "
                "\"::1/128\"], got a string");
  EXPECT_EQ(BodyError("  \"access\": {\"deny\": [8]},\n"),
            f + ":2:23: /access/deny/0: expected a string, got a number (8)");
  EXPECT_EQ(BodyError("  \"access\": {\"alow\": [\"10.0.0.0/8\"]},\n"),
            f + ":2:14: /access/alow: unknown key \"alow\"; did you mean \"allow\"?");
  EXPECT_EQ(BodyError("  \"acess\": {},\n"),
            f + ":2:3: /acess: unknown key \"acess\"; did you mean \"access\"?");

  // Every bad entry is reported, not only the first.
  ConfigLoad load = ParseConfig(
      kFile, "{\n  \"access\": {\"allow\": [\"1.2.3.4/40\", \"10.0.0.0/8\", \"x\"]},\n" +
                 std::string(kMinimalTail));
  EXPECT_EQ(load.errors.size(), 2u) << Joined(Errors(load));
}

TEST(ConfigLoader, ReadsAllowedOrigins) {
  Config config =
      ParseOk(R"(  "allowed_origins": ["https://app.example.com", "http://localhost:3000", "*"],
)");
  EXPECT_EQ(config.allowed_origins,
            (std::vector<std::string>{"https://app.example.com", "http://localhost:3000", "*"}));
  EXPECT_TRUE(ParseOk("").allowed_origins.empty());
  std::string f = kFile;
  EXPECT_EQ(BodyError(R"(  "allowed_origins": ["https://a.example/path"],
)"),
            f + ":2:23: /allowed_origins/0: expected an origin like \"https://app.example.com\" "
                "(no path) or \"*\", got \"https://a.example/path\"");
  EXPECT_EQ(BodyError(R"(  "allowed_origins": "x",
)"),
            f + ":2:22: /allowed_origins: expected an array of origins "
                "(\"https://app.example.com\"), got a string");
}

}  // namespace
}  // namespace portcullis
