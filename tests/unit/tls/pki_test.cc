// The dev PKI, checked by the tools that will consume it: the openssl CLI (verify with the TLS
// purposes and -x509_strict, x509 -text, a real s_server/s_client handshake) and wolfSSL's own
// certificate manager, the verifier the gateway runs.
#include "gateway/tls/pki.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace portcullis::pki {
namespace {

using ::portcullis::testing::ChildProcess;
using ::portcullis::testing::CommandResult;
using ::portcullis::testing::RunCommand;
using ::portcullis::testing::TempDir;

constexpr int kOpensslTimeoutMs = 20000;

// Runs `openssl args...`; a failure to run at all fails the test.
CommandResult Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  Result<CommandResult> r = RunCommand(argv, kOpensslTimeoutMs);
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? r.value() : CommandResult{-1, "", ""};
}

std::string CertText(const std::string& path) {
  CommandResult r = Openssl({"x509", "-in", path, "-noout", "-text"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  return r.out;
}

// openssl verify as a TLS peer would: the purpose checks EKU and the CA's critical
// basicConstraints; -x509_strict adds RFC 5280 profile checks (SKI/AKI, serial, ...).
CommandResult Verify(const std::string& ca, const std::string& cert, const std::string& purpose) {
  return Openssl({"verify", "-x509_strict", "-purpose", purpose, "-CAfile", ca, cert});
}

bool ExpiresWithin(const std::string& cert, long long seconds) {
  return Openssl({"x509", "-in", cert, "-noout", "-checkend", std::to_string(seconds)})
             .exit_status != 0;
}

int FileMode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return -1;
  }
  return st.st_mode & 07777;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Seconds since the epoch from `openssl x509 -startdate` ("notBefore=Nov 27 11:55:47 2026 GMT").
int64_t NotBefore(const std::string& cert) {
  CommandResult r = Openssl({"x509", "-in", cert, "-noout", "-startdate"});
  struct tm tm = {};
  const std::string text = r.out.substr(r.out.find('=') + 1);
  if (strptime(text.c_str(), "%b %d %H:%M:%S %Y", &tm) == nullptr) {
    ADD_FAILURE() << "cannot parse " << r.out;
    return 0;
  }
  return static_cast<int64_t>(timegm(&tm));
}

std::string Serial(const std::string& cert) {
  CommandResult r = Openssl({"x509", "-in", cert, "-noout", "-serial"});
  std::string serial = r.out.substr(r.out.find('=') + 1);
  while (!serial.empty() && serial.back() == '\n') {
    serial.pop_back();
  }
  return serial;
}

Result<std::vector<std::string>> Init(const std::string& dir, KeyType type = KeyType::kEcdsaP256,
                                      bool force = false) {
  InitOptions options;
  options.out_dir = dir;
  options.key_type = type;
  options.force = force;
  return InitPki(options);
}

Result<std::vector<std::string>> Issue(const std::string& ca_dir, const std::string& out_dir,
                                       const CertRequest& request) {
  IssueOptions options;
  options.ca_dir = ca_dir;
  options.out_dir = out_dir;
  options.request = request;
  return IssueCert(options);
}

CertRequest Request(const std::string& cn) {
  CertRequest request;
  request.common_name = cn;
  return request;
}

TEST(PkiInit, WritesCaServerAndClientThatVerify) {
  TempDir dir("pki-init");
  const std::string out = dir.File("pki");  // does not exist yet: InitPki creates it
  Result<std::vector<std::string>> written = Init(out);
  ASSERT_TRUE(written.ok()) << written.error();
  EXPECT_EQ(written->size(), 6u);
  for (const char* name : {"ca", "server", "client"}) {
    EXPECT_EQ(FileMode(out + "/" + name + ".key"), 0600) << name;
    EXPECT_EQ(FileMode(out + "/" + name + ".crt"), 0644) << name;
  }
  const std::string ca = out + "/ca.crt";
  EXPECT_EQ(Verify(ca, out + "/client.crt", "sslclient").exit_status, 0);
  EXPECT_EQ(Verify(ca, out + "/server.crt", "sslserver").exit_status, 0);
  // The EKUs keep the roles apart.
  EXPECT_NE(Verify(ca, out + "/client.crt", "sslserver").exit_status, 0);
  EXPECT_NE(Verify(ca, out + "/server.crt", "sslclient").exit_status, 0);
  // Nothing stray (temporary files of the atomic writes) left behind.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(out)) {
    ++entries;
  }
  EXPECT_EQ(entries, 6u);
}

TEST(PkiInit, CaHasTheCaProfile) {
  TempDir dir("pki-init");
  ASSERT_TRUE(Init(dir.path()).ok());
  const std::string text = CertText(dir.File("ca.crt"));
  EXPECT_NE(text.find("Version: 3 (0x2)"), std::string::npos) << text;
  EXPECT_NE(text.find("Subject: O = Portcullis Dev, CN = Portcullis Dev CA"), std::string::npos);
  EXPECT_NE(text.find("Issuer: O = Portcullis Dev, CN = Portcullis Dev CA"), std::string::npos);
  EXPECT_NE(text.find("X509v3 Basic Constraints: critical\n                CA:TRUE"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Certificate Sign, CRL Sign"), std::string::npos);
  EXPECT_NE(text.find("X509v3 Subject Key Identifier"), std::string::npos);
  EXPECT_NE(text.find("id-ecPublicKey"), std::string::npos);
  EXPECT_NE(text.find("NIST CURVE: P-256"), std::string::npos);
  EXPECT_NE(text.find("Signature Algorithm: ecdsa-with-SHA256"), std::string::npos);
  EXPECT_EQ(text.find("Extended Key Usage"), std::string::npos);
  // Ten years.
  EXPECT_FALSE(ExpiresWithin(dir.File("ca.crt"), 3640LL * 86400));
  EXPECT_TRUE(ExpiresWithin(dir.File("ca.crt"), 3660LL * 86400));
}

TEST(PkiInit, ServerCertificateNamesLoopback) {
  TempDir dir("pki-init");
  ASSERT_TRUE(Init(dir.path()).ok());
  const std::string text = CertText(dir.File("server.crt"));
  EXPECT_NE(text.find("Subject: O = Portcullis Dev, CN = localhost"), std::string::npos) << text;
  EXPECT_NE(text.find("DNS:localhost"), std::string::npos) << text;
  EXPECT_NE(text.find("IP Address:127.0.0.1"), std::string::npos);
  EXPECT_NE(text.find("IP Address:0:0:0:0:0:0:0:1"), std::string::npos);
  EXPECT_NE(text.find("TLS Web Server Authentication"), std::string::npos);
  EXPECT_EQ(text.find("TLS Web Client Authentication"), std::string::npos);
  EXPECT_NE(text.find("CA:FALSE"), std::string::npos);
  EXPECT_NE(text.find("X509v3 Key Usage: critical\n                Digital Signature\n"),
            std::string::npos);
  EXPECT_NE(text.find("X509v3 Authority Key Identifier"), std::string::npos);
  EXPECT_FALSE(ExpiresWithin(dir.File("server.crt"), 364LL * 86400));
  EXPECT_TRUE(ExpiresWithin(dir.File("server.crt"), 366LL * 86400));
}

TEST(PkiInit, ClientCertificateCarriesSpiffeId) {
  TempDir dir("pki-init");
  ASSERT_TRUE(Init(dir.path()).ok());
  const std::string text = CertText(dir.File("client.crt"));
  EXPECT_NE(text.find("Subject: O = Portcullis Dev, CN = client"), std::string::npos) << text;
  EXPECT_NE(text.find("URI:spiffe://portcullis.local/client"), std::string::npos);
  EXPECT_NE(text.find("TLS Web Client Authentication"), std::string::npos);
  EXPECT_EQ(text.find("TLS Web Server Authentication"), std::string::npos);
}

TEST(PkiInit, RsaFlagMakesRsaPki) {
  TempDir dir("pki-init");
  Result<std::vector<std::string>> written = Init(dir.path(), KeyType::kRsa2048);
  ASSERT_TRUE(written.ok()) << written.error();
  const std::string ca_text = CertText(dir.File("ca.crt"));
  EXPECT_NE(ca_text.find("rsaEncryption"), std::string::npos);
  EXPECT_NE(ca_text.find("Public-Key: (2048 bit)"), std::string::npos);
  EXPECT_NE(ca_text.find("Signature Algorithm: sha256WithRSAEncryption"), std::string::npos);
  const std::string client_text = CertText(dir.File("client.crt"));
  EXPECT_NE(client_text.find("Digital Signature, Key Encipherment"), std::string::npos);
  EXPECT_EQ(Verify(dir.File("ca.crt"), dir.File("client.crt"), "sslclient").exit_status, 0);
  EXPECT_EQ(Verify(dir.File("ca.crt"), dir.File("server.crt"), "sslserver").exit_status, 0);
  EXPECT_EQ(Openssl({"rsa", "-in", dir.File("ca.key"), "-check", "-noout"}).exit_status, 0);
}

TEST(PkiInit, KeysMatchTheirCertificates) {
  TempDir dir("pki-init");
  ASSERT_TRUE(Init(dir.path()).ok());
  for (const char* name : {"ca", "server", "client"}) {
    const std::string base = dir.File(name);
    CommandResult from_cert = Openssl({"x509", "-in", base + ".crt", "-noout", "-pubkey"});
    CommandResult from_key = Openssl({"pkey", "-in", base + ".key", "-pubout"});
    EXPECT_EQ(from_cert.exit_status, 0);
    EXPECT_EQ(from_key.exit_status, 0) << from_key.err;
    EXPECT_EQ(from_cert.out, from_key.out) << name;
  }
}

TEST(PkiInit, RefusesToReplaceCaWithoutForce) {
  TempDir dir("pki-init");
  ASSERT_TRUE(Init(dir.path()).ok());
  const std::string ca_before = TempDir::ReadFile(dir.File("ca.crt"));
  Result<std::vector<std::string>> again = Init(dir.path());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("ca.key already exists"), std::string::npos) << again.error();
  EXPECT_NE(again.error().find("--force"), std::string::npos);
  EXPECT_EQ(TempDir::ReadFile(dir.File("ca.crt")), ca_before);

  Result<std::vector<std::string>> forced = Init(dir.path(), KeyType::kEcdsaP256, true);
  ASSERT_TRUE(forced.ok()) << forced.error();
  EXPECT_NE(TempDir::ReadFile(dir.File("ca.crt")), ca_before);
  EXPECT_EQ(Verify(dir.File("ca.crt"), dir.File("client.crt"), "sslclient").exit_status, 0);
}

TEST(PkiInit, NotBeforeIsBackdatedOneHour) {
  TempDir dir("pki-init");
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  ASSERT_TRUE(Init(dir.path()).ok());
  for (const char* name : {"ca.crt", "server.crt", "client.crt"}) {
    const int64_t not_before = NotBefore(dir.File(name));
    // Generous bounds: this checks the backdating, not the speed of the machine.
    EXPECT_GE(not_before, now - 3600 - 5) << name;
    EXPECT_LE(not_before, now - 3600 + 600) << name;
  }
}

TEST(PkiInit, SerialsAreRandomPositiveSixteenBytes) {
  TempDir dir("pki-init");
  ASSERT_TRUE(Init(dir.path()).ok());
  std::vector<std::string> serials;
  for (const char* name : {"ca.crt", "server.crt", "client.crt"}) {
    const std::string serial = Serial(dir.File(name));
    ASSERT_EQ(serial.size(), 32u) << serial;
    // Top bit clear (positive), next bit set (no leading zero octet).
    EXPECT_TRUE(serial[0] >= '4' && serial[0] <= '7') << serial;
    serials.push_back(serial);
  }
  EXPECT_NE(serials[0], serials[1]);
  EXPECT_NE(serials[1], serials[2]);
}

TEST(PkiInit, WolfsslVerifiesTheChainAndLoadsTheKeys) {
  TempDir dir("pki-init");
  ASSERT_TRUE(Init(dir.path()).ok());
  const std::string ca = TempDir::ReadFile(dir.File("ca.crt"));
  WOLFSSL_CERT_MANAGER* cm = wolfSSL_CertManagerNew();
  ASSERT_NE(cm, nullptr);
  EXPECT_EQ(wolfSSL_CertManagerLoadCABuffer(cm, reinterpret_cast<const unsigned char*>(ca.data()),
                                            static_cast<long>(ca.size()), WOLFSSL_FILETYPE_PEM),
            WOLFSSL_SUCCESS);
  for (const char* name : {"server.crt", "client.crt"}) {
    const std::string pem = TempDir::ReadFile(dir.File(name));
    EXPECT_EQ(
        wolfSSL_CertManagerVerifyBuffer(cm, reinterpret_cast<const unsigned char*>(pem.data()),
                                        static_cast<long>(pem.size()), WOLFSSL_FILETYPE_PEM),
        WOLFSSL_SUCCESS)
        << name;
  }
  wolfSSL_CertManagerFree(cm);

  WOLFSSL_CTX* ctx = wolfSSL_CTX_new(wolfTLS_server_method());
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ(
      wolfSSL_CTX_use_certificate_file(ctx, dir.File("server.crt").c_str(), WOLFSSL_FILETYPE_PEM),
      WOLFSSL_SUCCESS);
  EXPECT_EQ(
      wolfSSL_CTX_use_PrivateKey_file(ctx, dir.File("server.key").c_str(), WOLFSSL_FILETYPE_PEM),
      WOLFSSL_SUCCESS);
  EXPECT_EQ(wolfSSL_CTX_check_private_key(ctx), WOLFSSL_SUCCESS);
  wolfSSL_CTX_free(ctx);
}

// A real mutual-TLS handshake between openssl s_server and s_client using the generated files;
// the -rev server echoes the line reversed only after it has accepted the client certificate.
TEST(PkiInit, OpensslHandshakeSucceedsWithGeneratedCertificates) {
  TempDir dir("pki-tls");
  ASSERT_TRUE(Init(dir.path()).ok());
  ChildProcess server;
  ASSERT_TRUE(server
                  .Start({"timeout", "30", "openssl", "s_server", "-accept", "127.0.0.1:0",
                          "-naccept", "1", "-rev", "-cert", dir.File("server.crt"), "-key",
                          dir.File("server.key"), "-CAfile", dir.File("ca.crt"), "-Verify", "1",
                          "-verify_return_error", "-x509_strict"})
                  .ok());
  std::smatch m;
  ASSERT_TRUE(server.WaitForStdout("ACCEPT [^\\n]*:([0-9]+)", 20000, &m)) << server.Stderr();
  const std::string port = m[1].str();
  Result<CommandResult> client = RunCommand(
      {"timeout", "20", "openssl", "s_client", "-quiet", "-connect", "127.0.0.1:" + port, "-cert",
       dir.File("client.crt"), "-key", dir.File("client.key"), "-CAfile", dir.File("ca.crt"),
       "-verify_return_error", "-verify_hostname", "localhost", "-x509_strict"},
      kOpensslTimeoutMs, "hello\nCLOSE\n");
  ASSERT_TRUE(client.ok()) << client.error();
  EXPECT_EQ(client->exit_status, 0) << client->err;
  EXPECT_NE(client->out.find("olleh"), std::string::npos) << client->out << client->err;
  std::optional<int> status = server.Wait(20000);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0) << server.Stdout() << server.Stderr();
  // s_server reports the client certificate it accepted on stderr.
  EXPECT_NE(server.Stderr().find("Verification: OK"), std::string::npos) << server.Stderr();
  EXPECT_NE(server.Stderr().find("Peer certificate: O = Portcullis Dev, CN = client"),
            std::string::npos)
      << server.Stderr();
}

TEST(PkiIssue, ClientCertificateWithEveryKindOfName) {
  TempDir dir("pki-issue");
  ASSERT_TRUE(Init(dir.path()).ok());
  CertRequest request = Request("agent-1");
  request.uris = {"spiffe://example.org/ns/ci/sa/agent-1", "https://agent.example.org/id"};
  request.dns_names = {"agent-1.internal", "*.agents.example.org"};
  request.ip_addresses = {"10.0.0.7", "fd00::7"};
  request.emails = {"ops@example.org"};
  Result<std::vector<std::string>> written = Issue(dir.path(), dir.File("out"), request);
  ASSERT_TRUE(written.ok()) << written.error();
  ASSERT_EQ(written->size(), 2u);
  EXPECT_EQ((*written)[0], dir.File("out/agent-1.crt"));
  EXPECT_EQ((*written)[1], dir.File("out/agent-1.key"));
  EXPECT_EQ(FileMode(dir.File("out/agent-1.key")), 0600);

  const std::string text = CertText(dir.File("out/agent-1.crt"));
  for (const char* expected :
       {"Subject: O = Portcullis Dev, CN = agent-1",
        "Issuer: O = Portcullis Dev, CN = Portcullis Dev CA",
        "DNS:agent-1.internal, DNS:*.agents.example.org, IP Address:10.0.0.7, "
        "IP Address:FD00:0:0:0:0:0:0:7, URI:spiffe://example.org/ns/ci/sa/agent-1, "
        "URI:https://agent.example.org/id, email:ops@example.org",
        "TLS Web Client Authentication", "CA:FALSE", "id-ecPublicKey"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  EXPECT_EQ(Verify(dir.File("ca.crt"), dir.File("out/agent-1.crt"), "sslclient").exit_status, 0);
  EXPECT_FALSE(ExpiresWithin(dir.File("out/agent-1.crt"), 364LL * 86400));
  EXPECT_TRUE(ExpiresWithin(dir.File("out/agent-1.crt"), 366LL * 86400));
}

TEST(PkiIssue, AuthorityKeyIdIsTheCaSubjectKeyId) {
  TempDir dir("pki-issue");
  ASSERT_TRUE(Init(dir.path()).ok());
  const std::string ca_text = CertText(dir.File("ca.crt"));
  const std::string leaf_text = CertText(dir.File("client.crt"));
  const std::regex ski("Subject Key Identifier: *\\n *([0-9A-F:]+)");
  const std::regex aki("Authority Key Identifier: *\\n *(keyid:)?([0-9A-F:]+)");
  std::smatch ca_ski;
  std::smatch leaf_aki;
  ASSERT_TRUE(std::regex_search(ca_text, ca_ski, ski)) << ca_text;
  ASSERT_TRUE(std::regex_search(leaf_text, leaf_aki, aki)) << leaf_text;
  EXPECT_EQ(ca_ski[1].str(), leaf_aki[2].str());
}

TEST(PkiIssue, ServerFlagGivesServerAuthAndCnAsDnsName) {
  TempDir dir("pki-issue");
  ASSERT_TRUE(Init(dir.path()).ok());
  CertRequest request = Request("billing.internal");
  request.profile = CertProfile::kServer;
  ASSERT_TRUE(Issue(dir.path(), dir.path(), request).ok());
  const std::string cert = dir.File("billing.internal.crt");
  const std::string text = CertText(cert);
  EXPECT_NE(text.find("TLS Web Server Authentication"), std::string::npos) << text;
  EXPECT_NE(text.find("DNS:billing.internal"), std::string::npos);
  EXPECT_EQ(Verify(dir.File("ca.crt"), cert, "sslserver").exit_status, 0);
  EXPECT_EQ(Openssl({"x509", "-in", cert, "-noout", "-checkhost", "billing.internal"}).out,
            "Hostname billing.internal does match certificate\n");
}

TEST(PkiIssue, DaysSetsTheValidity) {
  TempDir dir("pki-issue");
  ASSERT_TRUE(Init(dir.path()).ok());
  CertRequest request = Request("short-lived");
  request.days = 10;
  ASSERT_TRUE(Issue(dir.path(), dir.path(), request).ok());
  EXPECT_FALSE(ExpiresWithin(dir.File("short-lived.crt"), 9LL * 86400));
  EXPECT_TRUE(ExpiresWithin(dir.File("short-lived.crt"), 11LL * 86400));
}

TEST(PkiIssue, MixesKeyTypesBetweenCaAndLeaf) {
  TempDir dir("pki-issue");
  ASSERT_TRUE(Init(dir.File("ec"), KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(Init(dir.File("rsa"), KeyType::kRsa2048).ok());

  CertRequest rsa_leaf = Request("rsa-under-ec");
  rsa_leaf.key_type = KeyType::kRsa2048;
  ASSERT_TRUE(Issue(dir.File("ec"), dir.path(), rsa_leaf).ok());
  std::string text = CertText(dir.File("rsa-under-ec.crt"));
  EXPECT_NE(text.find("rsaEncryption"), std::string::npos);
  EXPECT_NE(text.find("Signature Algorithm: ecdsa-with-SHA256"), std::string::npos);
  EXPECT_EQ(Verify(dir.File("ec/ca.crt"), dir.File("rsa-under-ec.crt"), "sslclient").exit_status,
            0);

  ASSERT_TRUE(Issue(dir.File("rsa"), dir.path(), Request("ec-under-rsa")).ok());
  text = CertText(dir.File("ec-under-rsa.crt"));
  EXPECT_NE(text.find("id-ecPublicKey"), std::string::npos);
  EXPECT_NE(text.find("Signature Algorithm: sha256WithRSAEncryption"), std::string::npos);
  EXPECT_EQ(Verify(dir.File("rsa/ca.crt"), dir.File("ec-under-rsa.crt"), "sslclient").exit_status,
            0);
  // And not under the other CA.
  EXPECT_NE(Verify(dir.File("ec/ca.crt"), dir.File("ec-under-rsa.crt"), "sslclient").exit_status,
            0);
}

TEST(PkiIssue, SignsWithACaMadeByOpenssl) {
  TempDir dir("pki-issue");
  // OpenSSL 3 writes a PKCS#8 key and adds critical CA:TRUE, SKI and AKI on req -x509.
  CommandResult made = Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir.File("ca.key"),
                                "-out", dir.File("ca.crt"), "-subj", "/CN=Team CA", "-days", "30"});
  ASSERT_EQ(made.exit_status, 0) << made.err;
  ASSERT_TRUE(Issue(dir.path(), dir.path(), Request("agent-2")).ok());
  // Not -x509_strict: that rejects this CA itself, which has no keyUsage extension.
  CommandResult verify = Openssl(
      {"verify", "-purpose", "sslclient", "-CAfile", dir.File("ca.crt"), dir.File("agent-2.crt")});
  EXPECT_EQ(verify.exit_status, 0) << verify.out << verify.err;
  EXPECT_NE(CertText(dir.File("agent-2.crt")).find("Issuer: CN = Team CA"), std::string::npos);
}

TEST(PkiIssue, ReissuingReplacesTheKey) {
  TempDir dir("pki-issue");
  ASSERT_TRUE(Init(dir.path()).ok());
  ASSERT_TRUE(Issue(dir.path(), dir.path(), Request("agent")).ok());
  const std::string first = TempDir::ReadFile(dir.File("agent.key"));
  ASSERT_TRUE(Issue(dir.path(), dir.path(), Request("agent")).ok());
  EXPECT_NE(TempDir::ReadFile(dir.File("agent.key")), first);
  EXPECT_EQ(Verify(dir.File("ca.crt"), dir.File("agent.crt"), "sslclient").exit_status, 0);
}

TEST(PkiIssue, NameOverridesTheFileStem) {
  TempDir dir("pki-issue");
  ASSERT_TRUE(Init(dir.path()).ok());
  IssueOptions options;
  options.ca_dir = dir.path();
  options.out_dir = dir.path();
  options.file_stem = "team-agent";
  options.request = Request("Team Agent / CI");  // not usable as a file name by itself
  Result<std::vector<std::string>> written = IssueCert(options);
  ASSERT_TRUE(written.ok()) << written.error();
  EXPECT_TRUE(Exists(dir.File("team-agent.crt")));
  EXPECT_NE(CertText(dir.File("team-agent.crt")).find("CN = Team Agent / CI"), std::string::npos);

  options.file_stem.clear();
  Result<std::vector<std::string>> refused = IssueCert(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("file name"), std::string::npos) << refused.error();
}

TEST(PkiIssue, FailsClearlyWithoutACa) {
  TempDir dir("pki-issue");
  Result<std::vector<std::string>> r = Issue(dir.File("nope"), dir.path(), Request("agent"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("nope/ca.crt"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("No such file or directory"), std::string::npos) << r.error();
  EXPECT_FALSE(Exists(dir.File("agent.crt")));
}

TEST(PkiIssue, RefusesAKeyThatIsNotTheCas) {
  TempDir dir("pki-issue");
  ASSERT_TRUE(Init(dir.File("a")).ok());
  ASSERT_TRUE(Init(dir.File("b")).ok());
  dir.Write("a/ca.key", TempDir::ReadFile(dir.File("b/ca.key")));
  Result<std::vector<std::string>> r = Issue(dir.File("a"), dir.path(), Request("agent"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("does not belong"), std::string::npos) << r.error();
}

TEST(PkiIssue, RefusesALeafAsCa) {
  TempDir dir("pki-issue");
  ASSERT_TRUE(Init(dir.File("pki")).ok());
  dir.Write("fake/ca.crt", TempDir::ReadFile(dir.File("pki/client.crt")));
  dir.Write("fake/ca.key", TempDir::ReadFile(dir.File("pki/client.key")));
  Result<std::vector<std::string>> r = Issue(dir.File("fake"), dir.path(), Request("agent"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("not a CA"), std::string::npos) << r.error();
}

TEST(PkiIssue, RefusesAnExpiredCa) {
  TempDir dir("pki-issue");
  CertRequest ca_request = Request("Old CA");
  ca_request.profile = CertProfile::kCa;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  ca_request.not_before = now - 20 * 86400;
  ca_request.not_after = now - 10 * 86400;
  Result<Credential> ca = CreateCertificate(ca_request, nullptr);
  ASSERT_TRUE(ca.ok()) << ca.error();
  dir.Write("ca.crt", ca->cert_pem);
  dir.Write("ca.key", ca->key_pem);
  Result<std::vector<std::string>> r = Issue(dir.path(), dir.path(), Request("agent"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), dir.File("ca.crt") + " has expired; create a new CA with pki init --force");
}

TEST(PkiIssue, RefusesGarbageCaFiles) {
  TempDir dir("pki-issue");
  dir.Write("ca/ca.crt", "not a certificate\n");
  dir.Write("ca/ca.key", "not a key\n");
  Result<std::vector<std::string>> r = Issue(dir.File("ca"), dir.path(), Request("agent"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("ca.crt"), std::string::npos) << r.error();
}

TEST(PkiIssue, NeverOverwritesTheCaItself) {
  TempDir dir("pki-issue");
  ASSERT_TRUE(Init(dir.path()).ok());
  const std::string ca_key = TempDir::ReadFile(dir.File("ca.key"));
  Result<std::vector<std::string>> r = Issue(dir.path(), dir.path() + "/.", Request("ca"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("would replace the CA"), std::string::npos) << r.error();
  EXPECT_EQ(TempDir::ReadFile(dir.File("ca.key")), ca_key);
}

TEST(PkiIssue, ValidationErrorsNameTheField) {
  TempDir dir("pki-issue");
  ASSERT_TRUE(Init(dir.path()).ok());
  CertRequest request = Request("agent");
  request.ip_addresses = {"10.0.0.300"};
  Result<std::vector<std::string>> r = Issue(dir.path(), dir.path(), request);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "IP address \"10.0.0.300\" is neither IPv4 nor IPv6");
  EXPECT_FALSE(Exists(dir.File("agent.crt")));
}

TEST(PkiCreate, ExplicitDatesMakeExpiredCertificates) {
  TempDir dir("pki-create");
  CertRequest ca_request = Request("Test CA");
  ca_request.profile = CertProfile::kCa;
  Result<Credential> ca = CreateCertificate(ca_request, nullptr);
  ASSERT_TRUE(ca.ok()) << ca.error();
  CertRequest request = Request("expired");
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  request.not_before = now - 10 * 86400;
  request.not_after = now - 86400;
  Result<Credential> expired = CreateCertificate(request, &ca.value());
  ASSERT_TRUE(expired.ok()) << expired.error();
  const std::string ca_path = dir.Write("ca.crt", ca->cert_pem);
  const std::string cert_path = dir.Write("expired.crt", expired->cert_pem);
  EXPECT_TRUE(ExpiresWithin(cert_path, 0));
  CommandResult verify = Verify(ca_path, cert_path, "sslclient");
  EXPECT_NE(verify.exit_status, 0);
  EXPECT_NE(verify.err.find("certificate has expired"), std::string::npos) << verify.err;
}

TEST(PkiCreate, DatesFrom2050UseGeneralizedTime) {
  CertRequest request = Request("far-future");
  request.profile = CertProfile::kCa;
  request.not_before = 2524608000;  // 2050-01-01T00:00:00Z
  request.not_after = 2524694400;
  Result<Credential> cert = CreateCertificate(request, nullptr);
  ASSERT_TRUE(cert.ok()) << cert.error();
  TempDir dir("pki-create");
  const std::string text = CertText(dir.Write("far.crt", cert->cert_pem));
  EXPECT_NE(text.find("Not Before: Jan  1 00:00:00 2050 GMT"), std::string::npos) << text;
  EXPECT_NE(text.find("Not After : Jan  2 00:00:00 2050 GMT"), std::string::npos) << text;
}

TEST(PkiCreate, SelfSignedLeafIsNotTrustedByTheCa) {
  TempDir dir("pki-create");
  ASSERT_TRUE(Init(dir.path()).ok());
  Result<Credential> lone = CreateCertificate(Request("lone"), nullptr);
  ASSERT_TRUE(lone.ok()) << lone.error();
  const std::string path = dir.Write("lone.crt", lone->cert_pem);
  EXPECT_NE(Verify(dir.File("ca.crt"), path, "sslclient").exit_status, 0);
}

TEST(PkiValidate, AcceptsSaneRequests) {
  CertRequest request = Request("agent-1");
  request.dns_names = {"localhost", "a.b-c.example", "*.example.org", "x1"};
  request.uris = {"spiffe://example.org/ns/ci/sa/agent-1", "spiffe://td", "urn:uuid:1234",
                  "https://example.org/a?b=c#d"};
  request.ip_addresses = {"127.0.0.1", "::1", "2001:db8::1"};
  request.emails = {"ops@example.org"};
  request.days = kMaxDays;
  EXPECT_TRUE(ValidateRequest(request).ok()) << ValidateRequest(request).message();
  EXPECT_TRUE(ValidateRequest(Request("Ünïcode name ✓")).ok());
  EXPECT_TRUE(ValidateRequest(Request(std::string(63, 'a'))).ok());
}

TEST(PkiValidate, RejectsBadInputWithAReason) {
  struct Case {
    const char* what;
    CertRequest request;
    const char* error_part;
  };
  auto with = [](auto mutate) {
    CertRequest request = Request("agent");
    mutate(request);
    return request;
  };
  const Case cases[] = {
      {"empty cn", Request(""), "common name is required"},
      {"newline in cn", Request("a\nb"), "control characters"},
      {"nul in cn", Request(std::string("a\0b", 3)), "control characters"},
      {"escape in cn", Request("a\x1b[0m"), "control characters"},
      {"c1 control in cn", Request("a\xc2\x85"), "control characters"},
      {"bad utf8 in cn", Request("a\xff"), "UTF-8"},
      {"overlong utf8", Request("\xc0\xaf"), "UTF-8"},
      {"long cn", Request(std::string(64, 'a')), "longer than 63"},
      {"spaces around cn", Request(" agent"), "space"},
      {"days zero", with([](CertRequest& r) { r.days = 0; }), "between 1 and 3650"},
      {"days too many", with([](CertRequest& r) { r.days = 3651; }), "between 1 and 3650"},
      {"half dates", with([](CertRequest& r) { r.not_before = 1; }), "together"},
      {"dates reversed", with([](CertRequest& r) {
         r.not_before = 10;
         r.not_after = 5;
       }),
       "earlier"},
      {"dns hyphen", with([](CertRequest& r) { r.dns_names = {"-a.example"}; }), "DNS name"},
      {"dns empty label", with([](CertRequest& r) { r.dns_names = {"a..b"}; }), "DNS name"},
      {"dns trailing dot", with([](CertRequest& r) { r.dns_names = {"a.b."}; }), "DNS name"},
      {"dns space", with([](CertRequest& r) { r.dns_names = {"a b"}; }), "DNS name"},
      {"dns bare wildcard", with([](CertRequest& r) { r.dns_names = {"*.com"}; }), "DNS name"},
      {"dns inner wildcard", with([](CertRequest& r) { r.dns_names = {"a.*.com"}; }), "DNS name"},
      {"dns long label",
       with([](CertRequest& r) { r.dns_names = {std::string(64, 'a') + ".com"}; }), "DNS name"},
      {"uri no scheme", with([](CertRequest& r) { r.uris = {"agent-1"}; }), "needs a scheme"},
      {"uri space", with([](CertRequest& r) { r.uris = {"https://a b"}; }), "printable ASCII"},
      {"uri empty", with([](CertRequest& r) { r.uris = {""}; }), "must not be empty"},
      {"spiffe upper", with([](CertRequest& r) { r.uris = {"spiffe://Example.org/x"}; }),
       "trust domain"},
      {"spiffe dotdot", with([](CertRequest& r) { r.uris = {"spiffe://td/a/../b"}; }),
       "path segments"},
      {"spiffe trailing slash", with([](CertRequest& r) { r.uris = {"spiffe://td/a/"}; }),
       "path segments"},
      {"spiffe query", with([](CertRequest& r) { r.uris = {"spiffe://td/a?b"}; }), "path segments"},
      {"spiffe no slashes", with([](CertRequest& r) { r.uris = {"spiffe:td/a"}; }),
       "start with spiffe://"},
      {"ip v4", with([](CertRequest& r) { r.ip_addresses = {"1.2.3"}; }), "neither IPv4"},
      {"ip v6", with([](CertRequest& r) { r.ip_addresses = {"::g"}; }), "neither IPv4"},
      {"ip with port", with([](CertRequest& r) { r.ip_addresses = {"127.0.0.1:80"}; }),
       "neither IPv4"},
      {"email no at", with([](CertRequest& r) { r.emails = {"ops.example.org"}; }), "local@domain"},
      {"email two ats", with([](CertRequest& r) { r.emails = {"a@b@c.org"}; }), "local@domain"},
      {"email bad domain", with([](CertRequest& r) { r.emails = {"ops@-x"}; }), "domain"},
  };
  for (const Case& c : cases) {
    Status s = ValidateRequest(c.request);
    ASSERT_FALSE(s.ok()) << c.what;
    EXPECT_NE(s.message().find(c.error_part), std::string::npos) << c.what << ": " << s.message();
    // Control characters are never echoed raw into the terminal.
    for (char ch : s.message()) {
      EXPECT_FALSE(static_cast<unsigned char>(ch) < 0x20) << c.what << ": " << s.message();
    }
  }
}

}  // namespace
}  // namespace portcullis::pki
