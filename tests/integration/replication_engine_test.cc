// Directory sessions run by the engine (`georep serve`) with the replication engine: a session's
// whole life through the API, workers restarted after kills, an engine killed and started
// again, the lag, periodic verification, and a destination that fills up.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>

#include "integration/replication_fixtures.h"

namespace georep::testing {
namespace {

namespace fs = std::filesystem;
using replication::ReadWorkerStatus;
using replication::testing::DescribeTree;
using replication::testing::GeorepTempFiles;
using replication::testing::ReadFile;

// The engine runs directory sessions itself: through the API, start -> Active with the files
// replicated, checkpoint, lag and throughput, verify (and a destination changed by hand
// found), a killed worker -> Faulty with an event -> recovered, pause / resume / stop / remove.
TEST(Replication, EngineRunsADirectorySessionThroughItsWholeLife) {
  using Json = nlohmann::json;
  EngineSession e;
  ASSERT_NO_FATAL_FAILURE(e.Create("1"));
  ASSERT_NO_FATAL_FAILURE(MakeRichTree(e.src.path()));

  EXPECT_EQ(e.Post(e.path + "/start", Json::object()).first, 200);
  EXPECT_TRUE(WaitFor(60, [&] { return e.ActiveInChangelogCrawl(); })) << e.Detail().dump(2);
  EXPECT_TRUE(WaitFor(30, [&] { return SameTree(e.src.path(), e.dst.path()); }))
      << DescribeTreeDiff(e.src.path(), e.dst.path());
  {
    const Json node = e.Detail()["nodes"][0];
    // georep's own engine measures both: known numbers (unknown would be null) -- the lag once
    // the first pass is applied, the throughput once two of the worker's reports are seen.
    EXPECT_TRUE(node["lag_seconds"].is_number()) << node.dump();
    EXPECT_TRUE(WaitFor(10, [&] {
      return e.Detail()["nodes"][0]["throughput_bytes_per_second"].is_number();
    })) << e.Detail().dump();
    EXPECT_TRUE(e.Detail()["lag_seconds"].is_number()) << e.Detail().dump();
    EXPECT_FALSE(node["last_synced"].is_null()) << node.dump();
  }

  // A checkpoint completes once every change before it is applied.
  Write(e.src.path() + "/after-checkpoint-request", "x");
  auto cp = e.engine->Put(e.path + "/config/checkpoint", R"({"value":"now"})", e.token);
  ASSERT_EQ(cp->status, 200) << cp->body;
  EXPECT_TRUE(WaitFor(30, [&] { return e.Detail()["nodes"][0]["checkpoint_completed"] == true; }))
      << e.Detail().dump(2);
  EXPECT_TRUE(WaitFor(10, [&] { return e.Events("session.checkpoint_completed").size() == 1; }));

  // Verify: identical; then a destination file changed behind georep's back is found.
  auto verified = e.Post(e.path + "/verify", Json::object());
  ASSERT_EQ(verified.first, 200) << verified.second.dump();
  EXPECT_EQ(verified.second["identical"], true) << verified.second.dump(2);
  EXPECT_GE(verified.second["content_checked"].get<int>(), 5);
  Write(e.dst.path() + "/dir/small.txt", "tampered");
  verified = e.Post(e.path + "/verify", Json::object());
  EXPECT_EQ(verified.second["identical"], false);
  ASSERT_FALSE(verified.second["differences"].empty());
  EXPECT_EQ(verified.second["differences"][0]["path"], "dir/small.txt") << verified.second.dump();
  TempDir cli_config;
  std::vector<std::string> env;
  ASSERT_NO_FATAL_FAILURE(e.LoginCli(cli_config.path(), &env));
  auto cli = RunCommand({GeorepBinary(), "verify", e.id}, "", env);
  EXPECT_EQ(cli.exit_code, 1) << cli.out << cli.err;
  EXPECT_NE(cli.out.find("dir/small.txt"), std::string::npos) << cli.out << cli.err;
  Write(e.dst.path() + "/dir/small.txt", "hello\n");  // put back by hand: not georep's file now
  fs::remove(e.dst.path() + "/dir/small.txt");
  Write(e.src.path() + "/dir/small.txt", "hello again\n");  // a change: georep rewrites it

  // The worker is killed: Faulty with the reason and an event, then restarted: recovered.
  auto pids = RunCommand({"/usr/bin/pgrep", "-f", "worker --source " + e.src.path()});
  ASSERT_FALSE(pids.out.empty()) << "no worker running";
  ASSERT_EQ(::kill(std::stoi(pids.out), SIGKILL), 0);
  EXPECT_TRUE(WaitFor(20, [&] { return !e.Events("session.faulty").empty(); }))
      << e.Detail().dump(2);
  EXPECT_TRUE(WaitFor(30, [&] { return !e.Events("session.recovered").empty(); }))
      << e.Detail().dump(2);
  EXPECT_TRUE(WaitFor(30, [&] { return DescribeTree(e.dst.path()) == DescribeTree(e.src.path()); }))
      << DescribeTreeDiff(e.src.path(), e.dst.path());

  // Pause: the worker stops, changes wait; resume: they arrive. Stop, remove.
  EXPECT_EQ(e.Post(e.path + "/pause", Json::object()).first, 200);
  EXPECT_EQ(e.Detail()["status"], "Paused");
  EXPECT_TRUE(RunCommand({"/usr/bin/pgrep", "-f", "worker --source " + e.src.path()}).out.empty());
  Write(e.src.path() + "/while-paused", "p");
  // Nothing happens while paused: no worker starts and nothing arrives (either fails at once).
  EXPECT_FALSE(WaitFor(2, [&] {
    return fs::exists(e.dst.path() + "/while-paused") ||
           !RunCommand({"/usr/bin/pgrep", "-f", "worker --source " + e.src.path()}).out.empty();
  }));
  EXPECT_EQ(e.Post(e.path + "/resume", Json::object()).first, 200);
  EXPECT_TRUE(WaitFor(30, [&] { return fs::exists(e.dst.path() + "/while-paused"); }));
  EXPECT_EQ(e.Post(e.path + "/stop", Json::object()).first, 200);
  EXPECT_EQ(e.Detail()["status"], "Stopped");
  EXPECT_EQ(e.engine->Delete(e.path, e.token)->status, 204);
  EXPECT_FALSE(fs::exists(e.data.path() + "/sessions/" + e.id));
}

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// D9: a worker killed with SIGKILL runs again within seconds -- on its exit, not at the next
// monitor poll (the default 10 s interval) -- and, having been Active, every time: 1 s after
// each of repeated kills, not doubling to a minute.
TEST(Replication, AKilledWorkerIsRestartedWithinSecondsEveryTime) {
  EngineSession e;
  ASSERT_NO_FATAL_FAILURE(e.Start("10"));
  Write(e.src.path() + "/f", "x");
  ASSERT_TRUE(WaitFor(60, [&] { return e.Worker() != 0 && e.ActiveSince(0); }))
      << e.Detail().dump(2);
  std::vector<double> delays;
  for (int kill = 0; kill < 4; ++kill) {
    const pid_t old = e.Worker();
    ASSERT_NE(old, 0);
    const int64_t killed_at = WallMs();
    ASSERT_EQ(::kill(old, SIGKILL), 0);
    pid_t now = 0;
    ASSERT_TRUE(WaitFor(60,
                        [&] {
                          now = e.Worker();
                          return now != 0 && now != old;
                        }))
        << "kill " << kill << ": no new worker";
    delays.push_back(static_cast<double>(WallMs() - killed_at) / 1000.0);
    // Active again (healthy: the next kill is restarted after 1 s again).
    ASSERT_TRUE(WaitFor(60, [&] { return e.ActiveSince(killed_at); })) << "kill " << kill;
  }
  std::string shown;
  for (double d : delays) shown += std::to_string(d) + " s ";
  ::testing::Test::RecordProperty("restart_delays", shown);
  // 1 s of back-off, the path guards' probe and the spawn: seconds (the monitor polls every 10).
  for (double d : delays) EXPECT_LT(d, 8.0) << "restart delays: " << shown;
  // The node showed the fault, with the reason, as it happened.
  EXPECT_TRUE(WaitFor(20, [&] { return !e.Events("session.faulty").empty(); }));
  EXPECT_TRUE(WaitFor(30, [&] { return e.Detail()["status"] == "Active"; })) << e.Detail().dump(2);
}

// The engine killed with SIGKILL while the source changes (files written, a directory renamed,
// a link made). Its worker outlives it and goes on; the engine started again on the same data
// directory starts a worker of its own, which takes the state directory over: one worker, no
// two fighting, and the destination equal to the source, links included.
TEST(Replication, AnEngineKilledWhileTheSourceChangesComesBackInStep) {
  EngineSession e;
  ASSERT_NO_FATAL_FAILURE(e.Start("1"));
  std::mt19937_64 rng(19);
  for (int d = 0; d < 4; ++d) {
    fs::create_directories(e.src.path() + "/d" + std::to_string(d));
    Write(e.src.path() + "/d" + std::to_string(d) + "/f", Random(rng, 32 << 10));
  }
  ASSERT_TRUE(WaitFor(60, [&] { return e.ActiveSince(0) && SameTree(e.src.path(), e.dst.path()); }))
      << e.Detail().dump(2) << DescribeTreeDiff(e.src.path(), e.dst.path());
  const pid_t first = e.Worker();
  ASSERT_NE(first, 0);

  Write(e.src.path() + "/d0/g", Random(rng, 16 << 10));
  fs::rename(e.src.path() + "/d1", e.src.path() + "/d1-renamed");
  e.engine->Kill();
  // Meanwhile: the worker the engine left replicates on.
  fs::create_hard_link(e.src.path() + "/d0/f", e.src.path() + "/d2/link-of-d0-f");
  Write(e.src.path() + "/d3/while-down", "w");
  EXPECT_TRUE(WaitFor(30, [&] { return fs::exists(e.dst.path() + "/d3/while-down"); }))
      << "the worker did not go on without its engine";
  EXPECT_EQ(e.Worker(), first);

  ASSERT_TRUE(e.engine->Start()) << e.engine->output();
  fs::rename(e.src.path() + "/d2", e.src.path() + "/d2-renamed");
  Write(e.src.path() + "/after-restart", "a");
  ASSERT_TRUE(WaitFor(60, [&] {
    const pid_t now = e.Worker();
    return now != 0 && now != first;
  })) << "the engine started no worker of its own";
  EXPECT_TRUE(WaitFor(
      60, [&] { return e.Detail()["status"] == "Active" && SameTree(e.src.path(), e.dst.path()); }))
      << e.Detail().dump(2) << DescribeTreeDiff(e.src.path(), e.dst.path());
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat((e.dst.path() + "/d0/f").c_str(), &a), 0);
  ASSERT_EQ(::stat((e.dst.path() + "/d2-renamed/link-of-d0-f").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  // One worker for the session (pgrep lists each on its own line).
  const auto pids = RunCommand({"/usr/bin/pgrep", "-f", "worker --source " + e.src.path()});
  EXPECT_EQ(std::count(pids.out.begin(), pids.out.end(), '\n'), 1) << pids.out;
  EXPECT_NE(ReadFile(e.StateDir() + "/worker.log").find("took the state directory over"),
            std::string::npos);
}

// D10: the lag counts a change until it is durable at the destination -- the settle delay and
// the time in flight included. With the agent stopped (SIGSTOP) a change cannot be
// acknowledged: its lag grows for as long as that lasts, and is gone once it arrived.
TEST(Replication, LagCountsAChangeUntilItIsDurableAtTheDestination) {
  EngineSession e;
  ASSERT_NO_FATAL_FAILURE(e.Start("1"));
  ASSERT_TRUE(WaitFor(60, [&] { return e.Detail()["status"] == "Active"; })) << e.Detail().dump(2);
  const std::vector<pid_t> agents = ChildrenOf(e.Worker());
  ASSERT_EQ(agents.size(), 1u) << "the worker's agent";
  ASSERT_EQ(::kill(agents[0], SIGSTOP), 0);
  const int64_t written_at = WallMs();
  Write(e.src.path() + "/clock", std::to_string(written_at));
  double max_lag = 0;
  auto sample = [&] {
    const auto lag = e.Detail()["nodes"][0]["lag_seconds"];
    if (lag.is_number()) max_lag = std::max(max_lag, lag.get<double>());
  };
  // While the agent is stopped, the change cannot be durable: the reported lag grows with it.
  EXPECT_TRUE(WaitFor(60,
                      [&] {
                        sample();
                        return max_lag >= 3.0;
                      }))
      << "the largest lag reported " << max_lag;
  EXPECT_FALSE(fs::exists(e.dst.path() + "/clock"));
  ASSERT_EQ(::kill(agents[0], SIGCONT), 0);
  ASSERT_TRUE(WaitFor(60, [&] {
    sample();
    return fs::exists(e.dst.path() + "/clock");
  }));
  const double took = static_cast<double>(WallMs() - written_at) / 1000.0;
  ::testing::Test::RecordProperty("arrival_seconds", std::to_string(took));
  ::testing::Test::RecordProperty("max_reported_lag_seconds", std::to_string(max_lag));
  EXPECT_GE(max_lag, 3.0) << "arrived after " << took << " s; the largest lag reported " << max_lag;
  EXPECT_LE(max_lag, took + 2) << "arrived after " << took << " s; the largest lag reported "
                               << max_lag;
  // In step: no lag.
  EXPECT_TRUE(WaitFor(30, [&] {
    const auto lag = e.Detail()["nodes"][0]["lag_seconds"];
    return lag.is_number() && lag.get<double>() < 0.5;
  })) << e.Detail().dump(2);
}

// verify-interval: the engine verifies a running session by itself. A destination file changed
// behind georep's back is re-checked, then raises the standing verify-differs alert (status, CLI,
// events); once georep has rewritten it, the next periodic verify clears it.
TEST(Replication, EnginePeriodicVerifyRaisesAndClearsAStandingAlert) {
  using Json = nlohmann::json;
  EngineSession e;
  ASSERT_NO_FATAL_FAILURE(e.Create("1"));
  auto alert = [&]() -> Json {
    const Json now = e.Detail();
    for (const auto& a : now["alerts"])
      if (a["kind"] == "verify-differs") return a;
    return nullptr;
  };
  ASSERT_NO_FATAL_FAILURE(MakeRichTree(e.src.path()));
  EXPECT_EQ(e.Post(e.path + "/start", Json::object()).first, 200);
  ASSERT_TRUE(WaitFor(60, [&] { return e.ActiveInChangelogCrawl(); })) << e.Detail().dump(2);
  ASSERT_TRUE(WaitFor(30, [&] { return SameTree(e.src.path(), e.dst.path()); }))
      << DescribeTreeDiff(e.src.path(), e.dst.path());

  // Below the minimum: refused with the reason. The minimum, every file's content.
  auto short_interval =
      e.engine->Put(e.path + "/config/verify-interval", R"({"value":"5"})", e.token);
  ASSERT_EQ(short_interval->status, 400) << short_interval->body;
  EXPECT_NE(short_interval->body.find("at least 10 seconds"), std::string::npos)
      << short_interval->body;
  ASSERT_EQ(e.engine->Put(e.path + "/config/verify-sample", R"({"value":"100"})", e.token)->status,
            200);
  ASSERT_EQ(e.engine->Put(e.path + "/config/verify-interval", R"({"value":"10"})", e.token)->status,
            200);
  // Identical: periodic verifies by the monitor, no alert.
  ASSERT_TRUE(WaitFor(40, [&] {
    for (const auto& ev : e.Events("session.verify"))
      if (ev["actor"] == "monitor") return true;
    return false;
  })) << e.Events("session.verify").dump(2);
  EXPECT_TRUE(alert().is_null()) << e.Detail().dump(2);
  EXPECT_TRUE(e.Events("session.verify_differs").empty());

  // Changed at the destination behind georep's back: seen, re-checked, alerted.
  Write(e.dst.path() + "/dir/small.txt", "tampered");
  ASSERT_TRUE(WaitFor(90, [&] { return !alert().is_null(); })) << e.Detail().dump(2);
  EXPECT_NE(alert()["message"].get<std::string>().find("dir/small.txt"), std::string::npos)
      << alert().dump();
  EXPECT_NE(alert()["message"].get<std::string>().find("periodic verify"), std::string::npos)
      << alert().dump();
  ASSERT_EQ(e.Events("session.verify_differs").size(), 1u);
  EXPECT_EQ(e.Events("session.verify_differs")[0]["result"], "failed");
  // The CLI's status shows the standing reason.
  TempDir cli_config;
  std::vector<std::string> env;
  ASSERT_NO_FATAL_FAILURE(e.LoginCli(cli_config.path(), &env));
  auto status = RunCommand({GeorepBinary(), "session", "status", e.id}, "", env);
  EXPECT_NE(status.out.find("verify-differs"), std::string::npos) << status.out << status.err;

  // A change at the source: georep rewrites the file, and the next periodic verify clears it.
  Write(e.src.path() + "/dir/small.txt", "hello again\n");
  ASSERT_TRUE(WaitFor(30, [&] { return DescribeTree(e.dst.path()) == DescribeTree(e.src.path()); }))
      << DescribeTreeDiff(e.src.path(), e.dst.path());
  ASSERT_TRUE(WaitFor(60, [&] { return !e.Events("session.verify_differs_cleared").empty(); }))
      << e.Detail().dump(2);
  EXPECT_TRUE(alert().is_null()) << e.Detail().dump(2);

  EXPECT_EQ(e.Post(e.path + "/stop", Json::object()).first, 200);
}

// The destination file system fills up: the worker shows Faulty with a clear reason, nothing at
// the destination is corrupted or left half-written, and it resumes by itself once there is
// room (here: the small tmpfs grown by a remount).
TEST(Replication, DestinationFullIsFaultyThenResumes) {
  TempDir src, mnt, state;
  ASSERT_EQ(RunCommand({"/bin/mount", "-t", "tmpfs", "-o", "size=4m", "georep-test", mnt.path()})
                .exit_code,
            0);
  struct Unmount {
    std::string path;
    ~Unmount() { RunCommand({"/bin/umount", "-l", path}); }
  } unmount{mnt.path()};
  std::mt19937_64 rng(5);
  Write(src.path() + "/small", Random(rng, 100000));
  RunningWorker worker(WorkerArgv(src.path(), mnt.path(), state.path()));
  worker.Start();
  ASSERT_TRUE(WaitFor(30, [&] { return ReadFile(mnt.path() + "/small").size() == 100000; }));
  const std::string small = ReadFile(mnt.path() + "/small");

  Write(src.path() + "/too-big", Random(rng, 6 << 20));
  ASSERT_TRUE(WaitFor(30, [&] { return WorkerStateIs(state.path(), "Faulty"); }))
      << ReplicationReason(state.path());
  auto st = ReadWorkerStatus(state.path());
  EXPECT_NE(st->reason.find("full"), std::string::npos) << "reason: " << st->reason;
  EXPECT_GT(st->failures, 0u);
  EXPECT_FALSE(fs::exists(mnt.path() + "/too-big"));  // never half there
  EXPECT_TRUE(GeorepTempFiles(mnt.path()).empty());   // nor left behind
  EXPECT_EQ(ReadFile(mnt.path() + "/small"), small);  // nothing else touched
  const int64_t synced = st->last_synced_ms;

  ASSERT_EQ(RunCommand({"/bin/mount", "-o", "remount,size=16m", mnt.path()}).exit_code, 0);
  EXPECT_TRUE(WaitFor(60, [&] { return DescribeTree(mnt.path()) == DescribeTree(src.path()); }))
      << ReplicationReason(state.path()) << DescribeTreeDiff(src.path(), mnt.path());
  EXPECT_TRUE(WaitFor(10, [&] {
    auto now = ReadWorkerStatus(state.path());
    return now.ok() && now->state == "Active" && now->failures == 0 && now->last_synced_ms > synced;
  })) << ReplicationReason(state.path());
}

}  // namespace
}  // namespace georep::testing
