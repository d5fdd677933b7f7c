// Inspection of one JSON-RPC message, the body of a POST, before the gateway forwards it
// (DESIGN §4a): is it a single, well-formed JSON-RPC 2.0 message, which kind, and what the policy
// and the audit log need from it (method, id, params.name / params.uri / params.ref, _meta).
// Also the 2026-07-28 rule that the request-metadata headers agree with the body.
//
// One pass of RapidJSON's SAX reader over the body, without a DOM and without copying the body;
// only the few fields below are copied out. Nesting is bounded by the caller's limit and parsing
// is iterative, so no input can exhaust the stack. Strict JSON: UTF-8 is validated, no comments,
// no trailing commas, nothing after the value, no NaN. Duplicate keys among the fields the
// gateway reads are refused, because the gateway and the upstream could otherwise each pick a
// different one (decide on "tools/list", execute "tools/call").
//
// Pure functions with no I/O and no shared state: safe to call from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace portcullis::mcp {

// The protocol revisions the gateway understands, oldest first.
inline constexpr std::string_view kKnownProtocolVersions[] = {
    "2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"};
// The first revision without sessions, whose requests carry their version in _meta and must
// mirror method and name into headers.
inline constexpr std::string_view kFirstStatelessProtocolVersion = "2026-07-28";
// The _meta key that carries the protocol version of a request (2026-07-28).
inline constexpr std::string_view kMetaProtocolVersionKey =
    "io.modelcontextprotocol/protocolVersion";

bool IsKnownProtocolVersion(std::string_view version);

struct MessageInfo {
  enum class Kind { kRequest, kNotification, kResponse };
  Kind kind = Kind::kRequest;
  // Empty for responses.
  std::string method;
  // The id exactly as it appears in the body ("1", "\"abc\"", "\"\\u0041\""), or "" when absent
  // (notifications). Always a string or an integer: other ids are refused.
  std::string id_json;
  // params.name when it is a string; required for tools/call and prompts/get.
  std::string name;
  // params.uri when it is a string; required for resources/read, resources/subscribe and
  // resources/unsubscribe.
  std::string uri;
  // completion/complete only: params.ref.type ("ref/prompt" or "ref/resource") and its
  // params.ref.name or params.ref.uri respectively.
  std::string ref_type;
  std::string ref_name_or_uri;
  // params._meta.progressToken as JSON text (string or integer), or "".
  std::string progress_token_json;
  // params._meta["io.modelcontextprotocol/protocolVersion"], or "" when absent. Non-empty marks a
  // 2026-07-28 ("modern", stateless) request.
  std::string meta_protocol_version;
  // A request (not a notification) whose method is "initialize".
  bool is_initialize = false;
};

// Why a message is refused, ready to become the HTTP reply (see JsonRpcErrorBody).
struct InspectError {
  int http_status = 400;
  int code = 0;
  std::string message;
  // The id to echo: the message's id when it was read and valid, "" (null) otherwise. A parse
  // error always has a null id (JSON-RPC 2.0 §5).
  std::string id_json;
  // JSON text for error.data, or "".
  std::string data_json;

  // The JSON-RPC error response body for this error.
  std::string Body() const;
};

class [[nodiscard]] InspectResult {
 public:
  InspectResult(MessageInfo info) : v_(std::move(info)) {}     // NOLINT: implicit by design
  InspectResult(InspectError error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<MessageInfo>(v_); }
  explicit operator bool() const { return ok(); }
  const MessageInfo& info() const& { return std::get<MessageInfo>(v_); }
  MessageInfo& info() & { return std::get<MessageInfo>(v_); }
  MessageInfo&& info() && { return std::get<MessageInfo>(std::move(v_)); }
  const InspectError& error() const { return std::get<InspectError>(v_); }

 private:
  std::variant<MessageInfo, InspectError> v_;
};

// A sensible nesting limit for MCP bodies: tool arguments may carry nested JSON, but nothing
// legitimate comes close.
inline constexpr int kDefaultMaxJsonDepth = 64;

// Inspects one POST body. `max_depth` (>= 1) bounds the nesting of objects and arrays; the
// top-level object counts as 1. Errors, all HTTP 400:
//  -32700 empty body, not JSON, invalid UTF-8, trailing bytes, nested deeper than max_depth;
//  -32600 top-level array (batch), top-level non-object, "jsonrpc" not "2.0", bad or null id,
//         method not a non-empty string, params neither object nor array, a response without
//         an id or without exactly one of result/error, duplicate keys among the fields read,
//         NUL or an unpaired surrogate in method, name, uri, ref or _meta protocol version;
//  -32602 params is an array; tools/call or prompts/get without a string params.name;
//         resources/read|subscribe|unsubscribe without a string params.uri; completion/complete
//         without a usable params.ref; _meta, its protocolVersion or progressToken mistyped.
InspectResult InspectMessage(std::string_view body, int max_depth);

// Checks the request-metadata headers against the body (streamable-http.mdx of 2026-07-28,
// "Request Metadata"); std::nullopt means they agree. Each argument is the header's value, or
// std::nullopt when the header is absent. The gateway decides on the body, never on headers, and
// refuses anything that would let a component that routes on headers see something else:
//  - A modern request (MessageInfo::meta_protocol_version set) must carry MCP-Protocol-Version
//    equal to it, Mcp-Method equal to method, and for tools/call, resources/read and prompts/get
//    Mcp-Name equal to params.name or params.uri; otherwise 400 / -32020 HeaderMismatch.
//  - A request whose MCP-Protocol-Version header names a stateless revision but whose body has
//    no _meta protocolVersion is also -32020.
//  - On any message, an Mcp-Method or Mcp-Name header that is present must equal the body, and
//    an MCP-Protocol-Version that is present must equal _meta's when both exist (-32020).
//  - A protocol version that is not in kKnownProtocolVersions: 400 / -32022 with
//    data {"supported":[...],"requested":"..."}.
// Mcp-Name may use the sentinel form "=?base64?...?=", decoded before comparing; per the spec
// no other header may. Plain values must be visible ASCII, space or tab; leading and trailing
// spaces and tabs are ignored (RFC 9110 §5.5).
[[nodiscard]] std::optional<InspectError> CheckRequestHeaders(
    const MessageInfo& info, std::optional<std::string_view> mcp_method_header,
    std::optional<std::string_view> mcp_name_header,
    std::optional<std::string_view> protocol_version_header);

// Decodes a header value that may be in the sentinel form "=?base64?<standard base64>?=" (the
// markers are case-sensitive; padding is optional). Plain values come back unchanged. Returns
// std::nullopt when the sentinel form holds malformed base64.
std::optional<std::string> DecodeMcpHeaderValue(std::string_view value);

}  // namespace portcullis::mcp
