// The id rewrites of gateway-run sessions (gateway/session/jsonrpc_rewrite.h): each request a
// client sends through a session gets the gateway's own id on the way to the upstream, its
// response gets the client's id back, and each notifications/progress is routed by its
// progressToken. Every one is a SAX pass over the whole message, so the cost grows with it:
// the response is measured at about 0.7 KiB and at 32 KiB (the message_bytes counter).
//
//   build-release/bin/portcullis_micro_bench --benchmark_filter=SessionRewrite

#include <benchmark/benchmark.h>

#include <optional>
#include <string>
#include <string_view>

#include "gateway/session/jsonrpc_rewrite.h"

namespace portcullis::session {
namespace {

// 323 bytes: a tools/call with nested arguments, as a client sends it.
constexpr std::string_view kToolsCall =
    R"({"jsonrpc":"2.0","id":"req-7f3a","method":"tools/call","params":{"name":"search_issues",)"
    R"("arguments":{"query":"label:bug state:open sort:updated","repository":{"owner":"example",)"
    R"("name":"portcullis"},"filters":{"labels":["bug","security"],"assignee":null,)"
    R"("updated_after":"2025-06-01T00:00:00Z","limit":25},"include_comments":false}}})";

constexpr std::string_view kProgress =
    R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p-7f3a",)"
    R"("progress":12,"total":40,"message":"Indexed 600 of 2000 files"}})";

// A tools/call result of `size` bytes or a little more, as the upstream answers: with the
// gateway's id (17).
std::string ToolsCallResult(size_t size) {
  constexpr size_t kEnvelope = 105;  // the bytes around the text
  std::string text;
  while (text.size() + kEnvelope < size) {
    // Appended piece by piece: g++ 12 warns falsely (-Wrestrict) on "literal" + std::string.
    text += '#';
    text += std::to_string(800 + text.size() % 97);
    text += " TLS reload keeps stale CRL (bug, security), updated 2025-06-20\\n";
  }
  return R"({"jsonrpc":"2.0","id":17,"result":{"content":[{"type":"text","text":")" + text +
         R"("}],"structuredContent":{"total":3},"isError":false}})";
}

// Client to upstream: the client's id replaced by the session's next id.
void BM_SessionRewriteRequestId(benchmark::State& state) {
  int64_t next_id = 17;
  for (auto _ : state) {
    std::optional<std::string> out = ReplaceId(kToolsCall, std::to_string(next_id++));
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kToolsCall.size()));
}
BENCHMARK(BM_SessionRewriteRequestId);

// Upstream to client: the session's id replaced by the client's.
void BM_SessionRewriteResponseId(benchmark::State& state) {
  const std::string response = ToolsCallResult(static_cast<size_t>(state.range(0)));
  if (!ReplaceId(response, "\"req-7f3a\"")) {
    state.SkipWithError("the response should be rewritable");
    return;
  }
  state.counters["message_bytes"] = static_cast<double>(response.size());
  for (auto _ : state) {
    std::optional<std::string> out = ReplaceId(response, "\"req-7f3a\"");
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(response.size()));
}
BENCHMARK(BM_SessionRewriteResponseId)->Arg(600)->Arg(32 << 10);

// A server's notifications/progress: which pending request is it for?
void BM_SessionRewriteReadProgressToken(benchmark::State& state) {
  if (ReadStringOrInteger(kProgress, "params", "progressToken") != "\"p-7f3a\"") {
    state.SkipWithError("the token should be read");
    return;
  }
  for (auto _ : state) {
    std::string token = ReadStringOrInteger(kProgress, "params", "progressToken");
    benchmark::DoNotOptimize(token);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kProgress.size()));
}
BENCHMARK(BM_SessionRewriteReadProgressToken);

}  // namespace
}  // namespace portcullis::session
