#include "tests/support/http_client.h"

#include <llhttp.h>

#include <strings.h>
#include <algorithm>
#include <cctype>

namespace portcullis::testing {
namespace {

using Clock = std::chrono::steady_clock;

int MsLeft(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool HasHeaderNamed(const HeaderList& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return IEquals(h.first, name); });
}

}  // namespace

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) {
      return v;
    }
  }
  return std::nullopt;
}

std::vector<std::string> HttpResponse::HeaderValues(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) {
      out.push_back(v);
    }
  }
  return out;
}

namespace internal {

// llhttp in response mode, collecting one response. It pauses at the end of the response so
// the caller learns where that response stopped within the bytes fed.
class ResponseParser {
 public:
  explicit ResponseParser(bool head_request) : head_request_(head_request) {
    llhttp_settings_init(&settings_);
    settings_.on_status = [](llhttp_t* p, const char* at, size_t n) {
      Self(p)->response_.reason.append(at, n);
      return 0;
    };
    settings_.on_header_field = [](llhttp_t* p, const char* at, size_t n) {
      ResponseParser* self = Self(p);
      if (self->in_value_) {
        self->CommitHeader();
      }
      self->field_.append(at, n);
      return 0;
    };
    settings_.on_header_value = [](llhttp_t* p, const char* at, size_t n) {
      ResponseParser* self = Self(p);
      self->in_value_ = true;
      self->value_.append(at, n);
      return 0;
    };
    settings_.on_headers_complete = [](llhttp_t* p) {
      ResponseParser* self = Self(p);
      if (!self->field_.empty()) {
        self->CommitHeader();
      }
      self->response_.status = llhttp_get_status_code(p);
      int status = self->response_.status;
      self->interim_ = status >= 100 && status < 200 && status != 101;
      if (!self->interim_) {
        self->headers_complete_ = true;
      }
      // A response to HEAD has no body whatever its Content-Length says (RFC 9110 §9.3.2).
      return self->head_request_ ? 1 : 0;
    };
    settings_.on_body = [](llhttp_t* p, const char* at, size_t n) {
      Self(p)->response_.body.append(at, n);
      return 0;
    };
    settings_.on_message_complete = [](llhttp_t* p) {
      ResponseParser* self = Self(p);
      if (self->interim_) {
        // "100 Continue" and friends precede the real response: forget them.
        self->response_ = HttpResponse();
        self->interim_ = false;
        return 0;
      }
      self->message_complete_ = true;
      self->response_.keep_alive = llhttp_should_keep_alive(p) != 0;
      return static_cast<int>(HPE_PAUSED);
    };
    llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
    parser_.data = this;
  }

  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Feeds bytes; those past the end of the response land in *leftover.
  Status Feed(std::string_view data, std::string* leftover) {
    if (message_complete_) {
      leftover->append(data);
      return Status::Ok();
    }
    llhttp_errno_t err = llhttp_execute(&parser_, data.data(), data.size());
    if (err == HPE_OK) {
      return Status::Ok();
    }
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
      const char* pos = llhttp_get_error_pos(&parser_);
      size_t used = pos != nullptr ? static_cast<size_t>(pos - data.data()) : data.size();
      if (used < data.size()) {
        leftover->append(data.substr(used));
      }
      return Status::Ok();
    }
    return Status::Error(std::string("malformed HTTP response: ") + llhttp_errno_name(err) + ": " +
                         llhttp_get_error_reason(&parser_));
  }

  // The peer closed the connection.
  Status Finish() {
    if (message_complete_) {
      return Status::Ok();
    }
    llhttp_errno_t err = llhttp_finish(&parser_);
    if ((err == HPE_OK || err == HPE_PAUSED) && message_complete_) {
      return Status::Ok();
    }
    return Status::Error(std::string("connection closed before the HTTP response was complete") +
                         (headers_complete_
                              ? " (status " + std::to_string(response_.status) + ", " +
                                    std::to_string(response_.body.size()) + " body bytes)"
                              : " (no complete status line and headers)"));
  }

  bool headers_complete() const { return headers_complete_; }
  bool message_complete() const { return message_complete_; }
  const HttpResponse& response() const { return response_; }

 private:
  static ResponseParser* Self(llhttp_t* p) { return static_cast<ResponseParser*>(p->data); }

  void CommitHeader() {
    response_.headers.emplace_back(std::move(field_), std::move(value_));
    field_.clear();
    value_.clear();
    in_value_ = false;
  }

  llhttp_t parser_;
  llhttp_settings_t settings_;
  HttpResponse response_;
  std::string field_, value_;
  bool in_value_ = false;
  bool head_request_;
  bool interim_ = false;
  bool headers_complete_ = false;
  bool message_complete_ = false;
};

}  // namespace internal

std::string SerializeRequest(std::string_view method, std::string_view path,
                             const HeaderList& headers, std::string_view body) {
  std::string out;
  out.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
  if (!HasHeaderNamed(headers, "Host")) {
    out += "Host: localhost\r\n";
  }
  for (const auto& [k, v] : headers) {
    out.append(k).append(": ").append(v).append("\r\n");
  }
  bool wants_length = !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
  if (wants_length && !HasHeaderNamed(headers, "Content-Length") &&
      !HasHeaderNamed(headers, "Transfer-Encoding")) {
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  out += "\r\n";
  out.append(body);
  return out;
}

Result<HttpResponse> ReadResponse(ByteStream& stream, int timeout_ms, bool head_request) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  internal::ResponseParser parser(head_request);
  while (!parser.message_complete()) {
    Result<std::string> chunk = stream.Read(MsLeft(deadline));
    if (!chunk.ok()) {
      return Status::Error("reading HTTP response: " + chunk.error());
    }
    if (chunk->empty()) {
      if (Status s = parser.Finish(); !s.ok()) {
        return s;
      }
      break;
    }
    std::string leftover;
    if (Status s = parser.Feed(*chunk, &leftover); !s.ok()) {
      return s;
    }
    if (!leftover.empty()) {
      stream.PushBack(std::move(leftover));
    }
  }
  return parser.response();
}

Result<HttpResponse> Request(ByteStream& stream, std::string_view method, std::string_view path,
                             const HeaderList& headers, std::string_view body, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  if (Status s = stream.Write(SerializeRequest(method, path, headers, body)); !s.ok()) {
    return Status::Error("sending HTTP request: " + s.message());
  }
  return ReadResponse(stream, MsLeft(deadline), method == "HEAD");
}

// ---------------------------------------------------------------------------------------------
// SseReader

SseReader::SseReader(ByteStream& stream)
    : stream_(stream), parser_(std::make_unique<internal::ResponseParser>(false)) {}

SseReader::~SseReader() = default;

Result<std::unique_ptr<SseReader>> SseReader::Open(ByteStream& stream, std::string_view method,
                                                   std::string_view path, const HeaderList& headers,
                                                   std::string_view body, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  if (Status s = stream.Write(SerializeRequest(method, path, headers, body)); !s.ok()) {
    return Status::Error("sending HTTP request: " + s.message());
  }
  return FromStream(stream, MsLeft(deadline));
}

Result<std::unique_ptr<SseReader>> SseReader::FromStream(ByteStream& stream, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_ptr<SseReader> reader(new SseReader(stream));
  while (!reader->parser_->headers_complete()) {
    if (reader->parser_->message_complete()) {
      break;
    }
    if (Status s = reader->ReadMore(deadline, timeout_ms); !s.ok()) {
      return s;
    }
  }
  reader->response_ = reader->parser_->response();
  reader->response_.body.clear();
  return reader;
}

bool SseReader::is_event_stream() const {
  std::optional<std::string> type = response_.Header("Content-Type");
  if (!type) {
    return false;
  }
  std::string media = type->substr(0, type->find(';'));
  media.erase(
      std::remove_if(media.begin(), media.end(), [](unsigned char c) { return std::isspace(c); }),
      media.end());
  return IEquals(media, "text/event-stream");
}

bool SseReader::ended() const { return parser_->message_complete(); }

Status SseReader::ReadMore(Clock::time_point deadline, int timeout_ms) {
  Result<std::string> chunk = stream_.Read(MsLeft(deadline));
  Clock::time_point now = Clock::now();
  if (!chunk.ok()) {
    std::string what = chunk.error();
    if (what.find("timeout") != std::string::npos) {
      return Status::Error("SSE: timeout after " + std::to_string(timeout_ms) + " ms (" + what +
                           ")");
    }
    return Status::Error("SSE: " + what);
  }
  if (chunk->empty()) {
    if (Status s = parser_->Finish(); !s.ok()) {
      return s;
    }
  } else {
    std::string leftover;
    if (Status s = parser_->Feed(*chunk, &leftover); !s.ok()) {
      return s;
    }
    if (!leftover.empty()) {
      stream_.PushBack(std::move(leftover));
    }
  }
  const std::string& body = parser_->response().body;
  if (body.size() > body_seen_) {
    pending_.append(body, body_seen_, std::string::npos);
    body_seen_ = body.size();
  }
  ParseEvents(now);
  return Status::Ok();
}

// The line and event rules of the HTML Living Standard, "Interpreting an event stream".
void SseReader::ParseEvents(Clock::time_point now) {
  size_t start = 0;
  while (start < pending_.size()) {
    size_t eol = pending_.find_first_of("\r\n", start);
    if (eol == std::string::npos) {
      break;
    }
    size_t next = eol + 1;
    if (pending_[eol] == '\r') {
      if (eol + 1 == pending_.size() && !parser_->message_complete()) {
        break;  // a '\n' may follow in the next read
      }
      if (eol + 1 < pending_.size() && pending_[eol + 1] == '\n') {
        next = eol + 2;
      }
    }
    std::string_view line(pending_.data() + start, eol - start);
    start = next;
    if (line.empty()) {
      if (building_has_field_) {
        if (!building_.data.empty() && building_.data.back() == '\n') {
          building_.data.pop_back();
        }
        building_.arrived = now;
        ready_.push_back(std::move(building_));
      }
      building_ = SseEvent();
      building_has_field_ = false;
      continue;
    }
    if (line.front() == ':') {
      ++comments_;
      last_comment_ = std::string(line.substr(1));
      continue;
    }
    size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
    if (field == "data") {
      building_.data.append(value).append("\n");
      building_has_field_ = true;
    } else if (field == "event") {
      building_.event = std::string(value);
      building_has_field_ = true;
    } else if (field == "id") {
      if (value.find('\0') == std::string_view::npos) {
        building_.id = std::string(value);
        building_has_field_ = true;
      }
    }
    // "retry" and unknown fields are ignored.
  }
  pending_.erase(0, start);
}

Result<std::optional<SseEvent>> SseReader::Next(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (ready_.empty()) {
    if (parser_->message_complete()) {
      return std::optional<SseEvent>();
    }
    if (Status s = ReadMore(deadline, timeout_ms); !s.ok()) {
      return s;
    }
  }
  SseEvent event = std::move(ready_.front());
  ready_.pop_front();
  return std::optional<SseEvent>(std::move(event));
}

Result<std::string> SseReader::ReadBodyToEnd(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!parser_->message_complete()) {
    if (Status s = ReadMore(deadline, timeout_ms); !s.ok()) {
      return s;
    }
  }
  return parser_->response().body;
}

}  // namespace portcullis::testing
