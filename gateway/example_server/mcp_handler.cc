#include "gateway/example_server/mcp_handler.h"

#include <charconv>
#include <cmath>
#include <string_view>
#include <utility>

#include "gateway/example_server/catalog.h"
#include "gateway/example_server/slow_count.h"

namespace portcullis::example {

namespace {

// Beyond this many unanswered slow_counts in one session, new ones are refused: each costs a
// timer and memory, and nothing legitimate needs hundreds at once.
constexpr size_t kMaxRunning = 256;
// JSON-RPC "server error" range; used for the limit above.
constexpr int kServerBusy = -32000;

// What confirm's elicitation/create asks for: one boolean (a flat object of primitives, as form
// mode requires).
constexpr std::string_view kConfirmSchema =
    R"({"type":"object","properties":{"confirmed":{"type":"boolean","title":"Confirmed",)"
    R"("description":"Whether to go ahead"}},"required":["confirmed"]})";

std::string_view View(const rapidjson::Value& string) {
  return std::string_view(string.GetString(), string.GetStringLength());
}

// The member `name` of `object` if it is a string; nullptr otherwise.
const rapidjson::Value* StringMember(const rapidjson::Value* object, const char* name) {
  if (object == nullptr || !object->IsObject()) {
    return nullptr;
  }
  auto it = object->FindMember(name);
  return it != object->MemberEnd() && it->value.IsString() ? &it->value : nullptr;
}

// {"content":[{"type":"text","text":<text>}],"isError":<is_error>}, built into `result`.
void TextResult(rapidjson::Document* result, std::string_view text, bool is_error) {
  auto& alloc = result->GetAllocator();
  result->SetObject();
  rapidjson::Value item(rapidjson::kObjectType);
  item.AddMember("type", "text", alloc);
  item.AddMember(
      "text", rapidjson::Value(text.data(), static_cast<rapidjson::SizeType>(text.size()), alloc),
      alloc);
  rapidjson::Value content(rapidjson::kArrayType);
  content.PushBack(item, alloc);
  result->AddMember("content", content, alloc);
  result->AddMember("isError", is_error, alloc);
}

// Shortest text that reads back as the same double ("5", "0.30000000000000004").
std::string FormatNumber(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return ec == std::errc() ? std::string(buffer, end) : std::string("NaN");
}

std::string Echo(const std::string& id_json, const rapidjson::Value& arguments) {
  const rapidjson::Value* message = StringMember(&arguments, "message");
  if (message == nullptr) {
    return MakeError(id_json, kInvalidParams, "echo: message must be a string");
  }
  rapidjson::Document result;
  TextResult(&result, View(*message), false);
  return MakeResult(id_json, result);
}

std::string Add(const std::string& id_json, const rapidjson::Value& arguments) {
  auto a = arguments.FindMember("a");
  auto b = arguments.FindMember("b");
  if (a == arguments.MemberEnd() || !a->value.IsNumber() || b == arguments.MemberEnd() ||
      !b->value.IsNumber()) {
    return MakeError(id_json, kInvalidParams, "add: a and b must be numbers");
  }
  rapidjson::Document result;
  // Integers are added exactly when the sum fits; otherwise as doubles.
  int64_t int_sum = 0;
  if (a->value.IsInt64() && b->value.IsInt64() &&
      !__builtin_add_overflow(a->value.GetInt64(), b->value.GetInt64(), &int_sum)) {
    TextResult(&result, std::to_string(int_sum), false);
    rapidjson::Value structured(rapidjson::kObjectType);
    structured.AddMember("sum", int_sum, result.GetAllocator());
    result.AddMember("structuredContent", structured, result.GetAllocator());
    return MakeResult(id_json, result);
  }
  double sum = a->value.GetDouble() + b->value.GetDouble();
  if (!std::isfinite(sum)) {
    // A tool execution error, reported in the result so the model can see it (MCP "Tools",
    // "Error Handling"); JSON cannot carry an infinite number anyway.
    TextResult(&result, "add: the sum is too large to represent", true);
    return MakeResult(id_json, result);
  }
  TextResult(&result, FormatNumber(sum), false);
  rapidjson::Value structured(rapidjson::kObjectType);
  structured.AddMember("sum", sum, result.GetAllocator());
  result.AddMember("structuredContent", structured, result.GetAllocator());
  return MakeResult(id_json, result);
}

// Results that 2026-07-28 lets clients cache, which must then carry ttlMs and cacheScope
// ("Caching", "Cacheable Results").
bool IsCacheable(std::string_view method) {
  return method == "server/discover" || method == "tools/list" || method == "prompts/list" ||
         method == "resources/list" || method == "resources/templates/list" ||
         method == "resources/read";
}

// Restates the final reply of a stateless request in 2026-07-28 terms, wherever it was built
// (here or in SlowCount): a result gets resultType (MUST), the server's identity in _meta
// (SHOULD, "ResultMetaObject") and, when cacheable, caching hints; resource-not-found moves from
// -32002 to -32602. Notifications pass unchanged.
class StatelessResponder : public Responder {
 public:
  StatelessResponder(std::unique_ptr<Responder> inner, bool cacheable)
      : inner_(std::move(inner)), cacheable_(cacheable) {}

  void Notify(std::string json) override { inner_->Notify(std::move(json)); }
  void Respond(std::string json) override { inner_->Respond(Restate(json)); }
  bool open() const override { return inner_->open(); }

 private:
  std::string Restate(const std::string& json) const {
    rapidjson::Document reply;
    reply.Parse(json.data(), json.size());
    if (reply.HasParseError() || !reply.IsObject()) {
      return json;
    }
    auto& alloc = reply.GetAllocator();
    auto error = reply.FindMember("error");
    if (error != reply.MemberEnd() && error->value.IsObject()) {
      auto code = error->value.FindMember("code");
      if (code != error->value.MemberEnd() && code->value.IsInt() &&
          code->value.GetInt() == kResourceNotFound) {
        code->value.SetInt(kInvalidParams);
      }
      return ToJson(reply);
    }
    auto found = reply.FindMember("result");
    if (found == reply.MemberEnd() || !found->value.IsObject()) {
      return json;
    }
    rapidjson::Value& result = found->value;
    result.AddMember("resultType", "complete", alloc);
    if (cacheable_) {
      // 0 = "re-fetch whenever needed", the simplest honest hint; public because every caller
      // gets the same answer.
      result.AddMember("ttlMs", 0, alloc);
      result.AddMember("cacheScope", "public", alloc);
    }
    auto meta = result.FindMember("_meta");
    if (meta == result.MemberEnd()) {
      result.AddMember("_meta", rapidjson::Value(rapidjson::kObjectType), alloc);
      meta = result.FindMember("_meta");
    }
    if (meta->value.IsObject()) {
      rapidjson::Value server_info(rapidjson::kObjectType);
      server_info.AddMember("name", rapidjson::StringRef(kServerName.data(), kServerName.size()),
                            alloc);
      server_info.AddMember(
          "version", rapidjson::StringRef(kServerVersion.data(), kServerVersion.size()), alloc);
      meta->value.AddMember("io.modelcontextprotocol/serverInfo", server_info, alloc);
    }
    return ToJson(reply);
  }

  std::unique_ptr<Responder> inner_;
  bool cacheable_;
};

// `json` (trusted, from the catalog) as a value owned by `alloc`.
rapidjson::Value ParseTrusted(std::string_view json, rapidjson::Document::AllocatorType& alloc) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  return rapidjson::Value(doc, alloc);
}

}  // namespace

McpHandler::McpHandler(uv_loop_t* loop, Mode mode) : loop_(loop), mode_(mode) {}

bool McpHandler::IsStatelessMethod(std::string_view method) {
  return IsCacheable(method) || method == "tools/call" || method == "prompts/get";
}

McpHandler::~McpHandler() { CancelAll(); }

void McpHandler::CancelAll() {
  auto running = std::move(running_);
  running_.clear();
  for (auto& [id, count] : running) {
    count->Cancel();
  }
  // Dropping the responders ends those exchanges without a reply.
  auto confirms = std::move(confirms_);
  confirms_.clear();
}

bool McpHandler::IsRunning(const std::string& id_json) const {
  if (running_.count(id_json) != 0) {
    return true;
  }
  for (const auto& [request_id, pending] : confirms_) {
    if (pending.call_id_json == id_json) {
      return true;
    }
  }
  return false;
}

void McpHandler::HandleRequest(const Message& request, std::unique_ptr<Responder> responder) {
  const std::string& method = request.method();
  const std::string& id = request.id_json();
  bool stateless = mode_ == Mode::kStateless;
  if (stateless) {
    responder = std::make_unique<StatelessResponder>(std::move(responder), IsCacheable(method));
  }
  std::string reply;
  if (request.params() != nullptr && !request.params()->IsObject()) {
    reply = MakeError(id, kInvalidParams, "params must be an object");
  } else if (stateless ? !IsStatelessMethod(method) : method == "server/discover") {
    // 2026-07-28 drops initialize and ping and adds server/discover; each era keeps its own.
    reply = MakeError(id, kMethodNotFound, "Method not found: " + method);
  } else if (method == "initialize") {
    reply = Initialize(request);
  } else if (method == "server/discover") {
    reply = Discover(request);
  } else if (method == "ping") {
    reply = MakeRawResult(id, "{}");
  } else if (method == "tools/list") {
    reply = MakeRawResult(id, ToolsListJson(OffersConfirm()));
  } else if (method == "tools/call") {
    reply = CallTool(request, &responder);
  } else if (method == "resources/list") {
    reply = MakeRawResult(id, ResourcesListJson());
  } else if (method == "resources/templates/list") {
    reply = MakeRawResult(id, R"({"resourceTemplates":[]})");
  } else if (method == "resources/read") {
    reply = ReadResource(request);
  } else if (method == "prompts/list") {
    reply = MakeRawResult(id, PromptsListJson());
  } else if (method == "prompts/get") {
    reply = GetPrompt(request);
  } else {
    reply = MakeError(id, kMethodNotFound, "Method not found: " + method);
  }
  if (responder != nullptr) {
    responder->Respond(std::move(reply));
  }
}

void McpHandler::HandleNotification(const Message& message) {
  if (message.kind() == Message::Kind::kResponse) {
    FinishConfirm(message);
    return;
  }
  if (message.method() != "notifications/cancelled") {
    // notifications/initialized and anything else: nothing to do.
    return;
  }
  const rapidjson::Value* params = message.params();
  if (params == nullptr || !params->IsObject()) {
    return;
  }
  auto request_id = params->FindMember("requestId");
  if (request_id == params->MemberEnd() ||
      !(request_id->value.IsString() || request_id->value.IsInt64())) {
    return;
  }
  Cancel(ToJson(request_id->value));
}

void McpHandler::Cancel(const std::string& id_json) {
  auto it = running_.find(id_json);
  if (it == running_.end()) {
    for (auto pending = confirms_.begin(); pending != confirms_.end(); ++pending) {
      if (pending->second.call_id_json != id_json) {
        continue;
      }
      // The question is moot now: tell the client, so it can close its dialog (either side may
      // cancel a request it sent, MCP "Cancellation"). No reply to the tools/call follows.
      rapidjson::Document params(rapidjson::kObjectType);
      auto& alloc = params.GetAllocator();
      rapidjson::Document request_id;
      request_id.Parse(pending->first.c_str(), pending->first.size());
      params.AddMember("requestId", rapidjson::Value(request_id, alloc), alloc);
      params.AddMember("reason", "the tools/call that asked was cancelled", alloc);
      std::unique_ptr<Responder> responder = std::move(pending->second.responder);
      confirms_.erase(pending);
      responder->Notify(MakeNotification("notifications/cancelled", params));
      return;
    }
    // Already answered, or never existed: the spec says to ignore it.
    return;
  }
  SlowCount* count = it->second;
  running_.erase(it);
  count->Cancel();
}

std::string McpHandler::Initialize(const Message& request) {
  const rapidjson::Value* requested = StringMember(request.params(), "protocolVersion");
  // Version negotiation (MCP "Lifecycle"): echo the client's revision when we speak it,
  // otherwise offer our latest and let the client decide.
  if (requested != nullptr && IsSupportedProtocolVersion(View(*requested))) {
    protocol_version_ = std::string(View(*requested));
  } else {
    protocol_version_ = std::string(kLatestProtocolVersion);
  }
  // ClientCapabilities.elicitation: {} means form mode (2025-06-18, kept for compatibility by
  // 2025-11-25); otherwise "form" must be listed ({"url": {}} alone is URL mode only).
  client_elicits_ = false;
  const rapidjson::Value* params = request.params();
  if (params != nullptr && params->IsObject()) {
    auto capabilities = params->FindMember("capabilities");
    if (capabilities != params->MemberEnd() && capabilities->value.IsObject()) {
      auto elicitation = capabilities->value.FindMember("elicitation");
      if (elicitation != capabilities->value.MemberEnd() && elicitation->value.IsObject()) {
        client_elicits_ =
            elicitation->value.MemberCount() == 0 || elicitation->value.HasMember("form");
      }
    }
  }
  rapidjson::Document result(rapidjson::kObjectType);
  auto& alloc = result.GetAllocator();
  result.AddMember("protocolVersion", rapidjson::Value(protocol_version_.c_str(), alloc), alloc);
  result.AddMember("capabilities", ParseTrusted(CapabilitiesJson(), alloc), alloc);
  rapidjson::Value server_info(rapidjson::kObjectType);
  server_info.AddMember("name", rapidjson::StringRef(kServerName.data(), kServerName.size()),
                        alloc);
  server_info.AddMember("version",
                        rapidjson::StringRef(kServerVersion.data(), kServerVersion.size()), alloc);
  result.AddMember("serverInfo", server_info, alloc);
  return MakeResult(request.id_json(), result);
}

std::string McpHandler::Discover(const Message& request) {
  // The server's identity goes in _meta, like on every stateless result (StatelessResponder).
  rapidjson::Document result(rapidjson::kObjectType);
  auto& alloc = result.GetAllocator();
  result.AddMember("supportedVersions", ParseTrusted(SupportedVersionsJson(), alloc), alloc);
  result.AddMember("capabilities", ParseTrusted(CapabilitiesJson(), alloc), alloc);
  return MakeResult(request.id_json(), result);
}

std::string McpHandler::CallTool(const Message& request, std::unique_ptr<Responder>* responder) {
  const std::string& id = request.id_json();
  const rapidjson::Value* params = request.params();
  const rapidjson::Value* name = StringMember(params, "name");
  if (name == nullptr) {
    return MakeError(id, kInvalidParams, "tools/call: name must be a string");
  }
  static const rapidjson::Value kNoArguments(rapidjson::kObjectType);
  const rapidjson::Value* arguments = &kNoArguments;
  auto it = params->FindMember("arguments");
  if (it != params->MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsObject()) {
      return MakeError(id, kInvalidParams, "tools/call: arguments must be an object");
    }
    arguments = &it->value;
  }
  std::string_view tool = View(*name);
  if (tool == "echo") {
    return Echo(id, *arguments);
  }
  if (tool == "add") {
    return Add(id, *arguments);
  }
  if (tool == "confirm") {
    return StartConfirm(id, *arguments, responder);
  }
  if (tool != "slow_count") {
    return MakeError(id, kInvalidParams, "Unknown tool: " + std::string(tool));
  }
  SlowCount::Args args;
  std::string error;
  if (!SlowCount::ParseArgs(*arguments, &args, &error)) {
    return MakeError(id, kInvalidParams, "slow_count: " + error);
  }
  if (IsRunning(id)) {
    return MakeError(id, kInvalidRequest, "a request with this id is still running");
  }
  if (running() >= kMaxRunning) {
    return MakeError(id, kServerBusy, "too many requests running in this session");
  }
  const rapidjson::Value* token = nullptr;
  auto meta = params->FindMember("_meta");
  if (meta != params->MemberEnd() && meta->value.IsObject()) {
    auto found = meta->value.FindMember("progressToken");
    // MCP's ProgressToken is a string or an integer; anything else is ignored.
    if (found != meta->value.MemberEnd() && (found->value.IsString() || found->value.IsInt64())) {
      token = &found->value;
    }
  }
  running_[id] = SlowCount::Start(loop_, id, args, token, std::move(*responder),
                                  [this, id]() { running_.erase(id); });
  return std::string();
}

std::string McpHandler::StartConfirm(const std::string& id_json, const rapidjson::Value& arguments,
                                     std::unique_ptr<Responder>* responder) {
  if (!OffersConfirm()) {
    // A server must not send a request the client did not declare it can answer.
    return MakeError(id_json, kInvalidParams,
                     "confirm: needs a session whose client declared the elicitation capability "
                     "(form mode)");
  }
  std::string_view question = kDefaultConfirmQuestion;
  auto found = arguments.FindMember("question");
  if (found != arguments.MemberEnd()) {
    if (!found->value.IsString()) {
      return MakeError(id_json, kInvalidParams, "confirm: question must be a string");
    }
    question = View(found->value);
  }
  if (IsRunning(id_json)) {
    return MakeError(id_json, kInvalidRequest, "a request with this id is still running");
  }
  if (running() >= kMaxRunning) {
    return MakeError(id_json, kServerBusy, "too many requests running in this session");
  }
  std::string request_id = "\"confirm-" + std::to_string(++next_server_request_) + "\"";
  rapidjson::Document params(rapidjson::kObjectType);
  auto& alloc = params.GetAllocator();
  params.AddMember(
      "message",
      rapidjson::Value(question.data(), static_cast<rapidjson::SizeType>(question.size()), alloc),
      alloc);
  params.AddMember("requestedSchema", ParseTrusted(kConfirmSchema, alloc), alloc);
  // The request travels with the call's own messages: the next line on stdio, an event on the
  // call's SSE reply stream over HTTP (both allowed for requests related to a client request).
  std::unique_ptr<Responder> call = std::move(*responder);
  call->Notify(MakeRequest(request_id, "elicitation/create", params));
  confirms_[request_id] = PendingConfirm{id_json, std::move(call)};
  return std::string();
}

void McpHandler::FinishConfirm(const Message& response) {
  auto it = confirms_.find(response.id_json());
  if (it == confirms_.end()) {
    // Not an answer we wait for (unknown, or its call was cancelled): ignore it.
    return;
  }
  PendingConfirm pending = std::move(it->second);
  confirms_.erase(it);
  rapidjson::Document result;
  if (const rapidjson::Value* error = response.error(); error != nullptr) {
    // The client could not or would not ask: a tool execution error, visible to the model.
    const rapidjson::Value* message = StringMember(error, "message");
    std::string text = "the client answered elicitation/create with an error";
    if (error->IsObject() && error->HasMember("code") && (*error)["code"].IsInt()) {
      text += " " + std::to_string((*error)["code"].GetInt());
    }
    if (message != nullptr) {
      text += ": " + std::string(View(*message));
    }
    TextResult(&result, text, true);
  } else {
    // ElicitResult: {action: accept|decline|cancel, content?}. The text says exactly what came
    // back, e.g. `accept {"confirmed":true}` or `decline`.
    const rapidjson::Value* answer = response.result();
    const rapidjson::Value* action = StringMember(answer, "action");
    if (action == nullptr) {
      TextResult(&result, "the client's answer to elicitation/create has no action", true);
    } else {
      std::string text(View(*action));
      auto content = answer->FindMember("content");
      if (content != answer->MemberEnd() && content->value.IsObject()) {
        text += " " + ToJson(content->value);
      }
      TextResult(&result, text, false);
    }
  }
  pending.responder->Respond(MakeResult(pending.call_id_json, result));
}

std::string McpHandler::ReadResource(const Message& request) {
  const std::string& id = request.id_json();
  const rapidjson::Value* uri = StringMember(request.params(), "uri");
  if (uri == nullptr) {
    return MakeError(id, kInvalidParams, "resources/read: uri must be a string");
  }
  if (View(*uri) != kGreetingUri) {
    return MakeError(id, kResourceNotFound, "Resource not found: " + std::string(View(*uri)));
  }
  rapidjson::Document result(rapidjson::kObjectType);
  auto& alloc = result.GetAllocator();
  rapidjson::Value item(rapidjson::kObjectType);
  item.AddMember("uri", rapidjson::StringRef(kGreetingUri.data(), kGreetingUri.size()), alloc);
  item.AddMember("mimeType",
                 rapidjson::StringRef(kGreetingMimeType.data(), kGreetingMimeType.size()), alloc);
  item.AddMember("text", rapidjson::StringRef(kGreetingText.data(), kGreetingText.size()), alloc);
  rapidjson::Value contents(rapidjson::kArrayType);
  contents.PushBack(item, alloc);
  result.AddMember("contents", contents, alloc);
  return MakeResult(id, result);
}

std::string McpHandler::GetPrompt(const Message& request) {
  const std::string& id = request.id_json();
  const rapidjson::Value* params = request.params();
  const rapidjson::Value* name = StringMember(params, "name");
  if (name == nullptr) {
    return MakeError(id, kInvalidParams, "prompts/get: name must be a string");
  }
  if (View(*name) != "greet") {
    return MakeError(id, kInvalidParams, "Unknown prompt: " + std::string(View(*name)));
  }
  auto arguments = params->FindMember("arguments");
  const rapidjson::Value* who =
      arguments == params->MemberEnd() ? nullptr : StringMember(&arguments->value, "name");
  if (who == nullptr) {
    return MakeError(id, kInvalidParams, "prompts/get greet: argument name is required");
  }
  std::string text = "Please greet " + std::string(View(*who)) + ".";
  rapidjson::Document result(rapidjson::kObjectType);
  auto& alloc = result.GetAllocator();
  result.AddMember("description", "Greets someone by name", alloc);
  rapidjson::Value content(rapidjson::kObjectType);
  content.AddMember("type", "text", alloc);
  content.AddMember(
      "text", rapidjson::Value(text.data(), static_cast<rapidjson::SizeType>(text.size()), alloc),
      alloc);
  rapidjson::Value message(rapidjson::kObjectType);
  message.AddMember("role", "user", alloc);
  message.AddMember("content", content, alloc);
  rapidjson::Value messages(rapidjson::kArrayType);
  messages.PushBack(message, alloc);
  result.AddMember("messages", messages, alloc);
  return MakeResult(id, result);
}

}  // namespace portcullis::example
