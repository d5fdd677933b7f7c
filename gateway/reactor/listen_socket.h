// Listening sockets with SO_REUSEPORT, one per reactor on the same address.
//
// libuv 1.44 has no UV_TCP_REUSEPORT, so the socket is made here and handed to the reactor's
// loop with uv_tcp_open (libuv#1111). All sockets are opened on the control thread before
// the reactors start, which also resolves port 0 to one port shared by every reactor.
#pragma once

#include <cstdint>

#include "portcullis/config.h"
#include "portcullis/result.h"

namespace portcullis::reactor {

// A bound, listening, non-blocking socket; the caller owns the descriptor.
Result<int> OpenListenSocket(const ListenAddress& address, int backlog);
// The port a socket is bound to.
Result<uint16_t> BoundPort(int fd);

}  // namespace portcullis::reactor
