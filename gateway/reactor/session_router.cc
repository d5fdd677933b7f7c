#include "gateway/reactor/session_router.h"

#include <sys/random.h>

#include <cstdio>

#include "gateway/reactor/reactor.h"
#include "gateway/reactor/session_registry.h"

namespace portcullis::reactor {

namespace {
constexpr std::string_view kKeyPrefix = "gw:";
}  // namespace

std::string NewSessionKey(int owner) {
  unsigned char random[16] = {};
  size_t got = 0;
  while (got < sizeof(random)) {
    ssize_t n = getrandom(random + got, sizeof(random) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  std::string key = std::string(kKeyPrefix) + std::to_string(owner) + ":";
  char hex[3];
  for (unsigned char b : random) {
    std::snprintf(hex, sizeof(hex), "%02x", b);
    key += hex;
  }
  return key;
}

std::optional<int> SessionKeyOwner(std::string_view key) {
  if (key.substr(0, kKeyPrefix.size()) != kKeyPrefix) return std::nullopt;
  key.remove_prefix(kKeyPrefix.size());
  size_t colon = key.find(':');
  if (colon == 0 || colon == std::string_view::npos || colon > 4) return std::nullopt;
  int owner = 0;
  for (char c : key.substr(0, colon)) {
    if (c < '0' || c > '9') return std::nullopt;
    owner = owner * 10 + (c - '0');
  }
  return owner;
}

void WithSession(Reactor* here, const std::string& key,
                 std::function<void(session::MessageSession*)> task) {
  std::optional<int> owner = SessionKeyOwner(key);
  Reactor* target = nullptr;
  if (owner && static_cast<size_t>(*owner) < here->peer_count()) target = here->peer(*owner);
  if (target == nullptr) {
    here->Post([task = std::move(task)] { task(nullptr); });
    return;
  }
  auto shared = std::make_shared<std::function<void(session::MessageSession*)>>(std::move(task));
  bool posted = target->Post([key, shared] {
    session::MessageSession* session = Reactor::Current()->sessions().Find(key);
    (*shared)(session);
  });
  // The owner has stopped: the session is gone with it.
  if (!posted) here->Post([shared] { (*shared)(nullptr); });
}

void StreamPort::Send(std::string json) {
  AtHome([json = std::move(json)](StreamListener* l) mutable {
    l->OnSessionMessage(std::move(json));
  });
}

void StreamPort::End() {
  AtHome([](StreamListener* l) { l->OnSessionEnd(); });
}

void StreamPort::Routed(bool found) {
  AtHome([found](StreamListener* l) { l->OnRouted(found); });
}

void StreamPort::AtHome(std::function<void(StreamListener*)> fn) {
  home_->Post([self = shared_from_this(), fn = std::move(fn)] {
    if (self->listener_ != nullptr) fn(self->listener_);
  });
}

}  // namespace portcullis::reactor
