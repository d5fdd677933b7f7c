// AuditLog: the AuditSink behind OpenAuditLog() — spdlog's async logger feeding ChainSink.
//
// Producers (reactors, the control thread) call Write(): the record's open JSON is copied into
// spdlog's bounded queue (policy *block*: a full queue makes the producer wait, a record is
// never dropped; DESIGN §3) and the call returns. One worker thread takes records in queue
// order and hands them to ChainSink, which adds seq, prev and hash (hash_chain.h) and appends
// the line to the AuditFile, so the chain's order is the file's order.
//
// Lines reach the kernel as soon as the queue runs empty (one write(2) per batch), on every
// periodic flush and on Flush(); fdatasync follows the FsyncPolicy. Write() and Flush() are
// thread-safe; the destructor must not race with them.
#pragma once

#include <spdlog/async_logger.h>
#include <spdlog/details/thread_pool.h>
#include <spdlog/sinks/base_sink.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "gateway/audit/file_sink.h"
#include "gateway/audit/hash_chain.h"
#include "portcullis/audit.h"
#include "portcullis/result.h"

namespace portcullis::audit {

// The spdlog sink that seals records into the chain. Runs on the logger's worker thread
// (base_sink's mutex serializes it); the flush bookkeeping is thread-safe.
class ChainSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  ChainSink(std::unique_ptr<AuditFile> file, FsyncPolicy fsync);

  // Seals and writes one record at once, bypassing the queue (used before the logger starts,
  // for "audit.recovered").
  void WriteNow(std::string_view open_json);

  // Flush handshake: a caller takes a ticket, then posts a flush to the logger; the worker
  // counts every flush it completes. Flushes run in queue order, so once `ticket` flushes are
  // done, one of them was queued after everything the caller had written.
  uint64_t TakeFlushTicket() { return flush_tickets_.fetch_add(1) + 1; }
  void WaitFlushed(uint64_t ticket);

  // Records queued but not yet sealed; the worker writes out when this drops to zero.
  void RecordQueued() { queued_.fetch_add(1, std::memory_order_relaxed); }

  // Where the chain stands now (takes the sink's mutex).
  ChainPosition position();
  uint64_t write_errors() const { return write_errors_.load(); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  void Seal(std::string_view open_json);
  // Errors go to the human log, at most one line per 10 s (a full disk would otherwise flood).
  void Report(const Status& status);

  std::unique_ptr<AuditFile> file_;
  const FsyncPolicy fsync_;
  ChainPosition chain_;
  std::string line_;  // reused for every record

  std::atomic<uint64_t> queued_{0};
  std::atomic<uint64_t> flush_tickets_{0};
  std::mutex flush_mu_;
  std::condition_variable flush_cv_;
  uint64_t flushes_done_ = 0;  // guarded by flush_mu_

  std::atomic<uint64_t> write_errors_{0};
  std::chrono::steady_clock::time_point last_report_{};
  uint64_t unreported_errors_ = 0;
};

class AuditLog final : public AuditSink {
 public:
  static Result<std::unique_ptr<AuditLog>> Open(const AuditOptions& options);
  // Flushes (as Flush()), stops the flush timer and the worker thread, closes the file.
  ~AuditLog() override;

  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void Write(Record record) override;
  void Flush() override;

  // The chain's position after everything written so far has been sealed (flushes first).
  ChainPosition Position();
  uint64_t write_errors() const { return sink_->write_errors(); }
  // Records (and flush markers) queued for the writer thread now. Any thread.
  uint64_t queue_depth() const { return pool_ ? pool_->queue_size() : 0; }

 private:
  AuditLog() = default;
  void FlushTimer(std::chrono::milliseconds interval);

  std::shared_ptr<ChainSink> sink_;
  std::shared_ptr<spdlog::details::thread_pool> pool_;
  std::shared_ptr<spdlog::async_logger> logger_;

  std::thread timer_;
  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  bool stopping_ = false;  // guarded by timer_mu_
};

}  // namespace portcullis::audit
