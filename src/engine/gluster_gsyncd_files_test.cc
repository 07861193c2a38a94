// The monitor's steady pass over a gluster cluster (Operations::PollGlusterCluster with
// full=false): gsyncd's own files on each source node instead of a glusterd transaction, and
// when gluster must be asked after all.
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

}  // namespace
}  // namespace georep
