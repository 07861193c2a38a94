#include "http/router.h"

#include <gtest/gtest.h>

namespace georep {
namespace {

// A router whose handlers write their name into the response body.
Router Named(const std::vector<std::tuple<std::string, std::string, std::string>>& routes) {
  Router r;
  for (const auto& [method, pattern, name] : routes)
    r.Add(method, pattern, [name](const HttpRequest&, HttpResponse& res) { res.body = name; });
  return r;
}

std::string Called(const Router::Found& f) {
  if (f.handler == nullptr) return "";
  HttpResponse res;
  (*f.handler)(HttpRequest{}, res);
  return res.body;
}

TEST(Router, PlaceholdersCaptureDecodedSegments) {
  Router r = Named({{"GET", "/api/v1/sessions/{id}/config/{key}", "config"}});
  auto f = r.Find("GET", "/api/v1/sessions/s%201/config/sync-jobs?x=1");
  EXPECT_EQ(Called(f), "config");
  EXPECT_EQ(f.captures, (std::vector<std::string>{"s 1", "sync-jobs"}));
}

TEST(Router, LiteralSegmentsWinOverPlaceholders) {
  Router r = Named(
      {{"GET", "/api/v1/sessions/{id}", "one"}, {"GET", "/api/v1/sessions/stream", "stream"}});
  EXPECT_EQ(Called(r.Find("GET", "/api/v1/sessions/stream")), "stream");
  EXPECT_EQ(Called(r.Find("GET", "/api/v1/sessions/abc")), "one");
}

TEST(Router, EmptySegmentDoesNotMatchAPlaceholder) {
  Router r = Named({{"GET", "/api/v1/sessions/{id}", "one"}});
  EXPECT_EQ(r.Find("GET", "/api/v1/sessions/").handler, nullptr);
}

TEST(Router, OtherMethodsOfAPathAreNamedForA405) {
  Router r = Named(
      {{"GET", "/x/{id}", "get"}, {"DELETE", "/x/{id}", "delete"}, {"PUT", "/x/{id}", "put"}});
  auto f = r.Find("POST", "/x/1");
  EXPECT_EQ(f.handler, nullptr);
  EXPECT_EQ(f.allow, "GET, DELETE, PUT");
  EXPECT_EQ(Called(r.Find("HEAD", "/x/1")), "get");
  EXPECT_EQ(r.Find("GET", "/y").allow, "");
}

TEST(Router, RoutesListsWhatWasRegistered) {
  Router r = Named({{"GET", "/a/{id}", "a"}, {"POST", "/b", "b"}});
  EXPECT_EQ(r.Routes(),
            (std::vector<std::pair<std::string, std::string>>{{"GET", "/a/{id}"}, {"POST", "/b"}}));
}

}  // namespace
}  // namespace georep
