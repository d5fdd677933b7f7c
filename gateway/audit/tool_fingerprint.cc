#include "gateway/audit/tool_fingerprint.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace portcullis::audit {

namespace {

// Iterative parsing: no recursion in the parser whatever the input (depth is also pre-checked).
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag;

// The JSON member names of the parts, in the order of kToolPartNames.
constexpr std::array<std::string_view, kToolPartNames.size()> kToolPartKeys = {
    "description", "inputSchema", "outputSchema", "title", "annotations"};

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string_view View(const rapidjson::Value& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

// Recursion is bounded: every caller first checks NestingWithin(kMaxDepth).
void WriteCanonical(const rapidjson::Value& v, Writer& w) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      w.Null();
      return;
    case rapidjson::kFalseType:
      w.Bool(false);
      return;
    case rapidjson::kTrueType:
      w.Bool(true);
      return;
    case rapidjson::kStringType:
      w.String(v.GetString(), v.GetStringLength());
      return;
    case rapidjson::kNumberType:
      if (v.IsInt64()) {
        w.Int64(v.GetInt64());
      } else if (v.IsUint64()) {
        w.Uint64(v.GetUint64());
      } else if (double d = v.GetDouble(); std::trunc(d) == d && std::fabs(d) < 0x1p53) {
        // 1.0, 1e0 and 1 are the same number to JSON Schema; re-serializing a schema in
        // another language must not look like a change.
        w.Int64(static_cast<int64_t>(d));
      } else {
        w.Double(d);
      }
      return;
    case rapidjson::kArrayType:
      w.StartArray();
      for (const auto& item : v.GetArray()) {
        WriteCanonical(item, w);
      }
      w.EndArray();
      return;
    case rapidjson::kObjectType: {
      std::vector<const rapidjson::Value::Member*> members;
      members.reserve(v.MemberCount());
      for (const auto& m : v.GetObject()) {
        members.push_back(&m);
      }
      std::stable_sort(members.begin(), members.end(),
                       [](const auto* a, const auto* b) { return View(a->name) < View(b->name); });
      w.StartObject();
      for (const auto* m : members) {
        w.Key(m->name.GetString(), m->name.GetStringLength());
        WriteCanonical(m->value, w);
      }
      w.EndObject();
      return;
    }
  }
}

std::string Canonical(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  WriteCanonical(v, writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

class Sha256 {
 public:
  Sha256() { wc_InitSha256(&sha_); }
  ~Sha256() { wc_Sha256Free(&sha_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size) {
    // wolfCrypt takes a word32 length; feed huge inputs in slices.
    const auto* p = static_cast<const unsigned char*>(data);
    while (size > 0) {
      word32 n = static_cast<word32>(std::min<size_t>(size, 1u << 30));
      wc_Sha256Update(&sha_, p, n);
      p += n;
      size -= n;
    }
  }
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  Sha256Digest Final() {
    Sha256Digest out{};
    wc_Sha256Final(&sha_, out.data());
    return out;
  }

 private:
  wc_Sha256 sha_;
};

Sha256Digest Digest(std::string_view bytes) {
  Sha256 sha;
  sha.Update(bytes);
  return sha.Final();
}

std::string Hex(const uint8_t* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0xf]);
  }
  return out;
}

std::string ShortName(std::string_view name) {
  if (name.size() <= kMaxToolNameBytes) {
    return std::string(name);
  }
  // Keep a readable prefix, cut on a UTF-8 character boundary.
  size_t cut = 64;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  Sha256Digest digest = Digest(name);
  return std::string(name.substr(0, cut)) + "...sha256:" + Hex(digest.data(), digest.size());
}

ToolFingerprint FingerprintTool(const rapidjson::Value& tool, std::string_view name) {
  ToolFingerprint fp;
  fp.name = ShortName(name);
  Sha256 all;
  // Length-prefixed, so no two (name, parts) sequences hash the same bytes.
  uint64_t name_size = name.size();
  all.Update(&name_size, sizeof(name_size));
  all.Update(name);
  for (size_t i = 0; i < kToolPartKeys.size(); ++i) {
    auto it =
        tool.FindMember(rapidjson::StringRef(kToolPartKeys[i].data(), kToolPartKeys[i].size()));
    // Absent hashes as the empty string, which no JSON value's canonical text is.
    fp.parts[i] = Digest(it == tool.MemberEnd() ? std::string() : Canonical(it->value));
    all.Update(fp.parts[i].data(), fp.parts[i].size());
  }
  Sha256Digest digest = all.Final();
  fp.hash = Hex(digest.data(), digest.size());
  return fp;
}

}  // namespace

bool NestingWithin(std::string_view json, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : json) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return false;
      }
    } else if (c == ']' || c == '}') {
      --depth;  // unbalanced text is the parser's to reject
    }
  }
  return true;
}

std::optional<std::string> CanonicalJson(std::string_view json) {
  if (!NestingWithin(json, kMaxDepth)) {
    return std::nullopt;
  }
  rapidjson::Document doc;
  doc.Parse<kParseFlags>(json.data(), json.size());
  if (doc.HasParseError()) {
    return std::nullopt;
  }
  return Canonical(doc);
}

std::optional<ToolListFingerprints> FingerprintToolList(std::string_view json,
                                                        ToolListError* error) {
  ToolListError ignored;
  ToolListError& why = error != nullptr ? *error : ignored;
  if (json.size() > kMaxToolListBytes) {
    why = ToolListError::kTooLarge;
    return std::nullopt;
  }
  if (!NestingWithin(json, kMaxDepth)) {
    why = ToolListError::kTooDeep;
    return std::nullopt;
  }
  why = ToolListError::kNotToolList;
  rapidjson::Document doc;
  doc.Parse<kParseFlags>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return std::nullopt;
  }
  const rapidjson::Value* result = &doc;
  if (auto it = doc.FindMember("result"); it != doc.MemberEnd()) {
    if (!it->value.IsObject()) {
      return std::nullopt;
    }
    result = &it->value;
  }
  auto tools = result->FindMember("tools");
  if (tools == result->MemberEnd() || !tools->value.IsArray()) {
    return std::nullopt;
  }
  ToolListFingerprints out;
  auto cursor = result->FindMember("nextCursor");
  out.last_page = cursor == result->MemberEnd() || cursor->value.IsNull();
  std::unordered_set<std::string_view> seen;
  for (const auto& tool : tools->value.GetArray()) {
    if (!tool.IsObject()) {
      ++out.skipped;
      continue;
    }
    auto name = tool.FindMember("name");
    if (name == tool.MemberEnd() || !name->value.IsString() || name->value.GetStringLength() == 0 ||
        !seen.insert(View(name->value)).second) {
      ++out.skipped;
      continue;
    }
    out.tools.push_back(FingerprintTool(tool, View(name->value)));
  }
  return out;
}

std::vector<std::string_view> ChangedToolParts(const ToolFingerprint& before,
                                               const ToolFingerprint& after) {
  std::vector<std::string_view> changed;
  for (size_t i = 0; i < kToolPartNames.size(); ++i) {
    if (before.parts[i] != after.parts[i]) {
      changed.push_back(kToolPartNames[i]);
    }
  }
  return changed;
}

}  // namespace portcullis::audit
