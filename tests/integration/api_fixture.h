// What the REST API's integration tests (api_test.cc, serve_test.cc) share: ApiTest, an engine
// (`georep serve`) on a loopback port with an admin logged in, on SQLite or on a fresh
// PostgreSQL database of the test server; and a fresh database of that server for tests that
// start engines of their own.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "integration/engine_process.h"

namespace georep::testing {

using Json = nlohmann::json;

// The JSON body of an answer.
Json Body(const httplib::Result& r);

// A new, empty PostgreSQL database on the test server; returns its URL, or why it failed.
std::string FreshPostgresDatabase(std::string* error);

// An engine with its admin's token, on the store GetParam() names ("sqlite" or "postgresql").
class ApiTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;

  // POSTs and expects 201; returns the created object.
  Json Create(const std::string& path, const Json& body);
  // The number of items GET `path` lists.
  size_t Count(const std::string& path);
  // cluster -> local host -> directory volume -> destination -> session
  Json MakeSession();

  TempDir data_;
  TempDir volumes_;  // the directory volumes' sources (outside the engine's data)
  std::string db_url_;
  std::vector<std::string> extra_;
  std::unique_ptr<EngineProcess> engine_;
  std::string token_;
};

}  // namespace georep::testing
