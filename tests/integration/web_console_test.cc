// The engine serving the web console and its live stream, over real HTTP: the built assets and
// the console's own routes, the headers that protect the pages, server-sent events telling a
// change as it happens. (The console itself, in a browser: tests/e2e.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "integration/engine_process.h"

namespace georep::testing {
namespace {

using Json = nlohmann::json;

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

TEST(WebConsole, ServesTheBuiltConsoleAndItsRoutesWithProtectiveHeaders) {
  TempDir dir;
  const std::string web = dir.path() + "/web";
  Write(web + "/index.html", "<!doctype html><title>georep</title><div id=root></div>");
  Write(web + "/assets/index-abc123.js", "console.log('georep');");
  EngineProcess engine(dir.path() + "/engine", {"--web-root", web});
  ASSERT_TRUE(engine.Start()) << engine.output();
  EXPECT_NE(engine.output().find("Web console: " + engine.url() + "/"), std::string::npos)
      << engine.output();

  for (const char* route : {"/", "/clusters", "/volumes/1234/sessions", "/sessions/x"}) {
    auto r = engine.Get(route);
    ASSERT_TRUE(r) << route;
    EXPECT_EQ(r->status, 200) << route;
    EXPECT_NE(r->body.find("<div id=root>"), std::string::npos) << route;
    EXPECT_EQ(r->get_header_value("Content-Type").rfind("text/html", 0), 0u) << route;
    EXPECT_NE(r->get_header_value("Content-Security-Policy").find("frame-ancestors 'none'"),
              std::string::npos)
        << route;
    EXPECT_EQ(r->get_header_value("X-Frame-Options"), "DENY") << route;
    EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff") << route;
  }
  auto js = engine.Get("/assets/index-abc123.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->body, "console.log('georep');");
  EXPECT_NE(js->get_header_value("Content-Type").find("javascript"), std::string::npos);
  EXPECT_NE(js->get_header_value("Cache-Control").find("immutable"), std::string::npos);

  // The API keeps its own answers: an unknown endpoint is a JSON 404, not the console.
  auto api = engine.Get("/api/v1/no-such-thing");
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 404);
  EXPECT_NE(api->body.find("no such endpoint"), std::string::npos) << api->body;
  // Nothing outside the web root is served.
  auto outside = engine.Get("/../engine/georep.db");
  ASSERT_TRUE(outside);
  EXPECT_EQ(outside->body.find("SQLite"), std::string::npos);
}

TEST(WebConsole, WithoutBuiltAssetsTheApiStillServes) {
  TempDir dir;
  EngineProcess engine(dir.path() + "/engine", {"--web-root", dir.path() + "/missing"});
  ASSERT_TRUE(engine.Start()) << engine.output();
  auto health = engine.Get("/api/v1/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(engine.output().find("Web console:"), std::string::npos) << engine.output();
}

TEST(LiveStream, NeedsATokenThenTellsAChangeAsItHappens) {
  TempDir dir;
  EngineProcess engine(dir.path() + "/engine");
  ASSERT_TRUE(engine.Start()) << engine.output();
  auto anonymous = engine.Get("/api/v1/stream");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  const std::string token = engine.Login(engine.admin_password());
  ASSERT_FALSE(token.empty());

  std::string received;
  std::atomic<bool> seen_hello{false};
  std::atomic<bool> seen_audit{false};
  std::thread reader([&] {
    httplib::Client c("127.0.0.1", engine.port());
    c.set_read_timeout(20, 0);
    httplib::Headers h = {{"Authorization", "Bearer " + token}};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    c.Get("/api/v1/stream", h, [&](const char* data, size_t n) {
      received.append(data, n);
      if (received.find("event: hello") != std::string::npos) seen_hello = true;
      if (received.find("\"action\":\"cluster.create\"") != std::string::npos) seen_audit = true;
      return !seen_audit && std::chrono::steady_clock::now() < deadline;
    });
  });
  for (int i = 0; i < 100 && !seen_hello; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(seen_hello);
  auto created = engine.Post("/api/v1/clusters", R"({"name":"east"})", token);
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 201);
  reader.join();
  EXPECT_TRUE(seen_audit) << received;
  // Each event is the audit record as the API shows it.
  Json created_event;
  for (size_t at = received.find("event: audit\ndata: "); at != std::string::npos;
       at = received.find("event: audit\ndata: ", at + 1)) {
    const size_t from = at + 19;
    Json ev = Json::parse(received.substr(from, received.find('\n', from) - from));
    if (ev["action"] == "cluster.create") created_event = ev;
  }
  ASSERT_TRUE(created_event.is_object()) << received;
  EXPECT_EQ(created_event["actor"], "admin");
  EXPECT_EQ(created_event["object_id"], Json::parse(created->body)["id"]);

  // The lag/throughput history: an unknown session is a 404 like everywhere else.
  auto metrics = engine.Get("/api/v1/sessions/nope/metrics", token);
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 404);
}

TEST(LiveStream, AnOpenStreamDoesNotHoldUpShutdown) {
  TempDir dir;
  EngineProcess engine(dir.path() + "/engine");
  ASSERT_TRUE(engine.Start()) << engine.output();
  const std::string token = engine.Login(engine.admin_password());
  std::atomic<bool> open{false};
  std::thread reader([&] {
    httplib::Client c("127.0.0.1", engine.port());
    c.set_read_timeout(60, 0);
    c.Get("/api/v1/stream", {{"Authorization", "Bearer " + token}}, [&](const char*, size_t) {
      open = true;
      return true;
    });
  });
  for (int i = 0; i < 100 && !open; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(open);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(engine.Terminate(), 0);
  reader.join();  // the engine ended the stream
  // Well under the stream's 15 s keep-alive: Stop() closes streams instead of waiting them out.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

}  // namespace
}  // namespace georep::testing
