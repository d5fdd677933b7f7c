#include "gateway/example_server/stdio_transport.h"

#include <unistd.h>

#include <cstdio>
#include <utility>

#include "gateway/example_server/json_rpc.h"
#include "gateway/example_server/limits.h"

namespace portcullis::example {

namespace {

// Stop reading stdin while this much output waits for the client to read it.
constexpr size_t kHighWatermark = 8 << 20;
constexpr size_t kReadChunk = 64 * 1024;
// On EOF, how long to let queued output drain before exiting anyway.
constexpr uint64_t kFlushTimeoutMs = 2000;

// Every message of a request is one line on stdout, in the order produced.
class StdioResponder : public Responder {
 public:
  explicit StdioResponder(LineWriter* out) : out_(out) {}
  void Notify(std::string json) override { out_->WriteLine(std::move(json)); }
  void Respond(std::string json) override { out_->WriteLine(std::move(json)); }
  bool open() const override { return !out_->broken(); }

 private:
  LineWriter* out_;  // owned by the transport, which outlives every request
};

}  // namespace

std::unique_ptr<StdioTransport> StdioTransport::Create(uv_loop_t* loop,
                                                       std::function<void()> on_eof) {
  auto transport = std::unique_ptr<StdioTransport>(new StdioTransport(loop, std::move(on_eof)));
  transport->StartReading();
  return transport;
}

StdioTransport::StdioTransport(uv_loop_t* loop, std::function<void()> on_eof)
    : loop_(loop),
      on_eof_(std::move(on_eof)),
      out_(LineWriter::Create(loop, STDOUT_FILENO)),
      handler_(loop) {
  file_req_.data = this;
  switch (uv_guess_handle(STDIN_FILENO)) {
    case UV_NAMED_PIPE:
      if (uv_pipe_init(loop, &in_.pipe, 0) == 0) {
        if (uv_pipe_open(&in_.pipe, STDIN_FILENO) == 0) {
          streaming_ = true;
        } else {
          uv_close(reinterpret_cast<uv_handle_t*>(&in_.pipe), nullptr);
        }
      }
      break;
    case UV_TTY:
      streaming_ = uv_tty_init(loop, &in_.tty, STDIN_FILENO, 1) == 0;
      break;
    default:
      break;
  }
  if (streaming_) {
    in_.pipe.data = this;
  }
  out_->set_on_drain([this]() {
    if (!closed_ && !eof_) {
      StartReading();
    }
  });
}

StdioTransport::~StdioTransport() = default;

void StdioTransport::StartReading() {
  if (reading_ || closed_ || eof_) {
    return;
  }
  reading_ = true;
  if (streaming_) {
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(&in_), &StdioTransport::OnAlloc,
                      &StdioTransport::OnRead) != 0) {
      reading_ = false;
      OnEof();
    }
    return;
  }
  ReadFileChunk();
}

void StdioTransport::StopReading() {
  if (!reading_) {
    return;
  }
  reading_ = false;
  if (streaming_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&in_));
  }
  // A file read in flight finishes; OnFileRead then sees !reading_ and does not chain.
}

void StdioTransport::ReadFileChunk() {
  if (file_read_pending_) {
    return;
  }
  read_buffer_.resize(kReadChunk);
  uv_buf_t buf = uv_buf_init(read_buffer_.data(), static_cast<unsigned>(read_buffer_.size()));
  if (uv_fs_read(loop_, &file_req_, STDIN_FILENO, &buf, 1, -1, &StdioTransport::OnFileRead) != 0) {
    uv_fs_req_cleanup(&file_req_);
    OnEof();
    return;
  }
  file_read_pending_ = true;
}

void StdioTransport::OnFileRead(uv_fs_t* req) {
  auto* self = static_cast<StdioTransport*>(req->data);
  ssize_t result = req->result;
  uv_fs_req_cleanup(req);
  self->file_read_pending_ = false;
  if (self->closed_) {
    return;
  }
  if (result <= 0) {
    self->OnEof();
    return;
  }
  self->OnData(self->read_buffer_.data(), static_cast<size_t>(result));
  if (self->reading_ && !self->closed_ && !self->eof_) {
    self->ReadFileChunk();
  }
}

void StdioTransport::OnAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  auto* self = static_cast<StdioTransport*>(handle->data);
  self->read_buffer_.resize(kReadChunk);
  *buf = uv_buf_init(self->read_buffer_.data(), static_cast<unsigned>(kReadChunk));
}

void StdioTransport::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<StdioTransport*>(stream->data);
  if (nread < 0) {
    // UV_EOF, or a read error: either way no more input will come.
    self->OnEof();
    return;
  }
  if (nread > 0) {
    self->OnData(buf->base, static_cast<size_t>(nread));
  }
}

void StdioTransport::OnData(const char* data, size_t size) {
  std::string_view chunk(data, size);
  while (!chunk.empty() && !closed_) {
    size_t newline = chunk.find('\n');
    std::string_view piece = chunk.substr(0, newline);
    if (discarding_) {
      // The rest of an over-long line: drop it.
    } else if (partial_.size() + piece.size() > kMaxMessageBytes) {
      fprintf(stderr, "mcp-example-server: dropped an input line over %zu bytes\n",
              kMaxMessageBytes);
      out_->WriteLine(MakeError("null", kInvalidRequest, "Invalid Request: message too large"));
      partial_.clear();
      discarding_ = true;
    } else {
      partial_.append(piece);
    }
    if (newline == std::string_view::npos) {
      break;
    }
    chunk.remove_prefix(newline + 1);
    if (discarding_) {
      discarding_ = false;
    } else {
      std::string line = std::move(partial_);
      partial_.clear();
      OnLine(line);
    }
  }
  if (out_->queued_bytes() > kHighWatermark) {
    StopReading();
  }
}

void StdioTransport::OnLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  if (line.find_first_not_of(" \t") == std::string_view::npos) {
    return;
  }
  Message message;
  RpcError error;
  if (!Message::Parse(line, &message, &error)) {
    out_->WriteLine(MakeError(error));
    return;
  }
  if (message.is_request()) {
    handler_.HandleRequest(message, std::make_unique<StdioResponder>(out_.get()));
  } else {
    handler_.HandleNotification(message);
  }
}

void StdioTransport::OnEof() {
  if (eof_) {
    return;
  }
  // A last line without its newline still counts.
  if (!partial_.empty() && !discarding_) {
    std::string line = std::move(partial_);
    partial_.clear();
    OnLine(line);
  }
  eof_ = true;
  StopReading();
  if (on_eof_) {
    auto on_eof = std::move(on_eof_);
    on_eof_ = nullptr;
    on_eof();
  }
}

void StdioTransport::Close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  StopReading();
  handler_.CancelAll();
  if (streaming_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&in_), nullptr);
  }
  out_->Close(kFlushTimeoutMs);
}

}  // namespace portcullis::example
