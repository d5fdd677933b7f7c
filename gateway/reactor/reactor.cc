#include "gateway/reactor/reactor.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gateway/reactor/client_connection.h"
#include "gateway/reactor/session_registry.h"
#include "gateway/upstream/upstream_pool.h"

namespace portcullis::reactor {
namespace {

constexpr size_t kReadBufferSize = 65536;
constexpr int kAcceptBatch = 64;
constexpr int kBacklog = 1024;

thread_local Reactor* current_reactor = nullptr;

}  // namespace

Reactor* Reactor::Current() { return current_reactor; }

bool Reactor::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mailbox_mu_);
    if (!taking_tasks_) return false;
    mailbox_tasks_.push_back(std::move(task));
  }
  uv_async_send(&wakeup_);
  return true;
}

Reactor::Reactor(int index, std::vector<int> listen_fds, Snapshot snapshot,
                 uint32_t max_connections)
    : index_(index),
      listen_fds_(std::move(listen_fds)),
      snapshot_(std::move(snapshot)),
      max_connections_(max_connections),
      read_buffer_(new char[kReadBufferSize]),
      metrics_(*snapshot_.config) {}

Reactor::~Reactor() {
  Join();
  for (int fd : listen_fds_) close(fd);  // not closed by a drain
}

Status Reactor::Start() {
  if (int rc = uv_loop_init(&loop_); rc != 0) {
    return Status::Error(std::string("uv_loop_init: ") + uv_strerror(rc));
  }
  pool_ = std::make_unique<upstream::UpstreamPool>(&loop_);
  sessions_ = std::make_unique<SessionRegistry>(this);
  uv_async_init(&loop_, &wakeup_, OnWakeup);
  wakeup_.data = this;
  uv_timer_init(&loop_, &drain_timer_);
  drain_timer_.data = this;
  for (int fd : listen_fds_) {
    auto listener = std::make_unique<Listener>();
    listener->reactor = this;
    listener->fd = fd;
    listener->handle.data = listener.get();
    if (int rc = uv_poll_init(&loop_, &listener->handle, fd); rc != 0) {
      return Status::Error(std::string("uv_poll_init: ") + uv_strerror(rc));
    }
    uv_poll_start(&listener->handle, UV_READABLE, OnListenReadable);
    listeners_.push_back(std::move(listener));
  }
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void Reactor::Run() {
  current_reactor = this;
  uv_run(&loop_, UV_RUN_DEFAULT);
  // Everything is closed; let the last close callbacks run, then release the loop.
  while (uv_loop_close(&loop_) == UV_EBUSY) uv_run(&loop_, UV_RUN_NOWAIT);
  {
    std::lock_guard<std::mutex> lock(mailbox_mu_);
    mailbox_tasks_.clear();  // posted after the last wake-up: nobody will run them
  }
  sessions_.reset();
  tls::ReleaseThreadResources();
  current_reactor = nullptr;
  stopped_.store(true, std::memory_order_release);
}

void Reactor::RequestDrain() {
  drain_requested_.store(true, std::memory_order_release);
  uv_async_send(&wakeup_);
}

void Reactor::PublishPolicy(std::shared_ptr<const policy::Policy> policy) {
  {
    std::lock_guard<std::mutex> lock(mailbox_mu_);
    mailbox_policy_ = std::move(policy);
  }
  uv_async_send(&wakeup_);
}

void Reactor::PublishTls(std::shared_ptr<const tls::TlsContext> tls) {
  {
    std::lock_guard<std::mutex> lock(mailbox_mu_);
    mailbox_tls_ = std::move(tls);
  }
  uv_async_send(&wakeup_);
}

void Reactor::Join() {
  if (thread_.joinable()) thread_.join();
}

uv_buf_t Reactor::ReadBuffer() { return uv_buf_init(read_buffer_.get(), kReadBufferSize); }

void Reactor::OnListenReadable(uv_poll_t* handle, int status, int) {
  auto* listener = static_cast<Listener*>(handle->data);
  Reactor* self = listener->reactor;
  if (status != 0) {
    spdlog::warn("reactor {}: listener: {}", self->index_, uv_strerror(status));
    return;
  }
  // A bounded batch per wake-up, so one busy listener cannot starve the loop.
  for (int i = 0; i < kAcceptBatch; ++i) {
    sockaddr_storage peer = {};
    socklen_t len = sizeof(peer);
    int fd = accept4(listener->fd, reinterpret_cast<sockaddr*>(&peer), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        // EMFILE and friends: the connection stays queued and is retried on the next wake.
        spdlog::warn("reactor {}: accept: {}", self->index_, std::strerror(errno));
      }
      return;
    }
    self->accepted_.fetch_add(1, std::memory_order_relaxed);
    Increment(self->metrics_.connections_accepted);
    bool full = self->connections_.size() >= self->max_connections_;
    if (full) Increment(self->metrics_.connections_refused);
    ClientConnection::Accept(self, fd, peer, full);
  }
}

void Reactor::OnWakeup(uv_async_t* async) {
  auto* self = static_cast<Reactor*>(async->data);
  std::shared_ptr<const policy::Policy> policy;
  std::shared_ptr<const tls::TlsContext> tls;
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(self->mailbox_mu_);
    policy = std::move(self->mailbox_policy_);
    tls = std::move(self->mailbox_tls_);
    tasks.swap(self->mailbox_tasks_);
  }
  for (auto& task : tasks) task();
  if (policy) {
    self->sessions_->PublishPolicy(policy);
    self->snapshot_.policy = std::move(policy);
  }
  if (tls) self->snapshot_.tls = std::move(tls);
  if (self->drain_requested_.load(std::memory_order_acquire) && !self->draining_) {
    self->BeginDrain();
  }
}

void Reactor::BeginDrain() {
  draining_ = true;
  for (auto& listener : listeners_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener->handle), nullptr);
    // Polling stopped with uv_close, so the socket may go now: connections still queued on it
    // are refused at once instead of waiting for the process to exit.
    close(listener->fd);
  }
  listen_fds_.clear();
  uint64_t timeout = snapshot_.config->limits.drain_timeout_ms;
  spdlog::debug("reactor {}: draining {} connections (up to {} ms)", index_, connections_.size(),
                timeout);
  uv_timer_start(&drain_timer_, OnDrainTimeout, timeout, 0);
  // Copy: closing a connection removes it from the set (on a later loop turn, but be safe).
  std::vector<ClientConnection*> all(connections_.begin(), connections_.end());
  for (ClientConnection* c : all) c->BeginDrain();
  sessions_->BeginDrain();
  MaybeFinish();
}

void Reactor::OnDrainTimeout(uv_timer_t* timer) {
  auto* self = static_cast<Reactor*>(timer->data);
  spdlog::warn("reactor {}: drain timeout: closing {} connections still busy", self->index_,
               self->connections_.size());
  std::vector<ClientConnection*> all(self->connections_.begin(), self->connections_.end());
  for (ClientConnection* c : all) c->Close();
}

void Reactor::Remove(ClientConnection* connection) {
  connections_.erase(connection);
  metrics_.active_connections.store(connections_.size(), std::memory_order_relaxed);
  MaybeFinish();
}

void Reactor::MaybeFinish() {
  if (!draining_ || finished_ || !connections_.empty()) return;
  finished_ = true;
  {
    std::lock_guard<std::mutex> lock(mailbox_mu_);
    taking_tasks_ = false;
  }
  // Sessions end with the last connection: their processes are stopped (stdin closed,
  // SIGTERM, SIGKILL) and the loop runs until they are reaped.
  sessions_->EndAll("the gateway is shutting down");
  pool_->CloseAll();
  uv_timer_stop(&drain_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&wakeup_), nullptr);
  // Listener objects are freed with the reactor, after the loop has stopped.
}

}  // namespace portcullis::reactor
