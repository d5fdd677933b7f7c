// mcp-example-server: a small, real MCP server for demos and tests.
//
//   mcp-example-server                    MCP over stdio (one JSON-RPC message per line)
//   mcp-example-server --http HOST:PORT   MCP over Streamable HTTP on /mcp; port 0 picks one and
//                                         "listening on HOST:PORT" is printed on stderr
//
// Exits 0 on SIGTERM or SIGINT, and in stdio mode when stdin ends. main only wires the pieces.
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "gateway/example_server/http_server.h"
#include "gateway/example_server/stdio_transport.h"

namespace {

using portcullis::example::HttpServer;
using portcullis::example::StdioTransport;

void Usage(FILE* out) {
  fprintf(out,
          "usage: mcp-example-server [--http HOST:PORT]\n"
          "  without options: MCP over stdio (newline-delimited JSON-RPC on stdin/stdout)\n"
          "  --http HOST:PORT: MCP Streamable HTTP on /mcp (port 0 = any free port)\n");
}

struct App {
  uv_loop_t loop;
  uv_signal_t sigterm;
  uv_signal_t sigint;
  std::unique_ptr<StdioTransport> stdio;
  std::unique_ptr<HttpServer> http;
  bool stopping = false;

  void Stop() {
    if (stopping) {
      return;
    }
    stopping = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint), nullptr);
    if (stdio) {
      stdio->Close();
    }
    if (http) {
      http->Close();
    }
  }
};

void OnSignal(uv_signal_t* handle, int /*signum*/) { static_cast<App*>(handle->data)->Stop(); }

}  // namespace

int main(int argc, char** argv) {
  std::string http_address;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--http") == 0 && i + 1 < argc) {
      http_address = argv[++i];
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      Usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "mcp-example-server: unknown argument \"%s\"\n", argv[i]);
      Usage(stderr);
      return 2;
    }
  }
  // A client that goes away must show up as a write error, not kill the process.
  signal(SIGPIPE, SIG_IGN);

  App app;
  uv_loop_init(&app.loop);
  uv_signal_init(&app.loop, &app.sigterm);
  uv_signal_init(&app.loop, &app.sigint);
  app.sigterm.data = &app;
  app.sigint.data = &app;
  uv_signal_start(&app.sigterm, &OnSignal, SIGTERM);
  uv_signal_start(&app.sigint, &OnSignal, SIGINT);

  int exit_code = 0;
  if (!http_address.empty()) {
    auto server = HttpServer::Create(&app.loop, http_address);
    if (!server.ok()) {
      fprintf(stderr, "mcp-example-server: %s\n", server.error().c_str());
      exit_code = 1;
      app.Stop();
    } else {
      app.http = std::move(server.value());
      // Tests and scripts wait for exactly this line to learn the port.
      fprintf(stderr, "listening on %s\n", app.http->address().c_str());
      fflush(stderr);
    }
  } else {
    app.stdio = StdioTransport::Create(&app.loop, [&app]() { app.Stop(); });
  }

  uv_run(&app.loop, UV_RUN_DEFAULT);
  // Every handle should be closed by now; close any straggler so uv_loop_close succeeds.
  while (uv_loop_close(&app.loop) == UV_EBUSY) {
    uv_walk(
        &app.loop,
        [](uv_handle_t* handle, void*) {
          if (!uv_is_closing(handle)) {
            uv_close(handle, nullptr);
          }
        },
        nullptr);
    uv_run(&app.loop, UV_RUN_DEFAULT);
  }
  return exit_code;
}
