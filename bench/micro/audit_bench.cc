// Audit writer figures (docs/AUDIT.md, docs/BENCHMARKS.md):
//   - what a record costs on the reactor thread: building a typical mcp.request record and
//     handing it to the sink while the queue has room (BM_AuditReactorCost);
//   - records per second the writer thread sustains into a file, per fsync policy
//     (BM_AuditFileThroughput/0=none,1=interval,2=always);
//   - the pieces: building a record, sealing it (SHA-256), verifying a log.
// Files go to $TMPDIR (default /tmp); the fsync figures depend entirely on that filesystem.

#include <benchmark/benchmark.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "gateway/audit/audit_log.h"
#include "gateway/audit/hash_chain.h"
#include "gateway/audit/verify.h"
#include "portcullis/audit.h"

namespace portcullis::audit {
namespace {

std::string TempPath(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  std::string path = std::string(dir && *dir ? dir : "/tmp") + "/portcullis-bench-" +
                     std::to_string(getpid()) + "-" + name;
  return path;
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU time of this process's thread named `name` (the audit writer is "audit"), read through
// the kernel's per-thread CPU clock: the figure that a busy, shared machine does not move.
double NamedThreadCpuSeconds(const std::string& name) {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) {
    return 0;
  }
  double seconds = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') {
      continue;
    }
    std::ifstream comm(std::string("/proc/self/task/") + entry->d_name + "/comm");
    std::string task_name;
    std::getline(comm, task_name);
    if (task_name != name) {
      continue;
    }
    const pid_t tid = static_cast<pid_t>(std::atoi(entry->d_name));
    // MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) from the kernel's posix-timers.h.
    const clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);
    timespec ts;
    if (clock_gettime(clock, &ts) == 0) {
      seconds = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
    }
  }
  closedir(dir);
  return seconds;
}

void RemoveLog(const std::string& path, uint32_t keep) {
  unlink(path.c_str());
  for (uint32_t i = 1; i <= keep; ++i) {
    unlink((path + "." + std::to_string(i)).c_str());
  }
}

// What the gateway writes for one proxied tools/call.
Record RequestRecord(uint64_t n) {
  Record r("mcp.request");
  r.Str("conn", "r0-c17")
      .Str("peer", "127.0.0.1:51234")
      .Begin("identity")
      .Str("cn", "agent-1")
      .Str("spiffe_id", "spiffe://example.org/ns/ci/sa/agent")
      .Str("fingerprint_sha256", "3f0c6a1e5b9d2c7f8e4a6b1d0c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e")
      .End()
      .Str("server", "everything")
      .Str("method", "tools/call")
      .Str("tool", "echo")
      .Str("id", "42")
      .Str("decision", "allow")
      .Str("rule", "ci-agents")
      .Int("status", 200)
      .Uint("latency_us", 1234)
      .Uint("bytes", 512 + n % 7);
  return r;
}

void BM_AuditRecordBuild(benchmark::State& state) {
  uint64_t n = 0;
  for (auto _ : state) {
    Record r = RequestRecord(++n);
    std::string json = r.TakeOpenJson();
    benchmark::DoNotOptimize(json);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AuditRecordBuild);

void BM_AuditSeal(benchmark::State& state) {
  const std::string open_json = RequestRecord(1).TakeOpenJson();
  ChainPosition pos;
  std::string line;
  for (auto _ : state) {
    line.assign(open_json);
    SealRecord(&pos, &line);
    benchmark::DoNotOptimize(line);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(line.size()));
}
BENCHMARK(BM_AuditSeal);

// Build + Write on the producer ("reactor") thread while the queue has room: batches of 1024
// (queue 8192) are timed; the writer catches up, untimed, between batches.
void BM_AuditReactorCost(benchmark::State& state) {
  const std::string path = TempPath("reactor.jsonl");
  AuditOptions options;
  options.path = path;
  options.fsync = FsyncPolicy::kNone;
  options.rotate_mb = 1024;
  Result<std::unique_ptr<AuditLog>> log = AuditLog::Open(options);
  if (!log.ok()) {
    state.SkipWithError(log.error().c_str());
    return;
  }
  constexpr int kBatch = 1024;
  uint64_t n = 0;
  double cpu = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    const double cpu_start = ThreadCpuSeconds();
    for (int i = 0; i < kBatch; ++i) {
      (*log)->Write(RequestRecord(++n));
    }
    cpu += ThreadCpuSeconds() - cpu_start;
    auto elapsed = std::chrono::steady_clock::now() - start;
    state.SetIterationTime(std::chrono::duration<double>(elapsed).count() / kBatch);
    (*log)->Flush();
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["cpu_ns_per_record"] = cpu * 1e9 / static_cast<double>(n);
  log->reset();
  RemoveLog(path, 0);
}
BENCHMARK(BM_AuditReactorCost)->UseManualTime()->Iterations(200);

// The same for a lone record while the writer is asleep: Write() then also pays the futex
// wake-up of the writer thread (a quiet gateway's case).
void BM_AuditReactorCostIdleWriter(benchmark::State& state) {
  const std::string path = TempPath("idle.jsonl");
  AuditOptions options;
  options.path = path;
  options.fsync = FsyncPolicy::kNone;
  Result<std::unique_ptr<AuditLog>> log = AuditLog::Open(options);
  if (!log.ok()) {
    state.SkipWithError(log.error().c_str());
    return;
  }
  uint64_t n = 0;
  double cpu = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    const double cpu_start = ThreadCpuSeconds();
    (*log)->Write(RequestRecord(++n));
    cpu += ThreadCpuSeconds() - cpu_start;
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    (*log)->Flush();
    usleep(200);  // let the writer go back to sleep
  }
  state.counters["cpu_ns_per_record"] = cpu * 1e9 / static_cast<double>(n);
  log->reset();
  RemoveLog(path, 0);
}
BENCHMARK(BM_AuditReactorCostIdleWriter)->UseManualTime()->Iterations(2000);

// End to end into a file: producer writes as fast as it can, then Flush(); records per second
// of the whole pipe (queue, seal, write, fsync per policy).
void BM_AuditFileThroughput(benchmark::State& state) {
  const auto policy = static_cast<FsyncPolicy>(state.range(0));
  const std::string path = TempPath("throughput.jsonl");
  AuditOptions options;
  options.path = path;
  options.fsync = policy;
  options.rotate_mb = 64;
  options.keep = 2;
  Result<std::unique_ptr<AuditLog>> log = AuditLog::Open(options);
  if (!log.ok()) {
    state.SkipWithError(log.error().c_str());
    return;
  }
  const int batch = policy == FsyncPolicy::kAlways ? 200 : 20000;
  uint64_t n = 0;
  const double writer_cpu_start = NamedThreadCpuSeconds("audit");
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) {
      (*log)->Write(RequestRecord(++n));
    }
    (*log)->Flush();
  }
  const double writer_cpu = NamedThreadCpuSeconds("audit") - writer_cpu_start;
  state.SetItemsProcessed(state.iterations() * batch);
  // The writer thread's own cost: records per second it could sustain on one core.
  state.counters["writer_cpu_ns_per_record"] = writer_cpu * 1e9 / static_cast<double>(n);
  state.counters["records_per_writer_cpu_s"] = static_cast<double>(n) / writer_cpu;
  state.SetLabel(std::string(FsyncPolicyName(policy)));
  log->reset();
  RemoveLog(path, 2);
}
BENCHMARK(BM_AuditFileThroughput)
    ->Arg(static_cast<int>(FsyncPolicy::kNone))
    ->Arg(static_cast<int>(FsyncPolicy::kInterval))
    ->Arg(static_cast<int>(FsyncPolicy::kAlways))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_AuditVerify(benchmark::State& state) {
  const std::string path = TempPath("verify.jsonl");
  constexpr int kRecords = 100000;
  {
    AuditOptions options;
    options.path = path;
    options.fsync = FsyncPolicy::kNone;
    Result<std::unique_ptr<AuditSink>> log = OpenAuditLog(options);
    if (!log.ok()) {
      state.SkipWithError(log.error().c_str());
      return;
    }
    for (int i = 0; i < kRecords; ++i) {
      (*log)->Write(RequestRecord(static_cast<uint64_t>(i)));
    }
  }
  for (auto _ : state) {
    VerifyResult result = VerifyAuditFiles({path});
    if (!result.ok()) {
      state.SkipWithError(result.error.c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
  RemoveLog(path, 0);
}
BENCHMARK(BM_AuditVerify)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace portcullis::audit
