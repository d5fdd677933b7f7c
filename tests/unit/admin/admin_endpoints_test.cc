// AdminEndpoints: what /healthz, /readyz, /status and /metrics answer from the control-plane
// state (no sockets: the handler is called directly).
#include "gateway/admin/admin_endpoints.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_pki.h"

namespace portcullis::admin {
namespace {

using testing::SharedPki;

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

}  // namespace
}  // namespace portcullis::admin
