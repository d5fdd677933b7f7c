// audit::Record (include/portcullis/audit.h): one JSON object built with RapidJSON's Writer.
//
// Every key and string value passes through CleanUtf8 first, so the writer only ever sees
// valid UTF-8 of bounded size; the writer then escapes '"', '\\' and every byte below 0x20
// (NUL and newlines included), which keeps a record on one line whatever the network sent.

#include <cassert>
#include <cmath>
#include <string>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "gateway/audit/timestamp.h"
#include "gateway/audit/utf8.h"
#include "portcullis/audit.h"

namespace portcullis::audit {
namespace {

// Keys are names chosen by our code, but they go through the same cleaning; they never need
// more than this.
constexpr size_t kMaxKeyBytes = 256;
// A typical record fits without the buffer growing.
constexpr size_t kInitialBufferBytes = 512;

// The members the chain owns; a field with one of these names at the top level is written
// with a leading '_' so that a record cannot carry two "seq"s (docs/AUDIT.md).
bool IsReservedKey(std::string_view key) {
  return key == "ts" || key == "event" || key == "seq" || key == "prev" || key == "hash";
}

}  // namespace

struct Record::Impl {
  Impl() : writer(buffer) { buffer.Reserve(kInitialBufferBytes); }

  void Key(std::string_view key) {
    assert(!taken && "Record used after TakeOpenJson()");
    if (depth == 0 && IsReservedKey(key)) {
      std::string renamed = "_";
      renamed.append(key);
      WriteKey(renamed);
      return;
    }
    WriteKey(key);
  }

  void WriteKey(std::string_view key) {
    CleanText clean = CleanUtf8(key, kMaxKeyBytes, &scratch);
    writer.Key(clean.text.data(), static_cast<rapidjson::SizeType>(clean.text.size()));
  }

  // Writes a string value; true if it had to be cut.
  bool Value(std::string_view value) {
    CleanText clean = CleanUtf8(value, kMaxFieldBytes, &scratch);
    writer.String(clean.text.data(), static_cast<rapidjson::SizeType>(clean.text.size()));
    return clean.truncated;
  }

  void TruncatedFlag(std::string_view key) {
    std::string flag(key);
    flag.append("_truncated");
    Key(flag);
    writer.Bool(true);
  }

  void StringField(std::string_view key, std::string_view value) {
    Key(key);
    if (Value(value)) {
      TruncatedFlag(key);
    }
  }

  void ListField(std::string_view key, const std::vector<std::string>& values) {
    Key(key);
    writer.StartArray();
    bool truncated = values.size() > kMaxListItems;
    const size_t count = truncated ? kMaxListItems : values.size();
    for (size_t i = 0; i < count; ++i) {
      truncated |= Value(values[i]);
    }
    writer.EndArray();
    if (truncated) {
      TruncatedFlag(key);
    }
  }

  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer;
  std::string scratch;
  int depth = 0;  // objects opened by Begin() and not yet closed
  bool taken = false;
};

Record::Record(std::string_view event) : impl_(std::make_unique<Impl>()), event_(event) {
  int64_t seconds;
  uint32_t micros;
  NowRealtime(&seconds, &micros);
  char ts[kTimestampMicrosSize];
  FormatTimestampMicros(seconds, micros, ts);
  impl_->writer.StartObject();
  impl_->writer.Key("ts", 2);
  impl_->writer.String(ts, static_cast<rapidjson::SizeType>(sizeof(ts)));
  impl_->writer.Key("event", 5);
  impl_->Value(event);
}

Record::Record(Record&&) noexcept = default;
Record& Record::operator=(Record&&) noexcept = default;
Record::~Record() = default;

Record& Record::Str(std::string_view key, std::string_view value) {
  impl_->StringField(key, value);
  return *this;
}

Record& Record::Int(std::string_view key, int64_t value) {
  impl_->Key(key);
  impl_->writer.Int64(value);
  return *this;
}

Record& Record::Uint(std::string_view key, uint64_t value) {
  impl_->Key(key);
  impl_->writer.Uint64(value);
  return *this;
}

Record& Record::Bool(std::string_view key, bool value) {
  impl_->Key(key);
  impl_->writer.Bool(value);
  return *this;
}

Record& Record::Double(std::string_view key, double value) {
  impl_->Key(key);
  // JSON has no NaN or Infinity, and RapidJSON's writer would leave the member without a value.
  if (std::isfinite(value)) {
    impl_->writer.Double(value);
  } else {
    impl_->writer.Null();
  }
  return *this;
}

Record& Record::IdentityObject(std::string_view key, const Identity& identity) {
  Impl& w = *impl_;
  w.Key(key);
  if (identity.empty()) {
    w.writer.Null();  // no verified certificate: say so rather than print empty fields
    return *this;
  }
  w.writer.StartObject();
  ++w.depth;
  w.StringField("subject", identity.subject);
  w.StringField("cn", identity.cn);
  w.StringField("issuer", identity.issuer);
  w.StringField("serial", identity.serial_hex);
  w.StringField("spiffe_id", identity.spiffe_id);
  w.ListField("dns", identity.dns_sans);
  w.ListField("uri", identity.uri_sans);
  w.ListField("email", identity.email_sans);
  w.ListField("ip", identity.ip_sans);
  w.StringField("fingerprint_sha256", identity.cert_sha256);
  w.StringField("spki_sha256", identity.spki_sha256);
  std::string not_after;
  AppendTimestampSeconds(identity.not_after, &not_after);
  w.StringField("not_after", not_after);
  w.writer.EndObject();
  --w.depth;
  return *this;
}

Record& Record::Begin(std::string_view key) {
  impl_->Key(key);
  impl_->writer.StartObject();
  ++impl_->depth;
  return *this;
}

Record& Record::End() {
  assert(impl_->depth > 0 && "Record::End() without Begin()");
  if (impl_->depth > 0) {
    impl_->writer.EndObject();
    --impl_->depth;
  }
  return *this;
}

Record& Record::StrList(std::string_view key, const std::vector<std::string>& values) {
  impl_->ListField(key, values);
  return *this;
}

std::string Record::TakeOpenJson() {
  Impl& w = *impl_;
  assert(!w.taken && "TakeOpenJson() called twice");
  // A producer that forgot an End() still gets a well-formed record.
  while (w.depth > 0) {
    w.writer.EndObject();
    --w.depth;
  }
  w.taken = true;
  return std::string(w.buffer.GetString(), w.buffer.GetSize());
}

}  // namespace portcullis::audit
