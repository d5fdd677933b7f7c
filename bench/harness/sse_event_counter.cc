#include "bench/harness/sse_event_counter.h"

namespace portcullis::bench {

size_t SseEventCounter::Feed(std::string_view data) {
  size_t events = 0;
  for (char c : data) {
    if (c == '\n' && prev_cr_) {
      prev_cr_ = false;  // the LF of a CRLF: the line already ended at the CR
      continue;
    }
    prev_cr_ = c == '\r';
    if (c == '\r' || c == '\n') {
      EndLine(&events);
      continue;
    }
    if (line_length_ == 0) {
      line_is_comment_ = c == ':';
    }
    ++line_length_;
  }
  return events;
}

void SseEventCounter::EndLine(size_t* events) {
  if (line_length_ == 0) {
    if (block_has_field_) {
      ++*events;
    }
    block_has_field_ = false;
  } else if (!line_is_comment_) {
    block_has_field_ = true;
  }
  line_length_ = 0;
}

}  // namespace portcullis::bench
