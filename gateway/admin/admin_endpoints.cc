#include "gateway/admin/admin_endpoints.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>
#include <uv.h>
#include <algorithm>

#include <ctime>

#include "gateway/admin/metrics_render.h"
#include "gateway/admin/prometheus_text.h"
#include "gateway/audit/timestamp.h"
#include "gateway/upstream/stdio_process.h"

namespace portcullis::admin {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

int64_t NowUnix() { return static_cast<int64_t>(std::time(nullptr)); }

std::string Rfc3339(int64_t unix_s) {
  std::string out;
  audit::AppendTimestampSeconds(unix_s, &out);
  return out;
}

void Key(JsonWriter& w, const char* key) { w.Key(key); }

void String(JsonWriter& w, const std::string& value) {
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void WriteCertificate(JsonWriter& w, const CertificateInfo& c, int64_t now,
                      const std::string& upstream = "") {
  w.StartObject();
  if (!upstream.empty()) {
    Key(w, "upstream");
    String(w, upstream);
  }
  Key(w, "file");
  String(w, c.file);
  Key(w, "subject");
  String(w, c.subject);
  Key(w, "serial");
  String(w, c.serial_hex);
  Key(w, "not_after");
  String(w, Rfc3339(c.not_after));
  Key(w, "seconds_left");
  w.Int64(c.not_after - now);
  w.EndObject();
}

AdminResponse Text(int status, std::string body) {
  AdminResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

}  // namespace

AdminEndpoints::AdminEndpoints(Sources sources)
    : sources_(std::move(sources)), start_unix_s_(NowUnix()), start_mono_us_(uv_hrtime() / 1000) {}

std::vector<const reactor::ReactorMetrics*> AdminEndpoints::MetricsOfReactors() const {
  std::vector<const reactor::ReactorMetrics*> out;
  if (sources_.reactors != nullptr) {
    for (const auto& r : *sources_.reactors) {
      out.push_back(&r->metrics());
    }
  }
  return out;
}

void AdminEndpoints::LoadCertificates(const TlsConfig& tls) {
  certificates_.clear();
  crls_.clear();
  auto add = [this](const std::string& path, const char* first_role, const char* other_role,
                    const std::string& upstream) {
    Result<std::vector<CertificateInfo>> certs = ReadCertificateFile(path);
    if (!certs.ok()) {
      spdlog::warn("admin: {}; its expiry will not be reported", certs.error());
      return;
    }
    for (size_t i = 0; i < certs->size(); ++i) {
      certificates_.push_back({i == 0 ? first_role : other_role, upstream, std::move((*certs)[i])});
    }
  };
  add(tls.cert, "server", "server_chain", "");
  for (const std::string& ca : tls.client_ca) {
    add(ca, "client_ca", "client_ca", "");
  }
  // An https upstream without "ca" trusts the system store: not the gateway's to watch.
  if (sources_.config) {
    for (const auto& [name, upstream] : sources_.config->upstreams) {
      if (upstream.kind == UpstreamConfig::Kind::kHttp && !upstream.ca.empty()) {
        add(upstream.ca, "upstream_ca", "upstream_ca", name);
      }
    }
  }
  for (const std::string& path : tls.crl) {
    Result<std::vector<CrlInfo>> crls = ReadCrlFile(path);
    if (!crls.ok()) {
      spdlog::warn("admin: {}; its next update will not be reported", crls.error());
      continue;
    }
    for (CrlInfo& crl : *crls) {
      if (!crl.next_update) {
        spdlog::warn("admin: {}: the CRL of {} has no nextUpdate; none will be reported", path,
                     crl.issuer);
      }
      crls_.push_back(std::move(crl));
    }
  }
}

void AdminEndpoints::PolicyLoaded(const std::string& sha256, size_t rules) {
  policy_sha256_ = sha256;
  policy_rules_ = rules;
}

void AdminEndpoints::ReloadSucceeded(const std::string& trigger, const std::string& sha256,
                                     size_t rules) {
  ++reloads_ok_;
  ++generation_;
  PolicyLoaded(sha256, rules);
  last_reload_ = Reload{NowUnix(), trigger, "ok", ""};
}

void AdminEndpoints::TlsReloaded(const std::string& trigger, const TlsConfig& tls) {
  ++reloads_ok_;
  ++generation_;
  LoadCertificates(tls);
  last_reload_ = Reload{NowUnix(), trigger, "ok", ""};
}

void AdminEndpoints::ReloadFailed(const std::string& trigger, const std::string& error) {
  ++reloads_failed_;
  last_reload_ = Reload{NowUnix(), trigger, "failed", error};
}

bool AdminEndpoints::ready() const {
  return !draining_ && sources_.reactors != nullptr && !sources_.reactors->empty();
}

AdminResponse AdminEndpoints::Handle(const AdminRequest& request) {
  if (request.path == "/metrics") {
    AdminResponse response;
    response.content_type = PrometheusText::kContentType;
    response.body = RenderMetrics();
    return response;
  }
  if (request.path == "/healthz") {
    return Text(200, "ok\n");
  }
  if (request.path == "/readyz") {
    if (ready()) {
      return Text(200, "ready\n");
    }
    return Text(503, draining_ ? "draining\n" : "starting\n");
  }
  if (request.path == "/status") {
    AdminResponse response;
    response.content_type = "application/json";
    response.body = RenderStatus();
    return response;
  }
  return Text(404, "not found; try /metrics, /healthz, /readyz or /status\n");
}

std::string AdminEndpoints::RenderMetrics() const {
  PrometheusText out;
  std::vector<const reactor::ReactorMetrics*> reactors = MetricsOfReactors();
  AppendReactorMetrics(reactors, &out);
  int64_t now = NowUnix();

  out.Family("portcullis_build_info", "gauge", "The running version (the value is always 1).");
  out.Sample("portcullis_build_info", {{"version", PORTCULLIS_VERSION}}, uint64_t{1});
  out.Family("portcullis_start_time_seconds", "gauge", "When the process started, Unix time.");
  out.Sample("portcullis_start_time_seconds", {}, start_unix_s_);
  out.Family("portcullis_ready", "gauge", "1 while /readyz answers 200, else 0.");
  out.Sample("portcullis_ready", {}, uint64_t{ready() ? 1u : 0u});
  out.Family("portcullis_reactors", "gauge", "Reactor threads.");
  out.Sample("portcullis_reactors", {}, static_cast<uint64_t>(reactors.size()));

  out.Family("portcullis_config_generation", "gauge",
             "Configuration generation: 1 at start, +1 for each reload that changed something.");
  out.Sample("portcullis_config_generation", {}, generation_);
  out.Family("portcullis_config_reloads_total", "counter",
             "Reloads (SIGHUP or a watched file changing) that changed something or failed, by "
             "result; a failed reload keeps the last good configuration.");
  out.Sample("portcullis_config_reloads_total", {{"result", "ok"}}, reloads_ok_);
  out.Sample("portcullis_config_reloads_total", {{"result", "failed"}}, reloads_failed_);
  out.Family("portcullis_config_last_reload_successful", "gauge",
             "0 when the last reload attempt failed, else 1.");
  bool last_ok = !last_reload_ || last_reload_->result != "failed";
  out.Sample("portcullis_config_last_reload_successful", {}, uint64_t{last_ok ? 1u : 0u});
  out.Family("portcullis_policy_rules", "gauge", "Rules in the policy in force.");
  out.Sample("portcullis_policy_rules", {}, static_cast<uint64_t>(policy_rules_));

  // Upstream CAs carry one more label, the upstream whose "ca" file holds them (a bundle
  // shared by two upstreams shows once for each).
  auto certificate_labels = [](const Certificate& c) {
    Labels labels = {{"role", c.role}};
    if (!c.upstream.empty()) {
      labels.emplace_back("upstream", c.upstream);
    }
    labels.emplace_back("file", c.info.file);
    labels.emplace_back("subject", c.info.subject);
    labels.emplace_back("serial", c.info.serial_hex);
    return labels;
  };
  out.Family("portcullis_certificate_expiry_seconds", "gauge",
             "Seconds until notAfter of each configured certificate (negative once expired): "
             "role server (the served leaf), server_chain (the rest of its file), client_ca, "
             "upstream_ca (each certificate of an upstream's \"ca\" file, label upstream).");
  for (const Certificate& c : certificates_) {
    out.Sample("portcullis_certificate_expiry_seconds", certificate_labels(c),
               c.info.not_after - now);
  }
  out.Family("portcullis_certificate_not_after_timestamp_seconds", "gauge",
             "notAfter of each configured certificate, Unix time.");
  for (const Certificate& c : certificates_) {
    out.Sample("portcullis_certificate_not_after_timestamp_seconds", certificate_labels(c),
               c.info.not_after);
  }
  out.Family("portcullis_crl_next_update_seconds", "gauge",
             "Seconds until nextUpdate of each CRL of tls.crl. Negative once passed: the CRL "
             "then counts as missing and every client certificate of its issuer is refused.");
  for (const CrlInfo& crl : crls_) {
    if (crl.next_update) {
      out.Sample("portcullis_crl_next_update_seconds", {{"file", crl.file}, {"issuer", crl.issuer}},
                 *crl.next_update - now);
    }
  }

  if (sources_.anomalies) {
    audit::AnomalyCounts counts = sources_.anomalies->counts();
    out.Family("portcullis_anomalies_total", "counter",
               "anomaly.* audit records written, by detector.");
    const std::pair<const char*, uint64_t> detectors[] = {
        {"handshake_failure_burst", counts.handshake_failure_burst},
        {"non_tls_burst", counts.non_tls_burst},
        {"denial_burst", counts.denial_burst},
        {"malformed_burst", counts.malformed_burst},
        {"new_credential", counts.new_credential},
        {"cert_expiring", counts.cert_expiring},
        {"tool_drift", counts.tool_drift},
        {"tool_added", counts.tool_added},
        {"tool_list_unreadable", counts.tool_list_unreadable},
    };
    for (const auto& [detector, count] : detectors) {
      out.Sample("portcullis_anomalies_total", {{"detector", detector}}, count);
    }
    out.Family("portcullis_anomaly_untracked_tools_total", "counter",
               "Tools seen past the per-upstream tracking bound (not checked for drift).");
    out.Sample("portcullis_anomaly_untracked_tools_total", {}, counts.tools_untracked);
  }

  if (sources_.audit) {
    out.Family("portcullis_audit_records_total", "counter",
               "Audit records handed to the audit log (queued for its writer thread).");
    out.Sample("portcullis_audit_records_total", {}, sources_.audit->records());
    if (std::optional<uint64_t> errors = sources_.audit->write_errors()) {
      out.Family("portcullis_audit_write_errors_total", "counter",
                 "Failed writes of the audit file (reported in the human log).");
      out.Sample("portcullis_audit_write_errors_total", {}, *errors);
    }
    if (std::optional<uint64_t> depth = sources_.audit->queue_depth()) {
      out.Family("portcullis_audit_queue_depth", "gauge",
                 "Audit records waiting for the writer thread (a full queue blocks, never drops).");
      out.Sample("portcullis_audit_queue_depth", {}, *depth);
    }
  }
  out.Family("portcullis_stdio_processes", "gauge",
             "stdio MCP server processes alive (spawned and not yet reaped), all reactors.");
  out.Sample("portcullis_stdio_processes", {},
             static_cast<uint64_t>(std::max<int64_t>(0, upstream::StdioProcess::LiveCount())));
  return out.Take();
}

std::string AdminEndpoints::RenderStatus() const {
  int64_t now = NowUnix();
  std::vector<const reactor::ReactorMetrics*> reactors = MetricsOfReactors();
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "version");
  w.String(PORTCULLIS_VERSION);
  Key(w, "ready");
  w.Bool(ready());
  Key(w, "draining");
  w.Bool(draining_);
  Key(w, "started");
  String(w, Rfc3339(start_unix_s_));
  Key(w, "uptime_s");
  w.Double(static_cast<double>(uv_hrtime() / 1000 - start_mono_us_) / 1e6);
  Key(w, "reactors");
  w.Uint64(reactors.size());

  Key(w, "connections");
  w.StartObject();
  uint64_t active = 0;
  uint64_t accepted = 0;
  for (const reactor::ReactorMetrics* r : reactors) {
    active += r->active_connections.load(std::memory_order_relaxed);
    accepted += r->connections_accepted.load(std::memory_order_relaxed);
  }
  Key(w, "active");
  w.Uint64(active);
  Key(w, "accepted");
  w.Uint64(accepted);
  Key(w, "per_reactor");
  w.StartArray();
  for (const reactor::ReactorMetrics* r : reactors) {
    w.Uint64(r->active_connections.load(std::memory_order_relaxed));
  }
  w.EndArray();
  w.EndObject();

  Key(w, "tls");
  w.StartObject();
  Key(w, "server_certificate");
  const Certificate* leaf = nullptr;
  for (const Certificate& c : certificates_) {
    if (c.role == "server") {
      leaf = &c;
    }
  }
  if (leaf != nullptr) {
    WriteCertificate(w, leaf->info, now);
  } else {
    w.Null();
  }
  Key(w, "server_chain");
  w.StartArray();
  for (const Certificate& c : certificates_) {
    if (c.role == "server_chain") {
      WriteCertificate(w, c.info, now);
    }
  }
  w.EndArray();
  Key(w, "client_cas");
  w.StartArray();
  for (const Certificate& c : certificates_) {
    if (c.role == "client_ca") {
      WriteCertificate(w, c.info, now);
    }
  }
  w.EndArray();
  Key(w, "upstream_cas");
  w.StartArray();
  for (const Certificate& c : certificates_) {
    if (c.role == "upstream_ca") {
      WriteCertificate(w, c.info, now, c.upstream);
    }
  }
  w.EndArray();
  Key(w, "crls");
  w.StartArray();
  for (const CrlInfo& crl : crls_) {
    w.StartObject();
    Key(w, "file");
    String(w, crl.file);
    Key(w, "issuer");
    String(w, crl.issuer);
    Key(w, "next_update");
    if (crl.next_update) {
      String(w, Rfc3339(*crl.next_update));
      Key(w, "seconds_left");
      w.Int64(*crl.next_update - now);
    } else {
      w.Null();
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();

  Key(w, "config");
  w.StartObject();
  Key(w, "file");
  String(w, sources_.config ? sources_.config->file : std::string());
  Key(w, "generation");
  w.Uint64(generation_);
  w.EndObject();

  Key(w, "policy");
  w.StartObject();
  Key(w, "file");
  String(w, sources_.config ? sources_.config->policy : std::string());
  Key(w, "sha256");
  String(w, policy_sha256_);
  Key(w, "rules");
  w.Uint64(policy_rules_);
  w.EndObject();

  Key(w, "reloads");
  w.StartObject();
  Key(w, "ok");
  w.Uint64(reloads_ok_);
  Key(w, "failed");
  w.Uint64(reloads_failed_);
  Key(w, "last");
  if (last_reload_) {
    w.StartObject();
    Key(w, "time");
    String(w, Rfc3339(last_reload_->unix_s));
    Key(w, "trigger");
    String(w, last_reload_->trigger);
    Key(w, "result");
    String(w, last_reload_->result);
    if (!last_reload_->error.empty()) {
      Key(w, "error");
      String(w, last_reload_->error);
    }
    w.EndObject();
  } else {
    w.Null();
  }
  w.EndObject();

  Key(w, "audit");
  w.StartObject();
  Key(w, "enabled");
  w.Bool(sources_.audit != nullptr);
  if (sources_.audit) {
    Key(w, "records");
    w.Uint64(sources_.audit->records());
    if (std::optional<uint64_t> errors = sources_.audit->write_errors()) {
      Key(w, "write_errors");
      w.Uint64(*errors);
    }
  }
  w.EndObject();

  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

}  // namespace portcullis::admin
