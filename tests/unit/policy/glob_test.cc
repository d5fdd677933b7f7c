#include "policy/glob.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace portcullis::policy {
namespace {

bool Match(std::string_view pattern, std::string_view text) { return GlobMatch(pattern, text); }

bool MatchFold(std::string_view pattern, std::string_view text) {
  return GlobMatch(pattern, text, Glob::Case::kInsensitive);
}

TEST(Glob, LiteralMatchesOnlyItself) {
  EXPECT_TRUE(Match("echo", "echo"));
  EXPECT_FALSE(Match("echo", "echo2"));
  EXPECT_FALSE(Match("echo", "ech"));
  EXPECT_FALSE(Match("echo", "Echo"));
  EXPECT_FALSE(Match("echo", ""));
  Glob glob = Glob::Compile("a\\*b").value();
  EXPECT_TRUE(glob.is_literal());
  EXPECT_EQ(glob.literal_prefix(), "a*b");
  EXPECT_EQ(glob.pattern(), "a\\*b");
}

TEST(Glob, StarMatchesAnyRunWithoutSlash) {
  EXPECT_TRUE(Match("get-*", "get-"));
  EXPECT_TRUE(Match("get-*", "get-user"));
  EXPECT_FALSE(Match("get-*", "get-a/b"));
  EXPECT_FALSE(Match("get-*", "ge"));
  EXPECT_TRUE(Match("*", ""));
  EXPECT_TRUE(Match("*", "anything at all"));
  EXPECT_FALSE(Match("*", "a/b"));
  EXPECT_TRUE(Match("*-admin", "db-admin"));
  EXPECT_FALSE(Match("*-admin", "x/db-admin"));
  EXPECT_TRUE(Match("a*c", "ac"));
  EXPECT_TRUE(Match("a*c", "abbbc"));
  EXPECT_FALSE(Match("a*c", "ab/c"));
  EXPECT_FALSE(Match("a*c", "abcd"));
}

TEST(Glob, DoubleStarCrossesSlashes) {
  EXPECT_TRUE(Match("file:///public/**", "file:///public/"));
  EXPECT_TRUE(Match("file:///public/**", "file:///public/a/b/c.txt"));
  EXPECT_FALSE(Match("file:///public/**", "file:///private/a"));
  EXPECT_TRUE(Match("**", ""));
  EXPECT_TRUE(Match("**", "/a/b/"));
  EXPECT_TRUE(Match("**.txt", "a/b/c.txt"));
  EXPECT_FALSE(Match("*.txt", "a/b/c.txt"));
  // No special "zero directories" rule: "a/**/b" needs two slashes.
  EXPECT_FALSE(Match("a/**/b", "a/b"));
  EXPECT_TRUE(Match("a/**/b", "a//b"));
  EXPECT_TRUE(Match("a/**/b", "a/x/y/b"));
  // Three or more stars are the same as two.
  EXPECT_TRUE(Match("a***z", "a/b/z"));
}

TEST(Glob, QuestionMarkIsOneCharacterExceptSlash) {
  EXPECT_TRUE(Match("agent-?", "agent-1"));
  EXPECT_FALSE(Match("agent-?", "agent-"));
  EXPECT_FALSE(Match("agent-?", "agent-12"));
  EXPECT_FALSE(Match("a?b", "a/b"));
  EXPECT_TRUE(Match("??", "ab"));
  EXPECT_FALSE(Match("?", ""));
}

TEST(Glob, MixedWildcards) {
  EXPECT_TRUE(Match("spiffe://*/ns/*/sa/*", "spiffe://example.org/ns/ci/sa/builder"));
  EXPECT_FALSE(Match("spiffe://*/ns/*/sa/*", "spiffe://example.org/ns/ci/x/sa/builder"));
  EXPECT_TRUE(Match("spiffe://**/sa/*", "spiffe://example.org/ns/ci/x/sa/builder"));
  EXPECT_FALSE(Match("spiffe://**/sa/*", "spiffe://example.org/ns/ci/sa/a/b"));
  EXPECT_TRUE(Match("**/*.txt", "a/b/c.txt"));
  EXPECT_FALSE(Match("**/*.txt", "c.txt"));
  EXPECT_TRUE(Match("*a?c*", "xxabcyy"));
  EXPECT_TRUE(Match("**a*", "x/y/za"));
  EXPECT_FALSE(Match("**a*b", "x/ab/c"));
  EXPECT_TRUE(Match("**a*b", "x/a/ab"));
  EXPECT_TRUE(Match("*/**", "a/b/c"));
  EXPECT_FALSE(Match("*/**", "abc"));
}

TEST(Glob, BackslashEscapesTheNextCharacter) {
  EXPECT_TRUE(Match("\\*", "*"));
  EXPECT_FALSE(Match("\\*", "a"));
  EXPECT_TRUE(Match("a\\?", "a?"));
  EXPECT_FALSE(Match("a\\?", "ab"));
  EXPECT_TRUE(Match("\\\\", "\\"));
  EXPECT_TRUE(Match("\\a", "a"));
  EXPECT_TRUE(Match("x\\**", "x*yz"));
  EXPECT_FALSE(Match("x\\**", "xyz"));
  // An escaped star between two stars is a literal, not part of a "**".
  EXPECT_TRUE(Match("*\\**", "ab*cd"));
  EXPECT_FALSE(Match("*\\**", "abcd"));
}

TEST(Glob, CompileRejectsUnfinishedEscapeAndNul) {
  Result<Glob> dangling = Glob::Compile("abc\\");
  ASSERT_FALSE(dangling.ok());
  EXPECT_NE(dangling.error().find("unfinished escape"), std::string::npos);
  EXPECT_FALSE(Glob::Compile(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(Glob::Compile(std::string("a\\\0", 3)).ok());
  EXPECT_FALSE(Match("abc\\", "abc\\"));
  EXPECT_FALSE(Match(std::string("a\0b", 3), std::string("a\0b", 3)));
}

TEST(Glob, TextWithNulNeverMatches) {
  EXPECT_FALSE(Match("**", std::string("a\0b", 3)));
  EXPECT_FALSE(Match("*", std::string("\0", 1)));
  EXPECT_FALSE(Match("a?b", std::string("a\0b", 3)));
  Glob glob = Glob::Compile("x*y*z").value();
  for (auto engine : {Glob::Engine::kAuto, Glob::Engine::kBacktrack, Glob::Engine::kAutomaton}) {
    EXPECT_FALSE(glob.MatchesWith(std::string("xy\0z", 4), engine));
  }
}

TEST(Glob, EmptyPatternMatchesOnlyEmptyText) {
  EXPECT_TRUE(Match("", ""));
  EXPECT_FALSE(Match("", "a"));
  Glob glob;  // default: the empty pattern
  EXPECT_TRUE(glob.Matches(""));
  EXPECT_FALSE(glob.Matches("x"));
  EXPECT_TRUE(glob.is_literal());
}

TEST(Glob, EmptyTextMatchesOnlyPatternsThatCanBeEmpty) {
  EXPECT_TRUE(Match("*", ""));
  EXPECT_TRUE(Match("**", ""));
  EXPECT_TRUE(Match("*\\\\*", "\\"));
  EXPECT_FALSE(Match("?", ""));
  EXPECT_FALSE(Match("a*", ""));
  EXPECT_FALSE(Match("*a*", ""));
}

TEST(Glob, CaseSensitiveByDefault) {
  EXPECT_FALSE(Match("Agent-*", "agent-1"));
  EXPECT_FALSE(Match("*-X", "a-x"));
  EXPECT_FALSE(Match("a*B*c", "aXbXc"));
}

TEST(Glob, CaseInsensitiveFoldsAsciiOnly) {
  EXPECT_TRUE(MatchFold("API.Example.COM", "api.example.com"));
  EXPECT_TRUE(MatchFold("*.EXAMPLE.com", "Api.Example.Com"));
  EXPECT_TRUE(MatchFold("AB*", "abcd"));
  EXPECT_TRUE(MatchFold("*cD", "xxCd"));
  EXPECT_TRUE(MatchFold("a*B*c", "AxbXC"));
  EXPECT_TRUE(MatchFold("AB**", "ab/CD"));
  EXPECT_FALSE(MatchFold("ab", "abc"));
  // Bytes above ASCII are compared as they are.
  EXPECT_FALSE(MatchFold("\xc3\x89", "\xc3\xa9"));
  Glob glob = Glob::Compile("AbC*", Glob::Case::kInsensitive).value();
  EXPECT_EQ(glob.literal_prefix(), "abc");
  EXPECT_TRUE(glob.case_insensitive());
  EXPECT_EQ(AsciiLower("AbC-Ž"), "abc-Ž");
}

TEST(Glob, MultiByteCharactersAreBytes) {
  EXPECT_TRUE(Match("caf*", "caf\xc3\xa9"));
  EXPECT_TRUE(Match("caf??", "caf\xc3\xa9"));
  EXPECT_FALSE(Match("caf?", "caf\xc3\xa9"));
}

// A pattern that makes naive recursive matchers exponential and the plain two-pointer matcher
// quadratic; every engine must finish promptly (the test would time out otherwise).
TEST(Glob, PathologicalPatternsStayFast) {
  const std::string many_a(10000, 'a');
  EXPECT_FALSE(Match("*a*a*a*a*a*b", many_a));
  EXPECT_TRUE(Match("*a*a*a*a*a*", many_a));
  // Without a literal suffix to reject early, the middle runs through the matchers.
  EXPECT_FALSE(Match("*a*a*a*a*a*b*", many_a));
  EXPECT_FALSE(Match("*a*a*a*a*a*b?", many_a));
  EXPECT_FALSE(Match("**a**a**a**a**a**b**", many_a));
  EXPECT_FALSE(Match("**a**a**a**a**a**b", many_a));
  EXPECT_FALSE(Match("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", many_a));
  Glob glob = Glob::Compile("*a*a*a*a*a*b").value();
  EXPECT_FALSE(glob.MatchesWith(many_a, Glob::Engine::kBacktrack));
  EXPECT_FALSE(glob.MatchesWith(many_a, Glob::Engine::kAutomaton));

  // "**" followed by a single star over a text whose one long segment the star cannot leave:
  // the two-pointer matcher restarts at every position (quadratic); the budget hands over to
  // the automaton.
  const std::string segment(200000, 'a');
  EXPECT_FALSE(Match("x**a*a", "x" + segment + "/ba"));
  EXPECT_TRUE(Match("x**a*a", "x" + segment + "/" + segment));

  // Many tokens (more than one 64-bit word of automaton state).
  std::string long_pattern;
  for (int i = 0; i < 100; ++i) {
    long_pattern += "*a";
  }
  EXPECT_TRUE(Match(long_pattern + "*", many_a));
  EXPECT_FALSE(Match(long_pattern + "*b", many_a));
  Glob wide = Glob::Compile(long_pattern + "?").value();
  EXPECT_TRUE(wide.MatchesWith(many_a, Glob::Engine::kAutomaton));
  EXPECT_FALSE(wide.MatchesWith(std::string(100, 'a'), Glob::Engine::kAutomaton));
  EXPECT_TRUE(wide.MatchesWith(std::string(101, 'a'), Glob::Engine::kAutomaton));
}

TEST(Glob, VeryLongNames) {
  const std::string name = "tool-" + std::string(1 << 20, 'x');
  EXPECT_TRUE(Match("tool-*", name));
  EXPECT_TRUE(Match("tool-*x", name));
  EXPECT_TRUE(Match("**", name));
  EXPECT_FALSE(Match("tool-*y", name));
  EXPECT_FALSE(Match("tool-", name));
  EXPECT_TRUE(Match("t?ol-*x?x", name));
  EXPECT_FALSE(Match("t?ol-*x?y", name));
  EXPECT_TRUE(Match(name, name));
}

// The straightforward recursive definition, exponential but obviously right, for small inputs.
bool Reference(std::string_view p, std::string_view t) {
  if (p.empty()) {
    return t.empty();
  }
  if (p[0] == '\\') {
    return p.size() > 1 && !t.empty() && t[0] == p[1] && Reference(p.substr(2), t.substr(1));
  }
  if (p[0] == '?') {
    return !t.empty() && t[0] != '/' && Reference(p.substr(1), t.substr(1));
  }
  if (p[0] == '*') {
    size_t run = p.find_first_not_of('*');
    run = run == std::string_view::npos ? p.size() : run;
    bool dstar = run > 1;
    std::string_view rest = p.substr(run);
    for (size_t i = 0; i <= t.size(); ++i) {
      if (Reference(rest, t.substr(i))) {
        return true;
      }
      if (i < t.size() && !dstar && t[i] == '/') {
        return false;
      }
    }
    return false;
  }
  return !t.empty() && t[0] == p[0] && Reference(p.substr(1), t.substr(1));
}

// Every engine agrees with the definition on many random small patterns and texts.
TEST(Glob, EnginesAgreeWithTheDefinition) {
  std::mt19937 rng(12345);
  const char pattern_chars[] = {'a', 'b', '/', '*', '*', '?', '\\'};
  const char text_chars[] = {'a', 'b', '/'};
  int matches = 0;
  for (int round = 0; round < 40000; ++round) {
    std::string pattern, text;
    size_t plen = rng() % 9, tlen = rng() % 11;
    for (size_t i = 0; i < plen; ++i) {
      pattern += pattern_chars[rng() % sizeof(pattern_chars)];
    }
    for (size_t i = 0; i < tlen; ++i) {
      text += text_chars[rng() % sizeof(text_chars)];
    }
    Result<Glob> glob = Glob::Compile(pattern);
    if (!glob.ok()) {
      ASSERT_EQ(pattern.back(), '\\');
      continue;
    }
    bool expected = Reference(pattern, text);
    matches += expected;
    ASSERT_EQ(glob->MatchesWith(text, Glob::Engine::kAuto), expected) << pattern << " " << text;
    ASSERT_EQ(glob->MatchesWith(text, Glob::Engine::kBacktrack), expected)
        << pattern << " " << text;
    ASSERT_EQ(glob->MatchesWith(text, Glob::Engine::kAutomaton), expected)
        << pattern << " " << text;
  }
  EXPECT_GT(matches, 1000);  // the sample is not all misses
}

}  // namespace
}  // namespace portcullis::policy
