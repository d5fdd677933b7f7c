// ProxyExchange: one client request forwarded to an HTTP upstream and its response streamed
// back, unbuffered, with backpressure.
//
// Owned by the client connection for the life of one request. Each piece of the upstream's
// body is written to the client as it arrives (an SSE event is never held back); when the
// client's unsent bytes pass kHighWater, the upstream socket stops being read until they
// fall under kLowWater. Cancel() (client gone) closes the upstream connection, which is
// what cancellation means to a 2026-07-28 server. Reactor thread only.
#pragma once

#include <string>

#include "gateway/http/response_writer.h"
#include "gateway/upstream/upstream_sink.h"
#include "portcullis/config.h"

namespace portcullis::upstream {

class UpstreamConnection;
class UpstreamPool;

class ProxyExchange : public UpstreamSink {
 public:
  static constexpr size_t kHighWater = 1 << 20;
  static constexpr size_t kLowWater = 256 << 10;

  // `request` is the serialised upstream request; `id_json` the JSON-RPC id to echo in an
  // error reply ("" = null). `writer` and `upstream` must outlive the exchange.
  ProxyExchange(UpstreamPool* pool, const UpstreamConfig* upstream, http::ResponseWriter* writer,
                std::string request, std::string id_json);
  ~ProxyExchange() override;
  ProxyExchange(const ProxyExchange&) = delete;
  ProxyExchange& operator=(const ProxyExchange&) = delete;

  void Start();
  // The client went away or the gateway is stopping: abandon the upstream request.
  void Cancel();
  // The client's write queue shrank; resume reading the upstream if it was paused.
  void OnClientDrained();
  int status() const { return status_; }
  uint64_t response_bytes() const { return response_bytes_; }

  void OnUpstreamHead(int status, http::HeaderList headers,
                      std::optional<uint64_t> content_length) override;
  void OnUpstreamBody(std::string_view data) override;
  void OnUpstreamComplete() override;
  void OnUpstreamError(UpstreamError error, const std::string& detail, bool retryable) override;

 private:
  void Send(bool fresh);

  UpstreamPool* pool_;
  const UpstreamConfig* upstream_;
  http::ResponseWriter* writer_;
  std::string request_;  // kept until the first response byte, for one retry
  std::string id_json_;
  UpstreamConnection* connection_ = nullptr;
  bool retried_ = false;
  bool paused_ = false;
  int status_ = 0;
  uint64_t response_bytes_ = 0;
};

}  // namespace portcullis::upstream
