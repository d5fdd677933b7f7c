// RecordQueue: the bounded hand-off of audit records from the threads that produce them
// (reactors, the control thread) to the one thread that seals and writes them.
//
// Producers Push() a record's open JSON (a string move under a short mutex). The consumer is
// woken only when it is asleep: a flag under the same mutex tells whether it waits for work, so
// under load a Push costs no system call at all. Once awake, the consumer lingers up to
// `linger` (≤ a few ms; AuditLog uses 1 ms) to let a batch gather, then takes everything queued
// at once (a swap of two vectors) and writes the batch with one write(2). The linger is the only
// delay batching adds; Flush(), Close() and a full queue end it early.
//
// Bounded, overflow policy *block* (DESIGN §3): Push() on a full queue waits for the consumer
// to take the batch; a record is never dropped. `capacity` bounds the records waiting; the batch
// the consumer is writing has left the queue (so at most 2 × capacity records are in memory).
// Records leave in exactly the order they were pushed (the order of Push's critical sections).
//
// Flush() is a ticket handshake: it waits until the consumer has taken a batch after the call
// began and reported it written (Flushed()), so everything pushed before Flush() is written.
//
// Thread-safety: Push(), Flush() and depth() from any thread; Take() and Flushed() from the one
// consumer thread only; Close() once, when no Push() or Flush() can still come.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace portcullis::audit {

class RecordQueue {
 public:
  // `capacity` ≥ 1: records that may wait before Push() blocks. `linger`: how long the consumer
  // waits, once woken, for more records before taking the batch (zero: take at once).
  RecordQueue(size_t capacity, std::chrono::microseconds linger);

  RecordQueue(const RecordQueue&) = delete;
  RecordQueue& operator=(const RecordQueue&) = delete;

  // Appends one record. Blocks while `capacity` records wait; wakes the consumer if it sleeps.
  void Push(std::string record);
  // Returns once every record pushed before the call has been taken by the consumer and the
  // consumer has reported that batch (or a later one) Flushed().
  void Flush();
  // Records waiting now (not yet taken). Any thread, lock-free; for the queue-depth metric.
  size_t depth() const { return depth_.load(std::memory_order_relaxed); }

  // What Take() hands the consumer.
  struct Batch {
    std::vector<std::string> records;  // in push order; may be empty
    // Some Flush() waits: after writing `records` out (and syncing, per policy), the consumer
    // calls Flushed(flush_ticket).
    bool flush = false;
    uint64_t flush_ticket = 0;
    bool closed = false;  // Close() was called and nothing is left: this is the last batch
  };

  // Consumer: waits until records, a Flush(), Close() or `deadline` (whichever first), lingers
  // as above when it was records, and moves everything queued into batch->records (whose old
  // contents are discarded; its storage is reused). Returns with an empty batch at `deadline`.
  void Take(Batch* batch, std::chrono::steady_clock::time_point deadline);
  // Consumer: the batch that carried `ticket` is written; wakes the Flush() calls it covers.
  void Flushed(uint64_t ticket);
  // No more Push()/Flush(): the consumer's next Take() returns everything left, marked closed.
  void Close();

 private:
  enum class Consumer { kBusy, kIdle, kLingering };

  bool FlushWanted() const { return flush_requested_ > flush_done_; }

  const size_t capacity_;
  const std::chrono::microseconds linger_;

  std::mutex mu_;
  std::condition_variable work_cv_;   // the consumer waits here
  std::condition_variable space_cv_;  // producers wait here while the queue is full
  std::condition_variable flush_cv_;  // Flush() waits here
  std::vector<std::string> records_;  // guarded by mu_
  Consumer consumer_ = Consumer::kBusy;
  size_t blocked_producers_ = 0;
  uint64_t flush_requested_ = 0;  // tickets handed out by Flush()
  uint64_t flush_done_ = 0;       // every ticket up to this one is written
  bool closed_ = false;
  std::atomic<size_t> depth_{0};  // records_.size(), published for depth()
};

}  // namespace portcullis::audit
