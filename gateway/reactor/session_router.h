// Session hand-over between reactors (DESIGN §3): the one place where work crosses threads.
//
// A gateway-run session (a stdio process, a legacy SSE bridge) lives on the reactor that
// opened it, but the client's next POST, its GET stream or its legacy /messages POSTs may
// arrive on any reactor (SO_REUSEPORT spreads connections). The session key names its owner
// ("gw:<reactor>:<random>"), and the key travels inside the sealed session id, so finding the
// owner needs no shared table and no lock. Work for the session is posted to the owner's
// mailbox; what the session sends back to a client stream is posted to the stream's reactor
// through a StreamPort. Both directions always go through the mailbox (also on the same
// reactor), so each direction is FIFO and nothing runs re-entrantly inside a caller's stack.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/session/message_session.h"
#include "gateway/session/stream_handle.h"

namespace portcullis::reactor {

class Reactor;

// A fresh key for a session owned by reactor `owner`.
std::string NewSessionKey(int owner);
// The owner reactor's index in a key, or nullopt if it is not a gateway session key.
std::optional<int> SessionKeyOwner(std::string_view key);

// Runs `task` on the owner's thread with the session (null if there is no such session any
// more, or the owner has stopped). Called on a reactor thread.
void WithSession(Reactor* here, const std::string& key,
                 std::function<void(session::MessageSession*)> task);

// What a client stream (on its own reactor) hears from a session (on its reactor).
class StreamListener {
 public:
  virtual ~StreamListener() = default;
  // The session was found (or not) and the request handed to it.
  virtual void OnRouted(bool found) = 0;
  virtual void OnSessionMessage(std::string json) = 0;
  virtual void OnSessionEnd() = 0;
};

// The StreamHandle a session holds for a client stream. Send/End/Routed may be called on any
// reactor; the listener is only ever called on `home`'s thread, and not after Detach().
class StreamPort : public session::StreamHandle, public std::enable_shared_from_this<StreamPort> {
 public:
  StreamPort(Reactor* home, StreamListener* listener) : home_(home), listener_(listener) {}

  void Send(std::string json) override;
  void End() override;
  void Routed(bool found);
  // Home thread: the listener is going away.
  void Detach() { listener_ = nullptr; }

 private:
  void AtHome(std::function<void(StreamListener*)> fn);

  Reactor* home_;
  StreamListener* listener_;  // read and written on home_'s thread only
};

}  // namespace portcullis::reactor
