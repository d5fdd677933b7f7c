// JSON-RPC 2.0 framing for the example server: parsing one incoming message and building the
// replies and notifications that go back.
//
// Only single messages are accepted; a top-level array (a batch) is refused with -32600, because
// batching left MCP in 2025-06-18. Parsing is iterative (no recursion on deeply nested input) and
// the DOM uses a pool allocator, whose values are freed without recursion either.
// Plain values and free functions; no shared state, so safe from any thread.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>

namespace portcullis::example {

// Standard JSON-RPC error codes, plus MCP's: a missing resource (2025-11-25 and earlier; 2026-07-28
// uses kInvalidParams), and two from the range 2026-07-28 reserves ("MCP error codes").
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kResourceNotFound = -32002;
inline constexpr int kHeaderMismatch = -32020;
inline constexpr int kUnsupportedProtocolVersion = -32022;

// An error to answer with, and the id of the message it answers ("null" when unknown).
struct RpcError {
  int code = kInternalError;
  std::string message;
  std::string id_json = "null";
};

// One parsed JSON-RPC message. The DOM owns everything the accessors return.
class Message {
 public:
  enum class Kind { kRequest, kNotification, kResponse };

  Kind kind() const { return kind_; }
  bool is_request() const { return kind_ == Kind::kRequest; }
  // Empty for responses.
  const std::string& method() const { return method_; }
  // The id as JSON text (e.g. `7` or `"abc"`), ready to be written back; empty for notifications.
  const std::string& id_json() const { return id_json_; }
  // The "params" member, or nullptr when absent. Valid while this Message lives.
  const rapidjson::Value* params() const;
  // A response's "result" or "error" member, or nullptr when absent. Valid while this Message
  // lives.
  const rapidjson::Value* result() const;
  const rapidjson::Value* error() const;

  // Parses `text` as one JSON-RPC 2.0 message. On failure fills *error (code, message and the id
  // when one could be read) and returns false.
  static bool Parse(std::string_view text, Message* message, RpcError* error);

 private:
  Kind kind_ = Kind::kNotification;
  std::string method_;
  std::string id_json_;
  rapidjson::Document doc_;
};

// Serializes any value (which must not hold NaN or infinities) to compact JSON text.
std::string ToJson(const rapidjson::Value& value);

// `{"jsonrpc":"2.0","id":<id_json>,"result":<result>}`
std::string MakeResult(const std::string& id_json, const rapidjson::Value& result);
// The same with `result_json` already serialized (trusted text, written as is).
std::string MakeRawResult(const std::string& id_json, std::string_view result_json);
// `{"jsonrpc":"2.0","id":<id_json>,"error":{"code":..,"message":..}}`
std::string MakeError(const std::string& id_json, int code, std::string_view message);
// The same with error.data set to `data`.
std::string MakeError(const std::string& id_json, int code, std::string_view message,
                      const rapidjson::Value& data);
std::string MakeError(const RpcError& error);
// `{"jsonrpc":"2.0","method":<method>,"params":<params>}`
std::string MakeNotification(std::string_view method, const rapidjson::Value& params);
// `{"jsonrpc":"2.0","id":<id_json>,"method":<method>,"params":<params>}`: a request of the
// server's own, to the client (e.g. elicitation/create).
std::string MakeRequest(const std::string& id_json, std::string_view method,
                        const rapidjson::Value& params);

}  // namespace portcullis::example
