#include "cli/client.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace georep {
namespace {

TEST(UrlEncode, KeepsOnlyTheUnreservedCharacters) {
  const std::string unreserved =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    const bool kept = unreserved.find(static_cast<char>(b)) != std::string::npos;
    char hex[4];
    std::snprintf(hex, sizeof hex, "%%%02X", b);
    // After a letter: "." alone is a dot segment, below.
    EXPECT_EQ(UrlEncode("x" + one), "x" + (kept ? one : std::string(hex))) << "byte " << b;
  }
}

TEST(UrlEncode, IdsAndNamesStayOneSegment) {
  EXPECT_EQ(UrlEncode("0f8c2a3e-5b1d-4c7e-9a60-2d4f1e7b8c90"),
            "0f8c2a3e-5b1d-4c7e-9a60-2d4f1e7b8c90");
  EXPECT_EQ(UrlEncode("src_localhost_/srv/dst"), "src_localhost_%2Fsrv%2Fdst");
  EXPECT_EQ(UrlEncode("gv0 dst1::gv1"), "gv0%20dst1%3A%3Agv1");
  EXPECT_EQ(UrlEncode("a?b#c&d=e+f%g"), "a%3Fb%23c%26d%3De%2Bf%25g");
  EXPECT_EQ(UrlEncode("g\xC3\xA9o"), "g%C3%A9o");
  EXPECT_EQ(UrlEncode(""), "");
  // A dot segment would climb out of the collection it names.
  EXPECT_EQ(UrlEncode("."), "%2E");
  EXPECT_EQ(UrlEncode(".."), "%2E%2E");
  EXPECT_EQ(UrlEncode("..."), "...");
  EXPECT_EQ(UrlEncode("v1.2"), "v1.2");
}

}  // namespace
}  // namespace georep
