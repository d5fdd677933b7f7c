// Audit log verification: re-checks every record's hash and the links between records, across
// files given oldest first (audit.jsonl.2 audit.jsonl.1 audit.jsonl), and names the first
// record that is wrong and how. `portcullis audit verify` (gateway/cli/audit_command.h) is the
// command-line face; docs/AUDIT.md, "Verifying", states the rules.
//
// Files are streamed (a buffer of 1 MiB and one line at a time), so any size verifies in
// constant memory. ChainVerifier is a value for one thread; VerifyAuditFiles is reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/audit/hash_chain.h"

namespace portcullis::audit {

enum class Problem {
  kNone,
  kIo,          // a file could not be read
  kNotRecord,   // a line that is not an audit record (not JSON, or no seq/prev/hash)
  kTornLine,    // the last line of a file stops mid-record (truncated, or a crash)
  kEdited,      // the record's hash does not match its bytes
  kMissing,     // seq jumps forward: records deleted (or moved away)
  kOutOfOrder,  // seq goes back or repeats: records inserted, duplicated or reordered
  kBrokenLink,  // seq is right but prev is not the previous record's hash: replaced/inserted
  kBadStart,    // seq 1 whose prev is not 64 zeros; in strict mode also an unanchored start
  kRecovered,   // strict mode only: a crash-recovery region (allowed otherwise, as a note)
};

std::string_view ProblemName(Problem problem);

struct VerifyOptions {
  // Also fail on what is otherwise only a note: a chain that does not start at seq 1 (an
  // earlier file is missing) and regions acknowledged by "audit.recovered".
  bool strict = false;
};

struct VerifyResult {
  bool ok() const { return problem == Problem::kNone; }

  Problem problem = Problem::kNone;
  std::string error;  // "FILE:LINE: seq N: what is wrong" (empty when ok)
  std::string file;   // where the first problem is
  uint64_t line = 0;
  uint64_t seq = 0;  // the bad record's seq, 0 if the line is not a record

  uint64_t records = 0;  // records checked (up to the problem, if any)
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  std::string last_hash;           // the chain's head: worth keeping somewhere else
  uint64_t recovered_regions = 0;  // crash-recovery regions found (see notes)
  std::vector<std::string> notes;  // things an auditor should know that are not failures
};

// Checks records fed one line at a time, files one after another.
class ChainVerifier {
 public:
  explicit ChainVerifier(VerifyOptions options = {}) : options_(options) {}

  // Subsequent lines belong to `name`; line numbers restart at 1.
  void BeginFile(std::string name);
  // One line without its '\n'; `terminated` = it had one. Returns false once a problem is
  // found (later lines are ignored).
  bool Line(std::string_view line, bool terminated);
  // Reports a failure that is not about a line (a file that cannot be read).
  void FailIo(const std::string& message);
  // Ends the input and returns the verdict.
  VerifyResult Finish();

 private:
  // Lines that are not records, waiting to see whether an "audit.recovered" record vouches
  // for exactly these bytes.
  struct Unreadable {
    uint64_t lines = 0;
    uint64_t bytes = 0;
    Sha256 sha;
    std::string file;
    uint64_t line = 0;
    std::string why;
    bool last_terminated = true;
    bool first_empty = false;

    void Reset() {
      lines = 0;
      bytes = 0;
      sha.Reset();
      file.clear();
      line = 0;
      why.clear();
      last_terminated = true;
      first_empty = false;
    }
  };

  void Fail(Problem problem, const std::string& file, uint64_t line, uint64_t seq,
            const std::string& message);
  void FailUnreadable();

  VerifyOptions options_;
  VerifyResult result_;
  std::string file_;
  uint64_t line_no_ = 0;
  bool have_prev_ = false;
  uint64_t expected_seq_ = 0;
  Unreadable unreadable_;
  bool failed_ = false;
};

// Verifies the files in the order given, continuing the chain from one to the next.
VerifyResult VerifyAuditFiles(const std::vector<std::string>& paths, VerifyOptions options = {});

}  // namespace portcullis::audit
