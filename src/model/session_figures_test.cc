#include "model/session_figures.h"

#include <gtest/gtest.h>

namespace georep {
namespace {

TEST(ThroughputWindow, UnknownBeforeTwoReportsThenTheRateOverTheWindow) {
  ThroughputWindow w;
  EXPECT_EQ(w.BytesPerSecond(0), -1);
  w.Add(1000, 0);
  EXPECT_EQ(w.BytesPerSecond(1000), -1);
  w.Add(1000, 500);  // the same report read again
  EXPECT_EQ(w.BytesPerSecond(1000), -1);
  w.Add(3000, 4000);
  EXPECT_EQ(w.BytesPerSecond(3000), 2000);  // over the 2 s there are
  for (int64_t t = 4000; t <= 20000; t += 1000) w.Add(t, 4000 + (t - 3000) * 3);
  EXPECT_EQ(w.BytesPerSecond(20000), 3000);  // the last 10 s
  // Nothing more applied: the rate falls as the window moves on, to 0.
  w.Add(25000, 4000 + 17000 * 3);
  EXPECT_EQ(w.BytesPerSecond(25000), 3000 * 5 / 10);
  w.Add(35000, 4000 + 17000 * 3);
  EXPECT_EQ(w.BytesPerSecond(35000), 0);
  // No report for longer than the window: not known now.
  EXPECT_EQ(w.BytesPerSecond(35000 + ThroughputWindow::kWindowMs), 0);
  EXPECT_EQ(w.BytesPerSecond(35001 + ThroughputWindow::kWindowMs), -1);
}

TEST(ThroughputWindow, ACountThatWentBackStartsOver) {
  ThroughputWindow w;
  w.Add(0, 1'000'000);
  w.Add(1000, 2'000'000);
  EXPECT_EQ(w.BytesPerSecond(1000), 1'000'000);
  w.Add(2000, 10);  // a new state directory
  EXPECT_EQ(w.BytesPerSecond(2000), -1);
  w.Add(4000, 2010);
  EXPECT_EQ(w.BytesPerSecond(4000), 1000);
  w.Add(5000, -1);  // an older worker: nothing reported
  EXPECT_EQ(w.BytesPerSecond(5000), 1000);
}

SessionNodeStatus Node(int set, NodeStatus status, int64_t last_synced, int64_t lag = -1,
                       int64_t rate = -1) {
  SessionNodeStatus n;
  n.set_index = set;
  n.status = status;
  n.last_synced = last_synced;
  n.lag_ms = lag;
  n.throughput_bps = rate;
  return n;
}

TEST(SessionFigures, LastSyncedIsTheOldestSetsEachSetItsNewestNodes) {
  EXPECT_EQ(SessionLastSynced({}), 0);
  // Set 0: the Active node's; the Passive standby has none (gluster says N/A).
  EXPECT_EQ(SessionLastSynced({Node(0, NodeStatus::kActive, 5000), Node(0, NodeStatus::kPassive, 0),
                               Node(1, NodeStatus::kActive, 7000)}),
            5000);
  // A paused node keeps its mark: the session says the same as its row.
  EXPECT_EQ(SessionLastSynced({Node(0, NodeStatus::kPaused, 46000)}), 46000);
  // A set that never synced: nothing can be said of the session.
  EXPECT_EQ(
      SessionLastSynced({Node(0, NodeStatus::kActive, 5000), Node(1, NodeStatus::kFaulty, 0)}), 0);
}

TEST(SessionFigures, LagIsTheLargestOfTheNodesThatReplicateUnknownIfOneIs) {
  EXPECT_EQ(SessionLag({}), -1);
  EXPECT_EQ(SessionLag({Node(0, NodeStatus::kActive, 1, 300), Node(0, NodeStatus::kPassive, 0),
                        Node(1, NodeStatus::kActive, 1, 900)}),
            900);
  EXPECT_EQ(SessionLag({Node(0, NodeStatus::kActive, 1, 300), Node(1, NodeStatus::kFaulty, 1)}),
            -1);
  EXPECT_EQ(SessionLag({Node(0, NodeStatus::kActive, 1, 0)}), 0);
}

TEST(SessionFigures, ThroughputIsTheNodesSumUnknownIfOneIs) {
  EXPECT_EQ(SessionThroughput({}), -1);
  EXPECT_EQ(SessionThroughput(
                {Node(0, NodeStatus::kActive, 1, 0, 100), Node(1, NodeStatus::kActive, 1, 0, 0)}),
            100);
  EXPECT_EQ(SessionThroughput({Node(0, NodeStatus::kActive, 1, 0, 100),
                               Node(1, NodeStatus::kInitializing, 1, 0, -1)}),
            -1);
}

TEST(SessionFigures, ALagRecordedWhileAChangeWaitedGrowsOn) {
  SessionNodeStatus n = Node(0, NodeStatus::kPaused, 1, 800);
  n.updated_at = 10'000;
  EXPECT_EQ(NodeLagNow(n, 13'000), 800);  // in step when recorded: as recorded
  n.lag_grows = true;
  EXPECT_EQ(NodeLagNow(n, 13'000), 3800);
  EXPECT_EQ(NodeLagNow(n, 9'000), 800);  // a clock read before the row: never less
  n.lag_ms = -1;
  EXPECT_EQ(NodeLagNow(n, 13'000), -1);
}

}  // namespace
}  // namespace georep
