// AnomalyMonitor: the anomaly detectors of the audit log (DESIGN §5). The gateway tells it
// about rare events — handshake failures, plaintext on the TLS port, handshakes, policy
// denials, malformed messages, tools/list results — and it writes an "anomaly.<detector>"
// record when one of them looks like an attack or a rug pull:
//
//   anomaly.handshake_failure_burst  many failed handshakes from one address
//   anomaly.non_tls_burst            plaintext / non-TLS bytes on the TLS port from one address
//   anomaly.denial_burst             many policy denials for one identity (tool probing)
//   anomaly.malformed_burst          malformed JSON, batches, header/body mismatches, oversized
//                                    bodies from one address
//   anomaly.new_credential           an identity presenting a certificate or key not seen before
//   anomaly.cert_expiring            a client certificate close to its notAfter
//   anomaly.tool_drift               an upstream's tool definition changed
//   anomaly.tool_added               an upstream listed a tool after its first complete listing
//   anomaly.tool_list_unreadable     a tools/list result too large or too deeply nested to
//                                    check (else padding a list would hide a rug pull)
//
// Every record carries "detector" and "subject" (an address, an identity key, or
// "upstream/tool"), plus "window_s", "count" and "threshold" where they mean something, and
// the detector's specifics (docs/AUDIT.md). Bursts fire once per window and subject when the
// count reaches the threshold, never once per event (WindowedCounter explains the window), so
// an attacker cannot flood the log through a detector; every table is bounded by
// max_subjects (or max_tools_per_upstream).
//
// Time is passed in by the caller (seconds on a monotonic clock, e.g. uv_now()/1000.0); only
// certificate expiry also needs the wall clock, passed as Unix seconds (or read by the
// two-argument OnHandshake), so tests are deterministic.
//
// Thread-safe: one mutex, which is fine because every entry point is a rare path (failures,
// denials, handshakes, list responses), never the per-request hot path. Tool lists are parsed
// and hashed before the lock is taken, and records are handed to the sink after it is
// released, so a blocking sink never holds up other threads' detectors.
// *sink must outlive the monitor; a null sink turns records off (detectors still run).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/audit/tool_fingerprint.h"
#include "gateway/audit/windowed_counter.h"
#include "portcullis/audit.h"
#include "portcullis/identity.h"

namespace portcullis::audit {

// Thresholds and windows (seconds). A threshold or window of 0 turns a detector off.
struct AnomalyThresholds {
  uint32_t handshake_failures = 10;  // per peer address
  double handshake_failures_window_s = 60;
  uint32_t non_tls = 3;  // per peer address
  double non_tls_window_s = 60;
  uint32_t denials = 10;  // per identity
  double denials_window_s = 60;
  uint32_t malformed = 5;  // per peer address
  double malformed_window_s = 60;
  // At most one anomaly.new_credential per identity per window; the handshakes with unseen
  // credentials in between are counted in the next record and reported there.
  double new_credential_window_s = 60;
  uint32_t cert_expiry_days = 14;       // report client certs expiring within N days...
  double cert_expiry_repeat_s = 86400;  // ...once per certificate per this many seconds
  // At most one anomaly.tool_drift per tool per window, and at most
  // tool_drift_records_per_window per upstream per window; a change held back is reported at
  // a later listing (the remembered definition moves only when a record names the change).
  double tool_drift_window_s = 60;
  uint32_t tool_drift_records_per_window = 64;
  size_t max_tools_per_upstream = 2000;
  // Memory bound per detector: addresses, identities, certificates, upstreams.
  size_t max_subjects = 10000;
};

// Records written per detector, for /metrics and tests.
struct AnomalyCounts {
  uint64_t handshake_failure_burst = 0;
  uint64_t non_tls_burst = 0;
  uint64_t denial_burst = 0;
  uint64_t malformed_burst = 0;
  uint64_t new_credential = 0;
  uint64_t cert_expiring = 0;
  uint64_t tool_drift = 0;
  uint64_t tool_added = 0;
  uint64_t tool_list_unreadable = 0;
  uint64_t tools_untracked = 0;  // tools seen past max_tools_per_upstream (not tracked)
};

class AnomalyMonitor {
 public:
  // Identities tracked by new_credential remember this many recent (certificate, key) pairs,
  // so replicas sharing a SPIFFE ID, or a renewal overlapping the old certificate, do not
  // report again each time they alternate.
  static constexpr size_t kKnownCredentials = 8;
  // At most this many tool names are listed in one anomaly.tool_added record (count has all).
  static constexpr size_t kMaxAddedToolsListed = 20;

  AnomalyMonitor(const AnomalyThresholds& thresholds, AuditSink* sink);
  AnomalyMonitor(const AnomalyMonitor&) = delete;
  AnomalyMonitor& operator=(const AnomalyMonitor&) = delete;

  // A handshake from `peer` failed with `reason` (the vocabulary of DESIGN §5). `peer` is an
  // address, with or without ":port" / "[v6]:port" (the port is dropped: one subject per
  // host). The reason "NOT_TLS" is routed to the non-TLS detector, the others to the
  // handshake-failure one, so the caller has one call to make.
  void OnHandshakeFailure(std::string_view peer, std::string_view reason, double now_s);
  // Plaintext or other non-TLS bytes on the TLS port.
  void OnNotTls(std::string_view peer, double now_s);
  // A completed handshake with a client certificate (an empty identity is ignored): feeds
  // new_credential (keyed by the identity key the sessions are bound to: the SPIFFE ID, else
  // subject and issuer) and cert_expiring (`unix_now_s` is the wall clock).
  void OnHandshake(const Identity& identity, double now_s, int64_t unix_now_s);
  // The same with the wall clock read here (the one clock read inside the monitor: expiry is
  // a calendar matter, and the reactor's monotonic clock does not know the date).
  void OnHandshake(const Identity& identity, double now_s);
  // A message refused by policy: `what` says what was asked ("tools/call delete_db").
  void OnDenied(const Identity& identity, std::string_view upstream, std::string_view what,
                double now_s);
  // A refused malformed message from `peer`; `kind` is "malformed_json", "batch",
  // "header_mismatch" or "oversized" (any short string is accepted and counted as a sample).
  void OnMalformed(std::string_view peer, std::string_view kind, double now_s);
  // A tools/list result as the upstream sent it — before the policy filters it, or tools the
  // client may not see would look removed and then added. `result_json` is the result object
  // or the whole JSON-RPC response. The first definition of each tool is remembered; every
  // later change is reported (anomaly.tool_drift); a tool first listed after the upstream's
  // first complete listing (a page without nextCursor) is reported as anomaly.tool_added.
  // A tool missing from a list is not reported: pages and per-session tool sets make absence
  // meaningless. Input that is not a tools/list result (an error response, not JSON) is
  // ignored; one too large or too deep to check is reported (anomaly.tool_list_unreadable,
  // once per upstream and tool_drift_window_s).
  void OnToolList(std::string_view upstream, std::string_view result_json, double now_s);

  // A reload: new thresholds apply from now on, while what the monitor remembers — each
  // upstream's tool definitions, each identity's credentials — is kept, so a rug pull timed
  // with a reload is still seen. Counters whose threshold or window changed start over.
  void Reconfigure(const AnomalyThresholds& thresholds);

  AnomalyCounts counts() const;

  // "host" of "host:port" or "[v6]:port"; a bare address (v4 or v6) unchanged.
  static std::string_view PeerHost(std::string_view peer);

 private:
  struct Credential {
    std::string cert_sha256;
    std::string spki_sha256;
  };
  struct IdentityState {
    std::vector<Credential> known;  // most recently used first, at most kKnownCredentials
    std::string first_cert_sha256;
    std::optional<double> last_report_s;
    uint64_t unreported = 0;  // handshakes with unseen credentials held back by the window
    double last_seen_s = 0;
  };
  struct ToolState {
    ToolFingerprint first;
    ToolFingerprint reported;  // the definition the log last named as current
    std::optional<double> last_report_s;
    uint64_t unreported = 0;  // lists showing a change not yet reported
  };
  struct UpstreamState {
    std::unordered_map<std::string, ToolState> tools;
    bool listed_completely = false;
    double drift_window_start_s = 0;
    uint32_t drift_records_in_window = 0;
    std::optional<double> unreadable_report_s;
    uint64_t unreadable_unreported = 0;
  };

  void BurstRecord(std::string_view detector, const WindowedCounter& counter,
                   const WindowedCounter::Burst& burst, std::string_view samples_key,
                   const Identity* identity, std::vector<Record>* out);
  void CheckCredential(const Identity& identity, double now_s, std::vector<Record>* out);
  void CheckExpiry(const Identity& identity, double now_s, int64_t unix_now_s,
                   std::vector<Record>* out);
  // The tool table of `upstream`, or null when max_subjects upstreams are tracked already.
  UpstreamState* Upstream(std::string_view upstream);
  void CheckTools(std::string_view upstream, UpstreamState& state, ToolListFingerprints& list,
                  double now_s, std::vector<Record>* out);
  bool ToolDriftOn() const;  // mu_ held
  void Emit(std::vector<Record> records);

  AuditSink* const sink_;

  mutable std::mutex mu_;  // guards everything below
  AnomalyThresholds thresholds_;
  WindowedCounter handshake_failures_;
  WindowedCounter non_tls_;
  WindowedCounter denials_;
  WindowedCounter malformed_;
  std::unordered_map<std::string, IdentityState> identities_;
  std::unordered_map<std::string, double> expiry_reported_;  // cert_sha256 → last report
  std::unordered_map<std::string, UpstreamState> upstreams_;
  AnomalyCounts counts_;
};

}  // namespace portcullis::audit
