// LocatedJson parser: RapidJSON's SAX reader feeding a tree builder, with a stream that
// counts bytes so every event can be placed in the source text.

#include "portcullis/located_json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <unordered_map>

namespace portcullis {

std::string JsonLocation::ToString() const {
  return std::to_string(line) + ":" + std::to_string(col);
}

std::string JsonParseError::ToString() const { return loc.ToString() + ": " + message; }

const LocatedJson::Member* LocatedJson::FindMember(std::string_view key) const {
  if (type != Type::kObject) {
    return nullptr;
  }
  for (const Member& member : members) {
    if (member.key == key) {
      return &member;
    }
  }
  return nullptr;
}

const LocatedJson* LocatedJson::Find(std::string_view key) const {
  const Member* member = FindMember(key);
  return member == nullptr ? nullptr : &member->value;
}

std::optional<int64_t> LocatedJson::AsInt64() const {
  if (type != Type::kNumber || raw.empty()) {
    return std::nullopt;
  }
  if (raw.find_first_of(".eE") != std::string::npos) {
    return std::nullopt;
  }
  int64_t value = 0;
  const char* end = raw.data() + raw.size();
  auto [ptr, ec] = std::from_chars(raw.data(), end, value);
  if (ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

const char* LocatedJson::TypeName(Type type) {
  switch (type) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return "a boolean";
    case Type::kNumber:
      return "a number";
    case Type::kString:
      return "a string";
    case Type::kArray:
      return "an array";
    case Type::kObject:
      return "an object";
  }
  return "a value";
}

std::string JsonPointerAppend(std::string_view pointer, std::string_view token) {
  std::string out(pointer);
  out.reserve(out.size() + token.size() + 1);
  out += '/';
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string JsonPointerAppend(std::string_view pointer, size_t index) {
  return JsonPointerAppend(pointer, std::to_string(index));
}

namespace {

// A RapidJSON input stream over a string_view. Unlike rapidjson::StringStream it needs no
// terminating NUL: past the end it reads '\0', which RapidJSON takes as end of input. A NUL
// byte inside the text therefore also looks like the end; ParseLocatedJson catches that by
// comparing the final offset with the text size.
class ViewStream {
 public:
  using Ch = char;
  explicit ViewStream(std::string_view text) : text_(text) {}

  Ch Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  Ch Take() { return pos_ < text_.size() ? text_[pos_++] : '\0'; }
  size_t Tell() const { return pos_; }

  // Write side of the Stream concept; only used for in-situ parsing, which we do not do.
  Ch* PutBegin() { return nullptr; }
  void Put(Ch) {}
  void Flush() {}
  size_t PutEnd(Ch*) { return 0; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// Turns byte offsets into line:col with a binary search over the line starts.
class LineIndex {
 public:
  explicit LineIndex(std::string_view text) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') {
        line_starts_.push_back(i + 1);
      }
    }
  }

  JsonLocation Locate(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = static_cast<size_t>(it - line_starts_.begin());  // >= 1: line_starts_[0] == 0
    return JsonLocation{static_cast<int>(line), static_cast<int>(offset - *(it - 1) + 1)};
  }

 private:
  std::vector<size_t> line_starts_;
};

// SAX handler that builds the tree. RapidJSON calls most handlers after it has consumed the
// value, so each start offset is worked out from the stream position at the call (see
// StringStart for the one case where that takes a scan).
class Builder {
 public:
  using Ch = char;

  Builder(std::string_view text, const ViewStream& stream, const LineIndex& lines, int max_depth)
      : text_(text), stream_(stream), lines_(lines), max_depth_(max_depth) {}

  bool Null() { return AddScalar(MakeScalar(LocatedJson::Type::kNull, 4)); }
  bool Bool(bool b) {
    LocatedJson value = MakeScalar(LocatedJson::Type::kBool, b ? 4 : 5);
    value.boolean = b;
    return AddScalar(std::move(value));
  }
  // Never called with kParseNumbersAsStringsFlag; required by the Handler concept.
  bool Int(int) { return false; }
  bool Uint(unsigned) { return false; }
  bool Int64(int64_t) { return false; }
  bool Uint64(uint64_t) { return false; }
  bool Double(double) { return false; }

  bool RawNumber(const Ch* str, rapidjson::SizeType length, bool /*copy*/) {
    // Every byte of the number was consumed into `str`, so the number started `length` bytes
    // before the current position.
    LocatedJson value = MakeScalar(LocatedJson::Type::kNumber, length);
    value.raw.assign(str, length);
    const char* end = value.raw.data() + value.raw.size();
    auto [ptr, ec] = std::from_chars(value.raw.data(), end, value.number);
    if (ec != std::errc() || ptr != end) {
      // RapidJSON already rejected what JSON does not allow and numbers too big for a double,
      // so only a subnormal underflow gets here; zero is the honest approximation.
      value.number = 0;
    }
    return AddScalar(std::move(value));
  }

  bool String(const Ch* str, rapidjson::SizeType length, bool /*copy*/) {
    LocatedJson value;
    value.type = LocatedJson::Type::kString;
    value.string.assign(str, length);
    value.loc = lines_.Locate(StringStart());
    return AddScalar(std::move(value));
  }

  bool Key(const Ch* str, rapidjson::SizeType length, bool /*copy*/) {
    Frame& frame = stack_.back();
    std::string key(str, length);
    JsonLocation key_loc = lines_.Locate(StringStart());
    auto [it, inserted] = frame.keys.emplace(key, key_loc);
    if (!inserted) {
      return Fail(key_loc,
                  "duplicate key \"" + key + "\" (first at " + it->second.ToString() + ")");
    }
    frame.pending_key = std::move(key);
    frame.pending_key_loc = key_loc;
    return true;
  }

  bool StartObject() { return Open(LocatedJson::Type::kObject); }
  bool EndObject(rapidjson::SizeType /*count*/) { return Close(); }
  bool StartArray() { return Open(LocatedJson::Type::kArray); }
  bool EndArray(rapidjson::SizeType /*count*/) { return Close(); }

  bool failed() const { return failed_; }
  const JsonParseError& error() const { return error_; }
  LocatedJson TakeRoot() { return std::move(root_); }

 private:
  struct Frame {
    LocatedJson value;
    // Keys seen so far in this object and where; finds duplicates without a quadratic scan.
    std::unordered_map<std::string, JsonLocation> keys;
    std::string pending_key;
    JsonLocation pending_key_loc;
  };

  LocatedJson MakeScalar(LocatedJson::Type type, size_t length) const {
    LocatedJson value;
    value.type = type;
    value.loc = lines_.Locate(stream_.Tell() - length);
    return value;
  }

  // Called just after the closing quote was consumed. The opening quote is the nearest '"'
  // before it that is not escaped, i.e. not preceded by an odd run of backslashes. A '"'
  // inside the string is always escaped (RapidJSON rejected the text otherwise), and outside
  // a string a backslash can only sit in a comment, which ends in '/' or a newline.
  size_t StringStart() const {
    size_t pos = stream_.Tell() - 1;  // the closing quote
    while (pos > 0) {
      --pos;
      if (text_[pos] != '"') {
        continue;
      }
      size_t backslashes = 0;
      while (backslashes < pos && text_[pos - 1 - backslashes] == '\\') {
        ++backslashes;
      }
      if (backslashes % 2 == 0) {
        return pos;
      }
    }
    return pos;
  }

  bool Open(LocatedJson::Type type) {
    if (static_cast<int>(stack_.size()) >= max_depth_) {
      return Fail(lines_.Locate(stream_.Tell() - 1),
                  "nesting deeper than " + std::to_string(max_depth_) + " levels");
    }
    Frame frame;
    frame.value.type = type;
    frame.value.loc = lines_.Locate(stream_.Tell() - 1);  // '{' or '[' was just consumed
    stack_.push_back(std::move(frame));
    return true;
  }

  bool Close() {
    LocatedJson value = std::move(stack_.back().value);
    stack_.pop_back();
    return AddScalar(std::move(value));
  }

  // Attaches a finished value to its parent (or makes it the root).
  bool AddScalar(LocatedJson value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return true;
    }
    Frame& parent = stack_.back();
    if (parent.value.type == LocatedJson::Type::kArray) {
      parent.value.items.push_back(std::move(value));
    } else {
      parent.value.members.push_back(LocatedJson::Member{std::move(parent.pending_key),
                                                         parent.pending_key_loc, std::move(value)});
    }
    return true;
  }

  bool Fail(JsonLocation loc, std::string message) {
    failed_ = true;
    error_ = JsonParseError{loc, std::move(message)};
    return false;
  }

  std::string_view text_;
  const ViewStream& stream_;
  const LineIndex& lines_;
  int max_depth_;
  std::vector<Frame> stack_;
  LocatedJson root_;
  bool failed_ = false;
  JsonParseError error_;
};

// RapidJSON's English messages read "Missing a comma or '}' after an object member."; ours
// continue a "file:line:col: " prefix, so drop the capital and the full stop.
std::string DescribeParseError(rapidjson::ParseErrorCode code) {
  switch (code) {
    case rapidjson::kParseErrorUnspecificSyntaxError:
      // With comments enabled this is what a stray '/' or an unterminated /* comment gives.
      return "syntax error (a stray '/' or an unterminated /* comment?)";
    case rapidjson::kParseErrorValueInvalid:
      return "invalid value (strings need double quotes; true, false and null are lowercase)";
    default:
      break;
  }
  std::string message = rapidjson::GetParseError_En(code);
  if (!message.empty() && message.back() == '.') {
    message.pop_back();
  }
  if (!message.empty() && message[0] >= 'A' && message[0] <= 'Z') {
    message[0] = static_cast<char>(message[0] - 'A' + 'a');
  }
  return message;
}

bool IsBarewordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '+' || c == '.' || c == '_';
}

}  // namespace

Result<LocatedJson> ParseLocatedJson(std::string_view text, int max_depth, JsonParseError* error) {
  // Not kParseStopWhenDoneFlag: without it RapidJSON itself checks that only whitespace and
  // comments follow the root value, and reports the offset of anything else.
  constexpr unsigned kFlags = rapidjson::kParseCommentsFlag | rapidjson::kParseTrailingCommasFlag |
                              rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseValidateEncodingFlag;
  LineIndex lines(text);
  ViewStream stream(text);
  Builder builder(text, stream, lines, max_depth);
  rapidjson::Reader reader;
  rapidjson::ParseResult parsed = reader.Parse<kFlags>(stream, builder);

  JsonParseError failure;
  if (builder.failed()) {
    failure = builder.error();
  } else if (parsed.IsError()) {
    size_t offset = std::min(parsed.Offset(), text.size());
    if (parsed.Code() == rapidjson::kParseErrorValueInvalid) {
      // RapidJSON stops inside a bad literal ("tru}", "-}"); point at its first byte.
      while (offset > 0 && IsBarewordChar(text[offset - 1])) {
        --offset;
      }
    }
    failure = JsonParseError{lines.Locate(offset), DescribeParseError(parsed.Code())};
  } else if (stream.Tell() < text.size()) {
    // RapidJSON stopped at a NUL byte, which it takes for the end of input.
    failure = JsonParseError{lines.Locate(stream.Tell()), "unexpected NUL byte"};
  } else {
    return builder.TakeRoot();
  }
  if (error != nullptr) {
    *error = failure;
  }
  return Status::Error(failure.ToString());
}

}  // namespace portcullis
