// DetachedRequest: a request the gateway itself sends to an upstream and whose answer nobody
// waits for (today: the JSON-RPC error that refuses a server-to-client request the policy
// denies, so the upstream is not left waiting for a client that never saw it).
//
// Owns its ProxyExchange and deletes itself when the exchange ends. Reactor thread only.
#pragma once

#include <memory>
#include <string>

#include "gateway/http/response_writer.h"
#include "gateway/upstream/proxy_exchange.h"

namespace portcullis::upstream {

class DetachedRequest final : public http::ResponseWriter {
 public:
  // Sends `request` (serialised, see BuildUpstreamRequest) to `upstream`.
  static void Send(UpstreamPool* pool, const UpstreamConfig* upstream, std::string request);

  void WriteHead(int status, const http::HeaderList&, std::optional<uint64_t>) override {
    status_ = status;
  }
  void WriteBody(std::string_view) override {}
  void Finish() override;
  void Abort() override { Finish(); }
  size_t buffered_bytes() const override { return 0; }

 private:
  DetachedRequest() = default;
  std::unique_ptr<ProxyExchange> exchange_;
  int status_ = 0;
};

}  // namespace portcullis::upstream
