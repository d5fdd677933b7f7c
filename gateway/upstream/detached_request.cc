#include "gateway/upstream/detached_request.h"

#include <spdlog/spdlog.h>

namespace portcullis::upstream {

void DetachedRequest::Send(UpstreamPool* pool, const UpstreamConfig* upstream,
                           std::string request) {
  auto* self = new DetachedRequest();
  self->exchange_ = std::make_unique<ProxyExchange>(pool, upstream, self, std::move(request), "",
                                                    ResponseRules());
  self->exchange_->Start();
}

void DetachedRequest::Finish() {
  if (status_ >= 300) spdlog::debug("detached request to upstream answered {}", status_);
  // Called as the exchange's last act (see ProxyExchange::OnUpstreamComplete): deleting it
  // here touches nothing it still uses.
  delete this;
}

}  // namespace portcullis::upstream
