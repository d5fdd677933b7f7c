#include "gateway/upstream/upstream_request.h"

namespace portcullis::upstream {
namespace {

// Quotes `value`; a line break becomes a space: header values must not smuggle one into the
// upstream request (llhttp already refuses them from clients; this keeps identity text honest).
void AppendQuoted(std::string* out, std::string_view value) {
  out->push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') out->push_back('\\');
    out->push_back((c == '\r' || c == '\n') ? ' ' : c);
  }
  out->push_back('"');
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && http::EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

}  // namespace

std::string FormatClientCertHeader(const Identity& identity) {
  size_t size = 24 + identity.cert_sha256.size() + identity.subject.size();
  for (const std::string& uri : identity.uri_sans) size += 8 + uri.size();
  for (const std::string& dns : identity.dns_sans) size += 8 + dns.size();
  std::string out;
  out.reserve(size);
  out += "Hash=";
  out += identity.cert_sha256;  // hex digits
  out += ";Subject=";
  AppendQuoted(&out, identity.subject);
  for (const std::string& uri : identity.uri_sans) {
    out += ";URI=";
    AppendQuoted(&out, uri);
  }
  for (const std::string& dns : identity.dns_sans) {
    out += ";DNS=";
    AppendQuoted(&out, dns);
  }
  return out;
}

bool IsForwardedRequestHeader(std::string_view name, const UpstreamConfig& upstream) {
  static constexpr std::string_view kAllowed[] = {
      "accept",      "content-type", "mcp-session-id", "mcp-protocol-version",
      "mcp-method",  "mcp-name",     "last-event-id",  "user-agent",
      "traceparent", "tracestate",   "baggage",        "accept-language",
  };
  for (std::string_view allowed : kAllowed) {
    if (http::EqualsIgnoreCase(name, allowed)) return true;
  }
  if (StartsWithIgnoreCase(name, "mcp-param-")) return true;
  return upstream.pass_authorization && http::EqualsIgnoreCase(name, "authorization");
}

std::string BuildUpstreamRequest(const http::HttpRequest& request, const UpstreamConfig& upstream,
                                 const Identity& identity, std::string_view client_address) {
  std::string out;
  out.reserve(512 + request.body.size());
  out += request.method;
  out += ' ';
  out += upstream.path;
  if (!request.query.empty()) {
    out += '?';
    out += request.query;
  }
  out += " HTTP/1.1\r\nHost: ";
  out += upstream.host.find(':') != std::string::npos ? "[" + upstream.host + "]" : upstream.host;
  bool default_port = (upstream.scheme == "http" && upstream.port == 80) ||
                      (upstream.scheme == "https" && upstream.port == 443);
  if (!default_port) {
    out += ':';
    out += std::to_string(upstream.port);
  }
  out += "\r\n";
  for (const auto& [name, value] : request.headers) {
    if (!IsForwardedRequestHeader(name, upstream)) continue;
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "X-Forwarded-For: ";
  out += client_address;
  out += "\r\nX-Forwarded-Proto: https\r\n";
  out += kClientCertHeader;
  out += ": ";
  out += FormatClientCertHeader(identity);
  out += "\r\n";
  if (!request.body.empty() || request.method == "POST") {
    out += "Content-Length: ";
    out += std::to_string(request.body.size());
    out += "\r\n";
  }
  out += "Connection: keep-alive\r\n\r\n";
  out += request.body;
  return out;
}

}  // namespace portcullis::upstream
