// Compression over real HTTP against the real engine: the console's files as the precompressed
// copies the console's build writes (web/precompress.mjs, run here with Node), chosen by
// Accept-Encoding, with their headers; large JSON answers gzipped, small ones not; the live
// stream never. Requests are sent and answers read as raw bytes (RawClient), so that what is
// checked is what went over the wire: no client adds or decodes a coding on the way.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "base/ascii.h"
#include "http/testing/decode.h"
#include "http/testing/raw_client.h"
#include "integration/engine_process.h"

namespace georep::testing {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

struct RawAnswer {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // as sent, still encoded
  bool has(const std::string& name) const { return headers.count(name) > 0; }
  std::string operator[](const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// Sends a request with exactly `headers` (and Host, Connection: close) and reads the answer
// until the engine closes the connection, or `until` is read (a stream that stays open).
RawAnswer Raw(int port, const std::string& method, const std::string& target,
              const std::vector<std::pair<std::string, std::string>>& headers,
              std::string_view until = {}) {
  RawClient c(port);
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& [n, v] : headers) req += n + ": " + v + "\r\n";
  c.Send(req + "\r\n");
  const std::string got = c.Read(20s, until);
  RawAnswer a;
  const size_t end = got.find("\r\n\r\n");
  if (end == std::string::npos) return a;
  std::istringstream head(got.substr(0, end));
  std::string line;
  std::getline(head, line);
  if (line.size() > 12) a.status = std::stoi(line.substr(9, 3));
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    a.headers[AsciiLower(line.substr(0, colon))] = value;
  }
  a.body = got.substr(end + 4);
  return a;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A console build's output in miniature: index.html, a script of a realistic size and a
// stylesheet, and the copies the console's build writes beside them.
class Compression : public ::testing::Test {
 protected:
  void SetUp() override {
    web_ = dir_.path() + "/web";
    std::filesystem::create_directories(web_ + "/assets");
    std::ofstream(web_ + "/index.html")
        << "<!doctype html><html lang=\"en\"><head><meta charset=\"UTF-8\" /><meta "
           "name=\"viewport\" content=\"width=device-width, initial-scale=1.0\" />"
           "<title>georep</title><script type=\"module\" crossorigin "
           "src=\"/assets/index-abc123.js\"></script><link rel=\"stylesheet\" crossorigin "
           "href=\"/assets/index-abc123.css\"></head><body><div id=\"root\"></div></body></html>";
    std::ofstream js(web_ + "/assets/index-abc123.js");
    for (int i = 0; i < 4000; ++i) {
      js << "export function render" << i << "(props){return h('div',{className:'pf-v5-c-card "
         << (i % 17) << "',key:" << i << "},props.children);}\n";
    }
    js.close();
    std::ofstream(web_ + "/assets/index-abc123.css") << ".pf-v5-c-card{display:flex}";
    auto built = RunCommand({GEOREP_NODE, GEOREP_PRECOMPRESS, web_});
    ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
    main_js_ = ReadFile(web_ + "/assets/index-abc123.js");
    ASSERT_GT(main_js_.size(), 100'000u);
    ASSERT_TRUE(std::filesystem::exists(web_ + "/assets/index-abc123.js.br"));
    ASSERT_TRUE(std::filesystem::exists(web_ + "/assets/index-abc123.js.gz"));
    ASSERT_TRUE(std::filesystem::exists(web_ + "/index.html.br"));
  }

  TempDir dir_;
  std::string web_;
  std::string main_js_;
};

TEST_F(Compression, TheMainScriptAsTheRequestAcceptsIt) {
  EngineProcess engine(dir_.path() + "/engine", {"--web-root", web_});
  ASSERT_TRUE(engine.Start()) << engine.output();
  const std::string br = ReadFile(web_ + "/assets/index-abc123.js.br");
  const std::string gz = ReadFile(web_ + "/assets/index-abc123.js.gz");
  ASSERT_LT(br.size(), gz.size());
  struct Case {
    std::optional<std::string> accept_encoding;  // nullopt: no field at all
    std::string coding;                          // "" : none
    const std::string* sent;
  } cases[] = {
      {"br", "br", &br},
      {"gzip", "gzip", &gz},
      {std::nullopt, "", &main_js_},
      {"br;q=0, gzip", "gzip", &gz},
      {"gzip, deflate, br, zstd", "br", &br},
  };
  for (const Case& c : cases) {
    const std::string label = c.accept_encoding.value_or("(no Accept-Encoding)");
    std::vector<std::pair<std::string, std::string>> h;
    if (c.accept_encoding) h.emplace_back("Accept-Encoding", *c.accept_encoding);
    RawAnswer a = Raw(engine.port(), "GET", "/assets/index-abc123.js", h);
    ASSERT_EQ(a.status, 200) << label;
    EXPECT_EQ(a["content-encoding"], c.coding) << label;
    EXPECT_EQ(a.has("content-encoding"), !c.coding.empty()) << label;
    EXPECT_EQ(a["content-type"], "text/javascript; charset=utf-8") << label;
    EXPECT_EQ(a["vary"], "Accept-Encoding") << label;
    EXPECT_EQ(a["cache-control"], "public, max-age=31536000, immutable") << label;
    EXPECT_EQ(a["content-length"], std::to_string(a.body.size())) << label;
    EXPECT_EQ(a.body.size(), c.sent->size()) << label;
    EXPECT_TRUE(a.body == *c.sent) << label << ": not the bytes of the file meant";
    const std::string decoded = c.coding == "br"     ? Unbrotli(a.body)
                                : c.coding == "gzip" ? Gunzip(a.body)
                                                     : a.body;
    EXPECT_TRUE(decoded == main_js_) << label << ": decoded, not the script";
  }

  // A Range request: the file itself, never a copy (the server sends all of it).
  RawAnswer range = Raw(engine.port(), "GET", "/assets/index-abc123.js",
                        {{"Accept-Encoding", "br, gzip"}, {"Range", "bytes=0-99"}});
  EXPECT_FALSE(range.has("content-encoding"));
  EXPECT_TRUE(range.body == main_js_);

  // HEAD: the length of what a GET would send, and no body.
  RawAnswer head =
      Raw(engine.port(), "HEAD", "/assets/index-abc123.js", {{"Accept-Encoding", "br"}});
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head["content-encoding"], "br");
  EXPECT_EQ(head["content-length"], std::to_string(br.size()));
  EXPECT_EQ(head.body, "");
}

TEST_F(Compression, IndexHtmlCompressedNotCachedAndRevalidatedByETag) {
  EngineProcess engine(dir_.path() + "/engine", {"--web-root", web_});
  ASSERT_TRUE(engine.Start()) << engine.output();
  const std::string index = ReadFile(web_ + "/index.html");
  // "/" and the console's own routes are index.html.
  for (const char* route : {"/", "/index.html", "/clusters/1/volumes"}) {
    RawAnswer a = Raw(engine.port(), "GET", route, {{"Accept-Encoding", "gzip, deflate, br"}});
    ASSERT_EQ(a.status, 200) << route;
    EXPECT_EQ(a["content-encoding"], "br") << route;
    EXPECT_EQ(a["content-type"], "text/html; charset=utf-8") << route;
    EXPECT_EQ(a["cache-control"], "no-cache") << route;
    EXPECT_EQ(a["vary"], "Accept-Encoding") << route;
    EXPECT_EQ(Unbrotli(a.body), index) << route;
    EXPECT_NE(a["content-security-policy"].find("frame-ancestors 'none'"), std::string::npos);
    // Revalidation: the same ETag is a 304 without a body.
    const std::string etag = a["etag"];
    ASSERT_FALSE(etag.empty()) << route;
    RawAnswer again = Raw(engine.port(), "GET", route,
                          {{"Accept-Encoding", "gzip, deflate, br"}, {"If-None-Match", etag}});
    EXPECT_EQ(again.status, 304) << route;
    EXPECT_EQ(again.body, "") << route;
    EXPECT_EQ(again["etag"], etag) << route;
    EXPECT_EQ(again["cache-control"], "no-cache") << route;
    // Another coding is another representation: not revalidated by the brotli copy's tag.
    RawAnswer plain = Raw(engine.port(), "GET", route, {{"If-None-Match", etag}});
    EXPECT_EQ(plain.status, 200) << route;
    EXPECT_EQ(plain.body, index) << route;
  }
}

TEST(CompressionApi, LargeJsonGzippedSmallJsonAndTheLiveStreamNot) {
  TempDir dir;
  EngineProcess engine(dir.path() + "/engine");
  ASSERT_TRUE(engine.Start()) << engine.output();
  const std::string token = engine.Login(engine.admin_password());
  ASSERT_FALSE(token.empty());
  for (int i = 0; i < 30; ++i) {
    auto r = engine.Post("/api/v1/clusters",
                         Json({{"name", "cluster-" + std::to_string(i)},
                               {"description", "a source cluster in the east data centre"}})
                             .dump(),
                         token);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
  }
  const std::pair<std::string, std::string> auth = {"Authorization", "Bearer " + token};

  RawAnswer plain = Raw(engine.port(), "GET", "/api/v1/clusters", {auth});
  ASSERT_EQ(plain.status, 200);
  ASSERT_GT(plain.body.size(), 1400u) << "a list large enough to be compressed";
  EXPECT_FALSE(plain.has("content-encoding"));
  EXPECT_EQ(plain["vary"], "Accept-Encoding") << "a client that accepts gzip gets another body";
  EXPECT_EQ(Json::parse(plain.body)["items"].size(), 30u);

  RawAnswer gz =
      Raw(engine.port(), "GET", "/api/v1/clusters", {auth, {"Accept-Encoding", "gzip, br"}});
  ASSERT_EQ(gz.status, 200);
  EXPECT_EQ(gz["content-encoding"], "gzip");
  EXPECT_EQ(gz["content-type"], "application/json");
  EXPECT_EQ(gz["vary"], "Accept-Encoding");
  EXPECT_EQ(gz["content-length"], std::to_string(gz.body.size()));
  EXPECT_LT(gz.body.size(), plain.body.size() / 3);
  EXPECT_EQ(Json::parse(Gunzip(gz.body)), Json::parse(plain.body));

  RawAnswer refused =
      Raw(engine.port(), "GET", "/api/v1/clusters", {auth, {"Accept-Encoding", "br, gzip;q=0"}});
  EXPECT_FALSE(refused.has("content-encoding")) << "gzip;q=0: not acceptable";
  EXPECT_EQ(Json::parse(refused.body), Json::parse(plain.body));

  // A small answer: not compressed, and it does not vary.
  RawAnswer me = Raw(engine.port(), "GET", "/api/v1/me", {auth, {"Accept-Encoding", "gzip"}});
  ASSERT_EQ(me.status, 200);
  ASSERT_LE(me.body.size(), 1400u);
  EXPECT_FALSE(me.has("content-encoding"));
  EXPECT_FALSE(me.has("vary"));
  EXPECT_EQ(Json::parse(me.body)["name"], "admin") << me.body;

  // The live stream: never compressed, whatever the client accepts (each event must reach it
  // as it is written).
  RawAnswer stream = Raw(engine.port(), "GET", "/api/v1/stream",
                         {auth, {"Accept-Encoding", "gzip, deflate, br"}}, "event: hello");
  ASSERT_EQ(stream.status, 200);
  EXPECT_EQ(stream["content-type"], "text/event-stream");
  EXPECT_FALSE(stream.has("content-encoding"));
  EXPECT_NE(stream.body.find("event: hello\ndata: {}"), std::string::npos) << stream.body;
}

}  // namespace
}  // namespace georep::testing
