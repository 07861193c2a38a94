#include "http/static_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

namespace georep {
namespace {

namespace fs = std::filesystem;

class StaticFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/georep-static-XXXXXX";
    base_ = ::mkdtemp(tmpl);
    fs::create_directories(base_ / "root/assets");
    std::ofstream(base_ / "root/index.html") << "<html>";
    std::ofstream(base_ / "root/assets/app-1.js") << "js";
    std::ofstream(base_ / "secret.db") << "SQLite format 3";
    fs::create_symlink(base_ / "secret.db", base_ / "root/assets/leak.js");
    // The main script and its copies (their bytes stand for brotli and gzip here).
    std::ofstream(base_ / "root/assets/main-abc.js") << "console.log('the main script');";
    std::ofstream(base_ / "root/assets/main-abc.js.br") << "BR";
    std::ofstream(base_ / "root/assets/main-abc.js.gz") << "GZ";
  }
  void TearDown() override { fs::remove_all(base_); }
  std::string root() const { return (base_ / "root").string(); }
  StaticFile Find(std::string_view path) const {
    auto f = FindStaticFile(root(), path);
    EXPECT_TRUE(f) << path;
    return f ? *f : StaticFile{};
  }
  static HttpRequest Get(std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest req;
    req.method = "GET";
    req.headers = std::move(headers);
    return req;
  }
  static std::string Header(const HttpResponse& res, std::string_view name) {
    for (const auto& [n, v] : res.headers)
      if (n == name) return v;
    return "";
  }
  void MakeOlder(const fs::path& p) {
    fs::last_write_time(p, fs::last_write_time(p) - std::chrono::hours(1));
  }
  fs::path base_;
};

TEST_F(StaticFileTest, FindsFilesUnderTheRootWithTheirMediaType) {
  auto js = FindStaticFile(root(), "/assets/app-1.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->path, fs::canonical(base_ / "root/assets/app-1.js").string());
  EXPECT_EQ(js->media_type, "text/javascript; charset=utf-8");
  auto html = FindStaticFile(root(), "/index.html");
  ASSERT_TRUE(html);
  EXPECT_EQ(html->media_type, "text/html; charset=utf-8");
}

TEST_F(StaticFileTest, NothingOutsideTheRootIsReachable) {
  EXPECT_FALSE(FindStaticFile(root(), "/../secret.db"));
  EXPECT_FALSE(FindStaticFile(root(), "/assets/../../secret.db"));
  EXPECT_FALSE(FindStaticFile(root(), "/assets/leak.js")) << "a symbolic link leading out";
  EXPECT_FALSE(FindStaticFile(root(), "//etc/passwd"));
  EXPECT_FALSE(FindStaticFile(root(), "/assets"));
  EXPECT_FALSE(FindStaticFile(root(), "/missing.js"));
  EXPECT_FALSE(FindStaticFile(root(), "/assets\\..\\..\\secret.db"));
}

TEST_F(StaticFileTest, ChoosesTheCopyTheRequestAccepts) {
  const StaticFile main = Find("/assets/main-abc.js");
  struct Case {
    const char* accept_encoding;
    ContentCoding coding;
    const char* suffix;
  } cases[] = {
      {"gzip, deflate, br, zstd", ContentCoding::kBrotli, ".br"},
      {"br", ContentCoding::kBrotli, ".br"},
      {"gzip", ContentCoding::kGzip, ".gz"},
      {"br;q=0, gzip", ContentCoding::kGzip, ".gz"},
      {"br;q=0.1, gzip;q=0.9", ContentCoding::kGzip, ".gz"},
      {"br;q=0, gzip;q=0", ContentCoding::kIdentity, ""},
      {"identity", ContentCoding::kIdentity, ""},
      {"deflate", ContentCoding::kIdentity, ""},
  };
  for (const Case& c : cases) {
    StaticVariant v = ChooseStaticVariant(main, Get({{"Accept-Encoding", c.accept_encoding}}));
    EXPECT_EQ(v.coding, c.coding) << c.accept_encoding;
    EXPECT_EQ(v.path, main.path + c.suffix) << c.accept_encoding;
    EXPECT_TRUE(v.varies) << c.accept_encoding;
  }
  StaticVariant none = ChooseStaticVariant(main, Get());
  EXPECT_EQ(none.coding, ContentCoding::kIdentity) << "no Accept-Encoding: the file";
  EXPECT_EQ(none.path, main.path);
  EXPECT_TRUE(none.varies);
}

TEST_F(StaticFileTest, NeverACopyForARangeRequest) {
  const StaticFile main = Find("/assets/main-abc.js");
  StaticVariant v =
      ChooseStaticVariant(main, Get({{"Accept-Encoding", "br, gzip"}, {"Range", "bytes=0-3"}}));
  EXPECT_EQ(v.coding, ContentCoding::kIdentity);
  EXPECT_EQ(v.path, main.path);
  EXPECT_TRUE(v.varies);
}

TEST_F(StaticFileTest, OnlyCopiesThatExistAreRegularBeneathTheRootAndNotStale) {
  const auto accept_all = Get({{"Accept-Encoding", "br, gzip"}});
  // No copies: the file, and the answer does not vary.
  StaticVariant plain = ChooseStaticVariant(Find("/assets/app-1.js"), accept_all);
  EXPECT_EQ(plain.coding, ContentCoding::kIdentity);
  EXPECT_FALSE(plain.varies);
  // Only a gzip copy.
  std::ofstream(base_ / "root/index.html.gz") << "GZ";
  EXPECT_EQ(ChooseStaticVariant(Find("/index.html"), accept_all).coding, ContentCoding::kGzip);
  // A copy that is a symbolic link leading out of the root, or a directory: not sent.
  fs::create_symlink(base_ / "secret.db", base_ / "root/assets/app-1.js.br");
  fs::create_directory(base_ / "root/assets/app-1.js.gz");
  plain = ChooseStaticVariant(Find("/assets/app-1.js"), accept_all);
  EXPECT_EQ(plain.coding, ContentCoding::kIdentity);
  EXPECT_FALSE(plain.varies);
  // A copy older than its file (left from an earlier build): not sent; the other one is.
  MakeOlder(base_ / "root/assets/main-abc.js.br");
  StaticVariant v = ChooseStaticVariant(Find("/assets/main-abc.js"), accept_all);
  EXPECT_EQ(v.coding, ContentCoding::kGzip);
  MakeOlder(base_ / "root/assets/main-abc.js.gz");
  v = ChooseStaticVariant(Find("/assets/main-abc.js"), accept_all);
  EXPECT_EQ(v.coding, ContentCoding::kIdentity);
  EXPECT_FALSE(v.varies);
}

TEST_F(StaticFileTest, ServesTheCopyWithTheFilesTypeItsCodingAndAnETagOfItsOwn) {
  const StaticFile main = Find("/assets/main-abc.js");
  HttpResponse br;
  ASSERT_TRUE(ServeStaticFile(main, Get({{"Accept-Encoding", "gzip, br"}}), br));
  EXPECT_EQ(br.status, 200);
  EXPECT_EQ(br.body, "BR");
  EXPECT_EQ(Header(br, "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(Header(br, "Content-Encoding"), "br");
  EXPECT_EQ(Header(br, "Vary"), "Accept-Encoding");
  HttpResponse gz;
  ASSERT_TRUE(ServeStaticFile(main, Get({{"Accept-Encoding", "gzip"}}), gz));
  EXPECT_EQ(gz.body, "GZ");
  EXPECT_EQ(Header(gz, "Content-Encoding"), "gzip");
  HttpResponse plain;
  ASSERT_TRUE(ServeStaticFile(main, Get(), plain));
  EXPECT_EQ(plain.body, "console.log('the main script');");
  EXPECT_FALSE(plain.has_header("Content-Encoding"));
  EXPECT_EQ(Header(plain, "Vary"), "Accept-Encoding");
  // Each representation its own strong ETag.
  const std::string tags[] = {Header(br, "ETag"), Header(gz, "ETag"), Header(plain, "ETag")};
  for (const auto& t : tags) {
    EXPECT_TRUE(t.size() > 2 && t.front() == '"' && t.back() == '"') << t;
  }
  EXPECT_NE(tags[0], tags[1]);
  EXPECT_NE(tags[0], tags[2]);
  EXPECT_NE(tags[1], tags[2]);
}

TEST_F(StaticFileTest, IfNoneMatchWithTheETagIsANotModifiedWithoutABody) {
  const StaticFile main = Find("/assets/main-abc.js");
  HttpResponse first;
  ASSERT_TRUE(ServeStaticFile(main, Get({{"Accept-Encoding", "br"}}), first));
  const std::string etag = Header(first, "ETag");
  for (const std::string& inm : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    HttpResponse again;
    ASSERT_TRUE(
        ServeStaticFile(main, Get({{"Accept-Encoding", "br"}, {"If-None-Match", inm}}), again));
    EXPECT_EQ(again.status, 304) << inm;
    EXPECT_EQ(again.body, "") << inm;
    EXPECT_EQ(Header(again, "ETag"), etag) << inm;
    EXPECT_EQ(Header(again, "Vary"), "Accept-Encoding") << inm;
  }
  // The brotli copy's tag does not revalidate the gzip copy, nor an older file.
  HttpResponse gz;
  ASSERT_TRUE(
      ServeStaticFile(main, Get({{"Accept-Encoding", "gzip"}, {"If-None-Match", etag}}), gz));
  EXPECT_EQ(gz.status, 200);
  EXPECT_EQ(gz.body, "GZ");
  std::ofstream(base_ / "root/assets/main-abc.js.br") << "BR, rebuilt";
  HttpResponse changed;
  ASSERT_TRUE(
      ServeStaticFile(main, Get({{"Accept-Encoding", "br"}, {"If-None-Match", etag}}), changed));
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(changed.body, "BR, rebuilt");
}

TEST_F(StaticFileTest, AFileRemovedSinceItWasFoundIsNotServed) {
  const StaticFile app = Find("/assets/app-1.js");
  fs::remove(base_ / "root/assets/app-1.js");
  HttpResponse res;
  EXPECT_FALSE(ServeStaticFile(app, Get(), res));
}

TEST(EtagMatches, WeakComparisonOverAList) {
  EXPECT_TRUE(EtagMatches("\"a-1\"", "\"a-1\""));
  EXPECT_TRUE(EtagMatches("W/\"a-1\"", "\"a-1\""));
  EXPECT_TRUE(EtagMatches("\"x\", W/\"y\" ,\"a-1\"", "\"a-1\""));
  EXPECT_TRUE(EtagMatches(" * ", "\"a-1\""));
  EXPECT_FALSE(EtagMatches("\"a-1-br\"", "\"a-1\""));
  EXPECT_FALSE(EtagMatches("\"a-\"", "\"a-1\""));
  EXPECT_FALSE(EtagMatches("a-1", "\"a-1\"")) << "not an entity tag";
  EXPECT_FALSE(EtagMatches("\"a-1", "\"a-1\""));
  EXPECT_FALSE(EtagMatches("", "\"a-1\""));
}

TEST(IsIpLiteral, TellsAddressesFromNames) {
  EXPECT_TRUE(IsIpLiteral("127.0.0.1"));
  EXPECT_TRUE(IsIpLiteral("::1"));
  EXPECT_TRUE(IsIpLiteral("fe80::1"));
  EXPECT_FALSE(IsIpLiteral("localhost"));
  EXPECT_FALSE(IsIpLiteral("127.0.0.1.evil.example"));
  EXPECT_FALSE(IsIpLiteral(""));
}

}  // namespace
}  // namespace georep
