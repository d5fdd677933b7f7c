// JSON-RPC error replies that the gateway writes itself, and the one table of error codes it uses.
//
// Codes come from three places:
//  - JSON-RPC 2.0: -32700 and -32600..-32603.
//  - The MCP specification: -32020..-32099 are reserved for codes the spec defines
//    (schema/2026-07-28/schema.ts, "MCP error codes"). The gateway uses these only with the
//    meaning the spec gives them.
//  - The gateway: -32000..-32019, the sub-range the spec leaves implementation-defined. -32002 is
//    skipped because up to 2025-11-25 it meant "resource not found", and the spec says it is
//    never reused, so older clients may still read it that way.
//
// kJsonRpcErrorCodes below is the only list of codes, their HTTP status and their meaning; keep
// it in step with the constants. Everything here is a pure function of its arguments and safe to
// call from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace portcullis::mcp {

// JSON-RPC 2.0.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;

// MCP 2026-07-28.
inline constexpr int kHeaderMismatch = -32020;
inline constexpr int kMissingRequiredClientCapability = -32021;
inline constexpr int kUnsupportedProtocolVersion = -32022;

// The gateway's own codes.
inline constexpr int kUpstreamUnavailable = -32000;
inline constexpr int kUpstreamTimeout = -32001;
inline constexpr int kForbidden = -32003;
inline constexpr int kUnknownUpstream = -32004;
inline constexpr int kRequestTooLarge = -32005;
inline constexpr int kRateLimited = -32006;
inline constexpr int kGatewayDraining = -32007;
inline constexpr int kSessionNotFound = -32008;

struct JsonRpcErrorCode {
  int code;
  int http_status;  // the status of the HTTP reply that carries this error
  std::string_view name;
  std::string_view meaning;
};

inline constexpr JsonRpcErrorCode kJsonRpcErrorCodes[] = {
    // JSON-RPC 2.0.
    {kParseError, 400, "ParseError", "body is empty, not JSON, or nested deeper than the limit"},
    {kInvalidRequest, 400, "InvalidRequest",
     "not a JSON-RPC 2.0 message: batch, wrong jsonrpc, bad id/method/params"},
    // 404 for an unknown method is what 2026-07-28 Streamable HTTP asks of servers.
    {kMethodNotFound, 404, "MethodNotFound", "the method is not served here"},
    {kInvalidParams, 400, "InvalidParams",
     "params lack what the method needs (tools/call without params.name, ...)"},
    {kInternalError, 500, "InternalError", "a bug or an impossible state in the gateway"},
    // MCP 2026-07-28.
    {kHeaderMismatch, 400, "HeaderMismatch",
     "MCP-Protocol-Version, Mcp-Method or Mcp-Name missing, malformed or not equal to the body"},
    {kMissingRequiredClientCapability, 400, "MissingRequiredClientCapability",
     "the request needs a client capability the client did not declare"},
    {kUnsupportedProtocolVersion, 400, "UnsupportedProtocolVersion",
     "the protocol version is not one the gateway knows; data.supported lists them"},
    // Gateway.
    {kUpstreamUnavailable, 502, "UpstreamUnavailable",
     "the upstream could not be reached or broke the exchange"},
    {kUpstreamTimeout, 504, "UpstreamTimeout", "the upstream did not answer in time"},
    {kForbidden, 403, "Forbidden", "the policy denies this identity the method, tool or resource"},
    {kUnknownUpstream, 404, "UnknownUpstream", "no upstream is configured under that name"},
    {kRequestTooLarge, 413, "RequestTooLarge", "the body is larger than the configured limit"},
    {kRateLimited, 429, "RateLimited", "this identity sent too many requests"},
    {kGatewayDraining, 503, "GatewayDraining",
     "the gateway is shutting down and takes no new work"},
};

// The HTTP status that goes with `code` in kJsonRpcErrorCodes; 500 for a code not in the table.
int HttpStatusForErrorCode(int code);

// The length of the longest prefix of `s` that is well-formed UTF-8 (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF); s.size() when all of it is. Runs 8 bytes at a time
// over ASCII. Shared by the body inspection and the error bodies.
size_t ValidUtf8PrefixLength(std::string_view s);

// A complete JSON-RPC error response:
//   {"jsonrpc":"2.0","id":<id>,"error":{"code":<code>,"message":"<message>","data":<data>}}
// `id_json` is the id as JSON text ("1", "\"abc\""), copied verbatim; empty means null.
// `message` is escaped as a JSON string; bytes that are not valid UTF-8 become U+FFFD.
// `data_json` is JSON text copied verbatim ("data" is left out when it is empty). The caller
// guarantees that id_json and data_json are valid JSON.
std::string JsonRpcErrorBody(std::string_view id_json, int code, std::string_view message,
                             std::string_view data_json = "");

}  // namespace portcullis::mcp
