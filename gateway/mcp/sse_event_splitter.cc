#include "gateway/mcp/sse_event_splitter.h"

#include <vector>

namespace portcullis::mcp {
namespace {

// Splits `text` into lines without their terminators.
std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' || text[i] == '\r') {
      lines.push_back(text.substr(start, i - start));
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

std::string_view FieldValue(std::string_view line, std::string_view field) {
  std::string_view value = line.substr(field.size());
  if (!value.empty() && value[0] == ':') value.remove_prefix(1);
  if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  return value;
}

bool IsDataLine(std::string_view line) {
  return line.substr(0, 4) == "data" && (line.size() == 4 || line[4] == ':');
}

}  // namespace

bool SseEventSplitter::Feed(std::string_view data,
                            const std::function<void(std::string_view)>& on_event) {
  buffer_.append(data);
  // The scan resumes where the last one stopped (inside a line, or at a line end whose
  // follower had not arrived), so a large event costs one pass, not one per piece.
  size_t event_start = 0;
  size_t i = scan_from_;
  while (i < buffer_.size()) {
    char c = buffer_[i];
    if (c != '\n' && c != '\r') {
      ++i;
      continue;
    }
    // A line ending at i; where does the next line start?
    size_t next = i + 1;
    if (c == '\r') {
      if (next == buffer_.size()) break;  // the LF of a CRLF may still be on its way
      if (buffer_[next] == '\n') ++next;
    }
    if (next == buffer_.size()) break;
    char d = buffer_[next];
    if (d == '\n' || d == '\r') {
      // A blank line: the event ends after it.
      size_t end = next + 1;
      if (d == '\r') {
        if (end == buffer_.size()) break;
        if (buffer_[end] == '\n') ++end;
      }
      on_event(std::string_view(buffer_).substr(event_start, end - event_start));
      event_start = end;
      i = end;
      continue;
    }
    i = next;
  }
  buffer_.erase(0, event_start);
  scan_from_ = i - event_start;
  return buffer_.size() <= max_event_bytes_;
}

std::string SseEventData(std::string_view event) {
  std::string data;
  bool first = true;
  for (std::string_view line : Lines(event)) {
    if (!IsDataLine(line)) continue;
    if (!first) data.push_back('\n');
    data.append(FieldValue(line, "data"));
    first = false;
  }
  return data;
}

std::string ReplaceSseEventData(std::string_view event, std::string_view data) {
  std::string out;
  bool placed = false;
  for (std::string_view line : Lines(event)) {
    if (line.empty()) continue;
    if (IsDataLine(line)) {
      if (placed) continue;
      placed = true;
      out.append("data: ");
      out.append(data);
      out.push_back('\n');
      continue;
    }
    out.append(line);
    out.push_back('\n');
  }
  out.push_back('\n');
  return out;
}

}  // namespace portcullis::mcp
