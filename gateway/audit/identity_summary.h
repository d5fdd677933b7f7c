// The identity fields every per-request audit record carries: enough to correlate with the
// connection's tls.handshake record, which has the full identity. Thread-safe (pure).
#pragma once

#include <string_view>

#include "portcullis/audit.h"
#include "portcullis/identity.h"

namespace portcullis::audit {

// Appends "identity": {"cn", "spiffe_id" (if any), "fingerprint_sha256"}.
void AppendIdentitySummary(Record* record, const Identity& identity);

}  // namespace portcullis::audit
