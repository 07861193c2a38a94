// The monitor's pass over a gluster cluster (Operations::PollGlusterCluster), on a scripted
// cluster whose answers are the XML recorded from real GlusterFS (gluster/testdata). The same
// behaviour runs against real glusterd in tests/integration/gluster_test.cc.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
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

// A healthy node: `status` answers `status_xml`, `config --xml` the recorded config, `tail`
// gsyncd's log `gsyncd_log` (none: tail cannot open it), every other gluster command succeeds.
ScriptedCluster::Script Node(const std::string* status_xml, const std::string* config_xml,
                             const std::string* gsyncd_log = nullptr) {
  return [=](const std::vector<std::string>& argv) -> Result<CommandResult> {
    if (argv[0] == "tail") {
      if (gsyncd_log) return Answer(*gsyncd_log);
      CommandResult r = Answer("", 1);
      r.err = "tail: cannot open '" + argv.back() + "' for reading: No such file or directory\n";
      return r;
    }
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
    cluster_.scripts["10.77.0.11"] = Node(&status_, &config_);  // the destination host

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
    vs.bricks = {{hosts_[0].id, brick_root_ + "/src1/bricks/gv0"},
                 {hosts_[1].id, brick_root_ + "/src2/bricks/gv0"}};
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

  std::string brick_root_ = "/tmp/gc";  // where the recorded answers' bricks are
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  FakeClock clock_{1795784806000};
  SeededRandom random_{7};
  ObjectLocks locks_;
  ScriptedCluster cluster_;
  std::unique_ptr<Operations> ops_;
  const Actor admin_{"admin", Role::kAdmin};
  const Actor monitor_{"monitor", Role::kAdmin};
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

  // The workers stop and start again (no checkpoint shown meanwhile), then gluster shows the same
  // checkpoint completed again: still one event.
  status_ = Fixture("georep-status-detail-stopped.xml");
  Poll();
  ASSERT_FALSE(ops_->GetSession(id)->nodes[0].checkpoint_completed);
  status_ = Fixture("georep-status-detail-checkpoint.xml");
  Poll();
  EXPECT_EQ(Events("session.checkpoint_completed").size(), 1u);
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
  // Removing it needs no force, and asks gluster nothing (it would say "does not exist").
  const size_t asked = cluster_.log.size();
  ASSERT_TRUE(ops_->RemoveSession(admin_, id, false).ok());
  for (size_t i = asked; i < cluster_.log.size(); ++i)
    EXPECT_FALSE(Has(cluster_.log[i].second, "delete")) << i;
  EXPECT_EQ(ops_->GetSession(id).status().code(), StatusCode::kNotFound);
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

// gsyncd's log recorded on the lab (src1's, with dst1 unreachable), for this test's brick.
std::string RecordedGsyncdLog(const std::string& name) {
  std::string log = Fixture(name);
  for (size_t at = 0; (at = log.find("/var/tmp/grgc/", at)) != std::string::npos;)
    log.replace(at, 14, "/tmp/gc/");
  return log;
}

std::string WithStatus(std::string xml, const std::string& from, const std::string& to,
                       int nth = 1) {
  size_t at = 0;
  for (int i = 0; i < nth; ++i) {
    at = xml.find("<status>" + from + "</status>", i == 0 ? 0 : at + 1);
    EXPECT_NE(at, std::string::npos) << from;
    if (at == std::string::npos) return xml;
  }
  return xml.replace(at, from.size() + 17, "<status>" + to + "</status>");
}

// The `tail` commands sent (gsyncd's log read), by host address.
std::vector<std::pair<std::string, std::vector<std::string>>> LogReads(ScriptedCluster& c) {
  std::lock_guard<std::mutex> lock(c.mu);
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& [host, argv] : c.log)
    if (argv[0] == "tail") out.emplace_back(host, argv);
  return out;
}

const char* kNoRoute =
    "gsyncd on src1 (2026-12-06 15:18:17): ssh: connect to host 10.77.0.11 port 22: No route to "
    "host";

TEST_F(GlusterMonitorTest, AFaultyNodeShowsWhyFromGsyncdsLogReadOnce) {
  const std::string id = CreateSession();
  const std::string log = RecordedGsyncdLog("gsyncd-no-route.log");
  cluster_.scripts["10.77.0.1"] = Node(&status_, &config_, &log);
  status_ = Fixture("georep-status-detail-active.xml");
  Poll();
  EXPECT_TRUE(LogReads(cluster_).empty());  // nothing to explain

  // src1's worker goes Faulty (src2 stays Passive: the set has no Active worker).
  status_ = WithStatus(Fixture("georep-status-detail-active.xml"), "Active", "Faulty");
  Poll();
  auto s = ops_->GetSession(id);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->nodes.size(), 2u);
  EXPECT_EQ(s->nodes[0].status, NodeStatus::kFaulty);
  EXPECT_EQ(s->nodes[0].status_reason, kNoRoute);
  EXPECT_EQ(s->nodes[1].status_reason, "");
  EXPECT_EQ(s->session.status, SessionStatus::kPartialFaulty);
  EXPECT_EQ(s->session.status_reason, kNoRoute);
  auto reads = LogReads(cluster_);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].first, "10.77.0.1");
  EXPECT_EQ(reads[0].second,
            (std::vector<std::string>{"tail", "-c", "65536", "--",
                                      "/var/log/glusterfs/geo-replication/gv0_10.77.0.11_gv1/"
                                      "gsyncd.log"}));
  auto node_faulty = Events("session.node_faulty");
  ASSERT_EQ(node_faulty.size(), 1u);
  EXPECT_NE(node_faulty[0].message.find(std::string("is Faulty: ") + kNoRoute), std::string::npos)
      << node_faulty[0].message;
  auto faulty = Events("session.faulty");
  ASSERT_EQ(faulty.size(), 1u);
  EXPECT_NE(faulty[0].message.find(kNoRoute), std::string::npos) << faulty[0].message;

  // While it stays Faulty the reason is kept; its log is read again at most once a minute
  // (a retry's words may say more than the first failure's).
  Poll();
  clock_.Advance(30'000);
  Poll();
  EXPECT_EQ(LogReads(cluster_).size(), 1u);
  EXPECT_EQ(ops_->GetSession(id)->nodes[0].status_reason, kNoRoute);
  clock_.Advance(31'000);
  Poll();
  EXPECT_EQ(LogReads(cluster_).size(), 2u);
  EXPECT_EQ(ops_->GetSession(id)->nodes[0].status_reason, kNoRoute);

  // gsyncd retries (Initializing...) and fails again: the reason stays on the node throughout,
  // without another read within the minute.
  status_ = WithStatus(Fixture("georep-status-detail-active.xml"), "Active", "Initializing...");
  clock_.Advance(10'000);
  Poll();
  EXPECT_EQ(ops_->GetSession(id)->nodes[0].status, NodeStatus::kInitializing);
  EXPECT_EQ(ops_->GetSession(id)->nodes[0].status_reason, kNoRoute);
  status_ = WithStatus(Fixture("georep-status-detail-active.xml"), "Active", "Faulty");
  clock_.Advance(10'000);
  Poll();
  EXPECT_EQ(LogReads(cluster_).size(), 2u);
  EXPECT_EQ(ops_->GetSession(id)->nodes[0].status_reason, kNoRoute);

  // Recovered: no reason any more.
  status_ = Fixture("georep-status-detail-active.xml");
  Poll();
  s = ops_->GetSession(id);
  EXPECT_EQ(s->nodes[0].status, NodeStatus::kActive);
  EXPECT_EQ(s->nodes[0].status_reason, "");
  EXPECT_EQ(s->session.status_reason, "");
  EXPECT_EQ(LogReads(cluster_).size(), 2u);
  // A new fault is read at once.
  status_ = WithStatus(Fixture("georep-status-detail-active.xml"), "Active", "Faulty");
  Poll();
  EXPECT_EQ(LogReads(cluster_).size(), 3u);
}

TEST_F(GlusterMonitorTest, ASessionThatStoppedByItselfShowsWhyAndAnUnreadableLogSaysSo) {
  const std::string id = CreateSession();
  const std::string log = RecordedGsyncdLog("gsyncd-connection-broken.log");
  cluster_.scripts["10.77.0.1"] = Node(&status_, &config_, &log);  // src2 has no such log
  status_ = Fixture("georep-status-detail-active.xml");
  Poll();
  status_ = Fixture("georep-status-detail-stopped.xml");  // not georep's doing
  Poll();
  auto s = ops_->GetSession(id);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->session.status, SessionStatus::kStopped);
  ASSERT_EQ(s->nodes.size(), 2u);
  EXPECT_EQ(s->nodes[0].status_reason,
            "gsyncd on src1 (2026-12-06 15:15:57): connection to peer is broken");
  EXPECT_EQ(s->nodes[1].status_reason,
            "gsyncd log on src2 unreadable: tail: cannot open "
            "'/var/log/glusterfs/geo-replication/gv0_10.77.0.11_gv1/gsyncd.log' for reading: No "
            "such file or directory");
  // The session's reason is the one that says why.
  EXPECT_EQ(s->session.status_reason, s->nodes[0].status_reason);
  auto changed = Events("session.status");
  ASSERT_FALSE(changed.empty());
  std::string messages;
  for (const auto& e : changed) messages += e.message + "\n";
  EXPECT_NE(messages.find("is Stopped (was Active): gsyncd on src1"), std::string::npos)
      << messages;
  EXPECT_EQ(LogReads(cluster_).size(), 2u);  // one per node
  Poll();                                    // still Stopped: kept, not read again
  EXPECT_EQ(LogReads(cluster_).size(), 2u);
  EXPECT_EQ(ops_->GetSession(id)->nodes[0].status_reason, s->nodes[0].status_reason);

  // A node georep cannot reach: said so, too.
  cluster_.scripts["10.77.0.2"] = [&](const std::vector<std::string>& argv) {
    if (argv[0] == "tail") return Result<CommandResult>(Status::Unavailable("no route to host"));
    return Node(&status_, &config_)(argv);
  };
  status_ = WithStatus(Fixture("georep-status-detail-active.xml"), "Passive", "Faulty");
  Poll();
  EXPECT_EQ(ops_->GetSession(id)->nodes[1].status_reason,
            "gsyncd log on src2 unreadable: no route to host");
}

TEST_F(GlusterMonitorTest, AStopThroughGeorepReadsNoLog) {
  const std::string id = CreateSession();
  const std::string log = RecordedGsyncdLog("gsyncd-no-route.log");
  cluster_.scripts["10.77.0.1"] = Node(&status_, &config_, &log);
  cluster_.scripts["10.77.0.2"] = Node(&status_, &config_, &log);
  status_ = Fixture("georep-status-detail-active.xml");
  Poll();
  status_ = Fixture("georep-status-detail-stopped.xml");  // what gluster says after the stop
  auto stopped = ops_->RunSessionAction(admin_, id, SessionAction::kStop, false);
  ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
  EXPECT_EQ(stopped->session.status, SessionStatus::kStopped);
  EXPECT_EQ(stopped->session.status_reason, "");
  Poll();
  auto s = ops_->GetSession(id);
  for (const auto& n : s->nodes) EXPECT_EQ(n.status_reason, "") << n.source_host;
  EXPECT_TRUE(LogReads(cluster_).empty());

  // Started again, it stops by itself later: that is explained.
  status_ = Fixture("georep-status-detail-active.xml");
  ASSERT_TRUE(ops_->RunSessionAction(admin_, id, SessionAction::kStart, false).ok());
  status_ = Fixture("georep-status-detail-stopped.xml");
  Poll();
  EXPECT_EQ(LogReads(cluster_).size(), 2u);
  EXPECT_EQ(ops_->GetSession(id)->nodes[0].status_reason, kNoRoute);
}

// gsyncd's files on a node, as the status reader prints them (captured on the lab: see
// gluster/testdata/README.md); `base` answers everything else. Counts the reads in `*reads`.
ScriptedCluster::Script WithGsyncdFiles(const std::string* files, int* reads,
                                        ScriptedCluster::Script base) {
  return [=](const std::vector<std::string>& argv) -> Result<CommandResult> {
    if (argv.size() >= 4 && argv[0] == "sh" && argv[3] == "georep-gsyncd-status") {
      ++*reads;
      return Answer(*files);
    }
    return base(argv);
  };
}

// Every gluster command the cluster was asked since `from` (the log's index).
std::vector<std::string> GlusterAsked(const ScriptedCluster& c, size_t from = 0) {
  std::vector<std::string> out;
  for (size_t i = from; i < c.log.size(); ++i) {
    if (c.log[i].second.empty() || c.log[i].second[0] != "gluster") continue;
    std::string line;
    for (const auto& w : c.log[i].second) line += (line.empty() ? "" : " ") + w;
    out.push_back(c.log[i].first + ": " + line);
  }
  return out;
}

// gluster's answers recorded with the older harness, moved to the bricks of the lab where
// gsyncd's files were captured.
std::string LabBricks(std::string xml) {
  const std::string from = "/tmp/gc/", to = "/var/tmp/grgc/";
  for (size_t at = xml.find(from); at != std::string::npos; at = xml.find(from, at + to.size()))
    xml.replace(at, from.size(), to);
  return xml;
}

class GsyncdFilesTest : public GlusterMonitorTest {
 protected:
  GsyncdFilesTest() { brick_root_ = "/var/tmp/grgc"; }
  void SetUp() override {
    GlusterMonitorTest::SetUp();
    status_ = Fixture("gsyncd-files-active.xml");
    Files("active");
    cluster_.scripts["10.77.0.1"] = WithGsyncdFiles(&src1_, &reads_, Node(&status_, &config_));
    cluster_.scripts["10.77.0.2"] = WithGsyncdFiles(&src2_, &reads_, Node(&status_, &config_));
    id_ = CreateSession();
  }
  void Files(const std::string& state) {
    src1_ = Fixture("gsyncd-files-" + state + "-src1.out");
    src2_ = Fixture("gsyncd-files-" + state + "-src2.out");
  }
  ClusterPoll Steady() {
    auto p = ops_->PollGlusterCluster(monitor_, cluster_id_, /*full=*/false);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? *p : ClusterPoll{};
  }
  std::string id_;
  std::string src1_, src2_;
  int reads_ = 0;
};

TEST_F(GsyncdFilesTest, ASteadyPassReadsGsyncdsFilesAndAsksGlusterNothing) {
  Poll();  // the full pass: gluster's status and config
  const SessionDetail by_gluster = *ops_->GetSession(id_);
  ASSERT_EQ(by_gluster.session.status, SessionStatus::kActive);
  const size_t asked = cluster_.log.size();
  clock_.Advance(2000);
  ClusterPoll p = Steady();
  EXPECT_EQ(p.refreshed, 1);
  EXPECT_EQ(reads_, 2);  // one command per source node
  EXPECT_EQ(GlusterAsked(cluster_, asked), std::vector<std::string>{});
  EXPECT_EQ(p.answered_by, "src1, src2");
  const SessionDetail s = *ops_->GetSession(id_);
  EXPECT_EQ(s.session.status, SessionStatus::kActive);
  EXPECT_GT(s.session.updated_at, by_gluster.session.updated_at);
  ASSERT_EQ(s.nodes.size(), 2u);
  EXPECT_EQ(s.nodes[0].source_host, "src1");
  EXPECT_EQ(s.nodes[0].status, NodeStatus::kActive);
  EXPECT_EQ(s.nodes[0].crawl, CrawlStatus::kChangelog);
  EXPECT_GT(s.nodes[0].last_synced, 0);
  EXPECT_EQ(s.nodes[0].entry_pending, 0);
  EXPECT_EQ(s.nodes[0].failures, 0);
  EXPECT_EQ(s.nodes[1].source_host, "src2");
  EXPECT_EQ(s.nodes[1].status, NodeStatus::kPassive);
  EXPECT_EQ(s.nodes[1].entry_pending, -1);  // N/A, as gluster says for a Passive node
  EXPECT_EQ(s.nodes[0].set_index, s.nodes[1].set_index);
  EXPECT_TRUE(Events("session.faulty").empty());

  // Paused, then stopped, as the files say.
  Files("paused");
  Steady();
  EXPECT_EQ(ops_->GetSession(id_)->session.status, SessionStatus::kPaused);
  Files("stopped");
  Steady();
  EXPECT_EQ(ops_->GetSession(id_)->session.status, SessionStatus::kStopped);
  EXPECT_EQ(GlusterAsked(cluster_, asked), std::vector<std::string>{});
}

TEST_F(GsyncdFilesTest, ACheckpointCompletesOnceAndAMonitorThatDiedIsStopped) {
  Steady();
  // `config checkpoint now` on the lab: set, not reached yet (nothing synced since).
  Files("checkpoint");
  Steady();
  SessionDetail s = *ops_->GetSession(id_);
  EXPECT_EQ(s.nodes[0].checkpoint_time, 1796573224000);
  EXPECT_FALSE(s.nodes[0].checkpoint_completed);
  EXPECT_TRUE(Events("session.checkpoint_completed").empty());
  // One set before the Active brick's last synced (1796572977): complete, announced once.
  for (std::string* f : {&src1_, &src2_}) {
    const size_t at = f->find("georep-checkpoint 1796573224");
    ASSERT_NE(at, std::string::npos);
    f->replace(at, 28, "georep-checkpoint 1796572900");
  }
  Steady();
  Steady();
  ASSERT_EQ(Events("session.checkpoint_completed").size(), 1u);
  EXPECT_TRUE(ops_->GetSession(id_)->nodes[0].checkpoint_completed);
  // gsyncd's monitor killed behind glusterd's back: monitor.status still says Started, but
  // nothing holds its pid file's lock.
  Files("monitor-killed");
  Steady();
  s = *ops_->GetSession(id_);
  EXPECT_EQ(s.session.status, SessionStatus::kStopped);
  for (const auto& n : s.nodes) EXPECT_EQ(n.status, NodeStatus::kStopped) << n.source_host;
  EXPECT_EQ(Events("session.checkpoint_completed").size(), 1u);
}

TEST_F(GsyncdFilesTest, ANodeWhoseGlusterdIsDownOrUnreadableIsAskedOfGluster) {
  Steady();
  ASSERT_EQ(ops_->GetSession(id_)->session.status, SessionStatus::kActive);
  // glusterd killed on src1 (its files still readable): gluster is asked, through src2, which
  // does not report src1's brick -- Faulty with the reason, as without the files.
  Files("glusterd-down");
  std::string node_down = LabBricks(Fixture("georep-status-detail-node-down.xml"));
  cluster_.scripts["10.77.0.1"] = WithGsyncdFiles(&src1_, &reads_, GlusterdDown);
  cluster_.scripts["10.77.0.2"] = WithGsyncdFiles(&src2_, &reads_, Node(&node_down, &config_));
  ClusterPoll p = Steady();
  EXPECT_EQ(p.answered_by, "src2");
  SessionDetail s = *ops_->GetSession(id_);
  ASSERT_EQ(s.nodes.size(), 2u);
  EXPECT_EQ(s.nodes[0].status, NodeStatus::kFaulty);
  EXPECT_NE(s.nodes[0].status_reason.find("glusterd on src1 does not answer"), std::string::npos)
      << s.nodes[0].status_reason;
  EXPECT_EQ(Events("session.node_faulty").size(), 1u);

  // src1 cannot be reached at all: the same.
  cluster_.scripts.erase("10.77.0.1");
  p = Steady();
  EXPECT_EQ(p.answered_by, "src2");
  EXPECT_EQ(ops_->GetSession(id_)->nodes[0].status, NodeStatus::kFaulty);

  // Back: the files answer again, and gluster is not asked.
  Files("active");
  cluster_.scripts["10.77.0.1"] = WithGsyncdFiles(&src1_, &reads_, Node(&status_, &config_));
  cluster_.scripts["10.77.0.2"] = WithGsyncdFiles(&src2_, &reads_, Node(&status_, &config_));
  const size_t asked = cluster_.log.size();
  Steady();
  EXPECT_EQ(GlusterAsked(cluster_, asked), std::vector<std::string>{});
  EXPECT_EQ(ops_->GetSession(id_)->session.status, SessionStatus::kActive);
  EXPECT_EQ(Events("session.node_recovered").size(), 1u);
}

TEST_F(GsyncdFilesTest, ASessionDirectoryThatAppearsAsksGlusterOnce) {
  Steady();
  // A session made by hand (gv0 -> gv2): its directory appears on the nodes; gluster's
  // cluster-wide answer lists it, and it is discovered -- once.
  Files("new-dir");
  {
    // gluster's answer for every session: gv1's, and the same again for gv2.
    std::string all = LabBricks(Fixture("georep-status-detail-all-sessions.xml"));
    const size_t from = all.find("<session>"), to = all.find("</session>") + 10;
    ASSERT_NE(from, std::string::npos);
    std::string gv2 = all.substr(from, to - from);
    for (size_t at = gv2.find("::gv1"); at != std::string::npos; at = gv2.find("::gv1", at))
      gv2.replace(at, 5, "::gv2");
    status_ = all.insert(to, gv2);
  }
  const size_t asked = cluster_.log.size();
  Steady();  // seen once: perhaps georep's own create in flight
  EXPECT_EQ(GlusterAsked(cluster_, asked), std::vector<std::string>{});
  EXPECT_EQ(ops_->ListSessions({})->size(), 1u);
  const ClusterPoll looked = Steady();  // seen again: gluster is asked
  EXPECT_EQ(looked.discovered, 1) << (looked.problems.empty() ? "" : looked.problems[0]);
  const std::vector<std::string> queries = GlusterAsked(cluster_, asked);
  ASSERT_FALSE(queries.empty());
  EXPECT_EQ(queries[0],
            "10.77.0.1: gluster --mode=script volume geo-replication status detail --xml");
  const size_t after = cluster_.log.size();
  Steady();
  Steady();
  EXPECT_EQ(GlusterAsked(cluster_, after), std::vector<std::string>{});
  EXPECT_EQ(Events("session.discovered").size(), 1u);
}

TEST_F(GsyncdFilesTest, ASessionDirectoryThatGoesAsksGlusterOnce) {
  Steady();
  // The session's own directory gone from the nodes (deleted outside georep): gluster is
  // asked once, says it has no such session, and the session is marked.
  src1_ =
      "georep-reader 1\ngeorep-glusterd yes\ngeorep-session gv0_10.77.0.11_gv1\n"
      "georep-no-session\ngeorep-end\n";
  src2_ = src1_;
  status_ = Fixture("georep-status-none.out");
  const size_t before_gone = cluster_.log.size();
  Steady();
  EXPECT_EQ(ops_->GetSession(id_)->session.status, SessionStatus::kActive);  // not yet
  Steady();
  EXPECT_EQ(GlusterAsked(cluster_, before_gone).size(), 1u);
  EXPECT_EQ(ops_->GetSession(id_)->session.status, SessionStatus::kUnknown);
  EXPECT_EQ(Events("session.deleted_outside").size(), 1u);
  const size_t marked = cluster_.log.size();
  Steady();
  EXPECT_EQ(GlusterAsked(cluster_, marked), std::vector<std::string>{});
  EXPECT_EQ(Events("session.deleted_outside").size(), 1u);
}

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
