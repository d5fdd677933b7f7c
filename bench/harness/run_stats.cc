#include "bench/harness/run_stats.h"

#include <algorithm>

namespace portcullis::bench {
namespace {

template <typename K>
void AddAll(std::map<K, uint64_t>* into, const std::map<K, uint64_t>& from) {
  for (const auto& [key, n] : from) {
    (*into)[key] += n;
  }
}

}  // namespace

void RunStats::AddFailure(const Failure& failure) {
  ++failures;
  ++failure_reasons[failure.reason];
  failure_details.try_emplace(failure.reason, failure.detail);
}

void RunStats::AddSetupFailure(const Failure& failure) {
  ++setup_failures;
  ++setup_failure_reasons[failure.reason];
  failure_details.try_emplace(failure.reason, failure.detail);
}

void RunStats::Merge(const RunStats& other) {
  ok += other.ok;
  failures += other.failures;
  AddAll(&failure_reasons, other.failure_reasons);
  for (const auto& [reason, detail] : other.failure_details) {
    failure_details.try_emplace(reason, detail);
  }
  latency.Merge(other.latency);
  end_ns = std::max(end_ns, other.end_ns);
  setup_failures += other.setup_failures;
  AddAll(&setup_failure_reasons, other.setup_failure_reasons);
  AddAll(&versions, other.versions);
  resumed += other.resumed;
  without_close_notify += other.without_close_notify;
  AddAll(&status, other.status);
  connections += other.connections;
  backlog += other.backlog;
  sse_replies += other.sse_replies;
  sse_events += other.sse_events;
  sse_first_event.Merge(other.sse_first_event);
  sse_event_gap.Merge(other.sse_event_gap);
  closed_early += other.closed_early;
  AddAll(&closed_reasons, other.closed_reasons);
  open_at_end += other.open_at_end;
}

}  // namespace portcullis::bench
