// RequestAudit: what the audit log says about one request, gathered while it is handled and
// written once when it ends (mcp.request, plus mcp.denied for a refusal). Every request that
// got an answer, and every request whose client went away, produces exactly one mcp.request.
// Reactor thread only.
#pragma once

#include <cstdint>
#include <string>

#include "portcullis/audit.h"
#include "portcullis/identity.h"

namespace portcullis::reactor {

struct RequestAudit {
  bool pending = false;  // a request started and its record is not written yet
  std::string http_method;
  std::string path;
  std::string server;  // the upstream name, once routed
  std::string method;  // JSON-RPC method ("" for GET/DELETE and unparsed bodies)
  std::string object_kind;  // "tool", "resource", "prompt" or ""
  std::string object;       // the tool/prompt name or resource URI
  std::string id_json;
  std::string decision;  // "allow", "deny" or "" (never reached the policy)
  std::string rule;
  std::string reason;  // why it was denied or refused
  uint64_t started_us = 0;
  uint64_t bytes_in = 0;

  void Begin(std::string_view http_method_in, std::string_view path_in, uint64_t now_us,
             uint64_t body_bytes);
  // Writes mcp.request (and mcp.denied when decision == "deny") and clears `pending`.
  void Write(audit::AuditSink* sink, const std::string& conn, const std::string& peer,
             const Identity& identity, int status, uint64_t bytes_out, uint64_t now_us);
};

}  // namespace portcullis::reactor
