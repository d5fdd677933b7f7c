// Inspection of one POST body (gateway/mcp/jsonrpc_message.h): what the gateway pays for every
// request before the policy sees it. A tools/call with nested arguments (~300 bytes, what an
// agent sends), the same with the 2026-07-28 _meta (protocol version and progress token), and a
// response, the kind that flows back through gateway-run sessions.
//
//   build-release/bin/portcullis_micro_bench --benchmark_filter=JsonRpc

#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "gateway/mcp/jsonrpc_message.h"

namespace portcullis::mcp {
namespace {

// 323 bytes: a tools/call of a search tool with a nested filter object and an array.
constexpr std::string_view kToolsCall =
    R"({"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"search_issues",)"
    R"("arguments":{"query":"label:bug state:open sort:updated","repository":{"owner":"example",)"
    R"("name":"portcullis"},"filters":{"labels":["bug","security"],"assignee":null,)"
    R"("updated_after":"2025-06-01T00:00:00Z","limit":25},"include_comments":false}}})";

// The same call from a 2026-07-28 client, with the protocol version and a progress token in
// _meta (421 bytes).
constexpr std::string_view kModernToolsCall =
    R"({"jsonrpc":"2.0","id":"req-7f3a","method":"tools/call","params":{"name":"search_issues",)"
    R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":"p-7f3a"},)"
    R"("arguments":{"query":"label:bug state:open sort:updated","repository":{"owner":"example",)"
    R"("name":"portcullis"},"filters":{"labels":["bug","security"],"assignee":null,)"
    R"("updated_after":"2025-06-01T00:00:00Z","limit":25},"include_comments":false}}})";

// A tools/call result with structured content (667 bytes).
constexpr std::string_view kToolsCallResult =
    R"({"jsonrpc":"2.0","id":42,"result":{"content":[{"type":"text","text":"Found 3 open )"
    R"(issues labelled bug and security, most recently updated first:\n#812 TLS reload keeps )"
    R"(stale CRL\n#790 Audit log rotation races with fsync\n#771 tools/list filter drops )"
    R"(templates"}],"structuredContent":{"total":3,"issues":[{"number":812,"title":"TLS reload )"
    R"(keeps stale CRL","labels":["bug","security"],"updated":"2025-06-20T09:12:00Z"},)"
    R"({"number":790,"title":"Audit log rotation races with fsync","labels":["bug"],)"
    R"("updated":"2025-06-18T17:40:00Z"},{"number":771,"title":"tools/list filter drops )"
    R"(templates","labels":["bug","security"],"updated":"2025-06-11T08:03:00Z"}]},)"
    R"("isError":false}})";

void Inspect(benchmark::State& state, std::string_view body, MessageInfo::Kind kind) {
  InspectResult check = InspectMessage(body, kDefaultMaxJsonDepth);
  if (!check.ok() || check.info().kind != kind) {
    state.SkipWithError("the body should be accepted as the expected kind");
    return;
  }
  for (auto _ : state) {
    InspectResult result = InspectMessage(body, kDefaultMaxJsonDepth);
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}

void BM_JsonRpcInspectToolsCall(benchmark::State& s) {
  Inspect(s, kToolsCall, MessageInfo::Kind::kRequest);
}
void BM_JsonRpcInspectToolsCallWithMeta(benchmark::State& s) {
  Inspect(s, kModernToolsCall, MessageInfo::Kind::kRequest);
}
void BM_JsonRpcInspectToolsCallResult(benchmark::State& s) {
  Inspect(s, kToolsCallResult, MessageInfo::Kind::kResponse);
}
BENCHMARK(BM_JsonRpcInspectToolsCall);
BENCHMARK(BM_JsonRpcInspectToolsCallWithMeta);
BENCHMARK(BM_JsonRpcInspectToolsCallResult);

}  // namespace
}  // namespace portcullis::mcp
