// https:// upstreams: the gateway as a TLS client of its upstream, with that upstream's own CA
// bundle, the name check against "server_name", and an optional client certificate (upstream
// mTLS). A real nginx demanding client certificates proxies to a real mcp-example-server;
// `openssl s_server` with certificates made here (wrong name, unknown CA, expired) plays the
// upstreams the gateway must refuse. Every refusal is a 502 whose JSON-RPC error names the
// classified reason, and an audit record upstream.tls_failed carries the same detail.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/gateway/audit_fixture.h"
#include "tests/support/ports.h"

namespace portcullis::gateway_test {
namespace {

using testing::FindProgram;

// A server certificate from the shared test CA (or another issuer): EKU serverAuth, `san`.
Result<CertKey> IssueServerCert(const std::string& name, const std::string& san,
                                testing::CertIssueOptions options = {}) {
  if (options.subject.empty()) options.subject = "/O=Https Upstream Test/CN=" + name;
  return SharedPki().IssueClient(name, {"extendedKeyUsage = serverAuth", "subjectAltName = " + san},
                                 options);
}

// openssl s_server -www on 127.0.0.1:<ephemeral>; `extra` are more flags (-Verify 1, ...).
class OpensslServer {
 public:
  Status Start(const CertKey& cert, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {"openssl", "s_server", "-www", "-accept", "127.0.0.1:0",
                                     "-cert",   cert.cert,  "-key", cert.key};
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (Status s = child_.Start(argv); !s.ok()) return s;
    std::smatch m;
    if (!child_.WaitForStdout(R"(ACCEPT\s+\S+)", kWaitMs, &m)) {
      return Status::Error("openssl s_server did not start; stdout: " + child_.Stdout() +
                           " stderr: " + child_.Stderr());
    }
    port_ = testing::ParseListeningPort(m[0].str());
    return port_ != 0 ? Status::Ok() : Status::Error("no port in: " + m[0].str());
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/mcp"; }

 private:
  ChildProcess child_;
  uint16_t port_ = 0;
};

// nginx in the foreground (daemon off, master_process off), everything in a temp dir: TLS on a
// free loopback port with `ssl_verify_client on` against the test CA, proxying to `backend`.
class NginxMtlsProxy {
 public:
  NginxMtlsProxy() : dir_("nginx-upstream") {}

  Status Start(const CertKey& cert, const std::string& client_ca, uint16_t backend) {
    std::string nginx = FindProgram("nginx");
    if (nginx.empty() && access("/usr/sbin/nginx", X_OK) == 0) nginx = "/usr/sbin/nginx";
    if (nginx.empty()) {
      return Status::Error("nginx is not installed (Debian package nginx; scripts/setup)");
    }
    std::string last_error;
    // nginx cannot report a port 0 it got: the port is picked free and handed over, and a bind
    // race with another program gets a few more tries.
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = testing::PickFreeLoopbackPort();
      std::string d = dir_.path();
      std::string conf = "daemon off;\nmaster_process off;\nworker_processes 1;\n";
      conf += "pid " + d + "/nginx.pid;\nerror_log " + d + "/error.log info;\n";
      conf += "events { worker_connections 64; }\n";
      conf += "http {\n  access_log off;\n";
      for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
        conf += "  " + std::string(temp) + "_temp_path " + d + "/" + temp + ";\n";
      }
      conf += "  server {\n    listen 127.0.0.1:" + std::to_string(port_) + " ssl;\n";
      conf += "    server_name localhost;\n";
      conf += "    ssl_certificate " + cert.cert + ";\n    ssl_certificate_key " + cert.key + ";\n";
      conf += "    ssl_protocols TLSv1.2 TLSv1.3;\n";
      conf += "    ssl_client_certificate " + client_ca + ";\n    ssl_verify_client on;\n";
      conf += "    location / {\n      proxy_pass http://127.0.0.1:" + std::to_string(backend) +
              ";\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n"
              "      proxy_buffering off;\n    }\n  }\n}\n";
      std::string conf_path = dir_.Write("nginx.conf", conf);
      dir_.Write("error.log", "");
      process_ = std::make_unique<ChildProcess>();
      if (Status s =
              process_->Start({nginx, "-p", d + "/", "-c", conf_path, "-e", d + "/error.log"});
          !s.ok()) {
        return s;
      }
      if (WaitUntilListening()) return Status::Ok();
      last_error = "nginx did not start: " + process_->Stderr() +
                   TempDir::ReadFile(d + "/error.log") + "\nconfig:\n" + conf;
      process_->Kill();
      if (last_error.find("Address already in use") == std::string::npos) break;
    }
    return Status::Error(last_error);
  }

  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/mcp"; }
  std::string ErrorLog() const { return TempDir::ReadFile(dir_.File("error.log")); }

 private:
  // Polls a TCP connect (bounded); false if nginx exits or never listens.
  bool WaitUntilListening() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!process_->Running()) return false;
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(port_);
      bool up = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
      close(fd);
      if (up) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
  uint16_t port_ = 0;
};

// The members of an https upstream trusting the test CA, verifying "localhost", and (with
// `client_cert`) presenting the test client certificate.
std::string TlsMembers(bool client_cert, const std::string& ca = SharedPki().ca().cert) {
  std::string members = R"("ca": ")" + ca + R"(", "server_name": "localhost")";
  if (client_cert) {
    members += R"(, "cert": ")" + SharedPki().client().cert + R"(", "key": ")" +
               SharedPki().client().key + "\"";
  }
  return members;
}

std::string ErrorMessage(const std::string& body) {
  rapidjson::Document doc = ParseJson(body);
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("error") ||
      !doc["error"].IsObject() || !doc["error"].HasMember("message") ||
      !doc["error"]["message"].IsString()) {
    return "";
  }
  return doc["error"]["message"].GetString();
}

class GatewayHttpsUpstream : public AuditTestBase {
 protected:
  // Starts the gateway (with its audit log) with one upstream "billing" at `url`.
  void StartGateway(const std::string& url, const std::string& members) {
    GatewayConfig config;
    config.AddUpstream("billing", url, members);
    Status s = gateway_.Start(config);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  Result<HttpResponse> Ping(const std::string& id = "7") {
    auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
    if (!client.ok()) return Status::Error("connect: " + client.error());
    return testing::Request(**client, "POST", "/mcp/billing", JsonHeaders(),
                            R"({"jsonrpc":"2.0","id":)" + id + R"(,"method":"ping"})", kWaitMs);
  }

  // A ping through the gateway is refused with 502, -32000 and a message that starts with the
  // classified reason; the audit log has upstream.tls_failed with the same detail. The message.
  std::string ExpectTlsRefusal(const std::string& reason) {
    auto response = Ping("\"tls-1\"");
    EXPECT_TRUE(response.ok()) << response.error();
    if (!response.ok()) return "";
    EXPECT_EQ(response->status, 502) << response->body;
    EXPECT_EQ(response->Header("Content-Type").value_or(""), "application/json");
    EXPECT_EQ(JsonRpcErrorCode(response->body), -32000) << response->body;
    EXPECT_EQ(JsonRpcIdText(response->body), "\"tls-1\"") << response->body;
    std::string message = ErrorMessage(response->body);
    std::string expected = "upstream \"billing\": TLS handshake failed: " + reason + ": ";
    EXPECT_EQ(message.substr(0, expected.size()), expected) << response->body;

    AuditLog log = gateway_.StopAndRead();
    std::vector<const rapidjson::Value*> failed = log.Events("upstream.tls_failed");
    EXPECT_EQ(failed.size(), 1u) << log.Summary();
    if (!failed.empty()) {
      EXPECT_EQ(JStr(*failed[0], "server"), "billing");
      EXPECT_EQ(JInt(*failed[0], "status"), std::optional<int64_t>(502));
      std::string detail = JStr(*failed[0], "detail");
      EXPECT_EQ(detail.rfind("TLS handshake failed: " + reason + ": ", 0), 0u) << detail;
    }
    return message;
  }

  AuditGateway gateway_;
};

// --- upstream mTLS through nginx ----------------------------------------------------------

class GatewayHttpsUpstreamNginx : public GatewayHttpsUpstream {
 protected:
  void SetUp() override {
    GatewayHttpsUpstream::SetUp();
    Status s = example_.Start();
    ASSERT_TRUE(s.ok()) << s.message();
    Result<CertKey> cert = IssueServerCert("https-upstream-nginx", "DNS:localhost");
    ASSERT_TRUE(cert.ok()) << cert.error();
    s = nginx_.Start(*cert, pki().ca().cert, example_.port());
    ASSERT_TRUE(s.ok()) << s.message();
  }

  ExampleServer example_;
  NginxMtlsProxy nginx_;
};

TEST_F(GatewayHttpsUpstreamNginx, ToolsListThroughMutualTls) {
  StartGateway(nginx_.url(), TlsMembers(/*client_cert=*/true));
  auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
  ASSERT_TRUE(client.ok()) << client.error();
  const std::string path = "/mcp/billing";
  Result<std::string> session = OpenMcpSession(**client, path);
  ASSERT_TRUE(session.ok()) << session.error() << "\nnginx:\n" << nginx_.ErrorLog();
  HeaderList in_session =
      JsonHeaders({{"Mcp-Session-Id", *session}, {"MCP-Protocol-Version", kProtocolVersion}});
  // Several requests: the pooled TLS connection is reused, and every answer is whole.
  for (int id = 2; id < 5; ++id) {
    auto list = testing::Request(
        **client, "POST", path, in_session,
        R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":"tools/list"})",
        kRequestMs);
    ASSERT_TRUE(list.ok()) << list.error();
    ASSERT_EQ(list->status, 200) << list->body;
    rapidjson::Document doc = ParseJson(list->body);
    ASSERT_TRUE(doc.IsObject() && doc.HasMember("result")) << list->body;
    std::set<std::string> names;
    for (const auto& tool : doc["result"]["tools"].GetArray()) {
      names.insert(tool["name"].GetString());
    }
    EXPECT_EQ(names, (std::set<std::string>{"echo", "add", "slow_count"})) << list->body;
  }
  AuditLog log = gateway_.StopAndRead();
  EXPECT_TRUE(log.EventsWithPrefix("upstream.").empty()) << log.Summary();
}

TEST_F(GatewayHttpsUpstreamNginx, WithoutTheClientCertificateNginxRefuses) {
  // nginx finishes the handshake without a client certificate and refuses at the HTTP level
  // (400 "No required SSL certificate was sent"); the gateway passes that answer on as it
  // passes on any upstream status. No tool list leaks either way.
  StartGateway(nginx_.url(), TlsMembers(/*client_cert=*/false));
  auto response = Ping();
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 400) << response->body;
  EXPECT_NE(response->body.find("No required SSL certificate was sent"), std::string::npos)
      << response->body;
}

// --- refusals -------------------------------------------------------------------------------

TEST_F(GatewayHttpsUpstream, ServerDemandingACertificateGetsNone) {
  // openssl s_server -Verify 1 refuses a client without a certificate in the handshake itself
  // (TLS 1.3: with an alert answering our Finished).
  Result<CertKey> cert = IssueServerCert("https-upstream-verify", "DNS:localhost");
  ASSERT_TRUE(cert.ok()) << cert.error();
  OpensslServer server;
  Status s = server.Start(*cert, {"-Verify", "1", "-CAfile", pki().ca().cert});
  ASSERT_TRUE(s.ok()) << s.message();
  StartGateway(server.url(), TlsMembers(/*client_cert=*/false));
  std::string message = ExpectTlsRefusal("HANDSHAKE_FAILURE");
  EXPECT_NE(message.find("certificate_required"), std::string::npos) << message;
}

TEST_F(GatewayHttpsUpstream, WrongNameIsHostnameMismatch) {
  Result<CertKey> cert = IssueServerCert("https-upstream-other-name", "DNS:other.example");
  ASSERT_TRUE(cert.ok()) << cert.error();
  OpensslServer server;
  Status s = server.Start(*cert);
  ASSERT_TRUE(s.ok()) << s.message();
  StartGateway(server.url(), TlsMembers(/*client_cert=*/true));
  std::string message = ExpectTlsRefusal("HOSTNAME_MISMATCH");
  EXPECT_NE(message.find("\"localhost\""), std::string::npos) << message;
}

TEST_F(GatewayHttpsUpstream, UnknownCaIsCertificateVerifyFailed) {
  testing::CertIssueOptions options;
  options.issuer = testing::CertIssuer::kOtherCa;
  Result<CertKey> cert = IssueServerCert("https-upstream-other-ca", "DNS:localhost", options);
  ASSERT_TRUE(cert.ok()) << cert.error();
  OpensslServer server;
  Status s = server.Start(*cert);
  ASSERT_TRUE(s.ok()) << s.message();
  StartGateway(server.url(), TlsMembers(/*client_cert=*/true));
  std::string message = ExpectTlsRefusal("CERTIFICATE_VERIFY_FAILED");
  EXPECT_NE(message.find("this upstream's \"ca\" bundle"), std::string::npos) << message;
}

TEST_F(GatewayHttpsUpstream, OnlyTheUpstreamsOwnCaIsTrusted) {
  // The certificate is from the test CA, which the gateway trusts for its clients; this
  // upstream's bundle is the other CA only, so the certificate is refused.
  Result<CertKey> cert = IssueServerCert("https-upstream-own-ca", "DNS:localhost");
  ASSERT_TRUE(cert.ok()) << cert.error();
  OpensslServer server;
  Status s = server.Start(*cert);
  ASSERT_TRUE(s.ok()) << s.message();
  StartGateway(server.url(), TlsMembers(/*client_cert=*/true, pki().other_ca().cert));
  ExpectTlsRefusal("CERTIFICATE_VERIFY_FAILED");
}

TEST_F(GatewayHttpsUpstream, ExpiredCertificateIsCertificateExpired) {
  testing::CertIssueOptions options;
  options.start_date = TestPki::OpensslDate(-20LL * 86400);
  options.end_date = TestPki::OpensslDate(-86400);
  Result<CertKey> cert = IssueServerCert("https-upstream-expired", "DNS:localhost", options);
  ASSERT_TRUE(cert.ok()) << cert.error();
  OpensslServer server;
  Status s = server.Start(*cert);
  ASSERT_TRUE(s.ok()) << s.message();
  StartGateway(server.url(), TlsMembers(/*client_cert=*/true));
  ExpectTlsRefusal("CERTIFICATE_EXPIRED");
}

TEST_F(GatewayHttpsUpstream, PlaintextServerIsNotTls) {
  // An http:// server behind an https:// URL answers the ClientHello with an HTTP error.
  ExampleServer http;
  Status s = http.Start();
  ASSERT_TRUE(s.ok()) << s.message();
  StartGateway("https://127.0.0.1:" + std::to_string(http.port()) + "/mcp",
               TlsMembers(/*client_cert=*/false));
  ExpectTlsRefusal("NOT_TLS");
}

TEST_F(GatewayHttpsUpstream, SilentServerIsAHandshakeTimeout) {
  // Accepts and reads, never answers: the handshake counts against connect_timeout_ms, and a
  // timeout is 504 like any other connect timeout, with the reason in the audit detail.
  EchoUpstream silent(EchoUpstream::Mode::kSilent);
  ASSERT_TRUE(silent.ok()) << silent.error();
  StartGateway("https://127.0.0.1:" + std::to_string(silent.port()) + "/mcp",
               TlsMembers(/*client_cert=*/false) + R"(, "connect_timeout_ms": 300)");
  auto response = Ping();
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 504) << response->body;
  EXPECT_EQ(JsonRpcErrorCode(response->body), -32001) << response->body;
  AuditLog log = gateway_.StopAndRead();
  std::vector<const rapidjson::Value*> timeouts = log.Events("upstream.connect_timeout");
  ASSERT_EQ(timeouts.size(), 1u) << log.Summary();
  EXPECT_EQ(JStr(*timeouts[0], "detail").rfind("TLS handshake failed: HANDSHAKE_TIMEOUT: ", 0), 0u)
      << JStr(*timeouts[0], "detail");
}

TEST_F(GatewayHttpsUpstream, AddressWithoutServerNameIsCheckedAgainstIpSans) {
  // No server_name: the URL's host, an address, must be an IP SAN of the certificate.
  Result<CertKey> good = IssueServerCert("https-upstream-ip", "IP:127.0.0.1");
  ASSERT_TRUE(good.ok()) << good.error();
  OpensslServer server;
  Status s = server.Start(*good);
  ASSERT_TRUE(s.ok()) << s.message();
  StartGateway(server.url(), R"("ca": ")" + pki().ca().cert + "\"");
  // s_server -www answers a GET (only) with its status page, over HTTP/1.0 and ended by the
  // close: the page shows the handshake, and so the address check, passed.
  auto client = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
  ASSERT_TRUE(client.ok()) << client.error();
  auto response = testing::Request(**client, "GET", "/mcp/billing",
                                   {{"Accept", "text/event-stream"}}, "", kWaitMs);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 200) << response->body;
  EXPECT_NE(response->body.find("s_server"), std::string::npos) << response->body;
}

TEST_F(GatewayHttpsUpstream, AddressNotInTheCertificateIsHostnameMismatch) {
  Result<CertKey> cert = IssueServerCert("https-upstream-wrong-ip", "DNS:localhost, IP:10.9.8.7");
  ASSERT_TRUE(cert.ok()) << cert.error();
  OpensslServer server;
  Status s = server.Start(*cert);
  ASSERT_TRUE(s.ok()) << s.message();
  StartGateway(server.url(), R"("ca": ")" + pki().ca().cert + "\"");
  ExpectTlsRefusal("HOSTNAME_MISMATCH");
}

TEST_F(GatewayHttpsUpstream, AnUnreadableCaBundleIsAConfigErrorNotARuntimeOne) {
  // Like nginx with a bad proxy_ssl_trusted_certificate: `check` and `run` refuse the config
  // and name the upstream and the file, instead of failing every request later.
  TempDir dir("https-upstream");
  std::string bogus = dir.Write("not-a-ca.pem", "this is not PEM\n");
  GatewayConfig config;
  config.AddUpstream("billing", "https://127.0.0.1:9/mcp",
                     TlsMembers(/*client_cert=*/false, bogus));
  dir.Write("policy.json", config.PolicyJson());
  std::string path = dir.Write("gateway.json", config.ToJson());
  for (const char* command : {"check", "run"}) {
    auto result = testing::RunCommand({PortcullisPath(), command, "--config", path}, kWaitMs);
    ASSERT_TRUE(result.ok()) << result.error();
    EXPECT_NE(result->exit_status, 0) << command;
    EXPECT_NE(result->err.find("upstream \"billing\""), std::string::npos) << result->err;
    EXPECT_NE(result->err.find(bogus), std::string::npos) << result->err;
  }
}

}  // namespace
}  // namespace portcullis::gateway_test
