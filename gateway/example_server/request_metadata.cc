#include "gateway/example_server/request_metadata.h"

#include <cstdint>
#include <string_view>

namespace portcullis::example {

namespace {

constexpr std::string_view kBase64Prefix = "=?base64?";
constexpr std::string_view kBase64Suffix = "?=";

// The body member Mcp-Name mirrors, or nullptr when the method needs no Mcp-Name.
const char* NameField(std::string_view method) {
  if (method == "tools/call" || method == "prompts/get") {
    return "name";
  }
  return method == "resources/read" ? "uri" : nullptr;
}

// The only header called `name` (lower-case); nullptr with *error set when it is absent or
// repeated (with two, a proxy and this server could each read a different one).
const std::string* SingleHeader(const HttpRequest& request, std::string_view name,
                                std::string_view display_name, std::string* error) {
  const std::string* found = nullptr;
  for (const auto& [key, value] : request.headers) {
    if (key != name) {
      continue;
    }
    if (found != nullptr) {
      *error = "Header mismatch: more than one " + std::string(display_name) + " header";
      return nullptr;
    }
    found = &value;
  }
  if (found == nullptr) {
    *error = "Header mismatch: " + std::string(display_name) + " header is required";
  }
  return found;
}

// RFC 4648 base64 with padding.
bool DecodeBase64(std::string_view text, std::string* out) {
  if (text.size() % 4 != 0) {
    return false;
  }
  uint32_t bits = 0;
  int pending = 0;
  size_t padding = 0;
  for (char c : text) {
    int value;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) {
      return false;  // '=' only at the end
    }
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+') {
      value = 62;
    } else if (c == '/') {
      value = 63;
    } else {
      return false;
    }
    bits = (bits << 6) | static_cast<uint32_t>(value);
    pending += 6;
    if (pending >= 8) {
      pending -= 8;
      out->push_back(static_cast<char>((bits >> pending) & 0xff));
    }
  }
  return padding <= 2;
}

// A header value as sent: visible ASCII, space and tab only (RFC 9110 field values; anything
// else must come base64-encoded). On success *decoded is the value meant.
bool DecodeHeaderValue(const std::string& value, std::string* decoded) {
  for (char c : value) {
    if ((c < 0x20 || c > 0x7e) && c != '\t') {
      return false;
    }
  }
  std::string_view view(value);
  if (view.size() >= kBase64Prefix.size() + kBase64Suffix.size() &&
      view.substr(0, kBase64Prefix.size()) == kBase64Prefix &&
      view.substr(view.size() - kBase64Suffix.size()) == kBase64Suffix) {
    view = view.substr(kBase64Prefix.size(),
                       view.size() - kBase64Prefix.size() - kBase64Suffix.size());
    return DecodeBase64(view, decoded);
  }
  *decoded = value;
  return true;
}

std::string Mismatch(std::string_view header, std::string_view header_value,
                     std::string_view body_value) {
  return "Header mismatch: " + std::string(header) + " header value '" + std::string(header_value) +
         "' does not match body value '" + std::string(body_value) + "'";
}

}  // namespace

std::string DeclaredProtocolVersion(const Message& message) {
  const rapidjson::Value* params = message.params();
  if (params == nullptr || !params->IsObject()) {
    return std::string();
  }
  auto meta = params->FindMember("_meta");
  if (meta == params->MemberEnd() || !meta->value.IsObject()) {
    return std::string();
  }
  auto version = meta->value.FindMember("io.modelcontextprotocol/protocolVersion");
  if (version == meta->value.MemberEnd() || !version->value.IsString()) {
    return std::string();
  }
  return std::string(version->value.GetString(), version->value.GetStringLength());
}

std::string CheckRequestMetadata(const HttpRequest& request, const Message& message) {
  std::string error;
  const std::string* version =
      SingleHeader(request, "mcp-protocol-version", "MCP-Protocol-Version", &error);
  if (version == nullptr) {
    return error;
  }
  std::string declared = DeclaredProtocolVersion(message);
  if (*version != declared) {
    return Mismatch("MCP-Protocol-Version", *version, declared);
  }
  const std::string* method = SingleHeader(request, "mcp-method", "Mcp-Method", &error);
  if (method == nullptr) {
    return error;
  }
  if (*method != message.method()) {
    return Mismatch("Mcp-Method", *method, message.method());
  }
  const char* field = NameField(message.method());
  if (field == nullptr) {
    return std::string();
  }
  const std::string* name = SingleHeader(request, "mcp-name", "Mcp-Name", &error);
  if (name == nullptr) {
    return error;
  }
  std::string decoded;
  if (!DecodeHeaderValue(*name, &decoded)) {
    return "Header mismatch: Mcp-Name header value is not valid";
  }
  // A body without the field matches no header, not even an empty one.
  bool has_body_value = false;
  std::string body_value;
  const rapidjson::Value* params = message.params();
  if (params != nullptr && params->IsObject()) {
    auto member = params->FindMember(field);
    if (member != params->MemberEnd() && member->value.IsString()) {
      has_body_value = true;
      body_value.assign(member->value.GetString(), member->value.GetStringLength());
    }
  }
  if (!has_body_value || decoded != body_value) {
    return Mismatch("Mcp-Name", *name, body_value);
  }
  return std::string();
}

}  // namespace portcullis::example
