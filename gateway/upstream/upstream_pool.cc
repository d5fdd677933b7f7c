#include "gateway/upstream/upstream_pool.h"

#include <algorithm>

#include "gateway/upstream/upstream_connection.h"
#include "gateway/upstream/upstream_tls.h"

namespace portcullis::upstream {

UpstreamConnection* UpstreamPool::Acquire(const UpstreamConfig* upstream, bool fresh) {
  if (!fresh) {
    auto it = idle_.find(upstream);
    if (it != idle_.end() && !it->second.empty()) {
      // Most recently used first: it is the least likely to have been closed by the peer.
      UpstreamConnection* c = it->second.back();
      it->second.pop_back();
      return c;
    }
  }
  auto* c = new UpstreamConnection(loop_, this, upstream);
  all_.insert(c);
  return c;
}

bool UpstreamPool::Release(UpstreamConnection* connection) {
  std::vector<UpstreamConnection*>& idle = idle_[connection->upstream()];
  if (idle.size() >= kMaxIdlePerUpstream) return false;
  idle.push_back(connection);
  return true;
}

void UpstreamPool::Forget(UpstreamConnection* connection) {
  all_.erase(connection);
  auto it = idle_.find(connection->upstream());
  if (it != idle_.end()) {
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), connection), v.end());
  }
}

void UpstreamPool::CloseAll() {
  std::vector<UpstreamConnection*> all(all_.begin(), all_.end());
  for (UpstreamConnection* c : all) c->Shutdown();  // Shutdown() calls Forget()
  idle_.clear();
}

Result<std::shared_ptr<const UpstreamTlsContext>> UpstreamPool::TlsContext(
    const UpstreamConfig* upstream) {
  auto it = tls_.find(upstream);
  if (it != tls_.end()) return it->second;
  Result<std::shared_ptr<const UpstreamTlsContext>> context = UpstreamTlsContext::Create(*upstream);
  if (context.ok()) tls_.emplace(upstream, *context);
  return context;
}

}  // namespace portcullis::upstream
