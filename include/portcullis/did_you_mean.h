// ClosestMatch: the "did you mean ...?" helper for configuration and policy errors
// (HAProxy's cfg_find_best_match plays the same part in its parser).
//
// Pure and stateless; safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace portcullis {

// The candidate closest to `word` by edit distance (insertions, deletions, substitutions and
// swaps of two neighbouring characters, ignoring ASCII case), or "" when none is close enough
// to be a plausible typo: at most a quarter of the longer word may differ (at least 1, at most
// 3 edits), and never every character of either word. Ties go to the earlier candidate. An exact
// match returns that candidate.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// The edit distance used above (optimal string alignment: Levenshtein plus adjacent
// transpositions), case-sensitive.
size_t EditDistance(std::string_view a, std::string_view b);

}  // namespace portcullis
