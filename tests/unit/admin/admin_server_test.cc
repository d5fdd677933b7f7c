// AdminServer: the admin listener's HTTP handling on a real loopback socket, with its libuv
// loop on a thread of the test (as the Server runs it on its control thread).
#include "gateway/admin/admin_server.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <mutex>
#include <string>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/tls_client.h"

namespace portcullis::admin {
namespace {

using testing::RawSocket;

constexpr int kWaitMs = 5000;

// An AdminServer on its own loop and thread; the handler records what it saw.
class Harness {
 public:
  Status Start(AdminServer::Options options = AdminServer::Options(),
               const std::string& listen = "127.0.0.1:0") {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &stop_, OnStop);
    stop_.data = this;
    auto handler = [this](const AdminRequest& request) {
      std::lock_guard<std::mutex> lock(mu_);
      seen_ = request;
      AdminResponse response;
      response.body = "hello from " + request.path + "\n";
      response.content_type = "text/x-test";
      return response;
    };
    auto server = AdminServer::Start(&loop_, listen, handler, options);
    if (!server.ok()) {
      uv_close(reinterpret_cast<uv_handle_t*>(&stop_), nullptr);
      uv_run(&loop_, UV_RUN_DEFAULT);  // the failed listener's close callback
      uv_loop_close(&loop_);
      return server.status();
    }
    server_ = std::move(server).value();
    thread_ = std::thread([this] {
      uv_run(&loop_, UV_RUN_DEFAULT);
      uv_loop_close(&loop_);
    });
    return Status::Ok();
  }

  ~Harness() {
    if (thread_.joinable()) {
      uv_async_send(&stop_);
      thread_.join();
    }
  }

  uint16_t port() const { return server_->port(); }
  AdminRequest seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  static void OnStop(uv_async_t* async) {
    auto* self = static_cast<Harness*>(async->data);
    self->server_->Close();
    uv_close(reinterpret_cast<uv_handle_t*>(async), nullptr);
  }

  uv_loop_t loop_;
  uv_async_t stop_;
  std::unique_ptr<AdminServer> server_;
  std::thread thread_;
  std::mutex mu_;
  AdminRequest seen_;
};

Result<testing::HttpResponse> Get(uint16_t port, const std::string& method, const std::string& path,
                                  const testing::HeaderList& headers = {},
                                  const std::string& body = "") {
  auto socket = RawSocket::Connect("127.0.0.1", port, kWaitMs);
  if (!socket.ok()) {
    return socket.status();
  }
  return testing::Request(**socket, method, path, headers, body, kWaitMs);
}

TEST(AdminServer, AnswersGetThroughTheHandlerAndCloses) {
  Harness harness;
  ASSERT_TRUE(harness.Start().ok());
  ASSERT_NE(harness.port(), 0);
  auto response = Get(harness.port(), "GET", "/metrics?name=x");
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello from /metrics\n");
  EXPECT_EQ(response->Header("Content-Type"), "text/x-test");
  EXPECT_EQ(response->Header("Connection"), "close");
  EXPECT_FALSE(response->keep_alive);
  AdminRequest seen = harness.seen();
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.path, "/metrics");
  EXPECT_EQ(seen.query, "name=x");
}

TEST(AdminServer, HeadGetsTheHeadOnly) {
  Harness harness;
  ASSERT_TRUE(harness.Start().ok());
  auto socket = RawSocket::Connect("127.0.0.1", harness.port(), kWaitMs);
  ASSERT_TRUE(socket.ok()) << socket.error();
  ASSERT_TRUE((*socket)->WriteAll("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  auto all = (*socket)->ReadUntilClose(kWaitMs);
  ASSERT_TRUE(all.ok()) << all.error();
  EXPECT_EQ(all->rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << *all;
  EXPECT_NE(all->find("Content-Length: 20\r\n"), std::string::npos) << *all;
  EXPECT_EQ(all->substr(all->size() - 4), "\r\n\r\n") << "a body followed the head: " << *all;
}

TEST(AdminServer, RefusesOtherMethods) {
  Harness harness;
  ASSERT_TRUE(harness.Start().ok());
  for (const char* method : {"POST", "DELETE", "PUT"}) {
    auto response = Get(harness.port(), method, "/metrics", {}, "{}");
    ASSERT_TRUE(response.ok()) << response.error();
    EXPECT_EQ(response->status, 405) << method;
    EXPECT_EQ(response->Header("Allow"), "GET, HEAD");
  }
  EXPECT_EQ(harness.seen().path, "") << "the handler saw a refused request";
}

TEST(AdminServer, BoundsTheBody) {
  Harness harness;
  ASSERT_TRUE(harness.Start().ok());
  auto response =
      Get(harness.port(), "POST", "/metrics", {}, std::string(AdminServer::kMaxBodyBytes + 1, 'x'));
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 413);
}

TEST(AdminServer, BoundsTheRequestHead) {
  Harness harness;
  ASSERT_TRUE(harness.Start().ok());
  auto response = Get(harness.port(), "GET", "/metrics",
                      {{"X-Big", std::string(AdminServer::kMaxHeaderBytes, 'a')}});
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 431);
}

TEST(AdminServer, AnswersGarbageWith400) {
  Harness harness;
  ASSERT_TRUE(harness.Start().ok());
  auto socket = RawSocket::Connect("127.0.0.1", harness.port(), kWaitMs);
  ASSERT_TRUE(socket.ok()) << socket.error();
  ASSERT_TRUE((*socket)->WriteAll("GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n").ok());
  auto all = (*socket)->ReadUntilClose(kWaitMs);
  ASSERT_TRUE(all.ok()) << all.error();
  EXPECT_EQ(all->rfind("HTTP/1.1 400 ", 0), 0u) << *all;
}

TEST(AdminServer, DropsAnIdleConnectionAfterTheRequestTimeout) {
  Harness harness;
  AdminServer::Options options;
  options.request_timeout_ms = 100;
  ASSERT_TRUE(harness.Start(options).ok());
  auto socket = RawSocket::Connect("127.0.0.1", harness.port(), kWaitMs);
  ASSERT_TRUE(socket.ok()) << socket.error();
  ASSERT_TRUE((*socket)->WriteAll("GET /metr").ok());
  auto rest = (*socket)->ReadUntilClose(kWaitMs);
  ASSERT_TRUE(rest.ok()) << "not closed: " << rest.error();
  EXPECT_EQ(*rest, "");
}

TEST(AdminServer, APortInUseIsAnError) {
  Harness first;
  ASSERT_TRUE(first.Start().ok());
  Harness second;
  Status s = second.Start(AdminServer::Options(), "127.0.0.1:" + std::to_string(first.port()));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("address already in use"), std::string::npos) << s.message();
}

TEST(AdminServer, RejectsAMalformedAddress) {
  Harness harness;
  Status s = harness.Start(AdminServer::Options(), "127.0.0.1");
  EXPECT_FALSE(s.ok());
  s = harness.Start(AdminServer::Options(), "127.0.0.1:99999");
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace portcullis::admin
