#include "gateway/example_server/json_rpc.h"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace portcullis::example {

namespace {

// Ids are strings or integers in MCP (and JSON-RPC discourages fractions); null is not allowed
// on requests by MCP's schema.
bool IsValidId(const rapidjson::Value& id) {
  return id.IsString() || id.IsInt64() || id.IsUint64();
}

void WriteHeader(rapidjson::Writer<rapidjson::StringBuffer>& writer) {
  writer.StartObject();
  writer.Key("jsonrpc");
  writer.String("2.0");
}

void WriteId(rapidjson::Writer<rapidjson::StringBuffer>& writer, const std::string& id_json) {
  writer.Key("id");
  const std::string& text = id_json.empty() ? std::string("null") : id_json;
  writer.RawValue(text.data(), text.size(), rapidjson::kNumberType);
}

std::string MakeErrorWithData(const std::string& id_json, int code, std::string_view message,
                              const rapidjson::Value* data) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  WriteHeader(writer);
  WriteId(writer, id_json);
  writer.Key("error");
  writer.StartObject();
  writer.Key("code");
  writer.Int(code);
  writer.Key("message");
  writer.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  if (data != nullptr) {
    writer.Key("data");
    data->Accept(writer);
  }
  writer.EndObject();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

const rapidjson::Value* Message::params() const {
  if (!doc_.IsObject()) {
    return nullptr;
  }
  auto it = doc_.FindMember("params");
  return it == doc_.MemberEnd() ? nullptr : &it->value;
}

const rapidjson::Value* Message::result() const {
  if (kind_ != Kind::kResponse) {
    return nullptr;
  }
  auto it = doc_.FindMember("result");
  return it == doc_.MemberEnd() ? nullptr : &it->value;
}

const rapidjson::Value* Message::error() const {
  if (kind_ != Kind::kResponse) {
    return nullptr;
  }
  auto it = doc_.FindMember("error");
  return it == doc_.MemberEnd() ? nullptr : &it->value;
}

bool Message::Parse(std::string_view text, Message* message, RpcError* error) {
  rapidjson::Document& doc = message->doc_;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(text.data(),
                                                                                    text.size());
  if (doc.HasParseError()) {
    error->code = kParseError;
    error->message =
        std::string("Parse error: ") + rapidjson::GetParseError_En(doc.GetParseError());
    error->id_json = "null";
    return false;
  }
  error->id_json = "null";
  error->code = kInvalidRequest;
  if (doc.IsArray()) {
    error->message = "Invalid Request: batches are not supported";
    return false;
  }
  if (!doc.IsObject()) {
    error->message = "Invalid Request: not an object";
    return false;
  }
  auto id = doc.FindMember("id");
  bool has_id = id != doc.MemberEnd() && !id->value.IsNull();
  if (has_id) {
    if (!IsValidId(id->value)) {
      error->message = "Invalid Request: id must be a string or an integer";
      return false;
    }
    message->id_json_ = ToJson(id->value);
    error->id_json = message->id_json_;
  }
  auto version = doc.FindMember("jsonrpc");
  if (version == doc.MemberEnd() || !version->value.IsString() ||
      std::string_view(version->value.GetString(), version->value.GetStringLength()) != "2.0") {
    error->message = "Invalid Request: jsonrpc must be \"2.0\"";
    return false;
  }
  auto method = doc.FindMember("method");
  if (method == doc.MemberEnd()) {
    bool is_response = doc.HasMember("result") || doc.HasMember("error");
    if (!is_response || !has_id) {
      error->message = "Invalid Request: no method";
      return false;
    }
    message->kind_ = Kind::kResponse;
    return true;
  }
  if (!method->value.IsString()) {
    error->message = "Invalid Request: method must be a string";
    return false;
  }
  message->method_.assign(method->value.GetString(), method->value.GetStringLength());
  auto params = doc.FindMember("params");
  if (params != doc.MemberEnd() && !params->value.IsObject() && !params->value.IsArray()) {
    error->message = "Invalid Request: params must be an object";
    return false;
  }
  message->kind_ = has_id ? Kind::kRequest : Kind::kNotification;
  return true;
}

std::string ToJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string MakeResult(const std::string& id_json, const rapidjson::Value& result) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  WriteHeader(writer);
  WriteId(writer, id_json);
  writer.Key("result");
  result.Accept(writer);
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string MakeRawResult(const std::string& id_json, std::string_view result_json) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  WriteHeader(writer);
  WriteId(writer, id_json);
  writer.Key("result");
  writer.RawValue(result_json.data(), result_json.size(), rapidjson::kObjectType);
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string MakeError(const std::string& id_json, int code, std::string_view message) {
  return MakeErrorWithData(id_json, code, message, nullptr);
}

std::string MakeError(const std::string& id_json, int code, std::string_view message,
                      const rapidjson::Value& data) {
  return MakeErrorWithData(id_json, code, message, &data);
}

std::string MakeError(const RpcError& error) {
  return MakeError(error.id_json, error.code, error.message);
}

std::string MakeNotification(std::string_view method, const rapidjson::Value& params) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  WriteHeader(writer);
  writer.Key("method");
  writer.String(method.data(), static_cast<rapidjson::SizeType>(method.size()));
  writer.Key("params");
  params.Accept(writer);
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string MakeRequest(const std::string& id_json, std::string_view method,
                        const rapidjson::Value& params) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  WriteHeader(writer);
  WriteId(writer, id_json);
  writer.Key("method");
  writer.String(method.data(), static_cast<rapidjson::SizeType>(method.size()));
  writer.Key("params");
  params.Accept(writer);
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace portcullis::example
