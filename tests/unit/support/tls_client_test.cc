// Self-tests of TlsClient, RawSocket and the HTTP client against a real `openssl s_server`
// on a loopback port, using the shared test PKI.
#include "tests/support/tls_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/http_client.h"
#include "tests/support/ports.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace portcullis::testing {
namespace {

constexpr int kTimeoutMs = 10000;  // bound for every wait; the happy path takes milliseconds

// openssl s_server on 127.0.0.1:<ephemeral>, serving with the shared PKI's server cert.
class OpensslServer {
 public:
  // `extra` are more s_server flags (-www, -Verify 1, -tls1_2...). Empty error text = started.
  std::string Start(const std::vector<std::string>& extra) {
    const TestPki& pki = SharedPki();
    std::vector<std::string> argv = {"openssl", "s_server",        "-accept", "127.0.0.1:0",
                                     "-cert",   pki.server().cert, "-key",    pki.server().key,
                                     "-CAfile", pki.ca().cert};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ChildProcess::Options options;
    options.working_dir = dir_.path();  // what -WWW serves
    if (Status s = child_.Start(argv, options); !s.ok()) {
      return s.message();
    }
    std::smatch m;
    if (!child_.WaitForStdout(R"(ACCEPT\s+\S+)", kTimeoutMs, &m)) {
      return "openssl s_server did not start; stdout: " + child_.Stdout() +
             " stderr: " + child_.Stderr();
    }
    port_ = ParseListeningPort(m[0].str());
    return port_ != 0 ? "" : "no port in: " + m[0].str();
  }

  uint16_t port() const { return port_; }
  const TempDir& dir() const { return dir_; }
  ChildProcess& child() { return child_; }

 private:
  TempDir dir_{"s_server"};
  ChildProcess child_;
  uint16_t port_ = 0;
};

#define START_OR_SKIP(server, ...)                                     \
  do {                                                                 \
    std::string error_ = (server).Start(__VA_ARGS__);                  \
    if (!error_.empty()) {                                             \
      GTEST_SKIP() << "openssl s_server unavailable here: " << error_; \
    }                                                                  \
  } while (0)

TlsClientOptions MutualOptions(const std::string& version) {
  const TestPki& pki = SharedPki();
  TlsClientOptions o;
  o.ca_file = pki.ca().cert;
  o.cert_file = pki.client().cert;
  o.key_file = pki.client().key;
  o.servername = "localhost";
  o.version = version;
  o.connect_timeout_ms = kTimeoutMs;
  return o;
}

class TlsClientVersionTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TlsClientVersionTest, MutualTlsAndHttpAgainstOpensslServer) {
  ASSERT_TRUE(SharedPki().ok());
  OpensslServer server;
  START_OR_SKIP(server, {"-www", "-Verify", "1"});
  auto client = TlsClient::Connect("127.0.0.1", server.port(), MutualOptions(GetParam()));
  ASSERT_TRUE(client.ok()) << client.error() << "\n" << server.child().Stderr();
  EXPECT_EQ((*client)->version(), "TLSv" + GetParam());
  EXPECT_FALSE((*client)->cipher().empty());
  EXPECT_FALSE((*client)->resumed());
  // s_server -www answers any GET with an HTTP/1.0 status page ended by closing the connection.
  Result<HttpResponse> r = Request(**client, "GET", "/", {}, "", kTimeoutMs);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("TLSv" + GetParam()), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("agent-1"), std::string::npos) << "s_server saw our client cert";
}

TEST_P(TlsClientVersionTest, ResumesASessionWithOpensslServer) {
  ASSERT_TRUE(SharedPki().ok());
  OpensslServer server;
  START_OR_SKIP(server, {"-www", "-Verify", "1"});
  TlsSessionPtr session;
  {
    auto first = TlsClient::Connect("127.0.0.1", server.port(), MutualOptions(GetParam()));
    ASSERT_TRUE(first.ok()) << first.error();
    // Reading the reply also processes TLS 1.3 NewSessionTicket messages.
    Result<HttpResponse> r = Request(**first, "GET", "/", {}, "", kTimeoutMs);
    ASSERT_TRUE(r.ok()) << r.error();
    session = (*first)->TakeSession();
    ASSERT_NE(session, nullptr);
  }
  TlsClientOptions options = MutualOptions(GetParam());
  options.session = session.get();
  auto second = TlsClient::Connect("127.0.0.1", server.port(), options);
  ASSERT_TRUE(second.ok()) << second.error();
  Result<HttpResponse> r = Request(**second, "GET", "/", {}, "", kTimeoutMs);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE((*second)->resumed());
  EXPECT_NE(r->body.find("Reused"), std::string::npos) << r->body;
}

INSTANTIATE_TEST_SUITE_P(TlsClient, TlsClientVersionTest, ::testing::Values("1.2", "1.3"),
                         [](const auto& info) {
                           return "Tls" + std::string(info.param == "1.2" ? "12" : "13");
                         });

TEST(TlsClient, DefaultVersionNegotiatesTheHighest) {
  ASSERT_TRUE(SharedPki().ok());
  OpensslServer server;
  START_OR_SKIP(server, {"-www"});
  auto client = TlsClient::Connect("localhost", server.port(), MutualOptions(""));
  ASSERT_TRUE(client.ok()) << client.error();
  EXPECT_EQ((*client)->version(), "TLSv1.3");
}

TEST(TlsClient, RejectsAServerFromAnotherCa) {
  ASSERT_TRUE(SharedPki().ok());
  OpensslServer server;
  START_OR_SKIP(server, {"-www"});
  TlsClientOptions options = MutualOptions("1.3");
  options.ca_file = SharedPki().other_ca().cert;
  auto client = TlsClient::Connect("127.0.0.1", server.port(), options);
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.error().find("wolfSSL error -188"), std::string::npos) << client.error();
}

TEST(TlsClient, ChecksTheServerName) {
  ASSERT_TRUE(SharedPki().ok());
  OpensslServer server;
  START_OR_SKIP(server, {"-www"});
  TlsClientOptions options = MutualOptions("1.2");
  options.servername = "not-localhost.example";
  auto client = TlsClient::Connect("127.0.0.1", server.port(), options);
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.error().find("wolfSSL error -322"), std::string::npos) << client.error();
  options.verify_hostname = false;
  auto lenient = TlsClient::Connect("127.0.0.1", server.port(), options);
  EXPECT_TRUE(lenient.ok()) << lenient.error();
}

TEST(TlsClient, ReportsTheAlertWhenTheServerWantsACertificate) {
  ASSERT_TRUE(SharedPki().ok());
  for (const std::string version : {"1.2", "1.3"}) {
    OpensslServer server;
    START_OR_SKIP(server, {"-www", "-Verify", "1"});
    TlsClientOptions options = MutualOptions(version);
    options.cert_file.clear();
    options.key_file.clear();
    auto client = TlsClient::Connect("127.0.0.1", server.port(), options);
    std::string error;
    if (!client.ok()) {
      error = client.error();  // TLS 1.2: the server refuses during the handshake
    } else {
      // TLS 1.3: the client's flight is done before the server judges it; the alert follows.
      Result<HttpResponse> r = Request(**client, "GET", "/", {}, "", kTimeoutMs);
      ASSERT_FALSE(r.ok()) << version;
      error = r.error();
    }
    EXPECT_NE(error.find("alert received"), std::string::npos) << version << ": " << error;
  }
}

TEST(TlsClient, Tls11IsAvailableToProveServersRefuseIt) {
  ASSERT_TRUE(SharedPki().ok());
  OpensslServer modern;
  START_OR_SKIP(modern, {"-www"});
  auto refused = TlsClient::Connect("127.0.0.1", modern.port(), MutualOptions("1.1"));
  ASSERT_FALSE(refused.ok()) << "a default OpenSSL 3 server refuses TLS 1.1";
  EXPECT_NE(refused.error().find("wolfSSL error"), std::string::npos) << refused.error();

  OpensslServer legacy;
  START_OR_SKIP(legacy, {"-www", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"});
  auto old = TlsClient::Connect("127.0.0.1", legacy.port(), MutualOptions("1.1"));
  ASSERT_TRUE(old.ok()) << old.error() << "\n" << legacy.child().Stderr();
  EXPECT_EQ((*old)->version(), "TLSv1.1");
}

TEST(TlsClient, HandshakeTimesOutAgainstASilentListener) {
  // A listening socket that never speaks TLS: the kernel completes the TCP handshake.
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  TlsClientOptions options;
  options.connect_timeout_ms = 100;
  auto client = TlsClient::Connect("127.0.0.1", ntohs(addr.sin_port), options);
  close(fd);
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.error().find("timeout"), std::string::npos) << client.error();
}

TEST(TlsClient, ConnectionRefusedIsAnError) {
  uint16_t port = PickFreeLoopbackPort();
  ASSERT_NE(port, 0);
  auto client = TlsClient::Connect("127.0.0.1", port, TlsClientOptions());
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.error().find("refused"), std::string::npos) << client.error();
}

TEST(TlsClient, RawSocketSeesATlsServerRejectPlaintext) {
  ASSERT_TRUE(SharedPki().ok());
  OpensslServer server;
  START_OR_SKIP(server, {"-www"});
  auto raw = RawSocket::Connect("127.0.0.1", server.port(), kTimeoutMs);
  ASSERT_TRUE(raw.ok()) << raw.error();
  ASSERT_TRUE((*raw)->WriteAll("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").ok());
  // The server closes (possibly after a plaintext-looking alert); never an HTTP response.
  Result<std::string> reply = (*raw)->ReadUntilClose(kTimeoutMs);
  if (reply.ok()) {
    EXPECT_NE(reply->rfind("HTTP/", 0), 0u) << *reply;
  } else {
    EXPECT_EQ(reply.error().find("timeout"), std::string::npos) << reply.error();
  }
}

TEST(HttpClient, SseReaderOverTlsReadsAFileServedByOpensslServer) {
  ASSERT_TRUE(SharedPki().ok());
  OpensslServer server;
  server.dir().Write("events.txt", "event: one\ndata: 1\n\n: comment\ndata: 2\nid: 9\n\n");
  START_OR_SKIP(server, {"-WWW"});
  auto client = TlsClient::Connect("127.0.0.1", server.port(), MutualOptions("1.3"));
  ASSERT_TRUE(client.ok()) << client.error();
  // s_server -WWW wants an HTTP/1.0-style request line and closes after the file.
  ASSERT_TRUE((*client)->WriteAll("GET /events.txt HTTP/1.0\r\n\r\n").ok());
  auto reader = SseReader::FromStream(**client, kTimeoutMs);
  ASSERT_TRUE(reader.ok()) << reader.error();
  EXPECT_EQ((*reader)->response().status, 200);
  std::vector<SseEvent> events;
  while (true) {
    auto next = (*reader)->Next(kTimeoutMs);
    ASSERT_TRUE(next.ok()) << next.error();
    if (!next->has_value()) {
      break;
    }
    events.push_back(**next);
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "one");
  EXPECT_EQ(events[1].data, "2");
  EXPECT_EQ(events[1].id, "9");
  EXPECT_LE(events[0].arrived, events[1].arrived);
  EXPECT_EQ((*reader)->comments(), 1);
}

}  // namespace
}  // namespace portcullis::testing
