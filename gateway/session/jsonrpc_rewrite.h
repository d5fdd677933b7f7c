// Small edits and reads of one JSON-RPC message that a gateway-run session
// (session/message_session.h) needs beyond mcp::InspectMessage: putting its own request ids in
// place of the client's and back, rewriting params.requestId of notifications/cancelled,
// reading params.progressToken of a server's notifications/progress.
//
// Edits splice the new value's text over the old value's bytes, found by one pass of
// RapidJSON's SAX reader: every other byte of the message is kept exactly as it was (numbers
// keep their precision and spelling, strings their escapes, whitespace stays), which a
// parse-and-rewrite through a DOM would not guarantee. Parsing is iterative, so no input can
// exhaust the stack.
//
// Pure functions with no I/O and no shared state: safe to call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis::session {

// The message with the value of one member replaced by `value_json` (JSON text, copied
// verbatim; the caller guarantees it is valid JSON): the member `key` of the top-level object
// when `parent` is empty, else the member `key` of the object held by the top-level member
// `parent` ("params", "requestId"). nullopt when `message` is not one JSON object, or when the
// member (or its parent) is absent or appears more than once (which value would a reader
// take?), or the parent is not an object.
std::optional<std::string> ReplaceMember(std::string_view message, std::string_view parent,
                                         std::string_view key, std::string_view value_json);

// ReplaceMember(message, "", "id", id_json).
std::optional<std::string> ReplaceId(std::string_view message, std::string_view id_json);

// The value of the member named as for ReplaceMember, as canonical JSON text when it is a
// string or an integer (see CanonicalIdJson); "" when it is anything else, absent, duplicated,
// or `message` is not one JSON object.
std::string ReadStringOrInteger(std::string_view message, std::string_view parent,
                                std::string_view key);

// One spelling per id: the JSON text of a string or an integer, rewritten the way RapidJSON's
// writer spells it ("\"\\u0041\"" and "\"A\"" both give "\"A\""; " 7 " gives "7"), so that
// ids and progress tokens written differently by two parties compare equal. "" when `json` is
// not exactly one string or integer (a fraction, an exponent, null, an object, ...).
std::string CanonicalIdJson(std::string_view json);

// The integer a JSON id spells ("42" → 42, "-3" → -3); nullopt for a string id, a number with
// a fraction or exponent, anything beyond int64, or surrounding spaces.
std::optional<int64_t> ParseIntegerId(std::string_view id_json);

// {"jsonrpc":"2.0","method":"notifications/cancelled",
//  "params":{"requestId":<request_id_json>,"reason":"<reason>"}}
// `request_id_json` is copied verbatim (a valid JSON string or integer); `reason` is escaped.
std::string CancelledNotification(std::string_view request_id_json, std::string_view reason);

}  // namespace portcullis::session
