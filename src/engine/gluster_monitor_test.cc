// The monitor's pass over a gluster cluster (Operations::PollGlusterCluster), on a scripted
// cluster whose answers are the XML recorded from real GlusterFS (gluster/testdata). The same
// behaviour runs against real glusterd in tests/integration/gluster_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "engine/operations.h"
#include "engine/test_support/scripted_cluster.h"
#include "gluster/cli_xml.h"

namespace georep {
namespace {

using testing_support::Answer;
using testing_support::Fixture;
using testing_support::Has;
using testing_support::ScriptedCluster;

// A healthy node: `status` answers `status_xml`, `config --xml` the recorded config, every
// other gluster command succeeds.
ScriptedCluster::Script Node(const std::string* status_xml, const std::string* config_xml) {
  return [=](const std::vector<std::string>& argv) -> Result<CommandResult> {
    if (Has(argv, "status")) {
      if (status_xml->rfind("<?xml", 0) != 0) return Answer(*status_xml, 2);
      return Answer(*status_xml);
    }
    if (Has(argv, "config") && Has(argv, "--xml")) return Answer(*config_xml);
    if (argv[0] == "rsync") return Answer("rsync  version 3.2.7  protocol version 31\n");
    return Answer("ok\n");
  };
}

Result<CommandResult> GlusterdDown(const std::vector<std::string>&) {
  CommandResult r;
  r.exit_code = 1;
  r.out = "Connection failed. Please check if gluster daemon is operational.\n";
  return r;
}

class GlusterMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("georep-mon-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    auto s = OpenStore("sqlite://" + (dir_ / "db").string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_, &cluster_);
    status_ = Fixture("georep-status-detail-created.xml");
    config_ = Fixture("georep-config.xml");
    cluster_.scripts["10.77.0.1"] = Node(&status_, &config_);
    cluster_.scripts["10.77.0.2"] = Node(&status_, &config_);

    // The harness's layout: src1 (10.77.0.1) and src2 (10.77.0.2), replica-2 gv0.
    cluster_id_ = ops_->CreateCluster(admin_, {"src", ""})->id;
    for (const auto& [name, ip] : {std::pair{"src1", "10.77.0.1"}, {"src2", "10.77.0.2"}}) {
      HostSpec hs;
      hs.cluster_id = cluster_id_;
      hs.name = name;
      hs.address = ip;
      hs.ssh_fingerprint = "SHA256:CXqPY4ZFRXl7D0xFFfUbJnR6i11OsDVgYp/yBeCSa78";
      auto h = ops_->AddHost(admin_, hs);
      ASSERT_TRUE(h.ok()) << h.status().ToString();
      hosts_.push_back(*h);
    }
    VolumeSpec vs;
    vs.cluster_id = cluster_id_;
    vs.name = "gv0";
    vs.kind = VolumeKind::kGluster;
    vs.replica_count = 2;
    vs.bricks = {{hosts_[0].id, "/tmp/gc/src1/bricks/gv0"},
                 {hosts_[1].id, "/tmp/gc/src2/bricks/gv0"}};
    auto v = ops_->AddVolume(admin_, vs);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    volume_ = *v;
  }
  void TearDown() override {
    ops_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // The session gv0 -> 10.77.0.11::gv1, created through georep.
  std::string CreateSession() {
    auto d = ops_->CreateDestination(
        admin_, {cluster_id_, hosts_[0].id, "10.77.0.11", 22,
                 "SHA256:SkjwBH3I6H0YtOLOlcgWKDXkwC8so/k92+fmqlWnM0M", "root"});
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    SessionCreateOptions force;
    force.force = true;
    auto s = ops_->CreateSession(admin_, {d->id, volume_.id, "gv1", ""}, force);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? s->session.id : "";
  }

  ClusterPoll Poll() {
    auto p = ops_->PollGlusterCluster(monitor_, cluster_id_);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? *p : ClusterPoll{};
  }

  std::vector<Event> Events(const std::string& action) {
    auto evs = ops_->ListEvents({0, "", "", action, 1000});
    EXPECT_TRUE(evs.ok());
    return evs.ok() ? *evs : std::vector<Event>{};
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  FakeClock clock_{1795784806000};
  SeededRandom random_{7};
  ObjectLocks locks_;
  ScriptedCluster cluster_;
  std::unique_ptr<Operations> ops_;
  const Actor admin_{"admin", true};
  const Actor monitor_{"monitor", true};
  std::string status_, config_;
  std::string cluster_id_;
  std::vector<Host> hosts_;
  Volume volume_;
};

TEST_F(GlusterMonitorTest, UpdatesNodeRowsAndAggregateFromOneClusterQuery) {
  const std::string id = CreateSession();
  status_ = Fixture("georep-status-detail-active.xml");
  ClusterPoll p = Poll();
  EXPECT_EQ(p.refreshed, 1);
  EXPECT_EQ(p.discovered, 0);
  EXPECT_EQ(p.answered_by, "src1");
  auto s = ops_->GetSession(id);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->session.status, SessionStatus::kActive);
  ASSERT_EQ(s->nodes.size(), 2u);
  EXPECT_EQ(s->nodes[0].source_host, "src1");  // the georep host name, not the address
  EXPECT_EQ(s->nodes[0].status, NodeStatus::kActive);
  EXPECT_EQ(s->nodes[1].source_host, "src2");
  EXPECT_EQ(s->nodes[1].status, NodeStatus::kPassive);
  EXPECT_EQ(s->nodes[0].set_index, s->nodes[1].set_index);
  // One status query for the whole cluster, without naming a session.
  size_t status_queries = 0;
  for (const auto& [host, argv] : cluster_.log)
    if (Has(argv, "status") && !Has(argv, "gv0")) ++status_queries;
  EXPECT_EQ(status_queries, 1u);
}

TEST_F(GlusterMonitorTest, FailsOverWhenGlusterdIsDownAndShowsTheUnreportedBrickFaulty) {
  const std::string id = CreateSession();
  status_ = Fixture("georep-status-detail-active.xml");
  Poll();
  ASSERT_EQ(ops_->GetSession(id)->session.status, SessionStatus::kActive);

  // src1's glusterd is killed: src2 answers, and reports only its own brick.
  cluster_.scripts["10.77.0.1"] = GlusterdDown;
  std::string node_down = Fixture("georep-status-detail-node-down.xml");
  cluster_.scripts["10.77.0.2"] = Node(&node_down, &config_);
  ClusterPoll p = Poll();
  EXPECT_EQ(p.answered_by, "src2");
  auto s = ops_->GetSession(id);
  EXPECT_EQ(s->session.status, SessionStatus::kPartialFaulty);
  ASSERT_EQ(s->nodes.size(), 2u);
  EXPECT_EQ(s->nodes[0].source_host, "src1");
  EXPECT_EQ(s->nodes[0].status, NodeStatus::kFaulty);
  EXPECT_NE(s->nodes[0].status_reason.find("glusterd on src1 does not answer"), std::string::npos)
      << s->nodes[0].status_reason;
  EXPECT_EQ(s->nodes[1].status, NodeStatus::kPassive);
  auto faulty = Events("session.faulty");
  ASSERT_EQ(faulty.size(), 1u);
  EXPECT_EQ(faulty[0].object_id, id);
  EXPECT_EQ(faulty[0].actor, "monitor");
  EXPECT_NE(faulty[0].message.find("Partial faulty"), std::string::npos) << faulty[0].message;
  auto node_faulty = Events("session.node_faulty");
  ASSERT_EQ(node_faulty.size(), 1u);
  EXPECT_NE(node_faulty[0].message.find("node src1:"), std::string::npos) << node_faulty[0].message;

  // Polling again changes nothing and raises nothing.
  Poll();
  EXPECT_EQ(Events("session.faulty").size(), 1u);

  // glusterd is back: recovered, one event.
  cluster_.scripts["10.77.0.1"] = Node(&status_, &config_);
  Poll();
  EXPECT_EQ(ops_->GetSession(id)->session.status, SessionStatus::kActive);
  EXPECT_EQ(ops_->GetSession(id)->session.status_reason, "");
  EXPECT_EQ(Events("session.recovered").size(), 1u);
  EXPECT_EQ(Events("session.node_faulty").size(), 1u);
  EXPECT_EQ(Events("session.node_recovered").size(), 1u);
}

TEST_F(GlusterMonitorTest, NoHostAnswersMarksSessionsUnknownWithTheReason) {
  const std::string id = CreateSession();
  cluster_.scripts.clear();  // every host unreachable
  auto p = ops_->PollGlusterCluster(monitor_, cluster_id_);
  EXPECT_EQ(p.status().code(), StatusCode::kUnavailable);
  auto s = ops_->GetSession(id);
  EXPECT_EQ(s->session.status, SessionStatus::kUnknown);
  EXPECT_NE(s->session.status_reason.find("no host of the source cluster answers"),
            std::string::npos)
      << s->session.status_reason;
  EXPECT_NE(s->session.status_reason.find("src2: 10.77.0.2: no route to host"), std::string::npos)
      << s->session.status_reason;
}

TEST_F(GlusterMonitorTest, CheckpointCompletionIsOneEvent) {
  const std::string id = CreateSession();
  status_ = Fixture("georep-status-detail-active.xml");
  Poll();
  EXPECT_TRUE(Events("session.checkpoint_completed").empty());
  status_ = Fixture("georep-status-detail-checkpoint.xml");
  Poll();
  Poll();
  auto done = Events("session.checkpoint_completed");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_NE(done[0].message.find("checkpoint of 2026-11-27 13:06:46 UTC completed at "
                                 "2026-11-27 13:06:58 UTC"),
            std::string::npos)
      << done[0].message;
  auto s = ops_->GetSession(id);
  EXPECT_TRUE(s->nodes[0].checkpoint_completed);
}

TEST_F(GlusterMonitorTest, DiscoversASessionCreatedOutsideGeorepOnce) {
  status_ = Fixture("georep-status-detail-all-sessions.xml");
  ClusterPoll p = Poll();
  EXPECT_EQ(p.discovered, 1);
  auto sessions = ops_->ListSessions({});
  ASSERT_EQ(sessions->size(), 1u);
  const Session& s = (*sessions)[0];
  EXPECT_EQ(s.source_volume_id, volume_.id);
  EXPECT_EQ(s.destination_volume, "gv1");
  EXPECT_EQ(s.status, SessionStatus::kActive);
  auto d = ops_->GetDestination(s.destination_id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host, "10.77.0.11");
  EXPECT_EQ(d->ssh_fingerprint, "");  // never trusted without an admin's confirmation
  EXPECT_NE(d->connection_reason.find("confirm its host key"), std::string::npos);
  ASSERT_EQ(Events("session.discovered").size(), 1u);
  EXPECT_EQ(Events("session.discovered")[0].object_id, s.id);

  p = Poll();
  EXPECT_EQ(p.discovered, 0);
  EXPECT_EQ(p.refreshed, 1);
  EXPECT_EQ(ops_->ListSessions({})->size(), 1u);
  EXPECT_EQ(Events("session.discovered").size(), 1u);
}

TEST_F(GlusterMonitorTest, ASessionGoneBeforeItIsDiscoveredIsNotRecorded) {
  // The cluster-wide answer still lists a session that is gone when asked again (removed
  // by georep, or by hand, while the poll was on its way): nothing is recorded.
  const std::string all = Fixture("georep-status-detail-all-sessions.xml");
  cluster_.scripts["10.77.0.1"] = [&](const std::vector<std::string>& argv) {
    if (Has(argv, "status") && Has(argv, "gv0"))
      return Result<CommandResult>(Answer("geo-replication command failed\n", 2));
    if (Has(argv, "status")) return Result<CommandResult>(Answer(all));
    return Result<CommandResult>(Answer("ok\n"));
  };
  ClusterPoll p = Poll();
  EXPECT_EQ(p.discovered, 0);
  EXPECT_TRUE(ops_->ListSessions({})->empty());
  EXPECT_TRUE(Events("session.discovered").empty());
}

TEST_F(GlusterMonitorTest, ASessionDeletedOutsideIsMarkedOnce) {
  const std::string id = CreateSession();
  status_ = Fixture("georep-status-detail-active.xml");
  Poll();
  status_ = Fixture("georep-status-none.out");  // gluster has no session any more
  Poll();
  Poll();
  auto s = ops_->GetSession(id);
  ASSERT_TRUE(s.ok());  // kept, so the admin sees what happened
  EXPECT_EQ(s->session.status, SessionStatus::kUnknown);
  EXPECT_NE(s->session.status_reason.find("deleted outside georep"), std::string::npos);
  EXPECT_EQ(Events("session.deleted_outside").size(), 1u);
}

TEST_F(GlusterMonitorTest, ConfigChangedOutsideIsPickedUp) {
  const std::string id = CreateSession();  // georep's sync-method: the default, rsync
  status_ = Fixture("georep-status-detail-active.xml");
  Poll();  // the recorded config says tarssh
  auto items = ops_->GetConfig(id);
  ASSERT_TRUE(items.ok());
  for (const auto& item : *items) {
    if (item.option->key == "sync-method") {
      EXPECT_EQ(item.value, "tarssh");
      EXPECT_EQ(item.changed_by, "outside georep");
    }
    if (item.option->key == "sync-jobs") {
      EXPECT_TRUE(item.is_default);
    }
  }
  auto changed = Events("session.config_changed_outside");
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_NE(changed[0].message.find("sync-method changed outside georep from 'rsync' to 'tarssh'"),
            std::string::npos)
      << changed[0].message;
  Poll();
  EXPECT_EQ(Events("session.config_changed_outside").size(), 1u);
}

TEST_F(GlusterMonitorTest, StartWarnsWhenRsyncWouldWriteEmptyFiles) {
  const std::string id = CreateSession();
  // Debian 12's rsync on src2; sync-method is still gluster's default, rsync.
  std::string status = Fixture("georep-status-detail-active.xml");
  cluster_.scripts["10.77.0.2"] = [&](const std::vector<std::string>& argv) {
    if (argv[0] == "rsync")
      return Result<CommandResult>(Answer("rsync  version 3.5.0  protocol version 32\n"));
    return Node(&status, &config_)(argv);
  };
  status_ = status;
  for (auto* h : {&hosts_[0], &hosts_[1]}) ASSERT_TRUE(ops_->CheckHost(admin_, h->id).ok());
  auto started = ops_->RunSessionAction(admin_, id, SessionAction::kStart, false);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  ASSERT_EQ(started->warnings.size(), 1u);
  EXPECT_NE(started->warnings[0].find("src2"), std::string::npos) << started->warnings[0];
  EXPECT_NE(started->warnings[0].find("tarssh"), std::string::npos) << started->warnings[0];

  // With tarssh there is nothing to warn about.
  ASSERT_TRUE(ops_->RunSessionAction(admin_, id, SessionAction::kStop, false).ok());
  ASSERT_TRUE(ops_->SetConfig(admin_, id, "sync-method", "tarssh").ok());
  auto again = ops_->RunSessionAction(admin_, id, SessionAction::kStart, true);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->warnings.empty());
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

}  // namespace
}  // namespace georep

namespace georep {
namespace {

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
