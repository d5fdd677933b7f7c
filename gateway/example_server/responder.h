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

  // A message tied to this request other than its response, as JSON text: a notification
  // (e.g. notifications/progress) or a request of the server's to the client that the request
  // needs answered (e.g. elicitation/create).
  virtual void Notify(std::string json) = 0;
  // The final response, as JSON text. Nothing may be sent after it.
  virtual void Respond(std::string json) = 0;
  // False once nobody can receive messages any more (the HTTP client went away); long
  // operations check it and stop, since an abandoned request is as good as cancelled.
  virtual bool open() const = 0;
};

}  // namespace portcullis::example
