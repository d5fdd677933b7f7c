#include "gateway/mcp/list_filter.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstring>

#include "gateway/audit/tool_fingerprint.h"
#include "gateway/mcp/jsonrpc_error.h"

namespace portcullis::mcp {
namespace {

constexpr int kMaxListDepth = 128;

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

// JSON lets a key repeat; RapidJSON keeps every copy and FindMember returns the first, while
// a client may well take the last. Whatever repeats where the filter looks is refused.
size_t CountMembers(const rapidjson::Value& object, const char* key) {
  size_t n = 0;
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    if (std::strcmp(it->name.GetString(), key) == 0) ++n;
  }
  return n;
}

// The response's id as JSON text, when it is a string or a number (anything else: null).
std::string IdText(const rapidjson::Document& doc) {
  auto id = doc.FindMember("id");
  if (id == doc.MemberEnd() || !(id->value.IsString() || id->value.IsNumber())) return "";
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  id->value.Accept(writer);
  return std::string(out.GetString(), out.GetSize());
}

std::string Unfilterable(const rapidjson::Document& doc, const char* why) {
  return JsonRpcErrorBody(IdText(doc), kInternalError,
                          std::string("the upstream's list response cannot be filtered: ") + why);
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
  // An upstream decides how deep its reply nests: parse iteratively (no recursion), and
  // refuse to write a deep result back out (RapidJSON's writer recurses). Such a list cannot
  // be filtered, so it is replaced by an error rather than passed on unfiltered.
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseIterativeFlag>(body.data(),
                                                                                body.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  size_t results = CountMembers(doc, "result");
  if (results > 1) {
    *removed = 1;
    return Unfilterable(doc, "duplicate \"result\"");
  }
  auto result = doc.FindMember("result");
  if (result == doc.MemberEnd() || !result->value.IsObject()) return std::nullopt;
  if (CountMembers(result->value, shape.array) > 1) {
    *removed = 1;
    return Unfilterable(doc, "duplicate list");
  }
  if (!audit::NestingWithin(body, kMaxListDepth)) {
    *removed = 1;
    return Unfilterable(doc, "nested too deeply");
  }
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
      if (it->IsObject() && CountMembers(*it, shape.name) == 1) {
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
