// The shared fixture of the REST API's integration tests (api_fixture.h).
#include "integration/api_fixture.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace georep::testing {

Json Body(const httplib::Result& r) {
  return Json::parse(r->body);
}

std::string FreshPostgresDatabase(std::string* error) {
  const char* file = std::getenv("GEOREP_TEST_POSTGRES_URL_FILE");
  if (!file) {
    *error = "GEOREP_TEST_POSTGRES_URL_FILE is not set";
    return "";
  }
  std::ifstream in(file);
  std::string base;
  std::getline(in, base);
  if (base.empty()) {
    *error = std::string("no URL in ") + file;
    return "";
  }
  PGconn* c = PQconnectdb(base.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    *error = PQerrorMessage(c);
    PQfinish(c);
    return "";
  }
  static int counter = 0;
  std::string name = "it_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) *error = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (!ok) return "";
  return base.substr(0, base.rfind('/') + 1) + name;
}

void ApiTest::SetUp() {
  if (GetParam() == "postgresql") {
    std::string why;
    db_url_ = FreshPostgresDatabase(&why);
    ASSERT_FALSE(db_url_.empty()) << "the test PostgreSQL server is required: " << why;
    extra_ = {"--db", db_url_};
  }
  // The tests' directory volumes: sources in their temporary directories (the engine checks
  // that a volume's directory exists), destinations under /srv (never created).
  extra_.insert(extra_.end(), {"--volume-root", "/srv", "--volume-root", "/tmp"});
  engine_ = std::make_unique<EngineProcess>(data_.path(), extra_);
  ASSERT_TRUE(engine_->Start()) << engine_->output();
  ASSERT_FALSE(engine_->admin_password().empty()) << engine_->output();
  token_ = engine_->Login(engine_->admin_password());
  ASSERT_FALSE(token_.empty());
}

Json ApiTest::Create(const std::string& path, const Json& body) {
  auto r = engine_->Post(path, body.dump(), token_);
  EXPECT_TRUE(r);
  if (!r) return {};
  EXPECT_EQ(r->status, 201) << r->body;
  return Body(r);
}

size_t ApiTest::Count(const std::string& path) {
  auto r = engine_->Get(path, token_);
  EXPECT_TRUE(r && r->status == 200);
  return r ? Body(r)["items"].size() : 0;
}

Json ApiTest::MakeSession() {
  Json c = Create("/api/v1/clusters", {{"name", "local"}});
  Json h = Create("/api/v1/clusters/" + c["id"].get<std::string>() + "/hosts",
                  {{"name", "localhost"}, {"transport", "local"}});
  const std::string source = volumes_.path() + "/src";
  std::filesystem::create_directories(source);
  Json v = Create("/api/v1/clusters/" + c["id"].get<std::string>() + "/volumes",
                  {{"name", "src"}, {"host_id", h["id"]}, {"path", source}});
  Json d = Create("/api/v1/clusters/" + c["id"].get<std::string>() + "/destinations",
                  {{"source_host_id", h["id"]}, {"host", "localhost"}});
  return Create("/api/v1/sessions", {{"destination_id", d["id"]},
                                     {"source_volume_id", v["id"]},
                                     {"destination_volume", "/srv/georep/dst"}});
}

}  // namespace georep::testing
