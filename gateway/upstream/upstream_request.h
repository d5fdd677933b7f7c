// Building the request sent to an HTTP upstream from the client's request.
//
// Request headers are forwarded by allow-list, not deny-list: the MCP headers, content
// negotiation and tracing pass; everything else (cookies, the client's Authorization unless
// the upstream asks for it, any forged identity header) stays at the gateway. The client's
// verified identity travels in X-Forwarded-Client-Cert (Envoy's XFCC format). Pure.
#pragma once

#include <string>
#include <string_view>

#include "gateway/http/http_request.h"
#include "portcullis/config.h"
#include "portcullis/identity.h"

namespace portcullis::upstream {

inline constexpr std::string_view kClientCertHeader = "X-Forwarded-Client-Cert";

// Hash=<cert sha256>;Subject="...";URI=...;DNS=...  (quotes and backslashes escaped)
std::string FormatClientCertHeader(const Identity& identity);

// The whole request (head + body) for `upstream`. `client_address` is the peer IP.
std::string BuildUpstreamRequest(const http::HttpRequest& request, const UpstreamConfig& upstream,
                                 const Identity& identity, std::string_view client_address);

// True if the client header `name` may be forwarded to `upstream`.
bool IsForwardedRequestHeader(std::string_view name, const UpstreamConfig& upstream);

}  // namespace portcullis::upstream
