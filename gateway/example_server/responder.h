// Responder: where the protocol logic sends the messages that belong to one request, whatever
// the transport (a line on stdout, a JSON body, or events on an SSE response stream).
//
// A request gets zero or more Notify() calls followed by at most one Respond(); the handler owns
// the Responder until then and destroys it afterwards. Destroying it without Respond() means the
// request was cancelled: no reply is sent (MCP, "Cancellation"), the transport just ends the
// exchange. Used only on the loop thread that created it.
#pragma once

#include <string>

namespace portcullis::example {

class Responder {
 public:
  virtual ~Responder() = default;

  // A notification tied to this request (e.g. notifications/progress), as JSON text.
  virtual void Notify(std::string json) = 0;
  // The final response, as JSON text. Nothing may be sent after it.
  virtual void Respond(std::string json) = 0;
  // False once nobody can receive messages any more (the HTTP client went away); long
  // operations check it and stop, since an abandoned request is as good as cancelled.
  virtual bool open() const = 0;
};

}  // namespace portcullis::example
