// LocatedJson: a small JSON tree in which every value and every object key remembers the
// line:col where it starts in the source text, so that loaders (gateway config, policy files)
// can point at the exact spot of a mistake ("conf/gateway.json:12:7: ...").
//
// The parser accepts JSON plus // and /* */ comments and trailing commas. Numbers keep their
// exact source text (`raw`) next to a double, so integers never pass through floating point.
// Duplicate keys in one object and nesting deeper than a limit are errors, not surprises.
//
// Pure: the standard library and RapidJSON only (policy/ reuses it). A LocatedJson is a plain
// value: not thread-safe to mutate, safe to read from many threads once built.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "portcullis/result.h"

namespace portcullis {

// 1-based line and column; the column counts bytes, not characters. {0, 0} = unknown.
struct JsonLocation {
  int line = 0;
  int col = 0;
  std::string ToString() const;  // "12:7"
  bool operator==(const JsonLocation&) const = default;
  auto operator<=>(const JsonLocation&) const = default;
};

struct LocatedJson {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  struct Member;  // defined below: a key, where the key starts, and the value

  Type type = Type::kNull;
  bool boolean = false;            // kBool
  double number = 0;               // kNumber, as parsed from `raw`
  std::string raw;                 // kNumber: the exact source text ("1e3", "-0", "10000")
  std::string string;              // kString, unescaped UTF-8
  std::vector<Member> members;     // kObject, in source order; keys are unique
  std::vector<LocatedJson> items;  // kArray, in source order
  JsonLocation loc;                // where this value starts (its first byte)

  bool is_null() const { return type == Type::kNull; }
  bool is_bool() const { return type == Type::kBool; }
  bool is_number() const { return type == Type::kNumber; }
  bool is_string() const { return type == Type::kString; }
  bool is_array() const { return type == Type::kArray; }
  bool is_object() const { return type == Type::kObject; }

  // The member value / member with this key, or nullptr (also when this is not an object).
  const LocatedJson* Find(std::string_view key) const;
  const Member* FindMember(std::string_view key) const;

  // The number as an integer when `raw` is an integer literal (no fraction, no exponent) that
  // fits in int64_t; nullopt otherwise (also when this is not a number).
  std::optional<int64_t> AsInt64() const;

  // "null", "a boolean", "a number", "a string", "an array", "an object": for messages such as
  // "expected a string, got a number".
  static const char* TypeName(Type type);
  const char* type_name() const { return TypeName(type); }
};

struct LocatedJson::Member {
  std::string key;
  JsonLocation key_loc;  // where the key's opening quote is
  LocatedJson value;
};

// A parse failure: where it happened and what went wrong ("missing a comma or '}' ...").
struct JsonParseError {
  JsonLocation loc;
  std::string message;
  std::string ToString() const;  // "12:7: message"
};

// Parses one JSON document (comments and trailing commas allowed; anything but whitespace and
// comments after it is an error). Objects and arrays nested deeper than `max_depth` are an
// error. On failure the Status message is "line:col: message"; when `error` is not null it
// also receives the location and message separately.
Result<LocatedJson> ParseLocatedJson(std::string_view text, int max_depth = 64,
                                     JsonParseError* error = nullptr);

// Appends one reference token to a JSON pointer (RFC 6901 §3: "~" → "~0", "/" → "~1").
// JsonPointerAppend("/upstreams", "a/b") == "/upstreams/a~1b".
std::string JsonPointerAppend(std::string_view pointer, std::string_view token);
std::string JsonPointerAppend(std::string_view pointer, size_t index);

}  // namespace portcullis
