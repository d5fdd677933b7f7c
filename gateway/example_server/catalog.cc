#include "gateway/example_server/catalog.h"

#include <array>
#include <string>

#include "gateway/example_server/json_rpc.h"

namespace portcullis::example {

namespace {

constexpr std::array<std::string_view, 4> kSupportedVersions = {"2024-11-05", "2025-03-26",
                                                                "2025-06-18", "2025-11-25"};

// Input schemas say exactly what the tools check, so a gateway that validates arguments against
// them and the server agree. add declares an outputSchema because it returns structuredContent
// (required by 2025-06-18 "Structured Content" for clients to validate it).
constexpr std::string_view kToolsList = R"json({"tools":[
{"name":"echo","title":"Echo","description":"Returns the message it is given.",
 "inputSchema":{"type":"object","properties":{"message":{"type":"string",
   "description":"Text to send back."}},"required":["message"]},
 "annotations":{"readOnlyHint":true,"idempotentHint":true,"openWorldHint":false}},
{"name":"add","title":"Add","description":"Adds two numbers.",
 "inputSchema":{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},
   "required":["a","b"]},
 "outputSchema":{"type":"object","properties":{"sum":{"type":"number"}},"required":["sum"]},
 "annotations":{"readOnlyHint":true,"idempotentHint":true,"openWorldHint":false}},
{"name":"slow_count","title":"Slow count",
 "description":"Counts 1..n, a step every interval_ms ms, with progress if a token is given.",
 "inputSchema":{"type":"object","properties":{
   "n":{"type":"integer","minimum":1,"maximum":10000,"description":"Number to count to."},
   "interval_ms":{"type":"integer","minimum":0,"maximum":60000,"default":100,
     "description":"Milliseconds between steps."}},"required":["n"]},
 "annotations":{"readOnlyHint":true,"idempotentHint":true,"openWorldHint":false}}
]})json";

// Appended to the tools above for clients that can answer elicitation/create (form mode).
constexpr std::string_view kConfirmTool = R"json(
{"name":"confirm","title":"Confirm",
 "description":"Asks the user to confirm (elicitation/create, form mode); returns the answer.",
 "inputSchema":{"type":"object","properties":{
   "question":{"type":"string","description":"What to ask (default \"Proceed?\")."}}},
 "annotations":{"readOnlyHint":true,"idempotentHint":false,"openWorldHint":false}}
)json";

constexpr std::string_view kResourcesList = R"json({"resources":[
{"uri":"example://greeting","name":"greeting","title":"Greeting",
 "description":"A fixed greeting.","mimeType":"text/plain"}
]})json";

constexpr std::string_view kPromptsList = R"json({"prompts":[
{"name":"greet","title":"Greet","description":"Asks the model to greet someone by name.",
 "arguments":[{"name":"name","description":"Who to greet.","required":true}]}
]})json";

// The literals above are laid out for people; the wire needs them on one line (stdio framing).
std::string Compact(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  return doc.HasParseError() ? std::string("{}") : ToJson(doc);
}

}  // namespace

bool IsSupportedProtocolVersion(std::string_view version) {
  for (std::string_view supported : kSupportedVersions) {
    if (version == supported) {
      return true;
    }
  }
  return false;
}

std::string_view SupportedVersionsJson() {
  static const std::string json = [] {
    std::string text = "[\"" + std::string(kStatelessProtocolVersion) + "\"";
    for (auto it = kSupportedVersions.rbegin(); it != kSupportedVersions.rend(); ++it) {
      text += ",\"" + std::string(*it) + "\"";
    }
    return text + "]";
  }();
  return json;
}

std::string_view CapabilitiesJson() {
  return R"({"tools":{"listChanged":false},"resources":{},"prompts":{}})";
}

std::string_view ToolsListJson(bool with_confirm) {
  static const std::string compact = Compact(kToolsList);
  static const std::string with_confirm_compact = [] {
    rapidjson::Document list;
    list.Parse(kToolsList.data(), kToolsList.size());
    rapidjson::Document tool(&list.GetAllocator());
    tool.Parse(kConfirmTool.data(), kConfirmTool.size());
    if (list.HasParseError() || tool.HasParseError()) {
      return std::string("{}");
    }
    list["tools"].PushBack(rapidjson::Value(tool, list.GetAllocator()), list.GetAllocator());
    return ToJson(list);
  }();
  return with_confirm ? with_confirm_compact : compact;
}

std::string_view ResourcesListJson() {
  static const std::string compact = Compact(kResourcesList);
  return compact;
}

std::string_view PromptsListJson() {
  static const std::string compact = Compact(kPromptsList);
  return compact;
}

}  // namespace portcullis::example
