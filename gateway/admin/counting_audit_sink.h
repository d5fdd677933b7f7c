// CountingAuditSink: an AuditSink in front of the real one that counts the records handed to it,
// for portcullis_audit_records_total.
//
// The AuditSink interface does not expose the writer's queue depth (AuditLog keeps it inside
// its ChainSink), so /metrics shows records handed over and, when the sink is an AuditLog, its
// write errors; not the queue depth. Thread-safe like the sink it wraps: Write() may be called
// from any thread; the counter is one relaxed atomic (the audit path already takes spdlog's
// queue lock, so this adds no new contention that matters).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "gateway/audit/audit_log.h"
#include "portcullis/audit.h"

namespace portcullis::admin {

class CountingAuditSink final : public audit::AuditSink {
 public:
  explicit CountingAuditSink(std::shared_ptr<audit::AuditSink> inner)
      : inner_(std::move(inner)), log_(dynamic_cast<audit::AuditLog*>(inner_.get())) {}

  void Write(audit::Record record) override {
    inner_->Write(std::move(record));
    records_.fetch_add(1, std::memory_order_relaxed);
  }
  void Flush() override { inner_->Flush(); }

  // Records accepted by the sink (queued for its writer thread) so far.
  uint64_t records() const { return records_.load(std::memory_order_relaxed); }
  // Failed writes of the audit file, when the sink can tell (an AuditLog); else nullopt.
  std::optional<uint64_t> write_errors() const {
    if (log_ == nullptr) {
      return std::nullopt;
    }
    return log_->write_errors();
  }
  // Records queued and not yet written, when the sink can tell.
  std::optional<uint64_t> queue_depth() const {
    if (log_ == nullptr) {
      return std::nullopt;
    }
    return log_->queue_depth();
  }

 private:
  std::shared_ptr<audit::AuditSink> inner_;
  audit::AuditLog* log_;
  std::atomic<uint64_t> records_{0};
};

}  // namespace portcullis::admin
