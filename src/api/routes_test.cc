#include "api/routes.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>

#include "api/openapi.h"
#include "base/ascii.h"
#include "model/names.h"

namespace georep {
namespace {

// The OpenAPI document and the route table name the same operations: none is served without
// being documented, none documented without a role.
TEST(Routes, TheDocumentAndTheTableNameTheSameOperations) {
  const auto doc = OpenApiDocument("test");
  std::set<std::string> documented, tabled;
  for (const auto& [path, ops] : doc["paths"].items())
    for (const auto& [method, op] : ops.items()) documented.insert(method + " " + path);
  for (const auto& r : RouteRoles()) {
    const std::string key = AsciiLower(r.method) + " " + std::string(r.path);
    EXPECT_TRUE(tabled.insert(key).second) << "listed twice: " << key;
  }
  EXPECT_EQ(documented, tabled);
  EXPECT_GE(tabled.size(), 55u);
}

TEST(Routes, TheDocumentSaysTheRoleOfEachOperation) {
  const auto doc = OpenApiDocument("test");
  for (const auto& r : RouteRoles()) {
    const auto& op = doc["paths"][std::string(r.path)][AsciiLower(r.method)];
    if (!r.role) {
      EXPECT_FALSE(op.contains("x-georep-role")) << r.path;
      EXPECT_TRUE(op["security"].empty()) << r.path;
      continue;
    }
    EXPECT_EQ(op["x-georep-role"], std::string(Name(*r.role))) << r.method << " " << r.path;
    EXPECT_TRUE(op["responses"].contains("403")) << r.path;
  }
}

// What each role is for (issue: viewer reads, operator runs sessions, admin shapes them).
TEST(Routes, ReadsAreForViewersCommandsForAdmins) {
  for (const auto& r : RouteRoles()) {
    if (!r.role) continue;
    const std::string path(r.path);
    if (r.method == "GET" && !path.starts_with("/users")) {
      EXPECT_EQ(*r.role, Role::kViewer) << path;
    }
    if (path.find("config") != std::string::npos && r.method != "GET" && r.method != "PUT") {
      EXPECT_EQ(*r.role, Role::kAdmin) << r.method << " " << path;
    }
    const bool shapes = path == "/sessions" || path.starts_with("/clusters") ||
                        path.starts_with("/users/{id}/role") || path == "/users" ||
                        path == "/host-keys/scan";
    if (shapes && r.method != "GET") {
      EXPECT_EQ(*r.role, Role::kAdmin) << r.method << " " << path;
    }
  }
  ASSERT_NE(FindRoute("POST", "/sessions/{id}/start"), nullptr);
  EXPECT_EQ(*FindRoute("POST", "/sessions/{id}/start")->role, Role::kOperator);
  EXPECT_EQ(FindRoute("GET", "/nope"), nullptr);
}

}  // namespace
}  // namespace georep
