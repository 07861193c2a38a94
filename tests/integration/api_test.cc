// The REST API, end to end: the real georep binary on a loopback port, real HTTP requests,
// SQLite and PostgreSQL stores, crash (SIGKILL) and restart.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "integration/engine_process.h"

namespace georep::testing {
namespace {

using Json = nlohmann::json;

Json Body(const httplib::Result& r) {
  return Json::parse(r->body);
}

// A new, empty PostgreSQL database on the test server; returns its URL, or why it failed.
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

class ApiTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      std::string why;
      db_url_ = FreshPostgresDatabase(&why);
      ASSERT_FALSE(db_url_.empty()) << "the test PostgreSQL server is required: " << why;
      extra_ = {"--db", db_url_};
    }
    engine_ = std::make_unique<EngineProcess>(data_.path(), extra_);
    ASSERT_TRUE(engine_->Start()) << engine_->output();
    ASSERT_FALSE(engine_->admin_password().empty()) << engine_->output();
    token_ = engine_->Login(engine_->admin_password());
    ASSERT_FALSE(token_.empty());
  }

  // POSTs and expects 201; returns the created object.
  Json Create(const std::string& path, const Json& body) {
    auto r = engine_->Post(path, body.dump(), token_);
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 201) << r->body;
    return Body(r);
  }

  size_t Count(const std::string& path) {
    auto r = engine_->Get(path, token_);
    EXPECT_TRUE(r && r->status == 200);
    return r ? Body(r)["items"].size() : 0;
  }

  // cluster -> local host -> directory volume -> destination -> session
  Json MakeSession() {
    Json c = Create("/api/v1/clusters", {{"name", "local"}});
    Json h = Create("/api/v1/clusters/" + c["id"].get<std::string>() + "/hosts",
                    {{"name", "localhost"}, {"transport", "local"}});
    Json v = Create("/api/v1/clusters/" + c["id"].get<std::string>() + "/volumes",
                    {{"name", "src"}, {"host_id", h["id"]}, {"path", "/srv/georep/src"}});
    Json d = Create("/api/v1/clusters/" + c["id"].get<std::string>() + "/destinations",
                    {{"source_host_id", h["id"]}, {"host", "localhost"}});
    return Create("/api/v1/sessions", {{"destination_id", d["id"]},
                                       {"source_volume_id", v["id"]},
                                       {"destination_volume", "/srv/georep/dst"}});
  }

  TempDir data_;
  std::string db_url_;
  std::vector<std::string> extra_;
  std::unique_ptr<EngineProcess> engine_;
  std::string token_;
};

TEST_P(ApiTest, EverythingButHealthNeedsAToken) {
  auto health = engine_->Get("/api/v1/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(Body(health)["status"], "ok");

  for (const char* path : {"/api/v1/clusters", "/api/v1/sessions", "/api/v1/events",
                           "/api/v1/users", "/api/v1/me", "/api/v1/openapi.json"}) {
    auto r = engine_->Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << path;
    EXPECT_EQ(Body(r)["error"]["code"], "unauthenticated") << path;
    EXPECT_EQ(r->get_header_value("WWW-Authenticate").rfind("Bearer", 0), 0u);
    auto forged = engine_->Get(path, "grp_forgedtokenforgedtokenforgedtokenforgedtok");
    EXPECT_EQ(forged->status, 401) << path;
  }
  auto post = engine_->Post("/api/v1/clusters", R"({"name":"x"})");
  EXPECT_EQ(post->status, 401);
  EXPECT_EQ(Count("/api/v1/clusters"), 0u);  // the refused POST wrote nothing

  auto wrong = engine_->Post("/api/v1/auth/login", R"({"username":"admin","password":"nope"})");
  EXPECT_EQ(wrong->status, 401);
}

TEST_P(ApiTest, OpenApiDocumentDescribesTheApi) {
  auto r = engine_->Get("/api/v1/openapi.json", token_);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  Json doc = Body(r);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  for (const char* p : {"/clusters", "/clusters/{id}/destinations", "/sessions",
                        "/sessions/{id}/config/{key}", "/events", "/auth/login"}) {
    EXPECT_TRUE(doc["paths"].contains(p)) << p;
  }
}

TEST_P(ApiTest, BadInputIsA400WithAClearMessageAndWritesNothing) {
  struct Case {
    std::string path, body, words;
  };
  Json c = Create("/api/v1/clusters", {{"name", "local"}});
  const std::string cid = c["id"];
  Json h =
      Create("/api/v1/clusters/" + cid + "/hosts", {{"name", "localhost"}, {"transport", "local"}});
  const std::string hid = h["id"];
  std::vector<Case> cases = {
      {"/api/v1/clusters", R"({"name":"bad name;rm -rf"})", "invalid cluster name"},
      {"/api/v1/clusters", R"({"name":"ok","colour":"red"})", "unknown field 'colour'"},
      {"/api/v1/clusters", R"({not json)", "not valid JSON"},
      {"/api/v1/clusters/" + cid + "/hosts", R"({"name":"-bad-"})", "invalid host name"},
      {"/api/v1/clusters/" + cid + "/hosts", R"({"name":"h2","ssh_fingerprint":"MD5:00"})",
       "fingerprint"},
      {"/api/v1/clusters/" + cid + "/volumes",
       R"({"name":"v","host_id":")" + hid + R"(","path":"/srv/../etc"})", "normalised"},
      {"/api/v1/clusters/" + cid + "/volumes",
       R"({"name":"v","host_id":")" + hid + R"(","path":"relative"})", "absolute"},
      {"/api/v1/clusters/" + cid + "/volumes",
       R"({"name":"all","host_id":")" + hid + R"(","path":"/srv/a"})", "reserved"},
      {"/api/v1/clusters/" + cid + "/destinations",
       R"({"source_host_id":")" + hid + R"(","host":"bad host"})", "invalid destination host"},
  };
  for (const auto& k : cases) {
    auto r = engine_->Post(k.path, k.body, token_);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << k.body << " -> " << r->body;
    Json e = Body(r);
    EXPECT_EQ(e["error"]["code"], "invalid_argument");
    EXPECT_NE(e["error"]["message"].get<std::string>().find(k.words), std::string::npos)
        << e["error"]["message"];
  }
  EXPECT_EQ(Count("/api/v1/clusters"), 1u);
  EXPECT_EQ(Count("/api/v1/clusters/" + cid + "/hosts"), 1u);
  EXPECT_EQ(Count("/api/v1/clusters/" + cid + "/volumes"), 0u);
  EXPECT_EQ(Count("/api/v1/clusters/" + cid + "/destinations"), 0u);

  // Request-size limit.
  std::string huge = R"({"name":"x","description":")" + std::string(2 << 20, 'a') + R"("})";
  auto big = engine_->Post("/api/v1/clusters", huge, token_);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(Count("/api/v1/clusters"), 1u);

  auto missing = engine_->Get("/api/v1/sessions/does-not-exist", token_);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(Body(missing)["error"]["code"], "not_found");
}

TEST_P(ApiTest, SessionConfigAndEvents) {
  Json s = MakeSession();
  const std::string sid = s["id"];
  EXPECT_EQ(s["status"], "Created");
  ASSERT_EQ(s["nodes"].size(), 1u);
  EXPECT_EQ(s["nodes"][0]["status"], "Created");

  auto cfg = engine_->Get("/api/v1/sessions/" + sid + "/config", token_);
  ASSERT_EQ(cfg->status, 200);
  bool has_default = false;
  const Json items = Body(cfg)["items"];
  for (const auto& item : items) {
    if (item["key"] == "rescan-interval") {
      has_default =
          item["value"] == "3600" && item["default"] == "3600" && item["is_default"] == true;
      EXPECT_FALSE(item["description"].get<std::string>().empty());
    }
  }
  EXPECT_TRUE(has_default);

  auto set = engine_->Put("/api/v1/sessions/" + sid + "/config/rescan-interval",
                          R"({"value":"600"})", token_);
  ASSERT_EQ(set->status, 200) << set->body;
  EXPECT_EQ(Body(set)["value"], "600");
  EXPECT_EQ(Body(set)["changed_by"], "admin");
  auto bad = engine_->Put("/api/v1/sessions/" + sid + "/config/rescan-interval",
                          R"({"value":"lots"})", token_);
  EXPECT_EQ(bad->status, 400);
  auto reset = engine_->Delete("/api/v1/sessions/" + sid + "/config/rescan-interval", token_);
  EXPECT_EQ(reset->status, 204);

  auto events = engine_->Get("/api/v1/events?object_id=" + sid, token_);
  ASSERT_EQ(events->status, 200);
  std::vector<std::string> actions;
  const Json event_items = Body(events)["items"];
  for (const auto& e : event_items)
    actions.push_back(e["action"].get<std::string>() + ":" + e["result"].get<std::string>());
  EXPECT_EQ(actions,
            (std::vector<std::string>{"session.config.reset:ok", "session.config.set:failed",
                                      "session.config.set:ok", "session.create:ok"}));

  auto rm = engine_->Delete("/api/v1/sessions/" + sid, token_);
  EXPECT_EQ(rm->status, 204);
  EXPECT_EQ(Count("/api/v1/sessions"), 0u);
}

TEST_P(ApiTest, DataSurvivesSigkillAndRestart) {
  Json s = MakeSession();
  auto set =
      engine_->Put("/api/v1/sessions/" + s["id"].get<std::string>() + "/config/ignore-deletes",
                   R"({"value":"true"})", token_);
  ASSERT_EQ(set->status, 200);
  const std::string password = engine_->admin_password();

  engine_->Kill();  // no chance to flush or shut down cleanly
  engine_ = std::make_unique<EngineProcess>(data_.path(), extra_);
  ASSERT_TRUE(engine_->Start()) << engine_->output();
  EXPECT_TRUE(engine_->admin_password().empty()) << "a second admin password was printed";
  // The old token still works; the old password still works.
  auto me = engine_->Get("/api/v1/me", token_);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
  token_ = engine_->Login(password);
  ASSERT_FALSE(token_.empty());

  auto got = engine_->Get("/api/v1/sessions/" + s["id"].get<std::string>(), token_);
  ASSERT_EQ(got->status, 200);
  EXPECT_EQ(Body(got)["session_key"], s["session_key"]);
  auto cfg = engine_->Get("/api/v1/sessions/" + s["id"].get<std::string>() + "/config", token_);
  bool kept = false;
  const Json items = Body(cfg)["items"];
  for (const auto& item : items)
    if (item["key"] == "ignore-deletes") kept = item["value"] == "true";
  EXPECT_TRUE(kept);
  EXPECT_EQ(Count("/api/v1/clusters"), 1u);
}

TEST_P(ApiTest, SigtermShutsDownCleanly) {
  EXPECT_EQ(engine_->Terminate(), 0);
}

INSTANTIATE_TEST_SUITE_P(Stores, ApiTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

TEST(ServeSecurity, DataDirectoryAndDatabaseArePrivate) {
  TempDir dir;
  std::string data = dir.path() + "/engine";
  EngineProcess engine(data);
  ASSERT_TRUE(engine.Start()) << engine.output();
  struct stat st {};
  ASSERT_EQ(stat(data.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((data + "/georep.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
}

TEST(ServeSecurity, ListenAddressInUseIsAClearError) {
  TempDir a, b;
  EngineProcess first(a.path());
  ASSERT_TRUE(first.Start());
  auto r = RunCommand({GeorepBinary(), "serve", "--data", b.path(), "--listen",
                       "127.0.0.1:" + std::to_string(first.port())});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot listen on 127.0.0.1:" + std::to_string(first.port())),
            std::string::npos)
      << r.err;
}

TEST(ServeSecurity, UnreachableDatabaseIsAClearError) {
  TempDir d;
  auto r = RunCommand({GeorepBinary(), "serve", "--data", d.path(), "--db",
                       "postgresql://georep:topsecret@127.0.0.1:1/georep"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot connect to PostgreSQL"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("topsecret"), std::string::npos) << "password leaked: " << r.err;
}

}  // namespace
}  // namespace georep::testing

namespace georep::testing {
namespace {

TEST(ServeTls, ServesHttpsWithTheGivenCertificate) {
  TempDir dir;
  const std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
  auto gen = RunCommand({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                         "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                         "-addext", "subjectAltName=IP:127.0.0.1"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  EngineProcess engine(dir.path() + "/data", {"--tls-cert", cert, "--tls-key", key});
  ASSERT_TRUE(engine.Start()) << engine.output();
  EXPECT_EQ(engine.url().rfind("https://127.0.0.1:", 0), 0u) << engine.url();

  httplib::SSLClient tls("127.0.0.1", engine.port());
  tls.set_ca_cert_path(cert.c_str());
  tls.enable_server_certificate_verification(true);
  auto r = tls.Get("/api/v1/health");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);

  httplib::Client plain("127.0.0.1", engine.port());
  plain.set_connection_timeout(2, 0);
  plain.set_read_timeout(2, 0);
  auto p = plain.Get("/api/v1/health");
  EXPECT_TRUE(!p || p->status != 200) << "plain HTTP must not be served on the TLS port";
}

TEST(ServeTls, MissingCertificateIsAClearError) {
  TempDir dir;
  auto r =
      RunCommand({GeorepBinary(), "serve", "--data", dir.path() + "/d", "--listen", "127.0.0.1:0",
                  "--tls-cert", dir.path() + "/nope.pem", "--tls-key", dir.path() + "/nope.key"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("certificate or key could not be loaded"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace georep::testing
