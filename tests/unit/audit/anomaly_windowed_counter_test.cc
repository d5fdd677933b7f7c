#include "gateway/audit/windowed_counter.h"

#include <string>

#include <gtest/gtest.h>

namespace portcullis::audit {
namespace {

TEST(WindowedCounter, FiresExactlyAtThreshold) {
  WindowedCounter counter(5, 60, 100);
  for (int i = 0; i < 4; ++i) {
    EXPECT_FALSE(counter.Add("10.0.0.1", 1.0 + i)) << i;
  }
  auto burst = counter.Add("10.0.0.1", 5.0);
  ASSERT_TRUE(burst);
  EXPECT_EQ(burst->subject, "10.0.0.1");
  EXPECT_EQ(burst->count, 5u);
  EXPECT_EQ(burst->current_window_count, 5u);
  EXPECT_EQ(burst->previous_window_count, 0u);
  EXPECT_FALSE(burst->overflow);
}

TEST(WindowedCounter, StaysQuietBelowThresholdInEveryWindow) {
  WindowedCounter counter(5, 60, 100);
  // Four events per window, windows far apart: never five within 60 s.
  for (int window = 0; window < 20; ++window) {
    for (int i = 0; i < 4; ++i) {
      EXPECT_FALSE(counter.Add("10.0.0.1", window * 200.0 + i));
    }
  }
}

TEST(WindowedCounter, FloodAtOneInstantFiresOnce) {
  WindowedCounter counter(10, 60, 100);
  int fired = 0;
  for (int i = 0; i < 10000; ++i) {
    if (counter.Add("10.0.0.1", 42.0)) {
      ++fired;
    }
  }
  EXPECT_EQ(fired, 1);
}

TEST(WindowedCounter, SteadyFloodFiresOncePerWindow) {
  WindowedCounter counter(10, 60, 100);
  int fired = 0;
  // 10,000 events spread evenly over five 60-second windows.
  for (int i = 0; i < 10000; ++i) {
    if (counter.Add("10.0.0.1", i * 300.0 / 10000)) {
      ++fired;
    }
  }
  EXPECT_EQ(fired, 5);
}

TEST(WindowedCounter, NewWindowCanFireAgain) {
  WindowedCounter counter(3, 60, 100);
  EXPECT_FALSE(counter.Add("a", 0));
  EXPECT_FALSE(counter.Add("a", 1));
  EXPECT_TRUE(counter.Add("a", 2));
  EXPECT_FALSE(counter.Add("a", 3));
  // Two windows later the old events no longer count: the threshold must be reached again.
  EXPECT_FALSE(counter.Add("a", 130));
  EXPECT_FALSE(counter.Add("a", 131));
  auto burst = counter.Add("a", 132);
  ASSERT_TRUE(burst);
  EXPECT_EQ(burst->count, 3u);
}

TEST(WindowedCounter, BurstStraddlingWindowBoundaryIsCaught) {
  WindowedCounter counter(10, 60, 100);
  EXPECT_FALSE(counter.Add("a", 0));  // the window starts here: [0, 60), [60, 120)
  for (int i = 0; i < 8; ++i) {
    EXPECT_FALSE(counter.Add("a", 59));
  }
  // 9 events at the end of one window, then more just after the boundary: fixed windows
  // would see 9 and 2; the last 60 seconds hold 11.
  EXPECT_FALSE(counter.Add("a", 61));  // 1 + 9 * (59/60) = 9.85
  auto burst = counter.Add("a", 61);   // 2 + 8.85
  ASSERT_TRUE(burst);
  EXPECT_EQ(burst->count, 10u);
  EXPECT_EQ(burst->current_window_count, 2u);
  EXPECT_EQ(burst->previous_window_count, 9u);
}

TEST(WindowedCounter, SubjectsAreCountedApart) {
  WindowedCounter counter(3, 60, 100);
  EXPECT_FALSE(counter.Add("a", 0));
  EXPECT_FALSE(counter.Add("b", 0));
  EXPECT_FALSE(counter.Add("a", 0));
  EXPECT_FALSE(counter.Add("b", 0));
  EXPECT_TRUE(counter.Add("a", 0));
  EXPECT_TRUE(counter.Add("b", 0));
}

TEST(WindowedCounter, MaxSubjectsBoundsMemoryAndOverflowStillFires) {
  WindowedCounter counter(10, 60, 100);
  int overflow_bursts = 0;
  for (int i = 0; i < 10000; ++i) {
    auto burst = counter.Add("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256), 5);
    if (burst) {
      EXPECT_TRUE(burst->overflow);
      EXPECT_EQ(burst->subject, WindowedCounter::kOverflowSubject);
      ++overflow_bursts;
    }
    ASSERT_LE(counter.size(), 100u);
  }
  // A flood spread over many addresses is still one record per window.
  EXPECT_EQ(overflow_bursts, 1);
  // Once the tracked subjects' windows have passed, a sweep makes room again.
  EXPECT_FALSE(counter.Add("fresh", 500));
  for (int i = 0; i < 8; ++i) {
    EXPECT_FALSE(counter.Add("fresh", 500));
  }
  auto burst = counter.Add("fresh", 500);
  ASSERT_TRUE(burst);
  EXPECT_FALSE(burst->overflow);
  EXPECT_EQ(burst->subject, "fresh");
  EXPECT_LE(counter.size(), 100u);
}

TEST(WindowedCounter, ZeroThresholdIsOff) {
  WindowedCounter counter(0, 60, 100);
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(counter.Add("a", 0));
  }
  EXPECT_EQ(counter.size(), 0u);
}

TEST(WindowedCounter, TimeGoingBackwardsCountsAsNoTimePassing) {
  WindowedCounter counter(3, 60, 100);
  EXPECT_FALSE(counter.Add("a", 1000));
  EXPECT_FALSE(counter.Add("a", 10));
  EXPECT_TRUE(counter.Add("a", -5));
}

TEST(WindowedCounter, SamplesAreCountedCutAndCapped) {
  WindowedCounter counter(100, 60, 10);
  std::string huge(100000, 'x');
  counter.Add("a", 0, "CERTIFICATE_EXPIRED");
  counter.Add("a", 0, "CERTIFICATE_EXPIRED");
  counter.Add("a", 0, huge);
  for (int i = 0; i < 20; ++i) {
    counter.Add("a", 0, "reason" + std::to_string(i));
  }
  for (int i = 0; i < 76; ++i) {
    counter.Add("a", 0);
  }
  auto burst = counter.Add("a", 0, "CERTIFICATE_EXPIRED");
  ASSERT_TRUE(burst);
  ASSERT_EQ(burst->samples.size(), WindowedCounter::kMaxSamples);
  EXPECT_EQ(burst->samples[0].first, "CERTIFICATE_EXPIRED");
  EXPECT_EQ(burst->samples[0].second, 3u);
  EXPECT_EQ(burst->samples[1].first.size(), WindowedCounter::kMaxSampleBytes);
  EXPECT_EQ(burst->samples[2].first, "reason0");
}

}  // namespace
}  // namespace portcullis::audit
