// Splitting an upstream's text/event-stream into events (gateway/mcp/sse_event_splitter.h) and
// taking each event's data, as the gateway does for every SSE response it filters, guards or
// bridges into a gateway-run session.
//
//   - BM_SseProgressStream/<chunk>: a tools/call answered over SSE as the MCP SDKs send it: a
//     priming event (2025-11-25), 40 notifications/progress, then the result; the bytes arrive
//     in pieces of <chunk> bytes (256: a server flushing small writes; 1460: one TCP segment;
//     16384: one TLS record).
//   - BM_SseLargeEvent/<KiB>/<chunk>: one result of <KiB> KiB (a file read through a tool) in
//     pieces of <chunk> bytes. The splitter rescans its whole buffer on every Feed, so this
//     shows what an event much larger than a piece costs.
//
//   build-release/bin/portcullis_micro_bench --benchmark_filter=Sse

#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "gateway/mcp/sse_event_splitter.h"

namespace portcullis::mcp {
namespace {

// ProxyExchange's default bound (limits.max_body_bytes); every event here fits.
constexpr size_t kMaxEventBytes = 4 << 20;

std::string ProgressStream(int* events) {
  std::string stream = "id: 0\ndata:\n\n";  // the priming event: an id and empty data
  *events = 1;
  constexpr int kProgress = 40;
  for (int i = 1; i <= kProgress; ++i) {
    stream += "event: message\nid: " + std::to_string(i) +
              "\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":"
              "{\"progressToken\":\"p-7f3a\",\"progress\":" +
              std::to_string(i) + ",\"total\":" + std::to_string(kProgress) +
              ",\"message\":\"Indexed " + std::to_string(i * 50) + " of " +
              std::to_string(kProgress * 50) + " files\"}}\n\n";
    ++*events;
  }
  stream +=
      "event: message\nid: 41\ndata: {\"jsonrpc\":\"2.0\",\"id\":42,\"result\":{\"content\":"
      "[{\"type\":\"text\",\"text\":\"Indexed 2000 files in 3 repositories; 17 matched the "
      "query.\"}],\"structuredContent\":{\"indexed\":2000,\"matched\":17},\"isError\":false}}"
      "\n\n";
  ++*events;
  return stream;
}

std::string LargeResultEvent(size_t bytes) {
  std::string text;
  while (text.size() + 200 < bytes) {  // the whole event stays within `bytes`
    text += "The quick brown fox jumps over the lazy dog; line " + std::to_string(text.size()) +
            " of a file read through a tool.\\n";
  }
  return "event: message\nid: 1\ndata: {\"jsonrpc\":\"2.0\",\"id\":42,\"result\":{\"content\":"
         "[{\"type\":\"text\",\"text\":\"" +
         text + "\"}],\"isError\":false}}\n\n";
}

// Feeds `stream` in pieces of `chunk` bytes; each event's data is taken, as HttpBridge does.
void Split(benchmark::State& state, const std::string& stream, size_t chunk, int expected_events) {
  for (auto _ : state) {
    SseEventSplitter splitter(kMaxEventBytes);
    int events = 0;
    size_t data_bytes = 0;
    auto on_event = [&](std::string_view event) {
      std::string data = SseEventData(event);
      data_bytes += data.size();
      ++events;
    };
    for (size_t pos = 0; pos < stream.size(); pos += chunk) {
      if (!splitter.Feed(std::string_view(stream).substr(pos, chunk), on_event)) {
        state.SkipWithError("an event grew beyond the bound");
        return;
      }
    }
    if (events != expected_events || !splitter.TakeRest().empty()) {
      state.SkipWithError("the stream should split into every event and nothing more");
      return;
    }
    benchmark::DoNotOptimize(data_bytes);
  }
  state.SetItemsProcessed(state.iterations() * expected_events);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(stream.size()));
}

void BM_SseProgressStream(benchmark::State& state) {
  int events = 0;
  const std::string stream = ProgressStream(&events);
  state.counters["stream_bytes"] = static_cast<double>(stream.size());
  Split(state, stream, static_cast<size_t>(state.range(0)), events);
}
BENCHMARK(BM_SseProgressStream)->Arg(256)->Arg(1460)->Arg(16384);

void BM_SseLargeEvent(benchmark::State& state) {
  const std::string stream = LargeResultEvent(static_cast<size_t>(state.range(0)) << 10);
  state.counters["stream_bytes"] = static_cast<double>(stream.size());
  Split(state, stream, static_cast<size_t>(state.range(1)), 1);
}
BENCHMARK(BM_SseLargeEvent)
    ->Args({64, 1460})
    ->Args({64, 16384})
    ->Args({1024, 16384})
    ->Args({1024, 1460})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace portcullis::mcp
