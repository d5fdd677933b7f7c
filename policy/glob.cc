// Glob: compile once into a shape with literal prefix and suffix; match by the cheapest engine
// that is exact for that shape.

#include "policy/glob.h"

#include <cstring>
#include <span>

namespace portcullis::policy {

namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = Lower(c);
  }
  return out;
}

Result<Glob> Glob::Compile(std::string_view pattern, Case match_case) {
  Glob glob;
  glob.pattern_ = std::string(pattern);
  glob.fold_ = match_case == Case::kInsensitive;
  std::vector<Token> tokens;
  for (size_t i = 0; i < pattern.size();) {
    char c = pattern[i];
    if (c == '\0') {
      return Status::Error("contains a NUL character");
    }
    if (c == '\\') {
      if (i + 1 == pattern.size()) {
        return Status::Error(
            "ends with an unfinished escape '\\' (write \"\\\\\" for a backslash)");
      }
      if (pattern[i + 1] == '\0') {
        return Status::Error("contains a NUL character");
      }
      tokens.push_back({Kind::kChar, glob.Fold(pattern[i + 1])});
      i += 2;
    } else if (c == '*') {
      size_t run = 0;
      while (i < pattern.size() && pattern[i] == '*') {
        ++run;
        ++i;
      }
      tokens.push_back({run == 1 ? Kind::kStar : Kind::kDoubleStar, 0});
    } else if (c == '?') {
      tokens.push_back({Kind::kAny, 0});
      ++i;
    } else {
      tokens.push_back({Kind::kChar, glob.Fold(c)});
      ++i;
    }
  }

  size_t first_wild = 0;
  while (first_wild < tokens.size() && tokens[first_wild].kind == Kind::kChar) {
    glob.prefix_ += tokens[first_wild].c;
    ++first_wild;
  }
  glob.tokens_ = tokens;
  if (first_wild == tokens.size()) {
    glob.shape_ = Shape::kLiteral;
    return glob;
  }
  size_t last_wild = tokens.size() - 1;
  while (tokens[last_wild].kind == Kind::kChar) {
    --last_wild;
  }
  for (size_t i = last_wild + 1; i < tokens.size(); ++i) {
    glob.suffix_ += tokens[i].c;
  }
  glob.middle_begin_ = first_wild;
  glob.middle_end_ = last_wild + 1;
  const Token& only = tokens[first_wild];
  if (first_wild == last_wild && only.kind != Kind::kAny) {
    bool is_double = only.kind == Kind::kDoubleStar;
    if (glob.suffix_.empty()) {
      glob.shape_ = is_double ? Shape::kPrefixDoubleStar : Shape::kPrefixStar;
    } else {
      glob.shape_ = Shape::kPrefixStarSuffix;
      glob.middle_double_ = is_double;
    }
  } else {
    glob.shape_ = Shape::kGeneral;
  }
  return glob;
}

char Glob::Fold(char c) const { return fold_ ? Lower(c) : c; }

bool Glob::EqualAt(std::string_view text, size_t pos, const std::string& literal) const {
  if (!fold_) {
    return text.compare(pos, literal.size(), literal) == 0;
  }
  for (size_t i = 0; i < literal.size(); ++i) {
    if (Lower(text[pos + i]) != literal[i]) {
      return false;
    }
  }
  return true;
}

bool Glob::MatchesWith(std::string_view text, Engine engine) const {
  if (text.find('\0') != std::string_view::npos) {
    return false;
  }
  if (engine == Engine::kBacktrack) {
    return Backtrack(tokens_, text, SIZE_MAX) == Outcome::kMatch;
  }
  if (engine == Engine::kAutomaton) {
    return Automaton(tokens_, text);
  }
  const size_t fixed = prefix_.size() + suffix_.size();
  if (shape_ == Shape::kLiteral) {
    return text.size() == prefix_.size() && EqualAt(text, 0, prefix_);
  }
  if (text.size() < fixed || !EqualAt(text, 0, prefix_) ||
      !EqualAt(text, text.size() - suffix_.size(), suffix_)) {
    return false;
  }
  std::string_view middle = text.substr(prefix_.size(), text.size() - fixed);
  switch (shape_) {
    case Shape::kPrefixDoubleStar:
      return true;
    case Shape::kPrefixStar:
      return middle.find('/') == std::string_view::npos;
    case Shape::kPrefixStarSuffix:
      return middle_double_ || middle.find('/') == std::string_view::npos;
    default:
      break;
  }
  std::span<const Token> tokens(tokens_.data() + middle_begin_, middle_end_ - middle_begin_);
  // Typical names match or fail in about one step per character; a budget a few times that
  // lets the common case stay on the fast path and sends adversarial inputs to the automaton.
  size_t budget = 8 * (middle.size() + tokens.size()) + 256;
  Outcome outcome = Backtrack(tokens, middle, budget);
  if (outcome != Outcome::kGaveUp) {
    return outcome == Outcome::kMatch;
  }
  return Automaton(tokens, middle);
}

// The classic two-pointer wildcard matcher, with one backtrack point per kind of star. A later
// star can absorb whatever an earlier star would have, so only the latest of each kind is kept;
// a single star cannot absorb '/', so when it would have to, the latest "**" takes over.
// Exact, and linear for usual patterns, but a hostile text can make it quadratic: hence the
// budget.
Glob::Outcome Glob::Backtrack(std::span<const Token> tokens, std::string_view text,
                              size_t budget) const {
  constexpr size_t kNone = SIZE_MAX;
  const size_t n = text.size();
  const size_t m = tokens.size();
  size_t p = 0, s = 0;
  size_t star_p = kNone, star_s = 0;
  size_t dstar_p = kNone, dstar_s = 0;
  size_t steps = 0;
  while (s < n) {
    if (++steps > budget) {
      return Outcome::kGaveUp;
    }
    char c = Fold(text[s]);
    if (p < m) {
      const Token& t = tokens[p];
      if ((t.kind == Kind::kChar && t.c == c) || (t.kind == Kind::kAny && c != '/')) {
        ++p;
        ++s;
        continue;
      }
      if (t.kind == Kind::kDoubleStar) {
        dstar_p = ++p;
        dstar_s = s;
        star_p = kNone;
        continue;
      }
      if (t.kind == Kind::kStar) {
        star_p = ++p;
        star_s = s;
        continue;
      }
    }
    if (star_p != kNone && text[star_s] != '/') {
      p = star_p;
      s = ++star_s;
    } else if (dstar_p != kNone) {
      p = dstar_p;
      s = ++dstar_s;
      star_p = kNone;
    } else {
      return Outcome::kNoMatch;
    }
  }
  while (p < m && (tokens[p].kind == Kind::kStar || tokens[p].kind == Kind::kDoubleStar)) {
    ++p;
  }
  return p == m ? Outcome::kMatch : Outcome::kNoMatch;
}

// A set-of-states automaton (bit-parallel "shift-and" extended with stars): state i means the
// first i tokens have matched. Each text byte costs O(tokens / 64) word operations, whatever
// the pattern and text. Runs of stars are one token, so one closure step suffices.
bool Glob::Automaton(std::span<const Token> tokens, std::string_view text) const {
  const size_t m = tokens.size();
  const size_t words = (m + 1 + 63) / 64;
  using Bits = std::vector<uint64_t>;
  Bits star(words), dstar(words), any(words), cur(words), next(words);
  // Masks per byte value, only for the bytes the pattern names.
  std::vector<Bits> char_masks;
  int16_t slot[256];
  std::memset(slot, -1, sizeof(slot));
  auto set = [](Bits& bits, size_t i) { bits[i / 64] |= uint64_t{1} << (i % 64); };
  for (size_t i = 0; i < m; ++i) {
    switch (tokens[i].kind) {
      case Kind::kChar: {
        uint8_t byte = static_cast<uint8_t>(tokens[i].c);
        if (slot[byte] < 0) {
          slot[byte] = static_cast<int16_t>(char_masks.size());
          char_masks.emplace_back(words);
        }
        set(char_masks[slot[byte]], i);
        break;
      }
      case Kind::kAny:
        set(any, i);
        break;
      case Kind::kStar:
        set(star, i);
        break;
      case Kind::kDoubleStar:
        set(dstar, i);
        break;
    }
  }
  // next = cur << 1 (across words), then or-ed into `out`.
  auto close = [&](Bits& bits) {
    uint64_t carry = 0;
    for (size_t w = 0; w < words; ++w) {
      uint64_t stars = bits[w] & (star[w] | dstar[w]);
      uint64_t shifted = (stars << 1) | carry;
      carry = stars >> 63;
      bits[w] |= shifted;
    }
  };
  set(cur, 0);
  close(cur);
  for (char raw : text) {
    char c = Fold(raw);
    int16_t index = slot[static_cast<uint8_t>(c)];
    bool slash = c == '/';
    uint64_t carry = 0;
    bool alive = false;
    for (size_t w = 0; w < words; ++w) {
      uint64_t advance = (index >= 0 ? char_masks[index][w] : 0) | (slash ? 0 : any[w]);
      uint64_t stay = dstar[w] | (slash ? 0 : star[w]);
      uint64_t moved = cur[w] & advance;
      next[w] = (moved << 1) | carry | (cur[w] & stay);
      carry = moved >> 63;
      alive = alive || next[w] != 0;
    }
    if (!alive) {
      return false;
    }
    close(next);
    std::swap(cur, next);
  }
  return (cur[m / 64] >> (m % 64)) & 1;
}

bool GlobMatch(std::string_view pattern, std::string_view text, Glob::Case match_case) {
  Result<Glob> glob = Glob::Compile(pattern, match_case);
  return glob.ok() && glob->Matches(text);
}

}  // namespace portcullis::policy
