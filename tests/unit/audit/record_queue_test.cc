// RecordQueue with real threads: order across producers, blocking when full, Flush, Close.
// Every wait is bounded; nothing asserts on timing.

#include "gateway/audit/record_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace portcullis::audit {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kBound = std::chrono::seconds(20);

// Polls `done` until true or kBound has passed; returns its last value.
template <typename Pred>
bool WaitUntil(Pred done) {
  const auto until = Clock::now() + kBound;
  while (!done()) {
    if (Clock::now() > until) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A consumer thread that takes batches until the queue is closed, keeping every record in the
// order taken, and acknowledges flushes after "writing" (appending to taken).
class Consumer {
 public:
  explicit Consumer(RecordQueue* queue) : queue_(queue), thread_([this] { Run(); }) {}
  ~Consumer() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  void Join() { thread_.join(); }

  std::vector<std::string> taken() {
    std::lock_guard<std::mutex> lock(mu_);
    return taken_;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return taken_.size();
  }
  uint64_t batches() const { return batches_.load(); }

 private:
  void Run() {
    RecordQueue::Batch batch;
    while (true) {
      queue_->Take(&batch, Clock::now() + std::chrono::milliseconds(50));
      if (!batch.records.empty()) {
        batches_.fetch_add(1);
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (std::string& r : batch.records) {
          taken_.push_back(std::move(r));
        }
      }
      if (batch.flush) {
        queue_->Flushed(batch.flush_ticket);
      }
      if (batch.closed) {
        return;
      }
    }
  }

  RecordQueue* queue_;
  std::mutex mu_;
  std::vector<std::string> taken_;
  std::atomic<uint64_t> batches_{0};
  std::thread thread_;
};

std::string Rec(int producer, int i) { return std::to_string(producer) + ":" + std::to_string(i); }

TEST(RecordQueue, KeepsEachProducersOrderAndLosesNothingAcrossManyThreads) {
  RecordQueue queue(64, std::chrono::microseconds(500));  // small: producers block often
  Consumer consumer(&queue);
  constexpr int kProducers = 8;
  constexpr int kEach = 20000;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&queue, p] {
      for (int i = 0; i < kEach; ++i) {
        queue.Push(Rec(p, i));
      }
    });
  }
  for (auto& t : producers) {
    t.join();
  }
  queue.Flush();
  EXPECT_EQ(consumer.count(), size_t{kProducers} * kEach);
  queue.Close();
  consumer.Join();

  std::map<int, int> next;  // producer → the i expected next
  for (const std::string& r : consumer.taken()) {
    const size_t colon = r.find(':');
    ASSERT_NE(colon, std::string::npos);
    const int p = std::stoi(r.substr(0, colon));
    const int i = std::stoi(r.substr(colon + 1));
    ASSERT_EQ(i, next[p]) << "producer " << p << " out of order";
    next[p] = i + 1;
  }
  ASSERT_EQ(next.size(), size_t{kProducers});
  for (const auto& [p, n] : next) {
    EXPECT_EQ(n, kEach) << "producer " << p;
  }
  EXPECT_EQ(queue.depth(), 0u);
}

TEST(RecordQueue, SingleProducerOrderIsExactlyPushOrder) {
  RecordQueue queue(1000, std::chrono::microseconds(1000));
  Consumer consumer(&queue);
  for (int i = 0; i < 50000; ++i) {
    queue.Push(Rec(0, i));
  }
  queue.Close();
  consumer.Join();
  std::vector<std::string> taken = consumer.taken();
  ASSERT_EQ(taken.size(), 50000u);
  for (int i = 0; i < 50000; ++i) {
    ASSERT_EQ(taken[static_cast<size_t>(i)], Rec(0, i));
  }
}

TEST(RecordQueue, ProducerBlocksWhenFullAndResumesWhenTheConsumerTakes) {
  constexpr size_t kCapacity = 4;
  RecordQueue queue(kCapacity, std::chrono::microseconds(0));
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (int i = 0; i < 10; ++i) {
      queue.Push(Rec(0, i));
      pushed.fetch_add(1);
    }
  });
  // No consumer yet: the queue fills and the producer's fifth Push cannot return.
  ASSERT_TRUE(WaitUntil([&] { return queue.depth() == kCapacity; }));
  ASSERT_TRUE(WaitUntil([&] { return pushed.load() == static_cast<int>(kCapacity); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // give a wrong Push the chance
  EXPECT_EQ(pushed.load(), static_cast<int>(kCapacity));
  EXPECT_EQ(queue.depth(), kCapacity);

  // Take one batch by hand: everything queued, then the producer goes on.
  RecordQueue::Batch batch;
  queue.Take(&batch, Clock::now() + kBound);
  ASSERT_EQ(batch.records.size(), kCapacity);
  for (size_t i = 0; i < kCapacity; ++i) {
    EXPECT_EQ(batch.records[i], Rec(0, static_cast<int>(i)));
  }
  EXPECT_FALSE(batch.closed);
  ASSERT_TRUE(WaitUntil([&] { return pushed.load() == 8; }));  // refilled, blocked again
  queue.Take(&batch, Clock::now() + kBound);
  ASSERT_EQ(batch.records.size(), kCapacity);
  EXPECT_EQ(batch.records.front(), Rec(0, 4));
  producer.join();  // the last two fit
  queue.Take(&batch, Clock::now() + kBound);
  ASSERT_EQ(batch.records.size(), 2u);
  EXPECT_EQ(batch.records.back(), Rec(0, 9));
}

TEST(RecordQueue, AFullQueueCutsTheLingerShort) {
  // A linger far beyond the test's bound: only a full queue can end it in time. Should it not,
  // Close() releases the consumer after the bound and the test fails instead of hanging.
  constexpr size_t kCapacity = 8;
  RecordQueue queue(kCapacity, std::chrono::hours(1));
  std::atomic<size_t> taken{0};
  std::thread consumer([&] {
    RecordQueue::Batch batch;
    while (taken.load() < kCapacity) {
      queue.Take(&batch, Clock::now() + kBound);
      taken.fetch_add(batch.records.size());
      if (batch.closed) {
        return;
      }
    }
  });
  for (size_t i = 0; i < kCapacity; ++i) {
    queue.Push(Rec(0, static_cast<int>(i)));
  }
  EXPECT_TRUE(WaitUntil([&] { return taken.load() == kCapacity; }));
  queue.Close();
  consumer.join();
  EXPECT_EQ(taken.load(), kCapacity);
}

TEST(RecordQueue, FlushWaitsForEverythingPushedBeforeIt) {
  // A long linger: Flush must end it rather than wait it out.
  RecordQueue queue(100000, std::chrono::hours(1));
  Consumer consumer(&queue);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int p = 0; p < 4; ++p) {
    threads.emplace_back([&, p] {
      for (int round = 1; round <= 20; ++round) {
        for (int i = 0; i < 100; ++i) {
          queue.Push(Rec(p, round * 1000 + i));
        }
        queue.Flush();
        // This thread's last record has been taken and acknowledged.
        std::vector<std::string> taken = consumer.taken();
        bool found = false;
        for (const std::string& r : taken) {
          found = found || r == Rec(p, round * 1000 + 99);
        }
        if (!found) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(consumer.count(), 4u * 20 * 100);
  queue.Close();
  consumer.Join();
}

TEST(RecordQueue, FlushOnAnEmptyQueueReturns) {
  RecordQueue queue(4, std::chrono::milliseconds(1));
  Consumer consumer(&queue);
  queue.Flush();
  queue.Flush();
  queue.Close();
  consumer.Join();
  EXPECT_EQ(consumer.count(), 0u);
}

TEST(RecordQueue, CloseHandsOverEverythingLeftAsTheLastBatch) {
  RecordQueue queue(1000, std::chrono::hours(1));
  for (int i = 0; i < 500; ++i) {
    queue.Push(Rec(0, i));
  }
  EXPECT_EQ(queue.depth(), 500u);
  queue.Close();
  RecordQueue::Batch batch;
  queue.Take(&batch, Clock::now() + kBound);  // neither waits nor lingers
  EXPECT_TRUE(batch.closed);
  ASSERT_EQ(batch.records.size(), 500u);
  EXPECT_EQ(batch.records.front(), Rec(0, 0));
  EXPECT_EQ(batch.records.back(), Rec(0, 499));
  EXPECT_EQ(queue.depth(), 0u);
}

TEST(RecordQueue, CloseDrainsWhileTheConsumerRuns) {
  RecordQueue queue(16, std::chrono::microseconds(200));
  Consumer consumer(&queue);
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&queue, p] {
      for (int i = 0; i < 5000; ++i) {
        queue.Push(Rec(p, i));
      }
    });
  }
  for (auto& t : producers) {
    t.join();
  }
  queue.Close();  // no Flush: Close alone must bring everything out
  consumer.Join();
  EXPECT_EQ(consumer.count(), 4u * 5000);
}

TEST(RecordQueue, TakeReturnsEmptyAtTheDeadline) {
  RecordQueue queue(4, std::chrono::milliseconds(1));
  RecordQueue::Batch batch;
  batch.records.push_back("stale");
  queue.Take(&batch, Clock::now() + std::chrono::milliseconds(5));
  EXPECT_TRUE(batch.records.empty());
  EXPECT_FALSE(batch.flush);
  EXPECT_FALSE(batch.closed);
}

}  // namespace
}  // namespace portcullis::audit
