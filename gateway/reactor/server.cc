#include "gateway/reactor/server.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <uv.h>

#include "gateway/reactor/listen_socket.h"

namespace portcullis::reactor {
namespace {

constexpr int kBacklog = 1024;

struct ControlLoop {
  uv_loop_t loop;
  uv_signal_t sigterm, sigint, sighup;
  std::vector<std::unique_ptr<Reactor>>* reactors;
  bool draining = false;
};

void CloseSignals(ControlLoop* control) {
  for (uv_signal_t* s : {&control->sigterm, &control->sigint, &control->sighup}) {
    uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
  }
}

void OnStopSignal(uv_signal_t* handle, int signum) {
  auto* control = static_cast<ControlLoop*>(handle->data);
  if (control->draining) return;
  control->draining = true;
  spdlog::info("{}: draining: no new connections; in-flight requests may finish",
               signum == SIGTERM ? "SIGTERM" : "SIGINT");
  for (auto& r : *control->reactors) r->RequestDrain();
  CloseSignals(control);
}

void OnReloadSignal(uv_signal_t*, int) {
  spdlog::warn("SIGHUP: configuration reload is not supported yet; restart to apply changes");
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Create(std::shared_ptr<const Config> config) {
  std::unique_ptr<Server> server(new Server());
  server->config_ = config;
  Result<std::shared_ptr<const tls::TlsContext>> tls = tls::TlsContext::Create(config->tls);
  if (!tls.ok()) return tls.status();
  server->snapshot_ = Snapshot{config, *tls};

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

int Server::Run() {
  signal(SIGPIPE, SIG_IGN);  // a peer that vanished is an error code, not a dead process
  uint32_t count = static_cast<uint32_t>(fds_per_reactor_.size());
  uint32_t per_reactor = std::max<uint32_t>(1, config_->limits.max_connections / count);
  for (uint32_t i = 0; i < count; ++i) {
    auto reactor = std::make_unique<Reactor>(static_cast<int>(i), std::move(fds_per_reactor_[i]),
                                             snapshot_, per_reactor);
    fds_per_reactor_[i].clear();
    if (Status s = reactor->Start(); !s.ok()) {
      spdlog::critical("reactor {}: {}", i, s.message());
      for (auto& r : reactors_) r->RequestDrain();
      return 1;
    }
    reactors_.push_back(std::move(reactor));
  }
  for (const std::string& address : bound_) {
    spdlog::info("listening on {} ({} reactors)", address, count);
  }

  ControlLoop control;
  control.reactors = &reactors_;
  uv_loop_init(&control.loop);
  for (auto [handle, signum] : {std::pair{&control.sigterm, SIGTERM},
                                std::pair{&control.sigint, SIGINT},
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
    per_reactor_counts += "reactor " + std::to_string(r->index()) + ": " +
                          std::to_string(r->accepted());
  }
  spdlog::info("stopped after {} connections ({})", accepted, per_reactor_counts);
  return 0;
}

}  // namespace portcullis::reactor
