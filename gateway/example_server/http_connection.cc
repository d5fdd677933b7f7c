#include "gateway/example_server/http_connection.h"

#include <cctype>
#include <cstdio>

#include "gateway/example_server/limits.h"

namespace portcullis::example {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
// Unparsed input kept while a request is being answered; beyond it, reading pauses.
constexpr size_t kMaxBufferedInput = kMaxHeaderBytes + kMaxMessageBytes;

struct WriteRequest {
  uv_write_t req;
  std::string data;
};

const char* Reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

HttpConnection* Self(llhttp_t* parser) { return static_cast<HttpConnection*>(parser->data); }

std::string StatusLine(int status) {
  char line[64];
  snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status, Reason(status));
  return line;
}

void TrimTrailingSpace(std::string* value) {
  while (!value->empty() && (value->back() == ' ' || value->back() == '\t')) {
    value->pop_back();
  }
}

}  // namespace

const std::string* HttpRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) {
      return &value;
    }
  }
  return nullptr;
}

HttpConnection* HttpConnection::Accept(uv_stream_t* listener, Delegate* delegate) {
  auto* connection = new HttpConnection(delegate);
  uv_tcp_init(listener->loop, &connection->tcp_);
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&connection->tcp_)) != 0) {
    connection->Close();
    return nullptr;
  }
  // Progress events are small and must leave at once, not wait for Nagle.
  uv_tcp_nodelay(&connection->tcp_, 1);
  connection->reading_ = true;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&connection->tcp_), &HttpConnection::OnAlloc,
                    &HttpConnection::OnRead) != 0) {
    connection->Close();
    return nullptr;
  }
  return connection;
}

HttpConnection::HttpConnection(Delegate* delegate) : delegate_(delegate) {
  tcp_.data = this;
  shutdown_.data = this;
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = &HttpConnection::OnMessageBegin;
  settings_.on_url = &HttpConnection::OnUrl;
  settings_.on_header_field = &HttpConnection::OnHeaderField;
  settings_.on_header_value = &HttpConnection::OnHeaderValue;
  settings_.on_headers_complete = &HttpConnection::OnHeadersComplete;
  settings_.on_body = &HttpConnection::OnBody;
  settings_.on_message_complete = &HttpConnection::OnMessageComplete;
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  parser_.data = this;
}

// ---- Input ----

void HttpConnection::OnAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  auto* self = static_cast<HttpConnection*>(handle->data);
  self->read_buffer_.resize(kReadChunk);
  *buf = uv_buf_init(self->read_buffer_.data(), static_cast<unsigned>(kReadChunk));
}

void HttpConnection::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<HttpConnection*>(stream->data);
  if (nread < 0) {
    if (self->busy_) {
      // The client hung up on an unanswered request: nobody will read the reply.
      self->Close();
    } else {
      self->CloseAfterWrites();
    }
    return;
  }
  if (nread == 0 || self->closing_ || self->shutting_down_) {
    return;
  }
  self->input_.append(buf->base, static_cast<size_t>(nread));
  if (self->input_.size() > kMaxBufferedInput && self->reading_) {
    self->reading_ = false;
    uv_read_stop(stream);
  }
  self->ProcessInput();
}

void HttpConnection::ProcessInput() {
  if (processing_) {
    return;  // the loop below picks up whatever changed
  }
  processing_ = true;
  while (!busy_ && !closing_ && !shutting_down_ && !input_.empty()) {
    std::string data = std::move(input_);
    input_.clear();
    llhttp_errno_t err = llhttp_execute(&parser_, data.data(), data.size());
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
      // Paused by OnMessageComplete: one whole request. Keep the rest for later.
      const char* pos = llhttp_get_error_pos(&parser_);
      if (pos != nullptr && pos >= data.data() && pos <= data.data() + data.size()) {
        input_.assign(pos, static_cast<size_t>(data.data() + data.size() - pos));
      }
      if (err == HPE_PAUSED_UPGRADE) {
        // We never upgrade; what follows is not HTTP any more, so answer and close.
        keep_alive_ = false;
        input_.clear();
      } else {
        llhttp_resume(&parser_);
      }
      busy_ = true;
      delegate_->OnRequest(this, request_);
      continue;
    }
    if (err != HPE_OK) {
      FailRequest(error_status_ != 0 ? error_status_ : 400);
      break;
    }
  }
  processing_ = false;
  if (!reading_ && !closing_ && !shutting_down_ && input_.size() <= kMaxBufferedInput) {
    reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &HttpConnection::OnAlloc,
                             &HttpConnection::OnRead) == 0;
  }
}

int HttpConnection::OnMessageBegin(llhttp_t* parser) {
  HttpConnection* self = Self(parser);
  self->request_ = HttpRequest();
  self->last_was_value_ = false;
  self->header_bytes_ = 0;
  self->error_status_ = 0;
  return 0;
}

int HttpConnection::OnUrl(llhttp_t* parser, const char* at, size_t length) {
  HttpConnection* self = Self(parser);
  self->header_bytes_ += length;
  if (self->header_bytes_ > kMaxHeaderBytes) {
    self->error_status_ = 431;
    return -1;
  }
  self->request_.url.append(at, length);
  return 0;
}

int HttpConnection::OnHeaderField(llhttp_t* parser, const char* at, size_t length) {
  HttpConnection* self = Self(parser);
  self->header_bytes_ += length;
  if (self->header_bytes_ > kMaxHeaderBytes) {
    self->error_status_ = 431;
    return -1;
  }
  auto& headers = self->request_.headers;
  if (headers.empty() || self->last_was_value_) {
    headers.emplace_back();
  }
  self->last_was_value_ = false;
  for (size_t i = 0; i < length; ++i) {
    headers.back().first.push_back(
        static_cast<char>(std::tolower(static_cast<unsigned char>(at[i]))));
  }
  return 0;
}

int HttpConnection::OnHeaderValue(llhttp_t* parser, const char* at, size_t length) {
  HttpConnection* self = Self(parser);
  self->header_bytes_ += length;
  if (self->header_bytes_ > kMaxHeaderBytes) {
    self->error_status_ = 431;
    return -1;
  }
  auto& headers = self->request_.headers;
  if (headers.empty()) {
    headers.emplace_back();
  }
  headers.back().second.append(at, length);
  self->last_was_value_ = true;
  return 0;
}

int HttpConnection::OnHeadersComplete(llhttp_t* parser) {
  HttpConnection* self = Self(parser);
  for (auto& header : self->request_.headers) {
    TrimTrailingSpace(&header.second);
  }
  self->request_.method = static_cast<llhttp_method_t>(llhttp_get_method(parser));
  if ((parser->flags & F_CONTENT_LENGTH) != 0 && parser->content_length > kMaxMessageBytes) {
    self->error_status_ = 413;
    return -1;
  }
  // curl sends "Expect: 100-continue" before large bodies and would otherwise wait a second.
  const std::string* expect = self->request_.Header("expect");
  if (expect != nullptr && (*expect == "100-continue" || *expect == "100-Continue") &&
      llhttp_get_http_minor(parser) >= 1) {
    self->Write("HTTP/1.1 100 Continue\r\n\r\n");
  }
  return 0;
}

int HttpConnection::OnBody(llhttp_t* parser, const char* at, size_t length) {
  HttpConnection* self = Self(parser);
  if (self->request_.body.size() + length > kMaxMessageBytes) {
    self->error_status_ = 413;
    return -1;
  }
  self->request_.body.append(at, length);
  return 0;
}

int HttpConnection::OnMessageComplete(llhttp_t* parser) {
  HttpConnection* self = Self(parser);
  self->keep_alive_ = llhttp_should_keep_alive(parser) != 0;
  self->http10_ = llhttp_get_http_major(parser) == 1 && llhttp_get_http_minor(parser) == 0;
  self->head_ = self->request_.method == HTTP_HEAD;
  // Stop here: the next pipelined request waits until this one is answered.
  return HPE_PAUSED;
}

void HttpConnection::FailRequest(int status) {
  busy_ = true;
  keep_alive_ = false;
  head_ = false;
  std::string body = std::string(Reason(status)) + "\n";
  SendResponse(status, {{"Content-Type", "text/plain"}}, body);
}

// ---- Output ----

void HttpConnection::SendResponse(int status, const HttpHeaders& headers, std::string_view body) {
  if (!busy_ || streaming_) {
    return;
  }
  std::string out = StatusLine(status);
  for (const auto& [name, value] : headers) {
    out += name + ": " + value + "\r\n";
  }
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (!keep_alive_) {
    out += "Connection: close\r\n";
  }
  out += "\r\n";
  if (!head_) {
    out.append(body);
  }
  Write(std::move(out));
  FinishExchange();
}

void HttpConnection::BeginStream(int status, const HttpHeaders& headers) {
  if (!busy_ || streaming_) {
    return;
  }
  streaming_ = true;
  std::string out = StatusLine(status);
  for (const auto& [name, value] : headers) {
    out += name + ": " + value + "\r\n";
  }
  if (http10_) {
    // HTTP/1.0 has no chunked encoding: the body ends when the connection does.
    keep_alive_ = false;
  } else {
    out += "Transfer-Encoding: chunked\r\n";
  }
  if (!keep_alive_) {
    out += "Connection: close\r\n";
  }
  out += "\r\n";
  Write(std::move(out));
}

void HttpConnection::WriteChunk(std::string_view data) {
  if (!streaming_ || data.empty() || head_) {
    return;
  }
  if (http10_) {
    Write(std::string(data));
    return;
  }
  char size[32];
  snprintf(size, sizeof(size), "%zx\r\n", data.size());
  std::string out = size;
  out.append(data);
  out += "\r\n";
  Write(std::move(out));
}

void HttpConnection::EndStream() {
  if (!streaming_) {
    return;
  }
  if (!http10_ && !head_) {
    Write("0\r\n\r\n");
  }
  streaming_ = false;
  FinishExchange();
}

void HttpConnection::FinishExchange() {
  busy_ = false;
  on_gone_ = nullptr;
  if (!keep_alive_) {
    CloseAfterWrites();
    return;
  }
  ProcessInput();
}

void HttpConnection::Write(std::string data) {
  if (closing_) {
    return;
  }
  auto* request = new WriteRequest;
  request->data = std::move(data);
  request->req.data = this;
  uv_buf_t buf = uv_buf_init(request->data.data(), static_cast<unsigned>(request->data.size()));
  if (uv_write(&request->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1,
               &HttpConnection::OnWrite) != 0) {
    delete request;
    Close();
  }
}

void HttpConnection::OnWrite(uv_write_t* req, int status) {
  auto* request = reinterpret_cast<WriteRequest*>(req);
  auto* self = static_cast<HttpConnection*>(req->data);
  delete request;
  if (status != 0) {
    self->Close();
  }
}

// ---- Closing ----

void HttpConnection::CloseAfterWrites() {
  if (closing_ || shutting_down_) {
    return;
  }
  shutting_down_ = true;
  if (reading_) {
    reading_ = false;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  }
  // The shutdown completes after every queued write, then the FIN goes out.
  if (uv_shutdown(&shutdown_, reinterpret_cast<uv_stream_t*>(&tcp_), &HttpConnection::OnShutdown) !=
      0) {
    Close();
  }
}

void HttpConnection::OnShutdown(uv_shutdown_t* req, int /*status*/) {
  static_cast<HttpConnection*>(req->data)->Close();
}

void HttpConnection::Close() {
  if (closing_) {
    return;
  }
  closing_ = true;
  if (on_gone_) {
    auto on_gone = std::move(on_gone_);
    on_gone_ = nullptr;
    on_gone();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &HttpConnection::OnClose);
}

void HttpConnection::OnClose(uv_handle_t* handle) {
  auto* self = static_cast<HttpConnection*>(handle->data);
  self->delegate_->OnConnectionClosed(self);
  delete self;
}

}  // namespace portcullis::example
