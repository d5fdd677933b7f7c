// TLS diagnosis: what `portcullis diagnose HOST:PORT` finds out about a TLS server, as a
// client, without Wireshark: the negotiated version and cipher, the server's chain (subjects,
// issuers, typed SANs, validity), whether it verifies against the given CA and name, whether
// the server accepted our client certificate, and on failure the operator's reason (DESIGN §5
// vocabulary, gateway/tls/handshake_failure.h) with a one-line fix.
//
// How: a blocking TCP connect with a timeout, then a wolfSSL client handshake with
// verification on. When that handshake completes, a close_notify is sent and the answer read:
// a server that rejects the client certificate after the client finished (TLS 1.3) says so
// with an alert that arrives before its reaction to the close_notify, so the verdict does not
// depend on a timing guess. When a failed handshake did not leave the server's chain behind
// (wolfSSL usually keeps it, even when verifying it failed), a second handshake with
// verification off fetches it for display. No application data is ever sent.
//
// Diagnose() blocks for at most about 3 × timeout_ms. Call tls::InitLibrary() first (Diagnose
// does). Thread-safe: each call has its own WOLFSSL_CTX.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "portcullis/identity.h"

namespace portcullis::tls {

struct DiagnoseOptions {
  std::string host;  // a name or literal address (IPv6 without brackets)
  uint16_t port = 0;
  std::string ca_file;     // trust anchors (PEM); empty = the system trust store
  std::string cert_file;   // optional client certificate chain (PEM) ...
  std::string key_file;    // ... and its key
  std::string servername;  // the name to verify (and to send as SNI unless it is an address);
                           // empty = host
  int timeout_ms = 10000;  // TCP connect; each handshake; waiting for the server's verdict
};

// One certificate of the chain the server sent, leaf first.
struct ChainCertificate {
  Identity identity;      // subject, issuer, serial, typed SANs, validity, fingerprints
  std::string error;      // set when the certificate could not be read (identity is then empty)
  std::string key;        // "EC P-256", "RSA 2048", ...
  int64_t days_left = 0;  // whole days until not_after (negative once expired)
  bool expired = false;
  bool not_yet_valid = false;
};

// Who a failure is about: the server's certificate or setup, or our client certificate.
enum class FailureSide { kNone, kServer, kClient, kNetwork };

struct Diagnosis {
  std::string target;      // "host:port" as asked
  std::string address;     // the address connected to, "127.0.0.1:8443" / "[::1]:8443"
  std::string servername;  // the name verified
  bool sni_sent = false;   // not for a literal address (RFC 6066 §3)
  std::string trust;       // the CA file, or "system trust store"

  bool connected = false;       // TCP connected
  bool handshake_done = false;  // a handshake completed (in either attempt)
  bool verified = false;        // chain and name verified, and the server accepted us
  std::string version;          // "TLSv1.3"
  std::string cipher;           // wolfSSL's name, "TLS13-AES128-GCM-SHA256"
  std::string group;            // key exchange group, "SECP256R1", when known
  bool client_certificate_requested = false;
  bool client_certificate_sent = false;
  // Whether the leaf names `servername` (DNS SAN with wildcards, IP SAN), judged on its own so
  // that it is known even when the chain does not verify. Unset when there is no chain.
  bool name_checked = false;
  bool name_matches = false;
  std::vector<ChainCertificate> chain;
  bool chain_from_unverified_handshake = false;  // the chain came from the second handshake

  // Set on failure (verified == false).
  std::string reason;  // e.g. "CERTIFICATE_EXPIRED", "NO_CLIENT_CERTIFICATE", "NOT_TLS"
  FailureSide side = FailureSide::kNone;
  std::string detail;  // wolfSSL's error and the alert received, or the socket error
  std::string fix;     // one line for the operator
};

Diagnosis Diagnose(const DiagnoseOptions& options, int64_t now_unix);

// The one-line fix for a reason on a side, e.g. ("CERTIFICATE_EXPIRED", kServer) → "the
// server's certificate has expired: renew it (and restart or reload the server)".
std::string_view FixFor(std::string_view reason, FailureSide side);
std::string_view SideName(FailureSide side);  // "server", "client", "network", ""

// A TLS alert description's name (RFC 8446 §6): 116 → "certificate_required"; "?" if unknown.
std::string_view AlertName(int code);

}  // namespace portcullis::tls
