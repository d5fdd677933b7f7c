#include "gateway/audit/anomaly_monitor.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <utility>

#include "gateway/mcp/session_seal.h"

namespace portcullis::audit {

namespace {

constexpr std::string_view kHandshakeFailureBurst = "handshake_failure_burst";
constexpr std::string_view kNonTlsBurst = "non_tls_burst";
constexpr std::string_view kDenialBurst = "denial_burst";
constexpr std::string_view kMalformedBurst = "malformed_burst";
constexpr std::string_view kNewCredential = "new_credential";
constexpr std::string_view kCertExpiring = "cert_expiring";
constexpr std::string_view kToolDrift = "tool_drift";
constexpr std::string_view kToolAdded = "tool_added";
constexpr std::string_view kToolListUnreadable = "tool_list_unreadable";

// A threshold whose window is off is off too.
uint32_t Threshold(uint32_t threshold, double window_s) { return window_s > 0 ? threshold : 0; }

// What an operator reads as the identity: its SPIFFE ID, else its subject (the record's
// "identity" object has the issuer and the rest).
std::string_view DisplayName(const Identity& identity) {
  return identity.spiffe_id.empty() ? std::string_view(identity.subject)
                                    : std::string_view(identity.spiffe_id);
}

Record AnomalyRecord(std::string_view detector, std::string_view subject) {
  Record r(std::string("anomaly.") + std::string(detector));
  r.Str("detector", detector).Str("subject", subject);
  return r;
}

// Frees room in a full table by dropping its least recently used tenth (at least one entry):
// O(n) once per n/10 insertions. Dropping a subject only forgets what was first seen for it.
template <typename Map, typename LastUsed>
void EvictOldest(Map& map, LastUsed last_used) {
  if (map.empty()) {
    return;
  }
  std::vector<double> times;
  times.reserve(map.size());
  for (const auto& entry : map) {
    times.push_back(last_used(entry.second));
  }
  size_t drop = std::max<size_t>(1, map.size() / 10);
  std::nth_element(times.begin(), times.begin() + (drop - 1), times.end());
  double cutoff = times[drop - 1];
  size_t dropped = 0;
  for (auto it = map.begin(); it != map.end() && dropped < drop;) {
    if (last_used(it->second) <= cutoff) {
      it = map.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
}

}  // namespace

AnomalyMonitor::AnomalyMonitor(const AnomalyThresholds& thresholds, AuditSink* sink)
    : sink_(sink),
      thresholds_(thresholds),
      handshake_failures_(
          Threshold(thresholds.handshake_failures, thresholds.handshake_failures_window_s),
          thresholds.handshake_failures_window_s, thresholds.max_subjects),
      non_tls_(Threshold(thresholds.non_tls, thresholds.non_tls_window_s),
               thresholds.non_tls_window_s, thresholds.max_subjects),
      denials_(Threshold(thresholds.denials, thresholds.denials_window_s),
               thresholds.denials_window_s, thresholds.max_subjects),
      malformed_(Threshold(thresholds.malformed, thresholds.malformed_window_s),
                 thresholds.malformed_window_s, thresholds.max_subjects) {}

void AnomalyMonitor::Reconfigure(const AnomalyThresholds& thresholds) {
  auto renew = [&](WindowedCounter& counter, uint32_t threshold, double window_s) {
    WindowedCounter fresh(Threshold(threshold, window_s), window_s, thresholds.max_subjects);
    if (fresh.threshold() != counter.threshold() || fresh.window_s() != counter.window_s() ||
        fresh.max_subjects() != counter.max_subjects()) {
      counter = std::move(fresh);  // counts in flight are dropped: windows restart
    }
  };
  std::lock_guard lock(mu_);
  renew(handshake_failures_, thresholds.handshake_failures, thresholds.handshake_failures_window_s);
  renew(non_tls_, thresholds.non_tls, thresholds.non_tls_window_s);
  renew(denials_, thresholds.denials, thresholds.denials_window_s);
  renew(malformed_, thresholds.malformed, thresholds.malformed_window_s);
  thresholds_ = thresholds;
}

std::string_view AnomalyMonitor::PeerHost(std::string_view peer) {
  if (!peer.empty() && peer.front() == '[') {
    size_t close = peer.find(']');
    return close == std::string_view::npos ? peer : peer.substr(1, close - 1);
  }
  size_t colon = peer.find(':');
  if (colon != std::string_view::npos && peer.find(':', colon + 1) == std::string_view::npos) {
    return peer.substr(0, colon);  // "v4:port"; two or more colons make a bare IPv6 address
  }
  return peer;
}

void AnomalyMonitor::Emit(std::vector<Record> records) {
  if (sink_ == nullptr) {
    return;
  }
  for (auto& record : records) {
    sink_->Write(std::move(record));
  }
}

void AnomalyMonitor::BurstRecord(std::string_view detector, const WindowedCounter& counter,
                                 const WindowedCounter::Burst& burst, std::string_view samples_key,
                                 const Identity* identity, std::vector<Record>* out) {
  std::string_view subject =
      (identity != nullptr && !burst.overflow) ? DisplayName(*identity) : burst.subject;
  Record r = AnomalyRecord(detector, subject);
  r.Double("window_s", counter.window_s())
      .Uint("count", burst.count)
      .Uint("threshold", counter.threshold())
      .Uint("current_window_count", burst.current_window_count)
      .Uint("previous_window_count", burst.previous_window_count);
  if (burst.overflow) {
    // The table of subjects was full: this counts the events of every subject without room.
    r.Bool("overflow", true);
  } else if (identity != nullptr) {
    r.IdentityObject("identity", *identity);
  }
  r.Begin(samples_key);
  for (const auto& [sample, n] : burst.samples) {
    r.Uint(sample, n);
  }
  r.End();
  out->push_back(std::move(r));
}

void AnomalyMonitor::OnHandshakeFailure(std::string_view peer, std::string_view reason,
                                        double now_s) {
  if (reason == "NOT_TLS") {
    OnNotTls(peer, now_s);
    return;
  }
  std::vector<Record> records;
  {
    std::lock_guard lock(mu_);
    if (auto burst = handshake_failures_.Add(PeerHost(peer), now_s, reason)) {
      BurstRecord(kHandshakeFailureBurst, handshake_failures_, *burst, "reasons", nullptr,
                  &records);
      ++counts_.handshake_failure_burst;
    }
  }
  Emit(std::move(records));
}

void AnomalyMonitor::OnNotTls(std::string_view peer, double now_s) {
  std::vector<Record> records;
  {
    std::lock_guard lock(mu_);
    if (auto burst = non_tls_.Add(PeerHost(peer), now_s, "NOT_TLS")) {
      BurstRecord(kNonTlsBurst, non_tls_, *burst, "reasons", nullptr, &records);
      ++counts_.non_tls_burst;
    }
  }
  Emit(std::move(records));
}

void AnomalyMonitor::OnDenied(const Identity& identity, std::string_view upstream,
                              std::string_view what, double now_s) {
  std::string key = mcp::SessionIdentityKey(identity);
  std::string sample;
  sample.reserve(upstream.size() + 1 + std::min(what.size(), WindowedCounter::kMaxSampleBytes));
  sample.append(upstream).append(" ").append(what.substr(0, WindowedCounter::kMaxSampleBytes));
  std::vector<Record> records;
  {
    std::lock_guard lock(mu_);
    if (auto burst = denials_.Add(key, now_s, sample)) {
      BurstRecord(kDenialBurst, denials_, *burst, "denied", &identity, &records);
      ++counts_.denial_burst;
    }
  }
  Emit(std::move(records));
}

void AnomalyMonitor::OnMalformed(std::string_view peer, std::string_view kind, double now_s) {
  std::vector<Record> records;
  {
    std::lock_guard lock(mu_);
    if (auto burst = malformed_.Add(PeerHost(peer), now_s, kind)) {
      BurstRecord(kMalformedBurst, malformed_, *burst, "kinds", nullptr, &records);
      ++counts_.malformed_burst;
    }
  }
  Emit(std::move(records));
}

void AnomalyMonitor::OnHandshake(const Identity& identity, double now_s, int64_t unix_now_s) {
  if (identity.empty()) {
    return;
  }
  std::vector<Record> records;
  {
    std::lock_guard lock(mu_);
    CheckCredential(identity, now_s, &records);
    CheckExpiry(identity, now_s, unix_now_s, &records);
  }
  Emit(std::move(records));
}

void AnomalyMonitor::OnHandshake(const Identity& identity, double now_s) {
  OnHandshake(identity, now_s, static_cast<int64_t>(std::time(nullptr)));
}

void AnomalyMonitor::CheckCredential(const Identity& identity, double now_s,
                                     std::vector<Record>* out) {
  const double window_s = thresholds_.new_credential_window_s;
  if (!(window_s > 0) || thresholds_.max_subjects == 0) {
    return;
  }
  std::string key = mcp::SessionIdentityKey(identity);
  auto it = identities_.find(key);
  if (it == identities_.end()) {
    // First sight of this identity: remember its credential; nothing to compare with.
    if (identities_.size() >= thresholds_.max_subjects) {
      EvictOldest(identities_, [](const IdentityState& s) { return s.last_seen_s; });
    }
    IdentityState state;
    state.known.push_back({identity.cert_sha256, identity.spki_sha256});
    state.first_cert_sha256 = identity.cert_sha256;
    state.last_seen_s = now_s;
    identities_.emplace(std::move(key), std::move(state));
    return;
  }
  IdentityState& state = it->second;
  state.last_seen_s = now_s;
  auto known = std::find_if(state.known.begin(), state.known.end(), [&](const Credential& c) {
    return c.cert_sha256 == identity.cert_sha256;
  });
  if (known != state.known.end()) {
    std::rotate(state.known.begin(), known, known + 1);  // most recently used first
    return;
  }
  if (state.last_report_s && now_s - *state.last_report_s < window_s) {
    // Held back: not remembered either, so the next handshake after the window reports it.
    ++state.unreported;
    return;
  }
  bool key_changed = std::none_of(state.known.begin(), state.known.end(), [&](const auto& c) {
    return c.spki_sha256 == identity.spki_sha256;
  });
  const Credential& previous = state.known.front();
  Record r = AnomalyRecord(kNewCredential, DisplayName(identity));
  r.Double("window_s", window_s)
      .Uint("count", state.unreported + 1)
      .Bool("key_changed", key_changed)
      .Str("old_cert_sha256", previous.cert_sha256)
      .Str("new_cert_sha256", identity.cert_sha256)
      .Str("old_spki_sha256", previous.spki_sha256)
      .Str("new_spki_sha256", identity.spki_sha256)
      .Str("first_cert_sha256", state.first_cert_sha256)
      .IdentityObject("identity", identity);
  out->push_back(std::move(r));
  ++counts_.new_credential;
  state.known.insert(state.known.begin(), {identity.cert_sha256, identity.spki_sha256});
  if (state.known.size() > kKnownCredentials) {
    state.known.pop_back();
  }
  state.last_report_s = now_s;
  state.unreported = 0;
}

void AnomalyMonitor::CheckExpiry(const Identity& identity, double now_s, int64_t unix_now_s,
                                 std::vector<Record>* out) {
  if (thresholds_.cert_expiry_days == 0 || identity.not_after == 0 ||
      thresholds_.max_subjects == 0) {
    return;
  }
  const int64_t horizon_s = int64_t{thresholds_.cert_expiry_days} * 86400;
  const int64_t left_s = identity.not_after - unix_now_s;
  if (left_s >= horizon_s) {
    return;
  }
  auto it = expiry_reported_.find(identity.cert_sha256);
  if (it != expiry_reported_.end()) {
    if (now_s - it->second < thresholds_.cert_expiry_repeat_s) {
      return;
    }
    it->second = now_s;
  } else {
    if (expiry_reported_.size() >= thresholds_.max_subjects) {
      EvictOldest(expiry_reported_, [](double reported_s) { return reported_s; });
    }
    expiry_reported_.emplace(identity.cert_sha256, now_s);
  }
  // Whole days left, rounded down (0 = expires within a day; negative = already expired).
  int64_t days_left = left_s >= 0 ? left_s / 86400 : -((-left_s + 86399) / 86400);
  Record r = AnomalyRecord(kCertExpiring, DisplayName(identity));
  r.Uint("threshold", thresholds_.cert_expiry_days)
      .Int("days_left", days_left)
      .Int("seconds_left", left_s)
      .Str("cert_sha256", identity.cert_sha256)
      .IdentityObject("identity", identity);
  out->push_back(std::move(r));
  ++counts_.cert_expiring;
}

bool AnomalyMonitor::ToolDriftOn() const {
  return thresholds_.tool_drift_window_s > 0 && thresholds_.max_subjects > 0;
}

void AnomalyMonitor::OnToolList(std::string_view upstream, std::string_view result_json,
                                double now_s) {
  {
    std::lock_guard lock(mu_);
    if (!ToolDriftOn()) {
      return;
    }
  }
  // Parse and hash outside the lock: lists can be large.
  ToolListError error = ToolListError::kNotToolList;
  std::optional<ToolListFingerprints> list = FingerprintToolList(result_json, &error);
  if (!list && error == ToolListError::kNotToolList) {
    return;
  }
  std::vector<Record> records;
  {
    std::lock_guard lock(mu_);
    if (!ToolDriftOn()) {
      return;  // turned off by a reload meanwhile
    }
    const double window_s = thresholds_.tool_drift_window_s;
    UpstreamState* up = Upstream(upstream);
    if (up == nullptr) {
      return;
    }
    UpstreamState& state = *up;
    if (!list) {
      if (state.unreadable_report_s && now_s - *state.unreadable_report_s < window_s &&
          now_s >= *state.unreadable_report_s) {
        ++state.unreadable_unreported;
        return;
      }
      Record r = AnomalyRecord(kToolListUnreadable, upstream);
      r.Str("upstream", upstream)
          .Str("reason", error == ToolListError::kTooLarge ? "too_large" : "too_deep")
          .Uint("bytes", result_json.size())
          .Double("window_s", window_s)
          .Uint("count", state.unreadable_unreported + 1);
      records.push_back(std::move(r));
      ++counts_.tool_list_unreadable;
      state.unreadable_report_s = now_s;
      state.unreadable_unreported = 0;
    } else {
      CheckTools(upstream, state, *list, now_s, &records);
    }
  }
  Emit(std::move(records));
}

AnomalyMonitor::UpstreamState* AnomalyMonitor::Upstream(std::string_view upstream) {
  auto up = upstreams_.find(std::string(upstream));
  if (up == upstreams_.end()) {
    if (upstreams_.size() >= thresholds_.max_subjects) {
      return nullptr;  // upstream names come from the config: never reached in practice
    }
    up = upstreams_.emplace(std::string(upstream), UpstreamState()).first;
  }
  return &up->second;
}

void AnomalyMonitor::CheckTools(std::string_view upstream, UpstreamState& state,
                                ToolListFingerprints& list, double now_s,
                                std::vector<Record>* out) {
  const double window_s = thresholds_.tool_drift_window_s;
  if (now_s - state.drift_window_start_s >= window_s || now_s < state.drift_window_start_s) {
    state.drift_window_start_s = now_s;
    state.drift_records_in_window = 0;
  }
  std::vector<const ToolFingerprint*> added;
  size_t added_count = 0;
  for (ToolFingerprint& fp : list.tools) {
    auto it = state.tools.find(fp.name);
    if (it == state.tools.end()) {
      if (state.tools.size() >= thresholds_.max_tools_per_upstream) {
        ++counts_.tools_untracked;
        continue;
      }
      it = state.tools.emplace(fp.name, ToolState{fp, fp, std::nullopt, 0}).first;
      if (state.listed_completely) {
        ++added_count;
        if (added.size() < kMaxAddedToolsListed) {
          added.push_back(&it->second.first);
        }
      }
      continue;
    }
    ToolState& tool = it->second;
    if (fp.hash == tool.reported.hash) {
      continue;
    }
    bool tool_may_report = !tool.last_report_s || now_s - *tool.last_report_s >= window_s ||
                           now_s < *tool.last_report_s;
    if (!tool_may_report ||
        state.drift_records_in_window >= thresholds_.tool_drift_records_per_window) {
      ++tool.unreported;
      continue;
    }
    std::string subject = std::string(upstream) + "/" + fp.name;
    Record r = AnomalyRecord(kToolDrift, subject);
    r.Str("upstream", upstream)
        .Str("tool", fp.name)
        .Double("window_s", window_s)
        .Uint("count", tool.unreported + 1)
        .Str("old_hash", tool.reported.hash)
        .Str("new_hash", fp.hash)
        .Str("first_hash", tool.first.hash)
        .Bool("back_to_first", fp.hash == tool.first.hash);
    r.Begin("changed");
    for (std::string_view part : ChangedToolParts(tool.reported, fp)) {
      r.Bool(part, true);
    }
    r.End();
    out->push_back(std::move(r));
    ++counts_.tool_drift;
    ++state.drift_records_in_window;
    tool.reported = std::move(fp);
    tool.last_report_s = now_s;
    tool.unreported = 0;
  }
  if (added_count > 0) {
    Record r = AnomalyRecord(kToolAdded, upstream);
    r.Str("upstream", upstream).Uint("count", added_count);
    r.Begin("tools");  // name → hash
    for (const ToolFingerprint* fp : added) {
      r.Str(fp->name, fp->hash);
    }
    r.End();
    out->push_back(std::move(r));
    ++counts_.tool_added;
  }
  if (list.last_page) {
    state.listed_completely = true;
  }
}

AnomalyCounts AnomalyMonitor::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

}  // namespace portcullis::audit
