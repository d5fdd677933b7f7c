// SseEventSplitter, SseEventData and ReplaceSseEventData (gateway/mcp/sse_event_splitter.h):
// whole events out of a text/event-stream byte stream whatever its line endings (LF, CRLF, CR)
// and wherever the network cut it, within a bound on what an unfinished event may buffer.
#include "gateway/mcp/sse_event_splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace portcullis::mcp {
namespace {

constexpr size_t kBig = 1 << 20;

// What a splitter made of a stream: the events it delivered, and the rest at the end.
struct Split {
  std::vector<std::string> events;
  std::string rest;
  bool ok = true;
};

// Feeds `pieces` one Feed call each, then takes the rest.
Split FeedPieces(const std::vector<std::string_view>& pieces, size_t max = kBig) {
  SseEventSplitter splitter(max);
  Split out;
  for (std::string_view piece : pieces) {
    out.ok =
        splitter.Feed(piece, [&](std::string_view e) { out.events.emplace_back(e); }) && out.ok;
  }
  out.rest = splitter.TakeRest();
  return out;
}

Split FeedAll(std::string_view stream, size_t max = kBig) { return FeedPieces({stream}, max); }

std::string Joined(const Split& split) {
  std::string all;
  for (const std::string& e : split.events) {
    all += e;
  }
  return all + split.rest;
}

// Streams with three events each, in every line-ending style, and what the splitter must make
// of them when it sees the whole stream at once.
struct Case {
  const char* name;
  std::string stream;
  std::vector<std::string> events;  // delivered by Feed
  std::string rest;                 // left for TakeRest
};

std::vector<Case> Cases() {
  return {
      {"lf",
       "event: message\ndata: {\"a\":1}\n\n: comment\ndata: two\n\nid: 3\ndata: x\ndata: y\n\n",
       {"event: message\ndata: {\"a\":1}\n\n", ": comment\ndata: two\n\n",
        "id: 3\ndata: x\ndata: y\n\n"},
       ""},
      {"crlf",
       "event: message\r\ndata: {\"a\":1}\r\n\r\n: comment\r\ndata: two\r\n\r\nid: 3\r\ndata: "
       "x\r\ndata: y\r\n\r\n",
       {"event: message\r\ndata: {\"a\":1}\r\n\r\n", ": comment\r\ndata: two\r\n\r\n",
        "id: 3\r\ndata: x\r\ndata: y\r\n\r\n"},
       ""},
      // A CR may be the first half of a CRLF: the last CR-terminated event can only be known
      // complete when another byte comes, or at the end of the stream (TakeRest).
      {"cr",
       "event: message\rdata: {\"a\":1}\r\r: comment\rdata: two\r\rid: 3\rdata: x\rdata: y\r\r",
       {"event: message\rdata: {\"a\":1}\r\r", ": comment\rdata: two\r\r"},
       "id: 3\rdata: x\rdata: y\r\r"},
      {"mixed",
       "data: a\r\n\ndata: b\n\r\ndata: c\r\r\ndata: d\n\n",
       {"data: a\r\n\n", "data: b\n\r\n", "data: c\r\r\n", "data: d\n\n"},
       ""},
      {"unterminated last event", "data: a\n\ndata: b\n", {"data: a\n\n"}, "data: b\n"},
  };
}

TEST(SseEventSplitter, SplitsEachLineEndingStyleIntoEvents) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    Split split = FeedAll(c.stream);
    EXPECT_TRUE(split.ok);
    EXPECT_EQ(split.events, c.events);
    EXPECT_EQ(split.rest, c.rest);
  }
}

// Whatever the network does to the stream, the same events come out, byte for byte.
TEST(SseEventSplitter, SameEventsWhereverOneCutFalls) {
  for (const Case& c : Cases()) {
    for (size_t cut = 0; cut <= c.stream.size(); ++cut) {
      SCOPED_TRACE(std::string(c.name) + ", cut at " + std::to_string(cut));
      std::string_view s = c.stream;
      Split split = FeedPieces({s.substr(0, cut), s.substr(cut)});
      EXPECT_TRUE(split.ok);
      EXPECT_EQ(split.events, c.events);
      EXPECT_EQ(split.rest, c.rest);
    }
  }
}

TEST(SseEventSplitter, SameEventsWhereverTwoCutsFall) {
  for (const Case& c : Cases()) {
    std::string_view s = c.stream;
    for (size_t a = 0; a <= s.size(); ++a) {
      for (size_t b = a; b <= s.size(); ++b) {
        Split split = FeedPieces({s.substr(0, a), s.substr(a, b - a), s.substr(b)});
        ASSERT_EQ(split.events, c.events) << c.name << ", cuts at " << a << " and " << b;
        ASSERT_EQ(split.rest, c.rest) << c.name << ", cuts at " << a << " and " << b;
      }
    }
  }
}

TEST(SseEventSplitter, SameEventsFedOneByteAtATime) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < c.stream.size(); ++i) {
      bytes.push_back(std::string_view(c.stream).substr(i, 1));
    }
    Split split = FeedPieces(bytes);
    EXPECT_TRUE(split.ok);
    EXPECT_EQ(split.events, c.events);
    EXPECT_EQ(split.rest, c.rest);
  }
}

TEST(SseEventSplitter, EventIsDeliveredAsSoonAsItsBlankLineArrives) {
  SseEventSplitter splitter(kBig);
  std::vector<std::string> events;
  auto on_event = [&](std::string_view e) { events.emplace_back(e); };
  EXPECT_TRUE(splitter.Feed("data: 1\n", on_event));
  EXPECT_TRUE(events.empty());
  EXPECT_TRUE(splitter.Feed("\n", on_event));
  EXPECT_EQ(events, std::vector<std::string>{"data: 1\n\n"});
  // CRLF: complete once the blank line's LF is in.
  EXPECT_TRUE(splitter.Feed("data: 2\r\n\r", on_event));
  EXPECT_EQ(events.size(), 1u);
  EXPECT_TRUE(splitter.Feed("\n", on_event));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1], "data: 2\r\n\r\n");
  // CR only: a CR-terminated blank line is ambiguous until the next byte shows no LF follows.
  EXPECT_TRUE(splitter.Feed("data: 3\r\r", on_event));
  EXPECT_EQ(events.size(), 2u);
  EXPECT_TRUE(splitter.Feed("d", on_event));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2], "data: 3\r\r");
  EXPECT_EQ(splitter.TakeRest(), "d");
  EXPECT_EQ(splitter.TakeRest(), "");  // taken: empty now
}

TEST(SseEventSplitter, ManyEventsInOneFeed) {
  std::string stream;
  std::vector<std::string> expected;
  for (int i = 0; i < 1000; ++i) {
    std::string event = "data: " + std::to_string(i) + "\n\n";
    expected.push_back(event);
    stream += event;
  }
  Split split = FeedAll(stream);
  EXPECT_EQ(split.events, expected);
  EXPECT_EQ(split.rest, "");
}

TEST(SseEventSplitter, LeadingAndExtraBlankLinesLoseNoBytes) {
  // Blank lines between events (allowed by the SSE grammar) are not lost and never glue two
  // events' data together.
  const std::string stream = "\n\ndata: a\n\n\n\ndata: b\n\n";
  Split split = FeedAll(stream);
  EXPECT_EQ(Joined(split), stream);
  std::vector<std::string> datas;
  for (const std::string& e : split.events) {
    std::string data = SseEventData(e);
    if (!data.empty()) {
      datas.push_back(data);
    }
  }
  EXPECT_EQ(datas, (std::vector<std::string>{"a", "b"}));
}

TEST(SseEventSplitter, EmptyFeedsChangeNothing) {
  Split split = FeedPieces({"", "data: a", "", "\n", "", "\n", ""});
  EXPECT_EQ(split.events, std::vector<std::string>{"data: a\n\n"});
  EXPECT_EQ(split.rest, "");
}

// ---- The bound on an unfinished event -----------------------------------------------------------

TEST(SseEventSplitter, UnfinishedEventUpToTheBoundIsAccepted) {
  const std::string event = "data: 0123456789";  // 16 bytes, no end yet
  SseEventSplitter splitter(event.size());
  int delivered = 0;
  EXPECT_TRUE(splitter.Feed(event, [&](std::string_view) { ++delivered; }));
  EXPECT_EQ(delivered, 0);
  EXPECT_EQ(splitter.TakeRest(), event);
}

TEST(SseEventSplitter, UnfinishedEventPastTheBoundFails) {
  const std::string event = "data: 0123456789";
  SseEventSplitter splitter(event.size() - 1);
  EXPECT_FALSE(splitter.Feed(event, [](std::string_view) {}));
}

TEST(SseEventSplitter, UnfinishedEventGrowingPastTheBoundOverManyFeedsFails) {
  SseEventSplitter splitter(64);
  auto ignore = [](std::string_view) {};
  EXPECT_TRUE(splitter.Feed("data: ", ignore));
  bool ok = true;
  int feeds = 0;
  while (ok && feeds < 100) {
    ok = splitter.Feed("0123456789", ignore);
    ++feeds;
  }
  EXPECT_FALSE(ok);
  // 6 + 10 * 5 = 56 fits, 66 does not: the sixth piece is the one refused.
  EXPECT_EQ(feeds, 6);
}

TEST(SseEventSplitter, BoundCountsOnlyTheUnfinishedEvent) {
  // Finished events leave the buffer: many of them, far beyond the bound in total, are fine.
  SseEventSplitter splitter(32);
  int delivered = 0;
  auto count = [&](std::string_view) { ++delivered; };
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(splitter.Feed("data: 0123456789\n\n", count)) << i;
  }
  EXPECT_EQ(delivered, 100);
  // One Feed carrying several finished events and a small unfinished one is fine too.
  EXPECT_TRUE(splitter.Feed("data: a\n\ndata: b\n\ndata: c\n\ndata: d\n\ndata: unfinished", count));
  EXPECT_EQ(delivered, 104);
}

TEST(SseEventSplitter, FinishedEventLargerThanTheBoundInOneFeedIsDelivered) {
  // The bound is on what waits in the buffer (the header's contract); an event that arrives
  // whole is handed on at once and never buffered.
  const std::string event = "data: " + std::string(100, 'x') + "\n\n";
  SseEventSplitter splitter(16);
  std::vector<std::string> events;
  EXPECT_TRUE(splitter.Feed(event, [&](std::string_view e) { events.emplace_back(e); }));
  EXPECT_EQ(events, std::vector<std::string>{event});
}

// ---- SseEventData ---------------------------------------------------------------------------

TEST(SseEventSplitterData, OneDataLine) {
  EXPECT_EQ(SseEventData("data: {\"a\":1}\n\n"), "{\"a\":1}");
}

TEST(SseEventSplitterData, DataLinesAreJoinedWithLf) {
  EXPECT_EQ(SseEventData("data: {\"a\":\ndata: 1}\n\n"), "{\"a\":\n1}");
  EXPECT_EQ(SseEventData("data: a\r\ndata: b\r\ndata: c\r\n\r\n"), "a\nb\nc");
  EXPECT_EQ(SseEventData("data: a\rdata: b\r\r"), "a\nb");
}

TEST(SseEventSplitterData, OnlyOneSpaceAfterTheColonIsRemoved) {
  EXPECT_EQ(SseEventData("data:x\n\n"), "x");
  EXPECT_EQ(SseEventData("data:  x\n\n"), " x");
  EXPECT_EQ(SseEventData("data: x \n\n"), "x ");
}

TEST(SseEventSplitterData, DataWithoutColonIsAnEmptyLine) {
  // HTML SSE §9.2.6: a line without a colon is a field name with an empty value.
  EXPECT_EQ(SseEventData("data\n\n"), "");
  EXPECT_EQ(SseEventData("data: a\ndata\ndata: b\n\n"), "a\n\nb");
}

TEST(SseEventSplitterData, OtherFieldsAndCommentsAreNotData) {
  EXPECT_EQ(SseEventData("event: message\nid: 7\nretry: 10\n: data: no\ndata: yes\n\n"), "yes");
  // Field names are compared whole: "database" and " data" are not "data".
  EXPECT_EQ(SseEventData("database: no\n data: no\nDATA: no\ndata: yes\n\n"), "yes");
}

TEST(SseEventSplitterData, EventWithoutDataHasNone) {
  EXPECT_EQ(SseEventData("event: ping\n\n"), "");
  EXPECT_EQ(SseEventData(": keep-alive\n\n"), "");
  EXPECT_EQ(SseEventData(""), "");
}

TEST(SseEventSplitterData, UnterminatedEventStillHasItsData) {
  EXPECT_EQ(SseEventData("data: a\ndata: b"), "a\nb");
}

// ---- ReplaceSseEventData --------------------------------------------------------------------

TEST(SseEventSplitterReplaceData, KeepsOtherFieldsInPlace) {
  EXPECT_EQ(ReplaceSseEventData("event: message\nid: 9\ndata: {\"old\":1}\n\n", "{\"new\":2}"),
            "event: message\nid: 9\ndata: {\"new\":2}\n\n");
  EXPECT_EQ(ReplaceSseEventData(": note\ndata: old\nid: 4\n\n", "new"),
            ": note\ndata: new\nid: 4\n\n");
}

TEST(SseEventSplitterReplaceData, ManyDataLinesBecomeOneWhereTheFirstWas) {
  EXPECT_EQ(ReplaceSseEventData("id: 1\ndata: {\"a\":\nevent: message\ndata: 1}\n\n", "{}"),
            "id: 1\ndata: {}\nevent: message\n\n");
}

TEST(SseEventSplitterReplaceData, AnyLineEndingComesOutAsLf) {
  EXPECT_EQ(ReplaceSseEventData("event: message\r\ndata: old\r\n\r\n", "new"),
            "event: message\ndata: new\n\n");
  EXPECT_EQ(ReplaceSseEventData("event: message\rdata: old\r\r", "new"),
            "event: message\ndata: new\n\n");
  EXPECT_EQ(ReplaceSseEventData("data: old", "new"), "data: new\n\n");
}

TEST(SseEventSplitterReplaceData, ResultIsOneWholeEventWithTheNewData) {
  for (std::string_view event : {"event: message\r\ndata: a\r\ndata: b\r\n\r\n",
                                 "data: a\rdata: b\r\r", "id: 2\ndata: a\n\n"}) {
    std::string replaced = ReplaceSseEventData(event, "{\"tools\":[]}");
    Split split = FeedAll(replaced);
    ASSERT_EQ(split.events.size(), 1u) << replaced;
    EXPECT_EQ(split.rest, "");
    EXPECT_EQ(SseEventData(split.events[0]), "{\"tools\":[]}");
  }
}

}  // namespace
}  // namespace portcullis::mcp
