#include "gateway/audit/file_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace portcullis::audit {
namespace {

constexpr size_t kScanChunk = 64 * 1024;
// A record is a few KiB at most; a "line" this long means the file is not an audit log.
constexpr size_t kMaxScanLine = 64u << 20;

std::string ErrnoMessage(std::string_view what, const std::string& path, int err) {
  return std::string(what) + " " + path + ": " + std::strerror(err);
}

bool PreadAll(int fd, char* out, size_t size, uint64_t offset) {
  while (size > 0) {
    ssize_t n = pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    out += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

struct TailScan {
  bool found = false;
  ChainPosition last;
  uint64_t end_of_record = 0;  // just after the last record's line (and its '\n', if any)
};

// Walks the file backwards line by line until a line parses as a record. Reads only the tail
// in the common case (the last line is a record).
Result<TailScan> ScanForLastRecord(int fd, uint64_t size, const std::string& path) {
  TailScan scan;
  if (size == 0) {
    return scan;
  }
  char last_byte;
  if (!PreadAll(fd, &last_byte, 1, size - 1)) {
    return Status::Error(ErrnoMessage("cannot read", path, errno));
  }
  uint64_t line_end = last_byte == '\n' ? size - 1 : size;
  std::string buf;  // file bytes [buf_start, buf_start + buf.size())
  uint64_t buf_start = line_end;
  while (true) {
    size_t rel_end = static_cast<size_t>(line_end - buf_start);
    size_t nl = rel_end == 0 ? std::string::npos : buf.rfind('\n', rel_end - 1);
    while (nl == std::string::npos && buf_start > 0) {
      if (buf.size() > kMaxScanLine) {
        return Status::Error(path + ": a line longer than 64 MiB; this is not an audit log");
      }
      const size_t chunk = static_cast<size_t>(std::min<uint64_t>(kScanChunk, buf_start));
      std::string bytes(chunk, '\0');
      if (!PreadAll(fd, bytes.data(), chunk, buf_start - chunk)) {
        return Status::Error(ErrnoMessage("cannot read", path, errno));
      }
      buf.insert(0, bytes);
      buf_start -= chunk;
      rel_end = static_cast<size_t>(line_end - buf_start);
      nl = rel_end == 0 ? std::string::npos : buf.rfind('\n', rel_end - 1);
    }
    const uint64_t line_start = nl == std::string::npos ? buf_start : buf_start + nl + 1;
    std::string_view line(buf.data() + (line_start - buf_start),
                          static_cast<size_t>(line_end - line_start));
    if (std::optional<ParsedRecord> record = ParseRecordLine(line)) {
      scan.found = true;
      scan.last.seq = record->tail.seq;
      scan.last.hash = std::string(record->tail.hash);
      scan.end_of_record = line_end < size ? line_end + 1 : line_end;
      return scan;
    }
    if (nl == std::string::npos) {
      return scan;  // reached the start of the file
    }
    line_end = buf_start + nl;
    buf.resize(static_cast<size_t>(line_end - buf_start));
  }
}

// Hashes [from, size) of the file, plus a '\n' if the file does not end with one.
Status HashRegion(int fd, uint64_t from, uint64_t size, const std::string& path,
                  ResumePoint* resume) {
  Sha256 sha;
  std::string chunk;
  uint64_t offset = from;
  char last = '\n';
  while (offset < size) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kScanChunk, size - offset));
    chunk.resize(n);
    if (!PreadAll(fd, chunk.data(), n, offset)) {
      return Status::Error(ErrnoMessage("cannot read", path, errno));
    }
    sha.Update(chunk);
    resume->unreadable_lines += static_cast<uint64_t>(std::count(chunk.begin(), chunk.end(), '\n'));
    last = chunk.back();
    offset += n;
  }
  resume->unreadable_bytes = size - from;
  if (last != '\n') {
    sha.Update("\n");
    resume->unreadable_bytes += 1;
    resume->unreadable_lines += 1;
  }
  resume->unreadable_sha256 = sha.HexDigest();
  return Status::Ok();
}

// The last record of a rotated file (read-only look; a missing file has none).
Result<TailScan> ScanRotatedFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return TailScan{};
    }
    return Status::Error(ErrnoMessage("cannot open", path, errno));
  }
  struct stat st;
  Result<TailScan> scan = TailScan{};
  if (fstat(fd, &st) != 0) {
    scan = Status::Error(ErrnoMessage("cannot stat", path, errno));
  } else {
    scan = ScanForLastRecord(fd, static_cast<uint64_t>(st.st_size), path);
  }
  close(fd);
  return scan;
}

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Result<std::unique_ptr<AuditFile>> AuditFile::Open(const FileOptions& options) {
  if (options.path.empty()) {
    return Status::Error("audit: no path");
  }
  std::unique_ptr<AuditFile> file(new AuditFile(options));
  if (options.path == "-") {
    // Standard output belongs to the log pipeline: no rotation, and nothing to resume from
    // (each process run starts a chain at seq 1; docs/AUDIT.md).
    file->fd_ = STDOUT_FILENO;
    struct stat st;
    file->regular_file_ = fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode);
    return file;
  }
  if (Status s = file->OpenForAppend(); !s.ok()) {
    return s;
  }
  Result<TailScan> scan = ScanForLastRecord(file->fd_, file->size_, options.path);
  if (!scan.ok()) {
    return scan.status();
  }
  ResumePoint& resume = file->resume_;
  if (scan->found) {
    resume.last = scan->last;
    resume.found_in = options.path;
  } else if (options.keep > 0) {
    // A new file (after a rotation, or a crash right after one): the chain goes on from the
    // newest rotated file.
    std::string previous = file->RotatedName(1);
    Result<TailScan> rotated = ScanRotatedFile(previous);
    if (!rotated.ok()) {
      return rotated.status();
    }
    if (rotated->found) {
      resume.last = rotated->last;
      resume.found_in = previous;
    }
  }
  const uint64_t end_of_record = scan->found ? scan->end_of_record : 0;
  if (end_of_record < file->size_) {
    if (Status s = HashRegion(file->fd_, end_of_record, file->size_, options.path, &resume);
        !s.ok()) {
      return s;
    }
  }
  // End a torn line (or a last record that lost only its '\n') so new records start clean.
  if (file->size_ > 0) {
    char last_byte = '\n';
    if (!PreadAll(file->fd_, &last_byte, 1, file->size_ - 1)) {
      return Status::Error(ErrnoMessage("cannot read", options.path, errno));
    }
    if (last_byte != '\n') {
      file->buffer_.push_back('\n');
      file->size_ += 1;
    }
  }
  return file;
}

AuditFile::~AuditFile() {
  (void)WriteOut(options_.fsync != FsyncPolicy::kNone);
  if (owns_fd_ && fd_ >= 0) {
    close(fd_);
  }
}

std::string AuditFile::RotatedName(uint32_t index) const {
  return options_.path + "." + std::to_string(index);
}

Status AuditFile::OpenForAppend() {
  // O_RDWR for the resume scan; O_APPEND so every write lands at the end. 0640: audit records
  // name identities and peers, which is nobody else's business.
  int fd = open(options_.path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Status::Error(ErrnoMessage("cannot open audit log", options_.path, errno));
  }
  // Two writers would interleave two chains in one file.
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) {
      return Status::Error("audit log " + options_.path + " is in use by another process");
    }
    return Status::Error(ErrnoMessage("cannot lock audit log", options_.path, err));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return Status::Error(ErrnoMessage("cannot stat audit log", options_.path, err));
  }
  fd_ = fd;
  owns_fd_ = true;
  regular_file_ = S_ISREG(st.st_mode);
  size_ = static_cast<uint64_t>(st.st_size);
  next_rotation_at_ = options_.rotate_bytes;
  dirty_ = false;
  last_byte_newline_ = true;
  return Status::Ok();
}

Status AuditFile::Append(std::string_view line) {
  Status status;
  const bool rotating = owns_fd_ && regular_file_;
  if (rotating && size_ > 0 && size_ + line.size() > next_rotation_at_) {
    status = Rotate();
  }
  if (buffer_.size() + line.size() > kMaxBufferedBytes) {
    (void)WriteOut(false);
    if (buffer_.size() + line.size() > kMaxBufferedBytes) {
      // The disk has refused every write for a long while. Keep memory bounded; the loss is
      // visible in verify as missing seqs.
      lost_lines_ += static_cast<uint64_t>(std::count(buffer_.begin(), buffer_.end(), '\n'));
      buffer_.clear();
      if (!last_byte_newline_) {
        buffer_.push_back('\n');
      }
    }
  }
  buffer_.append(line);
  size_ += line.size();
  if (buffer_.size() >= kWriteOutBytes) {
    Status s = WriteOut(false);
    if (status.ok()) {
      status = std::move(s);
    }
  }
  return status;
}

Status AuditFile::WriteOut(bool sync) {
  if (fd_ < 0 && owns_fd_ && !buffer_.empty()) {
    // A rotation could not open the new file; try again now.
    const uint64_t pending = buffer_.size();
    if (Status s = OpenForAppend(); !s.ok()) {
      return s;
    }
    size_ += pending;
  }
  size_t done = 0;
  Status status;
  while (done < buffer_.size()) {
    ssize_t n = write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      status = Status::Error(ErrnoMessage("cannot write audit log", options_.path, errno));
      break;
    }
    done += static_cast<size_t>(n);
    last_byte_newline_ = buffer_[done - 1] == '\n';
    dirty_ = true;
  }
  buffer_.erase(0, done);
  if (status.ok() && sync && dirty_ && regular_file_) {
    if (fdatasync(fd_) != 0) {
      return Status::Error(ErrnoMessage("cannot fdatasync audit log", options_.path, errno));
    }
    dirty_ = false;
  }
  return status;
}

Status AuditFile::Rotate() {
  const bool sync = options_.fsync != FsyncPolicy::kNone;
  if (Status s = WriteOut(sync); !s.ok()) {
    next_rotation_at_ = size_ + options_.rotate_bytes;
    return s;
  }
  close(fd_);
  fd_ = -1;
  Status status;
  if (options_.keep == 0) {
    if (unlink(options_.path.c_str()) != 0) {
      status = Status::Error(ErrnoMessage("cannot remove", options_.path, errno));
    }
  } else {
    // Shift path.<keep-1> → path.<keep> (replacing the oldest) … path → path.1.
    for (uint32_t i = options_.keep - 1; i >= 1; --i) {
      std::string from = RotatedName(i);
      if (rename(from.c_str(), RotatedName(i + 1).c_str()) != 0 && errno != ENOENT && status.ok()) {
        status = Status::Error(ErrnoMessage("cannot rotate", from, errno));
      }
    }
    if (rename(options_.path.c_str(), RotatedName(1).c_str()) != 0 && status.ok()) {
      status = Status::Error(ErrnoMessage("cannot rotate", options_.path, errno));
    }
  }
  if (sync) {
    // Make the renames durable too, or a crash could bring the old names back.
    int dir = open(DirectoryOf(options_.path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      (void)fsync(dir);
      close(dir);
    }
  }
  if (Status s = OpenForAppend(); !s.ok()) {
    return s;  // fd_ stays -1: writes fail and are retried by WriteOut
  }
  if (!status.ok()) {
    next_rotation_at_ = size_ + options_.rotate_bytes;  // still the old file; try again later
    return status;
  }
  rotations_ += 1;
  return Status::Ok();
}

}  // namespace portcullis::audit
