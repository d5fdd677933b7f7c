// Audit records as the gateway builds them, then serialised into the line the writer appends
// (gateway/audit/: Record, AppendIdentitySummary, SealRecord). audit_bench.cc measures a
// hand-built mcp.request and the writer thread; this adds the two records every connection
// and every request really produce, built by the gateway's own code:
//   - BM_AuditRecordHandshake: tls.handshake with the full identity object (IdentityObject) and
//     the tls member, as ClientConnection writes it after each handshake;
//   - BM_AuditRecordRequest: mcp.request through RequestAudit::Write (identity summary, decision,
//     latency) for an allowed tools/call, and BM_AuditRecordRequestDenied, which also writes
//     mcp.denied.
// Each record goes to a sink that does on the spot what the writer thread does (take the open
// JSON, seal it with seq, prev and SHA-256 hash) but writes no file, so one figure covers
// build + serialise of one record with no queue or thread in between.
//
//   build-release/bin/portcullis_micro_bench --benchmark_filter=AuditRecord

#include <benchmark/benchmark.h>

#include <string>
#include <utility>

#include "gateway/audit/hash_chain.h"
#include "gateway/reactor/request_audit.h"
#include "portcullis/audit.h"
#include "portcullis/identity.h"

namespace portcullis::audit {
namespace {

// Seals each record into a line at once; keeps the last line and counts bytes.
class SealingSink : public AuditSink {
 public:
  void Write(Record record) override {
    line_ = record.TakeOpenJson();
    SealRecord(&position_, &line_);
    bytes_ += line_.size();
    ++records_;
  }
  void Flush() override {}

  const std::string& line() const { return line_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t records() const { return records_; }

 private:
  ChainPosition position_;
  std::string line_;
  uint64_t bytes_ = 0;
  uint64_t records_ = 0;
};

Identity ClientIdentity() {
  Identity id;
  id.subject = "CN=agent-1,O=Portcullis Dev";
  id.cn = "agent-1";
  id.issuer = "CN=Portcullis Dev CA,O=Portcullis Dev";
  id.serial_hex = "5d0c3a9e81f24b6c7a19e0d4b3c2a1f0";
  id.dns_sans = {"agent-1.ci.example.org"};
  id.uri_sans = {"spiffe://example.org/ns/ci/sa/agent"};
  id.email_sans = {"ci-bot@example.org"};
  id.spiffe_id = id.uri_sans[0];
  id.cert_sha256 = "3f0c6a1e5b9d2c7f8e4a6b1d0c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e";
  id.spki_sha256 = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
  id.not_before = 1750000000;
  id.not_after = 1781536000;
  return id;
}

void Report(benchmark::State& state, const SealingSink& sink) {
  state.SetItemsProcessed(static_cast<int64_t>(sink.records()));
  state.SetBytesProcessed(static_cast<int64_t>(sink.bytes()));
  if (sink.records() > 0) {
    state.counters["line_bytes"] = static_cast<double>(sink.bytes() / sink.records());
  }
}

void BM_AuditRecordHandshake(benchmark::State& state) {
  const Identity id = ClientIdentity();
  SealingSink sink;
  uint64_t n = 0;
  for (auto _ : state) {
    Record record("tls.handshake");
    record.Str("conn", "r0-c17").Str("peer", "127.0.0.1:51234").IdentityObject("identity", id);
    record.Begin("tls")
        .Str("version", "TLSv1.3")
        .Str("cipher", "TLS_AES_128_GCM_SHA256")
        .Bool("resumed", false)
        .Str("sni", "gateway.example.org")
        .Str("alpn", "http/1.1")
        .End();
    record.Uint("handshake_us", 1800 + ++n % 97);
    sink.Write(std::move(record));
  }
  Report(state, sink);
}
BENCHMARK(BM_AuditRecordHandshake);

void RequestRecords(benchmark::State& state, bool denied) {
  const Identity id = ClientIdentity();
  const std::string conn = "r0-c17";
  const std::string peer = "127.0.0.1:51234";
  SealingSink sink;
  uint64_t now_us = 1750000000000000;
  for (auto _ : state) {
    reactor::RequestAudit audit;
    audit.Begin("POST", "/mcp/inventory", now_us, 323);
    audit.server = "inventory";
    audit.method = "tools/call";
    audit.object_kind = "tool";
    audit.object = denied ? "delete_item_3" : "get_item_2";
    audit.id_json = "\"req-7f3a\"";
    audit.decision = denied ? "deny" : "allow";
    audit.rule = "ci-agents";
    if (denied) {
      audit.reason = "tool \"delete_item_3\" is not granted by rule \"ci-agents\"";
    }
    now_us += 1234;
    audit.Write(&sink, conn, peer, id, denied ? 403 : 200, 667, now_us);
  }
  Report(state, sink);
}

void BM_AuditRecordRequest(benchmark::State& state) { RequestRecords(state, false); }
void BM_AuditRecordRequestDenied(benchmark::State& state) { RequestRecords(state, true); }
BENCHMARK(BM_AuditRecordRequest);
BENCHMARK(BM_AuditRecordRequestDenied);

}  // namespace
}  // namespace portcullis::audit
