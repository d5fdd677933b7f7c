#include "gateway/reactor/request_audit.h"

#include "gateway/audit/identity_summary.h"

namespace portcullis::reactor {

void RequestAudit::Begin(std::string_view http_method_in, std::string_view path_in,
                         uint64_t now_us, uint64_t body_bytes) {
  *this = RequestAudit();
  pending = true;
  http_method = http_method_in;
  path = path_in;
  started_us = now_us;
  bytes_in = body_bytes;
}

void RequestAudit::Write(audit::AuditSink* sink, const std::string& conn, const std::string& peer,
                         const Identity& identity, int status, uint64_t bytes_out,
                         uint64_t now_us) {
  if (!pending) return;
  pending = false;
  auto fill = [&](audit::Record& r) {
    r.Str("conn", conn).Str("peer", peer);
    audit::AppendIdentitySummary(&r, identity);
    r.Str("http_method", http_method).Str("path", path);
    if (!server.empty()) r.Str("server", server);
    if (!method.empty()) r.Str("method", method);
    if (!object_kind.empty()) r.Str(object_kind, object);
    if (!id_json.empty()) r.Str("id", id_json);
    r.Str("decision", decision.empty() ? "none" : decision);
    if (!rule.empty()) r.Str("rule", rule);
    r.Int("status", status);
    r.Uint("latency_us", now_us >= started_us ? now_us - started_us : 0);
    r.Uint("bytes_in", bytes_in).Uint("bytes_out", bytes_out);
    if (!reason.empty()) r.Str("reason", reason);
  };
  audit::Record request("mcp.request");
  fill(request);
  sink->Write(std::move(request));
  if (decision == "deny") {
    audit::Record denied("mcp.denied");
    fill(denied);
    sink->Write(std::move(denied));
  }
}

}  // namespace portcullis::reactor
