// Sealed MCP session ids: the Mcp-Session-Id a client sees is the upstream's session id,
// the upstream's name and the identity that opened the session, encrypted and authenticated
// with AES-256-GCM under a key only the gateway knows (DESIGN §8, "sealing key").
//
// So a session is bound to its identity without any shared table: any reactor (or, with a
// shared key, any replica) can check a presented id by opening it. A forged or tampered id
// does not open (404, like an unknown session); an id opened by another identity is refused.
// Thread-safe: Seal and Open only read the key.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "portcullis/identity.h"
#include "portcullis/result.h"

namespace portcullis::mcp {

// The part of an identity a session is bound to: its SPIFFE ID when it has one, otherwise
// its subject and issuer. Renewing a certificate keeps the session; another agent does not.
std::string SessionIdentityKey(const Identity& identity);

class SessionSealer {
 public:
  static constexpr size_t kKeySize = 32;
  // A sealer with a fresh random key (sessions do not survive a restart: clients
  // re-initialize on 404, as the MCP transport spec prescribes).
  static Result<SessionSealer> CreateRandom();
  explicit SessionSealer(const std::array<unsigned char, kKeySize>& key) : key_(key) {}

  // The id to give the client for `upstream_session_id`.
  Result<std::string> Seal(const Identity& identity, std::string_view upstream,
                           std::string_view upstream_session_id) const;

  struct Opened {
    std::string upstream;
    std::string upstream_session_id;
    bool same_identity = false;
  };
  // nullopt: not an id this gateway made (or tampered with).
  std::optional<Opened> Open(const Identity& identity, std::string_view sealed) const;

 private:
  std::array<unsigned char, kKeySize> key_;
};

}  // namespace portcullis::mcp
