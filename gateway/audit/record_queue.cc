#include "gateway/audit/record_queue.h"

#include <algorithm>
#include <utility>

namespace portcullis::audit {

RecordQueue::RecordQueue(size_t capacity, std::chrono::microseconds linger)
    : capacity_(std::max<size_t>(capacity, 1)), linger_(linger) {
  // The first batches then need no reallocation under the lock (the two vectors trade places).
  records_.reserve(std::min<size_t>(capacity_, 1024));
}

void RecordQueue::Push(std::string record) {
  bool wake = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (records_.size() >= capacity_) {
      // Full: the consumer must take a batch now, lingering or not.
      if (consumer_ != Consumer::kBusy) {
        consumer_ = Consumer::kBusy;
        work_cv_.notify_one();
      }
      ++blocked_producers_;
      space_cv_.wait(lock);
      --blocked_producers_;
    }
    records_.push_back(std::move(record));
    depth_.store(records_.size(), std::memory_order_relaxed);
    // Only a sleeping consumer needs a wake-up (a futex), or a lingering one once the queue is
    // full; a busy one looks at the queue by itself when it is done.
    if (consumer_ == Consumer::kIdle ||
        (consumer_ == Consumer::kLingering && records_.size() >= capacity_)) {
      consumer_ = Consumer::kBusy;
      wake = true;
    }
  }
  if (wake) {
    work_cv_.notify_one();
  }
}

void RecordQueue::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t ticket = ++flush_requested_;
  if (consumer_ != Consumer::kBusy) {
    consumer_ = Consumer::kBusy;
    work_cv_.notify_one();
  }
  flush_cv_.wait(lock, [&] { return flush_done_ >= ticket; });
}

void RecordQueue::Take(Batch* batch, std::chrono::steady_clock::time_point deadline) {
  batch->records.clear();
  bool wake_producers = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (records_.empty() && !FlushWanted() && !closed_) {
      consumer_ = Consumer::kIdle;
      if (deadline == std::chrono::steady_clock::time_point::max()) {
        work_cv_.wait(lock);
      } else if (work_cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
        break;
      }
    }
    // Records but no hurry: let more arrive, so that one write(2) and one wake-up serve many.
    if (linger_.count() > 0 && !records_.empty() && !FlushWanted() && !closed_ &&
        records_.size() < capacity_) {
      consumer_ = Consumer::kLingering;
      work_cv_.wait_for(lock, linger_,
                        [&] { return FlushWanted() || closed_ || records_.size() >= capacity_; });
    }
    consumer_ = Consumer::kBusy;
    records_.swap(batch->records);
    depth_.store(0, std::memory_order_relaxed);
    batch->flush = FlushWanted();
    batch->flush_ticket = flush_requested_;
    batch->closed = closed_;
    wake_producers = blocked_producers_ > 0;
  }
  if (wake_producers) {
    space_cv_.notify_all();
  }
}

void RecordQueue::Flushed(uint64_t ticket) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    flush_done_ = std::max(flush_done_, ticket);
  }
  flush_cv_.notify_all();
}

void RecordQueue::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  work_cv_.notify_one();
}

}  // namespace portcullis::audit
