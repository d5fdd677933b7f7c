#include "gateway/example_server/slow_count.h"

#include <cmath>
#include <utility>

#include "gateway/example_server/catalog.h"

namespace portcullis::example {

namespace {

// JSON Schema's "integer" is about the value, so 3.0 counts as 3.
bool GetInteger(const rapidjson::Value& value, int64_t* out) {
  if (value.IsInt64()) {
    *out = value.GetInt64();
    return true;
  }
  if (value.IsDouble()) {
    double d = value.GetDouble();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
      *out = static_cast<int64_t>(d);
      return true;
    }
  }
  return false;
}

}  // namespace

bool SlowCount::ParseArgs(const rapidjson::Value& arguments, Args* args, std::string* error) {
  if (!arguments.IsObject()) {
    *error = "arguments must be an object";
    return false;
  }
  auto n = arguments.FindMember("n");
  if (n == arguments.MemberEnd() || !GetInteger(n->value, &args->n)) {
    *error = "n must be an integer";
    return false;
  }
  if (args->n < 1 || args->n > kMaxSlowCountSteps) {
    *error = "n must be between 1 and " + std::to_string(kMaxSlowCountSteps);
    return false;
  }
  args->interval_ms = kDefaultSlowCountIntervalMs;
  auto interval = arguments.FindMember("interval_ms");
  if (interval != arguments.MemberEnd()) {
    if (!GetInteger(interval->value, &args->interval_ms)) {
      *error = "interval_ms must be an integer";
      return false;
    }
    if (args->interval_ms < 0 || args->interval_ms > kMaxSlowCountIntervalMs) {
      *error = "interval_ms must be between 0 and " + std::to_string(kMaxSlowCountIntervalMs);
      return false;
    }
  }
  return true;
}

SlowCount::SlowCount(std::string id_json, Args args, std::unique_ptr<Responder> responder,
                     std::function<void()> on_done)
    : id_json_(std::move(id_json)),
      args_(args),
      responder_(std::move(responder)),
      on_done_(std::move(on_done)) {
  timer_.data = this;
}

SlowCount* SlowCount::Start(uv_loop_t* loop, std::string id_json, Args args,
                            const rapidjson::Value* progress_token,
                            std::unique_ptr<Responder> responder, std::function<void()> on_done) {
  auto* count = new SlowCount(std::move(id_json), args, std::move(responder), std::move(on_done));
  if (progress_token != nullptr) {
    count->progress_token_.CopyFrom(*progress_token, count->progress_token_.GetAllocator());
  }
  uv_timer_init(loop, &count->timer_);
  count->Arm();
  return count;
}

void SlowCount::Arm() {
  // At least 1 ms: libuv 1.44 runs a timer re-armed with 0 ms again in the same loop turn, which
  // would starve every other request for the whole count.
  uint64_t delay = args_.interval_ms > 0 ? static_cast<uint64_t>(args_.interval_ms) : 1;
  uv_timer_start(&timer_, &SlowCount::OnTimer, delay, 0);
}

void SlowCount::OnTimer(uv_timer_t* timer) { static_cast<SlowCount*>(timer->data)->Step(); }

void SlowCount::Step() {
  if (closing_) {
    return;
  }
  if (!responder_->open()) {
    // Nobody is listening any more; treat it as a cancellation.
    Finish();
    return;
  }
  ++count_;
  if (!progress_token_.IsNull()) {
    rapidjson::Document params(rapidjson::kObjectType);
    auto& alloc = params.GetAllocator();
    params.AddMember("progressToken", rapidjson::Value(progress_token_, alloc), alloc);
    params.AddMember("progress", count_, alloc);
    params.AddMember("total", args_.n, alloc);
    std::string message = "step " + std::to_string(count_) + " of " + std::to_string(args_.n);
    params.AddMember("message", rapidjson::Value(message.c_str(), alloc), alloc);
    responder_->Notify(MakeNotification("notifications/progress", params));
    if (closing_) {
      return;  // the write failed, the client is gone, and the owner cancelled us meanwhile
    }
  }
  if (count_ < args_.n) {
    Arm();
    return;
  }
  std::string text = "counted to " + std::to_string(args_.n);
  rapidjson::Document result(rapidjson::kObjectType);
  auto& alloc = result.GetAllocator();
  rapidjson::Value content(rapidjson::kArrayType);
  rapidjson::Value item(rapidjson::kObjectType);
  item.AddMember("type", "text", alloc);
  item.AddMember("text", rapidjson::Value(text.c_str(), alloc), alloc);
  content.PushBack(item, alloc);
  result.AddMember("content", content, alloc);
  result.AddMember("isError", false, alloc);
  responder_->Respond(MakeResult(id_json_, result));
  Finish();
}

void SlowCount::Finish() {
  if (on_done_) {
    auto on_done = std::move(on_done_);
    on_done_ = nullptr;
    on_done();
  }
  Cancel();
}

void SlowCount::Cancel() {
  if (closing_) {
    return;
  }
  closing_ = true;
  on_done_ = nullptr;
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &SlowCount::OnClose);
}

void SlowCount::OnClose(uv_handle_t* handle) {
  // Dropping the responder here ends an unanswered exchange (e.g. closes an SSE stream).
  delete static_cast<SlowCount*>(handle->data);
}

}  // namespace portcullis::example
