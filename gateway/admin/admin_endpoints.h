// AdminEndpoints: what the admin listener answers (DESIGN §4), and the control-plane facts it
// needs that no reactor knows: readiness, the policy's hash, the reload history, the configured
// certificates and their expiry.
//
//   /metrics  Prometheus text 0.0.4: the reactors' counters (metrics_render.h) plus the
//             gateway's own (build, reloads, certificate and CRL expiry, anomalies, audit)
//   /healthz  200 "ok" while the process runs
//   /readyz   200 while serving with a loaded config; 503 before the reactors listen and from
//             the moment draining starts
//   /status   JSON: version, uptime, reactors, connections, certificates, policy, last reload
//
// Thread-safety: everything runs on the control thread (the Server's signals, reloads and the
// admin listener share its loop), so the state here needs no lock; the reactors' metrics are
// read through their relaxed atomics. *reactors, the anomaly monitor and the audit counter
// must outlive this object.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/admin/admin_server.h"
#include "gateway/admin/certificate_info.h"
#include "gateway/admin/counting_audit_sink.h"
#include "gateway/audit/anomaly_monitor.h"
#include "gateway/reactor/reactor.h"
#include "portcullis/config.h"

namespace portcullis::admin {

class AdminEndpoints {
 public:
  struct Sources {
    std::shared_ptr<const Config> config;
    // The Server's reactors; filled when they start (readiness waits for them).
    const std::vector<std::unique_ptr<reactor::Reactor>>* reactors = nullptr;
    std::shared_ptr<audit::AnomalyMonitor> anomalies;
    std::shared_ptr<CountingAuditSink> audit;  // null when the audit log is off
  };

  explicit AdminEndpoints(Sources sources);
  AdminEndpoints(const AdminEndpoints&) = delete;
  AdminEndpoints& operator=(const AdminEndpoints&) = delete;

  AdminResponse Handle(const AdminRequest& request);

  // Reads the server certificate, the client CAs and the CRLs from `tls`'s files, and the CA
  // bundle ("ca") of every upstream of Sources::config (at load, and again whenever the TLS
  // material is reloaded). A file that cannot be read is logged and left out.
  void LoadCertificates(const TlsConfig& tls);
  // The policy in force after the first load.
  void PolicyLoaded(const std::string& sha256, size_t rules);
  // A reload that published something new (the config generation moves on), or one that
  // failed (`error` says why; the last good config stays). A reload that found the same bytes
  // is neither: the folder watcher re-reads on every neighbour's write. `trigger` is "SIGHUP"
  // or "policy file changed".
  void ReloadSucceeded(const std::string& trigger, const std::string& sha256, size_t rules);
  void ReloadFailed(const std::string& trigger, const std::string& error);
  // New TLS material (server certificate, client CAs, CRLs) now serves new handshakes.
  void TlsReloaded(const std::string& trigger, const TlsConfig& tls);
  // SIGTERM/SIGINT: /readyz answers 503 from now on.
  void BeginDrain() { draining_ = true; }

  bool ready() const;
  std::string RenderMetrics() const;
  std::string RenderStatus() const;

 private:
  struct Reload {
    int64_t unix_s = 0;
    std::string trigger;
    std::string result;  // "ok" or "failed"
    std::string error;
  };
  struct Certificate {
    std::string role;      // "server", "server_chain", "client_ca", "upstream_ca"
    std::string upstream;  // role "upstream_ca": whose "ca" file it is in
    CertificateInfo info;
  };

  std::vector<const reactor::ReactorMetrics*> MetricsOfReactors() const;

  Sources sources_;
  const int64_t start_unix_s_;
  const uint64_t start_mono_us_;
  std::vector<Certificate> certificates_;
  std::vector<CrlInfo> crls_;
  std::string policy_sha256_;
  size_t policy_rules_ = 0;
  uint64_t generation_ = 1;
  uint64_t reloads_ok_ = 0;
  uint64_t reloads_failed_ = 0;
  std::optional<Reload> last_reload_;
  bool draining_ = false;
};

}  // namespace portcullis::admin
