// UTF-8 clean-up for audit fields: strings from the network become valid UTF-8 of bounded size
// before they reach the JSON writer.
//
// RapidJSON's writer escapes quotes, backslashes and control bytes but copies other bytes as
// they are, and its validating mode gives up half-way through a string (leaving broken JSON).
// So every string is first made valid here: each maximal ill-formed subsequence becomes one
// U+FFFD (the "substitution of maximal subparts" practice of Unicode §3.9 and WHATWG), and a
// string longer than the limit is cut at a character boundary. Pure functions; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace portcullis::audit {

struct CleanText {
  std::string_view text;   // valid UTF-8, at most max_bytes long
  bool truncated = false;  // part of the input was cut off (not merely replaced)
};

// Returns `in` itself when it is valid UTF-8 no longer than max_bytes (the common case, no
// copy); otherwise builds the cleaned text in *scratch and returns a view of it. The view is
// valid while `in` and *scratch are unchanged.
CleanText CleanUtf8(std::string_view in, size_t max_bytes, std::string* scratch);

// True when `in` is well-formed UTF-8 (RFC 3629: no overlongs, surrogates or values above
// U+10FFFF).
bool IsValidUtf8(std::string_view in);

}  // namespace portcullis::audit
