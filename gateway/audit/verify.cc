#include "gateway/audit/verify.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <optional>

namespace portcullis::audit {
namespace {

constexpr size_t kReadChunk = 1u << 20;
constexpr size_t kMaxLine = 64u << 20;

std::string Short(std::string_view hash) { return std::string(hash.substr(0, 16)) + "..."; }

std::string Where(const std::string& file, uint64_t line) {
  return file + ":" + std::to_string(line);
}

}  // namespace

std::string_view ProblemName(Problem problem) {
  switch (problem) {
    case Problem::kNone:
      return "ok";
    case Problem::kIo:
      return "unreadable file";
    case Problem::kNotRecord:
      return "not a record";
    case Problem::kTornLine:
      return "torn line";
    case Problem::kEdited:
      return "edited";
    case Problem::kMissing:
      return "records missing";
    case Problem::kOutOfOrder:
      return "out of order";
    case Problem::kBrokenLink:
      return "broken link";
    case Problem::kBadStart:
      return "bad start";
    case Problem::kRecovered:
      return "crash recovery";
  }
  return "?";
}

void ChainVerifier::BeginFile(std::string name) {
  file_ = std::move(name);
  line_no_ = 0;
}

void ChainVerifier::Fail(Problem problem, const std::string& file, uint64_t line, uint64_t seq,
                         const std::string& message) {
  if (failed_) {
    return;
  }
  failed_ = true;
  result_.problem = problem;
  result_.file = file;
  result_.line = line;
  result_.seq = seq;
  result_.error = Where(file, line) + ": ";
  if (seq != 0) {
    result_.error += "seq " + std::to_string(seq) + ": ";
  }
  result_.error += message;
}

void ChainVerifier::FailIo(const std::string& message) {
  if (failed_) {
    return;
  }
  failed_ = true;
  result_.problem = Problem::kIo;
  result_.file = file_;
  result_.error = message;
}

void ChainVerifier::FailUnreadable() {
  const Unreadable& u = unreadable_;
  if (u.lines == 1 && !u.last_terminated) {
    Fail(Problem::kTornLine, u.file, u.line, 0,
         "torn line: the file ends in the middle of a record (truncated, or the writer "
         "crashed and has not restarted since)");
  } else if (u.first_empty) {
    Fail(Problem::kNotRecord, u.file, u.line, 0, "not an audit record: an empty line");
  } else {
    Fail(Problem::kNotRecord, u.file, u.line, 0, "not an audit record: " + u.why);
  }
}

bool ChainVerifier::Line(std::string_view line, bool terminated) {
  line_no_ += 1;
  if (failed_) {
    return false;
  }
  std::string why;
  std::optional<ParsedRecord> record = ParseRecordLine(line, &why);
  if (!record) {
    Unreadable& u = unreadable_;
    if (u.lines == 0) {
      u.file = file_;
      u.line = line_no_;
      u.why = std::move(why);
      u.first_empty = line.empty();
    }
    u.lines += 1;
    u.bytes += line.size() + (terminated ? 1 : 0);
    u.sha.Update(line);
    if (terminated) {
      u.sha.Update("\n");
    }
    u.last_terminated = terminated;
    return true;
  }
  const uint64_t seq = record->tail.seq;
  if (unreadable_.lines > 0) {
    // Acceptable only when the writer's crash-recovery record names exactly these bytes.
    const bool vouched = record->event == "audit.recovered" && record->hash_ok &&
                         record->unreadable_bytes == unreadable_.bytes &&
                         record->unreadable_sha256 == unreadable_.sha.HexDigest();
    if (!vouched) {
      FailUnreadable();
      return false;
    }
    result_.recovered_regions += 1;
    const std::string what =
        std::to_string(unreadable_.lines) + " unreadable line(s) (" +
        std::to_string(unreadable_.bytes) + " bytes) acknowledged by audit.recovered at " +
        Where(file_, line_no_) + " (seq " + std::to_string(seq) +
        "): the writer stopped mid-record; a record being written then was lost";
    if (options_.strict) {
      Fail(Problem::kRecovered, unreadable_.file, unreadable_.line, 0, "crash recovery: " + what);
      return false;
    }
    result_.notes.push_back(Where(unreadable_.file, unreadable_.line) + ": " + what);
    unreadable_.Reset();
  }
  if (!record->hash_ok) {
    Fail(Problem::kEdited, file_, line_no_, seq,
         "edited: the record's hash does not match its bytes");
    return false;
  }
  if (have_prev_) {
    if (seq > expected_seq_) {
      Fail(Problem::kMissing, file_, line_no_, seq,
           "records missing: expected seq " + std::to_string(expected_seq_) + ", found " +
               std::to_string(seq) + " (" + std::to_string(seq - expected_seq_) +
               " record(s) deleted here, or moved elsewhere)");
      return false;
    }
    if (seq < expected_seq_) {
      Fail(Problem::kOutOfOrder, file_, line_no_, seq,
           "out of order: expected seq " + std::to_string(expected_seq_) + ", found " +
               std::to_string(seq) + " (a record inserted, duplicated or moved here)");
      return false;
    }
    if (record->tail.prev != result_.last_hash) {
      Fail(Problem::kBrokenLink, file_, line_no_, seq,
           "broken link: prev " + Short(record->tail.prev) + " is not the hash of seq " +
               std::to_string(seq - 1) + " (" + Short(result_.last_hash) +
               "): a record was replaced or inserted");
      return false;
    }
  } else {
    if (seq == 1 && record->tail.prev != kGenesisHash) {
      Fail(Problem::kBadStart, file_, line_no_, seq, "bad start: seq 1 must have prev = 64 zeros");
      return false;
    }
    if (seq != 1) {
      const std::string what = "the chain starts at seq " + std::to_string(seq) + "; its prev (" +
                               Short(record->tail.prev) +
                               ") is in an earlier file that was not given and cannot be "
                               "checked; every later link is";
      if (options_.strict) {
        Fail(Problem::kBadStart, file_, line_no_, seq, "bad start (strict): " + what);
        return false;
      }
      result_.notes.push_back(Where(file_, line_no_) + ": " + what);
    }
    result_.first_seq = seq;
    have_prev_ = true;
  }
  if (!terminated) {
    result_.notes.push_back(Where(file_, line_no_) +
                            ": the last line has no newline, but its record is complete");
  }
  result_.records += 1;
  result_.last_seq = seq;
  result_.last_hash = std::string(record->tail.hash);
  expected_seq_ = seq + 1;
  return true;
}

VerifyResult ChainVerifier::Finish() {
  if (!failed_ && unreadable_.lines > 0) {
    FailUnreadable();
  }
  return result_;
}

VerifyResult VerifyAuditFiles(const std::vector<std::string>& paths, VerifyOptions options) {
  ChainVerifier verifier(options);
  std::string buf(kReadChunk, '\0');
  std::string carry;  // a line split across reads
  for (const std::string& path : paths) {
    verifier.BeginFile(path);
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      verifier.FailIo("cannot open " + path + ": " + std::strerror(errno));
      break;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    carry.clear();
    bool ok = true;
    while (ok) {
      ssize_t n = read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        verifier.FailIo("cannot read " + path + ": " + std::strerror(errno));
        ok = false;
        break;
      }
      if (n == 0) {
        break;
      }
      std::string_view chunk(buf.data(), static_cast<size_t>(n));
      while (ok && !chunk.empty()) {
        size_t nl = chunk.find('\n');
        if (nl == std::string_view::npos) {
          if (carry.size() + chunk.size() > kMaxLine) {
            verifier.FailIo(path + ": a line longer than 64 MiB; this is not an audit log");
            ok = false;
            break;
          }
          carry.append(chunk);
          break;
        }
        if (carry.empty()) {
          ok = verifier.Line(chunk.substr(0, nl), true);  // no copy: the common case
        } else {
          carry.append(chunk.substr(0, nl));
          ok = verifier.Line(carry, true);
          carry.clear();
        }
        chunk.remove_prefix(nl + 1);
      }
    }
    if (ok && !carry.empty()) {
      ok = verifier.Line(carry, false);
    }
    close(fd);
    if (!ok) {
      break;
    }
  }
  return verifier.Finish();
}

}  // namespace portcullis::audit
