// SlowCount: one running call of the slow_count tool. It counts 1..n on a libuv timer, sends a
// notifications/progress after each step when the request asked for progress, then the result.
//
// The loop is never blocked: each step is a timer callback, so other requests are served
// between steps. A SlowCount frees itself once its timer handle is closed (after it finishes or
// is cancelled); its owner keeps only a raw pointer, valid until it calls Cancel() or until the
// on_done callback runs. Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <rapidjson/document.h>

#include "gateway/example_server/json_rpc.h"
#include "gateway/example_server/responder.h"

namespace portcullis::example {

class SlowCount {
 public:
  struct Args {
    int64_t n = 0;
    int64_t interval_ms = 0;
  };

  // Reads and bounds-checks the tool arguments ({n, interval_ms}). On failure returns false
  // with a human-readable reason in *error.
  static bool ParseArgs(const rapidjson::Value& arguments, Args* args, std::string* error);

  // Starts counting for the request `id_json`. `progress_token` is the request's
  // params._meta.progressToken (a string or an integer) or nullptr for no progress reports.
  // `on_done` runs once, when the count ends by itself (not on Cancel()), before the reply is
  // dropped; the owner forgets its pointer there.
  static SlowCount* Start(uv_loop_t* loop, std::string id_json, Args args,
                          const rapidjson::Value* progress_token,
                          std::unique_ptr<Responder> responder, std::function<void()> on_done);

  // Stops without replying (the request was cancelled). The object is freed later, on the loop.
  void Cancel();

  SlowCount(const SlowCount&) = delete;
  SlowCount& operator=(const SlowCount&) = delete;

 private:
  SlowCount(std::string id_json, Args args, std::unique_ptr<Responder> responder,
            std::function<void()> on_done);
  ~SlowCount() = default;

  void Arm();
  void Step();
  void Finish();
  static void OnTimer(uv_timer_t* timer);
  static void OnClose(uv_handle_t* handle);

  uv_timer_t timer_;
  bool closing_ = false;
  std::string id_json_;
  Args args_;
  int64_t count_ = 0;
  rapidjson::Document progress_token_;  // null when no progress is wanted
  std::unique_ptr<Responder> responder_;
  std::function<void()> on_done_;
};

}  // namespace portcullis::example
