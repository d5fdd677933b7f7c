// Hot reload of TLS material (issue 7 item 1): the server certificate and key, the client CA bundle
// and the CRL are replaced while `portcullis run` serves, the way a deploy does it (a new file
// renamed over the old one) and the way the kubelet updates a mounted Secret (a new timestamped
// folder and a `..data` symlink renamed over the old one). The gateway notices by its folder
// watch (or SIGHUP), builds a new TLS context for new handshakes and leaves live connections
// alone; a broken file keeps the old context.
//
// Every test owns a folder with copies of the TLS files (GatewayConfig::cert/key/client_ca and a
// "crl" member point at them), so replacing them touches nothing shared. Which certificate a
// handshake saw is read from the peer certificate's serial number. Waits are bounded; nothing
// asserts on timing.
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kReloaded[] = "TLS material reloaded";
constexpr char kNotReloaded[] =
    R"(TLS material not reloaded \(.*\); the old certificate keeps serving)";

// Serials as hex without leading zeros (openssl and wolfSSL disagree on DER's sign byte).
std::string NormalizeSerial(std::string hex) {
  for (char& c : hex) {
    c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  }
  size_t first = hex.find_first_not_of('0');
  return first == std::string::npos ? "0" : hex.substr(first);
}

Result<std::string> SerialOfFile(const std::string& cert_path) {
  Result<std::string> serial = TestPki::Serial(cert_path);
  if (!serial.ok()) {
    return serial.status();
  }
  return NormalizeSerial(*serial);
}

// The serial of the certificate the server presented on `client`'s handshake.
std::string PeerSerial(const TlsClient& client) {
  WOLFSSL_X509* peer = wolfSSL_get_peer_certificate(client.ssl());
  if (peer == nullptr) {
    return "";
  }
  unsigned char bytes[64];
  int len = sizeof(bytes);
  std::string hex;
  if (wolfSSL_X509_get_serial_number(peer, bytes, &len) == WOLFSSL_SUCCESS) {
    static constexpr char kDigits[] = "0123456789abcdef";
    for (int i = 0; i < len; ++i) {
      hex.push_back(kDigits[bytes[i] >> 4]);
      hex.push_back(kDigits[bytes[i] & 0xf]);
    }
  }
  wolfSSL_X509_free(peer);
  return hex.empty() ? "" : NormalizeSerial(hex);
}

// One new connection with one request on it.
struct Call {
  bool ok = false;     // HTTP 200 came back
  std::string serial;  // of the server certificate, when the handshake finished
  std::string detail;  // what went wrong otherwise
};

Call CallOnce(uint16_t port, const TlsClientOptions& options) {
  Call call;
  auto client = TlsClient::Connect("127.0.0.1", port, options);
  if (!client.ok()) {
    call.detail = "connect: " + client.error();
    return call;
  }
  call.serial = PeerSerial(**client);
  auto response = testing::Request(**client, "POST", "/mcp/echo", JsonHeaders(), kPing, kRequestMs);
  if (!response.ok()) {
    call.detail = "request: " + response.error();
    return call;
  }
  call.ok = response->status == 200;
  if (!call.ok) {
    call.detail = "HTTP " + std::to_string(response->status) + ": " + response->body;
  }
  return call;
}

// A server certificate from the shared test CA, like SharedPki().server(): SAN localhost and
// 127.0.0.1, EKU serverAuth; a new key and serial.
Result<CertKey> IssueServerCert(const std::string& name) {
  testing::CertIssueOptions options;
  options.subject = "/O=Portcullis Test/CN=localhost";
  return SharedPki().IssueClient(
      name, {"extendedKeyUsage = serverAuth", "subjectAltName = DNS:localhost, IP:127.0.0.1"},
      options);
}

// Writes `bytes` next to `path` and renames it over `path`: one atomic replacement, as a deploy
// tool does it.
void ReplaceFile(const std::string& path, const std::string& bytes) {
  std::filesystem::path target(path);
  std::string tmp = (target.parent_path() / ("." + target.filename().string() + ".new")).string();
  FILE* f = fopen(tmp.c_str(), "wb");
  ASSERT_NE(f, nullptr) << tmp;
  ASSERT_EQ(fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  ASSERT_EQ(fclose(f), 0);
  ASSERT_EQ(rename(tmp.c_str(), path.c_str()), 0) << tmp << " -> " << path;
}

// Waits (bounded) until the file at `path` has a match for `regex`.
bool WaitForFileText(const std::string& path, const std::string& regex) {
  const std::regex re(regex);
  auto deadline = Clock::now() + std::chrono::milliseconds(kWaitMs);
  while (true) {
    if (std::regex_search(TempDir::ReadFile(path), re)) {
      return true;
    }
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

class GatewayTlsReload : public GatewayTestBase {
 protected:
  void SetUp() override {
    GatewayTestBase::SetUp();
    ASSERT_TRUE(upstream_.ok()) << upstream_.error();
    ASSERT_TRUE(SerialOfFile(pki().server().cert).ok());
    old_serial_ = *SerialOfFile(pki().server().cert);
  }

  // Copies the shared server pair and CA into the test's folder (unless a test laid the files
  // out itself) and starts the gateway on them. `tls` = extra members of "tls".
  void StartGateway(const std::vector<std::string>& tls = {}, const testing::EnvVars& env = {}) {
    if (!std::filesystem::exists(CertPath())) {
      certs_.Write("server.crt", TempDir::ReadFile(pki().server().cert));
      certs_.Write("server.key", TempDir::ReadFile(pki().server().key));
    }
    if (!std::filesystem::exists(CaPath())) {
      certs_.Write("client-ca.pem", TempDir::ReadFile(pki().ca().cert));
    }
    GatewayConfig config;
    config.cert = CertPath();
    config.key = KeyPath();
    config.client_ca = CaPath();
    config.tls = tls;
    config.AddUpstream("echo", upstream_.url());
    config.limits.push_back(R"("idle_timeout_ms": 120000)");
    config.extra.push_back(R"("audit": {"path": "audit.jsonl", "flush_interval_ms": 50})");
    Status s = gateway_.Start(config, env);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  std::string CertPath() const { return certs_.File("server.crt"); }
  std::string KeyPath() const { return certs_.File("server.key"); }
  std::string CaPath() const { return certs_.File("client-ca.pem"); }

  // Renames a new key, then its certificate, over the served pair (two renames; a reload that
  // lands between them fails to build and keeps the old context, which is also fine).
  void DeployServerPair(const CertKey& pair) {
    ReplaceFile(KeyPath(), TempDir::ReadFile(pair.key));
    ReplaceFile(CertPath(), TempDir::ReadFile(pair.cert));
  }

  bool WaitForLogText(const std::string& regex, size_t from) {
    return gateway_.WaitForLog(regex, from);
  }

  // A new connection with the good client; the served certificate's serial or the failure.
  Call CallWithClient(const CertKey& client = SharedPki().client()) {
    return CallOnce(gateway_.port(), ClientOptions(client));
  }

  EchoUpstream upstream_;
  TempDir certs_{"tlsreload"};
  GatewayProcess gateway_;
  std::string old_serial_;
};

TEST_F(GatewayTlsReload, CertificateReplacedUnderLoadWithoutAFailedRequest) {
  Result<CertKey> next = IssueServerCert("reload-server");
  ASSERT_TRUE(next.ok()) << next.error();
  Result<std::string> new_serial = SerialOfFile(next->cert);
  ASSERT_TRUE(new_serial.ok()) << new_serial.error();
  ASSERT_NE(*new_serial, old_serial_);
  StartGateway();

  // A keep-alive connection from before the swap.
  auto keep = TlsClient::Connect("127.0.0.1", gateway_.port(), ClientOptions(pki().client()));
  ASSERT_TRUE(keep.ok()) << keep.error();
  EXPECT_EQ(PeerSerial(**keep), old_serial_);
  auto first = testing::Request(**keep, "POST", "/mcp/echo", JsonHeaders(), kPing, kRequestMs);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_EQ(first->status, 200) << first->body;

  // The caller: a new connection and one request per iteration, at least kMinCalls of them and
  // on until told to stop, bounded by kMaxCalls and a deadline.
  constexpr int kMinCalls = 150;
  constexpr int kMaxCalls = 2000;
  const uint16_t port = gateway_.port();
  const TlsClientOptions options = ClientOptions(pki().client());
  std::vector<Call> calls;  // the caller's until joined
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> caller_done{false};
  std::thread caller([&] {
    auto deadline = Clock::now() + std::chrono::seconds(60);
    for (int i = 0; i < kMaxCalls && Clock::now() < deadline; ++i) {
      if (i >= kMinCalls && stop.load()) {
        break;
      }
      started.store(i + 1);
      calls.push_back(CallOnce(port, options));
      finished.store(i + 1);
    }
    caller_done.store(true);
  });
  struct Joiner {
    std::atomic<bool>* stop;
    std::thread* thread;
    ~Joiner() {
      stop->store(true);
      if (thread->joinable()) {
        thread->join();
      }
    }
  } joiner{&stop, &caller};

  auto wait_for_calls = [&](int n) {
    auto deadline = Clock::now() + std::chrono::seconds(30);
    while (finished.load() < n && Clock::now() < deadline && !caller_done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return finished.load() >= n;
  };
  ASSERT_TRUE(wait_for_calls(20)) << "the caller is not getting through";

  size_t from = gateway_.LogSize();
  DeployServerPair(*next);
  ASSERT_TRUE(WaitForLogText(kReloaded, from)) << gateway_.Log().substr(from);
  // Calls with this index or later began after the reload was logged.
  const int first_after_reload = started.load();
  EXPECT_TRUE(wait_for_calls(first_after_reload + 20));
  stop.store(true);
  caller.join();

  ASSERT_GE(calls.size(), static_cast<size_t>(kMinCalls));
  int failed = 0;
  int old_seen = 0;
  int new_seen = 0;
  bool switched = false;
  for (size_t i = 0; i < calls.size(); ++i) {
    const Call& call = calls[i];
    if (!call.ok) {
      ++failed;
      ADD_FAILURE() << "call " << i << " failed: " << call.detail;
    }
    if (call.serial == *new_serial) {
      ++new_seen;
      switched = true;
    } else if (call.serial == old_serial_) {
      ++old_seen;
      EXPECT_FALSE(switched) << "call " << i << " saw the old certificate after the new one";
    } else {
      ADD_FAILURE() << "call " << i << " saw serial '" << call.serial << "'";
    }
    if (static_cast<int>(i) >= first_after_reload) {
      EXPECT_EQ(call.serial, *new_serial) << "call " << i << " began after the reload line";
    }
  }
  EXPECT_EQ(failed, 0);
  EXPECT_GT(old_seen, 0);
  EXPECT_GT(new_seen, 0);

  // The connection from before keeps its context and keeps working.
  auto again = testing::Request(**keep, "POST", "/mcp/echo", JsonHeaders(), kPing, kRequestMs);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->status, 200) << again->body;
  // And a fresh handshake now is the new certificate.
  Call fresh = CallWithClient();
  EXPECT_TRUE(fresh.ok) << fresh.detail;
  EXPECT_EQ(fresh.serial, *new_serial);
}

TEST_F(GatewayTlsReload, KubernetesSecretSymlinkSwap) {
  // The kubelet's layout for a Secret volume:
  //   server.crt -> ..data/server.crt   server.key -> ..data/server.key   ..data -> ..2024_01_01
  // An update writes a new timestamped folder, renames a new ..data symlink over the old one
  // (one atomic rename for the whole pair) and deletes the old folder.
  const std::string dir = certs_.path();
  certs_.Write("..2024_01_01/server.crt", TempDir::ReadFile(pki().server().cert));
  certs_.Write("..2024_01_01/server.key", TempDir::ReadFile(pki().server().key));
  ASSERT_EQ(symlink("..2024_01_01", (dir + "/..data").c_str()), 0);
  ASSERT_EQ(symlink("..data/server.crt", CertPath().c_str()), 0);
  ASSERT_EQ(symlink("..data/server.key", KeyPath().c_str()), 0);
  Result<CertKey> next = IssueServerCert("k8s-server");
  ASSERT_TRUE(next.ok()) << next.error();
  Result<std::string> new_serial = SerialOfFile(next->cert);
  ASSERT_TRUE(new_serial.ok()) << new_serial.error();
  StartGateway();

  Call before = CallWithClient();
  ASSERT_TRUE(before.ok) << before.detail;
  EXPECT_EQ(before.serial, old_serial_);

  size_t from = gateway_.LogSize();
  certs_.Write("..2024_01_02/server.crt", TempDir::ReadFile(next->cert));
  certs_.Write("..2024_01_02/server.key", TempDir::ReadFile(next->key));
  ASSERT_EQ(symlink("..2024_01_02", (dir + "/..data_tmp").c_str()), 0);
  ASSERT_EQ(rename((dir + "/..data_tmp").c_str(), (dir + "/..data").c_str()), 0);
  std::filesystem::remove_all(dir + "/..2024_01_01");
  ASSERT_TRUE(WaitForLogText(kReloaded, from)) << gateway_.Log().substr(from);

  Call after = CallWithClient();
  EXPECT_TRUE(after.ok) << after.detail;
  EXPECT_EQ(after.serial, *new_serial);
}

TEST_F(GatewayTlsReload, RevokedClientIsRefusedAfterTheCrlIsReplaced) {
  Result<CertKey> victim = pki().IssueClient("reload-victim");
  ASSERT_TRUE(victim.ok()) << victim.error();
  const std::string crl = certs_.Write("ca.crl", TempDir::ReadFile(pki().empty_crl()));
  StartGateway({"\"crl\": [\"" + crl + "\"]"});

  Call before = CallWithClient(*victim);
  ASSERT_TRUE(before.ok) << "the empty CRL should accept the client: " << before.detail;

  // A fresh CRL listing the client, renamed over the configured one.
  TempDir scratch("tlsreload-crl");
  const std::string fresh = scratch.File("fresh.crl");
  Status revoked = pki().RevokeAndWriteCrl(victim->cert, fresh);
  ASSERT_TRUE(revoked.ok()) << revoked.message();
  size_t from = gateway_.LogSize();
  ReplaceFile(crl, TempDir::ReadFile(fresh));
  ASSERT_TRUE(WaitForLogText(kReloaded, from)) << gateway_.Log().substr(from);

  size_t refused_from = gateway_.LogSize();
  Call after = CallWithClient(*victim);
  EXPECT_FALSE(after.ok) << "a revoked client was served after the CRL reload";
  EXPECT_TRUE(WaitForLogText("CERTIFICATE_REVOKED", refused_from))
      << "client saw: " << after.detail << "\nlog:\n"
      << gateway_.Log().substr(refused_from);
  // Other clients are unaffected.
  Call good = CallWithClient();
  EXPECT_TRUE(good.ok) << good.detail;
}

TEST_F(GatewayTlsReload, BrokenCertificateKeepsTheOldOneServing) {
  StartGateway();
  Result<CertKey> next = IssueServerCert("after-broken-server");
  ASSERT_TRUE(next.ok()) << next.error();
  Result<std::string> new_serial = SerialOfFile(next->cert);
  ASSERT_TRUE(new_serial.ok()) << new_serial.error();

  size_t from = gateway_.LogSize();
  ReplaceFile(CertPath(),
              "-----BEGIN CERTIFICATE-----\nthis is not base64 !!!\n"
              "-----END CERTIFICATE-----\n");
  ASSERT_TRUE(WaitForLogText(kNotReloaded, from)) << gateway_.Log().substr(from);
  EXPECT_EQ(gateway_.Log().substr(from).find(kReloaded), std::string::npos);
  // Reported in the audit log too.
  EXPECT_TRUE(WaitForFileText(gateway_.dir().File("audit.jsonl"),
                              R"(config\.reload[^\n]*"what":"tls"[^\n]*"ok":false)"))
      << TempDir::ReadFile(gateway_.dir().File("audit.jsonl"));

  for (int i = 0; i < 3; ++i) {
    Call call = CallWithClient();
    EXPECT_TRUE(call.ok) << call.detail;
    EXPECT_EQ(call.serial, old_serial_) << "the old certificate should keep serving";
  }
  EXPECT_TRUE(gateway_.process().Running());

  // A good pair after the broken file is picked up.
  from = gateway_.LogSize();
  DeployServerPair(*next);
  ASSERT_TRUE(WaitForLogText(kReloaded, from)) << gateway_.Log().substr(from);
  Call after = CallWithClient();
  EXPECT_TRUE(after.ok) << after.detail;
  EXPECT_EQ(after.serial, *new_serial);
}

TEST_F(GatewayTlsReload, UnchangedFilesAreNotReloaded) {
  // At debug level every reload ends with one policy line ("<trigger>: policy unchanged"), after
  // its TLS check: a marker that the reload has been looked at.
  StartGateway({}, {{"PORTCULLIS_LOG_LEVEL", "debug"}});
  size_t from = gateway_.LogSize();
  ASSERT_TRUE(gateway_.process().Signal(SIGHUP));
  ASSERT_TRUE(WaitForLogText("SIGHUP: policy unchanged", from)) << gateway_.Log().substr(from);
  // The certificate rewritten with the same bytes: the folder watch fires, the bytes hash the
  // same.
  size_t rewrite = gateway_.LogSize();
  ReplaceFile(CertPath(), TempDir::ReadFile(pki().server().cert));
  ASSERT_TRUE(WaitForLogText("file changed: policy unchanged", rewrite))
      << gateway_.Log().substr(rewrite);
  size_t second = gateway_.LogSize();
  ASSERT_TRUE(gateway_.process().Signal(SIGHUP));
  ASSERT_TRUE(WaitForLogText("SIGHUP: policy unchanged", second)) << gateway_.Log().substr(second);

  std::string log = gateway_.Log().substr(from);
  EXPECT_EQ(log.find(kReloaded), std::string::npos) << log;
  EXPECT_EQ(log.find("TLS material not reloaded"), std::string::npos) << log;
  Call call = CallWithClient();
  EXPECT_TRUE(call.ok) << call.detail;
  EXPECT_EQ(call.serial, old_serial_);
}

TEST_F(GatewayTlsReload, ClientCaBundleGainsASecondCa) {
  StartGateway();
  Call before = CallWithClient(pki().other_ca_client());
  EXPECT_FALSE(before.ok) << "a client of a CA not in the bundle was served";
  Call good_before = CallWithClient();
  ASSERT_TRUE(good_before.ok) << good_before.detail;

  size_t from = gateway_.LogSize();
  std::string ca = TempDir::ReadFile(pki().ca().cert);
  if (!ca.empty() && ca.back() != '\n') {
    ca.push_back('\n');
  }
  ReplaceFile(CaPath(), ca + TempDir::ReadFile(pki().other_ca().cert));
  ASSERT_TRUE(WaitForLogText(kReloaded, from)) << gateway_.Log().substr(from);

  Call after = CallWithClient(pki().other_ca_client());
  EXPECT_TRUE(after.ok) << "the other CA's client after the bundle reload: " << after.detail;
  Call good_after = CallWithClient();
  EXPECT_TRUE(good_after.ok) << good_after.detail;
}

}  // namespace
}  // namespace portcullis::gateway_test
