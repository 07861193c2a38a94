// The figures a directory session shows through the API (`georep serve` with real workers):
// throughput is what the destination applied over the last seconds -- more than 0 while files
// flow, 0 once idle -- lag 0 only when in step and growing while a change waits (Faulty or
// paused), the session's header saying what its node says, and a checkpoint on a session in
// step completing by itself, once.
#include <chrono>
#include <memory>
#include <random>

#include "integration/replication_fixtures.h"

namespace georep::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

double Number(const Json& j) {
  return j.is_number() ? j.get<double>() : -1;
}

// Whether the session is Active, its node in the Changelog Crawl and in step (lag 0, measured).
bool InStep(EngineSession& e) {
  const Json d = e.Detail();
  return d["status"] == "Active" && d["nodes"][0]["crawl_status"] == "Changelog Crawl" &&
         d["nodes"][0]["lag_seconds"] == 0;
}

// 40 MiB of new files: while they are applied (and for the window after) the throughput is
// more than 0, then, idle, 0 -- measured, on the node and the session alike -- with the lag 0
// and last synced following the clock (the worker in step as of now, every second).
TEST(ReplicationFigures, ThroughputIsWhatWasAppliedAndZeroWhenIdle) {
  EngineSession e;
  ASSERT_NO_FATAL_FAILURE(e.Start("1"));
  ASSERT_TRUE(WaitFor(60, [&] { return InStep(e); })) << e.Detail().dump(2);
  std::mt19937_64 rng(3);
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 40; ++i) Write(e.src.path() + "/f" + std::to_string(i), Random(rng, 1 << 20));
  double max_rate = 0;
  EXPECT_TRUE(WaitFor(60,
                      [&] {
                        const Json d = e.Detail();
                        max_rate = std::max(max_rate, Number(d["throughput_bytes_per_second"]));
                        return SameTree(e.src.path(), e.dst.path()) && max_rate > 0;
                      }))
      << "the largest throughput shown " << max_rate << "\n"
      << e.Detail().dump(2);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ::testing::Test::RecordProperty("max_throughput_bytes_per_second", std::to_string(max_rate));
  ::testing::Test::RecordProperty("applied_in_seconds", std::to_string(took));
  // Never more than was there to apply, over the shortest span it could be measured on (1 s).
  EXPECT_LE(max_rate, 40.0 * (1 << 20)) << "took " << took << " s";

  Json idle;
  EXPECT_TRUE(WaitFor(30, [&] {
    idle = e.Detail();
    const Json& n = idle["nodes"][0];
    return idle["throughput_bytes_per_second"] == 0 && n["throughput_bytes_per_second"] == 0 &&
           idle["lag_seconds"] == 0 && n["lag_seconds"] == 0;
  })) << idle.dump(2);
  EXPECT_EQ(idle["last_synced"], idle["nodes"][0]["last_synced"]);
  // In step as of now: last synced moves on while nothing changes.
  const Json first = idle["last_synced"];
  ASSERT_TRUE(first.is_string()) << idle.dump(2);
  EXPECT_TRUE(WaitFor(10, [&] { return e.Detail()["last_synced"] != first; }));
}

// The destination fills up: the change waits (Faulty), and its lag grows between two reads.
// Paused so, it grows on -- no worker runs, nobody polls -- with the header saying what the
// node says; nothing is applied. Room again and resumed: in step, lag 0.
TEST(ReplicationFigures, APausedSessionsLagGrowsWhileItsChangesWait) {
  EngineSession e;
  ASSERT_NO_FATAL_FAILURE(e.Create("1"));
  ASSERT_EQ(
      RunCommand({"/bin/mount", "-t", "tmpfs", "-o", "size=4m", "georep-figures", e.dst.path()})
          .exit_code,
      0);
  struct Unmount {
    std::string path;
    ~Unmount() { RunCommand({"/bin/umount", "-l", path}); }
  } unmount{e.dst.path()};
  ASSERT_EQ(e.Post(e.path + "/start", Json::object()).first, 200);
  ASSERT_TRUE(WaitFor(60, [&] { return InStep(e); })) << e.Detail().dump(2);

  std::mt19937_64 rng(7);
  for (int i = 0; i < 20; ++i)
    Write(e.src.path() + "/waits-" + std::to_string(i), Random(rng, 300 << 10));
  double faulty_lag = -1;
  ASSERT_TRUE(WaitFor(60, [&] {
    const Json n = e.Detail()["nodes"][0];
    faulty_lag = Number(n["lag_seconds"]);
    return n["status"] == "Faulty" && faulty_lag > 0;
  })) << e.Detail().dump(2);
  EXPECT_TRUE(WaitFor(10, [&] {
    return Number(e.Detail()["nodes"][0]["lag_seconds"]) > faulty_lag + 1;
  })) << "the lag of a change that waits grows";

  ASSERT_EQ(e.Post(e.path + "/pause", Json::object()).first, 200);
  const Json paused = e.Detail();
  ASSERT_EQ(paused["status"], "Paused") << paused.dump(2);
  const double paused_lag = Number(paused["lag_seconds"]);
  EXPECT_GT(paused_lag, faulty_lag);
  EXPECT_EQ(paused["lag_seconds"], paused["nodes"][0]["lag_seconds"]) << "the header is the node's";
  EXPECT_EQ(paused["last_synced"], paused["nodes"][0]["last_synced"]) << "the header is the node's";
  EXPECT_TRUE(paused["last_synced"].is_string()) << "synced before it filled up";
  EXPECT_EQ(paused["throughput_bytes_per_second"], 0) << "paused: nothing applied";
  Json later;
  EXPECT_TRUE(WaitFor(10, [&] {
    later = e.Detail();
    return Number(later["nodes"][0]["lag_seconds"]) > paused_lag + 1;
  })) << later.dump(2);
  EXPECT_EQ(later["lag_seconds"], later["nodes"][0]["lag_seconds"]);

  ASSERT_EQ(RunCommand({"/bin/mount", "-o", "remount,size=16m", e.dst.path()}).exit_code, 0);
  ASSERT_EQ(e.Post(e.path + "/resume", Json::object()).first, 200);
  EXPECT_TRUE(WaitFor(60, [&] { return InStep(e) && SameTree(e.src.path(), e.dst.path()); }))
      << e.Detail().dump(2) << DescribeTreeDiff(e.src.path(), e.dst.path());
}

// A checkpoint set on a session in step (nothing written since) completes by itself within a
// monitor interval and the worker's next status (it says every second how far it is in step):
// no write needed. One event; pause and resume record none again, and the completion time
// stays.
TEST(ReplicationFigures, ACheckpointOnASessionInStepCompletesByItselfOnce) {
  const int interval = 2;
  EngineSession e;
  ASSERT_NO_FATAL_FAILURE(e.Start(std::to_string(interval)));
  Write(e.src.path() + "/f", "x");
  ASSERT_TRUE(WaitFor(60, [&] { return InStep(e) && SameTree(e.src.path(), e.dst.path()); }))
      << e.Detail().dump(2);
  const auto set_at = std::chrono::steady_clock::now();
  auto cp = e.engine->Put(e.path + "/config/checkpoint", R"({"value":"now"})", e.token);
  ASSERT_EQ(cp->status, 200) << cp->body;
  Json node;
  ASSERT_TRUE(WaitFor(interval + 4, [&] {
    node = e.Detail()["nodes"][0];
    return node["checkpoint_completed"] == true;
  })) << node.dump(2);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - set_at).count();
  ::testing::Test::RecordProperty("checkpoint_completed_after_seconds", std::to_string(took));
  const Json completed_at = node["checkpoint_completion_time"];
  ASSERT_TRUE(completed_at.is_string());
  EXPECT_TRUE(WaitFor(10, [&] { return e.Events("session.checkpoint_completed").size() == 1; }));

  ASSERT_EQ(e.Post(e.path + "/pause", Json::object()).first, 200);
  ASSERT_EQ(e.Post(e.path + "/resume", Json::object()).first, 200);
  // Three polls of the resumed worker, in step.
  int polls = 0;
  Json seen = nullptr;
  EXPECT_TRUE(WaitFor(60, [&] {
    const Json d = e.Detail();
    if (InStep(e) && d["nodes"][0]["updated_at"] != seen) {
      seen = d["nodes"][0]["updated_at"];
      ++polls;
    }
    return polls >= 3;
  })) << e.Detail().dump(2);
  const Json after = e.Detail()["nodes"][0];
  EXPECT_EQ(after["checkpoint_completed"], true) << after.dump(2);
  EXPECT_EQ(after["checkpoint_completion_time"], completed_at);
  EXPECT_EQ(e.Events("session.checkpoint_completed").size(), 1u)
      << e.Events("session.checkpoint_completed").dump(2);
}

}  // namespace
}  // namespace georep::testing
