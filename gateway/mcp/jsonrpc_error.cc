#include "gateway/mcp/jsonrpc_error.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace portcullis::mcp {
namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 when it is not one (RFC 3629 table 4:
// no overlong forms, no surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const auto in = [](uint8_t b, uint8_t lo, uint8_t hi) { return b >= lo && b <= hi; };
  const uint8_t b0 = byte(i);
  const size_t left = s.size() - i;
  if (b0 < 0x80) {
    return 1;
  }
  if (in(b0, 0xC2, 0xDF)) {
    return left >= 2 && in(byte(i + 1), 0x80, 0xBF) ? 2 : 0;
  }
  if (in(b0, 0xE0, 0xEF)) {
    if (left < 3) {
      return 0;
    }
    const uint8_t lo = b0 == 0xE0 ? 0xA0 : 0x80;
    const uint8_t hi = b0 == 0xED ? 0x9F : 0xBF;
    return in(byte(i + 1), lo, hi) && in(byte(i + 2), 0x80, 0xBF) ? 3 : 0;
  }
  if (in(b0, 0xF0, 0xF4)) {
    if (left < 4) {
      return 0;
    }
    const uint8_t lo = b0 == 0xF0 ? 0x90 : 0x80;
    const uint8_t hi = b0 == 0xF4 ? 0x8F : 0xBF;
    return in(byte(i + 1), lo, hi) && in(byte(i + 2), 0x80, 0xBF) && in(byte(i + 3), 0x80, 0xBF)
               ? 4
               : 0;
  }
  return 0;
}

// The message with every ill-formed byte replaced by U+FFFD, so the reply is valid UTF-8 even
// when a caller quotes bytes it got from the network. Returns false (and leaves *out alone)
// when `in` is already valid, the common case.
bool SanitizeUtf8(std::string_view in, std::string* out) {
  size_t i = ValidUtf8PrefixLength(in);
  if (i == in.size()) {
    return false;
  }
  out->assign(in.substr(0, i));
  while (i < in.size()) {
    const size_t n = Utf8SequenceLength(in, i);
    if (n == 0) {
      out->append("\xEF\xBF\xBD");
      ++i;
    } else {
      out->append(in.substr(i, n));
      i += n;
    }
  }
  return true;
}

}  // namespace

size_t ValidUtf8PrefixLength(std::string_view s) {
  constexpr uint64_t kHighBits = 0x8080808080808080ull;
  size_t i = 0;
  while (i < s.size()) {
    if (s.size() - i >= 8) {
      uint64_t word;
      std::memcpy(&word, s.data() + i, sizeof(word));
      if ((word & kHighBits) == 0) {
        i += 8;
        continue;
      }
    }
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      return i;
    }
    i += n;
  }
  return i;
}

int HttpStatusForErrorCode(int code) {
  for (const JsonRpcErrorCode& entry : kJsonRpcErrorCodes) {
    if (entry.code == code) {
      return entry.http_status;
    }
  }
  return 500;
}

std::string JsonRpcErrorBody(std::string_view id_json, int code, std::string_view message,
                             std::string_view data_json) {
  std::string clean;
  if (SanitizeUtf8(message, &clean)) {
    message = clean;
  }

  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("jsonrpc");
  writer.String("2.0");
  writer.Key("id");
  if (id_json.empty()) {
    writer.Null();
  } else {
    writer.RawValue(id_json.data(), id_json.size(), rapidjson::kStringType);
  }
  writer.Key("error");
  writer.StartObject();
  writer.Key("code");
  writer.Int(code);
  writer.Key("message");
  writer.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  if (!data_json.empty()) {
    writer.Key("data");
    writer.RawValue(data_json.data(), data_json.size(), rapidjson::kObjectType);
  }
  writer.EndObject();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace portcullis::mcp
