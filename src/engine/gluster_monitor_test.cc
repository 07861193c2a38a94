// The monitor's pass over a gluster cluster (Operations::PollGlusterCluster), on a scripted
// cluster whose answers are the XML recorded from real GlusterFS (gluster/testdata): node
// rows and status, fail-over, discovery, sessions deleted or changed outside georep, and why
// workers stopped (gsyncd's log). The same behaviour runs against real glusterd in
// tests/integration/gluster_*_test.cc.
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

}  // namespace
}  // namespace georep
