#include "gateway/audit/audit_log.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <exception>

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
  std::lock_guard<std::mutex> lock(mutex_);
  Seal(open_json);
  if (Status s = file_->WriteOut(fsync_ != FsyncPolicy::kNone); !s.ok()) {
    Report(s);
  }
}

ChainPosition ChainSink::position() {
  std::lock_guard<std::mutex> lock(mutex_);
  return chain_;
}

void ChainSink::Seal(std::string_view open_json) {
  line_.assign(open_json);
  SealRecord(&chain_, &line_);
  if (Status s = file_->Append(line_); !s.ok()) {
    Report(s);
  }
}

void ChainSink::sink_it_(const spdlog::details::log_msg& msg) {
  Seal(std::string_view(msg.payload.data(), msg.payload.size()));
  const bool queue_empty = queued_.fetch_sub(1, std::memory_order_acq_rel) == 1;
  // kAlways: durable before the next record. Otherwise, when nothing else is waiting, hand
  // the batch to the kernel now, so a crash of the process (not of the machine) loses nothing
  // that was sealed.
  if (fsync_ == FsyncPolicy::kAlways || queue_empty) {
    if (Status s = file_->WriteOut(fsync_ == FsyncPolicy::kAlways); !s.ok()) {
      Report(s);
    }
  }
}

void ChainSink::flush_() {
  if (Status s = file_->WriteOut(fsync_ != FsyncPolicy::kNone); !s.ok()) {
    Report(s);
  }
  {
    std::lock_guard<std::mutex> lock(flush_mu_);
    flushes_done_ += 1;
  }
  flush_cv_.notify_all();
}

void ChainSink::WaitFlushed(uint64_t ticket) {
  std::unique_lock<std::mutex> lock(flush_mu_);
  flush_cv_.wait(lock, [&] { return flushes_done_ >= ticket; });
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
  log->sink_ = std::make_shared<ChainSink>(std::move(file).value(), options.fsync);
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
  try {
    log->pool_ = std::make_shared<spdlog::details::thread_pool>(
        options.queue_size, 1, [] { pthread_setname_np(pthread_self(), "audit"); });
    // Not registered with spdlog's registry: several logs may exist (tests), and nothing
    // global should be able to flush or drop this one.
    log->logger_ = std::make_shared<spdlog::async_logger>("audit", log->sink_, log->pool_,
                                                          spdlog::async_overflow_policy::block);
  } catch (const std::exception& e) {
    return Status::Error(std::string("audit: cannot start the writer thread: ") + e.what());
  }
  log->logger_->set_level(spdlog::level::trace);
  log->logger_->flush_on(spdlog::level::off);  // flushes are ours (timer, Flush())
  if (options.flush_interval_ms > 0) {
    AuditLog* raw = log.get();
    auto interval = std::chrono::milliseconds(options.flush_interval_ms);
    log->timer_ = std::thread([raw, interval] { raw->FlushTimer(interval); });
  }
  return log;
}

AuditLog::~AuditLog() {
  if (timer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(timer_mu_);
      stopping_ = true;
    }
    timer_cv_.notify_all();
    timer_.join();
  }
  if (logger_) {
    Flush();
  }
  pool_.reset();    // joins the worker (the queue is empty: nothing is written after Flush)
  logger_.reset();  // the worker's messages held references; now the last one is ours
  sink_.reset();    // closes the file (a last write-out and, unless kNone, fdatasync)
}

void AuditLog::Write(Record record) {
  std::string json = record.TakeOpenJson();
  sink_->RecordQueued();
  logger_->log(spdlog::level::info, spdlog::string_view_t(json.data(), json.size()));
}

void AuditLog::Flush() {
  const uint64_t ticket = sink_->TakeFlushTicket();
  logger_->flush();
  sink_->WaitFlushed(ticket);
}

ChainPosition AuditLog::Position() {
  Flush();
  return sink_->position();
}

void AuditLog::FlushTimer(std::chrono::milliseconds interval) {
  pthread_setname_np(pthread_self(), "audit-flush");
  std::unique_lock<std::mutex> lock(timer_mu_);
  while (!timer_cv_.wait_for(lock, interval, [this] { return stopping_; })) {
    lock.unlock();
    (void)sink_->TakeFlushTicket();  // nobody waits on it, but it keeps the count exact
    logger_->flush();
    lock.lock();
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
