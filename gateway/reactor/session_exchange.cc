#include "gateway/reactor/session_exchange.h"

#include <spdlog/spdlog.h>

#include "gateway/mcp/jsonrpc_error.h"
#include "gateway/reactor/reactor.h"
#include "gateway/reactor/session_registry.h"

namespace portcullis::reactor {

SessionExchange::SessionExchange(Reactor* reactor, http::ResponseWriter* writer, Kind kind,
                                 std::string key, std::string session_header, std::string endpoint,
                                 std::string message, mcp::MessageInfo info)
    : reactor_(reactor),
      writer_(writer),
      kind_(kind),
      key_(std::move(key)),
      session_header_(std::move(session_header)),
      endpoint_(std::move(endpoint)),
      message_(std::move(message)),
      info_(std::move(info)),
      port_(std::make_shared<StreamPort>(reactor, this)) {}

SessionExchange::~SessionExchange() { port_->Detach(); }

void SessionExchange::Start() {
  std::shared_ptr<StreamPort> port = port_;
  switch (kind_) {
    case Kind::kRequest:
      WithSession(
          reactor_, key_,
          [port, message = std::move(message_), info = info_](session::MessageSession* s) mutable {
            port->Routed(s != nullptr);
            if (s) s->FromClient(std::move(message), info, port);
          });
      break;
    case Kind::kMessage:
      WithSession(
          reactor_, key_,
          [port, message = std::move(message_), info = info_](session::MessageSession* s) mutable {
            if (s) s->FromClient(std::move(message), info, nullptr);
            port->Routed(s != nullptr);
          });
      break;
    case Kind::kGetStream:
    case Kind::kLegacyStream:
      WithSession(reactor_, key_, [port](session::MessageSession* s) {
        port->Routed(s != nullptr);
        if (s) s->AttachSessionStream(port);
      });
      break;
    case Kind::kDelete:
      WithSession(reactor_, key_, [port, key = key_](session::MessageSession* s) {
        if (s) Reactor::Current()->sessions().Close(key, "the client ended the session");
        port->Routed(s != nullptr);
      });
      break;
  }
}

void SessionExchange::OnRouted(bool found) {
  if (done_) return;
  if (!found) {
    done_ = true;
    http::WriteSimpleResponse(
        writer_, 404, "application/json",
        mcp::JsonRpcErrorBody(info_.id_json, mcp::kSessionNotFound, "session not found"));
    return;
  }
  switch (kind_) {
    case Kind::kRequest:
    case Kind::kGetStream:
      WriteStreamHead();
      break;
    case Kind::kLegacyStream:
      WriteStreamHead();
      WriteEvent("endpoint", endpoint_);
      break;
    case Kind::kMessage:
    case Kind::kDelete: {
      done_ = true;
      http::HeaderList headers;
      if (!session_header_.empty()) headers.emplace_back("Mcp-Session-Id", session_header_);
      writer_->WriteHead(kind_ == Kind::kMessage ? 202 : 200, headers, 0);
      writer_->Finish();
      break;
    }
  }
}

void SessionExchange::OnSessionMessage(std::string json) {
  if (done_) return;
  if (!head_written_) WriteStreamHead();
  WriteEvent("message", json);
  if (writer_->buffered_bytes() > kMaxBuffered) {
    spdlog::warn("session: a client stream fell {} bytes behind; closing it",
                 writer_->buffered_bytes());
    writer_->Abort();  // the connection closes, which cancels this exchange
  }
}

void SessionExchange::OnSessionEnd() {
  if (done_) return;
  done_ = true;
  if (!head_written_) {
    http::WriteSimpleResponse(
        writer_, 404, "application/json",
        mcp::JsonRpcErrorBody(info_.id_json, mcp::kSessionNotFound, "session ended"));
    return;
  }
  writer_->Finish();
}

void SessionExchange::Cancel() {
  port_->Detach();
  if (done_) return;
  done_ = true;
  std::shared_ptr<StreamPort> port = port_;
  if (kind_ == Kind::kLegacyStream) {
    // A legacy session is its stream: when the client closes it, the session is over.
    WithSession(reactor_, key_, [key = key_](session::MessageSession* s) {
      if (s) Reactor::Current()->sessions().Close(key, "the client closed its SSE stream");
    });
  } else if (kind_ == Kind::kRequest || kind_ == Kind::kGetStream) {
    WithSession(reactor_, key_, [port](session::MessageSession* s) {
      if (s) s->StreamGone(port.get());
    });
  }
}

void SessionExchange::WriteStreamHead() {
  if (head_written_) return;
  head_written_ = true;
  http::HeaderList headers = {{"Content-Type", "text/event-stream"},
                              {"Cache-Control", "no-cache"},
                              {"X-Accel-Buffering", "no"}};
  if (!session_header_.empty()) headers.emplace_back("Mcp-Session-Id", session_header_);
  writer_->WriteHead(200, headers, std::nullopt);
}

void SessionExchange::WriteEvent(std::string_view event, std::string_view data) {
  // A JSON-RPC message is one line (a stdio server's framing, or the gateway's own output), but
  // a bridged upstream may send pretty-printed JSON: each line becomes its own data: field.
  std::string out;
  out.reserve(data.size() + 32);
  out.append("event: ").append(event).append("\n");
  size_t start = 0;
  while (start <= data.size()) {
    size_t nl = data.find('\n', start);
    std::string_view line = data.substr(start, nl == std::string_view::npos ? nl : nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.append("data: ").append(line).append("\n");
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out.append("\n");
  writer_->WriteBody(out);
}

}  // namespace portcullis::reactor
