// ClosestMatch: edit distance with a threshold scaled to the word's length.

#include "portcullis/did_you_mean.h"

#include <algorithm>

namespace portcullis {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

}  // namespace

size_t EditDistance(std::string_view a, std::string_view b) {
  // Three rolling rows of the dynamic-programming table; the row before the previous one is
  // needed for transpositions ("ciphres" → "ciphers" is one edit, not two).
  const size_t n = b.size();
  std::vector<size_t> before(n + 1), previous(n + 1), current(n + 1);
  for (size_t j = 0; j <= n; ++j) {
    previous[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= n; ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[n];
}

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  if (word.empty()) {
    return "";
  }
  const std::string lower_word = Lower(word);
  const std::string* best = nullptr;
  size_t best_distance = 0;
  for (const std::string& candidate : candidates) {
    if (candidate == word) {
      return candidate;
    }
    if (candidate.empty()) {
      continue;
    }
    size_t distance = EditDistance(lower_word, Lower(candidate));
    size_t longer = std::max(word.size(), candidate.size());
    size_t limit = std::clamp<size_t>(longer / 4, 1, 3);
    // "cn" is not a typo of "ip": a suggestion must keep something of both words.
    if (distance > limit || distance >= word.size() || distance >= candidate.size()) {
      continue;
    }
    if (best == nullptr || distance < best_distance) {
      best = &candidate;
      best_distance = distance;
    }
  }
  return best == nullptr ? "" : *best;
}

}  // namespace portcullis
