// RenderMetrics: the engine's metrics page from a snapshot -- sessions, their nodes and
// destinations with their labels, statuses as state sets, unknown values left out, standing
// alerts, the heartbeat's age, the engine's own families, a standby's page -- every page read
// back strictly (api/test_support/prometheus_page.h). And the shipped alerting rules and
// Grafana dashboard (docs/prometheus/) name only families the engine writes.
#include "api/engine_metrics.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "api/test_support/prometheus_page.h"
#include "model/names.h"

namespace georep {
namespace {

using testing::ParsePromPage;
using testing::PromPage;

constexpr int64_t kNow = 1'700'000'100'000;

Volume Vol(std::string id, std::string name, VolumeKind kind) {
  Volume v;
  v.id = std::move(id);
  v.name = std::move(name);
  v.kind = kind;
  return v;
}

Destination Dest(std::string id, std::string host, ConnectionStatus c, int64_t checked = 0) {
  Destination d;
  d.id = std::move(id);
  d.host = std::move(host);
  d.connection = c;
  d.last_checked = checked;
  return d;
}

SessionNodeStatus NodeRow(std::string host, NodeStatus status) {
  SessionNodeStatus n;
  n.source_host = std::move(host);
  n.source_brick = "/bricks/b1";
  n.status = status;
  return n;
}

// A directory session in step (Active, lag 0, nothing pending) and a gluster session with an
// Active node and a Passive one (gluster says N/A for most of the Passive node's columns).
MetricsSnapshot TwoSessions() {
  MetricsSnapshot s;
  s.now_ms = kNow;
  s.version = "1.2.3";
  s.started_at_ms = 1'700'000'000'000;
  s.volumes = {Vol("v1", "docs", VolumeKind::kDirectory), Vol("v2", "gv0", VolumeKind::kGluster)};
  s.destinations = {Dest("d1", "localhost", ConnectionStatus::kConnected, kNow - 5000),
                    Dest("d2", "remote.example.org", ConnectionStatus::kBroken)};

  SessionDetail dir;
  dir.session.id = "s1";
  dir.session.session_key = "docs_localhost_/srv/dst";
  dir.session.source_volume_id = "v1";
  dir.session.destination_id = "d1";
  dir.session.destination_volume = "/srv/dst";
  dir.session.status = SessionStatus::kActive;
  SessionNodeStatus n = NodeRow("localhost", NodeStatus::kActive);
  n.source_brick = "/srv/src";
  n.lag_ms = 0;
  n.throughput_bps = 2048;
  n.entry_pending = 0;
  n.data_pending = 3;
  n.meta_pending = 0;
  n.failures = 0;
  n.last_synced = kNow - 1000;
  dir.nodes = {n};
  dir.lag_ms = 0;
  dir.throughput_bps = 2048;

  SessionDetail gl;
  gl.session.id = "s2";
  gl.session.session_key = "gv0_remote.example.org_gv1";
  gl.session.source_volume_id = "v2";
  gl.session.destination_id = "d2";
  gl.session.destination_volume = "gv1";
  gl.session.status = SessionStatus::kActive;
  SessionNodeStatus active = NodeRow("src1", NodeStatus::kActive);
  active.entry_pending = 5;
  active.data_pending = 7;
  active.meta_pending = 1;
  active.failures = 2;
  active.last_synced = kNow - 60'000;
  SessionNodeStatus passive = NodeRow("src2", NodeStatus::kPassive);  // every count -1: N/A
  gl.nodes = {active, passive};
  gl.lag_ms = -1;          // no heartbeat yet
  gl.throughput_bps = -1;  // no growth measured yet
  s.sessions = {dir, gl};
  return s;
}

PromPage Page(const MetricsSnapshot& s) {
  PromPage page = ParsePromPage(RenderMetrics(s));
  EXPECT_EQ(page.error, "") << RenderMetrics(s);
  return page;
}

double Value(const PromPage& page, const std::string& name,
             const std::map<std::string, std::string>& labels) {
  auto found = page.Find(name, labels);
  EXPECT_EQ(found.size(), 1u) << name;
  return found.empty() ? -12345 : found.front().value;
}

TEST(EngineMetrics, SessionsCarryTheirLabelsAndStatusAsAStateSet) {
  const PromPage page = Page(TwoSessions());
  auto states = page.Find("georep_session_status", {{"session_id", "s1"}});
  ASSERT_EQ(states.size(), 8u);  // every session status word
  int ones = 0;
  for (const auto& st : states) {
    ones += st.value == 1;
    if (st.value == 1) {
      EXPECT_EQ(st.labels.at("status"), "Active");
    }
  }
  EXPECT_EQ(ones, 1);
  EXPECT_EQ(states.front().labels,
            (std::map<std::string, std::string>{{"session_id", "s1"},
                                                {"session", "docs_localhost_/srv/dst"},
                                                {"source_volume", "docs"},
                                                {"destination", "localhost"},
                                                {"destination_volume", "/srv/dst"},
                                                {"kind", "directory"},
                                                {"status", "Unknown"}}));
  EXPECT_EQ(page.Find("georep_session_status", {{"kind", "gluster"}}).size(), 8u);
  EXPECT_EQ(page.Find("georep_session_status", {{"status", "Partial faulty"}}).size(), 2u);
  // A node's status likewise, over every node status word.
  EXPECT_EQ(page.Find("georep_node_status", {{"session_id", "s2"}, {"source_host", "src2"}}).size(),
            9u);
  EXPECT_EQ(Value(page, "georep_node_status",
                  {{"session_id", "s2"}, {"source_host", "src2"}, {"status", "Passive"}}),
            1);
}

TEST(EngineMetrics, KnownValuesAreWrittenAndUnknownOnesLeftOut) {
  const PromPage page = Page(TwoSessions());
  // In step: a lag of 0 is a known 0.
  EXPECT_EQ(Value(page, "georep_session_lag_seconds", {{"session_id", "s1"}}), 0);
  EXPECT_EQ(Value(page, "georep_session_throughput_bytes_per_second", {{"session_id", "s1"}}),
            2048);
  EXPECT_EQ(
      Value(page, "georep_session_pending_operations", {{"session_id", "s1"}, {"type", "data"}}),
      3);
  EXPECT_EQ(Value(page, "georep_session_last_synced_timestamp_seconds", {{"session_id", "s1"}}),
            (kNow - 1000) / 1000.0);
  // The gluster session has no heartbeat yet: no lag, no throughput -- not 0.
  EXPECT_TRUE(page.Find("georep_session_lag_seconds", {{"session_id", "s2"}}).empty());
  EXPECT_TRUE(
      page.Find("georep_session_throughput_bytes_per_second", {{"session_id", "s2"}}).empty());
  EXPECT_TRUE(page.Find("georep_session_heartbeat_age_seconds").empty());
  // Its counts are the Active node's: the Passive node says N/A and adds nothing.
  EXPECT_EQ(
      Value(page, "georep_session_pending_operations", {{"session_id", "s2"}, {"type", "entry"}}),
      5);
  EXPECT_EQ(Value(page, "georep_session_failures", {{"session_id", "s2"}}), 2);
  EXPECT_EQ(Value(page, "georep_session_last_synced_timestamp_seconds", {{"session_id", "s2"}}),
            (kNow - 60'000) / 1000.0);
  // The Passive node: its status, and nothing it does not know.
  for (const char* family : {"georep_node_lag_seconds", "georep_node_throughput_bytes_per_second",
                             "georep_node_pending_operations", "georep_node_failures",
                             "georep_node_last_synced_timestamp_seconds"}) {
    EXPECT_TRUE(page.Find(family, {{"source_host", "src2"}}).empty()) << family;
  }
  EXPECT_EQ(page.Find("georep_node_pending_operations", {{"source_host", "src1"}}).size(), 3u);
  EXPECT_EQ(Value(page, "georep_node_lag_seconds", {{"source_host", "localhost"}}), 0);

  // No node reports a count: the session's sum is unknown too, not 0.
  MetricsSnapshot none = TwoSessions();
  none.sessions[1].nodes = {NodeRow("src2", NodeStatus::kPassive)};
  const PromPage unknown = Page(none);
  EXPECT_TRUE(unknown.Find("georep_session_pending_operations", {{"session_id", "s2"}}).empty());
  EXPECT_TRUE(unknown.Find("georep_session_failures", {{"session_id", "s2"}}).empty());
  EXPECT_TRUE(
      unknown.Find("georep_session_last_synced_timestamp_seconds", {{"session_id", "s2"}}).empty());
}

// The engine's alerts: one series per firing alert, with when it started and whether it was
// acknowledged; resolved alerts are not there (so `georep_alert_firing == 1` is the list).
TEST(EngineMetrics, FiringAlertsAreSeriesAndResolvedOnesAreNot) {
  MetricsSnapshot s = TwoSessions();
  Alert lag;
  lag.id = 7;
  lag.rule = "lag-high";
  lag.severity = AlertSeverity::kWarning;
  lag.object_type = "session";
  lag.object_id = "s1";
  lag.object_name = "docs_localhost_/srv/dst";
  lag.started_at = kNow - 120'000;
  Alert broken = lag;
  broken.id = 8;
  broken.rule = "destination-broken";
  broken.severity = AlertSeverity::kCritical;
  broken.object_type = "destination";
  broken.object_id = "d1";
  broken.object_name = "dst.example";
  broken.acknowledged_at = kNow - 5'000;
  broken.acknowledged_by = "alice";
  Alert gone = lag;
  gone.id = 6;
  gone.state = AlertState::kResolved;
  gone.resolved_at = kNow - 1'000;
  s.alerts = {lag, broken, gone};
  const PromPage page = Page(s);
  ASSERT_EQ(page.Find("georep_alert_firing").size(), 2u);
  EXPECT_EQ(Value(page, "georep_alert_firing",
                  {{"alert_id", "7"},
                   {"rule", "lag-high"},
                   {"severity", "warning"},
                   {"object_type", "session"},
                   {"object_id", "s1"},
                   {"object", "docs_localhost_/srv/dst"}}),
            1);
  EXPECT_EQ(Value(page, "georep_alert_started_timestamp_seconds", {{"alert_id", "7"}}),
            (kNow - 120'000) / 1000.0);
  EXPECT_EQ(Value(page, "georep_alert_acknowledged", {{"alert_id", "7"}}), 0);
  EXPECT_EQ(Value(page, "georep_alert_acknowledged",
                  {{"alert_id", "8"}, {"severity", "critical"}, {"rule", "destination-broken"}}),
            1);
  EXPECT_TRUE(page.Find("georep_alert_firing", {{"alert_id", "6"}}).empty());
  // A standby engine shows none: the active one answers for alerts too.
  s.active = false;
  EXPECT_TRUE(Page(s).Find("georep_alert_firing").empty());
}

TEST(EngineMetrics, StandingAlertsTheHeartbeatAndDestinations) {
  MetricsSnapshot s = TwoSessions();
  SessionDetail& gl = s.sessions[1];
  gl.alerts = {{"s2", "stalled", "stalled: ...", kNow - 90'000, kNow},
               {"s2", "data-at-risk", "data at risk: ...", kNow - 10'000, kNow}};
  SessionHeartbeat hb;
  hb.arrived_seq = 4;
  hb.arrived_written_at = kNow - 42'000;
  gl.heartbeat = hb;
  gl.lag_ms = 95'000;
  const PromPage page = Page(s);
  EXPECT_EQ(Value(page, "georep_session_alert", {{"session_id", "s2"}, {"alert", "stalled"}}), 1);
  EXPECT_EQ(Value(page, "georep_session_alert_since_timestamp_seconds",
                  {{"session_id", "s2"}, {"alert", "stalled"}}),
            (kNow - 90'000) / 1000.0);
  EXPECT_EQ(page.Find("georep_session_alert").size(), 2u);  // only standing ones
  EXPECT_EQ(Value(page, "georep_session_heartbeat_age_seconds", {{"session_id", "s2"}}), 42);
  EXPECT_EQ(Value(page, "georep_session_lag_seconds", {{"session_id", "s2"}}), 95);

  EXPECT_EQ(page.Find("georep_destination_connection", {{"destination_id", "d2"}}).size(), 3u);
  EXPECT_EQ(Value(page, "georep_destination_connection",
                  {{"destination", "remote.example.org"}, {"status", "Broken"}}),
            1);
  EXPECT_EQ(Value(page, "georep_destination_connection",
                  {{"destination_id", "d1"}, {"status", "Broken"}}),
            0);
  EXPECT_EQ(
      Value(page, "georep_destination_last_checked_timestamp_seconds", {{"destination_id", "d1"}}),
      (kNow - 5000) / 1000.0);
  // Never tested: no time.
  EXPECT_TRUE(
      page.Find("georep_destination_last_checked_timestamp_seconds", {{"destination_id", "d2"}})
          .empty());
}

TEST(EngineMetrics, TheEnginesOwnHealth) {
  MetricsSnapshot s = TwoSessions();
  Histogram store({0.001, 0.01});
  store.Observe(0.0004);
  store.Observe(0.02);
  Histogram full({1, 10}), steady({1, 10});
  full.Observe(3);
  s.store_transactions = store.Take();
  s.monitor_full_passes = full.Take();
  s.monitor_steady_passes = steady.Take();
  s.workers = WorkerCounts{3, 2, 7};
  const PromPage page = Page(s);
  EXPECT_EQ(Value(page, "georep_build_info", {{"version", "1.2.3"}}), 1);
  EXPECT_EQ(Value(page, "georep_engine_start_time_seconds", {}), 1'700'000'000);
  EXPECT_EQ(Value(page, "georep_engine_active", {}), 1);
  EXPECT_EQ(page.types.at("georep_store_transaction_duration_seconds"), "histogram");
  EXPECT_EQ(Value(page, "georep_store_transaction_duration_seconds_count", {}), 2);
  EXPECT_EQ(Value(page, "georep_store_transaction_duration_seconds_bucket", {{"le", "0.001"}}), 1);
  EXPECT_EQ(Value(page, "georep_monitor_pass_duration_seconds_count", {{"pass", "full"}}), 1);
  EXPECT_EQ(Value(page, "georep_monitor_pass_duration_seconds_count", {{"pass", "steady"}}), 0);
  EXPECT_EQ(Value(page, "georep_workers_supervised", {}), 3);
  EXPECT_EQ(Value(page, "georep_workers_running", {}), 2);
  EXPECT_EQ(page.types.at("georep_worker_restarts_total"), "counter");
  EXPECT_EQ(Value(page, "georep_worker_restarts_total", {}), 7);

  // What the engine was not given is not shown (no worker supervisor: no worker families).
  const PromPage bare = Page(TwoSessions());
  EXPECT_FALSE(bare.types.count("georep_workers_running"));
  EXPECT_FALSE(bare.types.count("georep_store_transaction_duration_seconds"));
}

TEST(EngineMetrics, AStandbyShowsOnlyItself) {
  MetricsSnapshot s = TwoSessions();
  s.active = false;
  const PromPage page = Page(s);
  EXPECT_EQ(Value(page, "georep_engine_active", {}), 0);
  EXPECT_EQ(Value(page, "georep_build_info", {{"version", "1.2.3"}}), 1);
  for (const auto& sample : page.samples) {
    EXPECT_FALSE(sample.name.starts_with("georep_session_") ||
                 sample.name.starts_with("georep_node_") ||
                 sample.name.starts_with("georep_destination_"))
        << sample.name;
  }
}

TEST(EngineMetrics, AnyNameMakesAPageThatParses) {
  MetricsSnapshot s = TwoSessions();
  s.sessions[0].session.session_key = "odd \"name\" \\ with\nline and \xFF byte";
  s.sessions[0].session.destination_volume = "/srv/d\xC3\xA9st";
  const PromPage page = Page(s);
  auto found = page.Find("georep_session_lag_seconds", {{"session_id", "s1"}});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found.front().labels.at("session"), "odd \"name\" \\ with\nline and \xEF\xBF\xBD byte");
  EXPECT_EQ(found.front().labels.at("destination_volume"), "/srv/d\xC3\xA9st");
  // A session whose volume or destination is gone meanwhile still shows, unnamed.
  s.volumes.clear();
  s.destinations.clear();
  const PromPage orphan = Page(s);
  EXPECT_EQ(orphan.Find("georep_session_status", {{"session_id", "s1"}}).size(), 8u);
}

TEST(EngineMetrics, EveryFamilyIsNamedOnceAndTheNamesFollowTheConventions) {
  const auto names = MetricFamilyNames();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  for (const auto& n : names) {
    EXPECT_TRUE(n.starts_with("georep_")) << n;
    EXPECT_FALSE(n.ends_with("_count") || n.ends_with("_sum") || n.ends_with("_bucket")) << n;
  }
}

std::string ReadDoc(const std::string& name) {
  std::ifstream in(std::string(GEOREP_PROMETHEUS_DOCS) + "/" + name);
  EXPECT_TRUE(in) << name;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The names of the families `text` uses (a histogram's series by its family's name).
std::set<std::string> FamiliesUsed(const std::string& text) {
  std::set<std::string> used;
  static const std::regex kName("georep_[a-z_]+");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kName);
       it != std::sregex_iterator(); ++it) {
    std::string name = it->str();
    for (std::string_view suffix : {"_bucket", "_sum", "_count"})
      if (name.ends_with(suffix)) name.resize(name.size() - suffix.size());
    used.insert(name);
  }
  return used;
}

TEST(EngineMetrics, TheShippedRulesAndDashboardUseOnlyFamiliesTheEngineWrites) {
  const auto names = MetricFamilyNames();
  const std::set<std::string> known(names.begin(), names.end());
  for (const char* doc : {"georep-rules.yml", "georep-dashboard.json"}) {
    const std::string text = ReadDoc(doc);
    if (std::string_view(doc).ends_with(".json")) {
      const auto dashboard = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      ASSERT_FALSE(dashboard.is_discarded()) << doc << " is not JSON";
      for (const auto& panel : dashboard["panels"]) {
        if (panel["type"] == "row") continue;
        EXPECT_FALSE(panel["targets"].empty()) << panel["title"];
      }
    }
    const auto used = FamiliesUsed(text);
    EXPECT_GE(used.size(), 5u) << doc;
    for (const auto& name : used) {
      EXPECT_TRUE(known.count(name)) << doc << " names " << name << ", which the engine does not "
                                     << "write";
    }
  }
}

// The rules alert on what the engine itself stands alerts for (engine_context.cc SetAlert, the
// destination's connection) and on the session's status.
TEST(EngineMetrics, TheShippedRulesCoverTheEnginesAlerts) {
  const std::string rules = ReadDoc("georep-rules.yml");
  for (const char* needle :
       {"status=\"Faulty\"", "status=\"Partial faulty\"", "alert=\"stalled\"",
        "alert=\"data-at-risk\"", "alert=\"heartbeat-mismatch\"", "alert=\"heartbeat-failing\"",
        "alert=\"verify-differs\"", "alert=\"change-capture\"", "georep_session_lag_seconds",
        "georep_destination_connection{status=\"Broken\"}", "georep_engine_active"}) {
    EXPECT_NE(rules.find(needle), std::string::npos) << needle;
  }
}

}  // namespace
}  // namespace georep
