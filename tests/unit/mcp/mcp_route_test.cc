#include "gateway/mcp/mcp_route.h"

#include <gtest/gtest.h>

namespace portcullis::mcp {
namespace {

TEST(McpRoute, NamesTheTransportAndTheUpstream) {
  EXPECT_EQ(MatchRoute("/mcp/files").kind, Route::Kind::kStreamableHttp);
  EXPECT_EQ(MatchRoute("/mcp/files/").upstream, "files");
  Route sse = MatchRoute("/sse/files");
  EXPECT_EQ(sse.kind, Route::Kind::kLegacySse);
  EXPECT_EQ(sse.upstream, "files");
  Route messages = MatchRoute("/messages/a.b-c_d");
  EXPECT_EQ(messages.kind, Route::Kind::kLegacyMessages);
  EXPECT_EQ(messages.upstream, "a.b-c_d");
}

TEST(McpRoute, RefusesOddPaths) {
  for (const char* path : {"/", "/mcp", "/mcp/", "/mcp/..", "/mcp/.", "/sse/", "/messages/a/b",
                           "/mcp/a%2fb", "/other/files", "/MCP/files", "/sse/a b"}) {
    EXPECT_EQ(MatchRoute(path).kind, Route::Kind::kNotFound) << path;
  }
}

TEST(McpRoute, ReadsAndDecodesQueryParameters) {
  EXPECT_EQ(QueryParameter("sessionId=abc", "sessionId"), "abc");
  EXPECT_EQ(QueryParameter("a=1&sessionId=x%2Dy+z&b=2", "sessionId"), "x-y z");
  EXPECT_EQ(QueryParameter("sessionId=", "sessionId"), "");
  EXPECT_EQ(QueryParameter("sessionId", "sessionId"), "");
  EXPECT_EQ(QueryParameter("session=1", "sessionId"), std::nullopt);
  EXPECT_EQ(QueryParameter("", "sessionId"), std::nullopt);
  EXPECT_EQ(QueryParameter("sessionId=%zz", "sessionId"), std::nullopt);
  EXPECT_EQ(QueryParameter("sessionId=%4", "sessionId"), std::nullopt);
  EXPECT_EQ(QueryParameter("x=1&&sessionId=q", "sessionId"), "q");
}

}  // namespace
}  // namespace portcullis::mcp
