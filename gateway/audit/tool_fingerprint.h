// Tool fingerprints: what the tool-drift detector remembers of each tool an upstream lists, so
// that a changed definition (the "rug pull" of a poisoned server, DESIGN §5) is noticed.
//
// A tool's fingerprint is a SHA-256 digest per part of its definition — description,
// inputSchema, outputSchema, title, annotations — each taken over the part's canonical JSON
// (object keys sorted bytewise, no whitespace, integral numbers written as integers), so
// that reordering keys or reformatting a schema changes nothing, while any change of meaning does;
// plus one hash over the name and every part digest, the value the audit log shows. An absent part
// hashes differently from every present value (even an empty string or null). Parts the protocol
// defines as volatile metadata (_meta, icons) are left out: a change there is not a change of what
// the model reads.
//
// Pure functions over JSON text; thread-safe. Hostile input (not JSON, huge, deep, wrong
// types) yields an error or skipped entries, never a crash: a linear pre-scan refuses texts
// nested deeper than kMaxDepth before anything is parsed (so neither the parser's memory nor
// the canonical writer's recursion depends on the input's shape), and texts over
// kMaxToolListBytes are refused unread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::audit {

using Sha256Digest = std::array<uint8_t, 32>;

// The parts of a tool definition that are fingerprinted, in the order of
// ToolFingerprint::parts, under the names the audit log uses in "changed".
inline constexpr std::array<std::string_view, 5> kToolPartNames = {
    "description", "input_schema", "output_schema", "title", "annotations"};

struct ToolFingerprint {
  // The tool's name; a name longer than kMaxToolNameBytes is shortened to its first bytes
  // plus "...sha256:<hex of the full name>", so memory stays bounded and distinct names stay
  // distinct.
  std::string name;
  std::string hash;  // lower-case hex SHA-256 over the full name and every part digest
  std::array<Sha256Digest, kToolPartNames.size()> parts{};
};

struct ToolListFingerprints {
  std::vector<ToolFingerprint> tools;
  // False when the result carries a nextCursor: more pages of the same listing follow.
  bool last_page = true;
  // Entries of "tools" that are not tools (not an object, no non-empty string "name"),
  // and tools repeated within the page (the first one counts).
  size_t skipped = 0;
};

inline constexpr size_t kMaxToolNameBytes = 256;
// Real tool lists are tens or hundreds of KiB and schemas a dozen levels deep; these bounds
// only stop hostile input.
inline constexpr size_t kMaxToolListBytes = 8 * 1024 * 1024;
inline constexpr int kMaxDepth = 128;

enum class ToolListError {
  kNotToolList,  // not JSON, an error response, no "tools" array: nothing to check
  kTooLarge,     // over kMaxToolListBytes: refused unread
  kTooDeep,      // nested deeper than kMaxDepth
};

// Fingerprints every tool of a tools/list result. `json` is the result object
// ({"tools": [...], "nextCursor": ...}) or a whole JSON-RPC response carrying one in "result".
// On nullopt, *error (if given) says why.
std::optional<ToolListFingerprints> FingerprintToolList(std::string_view json,
                                                        ToolListError* error = nullptr);

// True if `json`, read as JSON text, never nests arrays and objects deeper than `max_depth`
// (brackets inside strings do not count). Linear, no allocation.
bool NestingWithin(std::string_view json, int max_depth);

// The canonical form of a JSON text: keys sorted bytewise (stable, so duplicate keys keep
// their order), no whitespace, integral numbers below 2^53 as integers (1.0 and 1e0 → 1),
// other numbers as RapidJSON writes them. nullopt if not JSON or nested deeper than kMaxDepth.
std::optional<std::string> CanonicalJson(std::string_view json);

// The names (from kToolPartNames) of the parts that differ between two fingerprints.
std::vector<std::string_view> ChangedToolParts(const ToolFingerprint& before,
                                               const ToolFingerprint& after);

}  // namespace portcullis::audit
