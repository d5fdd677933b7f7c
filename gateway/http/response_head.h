// Serialising HTTP/1.1 response heads and chunk framing. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/http/http_request.h"

namespace portcullis::http {

std::string_view ReasonPhrase(int status);

// "HTTP/1.1 200 OK\r\n" + headers + framing + Connection + "\r\n". `headers` must not carry
// hop-by-hop or framing headers (the caller filtered them); framing is added here.
std::string BuildResponseHead(int status, const HeaderList& headers,
                              std::optional<uint64_t> content_length, bool keep_alive);

// "1a\r\n" + data + "\r\n"
void AppendChunk(std::string* out, std::string_view data);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// Headers that describe one hop, never forwarded (RFC 9110 §7.6.1), plus framing headers
// that the gateway sets itself.
bool IsHopByHopHeader(std::string_view name);

}  // namespace portcullis::http
