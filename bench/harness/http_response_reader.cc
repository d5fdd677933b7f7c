#include "bench/harness/http_response_reader.h"

#include <strings.h>

#include <algorithm>

namespace portcullis::bench {
namespace {

HttpResponseReader* Self(llhttp_t* parser) {
  return static_cast<HttpResponseReader*>(parser->data);
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool IStartsWith(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && IEquals(text.substr(0, prefix.size()), prefix);
}

}  // namespace

HttpResponseReader::HttpResponseReader() {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = OnMessageBegin;
  settings_.on_header_field = OnHeaderField;
  settings_.on_header_value = OnHeaderValue;
  settings_.on_header_value_complete = OnHeaderValueComplete;
  settings_.on_headers_complete = OnHeadersComplete;
  settings_.on_body = OnBody;
  settings_.on_message_complete = OnMessageComplete;
  llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
  parser_.data = this;
}

int HttpResponseReader::OnMessageBegin(llhttp_t* parser) {
  Self(parser)->started_ = true;
  return 0;
}

int HttpResponseReader::OnHeaderField(llhttp_t* parser, const char* at, size_t length) {
  Self(parser)->field_.append(at, length);
  return 0;
}

int HttpResponseReader::OnHeaderValue(llhttp_t* parser, const char* at, size_t length) {
  Self(parser)->value_.append(at, length);
  return 0;
}

int HttpResponseReader::OnHeaderValueComplete(llhttp_t* parser) {
  HttpResponseReader* self = Self(parser);
  if (IEquals(self->field_, "Content-Type")) {
    self->response_.event_stream = IStartsWith(self->value_, "text/event-stream");
  } else if (IEquals(self->field_, "Mcp-Session-Id")) {
    self->response_.session_id = self->value_;
  }
  self->field_.clear();
  self->value_.clear();
  return 0;
}

int HttpResponseReader::OnHeadersComplete(llhttp_t* parser) {
  HttpResponseReader* self = Self(parser);
  self->response_.status = parser->status_code;
  self->response_.keep_alive = llhttp_should_keep_alive(parser) != 0;
  return 0;
}

int HttpResponseReader::OnBody(llhttp_t* parser, const char* at, size_t length) {
  HttpResponseReader* self = Self(parser);
  Response& r = self->response_;
  r.body_bytes += length;
  if (r.body.size() < kKeptBodyBytes) {
    r.body.append(at, std::min(length, kKeptBodyBytes - r.body.size()));
  }
  if (r.event_stream) {
    self->events_ += self->sse_.Feed(std::string_view(at, length));
  }
  return 0;
}

int HttpResponseReader::OnMessageComplete(llhttp_t* parser) {
  HttpResponseReader* self = Self(parser);
  self->complete_ = true;
  // keep-alive is final only now (a response delimited by the close is never kept alive).
  self->response_.keep_alive = self->response_.keep_alive && llhttp_should_keep_alive(parser);
  return HPE_PAUSED;  // one response per request: stop here until Next()
}

HttpResponseReader::FeedResult HttpResponseReader::Finish(llhttp_errno_t err) {
  FeedResult result;
  result.events = events_;
  events_ = 0;
  if (complete_) {
    result.state = State::kComplete;
  } else if (err != HPE_OK && err != HPE_PAUSED) {
    const char* reason = llhttp_get_error_reason(&parser_);
    error_ = std::string(llhttp_errno_name(err)) + ": " + (reason != nullptr ? reason : "");
    result.state = State::kError;
  }
  return result;
}

HttpResponseReader::FeedResult HttpResponseReader::Feed(std::string_view data) {
  if (complete_) {
    return Finish(HPE_OK);
  }
  return Finish(llhttp_execute(&parser_, data.data(), data.size()));
}

HttpResponseReader::FeedResult HttpResponseReader::FeedEof() {
  if (complete_) {
    return Finish(HPE_OK);
  }
  llhttp_errno_t err = llhttp_finish(&parser_);
  FeedResult result = Finish(err);
  if (result.state == State::kNeedMore) {
    result.state = State::kError;
    error_ = started_ ? "connection closed in the middle of a response"
                      : "connection closed before a response";
  }
  return result;
}

void HttpResponseReader::Next() {
  if (llhttp_get_errno(&parser_) == HPE_PAUSED) {
    llhttp_resume(&parser_);
  }
  response_ = Response();
  field_.clear();
  value_.clear();
  complete_ = false;
  started_ = false;
  events_ = 0;
  sse_ = SseEventCounter();
  error_.clear();
}

}  // namespace portcullis::bench
