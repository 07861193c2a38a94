#include "api/routes.h"

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <functional>
#include <set>
#include <string>

#include "api/openapi.h"
#include "base/ascii.h"
#include "model/names.h"

namespace georep {
namespace {

std::set<std::string> DocumentedOperations(const nlohmann::json& doc) {
  std::set<std::string> documented;
  for (const auto& [path, ops] : doc["paths"].items())
    for (const auto& [method, op] : ops.items()) documented.insert(method + " " + path);
  return documented;
}

// The OpenAPI document and the route table name the same operations: none is served without
// being documented, none documented without a role.
TEST(Routes, TheDocumentAndTheTableNameTheSameOperations) {
  std::set<std::string> tabled;
  for (const auto& r : ApiRoutes()) {
    const std::string key = AsciiLower(r.method) + " " + r.path;
    EXPECT_TRUE(tabled.insert(key).second) << "listed twice: " << key;
  }
  EXPECT_EQ(DocumentedOperations(OpenApiDocument("test")), tabled);
  EXPECT_GE(tabled.size(), 55u);
}

// What the HTTP front registers with the server is what the document describes, route for
// route: a route served but not documented (or documented but not served) fails here.
TEST(OpenApi, EveryServedRouteIsDocumentedAndEveryDocumentedRouteServed) {
  std::set<std::string> served;
  BindApiRoutes(nullptr, [&](std::string_view method, const std::string& pattern, HttpHandler h) {
    ASSERT_TRUE(pattern.starts_with("/api/v1/")) << pattern;
    EXPECT_TRUE(h != nullptr) << pattern;
    const std::string key = AsciiLower(method) + " " + pattern.substr(7);
    EXPECT_TRUE(served.insert(key).second) << "served twice: " << key;
  });
  EXPECT_EQ(served, DocumentedOperations(OpenApiDocument("test")));
}

// Every schema an operation names is in the document, and so is each one a schema refers to.
TEST(OpenApi, EveryReferencedSchemaIsDefined) {
  const auto doc = OpenApiDocument("test");
  std::set<std::string> missing;
  std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& j) {
    if (j.is_object()) {
      if (j.contains("$ref")) {
        const std::string ref = j["$ref"];
        const std::string name = ref.substr(ref.rfind('/') + 1);
        if (!doc["components"]["schemas"].contains(name)) missing.insert(ref);
      }
      for (const auto& [k, v] : j.items()) walk(v);
    } else if (j.is_array()) {
      for (const auto& v : j) walk(v);
    }
  };
  walk(doc);
  EXPECT_TRUE(missing.empty()) << *missing.begin();
}

// Status fields are the enums the engine writes, so that clients can be typed by them.
TEST(OpenApi, StatusFieldsAreEnums) {
  const auto schemas = OpenApiDocument("test")["components"]["schemas"];
  EXPECT_EQ(schemas["Session"]["properties"]["status"]["enum"].size(), 8u);
  EXPECT_EQ(schemas["Session"]["properties"]["status"]["enum"][4], "Partial faulty");
  EXPECT_EQ(schemas["Host"]["properties"]["status"]["enum"].size(), 3u);
  EXPECT_EQ(schemas["SessionDetail"]["properties"]["allowed_actions"]["items"]["$ref"],
            "#/components/schemas/SessionActionAvailability");
}

TEST(Routes, TheDocumentSaysTheRoleOfEachOperation) {
  const auto doc = OpenApiDocument("test");
  for (const auto& r : ApiRoutes()) {
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
  for (const auto& r : ApiRoutes()) {
    if (!r.role) continue;
    const std::string path(r.path);
    // Users are an admin's to see; so are notifiers, whose URLs may be secrets themselves (a
    // chat service's incoming-webhook URL is the credential).
    if (r.method == "GET" && !path.starts_with("/users") && !path.starts_with("/notifiers")) {
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

// The web console's types are generated from web/openapi.json (scripts/build-web.sh): it is the
// engine's document, regenerated whenever the API changes (`georep_openapi > web/openapi.json`).
TEST(OpenApi, TheConsolesCopyIsTheEnginesDocument) {
  std::ifstream in(GEOREP_WEB_OPENAPI);
  ASSERT_TRUE(in) << GEOREP_WEB_OPENAPI;
  auto copy = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(copy.is_discarded()) << GEOREP_WEB_OPENAPI << " is not JSON";
  auto doc = OpenApiDocument("test");
  copy["info"].erase("version");
  doc["info"].erase("version");
  EXPECT_TRUE(copy == doc) << GEOREP_WEB_OPENAPI
                           << " differs from the engine's document: run "
                              "build/dev/src/georep_openapi > web/openapi.json";
}

}  // namespace
}  // namespace georep
