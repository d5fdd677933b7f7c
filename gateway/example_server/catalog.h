// Catalog: what mcp-example-server offers (its identity, tools, resource and prompt), as the
// JSON text that tools/list, resources/list, prompts/list and initialize return.
//
// Constants only; safe from any thread.
#pragma once

#include <string_view>

namespace portcullis::example {

inline constexpr std::string_view kServerName = "mcp-example-server";
inline constexpr std::string_view kServerVersion = "0.1.0";
// Offered when the client asks for a revision this server does not know.
inline constexpr std::string_view kLatestProtocolVersion = "2025-11-25";

inline constexpr std::string_view kGreetingUri = "example://greeting";
inline constexpr std::string_view kGreetingMimeType = "text/plain";
inline constexpr std::string_view kGreetingText = "Hello from mcp-example-server";

// Bounds on slow_count, so that one request cannot hold the server for days.
inline constexpr long long kMaxSlowCountSteps = 10000;
inline constexpr long long kMaxSlowCountIntervalMs = 60000;
inline constexpr long long kDefaultSlowCountIntervalMs = 100;

// True for the revisions this server speaks: 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25.
bool IsSupportedProtocolVersion(std::string_view version);

// Result objects of the list methods as compact JSON text (one line, as stdio framing needs).
// Each is a complete, single page.
std::string_view ToolsListJson();
std::string_view ResourcesListJson();
std::string_view PromptsListJson();

}  // namespace portcullis::example
