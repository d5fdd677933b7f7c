#include "gateway/reactor/server.h"

#include "gateway/upstream/upstream_tls.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gateway/admin/admin_server.h"
#include "gateway/audit/anomaly_monitor.h"
#include "gateway/config/policy_file.h"
#include "gateway/reactor/folder_watch.h"
#include "gateway/reactor/listen_socket.h"

namespace portcullis::reactor {
namespace {

constexpr int kBacklog = 1024;

// Where records go when the config has no "audit" path: nowhere, on purpose.
class NullAuditSink final : public audit::AuditSink {
 public:
  void Write(audit::Record) override {}
  void Flush() override {}
};

Result<std::shared_ptr<audit::AuditSink>> OpenAudit(const AuditConfig& config) {
  if (config.path.empty()) return std::shared_ptr<audit::AuditSink>(new NullAuditSink());
  audit::AuditOptions options;
  options.path = config.path;
  options.rotate_mb = config.rotate_mb;
  options.keep = config.keep;
  options.queue_size = config.queue_size;
  options.fsync = audit::ParseFsyncPolicy(config.fsync).value_or(audit::FsyncPolicy::kInterval);
  options.flush_interval_ms = config.flush_interval_ms;
  Result<std::unique_ptr<audit::AuditSink>> sink = audit::OpenAuditLog(options);
  if (!sink.ok()) return Status::Error("audit: " + sink.error());
  // Counted for /metrics (portcullis_audit_records_total).
  return std::shared_ptr<audit::AuditSink>(
      std::make_shared<admin::CountingAuditSink>(std::move(sink).value()));
}

audit::AnomalyThresholds ThresholdsOf(const AnomalyConfig& c) {
  audit::AnomalyThresholds t;
  t.handshake_failures = c.handshake_failures.threshold;
  t.handshake_failures_window_s = c.handshake_failures.window_s;
  t.non_tls = c.non_tls.threshold;
  t.non_tls_window_s = c.non_tls.window_s;
  t.denials = c.denials.threshold;
  t.denials_window_s = c.denials.window_s;
  t.malformed = c.malformed.threshold;
  t.malformed_window_s = c.malformed.window_s;
  t.cert_expiry_days = c.cert_expiry_days;
  return t;
}

std::string FilesDigest(const std::vector<std::string>& files);
std::vector<std::string> TlsFiles(const TlsConfig& tls);

// Coalesces the bursts of file events an editor or a ConfigMap update makes.
constexpr uint64_t kReloadDebounceMs = 200;

struct ControlLoop {
  uv_loop_t loop;
  uv_signal_t sigterm, sigint, sighup;
  FolderWatch watch;
  uv_timer_t debounce;
  Server* server;
  std::vector<std::unique_ptr<Reactor>>* reactors;
  bool draining = false;
  admin::AdminEndpoints* endpoints = nullptr;
  std::unique_ptr<admin::AdminServer> admin;  // null when "admin" is not configured
  uv_timer_t admin_reaper;  // while draining: closes the admin listener once reactors stop
};

// The admin listener answers (/readyz: 503) until every reactor has drained, then closes.
void OnAdminReaper(uv_timer_t* timer) {
  auto* control = static_cast<ControlLoop*>(timer->data);
  for (auto& r : *control->reactors) {
    if (!r->stopped()) return;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(timer), nullptr);
  control->admin->Close();
}

void CloseSignals(ControlLoop* control) {
  for (uv_signal_t* s : {&control->sigterm, &control->sigint, &control->sighup}) {
    uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&control->debounce), nullptr);
  control->watch.Close();
}

void OnDebounced(uv_timer_t* timer) {
  auto* control = static_cast<ControlLoop*>(timer->data);
  control->server->ReloadAll("file changed");
}

void OnWatchedFolderChanged(ControlLoop* control) {
  if (control->draining) return;
  // The first event schedules one reload; events until then ride along. Restarting the timer
  // on every event would let a busy neighbour file in the same folder hold reloads off
  // forever. A reload that finds the same bytes changes nothing.
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&control->debounce))) return;
  uv_timer_start(&control->debounce, OnDebounced, kReloadDebounceMs, 0);
}

void OnStopSignal(uv_signal_t* handle, int signum) {
  auto* control = static_cast<ControlLoop*>(handle->data);
  if (control->draining) return;
  control->draining = true;
  spdlog::info("{}: draining: no new connections; in-flight requests may finish",
               signum == SIGTERM ? "SIGTERM" : "SIGINT");
  for (auto& r : *control->reactors) r->RequestDrain();
  CloseSignals(control);
  control->endpoints->BeginDrain();
  if (control->admin) uv_timer_start(&control->admin_reaper, OnAdminReaper, 0, 50);
}

void OnReloadSignal(uv_signal_t* handle, int) {
  auto* control = static_cast<ControlLoop*>(handle->data);
  if (!control->draining) control->server->ReloadAll("SIGHUP");
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Create(std::shared_ptr<const Config> config) {
  std::unique_ptr<Server> server(new Server());
  server->config_ = config;
  Result<std::shared_ptr<const tls::TlsContext>> tls = tls::TlsContext::Create(config->tls);
  if (!tls.ok()) return tls.status();
  if (Status upstream_tls = upstream::CheckUpstreamTls(*config); !upstream_tls.ok()) {
    return upstream_tls;
  }
  config::LoadedPolicy policy = config::LoadPolicyFile(*config);
  for (const std::string& w : policy.warnings) spdlog::warn("{}", w);
  if (!policy.ok()) {
    std::string all;
    for (const std::string& e : policy.errors) all += "\n  " + e;
    return Status::Error("policy: " + std::to_string(policy.errors.size()) + " error(s):" + all);
  }
  server->policy_sha256_ = policy.sha256;
  server->tls_sha256_ = FilesDigest(TlsFiles(config->tls));
  Result<mcp::SessionSealer> sealer = mcp::SessionSealer::CreateRandom();
  if (!sealer.ok()) return sealer.status();
  Result<std::shared_ptr<audit::AuditSink>> audit = OpenAudit(config->audit);
  if (!audit.ok()) return audit.status();
  auto anomalies =
      std::make_shared<audit::AnomalyMonitor>(ThresholdsOf(config->anomalies), audit->get());
  server->snapshot_ =
      Snapshot{config, *tls,     policy.policy, std::make_shared<const mcp::SessionSealer>(*sealer),
               *audit, anomalies};
  server->snapshot_.session_counts = std::make_shared<SessionCounts>();
  for (const auto& [name, upstream] : config->upstreams) {
    server->snapshot_.session_counts->live[name] = 0;
  }
  server->admin_ = std::make_unique<admin::AdminEndpoints>(
      admin::AdminEndpoints::Sources{config, &server->reactors_, anomalies,
                                     std::dynamic_pointer_cast<admin::CountingAuditSink>(*audit)});
  server->admin_->PolicyLoaded(policy.sha256, policy.policy->rule_count());
  server->admin_->LoadCertificates(config->tls);
  audit::Record started("gateway.started");
  started.Str("version", PORTCULLIS_VERSION).Str("config", config->file);
  started.Str("policy_sha256", policy.sha256).Uint("reactors", config->reactors);
  server->snapshot_.audit->Write(std::move(started));

  uint32_t reactors = std::max<uint32_t>(1, config->reactors);
  server->fds_per_reactor_.resize(reactors);
  for (const ListenAddress& address : config->listen) {
    ListenAddress bound = address;
    for (uint32_t r = 0; r < reactors; ++r) {
      Result<int> fd = OpenListenSocket(bound, kBacklog);
      if (!fd.ok()) {
        for (auto& fds : server->fds_per_reactor_) {
          for (int f : fds) close(f);
        }
        return fd.status();
      }
      server->fds_per_reactor_[r].push_back(*fd);
      if (r == 0 && bound.port == 0) {
        Result<uint16_t> port = BoundPort(*fd);
        if (port.ok()) bound.port = *port;
      }
    }
    server->bound_.push_back(bound.ToString());
  }
  return server;
}

Server::~Server() {
  for (auto& fds : fds_per_reactor_) {
    for (int f : fds) close(f);
  }
}

void Server::ReloadPolicy(const char* why) {
  config::LoadedPolicy policy = config::LoadPolicyFile(*config_);
  audit::Record record("config.reload");
  record.Str("trigger", why).Str("file", config_->policy);
  if (!policy.ok()) {
    std::string all;
    for (const std::string& e : policy.errors) all += (all.empty() ? "" : "\n") + e;
    record.Bool("ok", false).Str("error", all).Str("kept_sha256", policy_sha256_);
    snapshot_.audit->Write(std::move(record));
    admin_->ReloadFailed(why, all);
    for (const std::string& e : policy.errors) spdlog::error("{}", e);
    spdlog::error("{}: policy {} not loaded ({} error(s)); keeping the last good one ({})", why,
                  config_->policy, policy.errors.size(), policy_sha256_.substr(0, 12));
    return;
  }
  for (const std::string& w : policy.warnings) spdlog::warn("{}", w);
  if (policy.sha256 == policy_sha256_) {
    spdlog::debug("{}: policy unchanged", why);
    return;
  }
  record.Bool("ok", true).Str("previous_sha256", policy_sha256_).Str("sha256", policy.sha256);
  record.Uint("rules", policy.policy->rule_count());
  snapshot_.audit->Write(std::move(record));
  policy_sha256_ = policy.sha256;
  admin_->ReloadSucceeded(why, policy.sha256, policy.policy->rule_count());
  for (auto& r : reactors_) r->PublishPolicy(policy.policy);
  spdlog::info("{}: policy reloaded from {}: {} rules, sha256 {}", why, config_->policy,
               policy.policy->rule_count(), policy_sha256_.substr(0, 12));
}

namespace {

// SHA-256 over the bytes of `files` (with their names), "" if one cannot be read.
std::string FilesDigest(const std::vector<std::string>& files) {
  std::string all;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return "";
    std::ostringstream bytes;
    bytes << in.rdbuf();
    all += file + '\0' + bytes.str() + '\0';
  }
  return config::Sha256Hex(all);
}

std::vector<std::string> TlsFiles(const TlsConfig& tls) {
  std::vector<std::string> files = {tls.cert, tls.key};
  files.insert(files.end(), tls.client_ca.begin(), tls.client_ca.end());
  files.insert(files.end(), tls.crl.begin(), tls.crl.end());
  return files;
}

}  // namespace

std::vector<std::string> Server::WatchedFolders() const {
  std::vector<std::string> files = TlsFiles(config_->tls);
  if (!config_->policy.empty()) files.push_back(config_->policy);
  std::vector<std::string> folders;
  for (const std::string& file : files) {
    std::string dir = std::filesystem::path(file).parent_path().string();
    if (dir.empty()) dir = ".";
    if (std::find(folders.begin(), folders.end(), dir) == folders.end()) folders.push_back(dir);
  }
  return folders;
}

void Server::ReloadTls(const char* why) {
  std::string digest = FilesDigest(TlsFiles(config_->tls));
  if (!digest.empty() && digest == tls_sha256_) return;  // nothing changed
  Result<std::shared_ptr<const tls::TlsContext>> tls = tls::TlsContext::Create(config_->tls);
  audit::Record record("config.reload");
  record.Str("trigger", why).Str("what", "tls").Str("file", config_->tls.cert);
  if (!tls.ok()) {
    record.Bool("ok", false).Str("error", tls.error());
    snapshot_.audit->Write(std::move(record));
    admin_->ReloadFailed(why, tls.error());
    spdlog::error("{}: TLS material not reloaded ({}); the old certificate keeps serving", why,
                  tls.error());
    tls_sha256_ = digest;  // report a broken file once, not on every neighbour's write
    return;
  }
  record.Bool("ok", true).Str("sha256", digest);
  snapshot_.audit->Write(std::move(record));
  tls_sha256_ = digest;
  snapshot_.tls = *tls;
  admin_->TlsReloaded(why, config_->tls);
  for (auto& r : reactors_) r->PublishTls(*tls);
  spdlog::info("{}: TLS material reloaded (certificate {}); new handshakes use it", why,
               config_->tls.cert);
}

int Server::Run() {
  signal(SIGPIPE, SIG_IGN);  // a peer that vanished is an error code, not a dead process
  uint32_t count = static_cast<uint32_t>(fds_per_reactor_.size());
  uint32_t per_reactor = std::max<uint32_t>(1, config_->limits.max_connections / count);
  // Every reactor exists (and knows its peers) before any starts: a session's requests may be
  // handed to any of them from the first connection on.
  std::vector<std::unique_ptr<Reactor>> created;
  for (uint32_t i = 0; i < count; ++i) {
    created.push_back(std::make_unique<Reactor>(static_cast<int>(i), std::move(fds_per_reactor_[i]),
                                                snapshot_, per_reactor));
    fds_per_reactor_[i].clear();
    peers_.push_back(created.back().get());
  }
  for (auto& reactor : created) {
    reactor->SetPeers(&peers_);
    if (Status s = reactor->Start(); !s.ok()) {
      spdlog::critical("reactor {}: {}", reactor->index(), s.message());
      for (auto& r : reactors_) r->RequestDrain();
      return 1;
    }
    reactors_.push_back(std::move(reactor));
  }
  for (const std::string& address : bound_) {
    spdlog::info("listening on {} ({} reactors)", address, count);
  }

  ControlLoop control;
  control.server = this;
  control.reactors = &reactors_;
  control.endpoints = admin_.get();
  uv_loop_init(&control.loop);
  if (!config_->admin.listen.empty()) {
    auto handler = [this](const admin::AdminRequest& request) { return admin_->Handle(request); };
    auto admin = admin::AdminServer::Start(&control.loop, config_->admin.listen, handler);
    if (!admin.ok()) {
      spdlog::critical("{}", admin.error());
      for (auto& r : reactors_) r->RequestDrain();
      uv_run(&control.loop, UV_RUN_DEFAULT);  // the failed listener's close callback
      uv_loop_close(&control.loop);
      return 1;
    }
    control.admin = std::move(admin).value();
    uv_timer_init(&control.loop, &control.admin_reaper);
    control.admin_reaper.data = &control;
    spdlog::info("admin listening on {}", control.admin->address());
  }
  uv_timer_init(&control.loop, &control.debounce);
  control.debounce.data = &control;
  // Folders, not files (folder_watch.h says why).
  std::string unwatched = control.watch.Start(&control.loop, WatchedFolders(),
                                              [c = &control] { OnWatchedFolderChanged(c); });
  if (!unwatched.empty()) {
    spdlog::warn("cannot watch for changes ({}); SIGHUP still reloads", unwatched);
  }
  for (auto [handle, signum] :
       {std::pair{&control.sigterm, SIGTERM}, std::pair{&control.sigint, SIGINT},
        std::pair{&control.sighup, SIGHUP}}) {
    uv_signal_init(&control.loop, handle);
    handle->data = &control;
    uv_signal_start(handle, signum == SIGHUP ? OnReloadSignal : OnStopSignal, signum);
  }
  uv_run(&control.loop, UV_RUN_DEFAULT);  // returns once the signal handles are closed
  uv_loop_close(&control.loop);

  for (auto& r : reactors_) r->Join();
  uint64_t accepted = 0;
  std::string per_reactor_counts;
  for (auto& r : reactors_) {
    accepted += r->accepted();
    if (!per_reactor_counts.empty()) per_reactor_counts += ", ";
    per_reactor_counts +=
        "reactor " + std::to_string(r->index()) + ": " + std::to_string(r->accepted());
  }
  spdlog::info("stopped after {} connections ({})", accepted, per_reactor_counts);
  audit::Record stopped("gateway.stopped");
  stopped.Uint("connections", accepted);
  snapshot_.audit->Write(std::move(stopped));
  snapshot_.audit->Flush();  // every answered request's record is on disk before we exit
  return 0;
}

}  // namespace portcullis::reactor
