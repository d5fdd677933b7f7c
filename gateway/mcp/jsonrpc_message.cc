#include "gateway/mcp/jsonrpc_message.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <cstring>

#include "gateway/mcp/jsonrpc_error.h"

namespace portcullis::mcp {
namespace {

// The fields the gateway reads, each in exactly one object: the top level, params, params._meta,
// params.ref, or a response's error. One bit each in InspectHandler::seen_.
enum Field : uint8_t {
  kNone,
  kJsonrpc,
  kId,
  kMethod,
  kParams,
  kResult,
  kError,
  kName,
  kUri,
  kMeta,
  kRef,
  kProgressToken,
  kMetaProtocolVersion,
  kRefType,
  kRefName,
  kRefUri,
  kErrorCode,
  kErrorMessage,
  kFieldCount,
};
static_assert(kFieldCount <= 32, "seen_ is a 32-bit mask");

// For messages about a field, as a path from the top of the message.
constexpr const char* kFieldNames[kFieldCount] = {
    "",
    "jsonrpc",
    "id",
    "method",
    "params",
    "result",
    "error",
    "params.name",
    "params.uri",
    "params._meta",
    "params.ref",
    "params._meta.progressToken",
    "params._meta[\"io.modelcontextprotocol/protocolVersion\"]",
    "params.ref.type",
    "params.ref.name",
    "params.ref.uri",
    "error.code",
    "error.message",
};

// Which object the parser is in, for the objects whose keys are read.
enum class Context : uint8_t { kOther, kTop, kParams, kMeta, kRef, kError };

enum class JsonType : uint8_t {
  kAbsent,
  kNull,
  kBool,
  kInteger,
  kDouble,
  kString,
  kObject,
  kArray
};

// Objects deeper than this are never read, so their context is not tracked.
constexpr int kTrackedDepth = 3;

Field LookupKey(Context context, std::string_view key) {
  switch (context) {
    case Context::kTop:
      if (key == "jsonrpc") return kJsonrpc;
      if (key == "id") return kId;
      if (key == "method") return kMethod;
      if (key == "params") return kParams;
      if (key == "result") return kResult;
      if (key == "error") return kError;
      return kNone;
    case Context::kParams:
      if (key == "name") return kName;
      if (key == "uri") return kUri;
      if (key == "_meta") return kMeta;
      if (key == "ref") return kRef;
      return kNone;
    case Context::kMeta:
      if (key == "progressToken") return kProgressToken;
      if (key == kMetaProtocolVersionKey) return kMetaProtocolVersion;
      return kNone;
    case Context::kRef:
      if (key == "type") return kRefType;
      if (key == "name") return kRefName;
      if (key == "uri") return kRefUri;
      return kNone;
    case Context::kError:
      if (key == "code") return kErrorCode;
      if (key == "message") return kErrorMessage;
      return kNone;
    case Context::kOther:
      return kNone;
  }
  return kNone;
}

Context ContextOfObject(Field field) {
  switch (field) {
    case kParams:
      return Context::kParams;
    case kMeta:
      return Context::kMeta;
    case kRef:
      return Context::kRef;
    case kError:
      return Context::kError;
    default:
      return Context::kOther;
  }
}

// A NUL byte, or an unpaired UTF-16 surrogate that a "\uDC00" escape smuggled in as the bytes
// ED B0 80 (RapidJSON validates raw UTF-8 but not what escapes decode to). Names with either
// are read differently by different parsers and C APIs, so they are refused.
bool HasForbiddenCharacter(std::string_view s) {
  if (std::memchr(s.data(), '\0', s.size()) != nullptr) {
    return true;
  }
  for (size_t i = s.find('\xED'); i != std::string_view::npos; i = s.find('\xED', i + 1)) {
    if (i + 1 < s.size() && static_cast<uint8_t>(s[i + 1]) >= 0xA0) {
      return true;
    }
  }
  return false;
}

// SAX handler that records the fields above and the nesting depth. It stops the parse early only
// for what makes reading on pointless (a batch, a non-object, too deep); everything else is
// judged once the whole body is known to be JSON, so a parse error always wins.
class InspectHandler {
 public:
  using Ch = char;

  enum class Abort { kNone, kBatch, kNotObject, kTooDeep };

  // *stream must be the stream being parsed; it tells where a value ends so that the id can be
  // kept exactly as written.
  InspectHandler(std::string_view body, const rapidjson::MemoryStream* stream, int max_depth)
      : body_(body), stream_(stream), max_depth_(max_depth) {}

  bool Null() { return Scalar(JsonType::kNull) != kAbortValue; }
  bool Bool(bool) { return Scalar(JsonType::kBool) != kAbortValue; }
  bool Int(int) { return Integer(); }
  bool Uint(unsigned) { return Integer(); }
  bool Int64(int64_t) { return Integer(); }
  bool Uint64(uint64_t) { return Integer(); }
  bool Double(double) { return Scalar(JsonType::kDouble) != kAbortValue; }
  bool RawNumber(const Ch*, rapidjson::SizeType, bool) {
    return Scalar(JsonType::kDouble) != kAbortValue;
  }

  bool String(const Ch* str, rapidjson::SizeType length, bool) {
    const Field field = Scalar(JsonType::kString);
    const std::string_view value(str, length);
    switch (field) {
      case kAbortValue:
        return false;
      case kJsonrpc:
        jsonrpc_is_2_0_ = value == "2.0";
        break;
      case kId:
        info_.id_json = RawValueText();
        break;
      case kProgressToken:
        info_.progress_token_json = RawValueText();
        break;
      case kMethod:
        info_.method.assign(value);
        break;
      case kName:
        info_.name.assign(value);
        break;
      case kUri:
        info_.uri.assign(value);
        break;
      case kMetaProtocolVersion:
        info_.meta_protocol_version.assign(value);
        break;
      case kRefType:
        info_.ref_type.assign(value);
        break;
      case kRefName:
        ref_name_.assign(value);
        break;
      case kRefUri:
        ref_uri_.assign(value);
        break;
      default:
        break;
    }
    return true;
  }

  bool StartObject() { return StartContainer(JsonType::kObject); }
  bool StartArray() { return StartContainer(JsonType::kArray); }
  bool EndObject(rapidjson::SizeType) { return EndContainer(); }
  bool EndArray(rapidjson::SizeType) { return EndContainer(); }

  bool Key(const Ch* str, rapidjson::SizeType length, bool) {
    pending_ = depth_ <= kTrackedDepth ? LookupKey(context_[depth_], std::string_view(str, length))
                                       : kNone;
    if (pending_ != kNone) {
      const uint32_t bit = uint32_t{1} << pending_;
      if ((seen_ & bit) != 0 && duplicate_ == kNone) {
        duplicate_ = pending_;
      }
      seen_ |= bit;
      if (pending_ == kId || pending_ == kProgressToken) {
        value_start_ = stream_->Tell();  // just past the key's closing quote
      }
    }
    return true;
  }

  Abort abort() const { return abort_; }
  JsonType type(Field field) const { return types_[field]; }
  bool jsonrpc_is_2_0() const { return jsonrpc_is_2_0_; }
  Field duplicate() const { return duplicate_; }
  MessageInfo& info() { return info_; }
  const std::string& ref_name() const { return ref_name_; }
  const std::string& ref_uri() const { return ref_uri_; }

 private:
  // Returned by Scalar() when the parse must stop.
  static constexpr Field kAbortValue = kFieldCount;

  // Consumes the key that this value belongs to (if it is one that is read) and records the
  // value's type. A scalar at the top level stops the parse.
  Field Scalar(JsonType type) {
    if (depth_ == 0) {
      abort_ = Abort::kNotObject;
      return kAbortValue;
    }
    return TakePending(type);
  }

  Field TakePending(JsonType type) {
    const Field field = pending_;
    pending_ = kNone;
    if (field != kNone) {
      types_[field] = type;
    }
    return field;
  }

  bool Integer() {
    const Field field = Scalar(JsonType::kInteger);
    if (field == kAbortValue) {
      return false;
    }
    if (field == kId) {
      info_.id_json = RawValueText();
    } else if (field == kProgressToken) {
      info_.progress_token_json = RawValueText();
    }
    return true;
  }

  bool StartContainer(JsonType type) {
    if (depth_ == 0 && type == JsonType::kArray) {
      abort_ = Abort::kBatch;
      return false;
    }
    const Field field = TakePending(type);
    if (++depth_ > max_depth_) {
      abort_ = Abort::kTooDeep;
      return false;
    }
    if (depth_ <= kTrackedDepth) {
      if (type == JsonType::kArray) {
        context_[depth_] = Context::kOther;
      } else {
        context_[depth_] = depth_ == 1 ? Context::kTop : ContextOfObject(field);
      }
    }
    return true;
  }

  bool EndContainer() {
    --depth_;
    return true;
  }

  // The text of the value that just ended, from the key recorded in value_start_: the parser
  // has checked that only whitespace and the colon come before it.
  std::string RawValueText() const {
    size_t begin = value_start_;
    const size_t end = stream_->Tell();
    while (begin < end && (body_[begin] == ' ' || body_[begin] == '\t' || body_[begin] == '\n' ||
                           body_[begin] == '\r' || body_[begin] == ':')) {
      ++begin;
    }
    return std::string(body_.substr(begin, end - begin));
  }

  const std::string_view body_;
  const rapidjson::MemoryStream* const stream_;
  const int max_depth_;

  int depth_ = 0;
  Context context_[kTrackedDepth + 1] = {};
  Field pending_ = kNone;
  size_t value_start_ = 0;
  uint32_t seen_ = 0;
  Field duplicate_ = kNone;
  Abort abort_ = Abort::kNone;
  JsonType types_[kFieldCount] = {};
  bool jsonrpc_is_2_0_ = false;
  MessageInfo info_;
  std::string ref_name_;
  std::string ref_uri_;
};

InspectError Refuse(int code, std::string message, std::string id_json = "") {
  InspectError error;
  error.http_status = 400;
  error.code = code;
  error.message = std::move(message);
  error.id_json = std::move(id_json);
  return error;
}

bool IsIdType(JsonType type) { return type == JsonType::kString || type == JsonType::kInteger; }

// The checks that need the whole message: kind, types, and what each method requires.
InspectResult Judge(InspectHandler& handler) {
  using Kind = MessageInfo::Kind;
  MessageInfo& info = handler.info();
  const auto type = [&](Field field) { return handler.type(field); };
  const auto has = [&](Field field) { return handler.type(field) != JsonType::kAbsent; };

  // Echo the id only when it is unambiguous and of a valid type.
  std::string echo_id;
  if (IsIdType(type(kId)) && handler.duplicate() != kId) {
    echo_id = info.id_json;
  }
  const auto invalid_request = [&](std::string why) {
    return Refuse(kInvalidRequest, "Invalid Request: " + why, echo_id);
  };
  const auto invalid_params = [&](std::string why) {
    return Refuse(kInvalidParams, "Invalid params: " + why, echo_id);
  };

  if (handler.duplicate() != kNone) {
    return invalid_request(std::string("duplicate key ") + kFieldNames[handler.duplicate()]);
  }
  if (type(kJsonrpc) != JsonType::kString || !handler.jsonrpc_is_2_0()) {
    return invalid_request("\"jsonrpc\" must be \"2.0\"");
  }

  if (!has(kMethod)) {
    if (!has(kResult) && !has(kError)) {
      return invalid_request("missing \"method\"");
    }
    if (has(kResult) && has(kError)) {
      return invalid_request("a response carries either \"result\" or \"error\", not both");
    }
    if (!IsIdType(type(kId))) {
      return invalid_request("a response needs an \"id\" that is a string or an integer");
    }
    if (has(kError) &&
        (type(kError) != JsonType::kObject || type(kErrorCode) != JsonType::kInteger ||
         type(kErrorMessage) != JsonType::kString)) {
      return invalid_request(
          "\"error\" must be an object with an integer \"code\" and a string \"message\"");
    }
    // A response has no method and no params; drop anything read from a stray "params".
    MessageInfo response;
    response.kind = Kind::kResponse;
    response.id_json = std::move(info.id_json);
    return response;
  }

  if (type(kMethod) != JsonType::kString || info.method.empty()) {
    return invalid_request("\"method\" must be a non-empty string");
  }
  if (HasForbiddenCharacter(info.method)) {
    return invalid_request("\"method\" contains a NUL character or an unpaired surrogate");
  }
  if (has(kResult) || has(kError)) {
    return invalid_request("a request cannot carry \"result\" or \"error\"");
  }
  if (has(kId)) {
    if (!IsIdType(type(kId))) {
      return invalid_request("\"id\" must be a string or an integer");
    }
    info.kind = Kind::kRequest;
  } else {
    info.kind = Kind::kNotification;
  }
  info.is_initialize = info.kind == Kind::kRequest && info.method == "initialize";

  // JSON-RPC allows params by position; MCP never uses them.
  if (type(kParams) == JsonType::kArray) {
    return invalid_params("\"params\" must be an object");
  }
  if (has(kParams) && type(kParams) != JsonType::kObject) {
    return invalid_request("\"params\" must be an object or an array");
  }

  if (has(kMeta) && type(kMeta) != JsonType::kObject) {
    return invalid_params("params._meta must be an object");
  }
  if (has(kMetaProtocolVersion)) {
    if (type(kMetaProtocolVersion) != JsonType::kString || info.meta_protocol_version.empty()) {
      return invalid_params(std::string("params._meta[\"") + std::string(kMetaProtocolVersionKey) +
                            "\"] must be a non-empty string");
    }
    if (HasForbiddenCharacter(info.meta_protocol_version)) {
      return invalid_request("the _meta protocol version contains a NUL character");
    }
  }
  if (has(kProgressToken) && !IsIdType(type(kProgressToken))) {
    return invalid_params("params._meta.progressToken must be a string or an integer");
  }

  const std::string_view method = info.method;
  const bool needs_name = method == "tools/call" || method == "prompts/get";
  const bool needs_uri = method == "resources/read" || method == "resources/subscribe" ||
                         method == "resources/unsubscribe";
  if (type(kName) != JsonType::kString) {
    if (needs_name) {
      return invalid_params("params.name must be a string");
    }
    info.name.clear();
  } else if (HasForbiddenCharacter(info.name)) {
    return invalid_request("params.name contains a NUL character or an unpaired surrogate");
  }
  if (type(kUri) != JsonType::kString) {
    if (needs_uri) {
      return invalid_params("params.uri must be a string");
    }
    info.uri.clear();
  } else if (HasForbiddenCharacter(info.uri)) {
    return invalid_request("params.uri contains a NUL character or an unpaired surrogate");
  }

  if (method == "completion/complete") {
    if (type(kRef) != JsonType::kObject || type(kRefType) != JsonType::kString) {
      return invalid_params("params.ref must be an object with a string \"type\"");
    }
    if (info.ref_type == "ref/prompt") {
      if (type(kRefName) != JsonType::kString) {
        return invalid_params("params.ref.name must be a string");
      }
      info.ref_name_or_uri = handler.ref_name();
    } else if (info.ref_type == "ref/resource") {
      if (type(kRefUri) != JsonType::kString) {
        return invalid_params("params.ref.uri must be a string");
      }
      info.ref_name_or_uri = handler.ref_uri();
    } else {
      // Fail closed: a reference the policy cannot name cannot be authorized.
      return invalid_params("params.ref.type must be \"ref/prompt\" or \"ref/resource\"");
    }
    if (HasForbiddenCharacter(info.ref_name_or_uri)) {
      return invalid_request("params.ref contains a NUL character or an unpaired surrogate");
    }
  } else {
    info.ref_type.clear();
  }
  return std::move(info);
}

}  // namespace

bool IsKnownProtocolVersion(std::string_view version) {
  for (std::string_view known : kKnownProtocolVersions) {
    if (version == known) {
      return true;
    }
  }
  return false;
}

std::string InspectError::Body() const {
  return JsonRpcErrorBody(id_json, code, message, data_json);
}

InspectResult InspectMessage(std::string_view body, int max_depth) {
  // JSON text is UTF-8 (RFC 8259 §8.1), and bytes that are not are read differently by
  // different upstreams. One pass over the whole body is several times faster than RapidJSON's
  // kParseValidateEncodingFlag, which decodes every string character by character; outside
  // strings, any byte above 0x7F is a parse error anyway.
  const size_t valid_utf8 = ValidUtf8PrefixLength(body);
  if (valid_utf8 != body.size()) {
    return Refuse(kParseError,
                  "Parse error: invalid UTF-8 (at byte " + std::to_string(valid_utf8) + ")");
  }
  // Iterative: the parser keeps its own heap stack, so even a limit far too generous cannot
  // overflow the thread's stack.
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag;

  rapidjson::MemoryStream stream(body.data(), body.size());
  InspectHandler handler(body, &stream, max_depth < 1 ? 1 : max_depth);
  rapidjson::Reader reader;
  const rapidjson::ParseResult parsed = reader.Parse<kFlags>(stream, handler);

  if (parsed.IsError()) {
    if (parsed.Code() == rapidjson::kParseErrorTermination) {
      switch (handler.abort()) {
        case InspectHandler::Abort::kBatch:
          return Refuse(kInvalidRequest, "Batch requests are not supported");
        case InspectHandler::Abort::kNotObject:
          return Refuse(kInvalidRequest, "Invalid Request: a message must be a JSON object");
        case InspectHandler::Abort::kTooDeep:
          return Refuse(kParseError, "Parse error: JSON nested deeper than " +
                                         std::to_string(max_depth < 1 ? 1 : max_depth) + " levels");
        case InspectHandler::Abort::kNone:
          break;
      }
    }
    return Refuse(kParseError, std::string("Parse error: ") +
                                   rapidjson::GetParseError_En(parsed.Code()) + " (at byte " +
                                   std::to_string(parsed.Offset()) + ")");
  }
  // MemoryStream reads a NUL byte as the end of input, so "{...}\0junk" parses; refuse it.
  if (stream.Tell() != body.size()) {
    return Refuse(kParseError, "Parse error: unexpected NUL byte (at byte " +
                                   std::to_string(stream.Tell()) + ")");
  }
  return Judge(handler);
}

// ---- Header/body agreement --------------------------------------------------------------------

namespace {

std::string_view TrimOws(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  return value;
}

// What MCP allows in a header value sent without the base64 sentinel: visible ASCII, space and
// tab (streamable-http.mdx, "Value Encoding").
bool IsPlainHeaderValue(std::string_view value) {
  for (char c : value) {
    const auto b = static_cast<uint8_t>(c);
    if (!(b == '\t' || (b >= 0x20 && b <= 0x7E))) {
      return false;
    }
  }
  return true;
}

constexpr std::string_view kSentinelPrefix = "=?base64?";
constexpr std::string_view kSentinelSuffix = "?=";

bool IsSentinelForm(std::string_view value) {
  return value.size() >= kSentinelPrefix.size() + kSentinelSuffix.size() &&
         value.substr(0, kSentinelPrefix.size()) == kSentinelPrefix &&
         value.substr(value.size() - kSentinelSuffix.size()) == kSentinelSuffix;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard alphabet (RFC 4648 §4); padding optional, but when present it must complete the last
// quantum. No whitespace, no URL-safe alphabet.
std::optional<std::string> DecodeBase64(std::string_view in) {
  size_t padding = 0;
  while (padding < 2 && !in.empty() && in.back() == '=') {
    in.remove_suffix(1);
    ++padding;
  }
  if (in.size() % 4 == 1 || (padding > 0 && (in.size() + padding) % 4 != 0)) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t bits = 0;
  int bit_count = 0;
  for (char c : in) {
    const int v = Base64Value(c);
    if (v < 0) {
      return std::nullopt;
    }
    bits = (bits << 6) | static_cast<uint32_t>(v);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<char>((bits >> bit_count) & 0xFF));
    }
  }
  return out;
}

bool IsStatelessProtocolVersion(std::string_view version) {
  // Revisions are dates, so they order as strings.
  return IsKnownProtocolVersion(version) && version >= kFirstStatelessProtocolVersion;
}

std::string UnsupportedVersionData(std::string_view requested) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("supported");
  writer.StartArray();
  for (std::string_view known : kKnownProtocolVersions) {
    writer.String(known.data(), static_cast<rapidjson::SizeType>(known.size()));
  }
  writer.EndArray();
  writer.Key("requested");
  writer.String(requested.data(), static_cast<rapidjson::SizeType>(requested.size()));
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

std::optional<std::string> DecodeMcpHeaderValue(std::string_view value) {
  if (!IsSentinelForm(value)) {
    return std::string(value);
  }
  value.remove_prefix(kSentinelPrefix.size());
  value.remove_suffix(kSentinelSuffix.size());
  return DecodeBase64(value);
}

std::optional<InspectError> CheckRequestHeaders(
    const MessageInfo& info, std::optional<std::string_view> mcp_method_header,
    std::optional<std::string_view> mcp_name_header,
    std::optional<std::string_view> protocol_version_header) {
  const auto mismatch = [&](std::string why) {
    return Refuse(kHeaderMismatch, "Header mismatch: " + why, info.id_json);
  };
  const bool is_request = info.kind == MessageInfo::Kind::kRequest;
  const bool modern = is_request && !info.meta_protocol_version.empty();

  // MCP-Protocol-Version.
  std::optional<std::string_view> version;
  if (protocol_version_header.has_value()) {
    version = TrimOws(*protocol_version_header);
    if (version->empty() || !IsPlainHeaderValue(*version)) {
      return mismatch("MCP-Protocol-Version header is malformed");
    }
  }
  if (modern && !version.has_value()) {
    return mismatch("MCP-Protocol-Version header is required");
  }
  if (version.has_value() && !info.meta_protocol_version.empty() &&
      *version != info.meta_protocol_version) {
    return mismatch("MCP-Protocol-Version header does not match the body's _meta protocol version");
  }
  const std::string_view requested = version.has_value() ? *version : info.meta_protocol_version;
  if (!requested.empty() && !IsKnownProtocolVersion(requested)) {
    InspectError error =
        Refuse(kUnsupportedProtocolVersion, "Unsupported protocol version", info.id_json);
    error.data_json = UnsupportedVersionData(requested);
    return error;
  }
  // A client that claims a stateless revision in the header must also say so in the body, or a
  // component trusting the header would skip the checks below.
  if (is_request && info.meta_protocol_version.empty() && version.has_value() &&
      IsStatelessProtocolVersion(*version)) {
    return mismatch("protocol version " + std::string(*version) + " requires params._meta[\"" +
                    std::string(kMetaProtocolVersionKey) + "\"] in the body");
  }

  // Mcp-Method. The spec allows the base64 sentinel only on Mcp-Name and Mcp-Param-*.
  if (mcp_method_header.has_value()) {
    const std::string_view value = TrimOws(*mcp_method_header);
    if (!IsPlainHeaderValue(value)) {
      return mismatch("Mcp-Method header contains invalid characters");
    }
    if (value != info.method) {
      return mismatch("Mcp-Method header does not match the body's method");
    }
  } else if (modern) {
    return mismatch("Mcp-Method header is required");
  }

  // Mcp-Name.
  const std::string_view method = info.method;
  std::string_view body_name;
  bool name_required = false;
  if (method == "tools/call" || method == "prompts/get") {
    body_name = info.name;
    name_required = modern;
  } else if (method == "resources/read") {
    body_name = info.uri;
    name_required = modern;
  } else if (method == "resources/subscribe" || method == "resources/unsubscribe") {
    body_name = info.uri;
  } else {
    body_name = !info.name.empty() ? std::string_view(info.name) : std::string_view(info.uri);
  }
  if (mcp_name_header.has_value()) {
    const std::string_view raw = TrimOws(*mcp_name_header);
    if (!IsPlainHeaderValue(raw)) {
      return mismatch("Mcp-Name header contains invalid characters");
    }
    const std::optional<std::string> decoded = DecodeMcpHeaderValue(raw);
    if (!decoded.has_value()) {
      return mismatch("Mcp-Name header holds malformed base64");
    }
    if (*decoded != body_name) {
      return mismatch("Mcp-Name header does not match the body's params.name or params.uri");
    }
  } else if (name_required) {
    return mismatch("Mcp-Name header is required for " + info.method);
  }
  return std::nullopt;
}

}  // namespace portcullis::mcp
