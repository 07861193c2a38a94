// The figures the engine shows for a directory session (model/session_figures.h) from what its
// worker reports, on a FakeClock: throughput over a window of reports, lag that is measured or
// unknown -- and grows while a change waits, paused or stopped too -- the session's header and
// its node saying the same, and a checkpoint that completes at once on a session in step and
// once only.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/test_support/directory_sessions_fixture.h"

namespace georep {
namespace {

class DirectoryFiguresTest : public testing_support::DirectorySessionsFixture {
 protected:
  // The session's figures and its node's, read as the API reads them.
  struct Figures {
    int64_t lag_ms, throughput_bps, last_synced;
    int64_t node_lag_ms, node_throughput_bps, node_last_synced;
    NodeStatus node_status;
  };
  Figures Read(const std::string& id) {
    auto s = ops_->GetSession(id);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok() || s->nodes.size() != 1) return {};
    const SessionNodeStatus& n = s->nodes[0];
    return {s->lag_ms,        s->throughput_bps, s->last_synced, n.lag_ms,
            n.throughput_bps, n.last_synced,     n.status};
  }
  // `w`, written now, and polled.
  void Report(const std::string& id, replication::WorkerStatus w) {
    w.updated_ms = clock_.NowMillis();
    auto polled = ReportAndPoll(id, w);
    ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  }
  void Act(const std::string& id, SessionAction action) {
    auto r = ops_->RunSessionAction(admin_, id, action, false);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  std::vector<Event> CheckpointEvents() {
    auto evs = ops_->ListEvents({0, "session", "", "session.checkpoint_completed", 100});
    EXPECT_TRUE(evs.ok());
    return evs.ok() ? *evs : std::vector<Event>{};
  }
};

// 200 MB applied in 17 s, then idle: the throughput is what was applied over the last 10 s of
// reports -- never the figure of one pass that then stays -- 0 once nothing was applied in
// the window, and unknown before two reports and once the worker stops reporting.
TEST_F(DirectoryFiguresTest, ThroughputIsWhatWasAppliedOverTheWindowAndZeroWhenIdle) {
  const std::string id = MakeSession("");
  Start(id);
  clock_.Advance(1000);
  replication::WorkerStatus w = ActiveWorker();
  Report(id, w);
  EXPECT_EQ(Read(id).node_throughput_bps, -1) << "one report: nothing measured yet";
  EXPECT_EQ(Read(id).throughput_bps, -1);
  const int64_t mb = 1'000'000;
  std::vector<int64_t> seen;
  for (int64_t applied : {60 * mb, 120 * mb, 180 * mb, 200 * mb, 200 * mb, 200 * mb}) {
    clock_.Advance(5000);
    w.bytes_applied = applied;
    Report(id, w);
    const Figures f = Read(id);
    EXPECT_EQ(f.throughput_bps, f.node_throughput_bps) << "the header is the node's";
    seen.push_back(f.node_throughput_bps);
  }
  // Over 5 s, then 10 s windows: 12 MB/s while it flows, less as it ends, 0 when idle.
  EXPECT_EQ(seen, (std::vector<int64_t>{12 * mb, 12 * mb, 12 * mb, 8 * mb, 2 * mb, 0}));

  // The worker stops reporting: nothing is known any more (and it is Faulty after a minute).
  clock_.Advance(61'000);
  ASSERT_TRUE(ops_->PollDirectorySession(admin_, id).ok());
  const Figures silent = Read(id);
  EXPECT_EQ(silent.node_status, NodeStatus::kFaulty);
  EXPECT_EQ(silent.node_throughput_bps, -1);
  EXPECT_EQ(silent.node_lag_ms, -1) << "in step a minute ago says nothing about now";
  EXPECT_EQ(silent.lag_ms, -1);
}

// Unknown until measured: a session never started, a worker that has not reported, a worker
// that does not know its lag yet (its first full pass is not applied); then 0, measured.
TEST_F(DirectoryFiguresTest, LagIsUnknownUntilTheWorkerMeasuresIt) {
  const std::string id = MakeSession("");
  Figures f = Read(id);
  EXPECT_EQ(f.lag_ms, -1);
  EXPECT_EQ(f.throughput_bps, -1);
  EXPECT_EQ(f.last_synced, 0);
  EXPECT_EQ(f.node_lag_ms, -1);
  Start(id);
  clock_.Advance(1000);
  ASSERT_TRUE(ops_->PollDirectorySession(admin_, id).ok());  // no status yet
  f = Read(id);
  EXPECT_EQ(f.node_status, NodeStatus::kInitializing);
  EXPECT_EQ(f.node_lag_ms, -1);
  EXPECT_EQ(f.node_throughput_bps, -1);
  replication::WorkerStatus w = ActiveWorker();
  w.crawl = "Hybrid Crawl";
  w.lag_ms = -1;  // the first full pass runs
  Report(id, w);
  EXPECT_EQ(Read(id).node_lag_ms, -1);
  EXPECT_EQ(Read(id).lag_ms, -1);
  clock_.Advance(1000);
  w = ActiveWorker();
  w.last_synced_ms = clock_.NowMillis() - 500;
  Report(id, w);
  f = Read(id);
  EXPECT_EQ(f.node_lag_ms, 0);
  EXPECT_EQ(f.lag_ms, 0);
  EXPECT_EQ(f.last_synced, w.last_synced_ms);
  EXPECT_EQ(f.node_last_synced, w.last_synced_ms);
}

// Paused with a change pending: its lag goes on growing between two reads (no poll between
// them), the header and the node row say the same -- lag and last synced -- and nothing is
// applied (0). Resumed, the lag counts on from that change until the worker says otherwise.
TEST_F(DirectoryFiguresTest, APausedSessionsLagGrowsFromTheChangeItsWorkerLeftPending) {
  const std::string id = MakeSession("");
  Start(id);
  clock_.Advance(1000);
  replication::WorkerStatus w = ActiveWorker();
  w.last_synced_ms = clock_.NowMillis() - 5000;
  w.lag_ms = 800;
  w.oldest_pending_ms = clock_.NowMillis() - 800;
  w.pending_data = 20;
  w.bytes_applied = 4096;
  ASSERT_TRUE(replication::WriteWorkerStatus(workers_->StateDir(id), w).ok());
  Act(id, SessionAction::kPause);
  const Figures first = Read(id);
  EXPECT_EQ(first.node_status, NodeStatus::kPaused);
  EXPECT_EQ(first.node_lag_ms, 800);
  clock_.Advance(3000);
  const Figures second = Read(id);
  EXPECT_EQ(second.node_lag_ms, 3800) << "it grows while paused";
  EXPECT_EQ(second.lag_ms, second.node_lag_ms) << "the header is the node's";
  EXPECT_EQ(second.last_synced, w.last_synced_ms);
  EXPECT_EQ(second.node_last_synced, w.last_synced_ms) << "the header is the node's";
  EXPECT_EQ(second.node_throughput_bps, 0) << "no worker: nothing applied";
  EXPECT_EQ(second.throughput_bps, 0);
  // Resumed: the worker has not reported yet; the change still waits.
  clock_.Advance(1000);
  Act(id, SessionAction::kResume);
  const Figures resumed = Read(id);
  EXPECT_EQ(resumed.node_lag_ms, 4800);
  EXPECT_EQ(resumed.node_throughput_bps, -1) << "what the new worker applies is not known yet";
  clock_.Advance(1000);
  EXPECT_EQ(Read(id).node_lag_ms, 5800);
}

// Paused or stopped in step: nobody watches the source, so whether anything changed since is
// not known -- unknown, not 0. The last synced mark stays.
TEST_F(DirectoryFiguresTest, AStoppedSessionInStepHasNoLagToShow) {
  const std::string id = MakeSession("");
  Start(id);
  clock_.Advance(1000);
  replication::WorkerStatus w = ActiveWorker();
  w.last_synced_ms = clock_.NowMillis();
  Report(id, w);
  EXPECT_EQ(Read(id).node_lag_ms, 0);
  for (SessionAction action : {SessionAction::kPause, SessionAction::kStop}) {
    if (action == SessionAction::kStop) Act(id, SessionAction::kResume);
    Act(id, action);
    clock_.Advance(5000);
    const Figures f = Read(id);
    EXPECT_EQ(f.node_lag_ms, -1) << Name(action);
    EXPECT_EQ(f.lag_ms, -1) << Name(action);
    EXPECT_EQ(f.node_last_synced, w.last_synced_ms) << Name(action);
    EXPECT_EQ(f.last_synced, w.last_synced_ms) << Name(action);
    EXPECT_EQ(f.throughput_bps, 0) << Name(action);
  }
}

// A checkpoint set on a session in step completes at the next poll: the idle worker's last
// synced (its "in step as of", moved on every second) is past it. Once, with its completion
// time kept, through pause, resume and a worker that dies and is restarted; a new checkpoint
// completes once too.
TEST_F(DirectoryFiguresTest, ACheckpointOnASessionInStepCompletesAtOnceAndOnlyOnce) {
  const std::string id = MakeSession("");
  Start(id);
  clock_.Advance(1000);
  replication::WorkerStatus w = ActiveWorker();
  w.last_synced_ms = clock_.NowMillis();
  Report(id, w);
  clock_.Advance(300);
  Set(id, "checkpoint", "now");
  const int64_t checkpoint = clock_.NowMillis() / 1000 * 1000;
  clock_.Advance(1000);
  w.last_synced_ms = clock_.NowMillis();  // in step as of now
  Report(id, w);
  auto s = ops_->GetSession(id);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->nodes.size(), 1u);
  EXPECT_EQ(s->nodes[0].checkpoint_time, checkpoint);
  EXPECT_TRUE(s->nodes[0].checkpoint_completed);
  const int64_t completed_at = s->nodes[0].checkpoint_completion_time;
  EXPECT_EQ(completed_at, w.last_synced_ms);
  ASSERT_EQ(CheckpointEvents().size(), 1u);

  auto still_once = [&](const char* when) {
    auto now = ops_->GetSession(id);
    ASSERT_TRUE(now.ok());
    EXPECT_TRUE(now->nodes[0].checkpoint_completed) << when;
    EXPECT_EQ(now->nodes[0].checkpoint_completion_time, completed_at) << when;
    EXPECT_EQ(CheckpointEvents().size(), 1u) << when;
  };
  Act(id, SessionAction::kPause);
  still_once("paused");
  clock_.Advance(1000);
  Act(id, SessionAction::kResume);
  ASSERT_TRUE(ops_->PollDirectorySession(admin_, id).ok());  // not reported yet
  still_once("resumed, before the worker reports");
  clock_.Advance(1000);
  w.last_synced_ms = clock_.NowMillis();
  Report(id, w);
  still_once("resumed");
  // The worker dies; the supervisor starts another after its back-off.
  launcher_.last->ended = true;
  ASSERT_TRUE(ops_->PollDirectorySession(admin_, id).ok());
  clock_.Advance(2000);
  ASSERT_TRUE(ops_->PollDirectorySession(admin_, id).ok());
  clock_.Advance(1000);
  w.last_synced_ms = clock_.NowMillis();
  Report(id, w);
  EXPECT_EQ(Read(id).node_status, NodeStatus::kActive);
  still_once("restarted");

  // A new checkpoint: once more.
  clock_.Advance(1000);
  Set(id, "checkpoint", "now");
  clock_.Advance(1000);
  w.last_synced_ms = clock_.NowMillis();
  Report(id, w);
  EXPECT_EQ(CheckpointEvents().size(), 2u);
}

// A checkpoint with changes still waiting before it stays pending while they do -- the worker's
// last synced is not past it -- and completes when they are applied.
TEST_F(DirectoryFiguresTest, ACheckpointWaitsForTheChangesBeforeIt) {
  const std::string id = MakeSession("");
  Start(id);
  clock_.Advance(1000);
  replication::WorkerStatus w = ActiveWorker();
  w.last_synced_ms = clock_.NowMillis() - 2000;
  w.lag_ms = 2000;
  w.oldest_pending_ms = w.last_synced_ms;
  Report(id, w);
  Set(id, "checkpoint", "now");
  clock_.Advance(5000);
  Report(id, w);
  EXPECT_FALSE(ops_->GetSession(id)->nodes[0].checkpoint_completed);
  EXPECT_TRUE(CheckpointEvents().empty());
  clock_.Advance(1000);
  w = ActiveWorker();
  w.last_synced_ms = clock_.NowMillis() - 100;  // the pass that applied them started then
  Report(id, w);
  EXPECT_TRUE(ops_->GetSession(id)->nodes[0].checkpoint_completed);
  EXPECT_EQ(CheckpointEvents().size(), 1u);
}

}  // namespace
}  // namespace georep
