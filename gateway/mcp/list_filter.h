// Filtering list results to what the policy lets an identity use (DESIGN §4a): a client sees
// exactly the tools, prompts, resources and resource templates it may call, page by page
// (a page may come back shorter; nextCursor passes through untouched).
//
// Pure functions over JSON text; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "portcullis/policy.h"

namespace portcullis::mcp {

enum class ListKind { kNone, kTools, kPrompts, kResources, kResourceTemplates };

// The list a method returns: "tools/list" → kTools, ...; kNone for other methods.
ListKind ListKindOf(std::string_view method);

// If `body` is a JSON-RPC response whose result carries the list of `kind`, the same
// response with the entries `grant` does not allow removed (entries without a usable name
// are removed too: fail closed). nullopt when `body` is not such a response (an error
// response, a notification): forward it unchanged. *removed counts what was taken out.
std::optional<std::string> FilterListResponse(std::string_view body, ListKind kind,
                                              const policy::UpstreamGrant& grant,
                                              size_t* removed);

}  // namespace portcullis::mcp
