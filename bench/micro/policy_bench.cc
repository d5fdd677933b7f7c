// Decision cost of the policy engine (issue 3): Decide with 10, 1,000 and 10,000 rules, for an
// identity matched by exact SPIFFE ID, exact CN, a glob with a literal prefix, one with a
// literal suffix and one with neither, plus an identity no rule matches, the list filter, and the
// glob matcher itself.
//
//   build-release/bin/portcullis_micro_bench --benchmark_filter='Policy|Glob'

#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "policy/glob.h"
#include "portcullis/policy.h"

namespace portcullis::policy {
namespace {

enum class Kind { kExactSpiffe, kExactCn, kGlobSpiffe, kGlobCn, kGlobUnanchored };

const char* MatcherFor(Kind kind) {
  switch (kind) {
    case Kind::kExactSpiffe:
      return R"({"spiffe_id": "spiffe://example.org/ns/ns-%d/sa/agent"})";
    case Kind::kExactCn:
      return R"({"cn": "agent-%d"})";
    case Kind::kGlobSpiffe:  // a literal prefix: found through the prefix index
      return R"({"spiffe_id": "spiffe://example.org/ns/ns-%d/sa/*"})";
    case Kind::kGlobCn:  // a literal suffix only: found through the suffix index
      return R"({"cn": "*-agent-%d"})";
    case Kind::kGlobUnanchored:  // no literal prefix or suffix: tested for every identity
      return R"({"cn": "?*-agent-%d-*"})";
  }
  return "";
}

std::string Format(const char* pattern, int i) {
  char buffer[256];
  std::snprintf(buffer, sizeof(buffer), pattern, i);
  return buffer;
}

// `count` rules of one kind, each granting one upstream a few tools.
std::shared_ptr<const Policy> MakePolicy(Kind kind, int count) {
  static std::map<std::pair<int, int>, std::shared_ptr<const Policy>> cache;
  auto key = std::make_pair(static_cast<int>(kind), count);
  auto it = cache.find(key);
  if (it != cache.end()) {
    return it->second;
  }
  std::string text = "{\"rules\": [\n";
  for (int i = 0; i < count; ++i) {
    text += (i ? ",\n" : "");
    text += "{\"name\": \"rule-" + std::to_string(i) + "\", \"match\": [" +
            Format(MatcherFor(kind), i) +
            "], \"grant\": {\"everything\": {\"tools\": [\"echo\", \"get-*\"], "
            "\"deny_tools\": [\"delete-*\"], \"resources\": [\"file:///public/**\"]}}}";
  }
  text += "]}";
  PolicyLoad load = ParsePolicy("bench.json", text, {"everything", "files"});
  if (!load.ok()) {
    std::fprintf(stderr, "%s\n", load.errors[0].ToString().c_str());
    std::abort();
  }
  cache[key] = load.policy;
  return load.policy;
}

// The identity that the middle rule matches.
Identity IdentityFor(Kind kind, int count) {
  int i = count / 2;
  Identity id;
  id.issuer = "CN=Team CA,O=Example";
  id.cert_sha256 = std::string(64, 'a');
  id.spki_sha256 = std::string(64, 'b');
  if (kind == Kind::kExactSpiffe || kind == Kind::kGlobSpiffe) {
    id.spiffe_id = "spiffe://example.org/ns/ns-" + std::to_string(i) + "/sa/agent";
    id.uri_sans = {id.spiffe_id};
    id.subject = "O=Example";
  } else {
    id.cn = kind == Kind::kExactCn
                ? "agent-" + std::to_string(i)
                : "ci-agent-" + std::to_string(i) + (kind == Kind::kGlobUnanchored ? "-x" : "");
    id.subject = "CN=" + id.cn + ",O=Example";
  }
  return id;
}

void Decide(benchmark::State& state, Kind kind) {
  const int count = static_cast<int>(state.range(0));
  std::shared_ptr<const Policy> policy = MakePolicy(kind, count);
  Identity id = IdentityFor(kind, count);
  Action action{"everything", "tools/call", Action::Object::kTool, "get-user"};
  if (!policy->Decide(id, action).allowed) {
    state.SkipWithError("the identity should be allowed");
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(policy->Decide(id, action));
  }
}

void DecideUnknownIdentity(benchmark::State& state, Kind kind) {
  const int count = static_cast<int>(state.range(0));
  std::shared_ptr<const Policy> policy = MakePolicy(kind, count);
  Identity id = IdentityFor(kind, count);
  id.cn = "nobody";
  id.spiffe_id = "spiffe://example.org/ns/other/sa/nobody";
  id.uri_sans = {id.spiffe_id};
  Action action{"everything", "tools/call", Action::Object::kTool, "get-user"};
  for (auto _ : state) {
    benchmark::DoNotOptimize(policy->Decide(id, action));
  }
}

void BM_PolicyDecideExactSpiffe(benchmark::State& s) { Decide(s, Kind::kExactSpiffe); }
void BM_PolicyDecideExactCn(benchmark::State& s) { Decide(s, Kind::kExactCn); }
void BM_PolicyDecideGlobSpiffePrefix(benchmark::State& s) { Decide(s, Kind::kGlobSpiffe); }
void BM_PolicyDecideGlobCnSuffix(benchmark::State& s) { Decide(s, Kind::kGlobCn); }
void BM_PolicyDecideGlobUnanchored(benchmark::State& s) { Decide(s, Kind::kGlobUnanchored); }
void BM_PolicyDecideNoMatchExactSpiffe(benchmark::State& s) {
  DecideUnknownIdentity(s, Kind::kExactSpiffe);
}
void BM_PolicyDecideNoMatchGlobUnanchored(benchmark::State& s) {
  DecideUnknownIdentity(s, Kind::kGlobUnanchored);
}

BENCHMARK(BM_PolicyDecideExactSpiffe)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_PolicyDecideExactCn)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_PolicyDecideGlobSpiffePrefix)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_PolicyDecideGlobCnSuffix)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_PolicyDecideGlobUnanchored)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_PolicyDecideNoMatchExactSpiffe)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_PolicyDecideNoMatchGlobUnanchored)->Arg(10)->Arg(1000)->Arg(10000);

// GrantFor once per request, then one AllowsTool per listed tool (a 50-tool tools/list).
void BM_PolicyFilterToolsList(benchmark::State& state) {
  std::shared_ptr<const Policy> policy = MakePolicy(Kind::kExactSpiffe, 1000);
  Identity id = IdentityFor(Kind::kExactSpiffe, 1000);
  std::vector<std::string> tools;
  for (int i = 0; i < 50; ++i) {
    tools.push_back((i % 3 ? "get-item-" : "delete-item-") + std::to_string(i));
  }
  for (auto _ : state) {
    UpstreamGrant grant = policy->GrantFor(id, "everything");
    int shown = 0;
    for (const std::string& tool : tools) {
      shown += grant.AllowsTool(tool);
    }
    benchmark::DoNotOptimize(shown);
  }
}
BENCHMARK(BM_PolicyFilterToolsList);

void BM_PolicyParse(benchmark::State& state) {
  const int count = static_cast<int>(state.range(0));
  std::string text = "{\"rules\": [";
  for (int i = 0; i < count; ++i) {
    text += (i ? "," : "");
    text += "{\"name\": \"r" + std::to_string(i) + "\", \"match\": [" +
            Format(MatcherFor(Kind::kExactSpiffe), i) +
            "], \"grant\": {\"everything\": {\"tools\": [\"echo\", \"get-*\"]}}}";
  }
  text += "]}";
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParsePolicy("bench.json", text, {"everything"}));
  }
}
BENCHMARK(BM_PolicyParse)->Arg(1000)->Unit(benchmark::kMillisecond);

void GlobMatch(benchmark::State& state, const char* pattern, std::string text) {
  Glob glob = Glob::Compile(pattern).value();
  for (auto _ : state) {
    benchmark::DoNotOptimize(glob.Matches(text));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(text.size()));
}
void BM_GlobPrefixStar(benchmark::State& s) {
  GlobMatch(s, "spiffe://example.org/ns/ci/sa/*", "spiffe://example.org/ns/ci/sa/builder");
}
void BM_GlobGeneral(benchmark::State& s) {
  GlobMatch(s, "file:///**/public/*.txt", "file:///srv/data/public/readme.txt");
}
void BM_GlobPathological10k(benchmark::State& s) {
  GlobMatch(s, "*a*a*a*a*a*b*", std::string(10000, 'a'));
}
void BM_GlobQuadraticForBacktracking100k(benchmark::State& s) {
  GlobMatch(s, "x**a*a", "x" + std::string(100000, 'a') + "/ba");
}
BENCHMARK(BM_GlobPrefixStar);
BENCHMARK(BM_GlobGeneral);
BENCHMARK(BM_GlobPathological10k);
BENCHMARK(BM_GlobQuadraticForBacktracking100k);

}  // namespace
}  // namespace portcullis::policy
