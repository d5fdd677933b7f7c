#include "gateway/http/request_parser.h"

namespace portcullis::http {
namespace {

RequestParser* Self(llhttp_t* p) { return static_cast<RequestParser*>(p->data); }

}  // namespace

RequestParser::RequestParser(RequestLimits limits) : limits_(limits) {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = OnMessageBegin;
  settings_.on_url = OnUrl;
  settings_.on_header_field = OnHeaderField;
  settings_.on_header_value = OnHeaderValue;
  settings_.on_headers_complete = OnHeadersComplete;
  settings_.on_body = OnBody;
  settings_.on_message_complete = OnMessageComplete;
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  parser_.data = this;
}

RequestParser::State RequestParser::Feed(const char* data, size_t len, size_t* consumed) {
  *consumed = 0;
  if (error_status_ != 0) return State::kError;
  if (len == 0) return State::kNeedMore;
  llhttp_errno_t err = llhttp_execute(&parser_, data, len);
  if (err == HPE_OK) {
    *consumed = len;
    return State::kNeedMore;
  }
  if (err == HPE_PAUSED) {
    *consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
    return State::kRequestReady;
  }
  if (error_status_ == 0) {
    // A framing error of llhttp's own: a malformed request line, header or chunk.
    error_status_ = err == HPE_INVALID_METHOD ? 501 : 400;
    error_reason_ = std::string(llhttp_errno_name(err)) + ": " + llhttp_get_error_reason(&parser_);
  }
  return State::kError;
}

void RequestParser::Resume() {
  llhttp_resume(&parser_);
  receiving_ = false;
}

int RequestParser::Reject(int status, std::string reason) {
  error_status_ = status;
  error_reason_ = std::move(reason);
  return -1;  // makes llhttp stop with HPE_CB_*
}

bool RequestParser::CountHeaderBytes(size_t len) {
  header_bytes_ += len;
  return header_bytes_ <= limits_.max_header_bytes;
}

int RequestParser::OnMessageBegin(llhttp_t* p) {
  RequestParser* self = Self(p);
  self->request_ = HttpRequest();
  self->header_bytes_ = 0;
  self->in_value_ = false;
  self->receiving_ = true;
  return 0;
}

int RequestParser::OnUrl(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (!self->CountHeaderBytes(len)) return self->Reject(414, "request target too long");
  self->request_.target.append(at, len);
  return 0;
}

int RequestParser::OnHeaderField(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (!self->CountHeaderBytes(len)) return self->Reject(431, "request headers too large");
  if (self->in_value_ || self->request_.headers.empty()) {
    self->request_.headers.emplace_back();
    self->in_value_ = false;
  }
  self->request_.headers.back().first.append(at, len);
  return 0;
}

int RequestParser::OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (!self->CountHeaderBytes(len)) return self->Reject(431, "request headers too large");
  self->in_value_ = true;
  self->request_.headers.back().second.append(at, len);
  return 0;
}

int RequestParser::OnHeadersComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  HttpRequest& r = self->request_;
  r.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
  size_t q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = r.target.substr(q + 1);
  r.keep_alive = llhttp_should_keep_alive(p) != 0;
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > self->limits_.max_body_bytes) {
    return self->Reject(413, "request body too large");
  }
  return 0;
}

int RequestParser::OnBody(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  // Chunked bodies have no length up front: count as they come.
  if (self->request_.body.size() + len > self->limits_.max_body_bytes) {
    return self->Reject(413, "request body too large");
  }
  self->request_.body.append(at, len);
  return 0;
}

int RequestParser::OnMessageComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  self->request_.keep_alive = llhttp_should_keep_alive(p) != 0;
  return HPE_PAUSED;
}

}  // namespace portcullis::http
