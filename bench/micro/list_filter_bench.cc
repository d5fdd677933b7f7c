// Filtering a tools/list result to what an identity may call (gateway/mcp/list_filter.h): a
// 100-tool list as a real server sends it (each tool with a title, a description, an
// inputSchema and annotations), filtered through the grant of a policy parsed from text; the
// grant allows half of the tools, so half of the entries are cut out and the rest rewritten.
// The policy's GrantFor, once per response, is measured in policy_bench.cc.
//
//   build-release/bin/portcullis_micro_bench --benchmark_filter=ListFilter

#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "gateway/mcp/list_filter.h"
#include "portcullis/identity.h"
#include "portcullis/policy.h"

namespace portcullis::mcp {
namespace {

constexpr int kTools = 100;
// Four verbs in turn; the grant below allows get_* and list_*: half of the tools.
constexpr const char* kVerbs[] = {"get", "list", "update", "delete"};

constexpr char kPolicy[] = R"({
  "rules": [{
    "name": "ci-agents",
    "match": [{"spiffe_id": "spiffe://example.org/ns/ci/sa/agent"}],
    "grant": {"inventory": {"tools": ["get_*", "list_*"], "deny_tools": ["get_secret*"]}}
  }]
})";

std::string ToolsListResponse() {
  std::string body = R"({"jsonrpc":"2.0","id":7,"result":{"tools":[)";
  for (int i = 0; i < kTools; ++i) {
    const std::string verb = kVerbs[i % 4];
    const std::string n = std::to_string(i);
    body += (i ? "," : "");
    body += R"({"name":")" + verb + "_item_" + n + R"(","title":")" + verb + " item " + n +
            R"(","description":")" + verb + " an item of collection " + n +
            R"( in the inventory service. Returns the item with its metadata, owners and the )"
            R"(last 20 changes; fails when the caller lacks access to the collection.",)"
            R"("inputSchema":{"type":"object","properties":{"id":{"type":"string",)"
            R"("description":"The item id, as returned by list_items"},"fields":{"type":"array",)"
            R"("items":{"type":"string"},"description":"Fields to return; all when absent"},)"
            R"("include_history":{"type":"boolean","default":false}},"required":["id"],)"
            R"("additionalProperties":false},"annotations":{"readOnlyHint":)" +
            std::string(i % 4 < 2 ? "true" : "false") + "}}";
  }
  body += R"(],"nextCursor":"eyJwYWdlIjoyfQ=="}})";
  return body;
}

void BM_ListFilterTools100(benchmark::State& state) {
  policy::PolicyLoad load = policy::ParsePolicy("bench.json", kPolicy, {"inventory"});
  if (!load.ok()) {
    state.SkipWithError(load.errors[0].ToString().c_str());
    return;
  }
  Identity id;
  id.subject = "O=Example";
  id.issuer = "CN=Team CA,O=Example";
  id.spiffe_id = "spiffe://example.org/ns/ci/sa/agent";
  id.uri_sans = {id.spiffe_id};
  id.cert_sha256 = std::string(64, 'a');
  id.spki_sha256 = std::string(64, 'b');
  const policy::UpstreamGrant grant = load.policy->GrantFor(id, "inventory");
  const std::string body = ToolsListResponse();

  size_t removed = 0;
  std::optional<std::string> filtered = FilterListResponse(body, ListKind::kTools, grant, &removed);
  if (!filtered || removed != kTools / 2) {
    state.SkipWithError("half of the tools should be removed");
    return;
  }
  state.counters["body_bytes"] = static_cast<double>(body.size());
  state.counters["filtered_bytes"] = static_cast<double>(filtered->size());
  for (auto _ : state) {
    removed = 0;
    std::optional<std::string> out = FilterListResponse(body, ListKind::kTools, grant, &removed);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * kTools);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_ListFilterTools100);

}  // namespace
}  // namespace portcullis::mcp
