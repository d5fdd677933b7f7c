#include "gateway/admin/metrics_render.h"

#include <string>
#include <vector>

namespace portcullis::admin {
namespace {

using reactor::ReactorMetrics;

struct ScalarInfo {
  std::atomic<uint64_t> ReactorMetrics::*member;
  std::string_view family;
  std::string_view label;
  std::string_view label_value;
  std::string_view help;
  bool gauge;
};

#define PORTCULLIS_COUNTER_INFO(member, family, label, label_value, help) \
  {&ReactorMetrics::member, family, label, label_value, help, false},
#define PORTCULLIS_GAUGE_INFO(member, family, label, label_value, help) \
  {&ReactorMetrics::member, family, label, label_value, help, true},
const ScalarInfo kScalars[] = {
    PORTCULLIS_REACTOR_SCALARS(PORTCULLIS_COUNTER_INFO, PORTCULLIS_GAUGE_INFO)};
#undef PORTCULLIS_COUNTER_INFO
#undef PORTCULLIS_GAUGE_INFO

uint64_t Load(const std::atomic<uint64_t>& value) { return value.load(std::memory_order_relaxed); }

void AppendScalars(std::span<const ReactorMetrics* const> reactors, PrometheusText* out) {
  std::string_view family;
  for (const ScalarInfo& info : kScalars) {
    if (info.family != family) {
      out->Family(info.family, info.gauge ? "gauge" : "counter", info.help);
      family = info.family;
    }
    Labels labels;
    if (!info.label.empty()) {
      labels.emplace_back(info.label, info.label_value);
    }
    if (info.gauge) {
      for (size_t i = 0; i < reactors.size(); ++i) {
        std::string index = std::to_string(i);
        Labels with_reactor = labels;
        with_reactor.emplace_back("reactor", index);
        out->Sample(info.family, with_reactor, Load(reactors[i]->*info.member));
      }
      continue;
    }
    uint64_t sum = 0;
    for (const ReactorMetrics* r : reactors) {
      sum += Load(r->*info.member);
    }
    out->Sample(info.family, labels, sum);
  }
}

// Sums one histogram over the reactors: `of(reactor)` is the reactor's copy. Returns the
// observation count.
template <typename Of>
uint64_t MergeHistogram(std::span<const ReactorMetrics* const> reactors, Of of,
                        std::vector<uint64_t>* counts, uint64_t* sum_us) {
  counts->assign(reactor::kLatencyBucketsUs.size() + 1, 0);
  *sum_us = 0;
  uint64_t total = 0;
  for (const ReactorMetrics* r : reactors) {
    const reactor::LatencyHistogram& h = of(*r);
    for (size_t i = 0; i < counts->size(); ++i) {
      uint64_t n = Load(h.buckets[i]);
      (*counts)[i] += n;
      total += n;
    }
    *sum_us += Load(h.sum_us);
  }
  return total;
}

void AppendHistogram(std::span<const ReactorMetrics* const> reactors, std::string_view name,
                     std::string_view help, reactor::LatencyHistogram ReactorMetrics::*member,
                     PrometheusText* out) {
  std::vector<uint64_t> counts;
  uint64_t sum_us = 0;
  MergeHistogram(
      reactors, [member](const ReactorMetrics& r) -> const auto& { return r.*member; }, &counts,
      &sum_us);
  out->Family(name, "histogram", help);
  out->Histogram(name, {}, reactor::kLatencyBucketsUs, counts, sum_us);
}

}  // namespace

void AppendReactorMetrics(std::span<const ReactorMetrics* const> reactors, PrometheusText* out) {
  AppendScalars(reactors, out);

  out->Family("portcullis_tls_handshake_failures_total", "counter",
              "Failed TLS handshakes by reason (the reasons of docs/AUDIT.md).");
  for (size_t i = 0; i < reactor::kHandshakeFailureReasonCount; ++i) {
    uint64_t sum = 0;
    for (const ReactorMetrics* r : reactors) {
      sum += Load(r->handshake_failures[i]);
    }
    out->Sample("portcullis_tls_handshake_failures_total",
                {{"reason", reactor::kHandshakeFailureReasonLabels[i]}}, sum);
  }

  // The upstream dimension: the config's names, then "(none)" for requests never routed.
  std::vector<std::string_view> upstreams;
  if (!reactors.empty()) {
    for (const std::string& name : reactors[0]->upstream_names()) {
      upstreams.push_back(name);
    }
  }
  upstreams.push_back(reactor::kNoUpstreamLabel);

  // Only the combinations that happened: upstreams x methods x decisions is mostly zeros.
  out->Family("portcullis_requests_total", "counter",
              "Requests answered, by upstream, MCP method (known methods; else \"other\", or "
              "\"none\" without a JSON-RPC method) and policy decision (\"none\": never reached "
              "the policy).");
  for (size_t u = 0; u < upstreams.size(); ++u) {
    for (size_t m = 0; m < reactor::kMethodCount; ++m) {
      for (size_t d = 0; d < reactor::kDecisionCount; ++d) {
        uint64_t sum = 0;
        for (const ReactorMetrics* r : reactors) {
          sum += r->requests(u, m, d);
        }
        if (sum == 0) {
          continue;
        }
        out->Sample("portcullis_requests_total",
                    {{"upstream", upstreams[u]},
                     {"method", reactor::kMethodLabels[m]},
                     {"decision", reactor::kDecisionLabels[d]}},
                    sum);
      }
    }
  }

  out->Family("portcullis_responses_total", "counter",
              "Responses to clients by HTTP status class.");
  for (size_t c = 0; c < reactor::kStatusClassCount; ++c) {
    uint64_t sum = 0;
    for (const ReactorMetrics* r : reactors) {
      sum += Load(r->responses[c]);
    }
    out->Sample("portcullis_responses_total", {{"status_class", reactor::kStatusClassLabels[c]}},
                sum);
  }

  out->Family("portcullis_upstream_errors_total", "counter",
              "Upstream failures (after the one retry of a stale keep-alive connection), by "
              "upstream and kind.");
  for (size_t u = 0; u < upstreams.size(); ++u) {
    for (size_t k = 0; k < reactor::kUpstreamErrorKindCount; ++k) {
      uint64_t sum = 0;
      for (const ReactorMetrics* r : reactors) {
        sum += r->upstream_errors(u, k);
      }
      bool unrouted = u + 1 == upstreams.size();
      if (unrouted && sum == 0) {
        continue;
      }
      out->Sample("portcullis_upstream_errors_total",
                  {{"upstream", upstreams[u]}, {"kind", reactor::kUpstreamErrorKindLabels[k]}},
                  sum);
    }
  }

  AppendHistogram(reactors, "portcullis_tls_handshake_duration_seconds",
                  "Successful TLS handshakes: accept to handshake complete.",
                  &ReactorMetrics::handshake_latency, out);
  AppendHistogram(reactors, "portcullis_request_duration_seconds",
                  "Requests: complete request received to response complete (a streamed "
                  "response counts until its end).",
                  &ReactorMetrics::request_latency, out);

  // Every HTTP upstream of the config, observed or not, so that a rate() over it exists from
  // the first scrape; stdio upstreams and "(none)" only if something was ever counted there.
  constexpr std::string_view kUpstreamLatency = "portcullis_upstream_duration_seconds";
  out->Family(kUpstreamLatency, "histogram",
              "Proxied requests to HTTP upstreams: request sent to response head received (time "
              "to first byte; connecting included when no pooled connection was free), by "
              "upstream.");
  std::vector<uint64_t> counts;
  uint64_t sum_us = 0;
  for (size_t u = 0; u < upstreams.size(); ++u) {
    uint64_t total = MergeHistogram(
        reactors, [u](const ReactorMetrics& r) -> const auto& { return r.upstream_latency(u); },
        &counts, &sum_us);
    bool http = !reactors.empty() && reactors[0]->upstream_is_http(u);
    if (!http && total == 0) {
      continue;
    }
    out->Histogram(kUpstreamLatency, {{"upstream", upstreams[u]}}, reactor::kLatencyBucketsUs,
                   counts, sum_us);
  }
}

}  // namespace portcullis::admin
