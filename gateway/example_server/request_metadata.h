// Request metadata of Streamable HTTP 2026-07-28: the revision a request declares in its body,
// and the check that the headers mirroring the body (MCP-Protocol-Version, Mcp-Method, Mcp-Name)
// agree with it. A server MUST reject a mismatch with 400 and -32020, so that a proxy routing or
// authorizing on the headers and this server acting on the body cannot be told different things
// (MCP 2026-07-28 "Streamable HTTP", "Server Validation").
// Free functions without state; safe from any thread.
#pragma once

#include <string>

#include "gateway/example_server/http_connection.h"
#include "gateway/example_server/json_rpc.h"

namespace portcullis::example {

// params._meta["io.modelcontextprotocol/protocolVersion"] when it is a string; empty otherwise
// (requests of the initialize-based revisions do not carry it).
std::string DeclaredProtocolVersion(const Message& message);

// Empty when the headers of `request` mirror `message`: MCP-Protocol-Version equals the declared
// revision, Mcp-Method the method, and for tools/call, prompts/get and resources/read Mcp-Name
// equals params.name or params.uri (after decoding the `=?base64?...?=` form). Otherwise the
// error message ("Header mismatch: ..."). Each header must appear once.
std::string CheckRequestMetadata(const HttpRequest& request, const Message& message);

}  // namespace portcullis::example
