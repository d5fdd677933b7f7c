#include "gateway/audit/anomaly_monitor.h"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/audit/anomaly_capture_sink.h"

namespace portcullis::audit {
namespace {

using testing::CaptureSink;

std::string Str(const rapidjson::Value& v, const char* key) {
  return v.HasMember(key) && v[key].IsString() ? v[key].GetString() : std::string("<missing>");
}
uint64_t U(const rapidjson::Value& v, const char* key) {
  return v.HasMember(key) && v[key].IsUint64() ? v[key].GetUint64() : ~uint64_t{0};
}

Identity MakeIdentity(const std::string& spiffe, const std::string& cert, const std::string& spki,
                      int64_t not_after = 4102444800 /* 2100-01-01 */) {
  Identity id;
  id.subject = "CN=agent-1,O=Example";
  id.cn = "agent-1";
  id.issuer = "CN=Team CA";
  id.spiffe_id = spiffe;
  if (!spiffe.empty()) {
    id.uri_sans.push_back(spiffe);
  }
  id.cert_sha256 = cert;
  id.spki_sha256 = spki;
  id.not_before = 1700000000;
  id.not_after = not_after;
  return id;
}

TEST(AnomalyMonitor, PeerHostDropsThePort) {
  EXPECT_EQ(AnomalyMonitor::PeerHost("10.0.0.1:4431"), "10.0.0.1");
  EXPECT_EQ(AnomalyMonitor::PeerHost("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(AnomalyMonitor::PeerHost("[::1]:4431"), "::1");
  EXPECT_EQ(AnomalyMonitor::PeerHost("::1"), "::1");
  EXPECT_EQ(AnomalyMonitor::PeerHost("fe80::1:2"), "fe80::1:2");
  EXPECT_EQ(AnomalyMonitor::PeerHost("[broken"), "[broken");
  EXPECT_EQ(AnomalyMonitor::PeerHost(""), "");
}

TEST(AnomalyMonitor, HandshakeFailuresFireAtThresholdWithCountsAndReasons) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  for (int i = 0; i < 9; ++i) {
    monitor.OnHandshakeFailure("192.0.2.7:" + std::to_string(40000 + i),
                               i < 6 ? "CERTIFICATE_EXPIRED" : "NO_CLIENT_CERTIFICATE", 100 + i);
  }
  EXPECT_EQ(sink.size(), 0u);
  monitor.OnHandshakeFailure("192.0.2.7:50000", "CERTIFICATE_EXPIRED", 109);
  auto records = sink.Events("anomaly.handshake_failure_burst");
  ASSERT_EQ(records.size(), 1u);
  const auto& r = records[0];
  EXPECT_EQ(Str(r, "detector"), "handshake_failure_burst");
  EXPECT_EQ(Str(r, "subject"), "192.0.2.7");
  EXPECT_EQ(U(r, "count"), 10u);
  EXPECT_EQ(U(r, "threshold"), 10u);
  EXPECT_EQ(r["window_s"].GetDouble(), 60.0);
  EXPECT_EQ(U(r["reasons"], "CERTIFICATE_EXPIRED"), 7u);
  EXPECT_EQ(U(r["reasons"], "NO_CLIENT_CERTIFICATE"), 3u);
  EXPECT_FALSE(r.HasMember("overflow"));
  EXPECT_EQ(monitor.counts().handshake_failure_burst, 1u);
  EXPECT_TRUE(sink.AllValid());
}

TEST(AnomalyMonitor, HandshakeFailureFloodIsOneRecordPerWindow) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  for (int i = 0; i < 10000; ++i) {
    monitor.OnHandshakeFailure("192.0.2.7:1234", "CERTIFICATE_VERIFY_FAILED", 5.0);
  }
  EXPECT_EQ(sink.Events("anomaly.handshake_failure_burst").size(), 1u);
  // The same flood continuing over four more windows: one record each.
  for (int i = 0; i < 10000; ++i) {
    // 5 .. 305 s: the rest of the first window [5, 65) and four more.
    monitor.OnHandshakeFailure("192.0.2.7:1234", "CERTIFICATE_VERIFY_FAILED", 5.0 + i * 0.03);
  }
  auto records = sink.Events("anomaly.handshake_failure_burst");
  EXPECT_EQ(records.size(), 5u);
  // A record in a later window says how big the flood was in the window before.
  EXPECT_GE(U(records.back(), "previous_window_count"), 1900u);
}

TEST(AnomalyMonitor, HandshakeFailuresFireAgainInANewWindow) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  for (int i = 0; i < 10; ++i) {
    monitor.OnHandshakeFailure("192.0.2.7", "CERTIFICATE_REVOKED", 0);
  }
  ASSERT_EQ(sink.size(), 1u);
  for (int i = 0; i < 9; ++i) {
    monitor.OnHandshakeFailure("192.0.2.7", "CERTIFICATE_REVOKED", 200);
  }
  EXPECT_EQ(sink.size(), 1u);
  monitor.OnHandshakeFailure("192.0.2.7", "CERTIFICATE_REVOKED", 200);
  EXPECT_EQ(sink.size(), 2u);
}

TEST(AnomalyMonitor, AddressesAreCountedApart) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  for (int i = 0; i < 9; ++i) {
    monitor.OnHandshakeFailure("192.0.2.1", "HANDSHAKE_FAILURE", 1);
    monitor.OnHandshakeFailure("192.0.2.2", "HANDSHAKE_FAILURE", 1);
    monitor.OnHandshakeFailure("[2001:db8::1]:443", "HANDSHAKE_FAILURE", 1);
  }
  EXPECT_EQ(sink.size(), 0u);
  monitor.OnHandshakeFailure("[2001:db8::1]:444", "HANDSHAKE_FAILURE", 1);
  auto records = sink.Events("anomaly.handshake_failure_burst");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(Str(records[0], "subject"), "2001:db8::1");
}

TEST(AnomalyMonitor, NotTlsHasItsOwnDetectorAndThreshold) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  monitor.OnNotTls("198.51.100.9:1000", 1);
  monitor.OnHandshakeFailure("198.51.100.9:1001", "NOT_TLS", 2);  // routed to non_tls
  EXPECT_EQ(sink.size(), 0u);
  monitor.OnNotTls("198.51.100.9:1002", 3);
  auto records = sink.Events("anomaly.non_tls_burst");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(Str(records[0], "subject"), "198.51.100.9");
  EXPECT_EQ(U(records[0], "count"), 3u);
  EXPECT_EQ(U(records[0], "threshold"), 3u);
  for (int i = 0; i < 1000; ++i) {
    monitor.OnNotTls("198.51.100.9:1002", 4);
  }
  EXPECT_EQ(sink.size(), 1u);
  EXPECT_EQ(monitor.counts().handshake_failure_burst, 0u);
  EXPECT_EQ(monitor.counts().non_tls_burst, 1u);
}

TEST(AnomalyMonitor, DenialsBurstPerIdentityWithWhatWasDenied) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  Identity prober = MakeIdentity("spiffe://example.org/agent/prober", "c1", "k1");
  Identity other = MakeIdentity("spiffe://example.org/agent/other", "c2", "k2");
  for (int i = 0; i < 9; ++i) {
    monitor.OnDenied(prober, "files", "tools/call delete_" + std::to_string(i % 3), 10 + i);
    monitor.OnDenied(other, "files", "tools/call x", 10 + i);
  }
  EXPECT_EQ(sink.size(), 0u);
  monitor.OnDenied(prober, "billing", "resources/read file:///etc/shadow", 19);
  auto records = sink.Events("anomaly.denial_burst");
  ASSERT_EQ(records.size(), 1u);
  const auto& r = records[0];
  EXPECT_EQ(Str(r, "subject"), "spiffe://example.org/agent/prober");
  EXPECT_EQ(U(r, "count"), 10u);
  EXPECT_EQ(U(r["denied"], "files tools/call delete_0"), 3u);
  EXPECT_EQ(U(r["denied"], "billing resources/read file:///etc/shadow"), 1u);
  ASSERT_TRUE(r.HasMember("identity"));
  for (int i = 0; i < 5000; ++i) {
    monitor.OnDenied(prober, "files", "tools/call y", 20);
  }
  EXPECT_EQ(sink.size(), 1u);
}

TEST(AnomalyMonitor, DenialsWithoutSpiffeIdAreKeyedBySubjectAndIssuer) {
  CaptureSink sink;
  AnomalyThresholds thresholds;
  thresholds.denials = 2;
  AnomalyMonitor monitor(thresholds, &sink);
  Identity a = MakeIdentity("", "c1", "k1");
  Identity b = a;
  b.issuer = "CN=Other CA";
  monitor.OnDenied(a, "files", "tools/call x", 1);
  monitor.OnDenied(b, "files", "tools/call x", 1);
  EXPECT_EQ(sink.size(), 0u);
  monitor.OnDenied(a, "files", "tools/call x", 1);
  auto records = sink.Events("anomaly.denial_burst");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(Str(records[0], "subject"), "CN=agent-1,O=Example");
}

TEST(AnomalyMonitor, MalformedBurstCountsKinds) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  monitor.OnMalformed("203.0.113.5:1", "malformed_json", 1);
  monitor.OnMalformed("203.0.113.5:2", "batch", 1);
  monitor.OnMalformed("203.0.113.5:3", "header_mismatch", 1);
  monitor.OnMalformed("203.0.113.5:4", "oversized", 1);
  EXPECT_EQ(sink.size(), 0u);
  monitor.OnMalformed("203.0.113.5:5", "batch", 1);
  auto records = sink.Events("anomaly.malformed_burst");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(U(records[0], "count"), 5u);
  EXPECT_EQ(U(records[0]["kinds"], "batch"), 2u);
  EXPECT_EQ(U(records[0]["kinds"], "oversized"), 1u);
}

TEST(AnomalyMonitor, MaxSubjectsBoundsMemoryAndFloodFromManyAddressesIsOneRecord) {
  CaptureSink sink;
  AnomalyThresholds thresholds;
  thresholds.max_subjects = 50;
  AnomalyMonitor monitor(thresholds, &sink);
  // 10,000 addresses, one failure each: no single address reaches the threshold, but the
  // ones without room in the table are counted together.
  for (int i = 0; i < 10000; ++i) {
    monitor.OnHandshakeFailure("10.9." + std::to_string(i / 250) + "." + std::to_string(i % 250),
                               "CERTIFICATE_VERIFY_FAILED", 1);
  }
  auto records = sink.Events("anomaly.handshake_failure_burst");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(Str(records[0], "subject"), "*");
  EXPECT_TRUE(records[0]["overflow"].GetBool());
}

TEST(AnomalyMonitor, ZeroThresholdOrWindowTurnsADetectorOff) {
  CaptureSink sink;
  AnomalyThresholds thresholds;
  thresholds.handshake_failures = 0;
  thresholds.malformed_window_s = 0;
  AnomalyMonitor monitor(thresholds, &sink);
  for (int i = 0; i < 100; ++i) {
    monitor.OnHandshakeFailure("10.0.0.1", "CERTIFICATE_EXPIRED", 1);
    monitor.OnMalformed("10.0.0.1", "batch", 1);
  }
  EXPECT_EQ(sink.size(), 0u);
}

TEST(AnomalyMonitor, NullSinkIsAllowed) {
  AnomalyMonitor monitor(AnomalyThresholds{}, nullptr);
  for (int i = 0; i < 100; ++i) {
    monitor.OnHandshakeFailure("10.0.0.1", "CERTIFICATE_EXPIRED", 1);
  }
  EXPECT_EQ(monitor.counts().handshake_failure_burst, 1u);
}

TEST(AnomalyMonitor, HostileStringsStayInsideTheRecord) {
  CaptureSink sink;
  AnomalyThresholds thresholds;
  thresholds.denials = 3;
  AnomalyMonitor monitor(thresholds, &sink);
  Identity id = MakeIdentity("spiffe://x/\"\n\x01\xff", "c", "k");
  std::string huge(1 << 20, 'n');
  monitor.OnDenied(id, "up\"\n", "tools/call \"}\n{\"event\":\"forged\"", 1);
  monitor.OnDenied(id, "up", huge, 1);
  monitor.OnDenied(id, std::string("a\0b", 3), "\x80\xfe", 1);
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_TRUE(sink.AllValid());
  EXPECT_LT(sink.lines()[0].size(), 64u * 1024);
}

// --- new_credential and cert_expiring ------------------------------------------------------

TEST(AnomalyMonitorCredential, FirstCertificateIsNotAnAnomalySameOneAgainNeither) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  Identity id = MakeIdentity("spiffe://example.org/a", "cert1", "key1");
  for (int i = 0; i < 100; ++i) {
    monitor.OnHandshake(id, i, 1700000000);
  }
  EXPECT_EQ(sink.size(), 0u);
}

TEST(AnomalyMonitorCredential, NewCertificateWithSameKey) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  monitor.OnHandshake(MakeIdentity("spiffe://example.org/a", "cert1", "key1"), 0, 1700000000);
  monitor.OnHandshake(MakeIdentity("spiffe://example.org/a", "cert2", "key1"), 10, 1700000010);
  auto records = sink.Events("anomaly.new_credential");
  ASSERT_EQ(records.size(), 1u);
  const auto& r = records[0];
  EXPECT_EQ(Str(r, "detector"), "new_credential");
  EXPECT_EQ(Str(r, "subject"), "spiffe://example.org/a");
  EXPECT_FALSE(r["key_changed"].GetBool());
  EXPECT_EQ(Str(r, "old_cert_sha256"), "cert1");
  EXPECT_EQ(Str(r, "new_cert_sha256"), "cert2");
  EXPECT_EQ(Str(r, "first_cert_sha256"), "cert1");
  EXPECT_EQ(U(r, "count"), 1u);
  EXPECT_TRUE(r.HasMember("identity"));
}

TEST(AnomalyMonitorCredential, NewKeyIsFlagged) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  monitor.OnHandshake(MakeIdentity("spiffe://example.org/a", "cert1", "key1"), 0, 1700000000);
  monitor.OnHandshake(MakeIdentity("spiffe://example.org/a", "cert2", "key2"), 10, 1700000010);
  auto records = sink.Events("anomaly.new_credential");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0]["key_changed"].GetBool());
  EXPECT_EQ(Str(records[0], "old_spki_sha256"), "key1");
  EXPECT_EQ(Str(records[0], "new_spki_sha256"), "key2");
}

TEST(AnomalyMonitorCredential, AlternatingBetweenKnownCertificatesIsQuiet) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  Identity a = MakeIdentity("spiffe://example.org/a", "cert1", "key1");
  Identity b = MakeIdentity("spiffe://example.org/a", "cert2", "key2");
  monitor.OnHandshake(a, 0, 1700000000);
  monitor.OnHandshake(b, 100, 1700000000);
  ASSERT_EQ(sink.size(), 1u);
  for (int i = 0; i < 100; ++i) {
    monitor.OnHandshake(i % 2 ? a : b, 200 + i, 1700000000);
  }
  EXPECT_EQ(sink.size(), 1u);
}

TEST(AnomalyMonitorCredential, ChangesAreRateLimitedPerIdentityAndHeldBackOnesReportedLater) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  monitor.OnHandshake(MakeIdentity("spiffe://example.org/a", "cert0", "key0"), 0, 1700000000);
  // An attacker cycling through 1000 fresh certificates for one identity within one window.
  for (int i = 1; i <= 1000; ++i) {
    monitor.OnHandshake(MakeIdentity("spiffe://example.org/a", "cert" + std::to_string(i),
                                     "key" + std::to_string(i)),
                        1, 1700000000);
  }
  ASSERT_EQ(sink.size(), 1u);
  // After the window, the next unseen credential is reported with what was held back.
  monitor.OnHandshake(MakeIdentity("spiffe://example.org/a", "cert1000", "key1000"), 62,
                      1700000000);
  auto records = sink.Events("anomaly.new_credential");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(U(records[1], "count"), 1000u);
  EXPECT_EQ(Str(records[1], "old_cert_sha256"), "cert1");
  EXPECT_EQ(Str(records[1], "new_cert_sha256"), "cert1000");
}

TEST(AnomalyMonitorCredential, IdentitiesAreKeyedBySpiffeIdElseSubjectAndIssuer) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  monitor.OnHandshake(MakeIdentity("spiffe://example.org/a", "c1", "k1"), 0, 1700000000);
  monitor.OnHandshake(MakeIdentity("spiffe://example.org/b", "c2", "k2"), 0, 1700000000);
  Identity plain = MakeIdentity("", "c3", "k3");
  monitor.OnHandshake(plain, 0, 1700000000);
  Identity other_issuer = MakeIdentity("", "c4", "k4");
  other_issuer.issuer = "CN=Another CA";
  monitor.OnHandshake(other_issuer, 0, 1700000000);
  EXPECT_EQ(sink.size(), 0u);
  Identity renewed = MakeIdentity("", "c5", "k3");
  monitor.OnHandshake(renewed, 0, 1700000000);
  auto records = sink.Events("anomaly.new_credential");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(Str(records[0], "subject"), "CN=agent-1,O=Example");
  EXPECT_EQ(Str(records[0], "old_cert_sha256"), "c3");
}

TEST(AnomalyMonitorCredential, EmptyIdentityIsIgnored) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  monitor.OnHandshake(Identity{}, 0, 1700000000);
  monitor.OnHandshake(Identity{}, 0, 1700000000);
  EXPECT_EQ(sink.size(), 0u);
}

TEST(AnomalyMonitorCredential, MaxSubjectsBoundsTheIdentityTable) {
  CaptureSink sink;
  AnomalyThresholds thresholds;
  thresholds.max_subjects = 100;
  AnomalyMonitor monitor(thresholds, &sink);
  for (int i = 0; i < 5000; ++i) {
    monitor.OnHandshake(
        MakeIdentity("spiffe://x/" + std::to_string(i), "c" + std::to_string(i), "k"), i,
        1700000000);
  }
  EXPECT_EQ(sink.size(), 0u);
  // Recently seen identities are kept: a change for the latest one is still noticed.
  monitor.OnHandshake(MakeIdentity("spiffe://x/4999", "changed", "k"), 6000, 1700000000);
  EXPECT_EQ(sink.Events("anomaly.new_credential").size(), 1u);
}

TEST(AnomalyMonitorCredential, CertificateCloseToExpiryIsReportedOncePerDay) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  const int64_t now = 1700000000;
  Identity soon = MakeIdentity("spiffe://example.org/a", "c1", "k1", now + 3 * 86400 + 100);
  monitor.OnHandshake(soon, 0, now);
  auto records = sink.Events("anomaly.cert_expiring");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(Str(records[0], "detector"), "cert_expiring");
  EXPECT_EQ(Str(records[0], "subject"), "spiffe://example.org/a");
  EXPECT_EQ(records[0]["days_left"].GetInt64(), 3);
  EXPECT_EQ(U(records[0], "threshold"), 14u);
  EXPECT_EQ(Str(records[0], "cert_sha256"), "c1");
  for (int i = 1; i < 1000; ++i) {
    monitor.OnHandshake(soon, i * 60.0, now + i * 60);  // the rest of the day
  }
  EXPECT_EQ(sink.Events("anomaly.cert_expiring").size(), 1u);
  monitor.OnHandshake(soon, 86400, now + 86400);
  records = sink.Events("anomaly.cert_expiring");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["days_left"].GetInt64(), 2);
}

TEST(AnomalyMonitorCredential, ExpiryThresholdBoundary) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  const int64_t now = 1700000000;
  monitor.OnHandshake(MakeIdentity("spiffe://x/a", "c1", "k1", now + 14 * 86400), 0, now);
  monitor.OnHandshake(MakeIdentity("spiffe://x/b", "c2", "k2", now + 400 * 86400), 0, now);
  monitor.OnHandshake(MakeIdentity("spiffe://x/c", "c3", "k3", 0), 0, now);  // unknown
  EXPECT_EQ(sink.size(), 0u);
  monitor.OnHandshake(MakeIdentity("spiffe://x/d", "c4", "k4", now + 14 * 86400 - 1), 0, now);
  monitor.OnHandshake(MakeIdentity("spiffe://x/e", "c5", "k5", now - 10), 0, now);
  auto records = sink.Events("anomaly.cert_expiring");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["days_left"].GetInt64(), 13);
  EXPECT_EQ(records[1]["days_left"].GetInt64(), -1);
}

// --- threads --------------------------------------------------------------------------------

TEST(AnomalyMonitorThreads, ConcurrentCallersGetExactlyOneRecordPerSubjectAndWindow) {
  CaptureSink sink;
  AnomalyMonitor monitor(AnomalyThresholds{}, &sink);
  constexpr int kThreads = 4;
  constexpr int kEvents = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&monitor, t] {
      Identity id = MakeIdentity("spiffe://x/" + std::to_string(t), "c", "k");
      std::string tools =
          R"({"tools":[{"name":"echo","description":")" + std::to_string(t) + R"("}]})";
      for (int i = 0; i < kEvents; ++i) {
        // Every thread hammers the shared address and its own, and lists the shared upstream.
        monitor.OnHandshakeFailure("10.0.0.1", "CERTIFICATE_EXPIRED", 1);
        monitor.OnHandshakeFailure("10.1.0." + std::to_string(t), "CERTIFICATE_EXPIRED", 1);
        monitor.OnDenied(id, "files", "tools/call x", 1);
        monitor.OnMalformed("10.0.0.1", "batch", 1);
        monitor.OnHandshake(id, 1, 1700000000);
        if (i % 100 == 0) {
          monitor.OnToolList("shared", tools, 1);
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(sink.Events("anomaly.handshake_failure_burst").size(), 1u + kThreads);
  EXPECT_EQ(sink.Events("anomaly.denial_burst").size(), static_cast<size_t>(kThreads));
  EXPECT_EQ(sink.Events("anomaly.malformed_burst").size(), 1u);
  EXPECT_EQ(sink.Events("anomaly.new_credential").size(), 0u);
  // The shared tool's description differs per thread: one drift record in the window.
  EXPECT_EQ(sink.Events("anomaly.tool_drift").size(), 1u);
  EXPECT_TRUE(sink.AllValid());
}

}  // namespace
}  // namespace portcullis::audit
