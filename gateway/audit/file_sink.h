// AuditFile: the destination of sealed audit lines — a file with size rotation, or stdout.
//
// Lines are buffered in memory and written with write(2) when the writer asks (after each batch
// it took from the queue, a flush, a full buffer), so a busy log costs one system call per batch.
// Before a line would push the file past rotate_bytes, the file is rotated: path → path.1 → … →
// path.<keep> (the oldest beyond keep is overwritten), and a new, empty path is opened.
//
// Open() also finds where the chain stands: the last well-formed record of path (or of path.1
// when path is empty or missing), plus any bytes after it that are not records — a line torn
// by a crash. Those bytes are never removed (the file is append-only, so it can live on an
// append-only filesystem); the writer acknowledges them with an "audit.recovered" record
// (docs/AUDIT.md, "Crash recovery").
//
// Not thread-safe: owned and used by the audit writer thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/audit/hash_chain.h"
#include "portcullis/audit.h"
#include "portcullis/result.h"

namespace portcullis::audit {

struct FileOptions {
  std::string path;  // "-" = standard output (no rotation, no resume)
  uint64_t rotate_bytes = 100ull << 20;
  uint32_t keep = 10;
  FsyncPolicy fsync = FsyncPolicy::kInterval;  // rotation fsyncs the old file unless kNone
};

// What Open() found in the existing files.
struct ResumePoint {
  ChainPosition last;             // the last record found; seq 0 = none (a new chain)
  std::string found_in;           // the file that record is in; empty when none
  uint64_t unreadable_bytes = 0;  // bytes after that record in `path` that are not records,
                                  // including the '\n' Open() added to end a torn line
  uint64_t unreadable_lines = 0;
  std::string unreadable_sha256;  // SHA-256 (hex) of exactly those bytes
};

class AuditFile {
 public:
  static Result<std::unique_ptr<AuditFile>> Open(const FileOptions& options);
  ~AuditFile();

  AuditFile(const AuditFile&) = delete;
  AuditFile& operator=(const AuditFile&) = delete;

  const ResumePoint& resume() const { return resume_; }
  const std::string& path() const { return options_.path; }

  // Buffers one sealed line (with its '\n'), rotating first if the line would not fit. A
  // rotation that fails is reported in the Status and retried after another rotate_bytes;
  // the line is buffered either way.
  Status Append(std::string_view line);
  // Writes the buffer out; with `sync`, then fdatasync (only if something was written since
  // the last sync). On a write error the unwritten bytes stay buffered for the next attempt.
  Status WriteOut(bool sync);

  size_t buffered_bytes() const { return buffer_.size(); }
  uint64_t rotations() const { return rotations_; }
  // Lines dropped because the buffer outgrew kMaxBufferedBytes while writes kept failing.
  uint64_t lost_lines() const { return lost_lines_; }

  // Past this much buffered data Append() writes out by itself.
  static constexpr size_t kWriteOutBytes = 256 * 1024;
  // While the disk refuses writes, at most this much waits in memory; then the oldest buffered
  // lines are dropped (counted in lost_lines(); verify shows the gap as missing seqs).
  static constexpr size_t kMaxBufferedBytes = 64u << 20;

 private:
  explicit AuditFile(const FileOptions& options) : options_(options) {}

  Status OpenForAppend();
  Status Rotate();
  std::string RotatedName(uint32_t index) const;

  FileOptions options_;
  ResumePoint resume_;
  int fd_ = -1;
  bool owns_fd_ = false;
  bool regular_file_ = false;  // fdatasync only makes sense on a file
  uint64_t size_ = 0;          // bytes in the current file, written and buffered
  uint64_t next_rotation_at_ = 0;
  std::string buffer_;
  bool dirty_ = false;             // written since the last fdatasync
  bool last_byte_newline_ = true;  // what the file ends with, as far as written
  uint64_t rotations_ = 0;
  uint64_t lost_lines_ = 0;
};

}  // namespace portcullis::audit
