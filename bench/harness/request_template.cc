#include "bench/harness/request_template.h"

namespace portcullis::bench {

RequestTemplate::RequestTemplate(const BenchOptions& options)
    : path_(options.path),
      user_headers_(options.headers),
      init_(options.init),
      custom_body_(!options.body_file.empty()),
      body_(options.body) {
  bool v6 = options.host.find(':') != std::string::npos;
  host_header_ =
      (v6 ? "[" + options.host + "]" : options.host) + ":" + std::to_string(options.port);
  std::string tool = options.sse ? "slow_count" : "echo";
  std::string arguments =
      options.sse ? R"({"n":5,"interval_ms":10})" : R"({"message":"portcullis-bench"})";
  body_prefix_ = R"({"jsonrpc":"2.0","id":)";
  body_suffix_ =
      R"(,"method":"tools/call","params":{"name":")" + tool + R"(","arguments":)" + arguments;
  // slow_count reports progress (one event per step) only when asked to, with a token.
  std::string meta;
  if (options.sse) {
    meta += R"("progressToken":"portcullis-bench")";
  }
  if (!options.init) {
    meta += std::string(meta.empty() ? "" : ",") +
            R"("io.modelcontextprotocol/protocolVersion":")" + kStatelessProtocolVersion + "\"";
    body_headers_ = {{"MCP-Protocol-Version", kStatelessProtocolVersion},
                     {"Mcp-Method", "tools/call"},
                     {"Mcp-Name", tool}};
  }
  if (!meta.empty()) {
    body_suffix_ += R"(,"_meta":{)" + meta + "}";
  }
  body_suffix_ += "}}";
}

std::string RequestTemplate::Post(const std::string& body, const Headers& headers) const {
  std::string out;
  out.reserve(256 + body.size());
  out += "POST " + path_ + " HTTP/1.1\r\nHost: " + host_header_ +
         "\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n";
  for (const auto& [name, value] : headers) {
    out += name + ": " + value + "\r\n";
  }
  for (const auto& [name, value] : user_headers_) {
    out += name + ": " + value + "\r\n";
  }
  out += "\r\n";
  out += body;
  return out;
}

std::string RequestTemplate::Request(uint64_t id, const std::string& session_id) const {
  Headers headers;
  if (!custom_body_) {
    headers = body_headers_;
  }
  if (init_) {
    headers.emplace_back("MCP-Protocol-Version", kSessionProtocolVersion);
    if (!session_id.empty()) {
      headers.emplace_back("Mcp-Session-Id", session_id);
    }
  }
  if (custom_body_) {
    return Post(body_, headers);
  }
  return Post(body_prefix_ + std::to_string(id) + body_suffix_, headers);
}

std::string RequestTemplate::Initialize() const {
  return Post(std::string(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{)") +
                  R"("protocolVersion":")" + kSessionProtocolVersion +
                  R"(","capabilities":{},"clientInfo":{"name":"portcullis-bench","version":"1"}}})",
              {});
}

std::string RequestTemplate::Initialized(const std::string& session_id) const {
  Headers headers = {{"MCP-Protocol-Version", kSessionProtocolVersion}};
  if (!session_id.empty()) {
    headers.emplace_back("Mcp-Session-Id", session_id);
  }
  return Post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", headers);
}

}  // namespace portcullis::bench
