// `portcullis diagnose HOST:PORT`: against a running Portcullis (with and without a client
// certificate, with certificates it refuses), against `openssl s_server` with certificates made
// here (good, expired, wrong name, unknown CA), against nginx, and against things that are not
// TLS servers at all. Every case checks the classified reason, its side and the chain shown.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/gateway/ops_fixture.h"
#include "tests/support/ports.h"

namespace portcullis::gateway_test {
namespace {

using testing::FindProgram;

// A server certificate issued by the shared test CA: EKU serverAuth, SAN localhost/127.0.0.1.
Result<CertKey> IssueServerCert(const std::string& name, const testing::CertIssueOptions& options,
                                const std::string& san = "DNS:localhost, IP:127.0.0.1") {
  return SharedPki().IssueClient(name, {"extendedKeyUsage = serverAuth", "subjectAltName = " + san},
                                 options);
}

testing::CertIssueOptions Subject(const std::string& cn) {
  testing::CertIssueOptions options;
  options.subject = "/O=Diagnose Test/CN=" + cn;
  return options;
}

// openssl s_server -www on 127.0.0.1:<ephemeral> (-www: it never reads stdin, which is
// /dev/null here, and answers one connection after another).
class OpensslServer {
 public:
  Status Start(const CertKey& cert, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {"openssl", "s_server", "-www", "-accept", "127.0.0.1:0",
                                     "-cert",   cert.cert,  "-key", cert.key};
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (Status s = child_.Start(argv); !s.ok()) {
      return s;
    }
    std::smatch m;
    if (!child_.WaitForStdout(R"(ACCEPT\s+\S+)", kWaitMs, &m)) {
      return Status::Error("openssl s_server did not start; stdout: " + child_.Stdout() +
                           " stderr: " + child_.Stderr());
    }
    port_ = testing::ParseListeningPort(m[0].str());
    return port_ != 0 ? Status::Ok() : Status::Error("no port in: " + m[0].str());
  }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  ChildProcess child_;
  uint16_t port_ = 0;
};

// nginx in the foreground (daemon off, master_process off) with a config written here: one TLS
// server on a free loopback port, every file (pid, logs, temp paths) in a temp dir. Killed with
// its process group by ChildProcess's destructor.
class NginxServer {
 public:
  NginxServer() : dir_("nginx") {}

  // `tls_directives` go inside the server block after the certificate lines.
  Status Start(const CertKey& cert, const std::string& tls_directives = "") {
    std::string nginx = FindProgram("nginx");
    if (nginx.empty() && access("/usr/sbin/nginx", X_OK) == 0) {
      nginx = "/usr/sbin/nginx";
    }
    if (nginx.empty()) {
      return Status::Error("nginx is not installed (Debian package nginx; scripts/setup)");
    }
    std::string last_error;
    // The port is picked free and then handed to nginx, which cannot report a port 0 it got;
    // another program may take it in between, so a bind failure gets a few more tries.
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
      // nginx 1.22 still defaults to TLSv1 TLSv1.1 TLSv1.2; say what a deployment would.
      if (tls_directives.find("ssl_protocols") == std::string::npos) {
        conf += "    ssl_protocols TLSv1.2 TLSv1.3;\n";
      }
      conf += tls_directives;
      conf += "    location / { return 200 \"ok\\n\"; }\n  }\n}\n";
      std::string conf_path = dir_.Write("nginx.conf", conf);
      dir_.Write("error.log", "");
      process_ = std::make_unique<ChildProcess>();
      if (Status s =
              process_->Start({nginx, "-p", d + "/", "-c", conf_path, "-e", d + "/error.log"});
          !s.ok()) {
        return s;
      }
      if (WaitUntilListening()) {
        return Status::Ok();
      }
      last_error = "nginx did not start: " + process_->Stderr() +
                   TempDir::ReadFile(d + "/error.log") + "\nconfig:\n" + conf;
      process_->Kill();
      if (last_error.find("Address already in use") == std::string::npos) {
        break;
      }
    }
    return Status::Error(last_error);
  }

  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  // Polls a TCP connect (bounded); false if nginx exits or never listens.
  bool WaitUntilListening() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!process_->Running()) {
        return false;
      }
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(port_);
      bool up = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
      close(fd);
      if (up) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
  uint16_t port_ = 0;
};

class GatewayDiagnose : public GatewayTestBase {
 protected:
  // The usual expectations on a run that produced a report.
  static void ExpectReport(const DiagnoseRun& run) {
    ASSERT_TRUE(run.parsed) << run.Dump();
    EXPECT_TRUE(run.err.empty()) << run.Dump();
  }
  static void ExpectFailure(const DiagnoseRun& run, const std::string& reason,
                            const std::string& side) {
    ExpectReport(run);
    EXPECT_EQ(run.exit_status, 1) << run.Dump();
    EXPECT_FALSE(run.Bool("/verified")) << run.Dump();
    EXPECT_EQ(run.Str("/failure/reason"), reason) << run.Dump();
    EXPECT_EQ(run.Str("/failure/side"), side) << run.Dump();
    EXPECT_FALSE(run.Str("/failure/fix").empty()) << run.Dump();
  }
  // chain[0] is the test server certificate `cn` from the test CA, with its SANs.
  static void ExpectLeaf(const DiagnoseRun& run, const std::string& cn) {
    ASSERT_GE(run.ChainSize(), 1u) << run.Dump();
    EXPECT_EQ(run.Str("/chain/0/cn"), cn) << run.Dump();
    EXPECT_NE(run.Str("/chain/0/issuer").find("CN=Portcullis Test CA"), std::string::npos)
        << run.Dump();
    EXPECT_EQ(run.Str("/chain/0/san/dns/0"), "localhost") << run.Dump();
    const rapidjson::Value* ips = rapidjson::Pointer("/chain/0/san/ip").Get(run.json);
    ASSERT_TRUE(ips != nullptr && ips->IsArray()) << run.Dump();
    bool has_loopback = false;
    for (const auto& ip : ips->GetArray()) {
      has_loopback = has_loopback || std::string(ip.GetString()) == "127.0.0.1";
    }
    EXPECT_TRUE(has_loopback) << run.Dump();
    EXPECT_EQ(run.Str("/chain/0/key"), "ECDSA P-256") << run.Dump();
    EXPECT_EQ(run.Str("/chain/0/fingerprint_sha256").size(), 64u) << run.Dump();
  }
  std::vector<std::string> ClientCert(const CertKey& cert) const {
    return {"--cert", cert.cert, "--key", cert.key};
  }
  std::vector<std::string> Args(const std::string& target, std::vector<std::string> more = {}) {
    std::vector<std::string> args = {target, "--ca", pki().ca().cert};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }
};

// --- against Portcullis ------------------------------------------------------------------

class GatewayDiagnosePortcullis : public GatewayDiagnose {
 protected:
  void SetUp() override {
    GatewayDiagnose::SetUp();
    ASSERT_TRUE(upstream_.ok()) << upstream_.error();
    GatewayConfig config;
    config.AddUpstream("echo", upstream_.url());
    Status started = gateway_.Start(config);
    ASSERT_TRUE(started.ok()) << started.message();
    target_ = "127.0.0.1:" + std::to_string(gateway_.port());
  }
  void TearDown() override {
    EXPECT_EQ(upstream_.request_count(), 0u) << "diagnose must never send application data";
  }

  EchoUpstream upstream_;
  GatewayProcess gateway_;
  std::string target_;
};

TEST_F(GatewayDiagnosePortcullis, VerifiesWithAClientCertificate) {
  size_t log_from = gateway_.LogSize();
  DiagnoseRun run = RunDiagnose(Args(target_, ClientCert(pki().client())));
  ExpectReport(run);
  EXPECT_EQ(run.exit_status, 0) << run.Dump();
  EXPECT_TRUE(run.Bool("/verified")) << run.Dump();
  EXPECT_TRUE(run.json["failure"].IsNull()) << run.Dump();
  EXPECT_EQ(run.Str("/tls/version"), "TLSv1.3") << run.Dump();
  EXPECT_FALSE(run.Str("/tls/cipher").empty()) << run.Dump();
  EXPECT_TRUE(run.Bool("/client_certificate/requested")) << run.Dump();
  EXPECT_TRUE(run.Bool("/client_certificate/sent")) << run.Dump();
  EXPECT_TRUE(run.Bool("/name/matches")) << run.Dump();
  EXPECT_EQ(run.Str("/servername"), "127.0.0.1");
  EXPECT_FALSE(run.Bool("/sni_sent")) << "no SNI for an address (RFC 6066 section 3)";
  ExpectLeaf(run, "localhost");
  EXPECT_GT(run.Int("/chain/0/days_left"), 300) << run.Dump();
  EXPECT_FALSE(run.Bool("/chain/0/expired"));
  // The gateway saw a good handshake from us, and nothing else.
  EXPECT_FALSE(gateway_.WaitForLog("handshake failed", log_from, 300)) << gateway_.Log();
}

TEST_F(GatewayDiagnosePortcullis, ReportsAMissingClientCertificate) {
  DiagnoseRun run = RunDiagnose(Args(target_));
  ExpectFailure(run, "NO_CLIENT_CERTIFICATE", "client");
  EXPECT_NE(run.Str("/failure/fix").find("--cert"), std::string::npos) << run.Dump();
  EXPECT_TRUE(run.Bool("/client_certificate/requested")) << run.Dump();
  EXPECT_FALSE(run.Bool("/client_certificate/sent")) << run.Dump();
  EXPECT_TRUE(run.Bool("/handshake")) << "TLS 1.3: the server judges after the client finished";
  // The chain is shown even though the server refused us.
  ExpectLeaf(run, "localhost");
  EXPECT_TRUE(gateway_.WaitForLog("handshake failed: NO_CLIENT_CERTIFICATE")) << gateway_.Log();
}

TEST_F(GatewayDiagnosePortcullis, ReportsAClientCertificateTheServerRefuses) {
  {
    SCOPED_TRACE("client certificate from another CA");
    DiagnoseRun run = RunDiagnose(Args(target_, ClientCert(pki().other_ca_client())));
    ExpectFailure(run, "CERTIFICATE_VERIFY_FAILED", "client");
    EXPECT_NE(run.Str("/failure/detail").find("alert received"), std::string::npos) << run.Dump();
    ExpectLeaf(run, "localhost");
  }
  {
    SCOPED_TRACE("expired client certificate");
    DiagnoseRun run = RunDiagnose(Args(target_, ClientCert(pki().expired_client())));
    ExpectFailure(run, "CERTIFICATE_EXPIRED", "client");
    EXPECT_NE(run.Str("/failure/fix").find("your client certificate has expired"),
              std::string::npos)
        << run.Dump();
  }
  {
    SCOPED_TRACE("client certificate for servers only (EKU serverAuth)");
    DiagnoseRun run = RunDiagnose(Args(target_, ClientCert(pki().server_auth_client())));
    ExpectFailure(run, "CERTIFICATE_USAGE_INVALID", "client");
  }
}

TEST_F(GatewayDiagnosePortcullis, PrintsAReportForPeople) {
  DiagnoseRun run = RunDiagnose(Args(target_, ClientCert(pki().client())), /*json=*/false);
  EXPECT_EQ(run.exit_status, 0) << run.Dump();
  for (const char* expected :
       {"protocol     TLSv1.3, TLS13-", "client cert  requested by the server; ours was sent",
        "[0] subject  CN=localhost", "SANs     DNS:localhost, IP:", "days left)",
        "result: OK: verified against "}) {
    EXPECT_NE(run.out.find(expected), std::string::npos) << expected << "\n" << run.Dump();
  }
}

// --- against openssl s_server with certificates made here --------------------------------

TEST_F(GatewayDiagnose, GoodServerVerifies) {
  Result<CertKey> cert = IssueServerCert("diag-good", Subject("good.test"));
  ASSERT_TRUE(cert.ok()) << cert.error();
  OpensslServer server;
  Status started = server.Start(*cert);
  ASSERT_TRUE(started.ok()) << started.message();
  DiagnoseRun run = RunDiagnose(Args(server.target(), {"--servername", "localhost"}));
  ExpectReport(run);
  EXPECT_EQ(run.exit_status, 0) << run.Dump();
  EXPECT_TRUE(run.Bool("/verified"));
  EXPECT_FALSE(run.Bool("/client_certificate/requested")) << run.Dump();
  ExpectLeaf(run, "good.test");
}

TEST_F(GatewayDiagnose, Tls12Server) {
  Result<CertKey> cert = IssueServerCert("diag-tls12", Subject("tls12.test"));
  ASSERT_TRUE(cert.ok()) << cert.error();
  OpensslServer server;
  ASSERT_TRUE(server.Start(*cert, {"-tls1_2"}).ok());
  DiagnoseRun run = RunDiagnose(Args(server.target(), {"--servername", "localhost"}));
  ExpectReport(run);
  EXPECT_EQ(run.exit_status, 0) << run.Dump();
  EXPECT_EQ(run.Str("/tls/version"), "TLSv1.2") << run.Dump();
  EXPECT_EQ(run.Str("/tls/cipher").rfind("ECDHE-ECDSA-", 0), 0u) << run.Dump();
  EXPECT_TRUE(run.Bool("/sni_sent"));
  ExpectLeaf(run, "tls12.test");
}

TEST_F(GatewayDiagnose, ExpiredServerCertificate) {
  testing::CertIssueOptions options = Subject("expired.test");
  options.start_date = TestPki::OpensslDate(-20LL * 86400);
  options.end_date = TestPki::OpensslDate(-3LL * 86400 - 3600);
  Result<CertKey> cert = IssueServerCert("diag-expired", options);
  ASSERT_TRUE(cert.ok()) << cert.error();
  OpensslServer server;
  ASSERT_TRUE(server.Start(*cert).ok());
  DiagnoseRun run = RunDiagnose(Args(server.target()));
  ExpectFailure(run, "CERTIFICATE_EXPIRED", "server");
  EXPECT_EQ(run.Str("/failure/fix"),
            "the server's certificate has expired: renew it and reload the server");
  ExpectLeaf(run, "expired.test");
  EXPECT_TRUE(run.Bool("/chain/0/expired")) << run.Dump();
  EXPECT_EQ(run.Int("/chain/0/days_left"), -4) << run.Dump();  // 3 days and an hour ago

  DiagnoseRun text = RunDiagnose(Args(server.target()), /*json=*/false);
  EXPECT_EQ(text.exit_status, 1);
  EXPECT_NE(text.out.find("result: FAILED: CERTIFICATE_EXPIRED (server)"), std::string::npos)
      << text.Dump();
  EXPECT_NE(text.out.find("(EXPIRED 4 days ago)"), std::string::npos) << text.Dump();
  EXPECT_NE(text.out.find("fix     the server's certificate has expired"), std::string::npos)
      << text.Dump();
}

TEST_F(GatewayDiagnose, WrongName) {
  Result<CertKey> cert = IssueServerCert("diag-name", Subject("name.test"));
  ASSERT_TRUE(cert.ok()) << cert.error();
  OpensslServer server;
  ASSERT_TRUE(server.Start(*cert).ok());
  DiagnoseRun run = RunDiagnose(Args(server.target(), {"--servername", "billing.internal"}));
  ExpectFailure(run, "HOSTNAME_MISMATCH", "server");
  EXPECT_EQ(run.Str("/servername"), "billing.internal");
  EXPECT_TRUE(run.Bool("/name/checked"));
  EXPECT_FALSE(run.Bool("/name/matches"));
  ExpectLeaf(run, "name.test");
  // The same server verifies under a name it carries: the address, judged against its IP SAN.
  DiagnoseRun by_address = RunDiagnose(Args(server.target()));
  EXPECT_EQ(by_address.exit_status, 0) << by_address.Dump();
}

TEST_F(GatewayDiagnose, UnknownCa) {
  Result<CertKey> cert = IssueServerCert("diag-unknown-ca", Subject("unknown-ca.test"));
  ASSERT_TRUE(cert.ok()) << cert.error();
  OpensslServer server;
  ASSERT_TRUE(server.Start(*cert).ok());
  DiagnoseRun run = RunDiagnose({server.target(), "--ca", pki().other_ca().cert});
  ExpectFailure(run, "CERTIFICATE_VERIFY_FAILED", "server");
  EXPECT_NE(run.Str("/failure/fix").find("--ca"), std::string::npos) << run.Dump();
  // The chain is still shown, so the operator sees which CA the server uses.
  ExpectLeaf(run, "unknown-ca.test");
  EXPECT_TRUE(run.Bool("/name/matches")) << "the name is fine; only the CA is unknown";
}

TEST_F(GatewayDiagnose, ServerThatRequiresAClientCertificate) {
  Result<CertKey> cert = IssueServerCert("diag-mtls", Subject("mtls.test"));
  ASSERT_TRUE(cert.ok()) << cert.error();
  OpensslServer server;
  ASSERT_TRUE(server.Start(*cert, {"-Verify", "1", "-CAfile", pki().ca().cert}).ok());
  DiagnoseRun without = RunDiagnose(Args(server.target()));
  ExpectFailure(without, "NO_CLIENT_CERTIFICATE", "client");
  EXPECT_NE(without.Str("/failure/detail").find("certificate_required"), std::string::npos)
      << without.Dump();
  DiagnoseRun with = RunDiagnose(Args(server.target(), ClientCert(pki().client())));
  EXPECT_EQ(with.exit_status, 0) << with.Dump();
  EXPECT_TRUE(with.Bool("/client_certificate/sent")) << with.Dump();
}

// --- not TLS, nothing listening, usage ----------------------------------------------------

TEST_F(GatewayDiagnose, PlaintextServerIsNotTls) {
  ExampleServer http;
  Status started = http.Start();
  ASSERT_TRUE(started.ok()) << started.message();
  DiagnoseRun run = RunDiagnose(Args("127.0.0.1:" + std::to_string(http.port())));
  ExpectFailure(run, "NOT_TLS", "server");
  EXPECT_NE(run.Str("/failure/detail").find("HTTP/1.1 4"), std::string::npos) << run.Dump();
  EXPECT_EQ(run.ChainSize(), 0u);
}

TEST_F(GatewayDiagnose, SilentServerTimesOut) {
  // Accepts and reads, never answers: the handshake is bounded by --timeout-ms.
  EchoUpstream silent(EchoUpstream::Mode::kSilent);
  ASSERT_TRUE(silent.ok()) << silent.error();
  DiagnoseRun run =
      RunDiagnose(Args("127.0.0.1:" + std::to_string(silent.port()), {"--timeout-ms", "300"}));
  ExpectFailure(run, "HANDSHAKE_TIMEOUT", "server");
  EXPECT_TRUE(run.Bool("/connected"));
}

TEST_F(GatewayDiagnose, NothingListening) {
  ClosedPort closed;
  DiagnoseRun run = RunDiagnose(Args("127.0.0.1:" + std::to_string(closed.port())));
  ExpectFailure(run, "CONNECTION_REFUSED", "network");
  EXPECT_FALSE(run.Bool("/connected"));
}

TEST_F(GatewayDiagnose, UsageErrorsExitWithTwo) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"127.0.0.1:0"},
           {"127.0.0.1:70000"},
           {"::1:8443"},
           {"127.0.0.1:8443", "--cert", pki().client().cert},
           {"127.0.0.1:8443", "--bogus"},
           {"127.0.0.1:8443", "--ca", "/nonexistent/ca.crt"},
       }) {
    DiagnoseRun run = RunDiagnose(args, /*json=*/false);
    std::string joined;
    for (const std::string& a : args) {
      joined += a + " ";
    }
    EXPECT_EQ(run.exit_status, 2) << joined << "\n" << run.Dump();
    EXPECT_NE(run.err.find("portcullis diagnose: "), std::string::npos) << run.Dump();
  }
}

// --- against nginx -----------------------------------------------------------------------

TEST_F(GatewayDiagnose, Nginx) {
  Result<CertKey> cert = IssueServerCert("diag-nginx", Subject("nginx.test"));
  ASSERT_TRUE(cert.ok()) << cert.error();
  NginxServer nginx;
  Status started = nginx.Start(*cert);
  ASSERT_TRUE(started.ok()) << started.message();
  DiagnoseRun run = RunDiagnose(Args(nginx.target(), {"--servername", "localhost"}));
  ExpectReport(run);
  EXPECT_EQ(run.exit_status, 0) << run.Dump();
  EXPECT_EQ(run.Str("/tls/version"), "TLSv1.3") << run.Dump();
  ExpectLeaf(run, "nginx.test");
  DiagnoseRun wrong_ca = RunDiagnose({nginx.target(), "--ca", pki().other_ca().cert});
  ExpectFailure(wrong_ca, "CERTIFICATE_VERIFY_FAILED", "server");
  ExpectLeaf(wrong_ca, "nginx.test");
}

TEST_F(GatewayDiagnose, NginxWithTls12AndClientCertificates) {
  Result<CertKey> cert = IssueServerCert("diag-nginx-mtls", Subject("nginx-mtls.test"));
  ASSERT_TRUE(cert.ok()) << cert.error();
  NginxServer nginx;
  Status started = nginx.Start(*cert, "    ssl_protocols TLSv1.2;\n    ssl_client_certificate " +
                                          pki().ca().cert + ";\n    ssl_verify_client on;\n");
  ASSERT_TRUE(started.ok()) << started.message();
  DiagnoseRun run = RunDiagnose(Args(nginx.target(), ClientCert(pki().client())));
  ExpectReport(run);
  EXPECT_EQ(run.exit_status, 0) << run.Dump();
  EXPECT_EQ(run.Str("/tls/version"), "TLSv1.2") << run.Dump();
  EXPECT_TRUE(run.Bool("/client_certificate/requested")) << run.Dump();
  EXPECT_TRUE(run.Bool("/client_certificate/sent")) << run.Dump();
  // nginx finishes the handshake without a certificate and answers 400 at the HTTP level
  // instead; diagnose, which sends no request, reports the request for a certificate.
  DiagnoseRun without = RunDiagnose(Args(nginx.target()));
  EXPECT_TRUE(without.Bool("/client_certificate/requested")) << without.Dump();
  EXPECT_FALSE(without.Bool("/client_certificate/sent")) << without.Dump();
}

TEST_F(GatewayDiagnose, NginxWithAnExpiredCertificate) {
  testing::CertIssueOptions options = Subject("nginx-expired.test");
  options.start_date = TestPki::OpensslDate(-20LL * 86400);
  options.end_date = TestPki::OpensslDate(-86400);
  Result<CertKey> cert = IssueServerCert("diag-nginx-expired", options);
  ASSERT_TRUE(cert.ok()) << cert.error();
  NginxServer nginx;
  Status started = nginx.Start(*cert);
  ASSERT_TRUE(started.ok()) << started.message();
  DiagnoseRun run = RunDiagnose(Args(nginx.target()));
  ExpectFailure(run, "CERTIFICATE_EXPIRED", "server");
  EXPECT_TRUE(run.Bool("/chain/0/expired")) << run.Dump();
}

}  // namespace
}  // namespace portcullis::gateway_test
