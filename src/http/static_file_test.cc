#include "http/static_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

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
  }
  void TearDown() override { fs::remove_all(base_); }
  std::string root() const { return (base_ / "root").string(); }
  fs::path base_;
};

TEST_F(StaticFileTest, ServesFilesUnderTheRootWithTheirMediaType) {
  auto js = ReadStaticFile(root(), "/assets/app-1.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->first, "js");
  EXPECT_EQ(js->second, "text/javascript; charset=utf-8");
  auto html = ReadStaticFile(root(), "/index.html");
  ASSERT_TRUE(html);
  EXPECT_EQ(html->second, "text/html; charset=utf-8");
}

TEST_F(StaticFileTest, NothingOutsideTheRootIsReachable) {
  EXPECT_FALSE(ReadStaticFile(root(), "/../secret.db"));
  EXPECT_FALSE(ReadStaticFile(root(), "/assets/../../secret.db"));
  EXPECT_FALSE(ReadStaticFile(root(), "/assets/leak.js")) << "a symbolic link leading out";
  EXPECT_FALSE(ReadStaticFile(root(), "//etc/passwd"));
  EXPECT_FALSE(ReadStaticFile(root(), "/assets"));
  EXPECT_FALSE(ReadStaticFile(root(), "/missing.js"));
  EXPECT_FALSE(ReadStaticFile(root(), "/assets\\..\\..\\secret.db"));
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
