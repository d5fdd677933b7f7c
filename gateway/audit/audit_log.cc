#include "gateway/audit/audit_log.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <system_error>
#include <utility>

namespace portcullis::audit {
namespace {

constexpr size_t kMaxQueueSize = 1u << 24;
constexpr auto kReportEvery = std::chrono::seconds(10);

}  // namespace

std::optional<FsyncPolicy> ParseFsyncPolicy(std::string_view text) {
  if (text == "none") {
    return FsyncPolicy::kNone;
  }
  if (text == "interval") {
    return FsyncPolicy::kInterval;
  }
  if (text == "always") {
    return FsyncPolicy::kAlways;
  }
  return std::nullopt;
}

std::string_view FsyncPolicyName(FsyncPolicy policy) {
  switch (policy) {
    case FsyncPolicy::kNone:
      return "none";
    case FsyncPolicy::kInterval:
      return "interval";
    case FsyncPolicy::kAlways:
      return "always";
  }
  return "interval";
}

// --- ChainSink -------------------------------------------------------------------------------

ChainSink::ChainSink(std::unique_ptr<AuditFile> file, FsyncPolicy fsync)
    : file_(std::move(file)), fsync_(fsync), chain_(file_->resume().last) {}

void ChainSink::WriteNow(std::string_view open_json) {
  std::lock_guard<std::mutex> lock(chain_mu_);
  line_.assign(open_json);
  SealRecord(&chain_, &line_);
  Append(line_);
  WriteOut(fsync_ != FsyncPolicy::kNone);
}

void ChainSink::WriteBatch(std::vector<std::string>* records) {
  if (records->empty()) {
    return;
  }
  // Sealed in line_, not in place: the tail (~150 bytes) would make each record's string
  // reallocate, and the reused line_ stays in the cache.
  std::lock_guard<std::mutex> lock(chain_mu_);
  for (const std::string& record : *records) {
    line_.assign(record);
    SealRecord(&chain_, &line_);
    Append(line_);
    if (fsync_ == FsyncPolicy::kAlways) {
      // Durable before the next record is even sealed: one write and one fdatasync per record
      // (batching would let several records sit written but unsynced).
      WriteOut(true);
    }
  }
  // The batch goes to the kernel now, in one write(2), so a crash of the process (not of the
  // machine) loses nothing that was taken from the queue.
  WriteOut(false);
}

void ChainSink::Append(std::string_view line) {
  if (Status s = file_->Append(line); !s.ok()) {
    Report(s);
  }
}

void ChainSink::WriteOut(bool sync) {
  if (Status s = file_->WriteOut(sync); !s.ok()) {
    Report(s);
  }
}

ChainPosition ChainSink::position() {
  std::lock_guard<std::mutex> lock(chain_mu_);
  return chain_;
}

void ChainSink::Report(const Status& status) {
  write_errors_.fetch_add(1);
  auto now = std::chrono::steady_clock::now();
  if (last_report_ != std::chrono::steady_clock::time_point{} &&
      now - last_report_ < kReportEvery) {
    unreported_errors_ += 1;
    return;
  }
  last_report_ = now;
  if (unreported_errors_ > 0) {
    spdlog::error("audit: {} (and {} more audit write errors)", status.message(),
                  unreported_errors_);
  } else {
    spdlog::error("audit: {}", status.message());
  }
  unreported_errors_ = 0;
}

// --- AuditLog --------------------------------------------------------------------------------

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const AuditOptions& options) {
  if (options.path.empty()) {
    return Status::Error("audit: path is empty");
  }
  if (options.queue_size == 0 || options.queue_size > kMaxQueueSize) {
    return Status::Error("audit: queue_size must be between 1 and " +
                         std::to_string(kMaxQueueSize));
  }
  if (options.rotate_bytes == 0 && options.rotate_mb == 0) {
    return Status::Error("audit: rotate_mb must be at least 1");
  }
  FileOptions file_options;
  file_options.path = options.path;
  file_options.rotate_bytes = options.rotate_bytes != 0
                                  ? options.rotate_bytes
                                  : static_cast<uint64_t>(options.rotate_mb) << 20;
  file_options.keep = options.keep;
  file_options.fsync = options.fsync;
  Result<std::unique_ptr<AuditFile>> file = AuditFile::Open(file_options);
  if (!file.ok()) {
    return file.status();
  }
  const ResumePoint resume = (*file)->resume();

  std::unique_ptr<AuditLog> log(new AuditLog());
  log->fsync_ = options.fsync;
  log->sink_ = std::make_unique<ChainSink>(std::move(file).value(), options.fsync);
  if (resume.unreadable_bytes > 0) {
    // Bytes after the last record that are not records (a line torn by a crash): they stay in
    // the file, and this record vouches for exactly them (docs/AUDIT.md, "Crash recovery").
    Record recovered("audit.recovered");
    recovered.Str("reason", "the log did not end with a complete record")
        .Str("file", options.path)
        .Uint("after_seq", resume.last.seq)
        .Uint("unreadable_bytes", resume.unreadable_bytes)
        .Uint("unreadable_lines", resume.unreadable_lines)
        .Str("unreadable_sha256", resume.unreadable_sha256);
    log->sink_->WriteNow(recovered.TakeOpenJson());
  }
  // Under kAlways every record costs an fdatasync anyway; lingering would only add latency.
  const std::chrono::microseconds linger =
      options.fsync == FsyncPolicy::kAlways ? std::chrono::microseconds(0) : kLinger;
  log->queue_ = std::make_unique<RecordQueue>(options.queue_size, linger);
  try {
    AuditLog* raw = log.get();
    const auto interval = std::chrono::milliseconds(options.flush_interval_ms);
    log->writer_ = std::thread([raw, interval] { raw->Run(interval); });
  } catch (const std::system_error& e) {
    return Status::Error(std::string("audit: cannot start the writer thread: ") + e.what());
  }
  return log;
}

AuditLog::~AuditLog() {
  if (writer_.joinable()) {
    queue_->Close();  // the writer drains the queue, writes out (and syncs) and returns
    writer_.join();
  }
  sink_.reset();  // closes the file (a last write-out and, unless kNone, fdatasync)
}

void AuditLog::Write(Record record) { queue_->Push(record.TakeOpenJson()); }

void AuditLog::Flush() { queue_->Flush(); }

ChainPosition AuditLog::Position() {
  Flush();
  return sink_->position();
}

void AuditLog::Run(std::chrono::milliseconds flush_interval) {
  pthread_setname_np(pthread_self(), "audit");
  using Clock = std::chrono::steady_clock;
  const bool periodic = flush_interval.count() > 0;
  const bool sync = fsync_ != FsyncPolicy::kNone;
  Clock::time_point next_flush =
      periodic ? Clock::now() + flush_interval : Clock::time_point::max();
  RecordQueue::Batch batch;
  while (true) {
    queue_->Take(&batch, next_flush);
    sink_->WriteBatch(&batch.records);
    // The periodic flush: the write-out is done (WriteBatch), so this is the fdatasync under
    // kInterval/kAlways, and only when something was written since the last one.
    bool flush_now = batch.flush || batch.closed;
    if (periodic && Clock::now() >= next_flush) {
      flush_now = true;
      next_flush = Clock::now() + flush_interval;
    }
    if (flush_now) {
      sink_->WriteOut(sync);
    }
    if (batch.flush) {
      queue_->Flushed(batch.flush_ticket);
    }
    if (batch.closed) {
      return;
    }
  }
}

Result<std::unique_ptr<AuditSink>> OpenAuditLog(const AuditOptions& options) {
  Result<std::unique_ptr<AuditLog>> log = AuditLog::Open(options);
  if (!log.ok()) {
    return log.status();
  }
  return std::unique_ptr<AuditSink>(std::move(log).value());
}

}  // namespace portcullis::audit
