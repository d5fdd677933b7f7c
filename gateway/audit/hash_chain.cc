#include "gateway/audit/hash_chain.h"

#include <charconv>
#include <cstdlib>

#include <rapidjson/encodings.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace portcullis::audit {
namespace {

constexpr std::string_view kSeqKey = ",\"seq\":";
constexpr std::string_view kPrevKey = ",\"prev\":\"";
constexpr std::string_view kHashKey = ",\"hash\":\"";
constexpr size_t kHexSize = 64;

void ToHex(const uint8_t* digest, size_t size, std::string* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < size; ++i) {
    out->push_back(kDigits[digest[i] >> 4]);
    out->push_back(kDigits[digest[i] & 0xF]);
  }
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

bool EndsWith(std::string_view s, size_t end, std::string_view suffix) {
  return end >= suffix.size() && s.substr(end - suffix.size(), suffix.size()) == suffix;
}

// Collects the few top-level members verify needs while RapidJSON checks the syntax.
class TopLevelHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, TopLevelHandler> {
 public:
  explicit TopLevelHandler(ParsedRecord* out) : out_(out) {}

  bool Default() {
    key_ = Member::kOther;
    return true;
  }
  bool StartObject() {
    ++depth_;
    key_ = Member::kOther;
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    --depth_;
    return true;
  }
  bool StartArray() {
    ++depth_;
    key_ = Member::kOther;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth_;
    return true;
  }
  bool Key(const char* str, rapidjson::SizeType len, bool) {
    key_ = Member::kOther;
    if (depth_ == 1) {
      std::string_view k(str, len);
      if (k == "event") {
        key_ = Member::kEvent;
      } else if (k == "unreadable_bytes") {
        key_ = Member::kUnreadableBytes;
      } else if (k == "unreadable_sha256") {
        key_ = Member::kUnreadableSha256;
      }
    }
    return true;
  }
  bool String(const char* str, rapidjson::SizeType len, bool) {
    if (depth_ == 1 && key_ == Member::kEvent) {
      out_->event.assign(str, len);
    } else if (depth_ == 1 && key_ == Member::kUnreadableSha256) {
      out_->unreadable_sha256.assign(str, len);
    }
    key_ = Member::kOther;
    return true;
  }
  bool Uint(unsigned u) { return Uint64(u); }
  bool Uint64(uint64_t u) {
    if (depth_ == 1 && key_ == Member::kUnreadableBytes) {
      out_->unreadable_bytes = u;
    }
    key_ = Member::kOther;
    return true;
  }

  int depth() const { return depth_; }

 private:
  enum class Member { kOther, kEvent, kUnreadableBytes, kUnreadableSha256 };
  ParsedRecord* out_;
  int depth_ = 0;
  Member key_ = Member::kOther;
};

}  // namespace

Sha256::Sha256() { wc_InitSha256(&sha_); }
Sha256::~Sha256() { wc_Sha256Free(&sha_); }

void Sha256::Update(std::string_view bytes) {
  // wolfCrypt takes a word32 length; feed huge inputs in pieces.
  constexpr size_t kMaxChunk = 1u << 30;
  while (!bytes.empty()) {
    const size_t n = bytes.size() < kMaxChunk ? bytes.size() : kMaxChunk;
    wc_Sha256Update(&sha_, reinterpret_cast<const byte*>(bytes.data()), static_cast<word32>(n));
    bytes.remove_prefix(n);
  }
}

std::string Sha256::HexDigest() {
  uint8_t digest[WC_SHA256_DIGEST_SIZE];
  wc_Sha256Final(&sha_, digest);  // also re-initializes the state
  std::string hex;
  hex.reserve(2 * sizeof(digest));
  ToHex(digest, sizeof(digest), &hex);
  return hex;
}

void Sha256::Reset() {
  wc_Sha256Free(&sha_);
  wc_InitSha256(&sha_);
}

std::string Sha256Hex(std::string_view bytes) {
  Sha256 sha;
  sha.Update(bytes);
  return sha.HexDigest();
}

void SealRecord(ChainPosition* position, std::string* line) {
  position->seq += 1;
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), position->seq);
  (void)ec;  // 24 bytes always hold a uint64_t
  line->reserve(line->size() + kSeqKey.size() + 20 + 2 * (kPrevKey.size() + kHexSize) + 4);
  line->append(kSeqKey);
  line->append(digits, end);
  line->append(kPrevKey);
  line->append(position->hash);
  line->push_back('"');
  std::string hash = Sha256Hex(*line);
  line->append(kHashKey);
  line->append(hash);
  line->append("\"}\n");
  position->hash = std::move(hash);
}

std::optional<RecordTail> ParseRecordTail(std::string_view line) {
  RecordTail tail;
  size_t p = line.size();
  if (line.empty() || line.front() != '{' || !EndsWith(line, p, "\"}")) {
    return std::nullopt;
  }
  p -= 2;
  if (p < kHexSize) {
    return std::nullopt;
  }
  tail.hash = line.substr(p - kHexSize, kHexSize);
  p -= kHexSize;
  if (!EndsWith(line, p, kHashKey)) {
    return std::nullopt;
  }
  p -= kHashKey.size();
  tail.hashed_size = p;
  if (!EndsWith(line, p, "\"") || p - 1 < kHexSize) {
    return std::nullopt;
  }
  p -= 1;
  tail.prev = line.substr(p - kHexSize, kHexSize);
  p -= kHexSize;
  if (!EndsWith(line, p, kPrevKey)) {
    return std::nullopt;
  }
  p -= kPrevKey.size();
  size_t digits_end = p;
  while (p > 0 && line[p - 1] >= '0' && line[p - 1] <= '9') {
    --p;
  }
  const size_t ndigits = digits_end - p;
  if (ndigits == 0 || ndigits > 20 || (ndigits > 1 && line[p] == '0')) {
    return std::nullopt;  // the writer never emits leading zeros
  }
  auto [ptr, ec] = std::from_chars(line.data() + p, line.data() + digits_end, tail.seq);
  if (ec != std::errc() || ptr != line.data() + digits_end || tail.seq == 0) {
    return std::nullopt;
  }
  if (!EndsWith(line, p, kSeqKey)) {
    return std::nullopt;
  }
  if (!IsLowerHex(tail.prev) || !IsLowerHex(tail.hash)) {
    return std::nullopt;
  }
  return tail;
}

std::optional<ParsedRecord> ParseRecordLine(std::string_view line, std::string* why) {
  ParsedRecord record;
  rapidjson::MemoryStream stream(line.data(), line.size());
  TopLevelHandler handler(&record);
  rapidjson::Reader reader;
  // Stop after the one root value and check ourselves that it used the whole line: a raw NUL
  // would otherwise end the input early and hide what follows it.
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseStopWhenDoneFlag |
                              rapidjson::kParseFullPrecisionFlag;
  rapidjson::ParseResult ok = reader.Parse<kFlags>(stream, handler);
  if (!ok) {
    if (why) {
      *why = std::string("not JSON (") + rapidjson::GetParseError_En(ok.Code()) + " at byte " +
             std::to_string(ok.Offset()) + ")";
    }
    return std::nullopt;
  }
  if (stream.Tell() != line.size()) {
    if (why) {
      *why = "not JSON (bytes after the object at byte " + std::to_string(stream.Tell()) + ")";
    }
    return std::nullopt;
  }
  std::optional<RecordTail> tail = ParseRecordTail(line);
  if (!tail) {
    if (why) {
      *why = "not an audit record (JSON without the seq/prev/hash ending)";
    }
    return std::nullopt;
  }
  record.tail = *tail;
  record.hash_ok = Sha256Hex(line.substr(0, tail->hashed_size)) == tail->hash;
  return record;
}

}  // namespace portcullis::audit
