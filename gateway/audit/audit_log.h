// AuditLog: the AuditSink behind OpenAuditLog() — a RecordQueue feeding one writer thread that
// seals records into the hash chain (ChainSink) and appends them to the AuditFile.
//
// Producers (reactors, the control thread) call Write(): the record's open JSON is moved into
// the bounded RecordQueue (policy *block*: a full queue makes the producer wait, a record is
// never dropped; DESIGN §3) and the call returns; the writer thread is woken only if it sleeps.
// The writer ("audit") takes the whole queue at once, seals the records in queue order (seq,
// prev, hash; hash_chain.h), so the chain's order is the order of Write() calls, and hands the
// batch to the kernel with one write(2). Under fsync "always" each record is instead written and
// fdatasynced before the next one is sealed.
//
// Batching delay: once woken, the writer lingers up to kLinger (1 ms) for more records before
// taking the batch (not under "always"), so a record may reach the kernel up to ~1 ms later
// than with one write per record; Flush(), destruction and a full queue cut the linger short.
// The writer also runs the periodic flush (flush_interval_ms: write-out, and fdatasync under
// "interval"/"always"). Write() and Flush() are thread-safe; the destructor must not race with
// them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gateway/audit/file_sink.h"
#include "gateway/audit/hash_chain.h"
#include "gateway/audit/record_queue.h"
#include "portcullis/audit.h"
#include "portcullis/result.h"

namespace portcullis::audit {

// Seals records into the chain and appends them to the AuditFile. Used by the writer thread
// only (and by Open() before that thread starts); position() and write_errors() from any thread.
class ChainSink {
 public:
  ChainSink(std::unique_ptr<AuditFile> file, FsyncPolicy fsync);

  ChainSink(const ChainSink&) = delete;
  ChainSink& operator=(const ChainSink&) = delete;

  // Seals and writes one record at once (write-out, and fdatasync unless kNone); used before
  // the writer starts, for "audit.recovered".
  void WriteNow(std::string_view open_json);
  // Seals each record in order and writes them out with one write(2) (more only at rotation or
  // past AuditFile::kWriteOutBytes). kAlways: each record is written and fdatasynced before the
  // next is sealed.
  void WriteBatch(std::vector<std::string>* records);
  // Writes out anything buffered; with `sync`, fdatasync after (the file skips it when nothing
  // was written since the last one).
  void WriteOut(bool sync);

  // Where the chain stands now.
  ChainPosition position();
  uint64_t write_errors() const { return write_errors_.load(); }

 private:
  void Append(std::string_view line);
  // Errors go to the human log, at most one line per 10 s (a full disk would otherwise flood).
  void Report(const Status& status);

  std::unique_ptr<AuditFile> file_;
  const FsyncPolicy fsync_;
  std::mutex chain_mu_;  // guards chain_ and line_ (the writer takes it once per batch)
  ChainPosition chain_;
  std::string line_;  // the record being sealed; reused

  std::atomic<uint64_t> write_errors_{0};
  std::chrono::steady_clock::time_point last_report_{};
  uint64_t unreported_errors_ = 0;
};

class AuditLog final : public AuditSink {
 public:
  // How long the writer, once woken, waits for more records before writing a batch.
  static constexpr std::chrono::milliseconds kLinger{1};

  static Result<std::unique_ptr<AuditLog>> Open(const AuditOptions& options);
  // Writes out everything written before (as Flush()), stops the writer thread, closes the file.
  ~AuditLog() override;

  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void Write(Record record) override;
  void Flush() override;

  // The chain's position after everything written so far has been sealed (flushes first).
  ChainPosition Position();
  uint64_t write_errors() const { return sink_->write_errors(); }
  // Records queued for the writer thread now (not yet taken into a batch). Any thread.
  uint64_t queue_depth() const { return queue_ ? queue_->depth() : 0; }

 private:
  AuditLog() = default;
  void Run(std::chrono::milliseconds flush_interval);

  std::unique_ptr<ChainSink> sink_;
  std::unique_ptr<RecordQueue> queue_;
  FsyncPolicy fsync_ = FsyncPolicy::kInterval;
  std::thread writer_;
};

}  // namespace portcullis::audit
