#include "tests/support/http_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <string>
#include <vector>

namespace portcullis::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A ByteStream that hands out scripted chunks, one per Read(), and records when each chunk was
// handed out so tests can compare event arrival with it (order, never durations).
class ScriptedStream : public ByteStream {
 public:
  // After the chunks: a clean close if close_at_end, else a timeout error.
  explicit ScriptedStream(std::vector<std::string> chunks, bool close_at_end = true)
      : chunks_(chunks.begin(), chunks.end()), close_at_end_(close_at_end) {}

  std::string written;
  std::vector<Clock::time_point> handed_out;

 protected:
  Status DoWrite(std::string_view data) override {
    written.append(data);
    return Status::Ok();
  }
  Result<std::string> DoRead(int timeout_ms) override {
    if (!chunks_.empty()) {
      std::string chunk = std::move(chunks_.front());
      chunks_.pop_front();
      handed_out.push_back(Clock::now());
      return chunk;
    }
    if (close_at_end_) {
      return std::string();
    }
    return Status::Error("read: timeout after " + std::to_string(timeout_ms) + " ms");
  }

 private:
  std::deque<std::string> chunks_;
  bool close_at_end_;
};

// Splits `s` into pieces of `n` bytes: parsers must not care where reads end.
std::vector<std::string> Pieces(const std::string& s, size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size(); i += n) {
    out.push_back(s.substr(i, n));
  }
  return out;
}

TEST(HttpClient, SerializesARequestWithDefaults) {
  EXPECT_EQ(SerializeRequest("GET", "/healthz", {}, ""),
            "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(SerializeRequest("POST", "/mcp/x", {{"host", "gw"}, {"Content-Type", "a/b"}}, "{}"),
            "POST /mcp/x HTTP/1.1\r\nhost: gw\r\nContent-Type: a/b\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(SerializeRequest("POST", "/", {{"Transfer-Encoding", "chunked"}}, "0\r\n\r\n"),
            "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(SerializeRequest("DELETE", "/", {}, ""),
            "DELETE / HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

TEST(HttpClient, ReadsAContentLengthResponse) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMcp-Session-Id: abc\r\n"
      "Content-Length: 11\r\n\r\n{\"ok\":true}";
  for (size_t piece : {wire.size(), size_t{7}, size_t{1}}) {
    ScriptedStream stream(Pieces(wire, piece), /*close_at_end=*/false);
    Result<HttpResponse> r = Request(stream, "POST", "/mcp/a", {}, "{}", 1000);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->reason, "OK");
    EXPECT_EQ(r->body, "{\"ok\":true}");
    EXPECT_EQ(r->Header("mcp-session-id"), "abc");
    EXPECT_EQ(r->Header("CONTENT-TYPE"), "application/json");
    EXPECT_FALSE(r->Header("X-Missing").has_value());
    EXPECT_TRUE(r->keep_alive);
    EXPECT_EQ(stream.written.rfind("POST /mcp/a HTTP/1.1\r\n", 0), 0u);
  }
}

TEST(HttpClient, DecodesChunkedBodies) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n";
  for (size_t piece : {wire.size(), size_t{3}, size_t{1}}) {
    ScriptedStream stream(Pieces(wire, piece), false);
    Result<HttpResponse> r = Request(stream, "GET", "/", {}, "", 1000);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->body, "hello, world");
  }
}

TEST(HttpClient, ReadsUntilCloseWithoutLength) {
  ScriptedStream stream(
      {"HTTP/1.0 200 ok\r\nContent-type: text/html\r\n\r\n<HTML>", "body", "</HTML>\r\n"});
  Result<HttpResponse> r = Request(stream, "GET", "/", {}, "", 1000);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "<HTML>body</HTML>\r\n");
  EXPECT_FALSE(r->keep_alive);
}

TEST(HttpClient, KeepsBytesOfTheNextResponseForTheNextRequest) {
  ScriptedStream stream({"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\nHTTP/1.1 404 Not Fo",
                         "und\r\nContent-Length: 4\r\n\r\nnope"},
                        false);
  Result<HttpResponse> first = Request(stream, "POST", "/a", {}, "{}", 1000);
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_EQ(first->status, 202);
  EXPECT_EQ(first->body, "");
  Result<HttpResponse> second = Request(stream, "GET", "/b", {}, "", 1000);
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_EQ(second->status, 404);
  EXPECT_EQ(second->reason, "Not Found");
  EXPECT_EQ(second->body, "nope");
}

TEST(HttpClient, SkipsInterimResponsesAndHonoursHead) {
  ScriptedStream interim({"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
                          "Content-Length: 2\r\n\r\nok"},
                         false);
  Result<HttpResponse> r = Request(interim, "POST", "/", {}, "x", 1000);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "ok");

  ScriptedStream head({"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"}, false);
  Result<HttpResponse> h = Request(head, "HEAD", "/", {}, "", 1000);
  ASSERT_TRUE(h.ok()) << h.error();
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->body, "");
}

TEST(HttpClient, RepeatedHeadersAreAllKept) {
  ScriptedStream stream({"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Empty:\r\nset-cookie: b=2\r\n"
                         "Content-Length: 0\r\n\r\n"},
                        false);
  Result<HttpResponse> r = ReadResponse(stream, 1000);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->HeaderValues("Set-Cookie"), (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_EQ(r->Header("x-empty"), "");
  EXPECT_EQ(r->headers.size(), 4u);
}

TEST(HttpClient, ReportsTruncationMalformationAndTimeout) {
  ScriptedStream truncated({"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"});
  Result<HttpResponse> t = ReadResponse(truncated, 1000);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().find("closed before"), std::string::npos) << t.error();

  ScriptedStream garbage({"\x16\x03\x01\x00\x05hello"});
  Result<HttpResponse> g = ReadResponse(garbage, 1000);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().find("malformed"), std::string::npos) << g.error();

  ScriptedStream silent({"HTTP/1.1 200 OK\r\n"}, false);
  Result<HttpResponse> s = ReadResponse(silent, 10);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("timeout"), std::string::npos) << s.error();

  ScriptedStream closed({});
  EXPECT_FALSE(ReadResponse(closed, 1000).ok());
}

// One chunk of chunked transfer coding carrying `s`.
std::string Chunk(const std::string& s) {
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", s.size());
  return std::string(size) + "\r\n" + s + "\r\n";
}

TEST(HttpClientSse, ReadsEventsIncrementallyInArrivalOrder) {
  ScriptedStream stream(
      {"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
       "Transfer-Encoding: chunked\r\n\r\n",
       Chunk("event: endpoint\ndata: /m?s=1\n\n"), Chunk(": keep-al"), Chunk("ive\r\nid: 7\r\n"),
       Chunk("data: {\"a\":1}\r\ndata: x\r\n\r\n"), Chunk("data: \r"), Chunk("\n\n"), "0\r\n\r\n"},
      false);
  Result<std::unique_ptr<SseReader>> reader =
      SseReader::Open(stream, "GET", "/sse/a", {{"Accept", "text/event-stream"}}, "", 1000);
  ASSERT_TRUE(reader.ok()) << reader.error();
  SseReader& sse = **reader;
  EXPECT_EQ(sse.response().status, 200);
  EXPECT_TRUE(sse.is_event_stream());

  auto first = sse.Next(1000);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->event, "endpoint");
  EXPECT_EQ((*first)->data, "/m?s=1");
  // The first event was available before the chunks that follow it were even handed out.
  EXPECT_EQ(stream.handed_out.size(), 2u);

  auto second = sse.Next(1000);
  ASSERT_TRUE(second.ok()) << second.error();
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->event, "");
  EXPECT_EQ((*second)->id, "7");
  EXPECT_EQ((*second)->data, "{\"a\":1}\nx");
  EXPECT_EQ(sse.comments(), 1);
  EXPECT_EQ(sse.last_comment(), " keep-alive");
  EXPECT_LE((*first)->arrived, (*second)->arrived);
  EXPECT_LT((*first)->arrived, stream.handed_out[2]);

  auto third = sse.Next(1000);
  ASSERT_TRUE(third.ok()) << third.error();
  ASSERT_TRUE(third->has_value());
  EXPECT_EQ((*third)->data, "");

  auto end = sse.Next(1000);
  ASSERT_TRUE(end.ok()) << end.error();
  EXPECT_FALSE(end->has_value());
  EXPECT_TRUE(sse.ended());
}

TEST(HttpClientSse, TimesOutWhileTheStreamStaysOpen) {
  ScriptedStream stream({"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n"},
                        false);
  auto reader = SseReader::Open(stream, "GET", "/", {}, "", 1000);
  ASSERT_TRUE(reader.ok()) << reader.error();
  auto first = (*reader)->Next(1000);
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->data, "1");
  auto none = (*reader)->Next(10);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("timeout"), std::string::npos) << none.error();
}

TEST(HttpClientSse, HandsBackNonStreamReplies) {
  ScriptedStream stream({"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                         "Content-Length: 7\r\n\r\n{\"e\":1}"},
                        false);
  auto reader = SseReader::Open(stream, "POST", "/mcp/a", {}, "{}", 1000);
  ASSERT_TRUE(reader.ok()) << reader.error();
  EXPECT_EQ((*reader)->response().status, 400);
  EXPECT_FALSE((*reader)->is_event_stream());
  auto body = (*reader)->ReadBodyToEnd(1000);
  ASSERT_TRUE(body.ok()) << body.error();
  EXPECT_EQ(*body, "{\"e\":1}");
}

TEST(HttpClientSse, CloseDelimitedStreamEndsAtClose) {
  ScriptedStream stream({"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: a\r",
                         "\ndata: b\r\rdata: partial"});
  auto reader = SseReader::Open(stream, "GET", "/", {}, "", 1000);
  ASSERT_TRUE(reader.ok()) << reader.error();
  auto first = (*reader)->Next(1000);
  ASSERT_TRUE(first.ok() && first->has_value()) << (first.ok() ? "" : first.error());
  EXPECT_EQ((*first)->data, "a\nb");
  auto end = (*reader)->Next(1000);
  ASSERT_TRUE(end.ok()) << end.error();
  EXPECT_FALSE(end->has_value()) << "the unterminated last event is dropped";
}

}  // namespace
}  // namespace portcullis::testing
