// SseEventCounter: counts the events in a text/event-stream body as its bytes arrive.
//
// An event is dispatched by a blank line after at least one field line (WHATWG HTML, "Server-
// sent events", §9.2.6); comment lines (":" keep-alives) alone dispatch nothing. Lines end in
// CRLF, LF or CR, possibly split across reads. Not thread-safe; one per response.
#pragma once

#include <cstddef>
#include <string_view>

namespace portcullis::bench {

class SseEventCounter {
 public:
  // The number of events completed by `data`.
  size_t Feed(std::string_view data);

 private:
  void EndLine(size_t* events);

  bool prev_cr_ = false;
  size_t line_length_ = 0;
  bool line_is_comment_ = false;
  bool block_has_field_ = false;
};

}  // namespace portcullis::bench
