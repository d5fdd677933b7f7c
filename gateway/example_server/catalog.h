// Catalog: what mcp-example-server offers (its identity, revisions, capabilities, tools, resource
// and prompt), as the JSON text that the list methods, initialize and server/discover return.
//
// Constants only; safe from any thread.
#pragma once

#include <string_view>

namespace portcullis::example {

inline constexpr std::string_view kServerName = "mcp-example-server";
inline constexpr std::string_view kServerVersion = "0.1.0";
// Offered when the client asks initialize for a revision this server does not know.
inline constexpr std::string_view kLatestProtocolVersion = "2025-11-25";
// The stateless revision, spoken over HTTP only: no initialize, every request declares it in
// params._meta["io.modelcontextprotocol/protocolVersion"].
inline constexpr std::string_view kStatelessProtocolVersion = "2026-07-28";

inline constexpr std::string_view kGreetingUri = "example://greeting";
inline constexpr std::string_view kGreetingMimeType = "text/plain";
inline constexpr std::string_view kGreetingText = "Hello from mcp-example-server";

// What confirm asks when the call gives no question.
inline constexpr std::string_view kDefaultConfirmQuestion = "Proceed?";

// Bounds on slow_count, so that one request cannot hold the server for days.
inline constexpr long long kMaxSlowCountSteps = 10000;
inline constexpr long long kMaxSlowCountIntervalMs = 60000;
inline constexpr long long kDefaultSlowCountIntervalMs = 100;

// True for the revisions initialize accepts: 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25.
bool IsSupportedProtocolVersion(std::string_view version);

// Every revision spoken, stateless one first, as a JSON array (server/discover's
// supportedVersions, and `supported` in an unsupported-version error).
std::string_view SupportedVersionsJson();

// ServerCapabilities, the same in both eras: tools (no listChanged), resources, prompts.
std::string_view CapabilitiesJson();

// Result objects of the list methods as compact JSON text (one line, as stdio framing needs).
// Each is a complete, single page. `with_confirm` adds the confirm tool, which is offered only
// to sessions whose client declared form-mode elicitation (a server must not send requests the
// client did not declare it can answer, so the tool would be useless to the others).
std::string_view ToolsListJson(bool with_confirm = false);
std::string_view ResourcesListJson();
std::string_view PromptsListJson();

}  // namespace portcullis::example
