// What georep knows about a gluster session beyond gsyncd's status, on a scripted cluster:
// the rsync preflight at create and start, georep's own options never sent to gluster, the
// end-to-end heartbeat (lag, data loss, stalls), checkpoints, and the config catalogue.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/operations.h"
#include "engine/test_support/gluster_monitor_fixture.h"
#include "gluster/cli_xml.h"

namespace georep {
namespace {

using testing_support::Answer;
using testing_support::Fixture;
using testing_support::GlusterdDown;
using testing_support::GlusterMonitorTest;
using testing_support::Has;
using testing_support::Node;
using testing_support::ScriptedCluster;

// A node whose preflight answers `rsync` and gluster 10.3; otherwise as `base`.
ScriptedCluster::Script WithRsync(std::string rsync, ScriptedCluster::Script base) {
  return [=](const std::vector<std::string>& argv) -> Result<CommandResult> {
    if (argv[0] == "sh" && argv.size() == 3 && argv[2].find("rsync --version") != std::string::npos)
      return Answer(fmt::format("rsync  version {}  protocol version 32\nglusterfs 10.3\n", rsync));
    return base(argv);
  };
}

bool Sent(const ScriptedCluster& c, const std::vector<std::string>& words) {
  for (const auto& [host, argv] : c.log) {
    bool all = true;
    for (const auto& w : words) all = all && Has(argv, w);
    if (all) return true;
  }
  return false;
}

TEST_F(GlusterMonitorTest, CreateChoosesTarsshWhereRsyncWouldWriteEmptyFiles) {
  // Debian 12's rsync on src2 only.
  cluster_.scripts["10.77.0.2"] = WithRsync("3.5.0", Node(&status_, &config_));
  cluster_.scripts["10.77.0.1"] = WithRsync("3.2.7", Node(&status_, &config_));
  cluster_.scripts["10.77.0.11"] = WithRsync("3.2.7", Node(&status_, &config_));
  auto d = ops_->CreateDestination(admin_,
                                   {cluster_id_, hosts_[0].id, "10.77.0.11", 22,
                                    "SHA256:SkjwBH3I6H0YtOLOlcgWKDXkwC8so/k92+fmqlWnM0M", "root"});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  SessionCreateOptions force;
  force.force = true;  // eligibility (the scripted destination has no volumes to list)
  auto s = ops_->CreateSession(admin_, {d->id, volume_.id, "gv1", ""}, force);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(Sent(cluster_, {"config", "sync-method", "tarssh"}));
  ASSERT_TRUE(s->preflight.has_value());
  EXPECT_EQ(s->preflight->nodes.size(), 3u);  // both sources and the destination
  EXPECT_TRUE(s->preflight->rsync_unsafe);
  ASSERT_EQ(s->warnings.size(), 1u);
  EXPECT_NE(s->warnings[0].find("tarssh chosen"), std::string::npos) << s->warnings[0];
  EXPECT_NE(s->warnings[0].find("rsync 3.5.0 on src2 (source)"), std::string::npos)
      << s->warnings[0];
  EXPECT_TRUE(s->alerts.empty());
  auto config = ops_->GetConfig(s->session.id);
  ASSERT_TRUE(config.ok());
  for (const auto& c : *config)
    if (c.option->key == "sync-method") {
      EXPECT_EQ(c.value, "tarssh");
    }

  // Setting rsync there is refused unless forced; forced, the session shows the risk.
  auto refused = ops_->SetConfig(admin_, s->session.id, "sync-method", "rsync");
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("src2"), std::string::npos);
  EXPECT_FALSE(Sent(cluster_, {"config", "sync-method", "rsync"}));
  // So is its reset (gluster's default is rsync).
  EXPECT_EQ(ops_->ResetConfig(admin_, s->session.id, "sync-method").code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(ops_->SetConfig(admin_, s->session.id, "sync-method", "rsync", true).ok());
  auto forced = ops_->GetSession(s->session.id);
  ASSERT_TRUE(forced.ok());
  ASSERT_EQ(forced->alerts.size(), 1u);
  EXPECT_EQ(forced->alerts[0].kind, "data-at-risk");
  EXPECT_NE(forced->alerts[0].message.find("0 bytes"), std::string::npos);
  EXPECT_EQ(Events("session.data_at_risk").size(), 1u);
  // Back to tarssh: the alert goes, with an event.
  ASSERT_TRUE(ops_->SetConfig(admin_, s->session.id, "sync-method", "tarssh").ok());
  EXPECT_TRUE(ops_->GetSession(s->session.id)->alerts.empty());
  EXPECT_EQ(Events("session.data_at_risk_cleared").size(), 1u);
}

TEST_F(GlusterMonitorTest, StartIsRefusedWhereRsyncWouldWriteEmptyFilesUnlessForced) {
  const std::string id = CreateSession();  // rsync: nothing was unsafe at create
  std::string status = Fixture("georep-status-detail-active.xml");
  cluster_.scripts["10.77.0.2"] = WithRsync("3.5.0", Node(&status, &config_));
  status_ = status;
  auto refused = ops_->RunSessionAction(admin_, id, SessionAction::kStart, false);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("src2"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("tarssh"), std::string::npos);
  EXPECT_FALSE(Sent(cluster_, {"start"}));
  auto started = ops_->RunSessionAction(admin_, id, SessionAction::kStart, true);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  ASSERT_EQ(started->warnings.size(), 1u);
  EXPECT_NE(started->warnings[0].find("data at risk"), std::string::npos) << started->warnings[0];
  ASSERT_EQ(started->alerts.size(), 1u);
  EXPECT_EQ(started->alerts[0].kind, "data-at-risk");

  // The monitor looks again with what gluster holds: the recorded config says tarssh
  // (changed outside georep), so the risk is gone.
  Poll();
  EXPECT_TRUE(ops_->GetSession(id)->alerts.empty());
  EXPECT_EQ(Events("session.data_at_risk_cleared").size(), 1u);
}

TEST_F(GlusterMonitorTest, GeorepsOwnOptionsAreNeverSentToGluster) {
  const std::string id = CreateSession();
  ASSERT_TRUE(ops_->SetConfig(admin_, id, "heartbeat-interval", "5").ok());
  ASSERT_TRUE(ops_->SetConfig(admin_, id, "stall-action", "restart").ok());
  EXPECT_FALSE(Sent(cluster_, {"heartbeat-interval"}));
  EXPECT_FALSE(Sent(cluster_, {"stall-action"}));
  Poll();  // gluster's config does not have them: they stay
  auto config = ops_->GetConfig(id);
  ASSERT_TRUE(config.ok());
  for (const auto& c : *config) {
    if (c.option->key == "heartbeat-interval") {
      EXPECT_EQ(c.value, "5");
    }
    if (c.option->key == "stall-action") {
      EXPECT_EQ(c.value, "restart");
    }
  }
  ASSERT_TRUE(ops_->ResetConfig(admin_, id, "heartbeat-interval").ok());
  EXPECT_FALSE(Sent(cluster_, {"!heartbeat-interval"}));
}

// The heartbeat on a scripted cluster: what src1 writes into the source volume, the
// destination (10.77.0.11) holds whatever the test says has arrived.
class HeartbeatTest : public GlusterMonitorTest {
 protected:
  void SetUp() override {
    GlusterMonitorTest::SetUp();
    status_ = Fixture("georep-status-detail-active.xml");
    cluster_.scripts["10.77.0.1"] = [this](const std::vector<std::string>& argv) {
      if (Has(argv, ".georep/heartbeat")) {
        ++writes_;
        written_ = cluster_.inputs.back();
        return Result<CommandResult>(Answer(""));
      }
      return Node(&status_, &config_)(argv);
    };
    cluster_.scripts["10.77.0.11"] = [this](const std::vector<std::string>& argv) {
      if (Has(argv, ".georep/heartbeat")) {
        ++reads_;
        // The node's clock runs `node_ahead_ms_` ahead; the file changed `changed_ago_ms_` ago.
        const int64_t node_now = clock_.NowMillis() + node_ahead_ms_;
        std::string out = fmt::format("georep-now {}\ngeorep-usage 1000 {} 4096\n",
                                      node_now * 1'000'000, free_blocks_);
        out += arrived_ ? fmt::format("georep-file {} {} {}.{:03}\n", writes_, arrived_->size(),
                                      (node_now - changed_ago_ms_) / 1000,
                                      (node_now - changed_ago_ms_) % 1000) +
                              *arrived_
                        : "georep-absent\n";
        return Result<CommandResult>(Answer(out));
      }
      return Node(&status_, &config_)(argv);
    };
    id_ = CreateSession();
    Poll();  // Active
    ASSERT_EQ(ops_->GetSession(id_)->session.status, SessionStatus::kActive);
  }
  SessionHeartbeat Beat() {
    auto hb = ops_->HeartbeatSession(monitor_, id_);
    EXPECT_TRUE(hb.ok()) << hb.status().ToString();
    return hb.ok() ? *hb : SessionHeartbeat{};
  }
  std::vector<std::string> AlertKinds() {
    std::vector<std::string> out;
    const SessionDetail s = *ops_->GetSession(id_);
    for (const auto& a : s.alerts) out.push_back(a.kind);
    return out;
  }

  std::string id_;
  int writes_ = 0, reads_ = 0;
  std::string written_;
  std::optional<std::string> arrived_;
  int64_t free_blocks_ = 400;
  int64_t node_ahead_ms_ = 0;
  int64_t changed_ago_ms_ = 0;
};

TEST_F(HeartbeatTest, ArrivalIsWhenItChangedThereOnTheEnginesClock) {
  node_ahead_ms_ = 5000;  // the destination's clock is 5 s ahead
  Beat();
  arrived_ = written_;
  changed_ago_ms_ = 1500;  // it arrived 1.5 s before this read
  clock_.Advance(4000);
  SessionHeartbeat hb = Beat();
  EXPECT_EQ(hb.arrived_seq, 1);
  EXPECT_EQ(hb.arrived_seen_at - hb.arrived_written_at, 2500);
  EXPECT_EQ(ops_->GetSession(id_)->lag_ms, 2500);
}

TEST_F(HeartbeatTest, LagIsWhatTheHeartbeatTookToArrive) {
  EXPECT_EQ(ops_->GetSession(id_)->lag_ms, -1);  // nothing measured yet: unknown
  SessionHeartbeat hb = Beat();
  EXPECT_EQ(writes_, 1);
  EXPECT_EQ(hb.written_seq, 1);
  EXPECT_EQ(hb.pending_seq, 1);
  EXPECT_EQ(reads_, 1);  // read back at once: not there yet
  clock_.Advance(2000);
  EXPECT_EQ(ops_->GetSession(id_)->lag_ms, 2000);  // at least that long on its way
  arrived_ = written_;
  clock_.Advance(1000);
  hb = Beat();
  EXPECT_EQ(writes_, 1);  // not due again yet
  EXPECT_EQ(hb.arrived_seq, 1);
  EXPECT_EQ(hb.pending_seq, 0);
  clock_.Advance(5000);
  auto s = ops_->GetSession(id_);
  EXPECT_EQ(s->lag_ms, 3000);  // how long it took, not how long ago
  ASSERT_TRUE(s->heartbeat.has_value());
  EXPECT_TRUE(s->alerts.empty());
  // The next poll gives the Active node the session's lag; the Passive one stays unknown.
  Poll();
  const SessionDetail polled = *ops_->GetSession(id_);
  for (const auto& n : polled.nodes)
    EXPECT_EQ(n.lag_ms, n.status == NodeStatus::kActive ? 3000 : -1) << n.source_host;
  // Throughput: the destination volume's growth over 10 s or more.
  free_blocks_ = 300;  // 100 blocks of 4096 more used
  clock_.Advance(10'000);
  Beat();
  EXPECT_EQ(ops_->GetSession(id_)->throughput_bps, 100 * 4096 * 1000 / 18'000);
}

// Stopped, a session writes no heartbeats: with none on its way its lag is not known -- the
// last arrival says nothing of what changed since -- on the header and on every node; nothing
// is applied. Paused, heartbeats are still written: the one on its way makes the lag grow
// between two reads, the node rows with the header.
TEST_F(HeartbeatTest, AStoppedSessionsLagIsUnknownAPausedOnesGrows) {
  Beat();
  arrived_ = written_;
  clock_.Advance(1000);
  Beat();
  ASSERT_EQ(ops_->GetSession(id_)->lag_ms, 1000);
  status_ = Fixture("georep-status-detail-stopped.xml");
  Poll();
  SessionDetail stopped = *ops_->GetSession(id_);
  ASSERT_EQ(stopped.session.status, SessionStatus::kStopped);
  EXPECT_EQ(stopped.lag_ms, -1);
  for (const auto& n : stopped.nodes) EXPECT_EQ(n.lag_ms, -1) << n.source_host;
  EXPECT_EQ(stopped.throughput_bps, 0) << "gsyncd stopped applies nothing";
  EXPECT_EQ(stopped.last_synced, 0) << "gluster says N/A";

  status_ = Fixture("georep-status-detail-paused.xml");
  Poll();
  clock_.Advance(30'000);  // a heartbeat is due: written, and not arriving
  SessionHeartbeat hb = Beat();
  EXPECT_EQ(hb.written_seq, 2);
  EXPECT_EQ(hb.pending_seq, 2);
  clock_.Advance(2000);
  const SessionDetail first = *ops_->GetSession(id_);
  ASSERT_EQ(first.session.status, SessionStatus::kPaused);
  EXPECT_EQ(first.lag_ms, 2000);
  clock_.Advance(5000);
  const SessionDetail second = *ops_->GetSession(id_);
  EXPECT_EQ(second.lag_ms, 7000);
  for (const auto& n : second.nodes) EXPECT_EQ(n.lag_ms, second.lag_ms) << n.source_host;
  EXPECT_EQ(second.throughput_bps, 0);
}

// The destination volume not growing is 0 B/s only where nothing waits (every Active node with
// nothing pending, no heartbeat on its way); with work pending it says nothing (a rewrite in
// place does not grow the volume): unknown. Growth is growth.
TEST_F(HeartbeatTest, NoGrowthIsZeroOnlyWhenNothingWaits) {
  Beat();
  arrived_ = written_;
  clock_.Advance(1000);
  Beat();
  EXPECT_EQ(ops_->GetSession(id_)->throughput_bps, -1) << "one reading of the volume";
  clock_.Advance(10'000);
  Beat();
  EXPECT_EQ(ops_->GetSession(id_)->throughput_bps, 0);
  const size_t data = status_.find("<data>0</data>");
  ASSERT_NE(data, std::string::npos);
  status_.replace(data, 14, "<data>5</data>");
  Poll();
  EXPECT_EQ(ops_->GetSession(id_)->throughput_bps, -1);
  free_blocks_ = 300;
  clock_.Advance(10'000);
  Beat();
  EXPECT_EQ(ops_->GetSession(id_)->throughput_bps, 100 * 4096 * 1000 / 10'000);
}

TEST_F(HeartbeatTest, AHeartbeatSeenEmptyForAMomentIsOnItsWay) {
  Beat();
  arrived_ = "";  // gsyncd made the entry; its data follows
  clock_.Advance(1000);
  Beat();
  arrived_ = written_.substr(0, 40);  // being written
  clock_.Advance(1000);
  Beat();
  arrived_ = written_;
  clock_.Advance(1000);
  SessionHeartbeat hb = Beat();
  EXPECT_EQ(hb.arrived_seq, 1);
  EXPECT_TRUE(AlertKinds().empty());
  EXPECT_TRUE(Events("session.data_loss").empty());
}

TEST_F(HeartbeatTest, AHeartbeatThatStaysEmptyIsDataLoss) {
  Beat();
  arrived_ = "";  // gsyncd's rsync on Debian 12: the file, without its content
  clock_.Advance(1000);
  Beat();
  EXPECT_TRUE(AlertKinds().empty());  // perhaps on its way
  clock_.Advance(61'000);
  Beat();
  EXPECT_EQ(AlertKinds(), std::vector<std::string>{"heartbeat-mismatch"});
  auto loss = Events("session.data_loss");
  ASSERT_EQ(loss.size(), 1u);
  EXPECT_NE(loss[0].message.find("0 bytes"), std::string::npos) << loss[0].message;
  clock_.Advance(1000);
  Beat();
  EXPECT_EQ(Events("session.data_loss").size(), 1u);  // once, while it lasts
  arrived_ = written_;
  clock_.Advance(1000);
  Beat();
  EXPECT_TRUE(AlertKinds().empty());
  EXPECT_EQ(Events("session.data_loss_cleared").size(), 1u);
}

TEST_F(HeartbeatTest, AStalledSessionIsShownAndRestartedWhenAskedTo) {
  ASSERT_TRUE(ops_->SetConfig(admin_, id_, "heartbeat-interval", "10").ok());
  ASSERT_TRUE(ops_->SetConfig(admin_, id_, "stall-threshold", "60").ok());
  Beat();
  arrived_ = written_;  // the first one arrives; none after it
  clock_.Advance(1000);
  Beat();
  for (int i = 0; i < 8; ++i) {  // 80 s: heartbeats written, none arriving
    clock_.Advance(10'000);
    SessionHeartbeat hb = Beat();
    ASSERT_NE(hb.pending_seq, 0);
    const bool stalled = clock_.NowMillis() - hb.pending_at > 60'000;
    EXPECT_EQ(AlertKinds(),
              stalled ? std::vector<std::string>{"stalled"} : std::vector<std::string>{})
        << i;
  }
  EXPECT_EQ(AlertKinds(), std::vector<std::string>{"stalled"});
  ASSERT_EQ(Events("session.stalled").size(), 1u);
  EXPECT_FALSE(Sent(cluster_, {"stop", "force"}));  // stall-action none: shown only
  // With stall-action restart: stop and start, once per threshold, recorded.
  ASSERT_TRUE(ops_->SetConfig(admin_, id_, "stall-action", "restart").ok());
  clock_.Advance(1000);
  Beat();
  EXPECT_TRUE(Sent(cluster_, {"stop", "force"}));
  EXPECT_TRUE(Sent(cluster_, {"start", "force"}));
  ASSERT_EQ(Events("session.stall_restart").size(), 1u);
  clock_.Advance(1000);
  Beat();
  EXPECT_EQ(Events("session.stall_restart").size(), 1u);
  // It catches up: the stall is over.
  arrived_ = written_;
  clock_.Advance(1000);
  Beat();
  EXPECT_TRUE(AlertKinds().empty());
  EXPECT_EQ(Events("session.stalled_cleared").size(), 1u);
}

TEST_F(HeartbeatTest, OffMeansUnknownNotZero) {
  ASSERT_TRUE(ops_->SetConfig(admin_, id_, "heartbeat-interval", "0").ok());
  Beat();
  EXPECT_EQ(writes_, 0);
  EXPECT_EQ(ops_->GetSession(id_)->lag_ms, -1);
}

TEST_F(GlusterMonitorTest, CheckpointNowIsPassedAsNowAndGlustersTimeIsKept) {
  const std::string id = CreateSession();
  auto item = ops_->SetConfig(admin_, id, "checkpoint", "now");
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  EXPECT_EQ(item->value, "1795784806");  // what the recorded config says gluster holds
  bool sent_now = false;
  for (const auto& [host, argv] : cluster_.log)
    if (Has(argv, "checkpoint") && Has(argv, "now")) sent_now = true;
  EXPECT_TRUE(sent_now);
}

// georep's catalogue of gluster options says what gluster 10 says: in the config recorded
// from a session whose only change was sync-method, every other option is at its default.
TEST(GlusterConfigCatalog, DefaultsAreGlusters) {
  auto recorded = ParseGeoRepConfig(Fixture("georep-config.xml"));
  ASSERT_TRUE(recorded.ok()) << recorded.status().ToString();
  int compared = 0;
  for (const ConfigOption& o : ConfigCatalog(VolumeKind::kGluster)) {
    if (o.key == "checkpoint" || o.key == "sync-method") continue;
    std::string key(o.key);
    std::replace(key.begin(), key.end(), '-', '_');
    auto it = recorded->find(key);
    if (it == recorded->end() && key.rfind("slave_", 0) == 0)
      it = recorded->find("secondary_" + key.substr(6));
    if (it == recorded->end()) continue;
    auto value = ValidateConfigValue(o, it->second);
    ASSERT_TRUE(value.ok()) << o.key << ": " << value.status().ToString();
    EXPECT_EQ(*value, o.default_value) << o.key;
    ++compared;
  }
  EXPECT_GE(compared, 15);
}

}  // namespace
}  // namespace georep
