// The audit hash chain: how a record's open JSON becomes a sealed line, and how a line is read
// back (docs/AUDIT.md, "The chain", is the normative description).
//
// A sealed line is
//   {"ts":…,"event":…,<fields>,"seq":N,"prev":"<64 hex>","hash":"<64 hex>"}\n
// where hash = lower-hex SHA-256 (wolfCrypt) of the line's bytes up to and including the
// "prev" member, i.e. everything before `,"hash":"`. prev is the hash of the record before
// (64 zeros before seq 1), so each hash covers the whole history. Functions here are pure;
// Sha256 and ChainPosition are values owned by one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

namespace portcullis::audit {

// prev of the first record of a chain.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// An incremental SHA-256 with a lower-hex result.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  // The digest of everything so far as 64 lower-hex characters; resets for reuse.
  std::string HexDigest();
  // Starts over, as if just constructed.
  void Reset();

 private:
  wc_Sha256 sha_;
};

std::string Sha256Hex(std::string_view bytes);

// Where a chain stands: the last record written. seq 0 = nothing yet.
struct ChainPosition {
  uint64_t seq = 0;
  std::string hash = std::string(kGenesisHash);
};

// Turns *line, which holds a record's open JSON ("{…" without the closing brace), into a sealed
// line with its '\n', and advances *position to it.
void SealRecord(ChainPosition* position, std::string* line);

// The members the chain adds, as found at the end of a line (given without its '\n').
struct RecordTail {
  uint64_t seq = 0;
  std::string_view prev;   // 64 lower-hex characters
  std::string_view hash;   // 64 lower-hex characters
  size_t hashed_size = 0;  // the line's bytes covered by hash: [0, hashed_size)
};

// Parses `…,"seq":N,"prev":"<hex>","hash":"<hex>"}` at the end of `line`: the exact bytes the
// writer emits, nothing looser. std::nullopt if the line does not end that way.
std::optional<RecordTail> ParseRecordTail(std::string_view line);

// A line that is a well-formed record: a single valid JSON object (UTF-8 checked) whose last
// members are the chain's tail. The hash is NOT checked here (see hash_ok).
struct ParsedRecord {
  RecordTail tail;
  bool hash_ok = false;  // SHA-256 of the hashed bytes equals tail.hash
  std::string event;     // the top-level "event", empty if missing
  // Present on "audit.recovered" records (docs/AUDIT.md, "Crash recovery").
  std::optional<uint64_t> unreadable_bytes;
  std::string unreadable_sha256;
};

// Reads one line (without its '\n'). std::nullopt when it is not a record: not JSON, not one
// object, or without the chain's tail. When `why` is given it receives a short reason.
std::optional<ParsedRecord> ParseRecordLine(std::string_view line, std::string* why = nullptr);

}  // namespace portcullis::audit
