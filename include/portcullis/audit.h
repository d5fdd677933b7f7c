// Audit records: the structured, tamper-evident log of TLS events, decisions and anomalies
// (DESIGN §5; every event and field in docs/AUDIT.md).
//
// A producer (any thread: reactors, the control thread) builds a Record and hands it to an
// AuditSink. The sink's single writer thread adds seq, prev and hash and appends the line, so
// the chain's order is the file's order. Write() never drops a record: when the queue is full
// it blocks (losing an audit record is a bug; DESIGN §3). Records are values: build one on one
// thread, then move it into the sink.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "portcullis/identity.h"
#include "portcullis/result.h"

namespace portcullis::audit {

// One audit record under construction: a JSON object whose first members are "ts" (RFC 3339
// UTC with microseconds, taken when the record is created) and "event". Every string goes
// through RapidJSON's writer, so network-supplied text cannot break the line; a string longer
// than kMaxFieldBytes is cut and "<key>_truncated": true is added.
class Record {
 public:
  static constexpr size_t kMaxFieldBytes = 4096;

  explicit Record(std::string_view event);
  Record(Record&&) noexcept;
  Record& operator=(Record&&) noexcept;
  ~Record();

  Record& Str(std::string_view key, std::string_view value);
  Record& Int(std::string_view key, int64_t value);
  Record& Uint(std::string_view key, uint64_t value);
  Record& Bool(std::string_view key, bool value);
  Record& Double(std::string_view key, double value);
  // "identity": {subject, cn, issuer, serial, spiffe_id, dns[], uri[], email[], ip[],
  //              fingerprint_sha256, spki_sha256, not_after (RFC 3339)}
  Record& IdentityObject(std::string_view key, const Identity& identity);
  // Nested objects: Begin("tls").Str(...).End().
  Record& Begin(std::string_view key);
  Record& End();
  // An array of strings, each escaped and capped like Str(); more than kMaxListItems are cut
  // and "<key>_truncated": true is added.
  static constexpr size_t kMaxListItems = 64;
  Record& StrList(std::string_view key, const std::vector<std::string>& values);

  const std::string& event() const { return event_; }
  // The JSON text so far, without the closing brace (the sink appends seq, prev and hash).
  // For the sink; producers do not need it.
  std::string TakeOpenJson();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string event_;
};

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Thread-safe. Blocks while the queue is full; never drops.
  virtual void Write(Record record) = 0;
  // Blocks until every record written before the call is on disk (or stdout) — used on
  // SIGTERM before the process exits.
  virtual void Flush() = 0;
};

// When the writer thread calls fdatasync (docs/AUDIT.md has the measured cost of each):
//   kNone      never; the kernel writes back when it likes (a power loss may lose ~30 s)
//   kInterval  on every periodic flush (flush_interval_ms) and on Flush()   [default]
//   kAlways    after every record, before the next one is written
enum class FsyncPolicy { kNone, kInterval, kAlways };
// "none", "interval", "always"; std::nullopt for anything else.
std::optional<FsyncPolicy> ParseFsyncPolicy(std::string_view text);
std::string_view FsyncPolicyName(FsyncPolicy policy);

struct AuditOptions {
  std::string path;          // a file (appended to; the chain resumes), or "-" for stdout
  uint32_t rotate_mb = 100;  // rotate before the file would grow past this many MiB
  uint32_t keep = 10;        // rotated files kept: path.1 (newest) ... path.<keep>
  size_t queue_size = 8192;  // records waiting for the writer thread before Write() blocks
  FsyncPolicy fsync = FsyncPolicy::kInterval;
  uint32_t flush_interval_ms = 1000;  // periodic write-out (and fsync under kInterval)
  uint64_t rotate_bytes = 0;          // when non-zero, replaces rotate_mb (tests rotate small)
};

// Opens the audit log (resuming the chain from the last record found in `path`, or path.1),
// starts its writer thread and returns the sink. Fails on a bad option or an unusable file.
// Destroying the sink flushes everything written before (as Flush()) and stops the thread.
Result<std::unique_ptr<AuditSink>> OpenAuditLog(const AuditOptions& options);

}  // namespace portcullis::audit
