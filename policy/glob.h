// Glob: a compiled name pattern of the policy language (docs/POLICY.md, "Patterns").
//
//   *    any run of characters except '/'
//   **   any run of characters, '/' included (a run of three or more stars is the same)
//   ?    exactly one character except '/'
//   \c   the character c itself (so "\*" is a literal star and "\\" a backslash)
//   anything else matches itself; a pattern without wildcards is an exact value.
//
// Matching is case-sensitive unless the glob is compiled with Case::kInsensitive (ASCII case
// folding: DNS names, e-mail addresses, hex fingerprints). A text containing a NUL byte never
// matches, and a pattern cannot contain one. Characters are bytes: UTF-8 is matched byte by
// byte, so '?' matches one byte of a multi-byte character.
//
// Matching never backtracks exponentially: common shapes ("prefix*", "prefix**",
// "prefix*suffix") are checked directly; other patterns run a two-pointer matcher with a step
// budget and, past the budget, a set-of-states automaton that is O(text × pattern / 64) in the
// worst case. A 4 MiB hostile name costs time proportional to its length, never more.
//
// Pure. A Glob is immutable after Compile; share it between threads freely.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "portcullis/result.h"

namespace portcullis::policy {

class Glob {
 public:
  enum class Case { kSensitive, kInsensitive };
  // Which matcher runs; kAuto in production, the others so tests can compare them.
  enum class Engine { kAuto, kBacktrack, kAutomaton };

  // Fails on a pattern that ends in an unfinished escape ('\') or contains a NUL byte.
  static Result<Glob> Compile(std::string_view pattern, Case match_case = Case::kSensitive);

  Glob() = default;  // matches only the empty string (case-sensitive, exact)

  bool Matches(std::string_view text) const { return MatchesWith(text, Engine::kAuto); }
  bool MatchesWith(std::string_view text, Engine engine) const;

  // The pattern as written.
  const std::string& pattern() const { return pattern_; }
  // True when the pattern has no wildcard: it matches exactly one string, literal().
  bool is_literal() const { return shape_ == Shape::kLiteral; }
  // The unescaped text before the first wildcard (the whole value when is_literal()); case
  // folded to lower case for Case::kInsensitive. Every matching text starts with it.
  const std::string& literal_prefix() const { return prefix_; }
  // The unescaped text after the last wildcard ("" for a literal pattern); folded likewise.
  // Every matching text ends with it.
  const std::string& literal_suffix() const { return suffix_; }
  bool case_insensitive() const { return fold_; }

 private:
  enum class Shape : uint8_t {
    kLiteral,           // prefix_ only
    kPrefixStar,        // prefix_ *            (the rest has no '/')
    kPrefixDoubleStar,  // prefix_ **           (anything after)
    kPrefixStarSuffix,  // prefix_ * suffix_ or prefix_ ** suffix_
    kGeneral,           // prefix_ middle_ suffix_, middle_ starting and ending with a wildcard
  };
  enum class Kind : uint8_t { kChar, kAny, kStar, kDoubleStar };
  struct Token {
    Kind kind;
    char c;  // kChar only (folded when fold_)
  };
  enum class Outcome { kMatch, kNoMatch, kGaveUp };

  Outcome Backtrack(std::span<const Token> tokens, std::string_view text, size_t budget) const;
  bool Automaton(std::span<const Token> tokens, std::string_view text) const;
  bool EqualAt(std::string_view text, size_t pos, const std::string& literal) const;
  char Fold(char c) const;

  std::string pattern_;
  Shape shape_ = Shape::kLiteral;
  bool fold_ = false;
  bool middle_double_ = false;  // kPrefixStarSuffix: the star is "**"
  std::string prefix_;
  std::string suffix_;
  std::vector<Token> tokens_;  // the whole pattern
  size_t middle_begin_ = 0;    // tokens_[middle_begin_, middle_end_) lie between prefix_ and
  size_t middle_end_ = 0;      // suffix_; they start and end with a wildcard
};

// Convenience for tests and one-off checks: compiles `pattern` and matches `text`; an invalid
// pattern matches nothing.
bool GlobMatch(std::string_view pattern, std::string_view text,
               Glob::Case match_case = Glob::Case::kSensitive);

// ASCII lower case of `s` (the folding used by Case::kInsensitive).
std::string AsciiLower(std::string_view s);

}  // namespace portcullis::policy
