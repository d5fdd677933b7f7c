// Splitting a text/event-stream byte stream into whole events, so a gateway can look at
// (and rewrite) one event at a time while still passing each on as soon as it is complete.
//
// An event ends at a blank line (LF, CRLF or CR line endings, per the HTML SSE grammar).
// Not thread-safe; one per response stream.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace portcullis::mcp {

class SseEventSplitter {
 public:
  // `max_event_bytes` bounds how much an unfinished event may buffer.
  explicit SseEventSplitter(size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

  // Feeds bytes; calls `on_event` with each complete event's raw text (including its blank
  // line). Returns false if an event grew beyond the bound.
  bool Feed(std::string_view data, const std::function<void(std::string_view)>& on_event);
  // What is left at the end of the stream (an unterminated last event), possibly empty.
  std::string TakeRest() {
    scan_from_ = 0;
    return std::exchange(buffer_, std::string());
  }

 private:
  size_t max_event_bytes_;
  std::string buffer_;
  size_t scan_from_ = 0;  // buffer_ before this holds no event boundary
};

// The data of an event: its "data:" lines joined with '\n' (HTML SSE §9.2.6).
std::string SseEventData(std::string_view event);
// The same event with its data replaced by `data` (one data line; other fields and
// comments kept in place).
std::string ReplaceSseEventData(std::string_view event, std::string_view data);

}  // namespace portcullis::mcp
