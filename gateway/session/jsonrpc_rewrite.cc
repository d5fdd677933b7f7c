#include "gateway/session/jsonrpc_rewrite.h"

#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cstring>

namespace portcullis::session {
namespace {

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// SAX handler that finds the bytes of one member's value: `key` in the top-level object, or in
// the object held by the top-level member `parent`. It reads positions from the stream being
// parsed. With kParseIterativeFlag (the only mode used here; RapidJSON 1.1 reader.h,
// IterativeParse/Transit), at a Key event the stream stands just after the key's closing
// quote, at a scalar event just after the scalar, and at EndObject/EndArray *on* the closing
// bracket, which is taken after the handler returns.
class MemberLocator {
 public:
  using Ch = char;

  MemberLocator(std::string_view text, const rapidjson::MemoryStream* stream,
                std::string_view parent, std::string_view key)
      : text_(text), stream_(stream), parent_(parent), key_(key) {}

  bool Null() { return Scalar(); }
  bool Bool(bool) { return Scalar(); }
  bool Int(int) { return Scalar(); }
  bool Uint(unsigned) { return Scalar(); }
  bool Int64(int64_t) { return Scalar(); }
  bool Uint64(uint64_t) { return Scalar(); }
  bool Double(double) { return Scalar(); }
  bool RawNumber(const Ch*, rapidjson::SizeType, bool) { return Scalar(); }
  bool String(const Ch*, rapidjson::SizeType, bool) { return Scalar(); }

  bool StartObject() { return Open(/*object=*/true); }
  bool EndObject(rapidjson::SizeType) { return Close(); }
  bool StartArray() { return Open(/*object=*/false); }
  bool EndArray(rapidjson::SizeType) { return Close(); }

  bool Key(const Ch* str, rapidjson::SizeType length, bool) {
    const std::string_view key(str, length);
    if (InTargetObject() && key == key_) {
      if (++target_count_ > 1) {
        return false;  // duplicated: refuse rather than pick one
      }
      awaiting_ = Awaiting::kTarget;
      value_start_ = ValueStart(stream_->Tell());
    } else if (!parent_.empty() && depth_ == 1 && key == parent_) {
      if (++parent_count_ > 1) {
        return false;
      }
      awaiting_ = Awaiting::kParent;
    }
    return true;
  }

  // The value's bytes, when exactly one was found where asked.
  std::optional<std::pair<size_t, size_t>> span() const {
    if (target_count_ != 1 || value_end_ == 0) {
      return std::nullopt;
    }
    if (!parent_.empty() && (parent_count_ != 1 || !parent_is_object_)) {
      return std::nullopt;
    }
    return std::make_pair(value_start_, value_end_);
  }

 private:
  enum class Awaiting { kNone, kTarget, kParent };

  // Inside the object whose members are searched (not in something nested in it).
  bool InTargetObject() const { return parent_.empty() ? depth_ == 1 : in_parent_ && depth_ == 2; }

  // The first byte of the value that follows a key ending at `after_key`: past the spaces,
  // the colon and more spaces (the reader has checked the grammar by the time it matters).
  size_t ValueStart(size_t after_key) const {
    size_t i = after_key;
    while (i < text_.size() && IsJsonSpace(text_[i])) ++i;
    if (i < text_.size() && text_[i] == ':') ++i;
    while (i < text_.size() && IsJsonSpace(text_[i])) ++i;
    return i;
  }

  bool Scalar() {
    if (depth_ == 0) {
      return false;  // the message is not an object
    }
    if (awaiting_ == Awaiting::kTarget) {
      value_end_ = stream_->Tell();
    }
    // A parent that holds a scalar is not an object: span() refuses it.
    awaiting_ = Awaiting::kNone;
    return true;
  }

  bool Open(bool object) {
    if (depth_ == 0 && !object) {
      return false;  // a top-level array (a batch) is not one message
    }
    ++depth_;
    if (awaiting_ == Awaiting::kTarget) {
      capture_depth_ = depth_;
    } else if (awaiting_ == Awaiting::kParent && object) {
      parent_is_object_ = true;
      in_parent_ = true;
    }
    awaiting_ = Awaiting::kNone;
    return true;
  }

  bool Close() {
    if (capture_depth_ != 0 && depth_ == capture_depth_) {
      value_end_ = stream_->Tell() + 1;  // the bracket is not taken yet
      capture_depth_ = 0;
    }
    --depth_;
    if (depth_ < 2) {
      in_parent_ = false;
    }
    return true;
  }

  const std::string_view text_;
  const rapidjson::MemoryStream* const stream_;
  const std::string_view parent_;
  const std::string_view key_;
  int depth_ = 0;  // open objects and arrays; the top-level object is depth 1
  Awaiting awaiting_ = Awaiting::kNone;
  int target_count_ = 0;
  int parent_count_ = 0;
  bool parent_is_object_ = false;
  bool in_parent_ = false;
  int capture_depth_ = 0;  // the depth of the target value while it is an open container
  size_t value_start_ = 0;
  size_t value_end_ = 0;
};

std::optional<std::pair<size_t, size_t>> FindMember(std::string_view message,
                                                    std::string_view parent, std::string_view key) {
  rapidjson::MemoryStream stream(message.data(), message.size());
  MemberLocator locator(message, &stream, parent, key);
  rapidjson::Reader reader;
  // Iterative: the parser keeps its own heap stack, so deep nesting cannot overflow ours.
  const rapidjson::ParseResult parsed =
      reader.Parse<rapidjson::kParseIterativeFlag>(stream, locator);
  // MemoryStream reads a NUL byte as the end of input; what follows one is not ours to judge.
  if (parsed.IsError() || stream.Tell() != message.size()) {
    return std::nullopt;
  }
  return locator.span();
}

}  // namespace

std::optional<std::string> ReplaceMember(std::string_view message, std::string_view parent,
                                         std::string_view key, std::string_view value_json) {
  std::optional<std::pair<size_t, size_t>> span = FindMember(message, parent, key);
  if (!span) {
    return std::nullopt;
  }
  const auto [begin, end] = *span;
  std::string out;
  out.reserve(message.size() - (end - begin) + value_json.size());
  out.append(message.substr(0, begin));
  out.append(value_json);
  out.append(message.substr(end));
  return out;
}

std::optional<std::string> ReplaceId(std::string_view message, std::string_view id_json) {
  return ReplaceMember(message, "", "id", id_json);
}

std::string ReadStringOrInteger(std::string_view message, std::string_view parent,
                                std::string_view key) {
  std::optional<std::pair<size_t, size_t>> span = FindMember(message, parent, key);
  if (!span) {
    return std::string();
  }
  return CanonicalIdJson(message.substr(span->first, span->second - span->first));
}

std::string CanonicalIdJson(std::string_view json) {
  if (json.empty() || std::memchr(json.data(), '\0', json.size()) != nullptr) {
    return std::string();  // a NUL would end RapidJSON's input early
  }
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    return std::string();
  }
  if (doc.IsString()) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.String(doc.GetString(), doc.GetStringLength());
    return std::string(buffer.GetString(), buffer.GetSize());
  }
  if (doc.IsInt64()) {
    return std::to_string(doc.GetInt64());
  }
  if (doc.IsUint64()) {
    return std::to_string(doc.GetUint64());
  }
  return std::string();
}

std::optional<int64_t> ParseIntegerId(std::string_view id_json) {
  // JSON's integer grammar: -?(0|[1-9][0-9]*). from_chars alone would take "01".
  std::string_view digits = id_json;
  if (!digits.empty() && digits.front() == '-') {
    digits.remove_prefix(1);
  }
  if (digits.empty() || (digits.front() == '0' && digits.size() > 1)) {
    return std::nullopt;
  }
  int64_t value = 0;
  const char* end = id_json.data() + id_json.size();
  const auto [ptr, ec] = std::from_chars(id_json.data(), end, value);
  if (ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

std::string CancelledNotification(std::string_view request_id_json, std::string_view reason) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("jsonrpc");
  writer.String("2.0");
  writer.Key("method");
  writer.String("notifications/cancelled");
  writer.Key("params");
  writer.StartObject();
  writer.Key("requestId");
  writer.RawValue(request_id_json.data(), request_id_json.size(), rapidjson::kNumberType);
  writer.Key("reason");
  writer.String(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
  writer.EndObject();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace portcullis::session
