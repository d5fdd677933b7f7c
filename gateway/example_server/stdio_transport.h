// StdioTransport: MCP over stdin/stdout, one JSON-RPC message per line each way (MCP
// "Transports", stdio). Logs go to stderr; stdout carries nothing but messages.
//
// One McpHandler serves the whole process. Input is read with libuv (pipe, socket or terminal;
// a regular file through the loop's thread pool), so slow_count keeps counting while more
// requests arrive. Input stops being read while a lot of output is queued, so a client that
// writes without reading cannot make the server grow without bound. Loop thread only; the
// object must outlive the loop run that Close() starts.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "gateway/example_server/line_writer.h"
#include "gateway/example_server/mcp_handler.h"

namespace portcullis::example {

class StdioTransport {
 public:
  // Starts reading stdin. `on_eof` runs once when stdin ends (or fails); the caller usually
  // calls Close() and lets the loop finish.
  static std::unique_ptr<StdioTransport> Create(uv_loop_t* loop, std::function<void()> on_eof);
  ~StdioTransport();

  StdioTransport(const StdioTransport&) = delete;
  StdioTransport& operator=(const StdioTransport&) = delete;

  // Cancels running requests, stops reading, flushes stdout briefly and releases the handles.
  // Idempotent.
  void Close();

 private:
  StdioTransport(uv_loop_t* loop, std::function<void()> on_eof);
  void StartReading();
  void StopReading();
  void ReadFileChunk();
  void OnData(const char* data, size_t size);
  void OnLine(std::string_view line);
  void OnEof();

  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnFileRead(uv_fs_t* req);

  uv_loop_t* loop_;
  std::function<void()> on_eof_;
  std::unique_ptr<LineWriter> out_;
  McpHandler handler_;
  bool closed_ = false;
  bool eof_ = false;
  // How stdin is read: a libuv stream (pipe or tty), or chained uv_fs_read calls.
  bool streaming_ = false;
  bool reading_ = false;
  bool file_read_pending_ = false;
  union {
    uv_pipe_t pipe;
    uv_tty_t tty;
  } in_;
  uv_fs_t file_req_;
  std::string read_buffer_;  // for file reads and stream reads alike
  std::string partial_;      // bytes of a line not yet terminated
  bool discarding_ = false;  // skipping the rest of an over-long line
};

}  // namespace portcullis::example
