#include "gateway/http/response_head.h"

#include <cstdio>

namespace portcullis::http {

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

std::string BuildResponseHead(int status, const HeaderList& headers,
                              std::optional<uint64_t> content_length, bool keep_alive) {
  std::string head;
  head.reserve(256);
  head += "HTTP/1.1 ";
  head += std::to_string(status);
  head += ' ';
  head += ReasonPhrase(status);
  head += "\r\n";
  for (const auto& [name, value] : headers) {
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  // 1xx, 204 and 304 carry no body and no framing headers (RFC 9112 §6.3).
  bool bodiless = status < 200 || status == 204 || status == 304;
  if (!bodiless) {
    if (content_length) {
      head += "Content-Length: ";
      head += std::to_string(*content_length);
      head += "\r\n";
    } else {
      head += "Transfer-Encoding: chunked\r\n";
    }
  }
  head += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  head += "\r\n";
  return head;
}

void AppendChunk(std::string* out, std::string_view data) {
  if (data.empty()) return;  // an empty chunk would end the body
  char size[20];
  int n = std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  out->append(size, static_cast<size_t>(n));
  out->append(data);
  out->append("\r\n");
}

bool IsHopByHopHeader(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "connection", "keep-alive",      "proxy-connection", "transfer-encoding", "te",
      "trailer",    "upgrade",         "content-length",   "proxy-authenticate",
      "proxy-authorization"};
  for (std::string_view n : kNames) {
    if (EqualsIgnoreCase(name, n)) return true;
  }
  return false;
}

}  // namespace portcullis::http
