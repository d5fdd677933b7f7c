// The reactor metrics (gateway/reactor/metrics.h) as Prometheus text: counters summed over the
// reactors, gauges per reactor, histograms merged bucket by bucket.
//
// Runs on the admin thread while the reactors keep counting: each value is read once, with
// relaxed ordering, so a scrape is a near-instant view, not a transaction (a histogram's count
// is the sum of the buckets it read, so _count always equals the +Inf bucket).
#pragma once

#include <span>

#include "gateway/admin/prometheus_text.h"
#include "gateway/reactor/metrics.h"

namespace portcullis::admin {

// `reactors[i]` is reactor i. All of them were built from the same config (same upstreams).
void AppendReactorMetrics(std::span<const reactor::ReactorMetrics* const> reactors,
                          PrometheusText* out);

}  // namespace portcullis::admin
