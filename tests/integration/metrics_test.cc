// GET /metrics against the real engine: a viewer's API token (a scrape token) reads every
// session, node and destination and the engine's own health in the Prometheus text format,
// each line read back strictly; no token, a wrong one or a revoked one reads nothing; a standby
// shows only itself. promtool (Debian's prometheus package) checks the scrape, the shipped
// alerting rules with their tests, and the shipped dashboard's queries.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "api/test_support/prometheus_page.h"
#include "integration/api_fixture.h"
#include "integration/replication_fixtures.h"

namespace georep::testing {
namespace {

constexpr const char* kPromtool = "/usr/bin/promtool";
const std::string kDocs = GEOREP_PROMETHEUS_DOCS;

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A viewer, as an administrator makes one for Prometheus, and an API token of theirs: what a
// scrape config's credentials_file holds.
std::string ScrapeToken(EngineProcess& engine, const std::string& admin_token) {
  auto user = engine.Post(
      "/api/v1/users",
      Json{{"name", "prometheus"}, {"password", "a long scrape password"}, {"role", "viewer"}}
          .dump(),
      admin_token);
  EXPECT_TRUE(user && user->status == 201) << (user ? user->body : "no answer");
  auto login =
      engine.Post("/api/v1/auth/login",
                  Json{{"username", "prometheus"}, {"password", "a long scrape password"}}.dump());
  EXPECT_TRUE(login && login->status == 200) << (login ? login->body : "no answer");
  if (!login || login->status != 200) return "";
  const std::string viewer = Body(login)["token"];
  auto issued =
      engine.Post("/api/v1/tokens", Json{{"name", "scrape"}, {"ttl_seconds", 3600}}.dump(), viewer);
  EXPECT_TRUE(issued && issued->status == 201) << (issued ? issued->body : "no answer");
  return issued && issued->status == 201 ? Body(issued)["token"].get<std::string>() : "";
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    started_ = NowSeconds();
    ASSERT_NO_FATAL_FAILURE(es_.Start("1"));
    scrape_ = ScrapeToken(*es_.engine, es_.token);
    ASSERT_FALSE(scrape_.empty());
  }

  // The page at `path` read with `token`; fails the test unless it is a sound page.
  PromPage Scrape(const std::string& path = "/api/v1/metrics") {
    auto r = es_.engine->Get(path, scrape_);
    EXPECT_TRUE(r && r->status == 200) << path << ": " << (r ? r->body : "no answer");
    if (!r || r->status != 200) return {};
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    last_ = r->body;
    PromPage page = ParsePromPage(r->body);
    EXPECT_EQ(page.error, "") << r->body;
    return page;
  }

  // Whether the page shows the session Active and in step, its node too (the monitor polls
  // every second; the worker reports once it has finished its first pass).
  bool ShowsSessionInStep(const PromPage& page) {
    auto active =
        page.Find("georep_session_status", {{"session_id", es_.id}, {"status", "Active"}});
    auto node = page.Find("georep_node_status", {{"session_id", es_.id}, {"status", "Active"}});
    auto lag = page.Find("georep_session_lag_seconds", {{"session_id", es_.id}});
    return active.size() == 1 && active[0].value == 1 && node.size() == 1 && node[0].value == 1 &&
           lag.size() == 1 && lag[0].value == 0;
  }

  EngineSession es_;
  std::string scrape_;
  std::string last_;
  int64_t started_ = 0;
};

TEST_F(MetricsTest, AViewersTokenReadsEverySessionNodeDestinationAndTheEngine) {
  PromPage page;
  ASSERT_TRUE(WaitFor(60, [&] { return ShowsSessionInStep(page = Scrape()); })) << last_;

  // The session: its labels, its status as a state set, its figures.
  auto states = page.Find("georep_session_status", {{"session_id", es_.id}});
  ASSERT_EQ(states.size(), 8u) << last_;
  double ones = 0;
  for (const auto& s : states) ones += s.value;
  EXPECT_EQ(ones, 1);
  const auto& labels = states.front().labels;
  EXPECT_EQ(labels.at("source_volume"), "docs");
  EXPECT_EQ(labels.at("destination"), "localhost");
  EXPECT_EQ(labels.at("destination_volume"), es_.dst.path());
  EXPECT_EQ(labels.at("kind"), "directory");
  EXPECT_EQ(labels.at("session"), es_.Detail()["session_key"]);
  for (const char* type : {"entry", "data", "meta"}) {
    auto pending =
        page.Find("georep_session_pending_operations", {{"session_id", es_.id}, {"type", type}});
    ASSERT_EQ(pending.size(), 1u) << type << "\n" << last_;
    EXPECT_EQ(pending[0].value, 0) << type;
  }
  ASSERT_EQ(page.Find("georep_session_failures", {{"session_id", es_.id}}).size(), 1u);
  auto synced = page.Find("georep_session_last_synced_timestamp_seconds", {{"session_id", es_.id}});
  ASSERT_EQ(synced.size(), 1u) << last_;
  EXPECT_GE(synced[0].value, static_cast<double>(started_ - 5));
  EXPECT_LE(synced[0].value, static_cast<double>(NowSeconds() + 5));
  // A directory session has no heartbeat: none is shown rather than a 0.
  EXPECT_TRUE(page.Find("georep_session_heartbeat_age_seconds").empty());
  auto node = page.Find("georep_node_status", {{"session_id", es_.id}, {"status", "Active"}});
  ASSERT_EQ(node.size(), 1u);
  EXPECT_EQ(node[0].labels.at("source_brick"), es_.src.path());
  EXPECT_EQ(page.Find("georep_node_status", {{"session_id", es_.id}}).size(), 9u);

  // Its destination, never tested: Unknown.
  EXPECT_EQ(page.Find("georep_destination_connection",
                      {{"destination", "localhost"}, {"status", "Unknown"}})
                .at(0)
                .value,
            1);

  // The engine: its version, start, lease, monitor, store and the session's worker.
  auto health = es_.engine->Get("/api/v1/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(page.Find("georep_build_info", {{"version", Body(health)["version"]}}).size(), 1u);
  auto start = page.Find("georep_engine_start_time_seconds");
  ASSERT_EQ(start.size(), 1u);
  EXPECT_GE(start[0].value, static_cast<double>(started_ - 5));
  EXPECT_LE(start[0].value, static_cast<double>(NowSeconds()));
  EXPECT_EQ(page.Find("georep_engine_active").at(0).value, 1);
  EXPECT_GE(page.Find("georep_monitor_pass_duration_seconds_count", {{"pass", "full"}}).at(0).value,
            1);
  EXPECT_GE(page.Find("georep_store_transaction_duration_seconds_count").at(0).value, 10);
  EXPECT_EQ(page.Find("georep_workers_supervised").at(0).value, 1);
  EXPECT_EQ(page.Find("georep_workers_running").at(0).value, 1);
  EXPECT_EQ(page.types.at("georep_worker_restarts_total"), "counter");

  // /metrics, Prometheus's default path, is the same page.
  PromPage alias = Scrape("/metrics");
  std::set<std::string> families, alias_families;
  for (const auto& [name, type] : page.types) families.insert(name);
  for (const auto& [name, type] : alias.types) alias_families.insert(name);
  EXPECT_EQ(alias_families, families);
  EXPECT_EQ(alias.Find("georep_session_status", {{"session_id", es_.id}, {"status", "Active"}})
                .at(0)
                .value,
            1);
}

TEST_F(MetricsTest, NoTokenAWrongOneOrARevokedOneReadsNothing) {
  for (const char* path : {"/metrics", "/api/v1/metrics"}) {
    for (const std::string& token : {std::string(), std::string("not-a-token")}) {
      auto r = es_.engine->Get(path, token);
      ASSERT_TRUE(r) << path;
      EXPECT_EQ(r->status, 401) << path << " with '" << token << "': " << r->body;
      EXPECT_EQ(r->body.find("georep_"), std::string::npos) << r->body;
    }
  }
  auto tokens = es_.engine->Get("/api/v1/tokens", scrape_);
  ASSERT_TRUE(tokens && tokens->status == 200);
  std::string scrape_id;
  const Json listed = Body(tokens);
  for (const auto& t : listed["items"])
    if (t["name"] == "scrape") scrape_id = t["id"].get<std::string>();
  ASSERT_FALSE(scrape_id.empty()) << tokens->body;
  auto revoked = es_.engine->Delete("/api/v1/tokens/" + scrape_id, scrape_);
  ASSERT_TRUE(revoked && revoked->status == 204);
  auto r = es_.engine->Get("/metrics", scrape_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
}

TEST_F(MetricsTest, PromtoolAcceptsTheScrape) {
  if (::access(kPromtool, X_OK) != 0)
    GTEST_SKIP() << kPromtool << " is missing (Debian's prometheus; scripts/install-deps.sh)";
  PromPage page;
  ASSERT_TRUE(WaitFor(60, [&] { return ShowsSessionInStep(page = Scrape()); })) << last_;
  CommandResult check = RunCommand({kPromtool, "check", "metrics"}, last_);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err << "\n" << last_;
  EXPECT_EQ(check.out + check.err, "") << last_;
}

// Two engines on one database: the standby's page says it stands by and shows no session (the
// active engine answers for them), so both can be scraped without counting anything twice.
TEST(MetricsOfSeveralEngines, AStandbyShowsOnlyItself) {
  std::string why;
  const std::string url = FreshPostgresDatabase(&why);
  ASSERT_FALSE(url.empty()) << "the test PostgreSQL server is required: " << why;
  TempDir dir, src, dst;
  const std::vector<std::string> flags = {"--db", url, "--monitor-interval", "1"};
  EngineProcess a(dir.path() + "/a", flags);
  ASSERT_TRUE(a.Start()) << a.output();
  const std::string admin = a.Login(a.admin_password());
  ASSERT_FALSE(admin.empty());
  const std::string scrape = ScrapeToken(a, admin);
  ASSERT_FALSE(scrape.empty());
  auto post = [&](const std::string& path, const Json& body) {
    auto r = a.Post(path, body.dump(), admin);
    EXPECT_TRUE(r && r->status == 201) << path << ": " << (r ? r->body : "no answer");
    return r && r->status == 201 ? Body(r) : Json();
  };
  const std::string cid = post("/api/v1/clusters", {{"name", "local"}})["id"];
  Json host =
      post("/api/v1/clusters/" + cid + "/hosts", {{"name", "localhost"}, {"transport", "local"}});
  Json vol = post("/api/v1/clusters/" + cid + "/volumes",
                  {{"name", "docs"}, {"host_id", host["id"]}, {"path", src.path()}});
  Json dest = post("/api/v1/clusters/" + cid + "/destinations",
                   {{"source_host_id", host["id"]}, {"host", "localhost"}});
  Json session = post("/api/v1/sessions", {{"destination_id", dest["id"]},
                                           {"source_volume_id", vol["id"]},
                                           {"destination_volume", dst.path()}});
  ASSERT_TRUE(session.contains("id"));
  EngineProcess b(dir.path() + "/b", flags);
  ASSERT_TRUE(b.Start()) << b.output();

  auto page = [&](EngineProcess& e) {
    auto r = e.Get("/metrics", scrape);
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    PromPage p = ParsePromPage(r ? r->body : "");
    EXPECT_EQ(p.error, "");
    return p;
  };
  PromPage active = page(a);
  EXPECT_EQ(active.Find("georep_engine_active").at(0).value, 1);
  EXPECT_EQ(active.Find("georep_session_status", {{"session_id", session["id"]}}).size(), 8u);
  PromPage standby = page(b);
  EXPECT_EQ(standby.Find("georep_engine_active").at(0).value, 0);
  EXPECT_EQ(standby.Find("georep_build_info").size(), 1u);
  EXPECT_TRUE(standby.Find("georep_session_status").empty());
  EXPECT_TRUE(standby.Find("georep_destination_connection").empty());
  // The rest of its API stays refused with the reason.
  auto refused = b.Get("/api/v1/sessions", scrape);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
}

// docs/prometheus: the alerting rules load, their own tests pass, and every query of the
// dashboard is PromQL Prometheus accepts (as recording rules, Grafana's variables filled in).
TEST(PrometheusDocs, PromtoolChecksTheRulesTheirTestsAndTheDashboardsQueries) {
  if (::access(kPromtool, X_OK) != 0)
    GTEST_SKIP() << kPromtool << " is missing (Debian's prometheus; scripts/install-deps.sh)";
  CommandResult rules = RunCommand({kPromtool, "check", "rules", kDocs + "/georep-rules.yml"});
  EXPECT_EQ(rules.exit_code, 0) << rules.out << rules.err;
  CommandResult tests = RunCommand({kPromtool, "test", "rules", kDocs + "/georep-rules.test.yml"});
  EXPECT_EQ(tests.exit_code, 0) << tests.out << tests.err;

  std::ifstream in(kDocs + "/georep-dashboard.json");
  ASSERT_TRUE(in);
  const Json dashboard = Json::parse(in);
  Json records = Json::array();
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel.value("targets", Json::array())) {
      std::string expr = target["expr"];
      for (const auto& [var, value] :
           {std::pair<std::string, std::string>{"$__rate_interval", "5m"},
            {"$job", ".*"},
            {"$instance", ".*"},
            {"$session", ".*"}}) {
        for (size_t at = expr.find(var); at != std::string::npos; at = expr.find(var))
          expr.replace(at, var.size(), value);
      }
      records.push_back(
          {{"record", "georep:dashboard:" + std::to_string(records.size())}, {"expr", expr}});
    }
  }
  ASSERT_GE(records.size(), 15u);
  TempDir tmp;
  const std::string file = tmp.path() + "/dashboard-rules.yml";
  // JSON is YAML: the rules file as promtool reads it.
  std::ofstream(file) << Json{{"groups", {{{"name", "dashboard"}, {"rules", records}}}}}.dump(2);
  CommandResult queries = RunCommand({kPromtool, "check", "rules", file});
  EXPECT_EQ(queries.exit_code, 0) << queries.out << queries.err;
}

}  // namespace
}  // namespace georep::testing
