#include "gluster/gsyncd_status.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "gluster/cli_xml.h"
#include "gluster/test_support/testdata.h"
#include "model/names.h"

namespace georep {
namespace {

using testing_support::Fixture;

const char* const kSrc1Brick = "/var/tmp/grgc/src1/bricks/gv0";
const char* const kSrc2Brick = "/var/tmp/grgc/src2/bricks/gv0";
const char* const kDir = "gv0_10.77.0.11_gv1";

TEST(GsyncdStatus, NamesAreGsyncds) {
  EXPECT_EQ(GsyncdSessionDir("gv0", "10.77.0.11", "gv1"), kDir);
  EXPECT_EQ(GsyncdPidFile("gv0", "10.77.0.11", "gv1"),
            "/var/run/gluster/gsyncd-gv0-10.77.0.11-gv1.pid");
  // As listed on the lab's src1 (Python's quote_plus).
  EXPECT_EQ(GsyncdBrickStatusFile(kSrc1Brick),
            "brick_%2Fvar%2Ftmp%2Fgrgc%2Fsrc1%2Fbricks%2Fgv0.status");
  EXPECT_EQ(GsyncdBrickStatusFile("/d/a b~c"), "brick_%2Fd%2Fa+b~c.status");
}

TEST(GsyncdStatus, TheReaderTakesItsPathsAsArguments) {
  auto argv = GsyncdStatusReader({{kDir, "/var/run/gluster/gsyncd-gv0-10.77.0.11-gv1.pid"}});
  ASSERT_EQ(argv.size(), 6u);
  EXPECT_EQ(argv[0], "sh");
  EXPECT_EQ(argv[1], "-c");
  EXPECT_EQ(argv[2].find(kDir), std::string::npos);  // never inside the script
  EXPECT_EQ(argv[3], "georep-gsyncd-status");
  EXPECT_EQ(argv[4], kDir);
}

TEST(GsyncdStatus, ParsesWhatTheReaderPrintedOnTheLab) {
  auto r = ParseGsyncdNodeReport(Fixture("gsyncd-files-active-src1.out"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->glusterd_running);
  EXPECT_EQ(r->session_dirs, std::vector<std::string>{kDir});
  ASSERT_EQ(r->sessions.count(kDir), 1u);
  const GsyncdSessionFiles& f = r->sessions.at(kDir);
  EXPECT_TRUE(f.present);
  EXPECT_EQ(f.monitor_status, "Started");
  EXPECT_TRUE(f.monitor_running);
  EXPECT_EQ(f.bricks.count(GsyncdBrickStatusFile(kSrc1Brick)), 1u);

  auto down = ParseGsyncdNodeReport(Fixture("gsyncd-files-glusterd-down-src1.out"));
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  EXPECT_FALSE(down->glusterd_running);
}

TEST(GsyncdStatus, OutputThatIsNotTheReadersIsRefused) {
  EXPECT_EQ(ParseGsyncdNodeReport("").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ParseGsyncdNodeReport("ok\n").status().code(), StatusCode::kCorruption);
  // Cut short: no end marker.
  EXPECT_EQ(ParseGsyncdNodeReport("georep-reader 1\ngeorep-glusterd yes\n").status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(ParseGsyncdNodeReport("georep-reader 1\nsomething else\ngeorep-end\n").status().code(),
            StatusCode::kCorruption);
  // A banner before it is skipped.
  auto ok = ParseGsyncdNodeReport("Welcome\ngeorep-reader 1\ngeorep-glusterd yes\ngeorep-end\n");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->sessions.empty());
}

// The rows derived from gsyncd's files are the rows gluster's `status detail` showed at the
// same moment on the lab (its XML captured right after the files).
void ExpectSameAsGluster(const std::string& state) {
  SCOPED_TRACE(state);
  auto xml = ParseGeoRepStatus(Fixture("gsyncd-files-" + state + ".xml"));
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  ASSERT_EQ(xml->size(), 1u);
  const GeoRepStatus& gluster = (*xml)[0];
  ASSERT_EQ(gluster.nodes.size(), 2u);
  for (const auto& [node, brick, host] :
       {std::tuple{"src1", kSrc1Brick, "10.77.0.1"}, {"src2", kSrc2Brick, "10.77.0.2"}}) {
    SCOPED_TRACE(node);
    auto report = ParseGsyncdNodeReport(Fixture("gsyncd-files-" + state + "-" + node + ".out"));
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    const SessionNodeStatus files = GsyncdBrickRow(report->sessions.at(kDir), brick, host);
    const SessionNodeStatus* said = nullptr;
    for (const auto& n : gluster.nodes)
      if (n.source_brick == brick) said = &n;
    ASSERT_NE(said, nullptr);
    EXPECT_EQ(files.source_host, said->source_host);
    EXPECT_EQ(Name(files.status), Name(said->status));
    EXPECT_EQ(Name(files.crawl), Name(said->crawl));
    // gluster was asked a moment after the files were read.
    EXPECT_LE(std::llabs(files.last_synced - said->last_synced), 15'000)
        << files.last_synced << " " << said->last_synced;
    EXPECT_EQ(files.entry_pending, said->entry_pending);
    EXPECT_EQ(files.data_pending, said->data_pending);
    EXPECT_EQ(files.meta_pending, said->meta_pending);
    EXPECT_EQ(files.failures, said->failures);
    EXPECT_EQ(files.checkpoint_time, said->checkpoint_time);
    EXPECT_EQ(files.checkpoint_completed, said->checkpoint_completed);
    if (files.status == NodeStatus::kActive) {
      EXPECT_EQ(files.checkpoint_completion_time, said->checkpoint_completion_time);
    }
  }
}

TEST(GsyncdStatus, RowsAreWhatGlusterShowsInEveryState) {
  for (const char* state : {"created", "active", "paused", "checkpoint", "stopped"})
    ExpectSameAsGluster(state);
}

TEST(GsyncdStatus, AMonitorThatHoldsNoLockIsStopped) {
  auto report = ParseGsyncdNodeReport(Fixture("gsyncd-files-monitor-killed-src1.out"));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const GsyncdSessionFiles& f = report->sessions.at(kDir);
  EXPECT_EQ(f.monitor_status, "Started");  // what monitor.status still says
  EXPECT_FALSE(f.monitor_running);
  EXPECT_EQ(GsyncdBrickRow(f, kSrc1Brick, "10.77.0.1").status, NodeStatus::kStopped);
  auto xml = ParseGeoRepStatus(Fixture("gsyncd-files-monitor-killed.xml"));
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  EXPECT_EQ((*xml)[0].nodes[0].status, NodeStatus::kStopped);  // as gluster says
}

TEST(GsyncdStatus, ACheckpointIsDerivedAsGsyncdDoes) {
  GsyncdSessionFiles f;
  f.present = true;
  f.monitor_status = "Started";
  f.monitor_running = true;
  f.bricks[GsyncdBrickStatusFile("/b")] =
      R"({"worker_status": "Active", "crawl_status": "Changelog Crawl", "last_synced": 1000,)"
      R"( "entry": 2, "data": 3, "meta": 4, "failures": 1, "checkpoint_time": 0,)"
      R"( "checkpoint_completed": "No", "checkpoint_completion_time": 0})";
  // No checkpoint set.
  SessionNodeStatus n = GsyncdBrickRow(f, "/b", "h");
  EXPECT_EQ(n.status, NodeStatus::kActive);
  EXPECT_EQ(n.last_synced, 1'000'000);
  EXPECT_EQ(n.entry_pending, 2);
  EXPECT_EQ(n.data_pending, 3);
  EXPECT_EQ(n.meta_pending, 4);
  EXPECT_EQ(n.failures, 1);
  EXPECT_EQ(n.checkpoint_time, 0);
  EXPECT_FALSE(n.checkpoint_completed);
  // One set before what is synced: complete, at the time synced.
  f.checkpoint = 900;
  n = GsyncdBrickRow(f, "/b", "h");
  EXPECT_EQ(n.checkpoint_time, 900'000);
  EXPECT_TRUE(n.checkpoint_completed);
  EXPECT_EQ(n.checkpoint_completion_time, 1'000'000);
  // One set after: not yet.
  f.checkpoint = 2000;
  n = GsyncdBrickRow(f, "/b", "h");
  EXPECT_EQ(n.checkpoint_time, 2'000'000);
  EXPECT_FALSE(n.checkpoint_completed);
  EXPECT_EQ(n.checkpoint_completion_time, 0);
  // A file that is not JSON counts as gsyncd's defaults.
  f.bricks[GsyncdBrickStatusFile("/b")] = "{not json";
  EXPECT_EQ(GsyncdBrickRow(f, "/b", "h").status, NodeStatus::kUnknown);
}

}  // namespace
}  // namespace georep
