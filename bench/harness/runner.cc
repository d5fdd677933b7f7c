#include "bench/harness/runner.h"

#include <netdb.h>
#include <sys/resource.h>
#include <uv.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "bench/harness/handshake_worker.h"
#include "bench/harness/idle_worker.h"
#include "bench/harness/request_template.h"
#include "bench/harness/request_worker.h"
#include "bench/harness/tls_client_context.h"

namespace portcullis::bench {
namespace {

// File descriptors kept free for everything that is not a benchmark connection.
constexpr uint64_t kSpareFds = 64;

std::atomic<bool>* interrupt_flag = nullptr;

void OnSigint(int) {
  if (interrupt_flag != nullptr) {
    interrupt_flag->store(true);
  }
}

// Restores SIGINT's previous disposition when the run ends.
class SigintScope {
 public:
  explicit SigintScope(std::atomic<bool>* flag) {
    interrupt_flag = flag;
    struct sigaction action {};
    action.sa_handler = OnSigint;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous_);
  }
  ~SigintScope() {
    sigaction(SIGINT, &previous_, nullptr);
    interrupt_flag = nullptr;
  }
  SigintScope(const SigintScope&) = delete;
  SigintScope& operator=(const SigintScope&) = delete;

 private:
  struct sigaction previous_ {};
};

Result<sockaddr_storage> Resolve(const std::string& host, uint16_t port, std::string* printable) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  std::string port_text = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &list);
  if (rc != 0 || list == nullptr) {
    return Status::Error("cannot resolve " + host + ": " + gai_strerror(rc));
  }
  sockaddr_storage address{};
  std::memcpy(&address, list->ai_addr, list->ai_addrlen);
  freeaddrinfo(list);
  char name[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<sockaddr_in6*>(&address), name, sizeof(name));
  } else {
    uv_ip4_name(reinterpret_cast<sockaddr_in*>(&address), name, sizeof(name));
  }
  // snprintf rather than string concatenation, which trips GCC 12's -Wrestrict here (a false
  // positive, GCC bug 105329).
  char text[INET6_ADDRSTRLEN + 16];
  std::snprintf(text, sizeof(text), address.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", name,
                static_cast<unsigned>(port));
  *printable = text;
  return address;
}

// Raises the soft limit on open files to the hard one and checks that `needed` fit.
Status EnsureFileDescriptors(uint64_t needed) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return Status::Ok();
  }
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
    (void)getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur != RLIM_INFINITY && needed + kSpareFds > limit.rlim_cur) {
    return Status::Error("this run needs " + std::to_string(needed + kSpareFds) +
                         " file descriptors and the limit is " + std::to_string(limit.rlim_cur) +
                         " (ulimit -n)");
  }
  return Status::Ok();
}

uint64_t Share(uint64_t total, uint32_t parts, uint32_t index) {
  return total / parts + (index < total % parts ? 1 : 0);
}

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace

Result<Report> RunBench(const BenchOptions& options, std::ostream& progress) {
  std::signal(SIGPIPE, SIG_IGN);  // libuv writes with write(2): a closed peer must not kill us
  Report report;
  report.options = options;
  Result<sockaddr_storage> address = Resolve(options.host, options.port, &report.target);
  if (!address.ok()) {
    return address.status();
  }
  uint64_t connections = options.mode == Mode::kIdle ? options.count : options.concurrency;
  if (Status s = EnsureFileDescriptors(connections); !s.ok()) {
    return s;
  }
  // --plain: no context, and the connections leave the TLS layer out.
  std::unique_ptr<ClientTlsContext> tls;
  if (!options.plain) {
    Result<std::unique_ptr<ClientTlsContext>> created = ClientTlsContext::Create(options);
    if (!created.ok()) {
      return created.status();
    }
    tls = std::move(created).value();
  }
  ServerUsage usage;
  if (options.server_pid != 0) {
    usage.pid = options.server_pid;
    Result<ProcSample> probe = ReadProcSample(options.server_pid);
    if (!probe.ok()) {
      return Status::Error("--server-pid " + std::to_string(options.server_pid) + ": " +
                           probe.error());
    }
  }
  std::unique_ptr<RequestTemplate> requests;
  if (options.mode == Mode::kRequest) {
    requests = std::make_unique<RequestTemplate>(options);
  }

  uint32_t threads = options.threads;
  RunControl control(threads);
  SigintScope sigint(&control.stop);
  std::vector<std::unique_ptr<Worker>> workers;
  for (uint32_t i = 0; i < threads; ++i) {
    WorkerConfig config;
    config.options = &options;
    config.tls = tls.get();
    config.address = *address;
    config.index = i;
    config.concurrency =
        std::max<uint32_t>(1, static_cast<uint32_t>(Share(options.concurrency, threads, i)));
    config.bounded_by_count = options.count > 0;
    config.count = Share(options.count, threads, i);
    config.rate = options.rate / threads;
    switch (options.mode) {
      case Mode::kHandshake:
        workers.push_back(std::make_unique<HandshakeWorker>(config, &control));
        break;
      case Mode::kRequest:
        workers.push_back(std::make_unique<RequestWorker>(config, &control, requests.get()));
        break;
      case Mode::kIdle:
        workers.push_back(std::make_unique<IdleWorker>(config, &control));
        break;
    }
  }
  std::vector<std::thread> running;
  for (auto& worker : workers) {
    running.emplace_back([w = worker.get()] { w->Run(); });
  }

  // Priming (connections opened before the measurement) is bounded by --timeout-ms per step.
  control.primed.wait();
  if (options.server_pid != 0) {
    Result<ProcSample> before = ReadProcSample(options.server_pid);
    if (before.ok()) {
      usage.before = *before;
    }
  }
  uint64_t start_ns = uv_hrtime();
  control.start_ns.store(start_ns);
  control.go.count_down();

  auto elapsed_s = [start_ns] { return static_cast<double>(uv_hrtime() - start_ns) / 1e9; };
  int next_report_s = 1;
  while (control.measured_done.load() < threads) {
    SleepMs(50);
    if (!options.quiet && elapsed_s() >= next_report_s) {
      uint64_t ok = control.ok.load(), failed = control.failed.load();
      char line[160];
      std::snprintf(line, sizeof(line), "[%4d s] %llu ok (%.1f/s), %llu failed\n", next_report_s,
                    static_cast<unsigned long long>(ok), ok / elapsed_s(),
                    static_cast<unsigned long long>(failed));
      progress << line << std::flush;
      ++next_report_s;
    }
  }
  if (options.mode == Mode::kIdle) {
    if (!options.quiet) {
      progress << control.ok.load() << " connections open; holding for " << options.hold_s << " s\n"
               << std::flush;
    }
    auto hold_end = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(options.hold_s * 1000));
    while (std::chrono::steady_clock::now() < hold_end && !control.stop.load()) {
      SleepMs(50);
    }
  }
  if (options.server_pid != 0) {
    Result<ProcSample> after = ReadProcSample(options.server_pid);
    if (after.ok()) {
      usage.after = *after;
      report.server = usage;
    } else if (!options.quiet) {
      progress << "--server-pid " << options.server_pid << ": " << after.error() << "\n";
    }
  }
  control.release.store(true);
  for (std::thread& t : running) {
    t.join();
  }
  for (auto& worker : workers) {
    report.stats.Merge(worker->stats());
  }
  report.interrupted = control.stop.load();
  if (report.stats.end_ns > start_ns) {
    report.elapsed_s = static_cast<double>(report.stats.end_ns - start_ns) / 1e9;
  }
  return report;
}

}  // namespace portcullis::bench
