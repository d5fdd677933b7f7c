#include "gateway/audit/identity_summary.h"

namespace portcullis::audit {

void AppendIdentitySummary(Record* record, const Identity& identity) {
  record->Begin("identity");
  record->Str("cn", identity.cn);
  if (!identity.spiffe_id.empty()) record->Str("spiffe_id", identity.spiffe_id);
  record->Str("fingerprint_sha256", identity.cert_sha256);
  record->End();
}

}  // namespace portcullis::audit
