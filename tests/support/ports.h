// Ports: how tests learn where a server listens without guessing free ports.
//
// Servers under test bind port 0 and log the address they got ("listening on 127.0.0.1:41237",
// openssl s_server's "ACCEPT 127.0.0.1:41237"); ParseListeningPort reads it back. Pure
// functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace portcullis::testing {

// The port of the last "host:port" in `log_line` (IPv4, [IPv6], a name or "*"); 0 if none.
uint16_t ParseListeningPort(const std::string& log_line);

// A loopback port that was free a moment ago (bind 127.0.0.1:0, read it, close). Racy by
// nature: prefer letting the server bind port 0 and parsing its log. 0 on failure.
uint16_t PickFreeLoopbackPort();

}  // namespace portcullis::testing
