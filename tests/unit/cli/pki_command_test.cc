// `portcullis pki` as a user types it: exit codes (0 ok, 1 error, 2 usage), messages on the right
// stream, and files that the openssl CLI accepts.
#include "gateway/cli/pki_command.h"

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace portcullis::cli {
namespace {

using ::portcullis::testing::CommandResult;
using ::portcullis::testing::RunCommand;
using ::portcullis::testing::TempDir;

struct PkiRun {
  int code;
  std::string out;
  std::string err;
};

PkiRun Pki(const std::vector<std::string>& args) {
  std::ostringstream out;
  std::ostringstream err;
  const int code = RunPkiCommand(args, out, err);
  return {code, out.str(), err.str()};
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

int VerifyClient(const std::string& ca, const std::string& cert) {
  Result<CommandResult> r = RunCommand(
      {"openssl", "verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", ca, cert}, 20000);
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? r->exit_status : -1;
}

std::string CertText(const std::string& path) {
  Result<CommandResult> r = RunCommand({"openssl", "x509", "-in", path, "-noout", "-text"}, 20000);
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? r->out : "";
}

TEST(PkiCommand, InitWritesAPkiAndListsTheFiles) {
  TempDir dir("pki-cli");
  const PkiRun run = Pki({"init", "--out", dir.path()});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_TRUE(Contains(run.out, "ECDSA P-256")) << run.out;
  for (const char* name :
       {"ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key"}) {
    EXPECT_TRUE(Contains(run.out, dir.File(name))) << run.out;
  }
  EXPECT_EQ(VerifyClient(dir.File("ca.crt"), dir.File("client.crt")), 0);
}

TEST(PkiCommand, InitRsa) {
  TempDir dir("pki-cli");
  const PkiRun run = Pki({"init", "--rsa", "--out=" + dir.path()});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(Contains(CertText(dir.File("server.crt")), "rsaEncryption"));
}

TEST(PkiCommand, InitTwiceNeedsForce) {
  TempDir dir("pki-cli");
  ASSERT_EQ(Pki({"init", "--out", dir.path()}).code, 0);
  const PkiRun again = Pki({"init", "--out", dir.path()});
  EXPECT_EQ(again.code, 1);
  EXPECT_TRUE(Contains(again.err, "portcullis pki: ")) << again.err;
  EXPECT_TRUE(Contains(again.err, "already exists")) << again.err;
  EXPECT_FALSE(Contains(again.err, "usage:")) << again.err;
  EXPECT_EQ(Pki({"init", "--out", dir.path(), "--force"}).code, 0);
}

TEST(PkiCommand, UsageErrorsExitTwoWithUsage) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate"},
      {"init"},
      {"init", "--out"},
      {"init", "--out", ""},
      {"init", "--out", "a", "--out", "b"},
      {"init", "--out", "a", "--bogus"},
      {"init", "--out", "a", "stray"},
      {"init", "--rsa=yes", "--out", "a"},
      {"issue", "--cn", "x", "--out", "o"},
      {"issue", "--ca", "c", "--out", "o"},
      {"issue", "--ca", "c", "--cn", "x"},
      {"issue", "--ca", "c", "--cn", "--out", "o"},
      {"issue", "--ca", "c", "--cn", "x", "--cn", "y", "--out", "o"},
      {"issue", "--ca", "c", "--cn", "x", "--out", "o", "--name", ""},
      {"issue", "--ca", "c", "--cn", "x", "--out", "o", "--force"},
  };
  for (const auto& args : cases) {
    const PkiRun run = Pki(args);
    std::string joined;
    for (const auto& a : args) {
      joined += a + " ";
    }
    EXPECT_EQ(run.code, 2) << joined;
    EXPECT_TRUE(Contains(run.err, "portcullis pki: ")) << joined << run.err;
    EXPECT_TRUE(Contains(run.err, "usage: portcullis pki init")) << joined << run.err;
    EXPECT_EQ(run.out, "") << joined;
  }
}

TEST(PkiCommand, MissingOutSaysSo) {
  const PkiRun run = Pki({"init"});
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(Contains(run.err, "portcullis pki: --out is required\n")) << run.err;
}

TEST(PkiCommand, BadDaysIsAUsageError) {
  TempDir dir("pki-cli");
  ASSERT_EQ(Pki({"init", "--out", dir.path()}).code, 0);
  for (const char* days : {"0", "3651", "-1", "abc", "10x", "", "99999999999999999999"}) {
    const PkiRun run =
        Pki({"issue", "--ca", dir.path(), "--cn", "a", "--out", dir.path(), "--days", days});
    EXPECT_EQ(run.code, 2) << days;
    EXPECT_TRUE(Contains(run.err, "--days must be a whole number from 1 to 3650")) << run.err;
  }
  EXPECT_EQ(
      Pki({"issue", "--ca", dir.path(), "--cn", "a", "--out", dir.path(), "--days", "3650"}).code,
      0);
}

TEST(PkiCommand, HelpGoesToStdout) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"-h"}, {"help"}, {"init", "--help"}, {"issue", "-h"}}) {
    const PkiRun run = Pki(args);
    EXPECT_EQ(run.code, 0);
    EXPECT_TRUE(Contains(run.out, "usage: portcullis pki init")) << run.out;
    EXPECT_EQ(run.err, "");
  }
}

TEST(PkiCommand, IssueWithRepeatedNames) {
  TempDir dir("pki-cli");
  ASSERT_EQ(Pki({"init", "--out", dir.File("ca")}).code, 0);
  const PkiRun run = Pki({"issue",
                          "--ca",
                          dir.File("ca"),
                          "--cn",
                          "agent-1",
                          "--uri",
                          "spiffe://example.org/ns/ci/sa/agent-1",
                          "--uri=urn:example:agent-1",
                          "--dns",
                          "a.test",
                          "--dns",
                          "b.test",
                          "--ip",
                          "10.1.2.3",
                          "--email",
                          "ops@example.org",
                          "--days",
                          "30",
                          "--out",
                          dir.File("issued")});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(Contains(run.out, "client certificate")) << run.out;
  EXPECT_TRUE(Contains(run.out, dir.File("issued/agent-1.crt"))) << run.out;
  const std::string text = CertText(dir.File("issued/agent-1.crt"));
  for (const char* expected :
       {"URI:spiffe://example.org/ns/ci/sa/agent-1", "URI:urn:example:agent-1", "DNS:a.test",
        "DNS:b.test", "IP Address:10.1.2.3", "email:ops@example.org",
        "TLS Web Client Authentication"}) {
    EXPECT_TRUE(Contains(text, expected)) << expected << "\n" << text;
  }
  EXPECT_EQ(VerifyClient(dir.File("ca/ca.crt"), dir.File("issued/agent-1.crt")), 0);
}

TEST(PkiCommand, IssueServerWithName) {
  TempDir dir("pki-cli");
  ASSERT_EQ(Pki({"init", "--out", dir.path()}).code, 0);
  const PkiRun run =
      Pki({"issue", "--ca", dir.path(), "--cn", "Billing API", "--dns", "billing.internal",
           "--server", "--rsa", "--name", "billing", "--out", dir.path()});
  ASSERT_EQ(run.code, 0) << run.err;
  const std::string text = CertText(dir.File("billing.crt"));
  EXPECT_TRUE(Contains(text, "TLS Web Server Authentication")) << text;
  EXPECT_TRUE(Contains(text, "rsaEncryption"));
  EXPECT_TRUE(Contains(text, "CN = Billing API"));
}

TEST(PkiCommand, IssueErrorsExitOne) {
  TempDir dir("pki-cli");
  // No CA yet.
  PkiRun run = Pki({"issue", "--ca", dir.File("missing"), "--cn", "a", "--out", dir.path()});
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(Contains(run.err, "portcullis pki: cannot read " + dir.File("missing/ca.crt")))
      << run.err;
  EXPECT_TRUE(Contains(run.err, "pki init")) << run.err;
  EXPECT_FALSE(Contains(run.err, "usage:"));

  ASSERT_EQ(Pki({"init", "--out", dir.path()}).code, 0);
  const std::vector<std::vector<std::string>> bad_values = {
      {"--cn", ""},
      {"--cn", "tab\there"},
      {"--cn", "a", "--ip", "300.1.1.1"},
      {"--cn", "a", "--uri", "not a uri"},
      {"--cn", "a", "--dns", "bad_name.example"},
      {"--cn", "a", "--email", "nobody"},
      {"--cn", "../escape"},
  };
  for (const auto& extra : bad_values) {
    std::vector<std::string> args = {"issue", "--ca", dir.path(), "--out", dir.path()};
    args.insert(args.end(), extra.begin(), extra.end());
    run = Pki(args);
    EXPECT_EQ(run.code, 1) << extra.back() << run.err;
    EXPECT_TRUE(Contains(run.err, "portcullis pki: ")) << run.err;
    EXPECT_FALSE(Contains(run.err, "usage:")) << run.err;
  }
}

}  // namespace
}  // namespace portcullis::cli
