// ReactorMetrics: the counters, gauges and latency histograms of one reactor (DESIGN §3: per
// reactor, no locks on the hot path), summed over the reactors when /metrics is scraped
// (gateway/admin/metrics_render.h).
//
// Thread-safety: each reactor owns one ReactorMetrics and is its only writer; the admin thread
// reads it. Every value is a std::atomic<uint64_t> with relaxed ordering: a scrape needs each
// value whole, not a consistent cut across values (Envoy's stats are the same). Since there is
// one writer, Increment() is a relaxed load and store, not a locked read-modify-write.
//
// The names live in X-macro lists (Envoy's stats_macros.h), so the struct, the exposition and
// the docs cannot disagree. Label values are bounded by construction: failure reasons, error
// kinds and MCP methods come from fixed lists (a method outside the list is "other"), and
// upstream names from the config the reactor started with (anything else is "(none)").
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/reactor/request_audit.h"
#include "gateway/upstream/upstream_sink.h"
#include "portcullis/config.h"

namespace portcullis::reactor {

// Scalar metrics: KIND(member, family, label, label_value, help); label "" = none. Entries of
// one family (same name, other label values) must be adjacent: the exposition writes HELP and
// TYPE once per family. COUNTERs are summed over the reactors; GAUGEs are shown per reactor
// (with a label reactor="N").
#define PORTCULLIS_REACTOR_SCALARS(COUNTER, GAUGE)                                             \
  COUNTER(connections_accepted, "portcullis_connections_accepted_total", "", "",               \
          "TCP connections accepted on the TLS listeners.")                                    \
  COUNTER(connections_refused, "portcullis_connections_refused_total", "", "",                 \
          "Connections closed at once because limits.max_connections was reached.")            \
  COUNTER(connections_address_refused, "portcullis_connections_address_refused_total", "", "", \
          "Connections refused before the handshake by the \"access\" allow/deny lists.")      \
  GAUGE(active_connections, "portcullis_active_connections", "", "",                           \
        "Open client connections (in handshake or established), per reactor.")                 \
  COUNTER(handshakes_ok, "portcullis_tls_handshakes_total", "result", "ok",                    \
          "TLS handshakes by result.")                                                         \
  COUNTER(handshakes_failed, "portcullis_tls_handshakes_total", "result", "failed",            \
          "TLS handshakes by result.")                                                         \
  COUNTER(resumptions, "portcullis_tls_resumptions_total", "", "",                             \
          "Successful TLS handshakes that resumed an earlier session.")                        \
  COUNTER(request_bytes, "portcullis_request_body_bytes_total", "", "",                        \
          "Request body bytes received from clients.")                                         \
  COUNTER(response_bytes, "portcullis_response_body_bytes_total", "", "",                      \
          "Response body bytes sent to clients.")                                              \
  COUNTER(denials, "portcullis_denials_total", "", "",                                         \
          "Requests refused by the policy (mcp.denied records), rate limits included.")        \
  COUNTER(rate_limited, "portcullis_rate_limited_total", "", "",                               \
          "Requests refused by a rule's rate limit (429).")                                    \
  COUNTER(sessions_opened, "portcullis_gateway_sessions_opened_total", "", "",                 \
          "Sessions the gateway runs itself (stdio processes, legacy SSE bridges) opened.")    \
  COUNTER(sessions_closed, "portcullis_gateway_sessions_closed_total", "", "",                 \
          "Sessions the gateway runs itself that ended (closed, idle, failed, shut down).")

// The reasons of tls::ClassifyHandshakeError (DESIGN §5), as label values. A reason not in the
// list (a new one added there and not here) is counted as HANDSHAKE_FAILURE.
#define PORTCULLIS_HANDSHAKE_FAILURE_REASONS(X) \
  X(CERTIFICATE_VERIFY_FAILED)                  \
  X(CERTIFICATE_EXPIRED)                        \
  X(CERTIFICATE_NOT_YET_VALID)                  \
  X(CERTIFICATE_REVOKED)                        \
  X(NO_CLIENT_CERTIFICATE)                      \
  X(HOSTNAME_MISMATCH)                          \
  X(PROTOCOL_VERSION)                           \
  X(CERTIFICATE_USAGE_INVALID)                  \
  X(NO_SHARED_CIPHER)                           \
  X(NOT_TLS)                                    \
  X(HANDSHAKE_TIMEOUT)                          \
  X(CONNECTION_RESET)                           \
  X(HANDSHAKE_FAILURE)

// The MCP methods that get their own "method" label value; any other method is "other", and a
// request without a JSON-RPC method (GET stream, DELETE, a client's response message, a request
// refused before its body was read) is "none".
#define PORTCULLIS_MCP_METHODS(X) \
  X("initialize")                 \
  X("ping")                       \
  X("tools/list")                 \
  X("tools/call")                 \
  X("resources/list")             \
  X("resources/templates/list")   \
  X("resources/read")             \
  X("resources/subscribe")        \
  X("resources/unsubscribe")      \
  X("prompts/list")               \
  X("prompts/get")                \
  X("completion/complete")        \
  X("logging/setLevel")           \
  X("server/discover")            \
  X("subscriptions/listen")       \
  X("notifications/initialized")  \
  X("notifications/cancelled")    \
  X("notifications/progress")     \
  X("notifications/roots/list_changed")

// upstream::UpstreamError, in enum order (UpstreamErrorName gives the same strings).
#define PORTCULLIS_UPSTREAM_ERROR_KINDS(X) \
  X("resolve")                             \
  X("refused")                             \
  X("connect_timeout")                     \
  X("response_timeout")                    \
  X("reset")                               \
  X("protocol")                            \
  X("tls_failed")

namespace metrics_detail {
#define PORTCULLIS_METRICS_STRING_OF(name) #name,
#define PORTCULLIS_METRICS_STRING(text) text,
inline constexpr std::string_view kHandshakeFailureReasons[] = {
    PORTCULLIS_HANDSHAKE_FAILURE_REASONS(PORTCULLIS_METRICS_STRING_OF)};
inline constexpr std::string_view kMethods[] = {
    PORTCULLIS_MCP_METHODS(PORTCULLIS_METRICS_STRING) "other", "none"};
inline constexpr std::string_view kUpstreamErrorKinds[] = {
    PORTCULLIS_UPSTREAM_ERROR_KINDS(PORTCULLIS_METRICS_STRING)};
#undef PORTCULLIS_METRICS_STRING_OF
#undef PORTCULLIS_METRICS_STRING
}  // namespace metrics_detail

// Label values, in index order.
inline constexpr std::span<const std::string_view> kHandshakeFailureReasonLabels =
    metrics_detail::kHandshakeFailureReasons;
inline constexpr std::span<const std::string_view> kMethodLabels = metrics_detail::kMethods;
inline constexpr std::span<const std::string_view> kUpstreamErrorKindLabels =
    metrics_detail::kUpstreamErrorKinds;
inline constexpr std::string_view kDecisionLabels[] = {"allow", "deny", "none"};
inline constexpr std::string_view kStatusClassLabels[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
inline constexpr std::string_view kNoUpstreamLabel = "(none)";

inline constexpr size_t kHandshakeFailureReasonCount =
    std::size(metrics_detail::kHandshakeFailureReasons);
inline constexpr size_t kMethodCount = std::size(metrics_detail::kMethods);
inline constexpr size_t kUpstreamErrorKindCount = std::size(metrics_detail::kUpstreamErrorKinds);
inline constexpr size_t kDecisionCount = std::size(kDecisionLabels);
inline constexpr size_t kStatusClassCount = std::size(kStatusClassLabels);
static_assert(static_cast<size_t>(upstream::UpstreamError::kTls) + 1 == kUpstreamErrorKindCount,
              "PORTCULLIS_UPSTREAM_ERROR_KINDS must list every upstream::UpstreamError");

// The index of `reason` in kHandshakeFailureReasonLabels; HANDSHAKE_FAILURE when unknown.
inline size_t HandshakeFailureReasonIndex(std::string_view reason) {
  for (size_t i = 0; i < kHandshakeFailureReasonCount; ++i) {
    if (kHandshakeFailureReasonLabels[i] == reason) {
      return i;
    }
  }
  return kHandshakeFailureReasonCount - 1;
}

// The index of a JSON-RPC method in kMethodLabels: its own, "other", or "none" when empty.
inline size_t MethodIndex(std::string_view method) {
  if (method.empty()) {
    return kMethodCount - 1;
  }
  for (size_t i = 0; i + 2 < kMethodCount; ++i) {
    if (kMethodLabels[i] == method) {
      return i;
    }
  }
  return kMethodCount - 2;
}

// "allow" 0, "deny" 1, anything else ("", the request never reached the policy) 2.
inline size_t DecisionIndex(std::string_view decision) {
  if (decision == "allow") {
    return 0;
  }
  return decision == "deny" ? 1 : 2;
}

// 1xx..5xx → 0..4; anything out of range counts as 5xx.
inline size_t StatusClassIndex(int status) {
  return (status >= 100 && status < 600) ? static_cast<size_t>(status / 100 - 1) : 4;
}

// Histogram bucket bounds (Prometheus "le"), in microseconds: 0.5 ms .. 10 s.
inline constexpr std::array<uint64_t, 14> kLatencyBucketsUs = {
    500,    1000,   2500,   5000,    10000,   25000,   50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

// A bump of a counter that only one thread writes (see the top of this file).
inline void Increment(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Fixed-bucket latency histogram. buckets[i] counts observations in (bound[i-1], bound[i]]; the
// last one is (10 s, +Inf). The exposition makes them cumulative; count is their sum.
struct LatencyHistogram {
  std::array<std::atomic<uint64_t>, kLatencyBucketsUs.size() + 1> buckets{};
  std::atomic<uint64_t> sum_us{0};

  static size_t BucketIndex(uint64_t us) {
    return static_cast<size_t>(
        std::lower_bound(kLatencyBucketsUs.begin(), kLatencyBucketsUs.end(), us) -
        kLatencyBucketsUs.begin());
  }
  void Observe(uint64_t us) {
    Increment(buckets[BucketIndex(us)]);
    Increment(sum_us, us);
  }
};

class ReactorMetrics {
 public:
  // The upstream label values are the config's upstream names, fixed for the reactor's life.
  explicit ReactorMetrics(const Config& config) {
    for (const auto& [name, upstream] : config.upstreams) {
      upstream_names_.push_back(name);  // std::map: sorted, as UpstreamIndex needs
      upstream_http_.push_back(upstream.kind == UpstreamConfig::Kind::kHttp);
    }
    size_t rows = upstream_names_.size() + 1;
    requests_.reset(new std::atomic<uint64_t>[rows * kMethodCount * kDecisionCount]());
    upstream_errors_.reset(new std::atomic<uint64_t>[rows * kUpstreamErrorKindCount]());
    upstream_latency_.reset(new LatencyHistogram[rows]());
  }
  ReactorMetrics(const ReactorMetrics&) = delete;
  ReactorMetrics& operator=(const ReactorMetrics&) = delete;

#define PORTCULLIS_METRICS_MEMBER(member, family, label, label_value, help) \
  std::atomic<uint64_t> member{0};
  PORTCULLIS_REACTOR_SCALARS(PORTCULLIS_METRICS_MEMBER, PORTCULLIS_METRICS_MEMBER)
#undef PORTCULLIS_METRICS_MEMBER
  std::array<std::atomic<uint64_t>, kHandshakeFailureReasonCount> handshake_failures{};
  std::array<std::atomic<uint64_t>, kStatusClassCount> responses{};
  LatencyHistogram handshake_latency;  // successful handshakes, accept to Finished
  LatencyHistogram request_latency;    // request received to response complete

  // --- Reactor thread -------------------------------------------------------------------
  void ObserveHandshake(bool resumed, uint64_t elapsed_us) {
    Increment(handshakes_ok);
    if (resumed) {
      Increment(resumptions);
    }
    handshake_latency.Observe(elapsed_us);
  }
  void ObserveHandshakeFailure(std::string_view reason) {
    Increment(handshakes_failed);
    Increment(handshake_failures[HandshakeFailureReasonIndex(reason)]);
  }
  // One finished request (whatever its outcome), from what its audit record says.
  void ObserveRequest(const RequestAudit& audit, int status, uint64_t bytes_out, uint64_t now_us) {
    size_t decision = DecisionIndex(audit.decision);
    Increment(
        requests_[RequestSlot(UpstreamIndex(audit.server), MethodIndex(audit.method), decision)]);
    if (decision == 1) {
      Increment(denials);
    }
    Increment(responses[StatusClassIndex(status)]);
    Increment(request_bytes, audit.bytes_in);
    Increment(response_bytes, bytes_out);
    request_latency.Observe(now_us >= audit.started_us ? now_us - audit.started_us : 0);
  }
  void ObserveUpstreamError(std::string_view upstream, upstream::UpstreamError error) {
    Increment(upstream_errors_[UpstreamIndex(upstream) * kUpstreamErrorKindCount +
                               static_cast<size_t>(error)]);
  }
  // A proxied request's time to first byte: request sent to an HTTP upstream (connecting
  // included when no pooled connection was free) to its response head received.
  void ObserveUpstreamLatency(std::string_view upstream, uint64_t elapsed_us) {
    upstream_latency_[UpstreamIndex(upstream)].Observe(elapsed_us);
  }

  // --- Any thread -----------------------------------------------------------------------
  // Label values of the upstream dimension: upstream_names()[i], and kNoUpstreamLabel at
  // index upstream_names().size().
  const std::vector<std::string>& upstream_names() const { return upstream_names_; }
  size_t UpstreamIndex(std::string_view name) const {
    auto it = std::lower_bound(upstream_names_.begin(), upstream_names_.end(), name);
    if (it != upstream_names_.end() && *it == name) {
      return static_cast<size_t>(it - upstream_names_.begin());
    }
    return upstream_names_.size();
  }
  uint64_t requests(size_t upstream, size_t method, size_t decision) const {
    return requests_[RequestSlot(upstream, method, decision)].load(std::memory_order_relaxed);
  }
  uint64_t upstream_errors(size_t upstream, size_t kind) const {
    return upstream_errors_[upstream * kUpstreamErrorKindCount + kind].load(
        std::memory_order_relaxed);
  }
  const LatencyHistogram& upstream_latency(size_t upstream) const {
    return upstream_latency_[upstream];
  }
  // True for an HTTP(S) upstream, the only kind with an upstream latency (false for "(none)").
  bool upstream_is_http(size_t upstream) const {
    return upstream < upstream_http_.size() && upstream_http_[upstream];
  }

 private:
  static size_t RequestSlot(size_t upstream, size_t method, size_t decision) {
    return (upstream * kMethodCount + method) * kDecisionCount + decision;
  }

  std::vector<std::string> upstream_names_;
  std::vector<bool> upstream_http_;  // parallel to upstream_names_
  // [upstream][method][decision], [upstream][kind] and [upstream], upstream dimension one
  // longer than upstream_names_ for "(none)".
  std::unique_ptr<std::atomic<uint64_t>[]> requests_;
  std::unique_ptr<std::atomic<uint64_t>[]> upstream_errors_;
  std::unique_ptr<LatencyHistogram[]> upstream_latency_;
};

}  // namespace portcullis::reactor
