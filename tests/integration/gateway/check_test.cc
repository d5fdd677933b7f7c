// `portcullis check --config FILE`: exit 0 for a good configuration; exit 1 with a
// file:line:col location for a bad one (an unknown key, a certificate file that does not exist).
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/gateway/gateway_fixture.h"

namespace portcullis::gateway_test {
namespace {

using testing::CommandResult;
using testing::RunCommand;

class GatewayCheck : public GatewayTestBase {
 protected:
  // Writes `text` as gateway.json and runs `portcullis check` on it.
  CommandResult Check(const std::string& text) {
    dir_.Write("policy.json", GatewayConfig::kAllowAllPolicy);
    path_ = dir_.Write("gateway.json", text);
    auto result = RunCommand({PortcullisPath(), "check", "--config", path_}, kWaitMs);
    EXPECT_TRUE(result.ok()) << result.error();
    return result.ok() ? std::move(result).value() : CommandResult{-1, "", ""};
  }

  // 1-based line of the first occurrence of `needle` in `text`.
  static int LineOf(const std::string& text, const std::string& needle) {
    size_t pos = text.find(needle);
    EXPECT_NE(pos, std::string::npos) << needle;
    int line = 1;
    for (size_t i = 0; i < pos && i < text.size(); ++i) {
      line += text[i] == '\n' ? 1 : 0;
    }
    return line;
  }

  std::string GoodConfig() {
    GatewayConfig config;
    config.AddUpstream("echo", "http://127.0.0.1:9/mcp");
    return config.ToJson();
  }

  TempDir dir_{"gwcheck"};
  std::string path_;
};

TEST_F(GatewayCheck, GoodConfigExitsZero) {
  CommandResult result = Check(GoodConfig());
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("OK"), std::string::npos) << result.out;
}

TEST_F(GatewayCheck, UnknownKeyExitsOneWithFileLineCol) {
  GatewayConfig config;
  config.AddUpstream("echo", "http://127.0.0.1:9/mcp");
  config.limits = {R"("max_header_byte": 4096)"};
  std::string text = config.ToJson();
  CommandResult result = Check(text);
  EXPECT_EQ(result.exit_status, 1) << result.err;
  std::string where = path_ + ":" + std::to_string(LineOf(text, "\"max_header_byte\"")) + ":";
  EXPECT_NE(result.err.find(where), std::string::npos)
      << "expected a message starting " << where << "<col>: ...\nstderr:\n"
      << result.err;
  EXPECT_NE(result.err.find("max_header_byte"), std::string::npos) << result.err;
}

TEST_F(GatewayCheck, MissingCertificateFileExitsOneWithFileLineCol) {
  std::string text = GoodConfig();
  const std::string real = pki().server().cert;
  const std::string missing = dir_.path() + "/no-such-dir/server.crt";
  size_t pos = text.find(real);
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, real.size(), missing);
  CommandResult result = Check(text);
  EXPECT_EQ(result.exit_status, 1) << result.err;
  EXPECT_NE(result.err.find(missing), std::string::npos) << result.err;
  // Located like every other configuration error: the "cert" line of gateway.json.
  std::string where = path_ + ":" + std::to_string(LineOf(text, missing)) + ":";
  EXPECT_NE(result.err.find(where), std::string::npos)
      << "expected a message starting " << where << "<col>: ...\nstderr:\n"
      << result.err;
}

TEST_F(GatewayCheck, SyntaxErrorExitsOneWithFileLineCol) {
  std::string text = GoodConfig();
  size_t pos = text.find("\"reactors\": 1,");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, std::string("\"reactors\": 1,").size(), "\"reactors\": ,");
  CommandResult result = Check(text);
  EXPECT_EQ(result.exit_status, 1) << result.err;
  std::string where = path_ + ":" + std::to_string(LineOf(text, "\"reactors\": ,")) + ":";
  EXPECT_NE(result.err.find(where), std::string::npos) << result.err;
}

TEST_F(GatewayCheck, RunRefusesABadConfigWithExitOne) {
  GatewayConfig config;
  config.limits = {R"("max_header_byte": 4096)"};
  dir_.Write("policy.json", config.PolicyJson());
  path_ = dir_.Write("gateway.json", config.ToJson());
  auto result = RunCommand({PortcullisPath(), "run", "--config", path_}, kWaitMs);
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result->exit_status, 1) << result->err;
  EXPECT_NE(result->err.find("not started"), std::string::npos) << result->err;
}

}  // namespace
}  // namespace portcullis::gateway_test
