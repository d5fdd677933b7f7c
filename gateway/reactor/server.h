// Server: the running gateway: the listening sockets, one Reactor per thread, and the
// control loop that owns the signals (SIGTERM/SIGINT = drain then exit; SIGHUP = reload the
// policy) and watches the policy file (a change, or a Kubernetes ConfigMap symlink swap,
// reloads it too). A policy that fails to load is reported and the last good one stays.
//
// Created and run on the main thread; Run() returns when every reactor has drained.
#pragma once

#include <memory>
#include <vector>

#include "gateway/admin/admin_endpoints.h"
#include "gateway/reactor/reactor.h"
#include "portcullis/config.h"
#include "portcullis/result.h"

namespace portcullis::reactor {

class Server {
 public:
  // Loads the TLS context and binds every listen address (port 0 becomes one concrete port
  // shared by all reactors), without starting any thread yet.
  static Result<std::unique_ptr<Server>> Create(std::shared_ptr<const Config> config);
  ~Server();

  // Starts the reactors and blocks until a signal has made them drain. Returns the exit code.
  int Run();

  // The bound addresses, e.g. "127.0.0.1:8443" (after Create).
  const std::vector<std::string>& bound_addresses() const { return bound_; }

  // Control thread: re-reads the policy file and publishes it to every reactor if it loads
  // and changed. `why` is for the log ("SIGHUP", "file changed").
  void ReloadPolicy(const char* why);
  // Control thread: rebuilds the TLS context from the certificate, key, client CA and CRL
  // files if their bytes changed; a context that fails to build is reported and the old one
  // keeps serving.
  void ReloadTls(const char* why);
  // Both of the above (SIGHUP, or any watched file changed).
  void ReloadAll(const char* why) {
    ReloadTls(why);
    ReloadPolicy(why);
  }
  // The folders whose changes trigger ReloadAll: those of the policy and TLS files.
  std::vector<std::string> WatchedFolders() const;

 private:
  Server() = default;
  std::string policy_sha256_;
  std::string tls_sha256_;  // of the TLS files' bytes, to skip reloads that change nothing
  std::shared_ptr<const Config> config_;
  Snapshot snapshot_;
  std::vector<std::vector<int>> fds_per_reactor_;
  std::vector<std::string> bound_;
  std::vector<Reactor*> peers_;  // before reactors_: reactor threads read it until joined
  std::vector<std::unique_ptr<Reactor>> reactors_;
  std::unique_ptr<admin::AdminEndpoints> admin_;  // what the admin listener answers
};

}  // namespace portcullis::reactor
