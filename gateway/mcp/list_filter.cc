#include "gateway/mcp/list_filter.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace portcullis::mcp {
namespace {

struct ListShape {
  const char* array;  // the key of the list inside "result"
  const char* name;   // the key of each entry that the policy judges
};

ListShape ShapeOf(ListKind kind) {
  switch (kind) {
    case ListKind::kTools: return {"tools", "name"};
    case ListKind::kPrompts: return {"prompts", "name"};
    case ListKind::kResources: return {"resources", "uri"};
    case ListKind::kResourceTemplates: return {"resourceTemplates", "uriTemplate"};
    case ListKind::kNone: break;
  }
  return {nullptr, nullptr};
}

bool Allowed(ListKind kind, const policy::UpstreamGrant& grant, std::string_view name) {
  switch (kind) {
    case ListKind::kTools: return grant.AllowsTool(name);
    case ListKind::kPrompts: return grant.AllowsPrompt(name);
    case ListKind::kResources: return grant.AllowsResource(name);
    case ListKind::kResourceTemplates: return grant.AllowsResourceTemplate(name);
    case ListKind::kNone: break;
  }
  return false;
}

}  // namespace

ListKind ListKindOf(std::string_view method) {
  if (method == "tools/list") return ListKind::kTools;
  if (method == "prompts/list") return ListKind::kPrompts;
  if (method == "resources/list") return ListKind::kResources;
  if (method == "resources/templates/list") return ListKind::kResourceTemplates;
  return ListKind::kNone;
}

std::optional<std::string> FilterListResponse(std::string_view body, ListKind kind,
                                              const policy::UpstreamGrant& grant,
                                              size_t* removed) {
  *removed = 0;
  ListShape shape = ShapeOf(kind);
  if (!shape.array) return std::nullopt;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseStopWhenDoneFlag>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  auto result = doc.FindMember("result");
  if (result == doc.MemberEnd() || !result->value.IsObject()) return std::nullopt;
  auto list = result->value.FindMember(shape.array);
  if (list == result->value.MemberEnd()) return std::nullopt;
  if (!list->value.IsArray()) {
    // Not a list we understand: hide it entirely rather than pass unknown entries on.
    list->value.SetArray();
    *removed = 1;
  } else {
    rapidjson::Value& items = list->value;
    for (auto it = items.Begin(); it != items.End();) {
      bool keep = false;
      if (it->IsObject()) {
        auto name = it->FindMember(shape.name);
        keep = name != it->MemberEnd() && name->value.IsString() &&
               Allowed(kind, grant,
                       std::string_view(name->value.GetString(), name->value.GetStringLength()));
      }
      if (keep) {
        ++it;
      } else {
        it = items.Erase(it);
        ++*removed;
      }
    }
  }
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  doc.Accept(writer);
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace portcullis::mcp
