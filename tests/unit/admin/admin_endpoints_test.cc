// AdminEndpoints: what /healthz, /readyz, /status and /metrics answer from the control-plane
// state (no sockets: the handler is called directly).
#include "gateway/admin/admin_endpoints.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/test_pki.h"

namespace portcullis::admin {
namespace {

using testing::SharedPki;

// The value of the first sample line of `text` that starts with `prefix`.
std::optional<int64_t> ValueOfLineStartingWith(const std::string& text, const std::string& prefix) {
  size_t at = text.find("\n" + prefix);
  if (at == std::string::npos) {
    return std::nullopt;
  }
  size_t end = text.find('\n', at + 1);
  size_t space = text.rfind(' ', end);
  return std::stoll(text.substr(space + 1, end - space - 1));
}

class AdminEndpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(SharedPki().ok()) << SharedPki().error();
    auto config = std::make_shared<Config>();
    config->file = "/etc/portcullis/gateway.json";
    config->policy = "/etc/portcullis/policy.json";
    config->upstreams["files"].name = "files";
    config->tls.cert = SharedPki().server().cert;
    config->tls.client_ca = {SharedPki().ca().cert, SharedPki().other_ca().cert};
    config_ = config;
    anomalies_ = std::make_shared<audit::AnomalyMonitor>(audit::AnomalyThresholds(), nullptr);
    endpoints_ = std::make_unique<AdminEndpoints>(
        AdminEndpoints::Sources{config_, &reactors_, anomalies_, nullptr});
    endpoints_->LoadCertificates(config_->tls);
    endpoints_->PolicyLoaded(std::string(64, 'a'), 3);
  }

  // Reactors that are built but never started: enough for their metrics.
  void AddReactors(int n) {
    reactor::Snapshot snapshot;
    snapshot.config = config_;
    for (int i = 0; i < n; ++i) {
      reactors_.push_back(std::make_unique<reactor::Reactor>(i, std::vector<int>{}, snapshot, 10));
    }
  }

  AdminResponse Get(const std::string& path) { return endpoints_->Handle({"GET", path, ""}); }

  std::shared_ptr<const Config> config_;
  std::shared_ptr<audit::AnomalyMonitor> anomalies_;
  std::vector<std::unique_ptr<reactor::Reactor>> reactors_;
  std::unique_ptr<AdminEndpoints> endpoints_;
};

TEST_F(AdminEndpointsTest, HealthzIsAlwaysOk) {
  EXPECT_EQ(Get("/healthz").status, 200);
  EXPECT_EQ(Get("/healthz").body, "ok\n");
  endpoints_->BeginDrain();
  EXPECT_EQ(Get("/healthz").status, 200);
}

TEST_F(AdminEndpointsTest, ReadyOnlyWhileServingAndNotDraining) {
  EXPECT_EQ(Get("/readyz").status, 503);  // no reactor listens yet
  AddReactors(2);
  EXPECT_EQ(Get("/readyz").status, 200);
  endpoints_->BeginDrain();
  AdminResponse draining = Get("/readyz");
  EXPECT_EQ(draining.status, 503);
  EXPECT_EQ(draining.body, "draining\n");
}

TEST_F(AdminEndpointsTest, UnknownPathsAre404) { EXPECT_EQ(Get("/admin").status, 404); }

TEST_F(AdminEndpointsTest, StatusNamesCertificatesPolicyAndReloads) {
  AddReactors(2);
  endpoints_->ReloadFailed("SIGHUP", "policy.json:3:4: bad");
  AdminResponse response = Get("/status");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "application/json");
  rapidjson::Document doc;
  doc.Parse(response.body.c_str());
  ASSERT_FALSE(doc.HasParseError()) << response.body;
  EXPECT_STREQ(doc["version"].GetString(), PORTCULLIS_VERSION);
  EXPECT_TRUE(doc["ready"].GetBool());
  EXPECT_GE(doc["uptime_s"].GetDouble(), 0.0);
  EXPECT_EQ(doc["reactors"].GetUint(), 2u);
  EXPECT_EQ(doc["connections"]["per_reactor"].Size(), 2u);
  const auto& server = doc["tls"]["server_certificate"];
  ASSERT_TRUE(server.IsObject()) << response.body;
  EXPECT_NE(std::string(server["subject"].GetString()).find("CN=localhost"), std::string::npos);
  EXPECT_GT(server["seconds_left"].GetInt64(), 0);
  EXPECT_EQ(std::string(server["not_after"].GetString()).size(), 20u);  // RFC 3339, seconds
  ASSERT_EQ(doc["tls"]["client_cas"].Size(), 2u);
  EXPECT_NE(std::string(doc["tls"]["client_cas"][1]["subject"].GetString()).find("Other Test CA"),
            std::string::npos);
  EXPECT_EQ(doc["policy"]["sha256"].GetString(), std::string(64, 'a'));
  EXPECT_EQ(doc["policy"]["rules"].GetUint(), 3u);
  EXPECT_EQ(doc["config"]["generation"].GetUint(), 1u);
  EXPECT_EQ(doc["reloads"]["failed"].GetUint(), 1u);
  EXPECT_STREQ(doc["reloads"]["last"]["result"].GetString(), "failed");
  EXPECT_STREQ(doc["reloads"]["last"]["trigger"].GetString(), "SIGHUP");
  EXPECT_STREQ(doc["reloads"]["last"]["error"].GetString(), "policy.json:3:4: bad");
  EXPECT_FALSE(doc["audit"]["enabled"].GetBool());

  endpoints_->ReloadSucceeded("policy file changed", std::string(64, 'b'), 4);
  doc.Parse(Get("/status").body.c_str());
  EXPECT_EQ(doc["config"]["generation"].GetUint(), 2u);
  EXPECT_EQ(doc["policy"]["rules"].GetUint(), 4u);
  EXPECT_STREQ(doc["reloads"]["last"]["result"].GetString(), "ok");
  EXPECT_FALSE(doc["reloads"]["last"].HasMember("error"));
}

TEST_F(AdminEndpointsTest, MetricsCarryTheGatewayFamilies) {
  AddReactors(1);
  endpoints_->ReloadFailed("SIGHUP", "bad");
  AdminResponse response = Get("/metrics");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = response.body;
  auto has = [&](const std::string& line) { return text.find(line) != std::string::npos; };
  EXPECT_TRUE(has("portcullis_build_info{version=\"" PORTCULLIS_VERSION "\"} 1\n")) << text;
  EXPECT_TRUE(has("portcullis_reactors 1\n"));
  EXPECT_TRUE(has("portcullis_ready 1\n"));
  EXPECT_TRUE(has("portcullis_config_generation 1\n"));
  EXPECT_TRUE(has("portcullis_config_reloads_total{result=\"failed\"} 1\n"));
  EXPECT_TRUE(has("portcullis_config_last_reload_successful 0\n"));
  EXPECT_TRUE(has("portcullis_certificate_expiry_seconds{role=\"server\",file=\"" +
                  SharedPki().server().cert));
  EXPECT_TRUE(has("portcullis_certificate_expiry_seconds{role=\"client_ca\",file=\"" +
                  SharedPki().other_ca().cert));
  EXPECT_TRUE(has("portcullis_anomalies_total{detector=\"tool_drift\"} 0\n"));
  EXPECT_TRUE(has("portcullis_active_connections{reactor=\"0\"} 0\n"));
  EXPECT_FALSE(has("portcullis_audit_records_total")) << "audit is off";
}

TEST_F(AdminEndpointsTest, UpstreamCasAndCrlsHaveExpiryGauges) {
  auto config = std::make_shared<Config>(*config_);
  config->tls.crl = {SharedPki().crl()};
  UpstreamConfig& billing = config->upstreams["billing"];
  billing.name = "billing";
  billing.scheme = "https";
  billing.ca = SharedPki().other_ca().cert;
  UpstreamConfig& plain = config->upstreams["plain"];  // https with the system trust store
  plain.name = "plain";
  plain.scheme = "https";
  AdminEndpoints endpoints(AdminEndpoints::Sources{config, &reactors_, anomalies_, nullptr});
  endpoints.LoadCertificates(config->tls);

  std::string text = endpoints.RenderMetrics();
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::string other_ca = SharedPki().other_ca().cert;
  // The serial is the CA's random one: the samples are found by the labels before it.
  std::optional<int64_t> ca_left = ValueOfLineStartingWith(
      text,
      R"(portcullis_certificate_expiry_seconds{role="upstream_ca",upstream="billing",file=")" +
          other_ca + R"(",subject="CN=Other Test CA,O=Other Org",serial=")");
  ASSERT_TRUE(ca_left.has_value()) << text;
  std::optional<int64_t> not_after = ValueOfLineStartingWith(
      text, R"(portcullis_certificate_not_after_timestamp_seconds{role="upstream_ca",)"
            R"(upstream="billing",)");
  ASSERT_TRUE(not_after.has_value()) << text;
  EXPECT_GT(*ca_left, 0);
  EXPECT_NEAR(static_cast<double>(*not_after - now), static_cast<double>(*ca_left), 5.0);
  EXPECT_EQ(text.find(R"(upstream="plain")"), std::string::npos) << text;

  std::optional<int64_t> crl_left = ValueOfLineStartingWith(
      text, R"(portcullis_crl_next_update_seconds{file=")" + SharedPki().crl() +
                R"(",issuer="CN=Portcullis Test CA,O=Portcullis Test"} )");
  ASSERT_TRUE(crl_left.has_value()) << text;
  EXPECT_GT(*crl_left, 0);
  EXPECT_LE(*crl_left, 31LL * 86400);  // the test CA's default_crl_days = 30

  rapidjson::Document doc;
  doc.Parse(endpoints.RenderStatus().c_str());
  ASSERT_FALSE(doc.HasParseError());
  ASSERT_EQ(doc["tls"]["upstream_cas"].Size(), 1u);
  EXPECT_STREQ(doc["tls"]["upstream_cas"][0]["upstream"].GetString(), "billing");
  EXPECT_STREQ(doc["tls"]["upstream_cas"][0]["file"].GetString(), other_ca.c_str());
  ASSERT_EQ(doc["tls"]["crls"].Size(), 1u);
  EXPECT_STREQ(doc["tls"]["crls"][0]["issuer"].GetString(),
               "CN=Portcullis Test CA,O=Portcullis Test");
  EXPECT_GT(doc["tls"]["crls"][0]["seconds_left"].GetInt64(), 0);
}

TEST_F(AdminEndpointsTest, TheCrlFamilyIsThereWithoutCrls) {
  // The alert rules name it; an absent family would look like a gateway that does not export it.
  std::string text = Get("/metrics").body;
  EXPECT_NE(text.find("# TYPE portcullis_crl_next_update_seconds gauge\n"), std::string::npos);
  EXPECT_EQ(text.find("portcullis_crl_next_update_seconds{"), std::string::npos);
}

}  // namespace
}  // namespace portcullis::admin
