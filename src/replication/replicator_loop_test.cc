// The worker loop (Replicator::Run and RunOnce) run whole in this process: its agent serves a
// socketpair on a thread (InProcessAgentLinks), the destination's system calls fail on demand
// (FileSystemCalls), and time is a FakeClock where a test needs to move it. Each test checks
// the destination against the source and what the status says.
#include <errno.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/fault_env.h"
#include "replication/in_process_agent.h"
#include "replication/replicator.h"
#include "replication/test_util.h"

namespace georep::replication {
namespace {

using testing::DescribeTree;
using testing::TempDir;
using testing::WriteFile;

// The destination's system calls, with faults a test arms: the next `enospc_writes` writes
// fail with ENOSPC, the next `eio_fsyncs` file syncs with EIO; `short_writes` writes at most
// 3 bytes a call; `on_write` runs before each write (a test cuts the link there, or holds the
// agent). Called on the agent's thread.
class FaultyCalls final : public FileSystemCalls {
 public:
  std::atomic<int> enospc_writes{0};
  std::atomic<int> eio_fsyncs{0};
  std::atomic<bool> short_writes{false};
  std::function<void()> on_write;
  std::atomic<int> writes{0};

  ssize_t Pwrite(int fd, const void* buf, size_t count, off_t offset) override {
    ++writes;
    if (on_write) on_write();
    if (Take(&enospc_writes)) {
      errno = ENOSPC;
      return -1;
    }
    if (short_writes.load()) count = std::min<size_t>(count, 3);
    return FileSystemCalls::Pwrite(fd, buf, count, offset);
  }
  int Fsync(int fd) override {
    if (Take(&eio_fsyncs)) {
      errno = EIO;
      return -1;
    }
    return FileSystemCalls::Fsync(fd);
  }

 private:
  static bool Take(std::atomic<int>* armed) {
    int n = armed->load();
    while (n > 0 && !armed->compare_exchange_weak(n, n - 1)) {
    }
    return n > 0;
  }
};

// Every status the worker wrote, and a wait for one that satisfies a test's condition.
class StatusLog {
 public:
  std::function<void(const WorkerStatus&)> Listener() {
    return [this](const WorkerStatus& s) {
      std::lock_guard<std::mutex> lock(mutex_);
      seen_.push_back(s);
      changed_.notify_all();
    };
  }
  // The first status (from the `from`th on) for which `what` holds; false after `limit`.
  bool WaitFor(const std::function<bool(const WorkerStatus&)>& what, WorkerStatus* found = nullptr,
               size_t from = 0, std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, limit, [&] {
      for (size_t i = from; i < seen_.size(); ++i) {
        if (what(seen_[i])) {
          if (found != nullptr) *found = seen_[i];
          return true;
        }
      }
      return false;
    });
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<WorkerStatus> seen_;
};

// Replicator::Run on a thread of its own; stopped and joined at the latest when destroyed (a
// failed assertion returns early).
class RunningWorker {
 public:
  explicit RunningWorker(ReplicatorOptions options) : worker_(std::move(options)) {
    thread_ = std::thread([this] { result_ = worker_.Run(); });
  }
  ~RunningWorker() { (void)Stop(); }
  // Asks the worker to stop; its result.
  Status Stop() {
    worker_.RequestStop();
    if (thread_.joinable()) thread_.join();
    return result_;
  }
  // Waits for a worker that stops by itself (Faulty); its result.
  Status Join() {
    if (thread_.joinable()) thread_.join();
    return result_;
  }

 private:
  Replicator worker_;
  Status result_ = Status::Unavailable("still running");
  std::thread thread_;
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class ReplicatorLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A cut link is an EPIPE for whoever writes to it, as in the worker's process.
    ::signal(SIGPIPE, SIG_IGN);
    WriteFile(source_ / "a.txt", "alpha");
    std::filesystem::create_directories(source_ / "dir/sub");
    WriteFile(source_ / "dir/b.bin", std::string(100'000, 'b'));
    WriteFile(source_ / "dir/sub/c.txt", "gamma");
    // Older than any pass: a file written in the clock tick a pass starts in is read again by
    // the next pass (racy), which would blur what a pass sends.
    for (const char* file : {"a.txt", "dir/b.bin", "dir/sub/c.txt"}) Age(source_ / file);
  }
  static void Age(const std::filesystem::path& file) {
    std::filesystem::last_write_time(
        file, std::filesystem::file_time_type::clock::now() - std::chrono::seconds(60));
  }

  AgentOptions Agent() {
    AgentOptions a;
    a.root = destination_.path();
    a.calls = &calls_;
    return a;
  }
  ReplicatorOptions Options() {
    ReplicatorOptions o;
    o.source = source_.path();
    o.state_dir = state_.path();
    o.agent_links = &links_;
    o.env = &state_env_;
    o.change_capture = ChangeCapture::kInotify;
    o.on_status = statuses_.Listener();
    return o;
  }
  // One full pass of a new worker (as `georep worker --once`).
  Status RunOnce(Clock* clock = nullptr) {
    ReplicatorOptions o = Options();
    o.clock = clock;
    Replicator worker(o);
    return worker.RunOnce();
  }
  bool InStep() { return DescribeTree(source_.path()) == DescribeTree(destination_.path()); }
  WorkerStatus LastStatus() {
    auto s = ReadWorkerStatus(state_.path());
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? *s : WorkerStatus{};
  }

  TempDir source_, destination_, state_;
  FaultyCalls calls_;
  FaultEnv state_env_{Env::Default()};  // the worker's state directory
  InProcessAgentLinks links_{Agent()};
  StatusLog statuses_;
};

TEST_F(ReplicatorLoopTest, AFullPassThenIncrementalPassesConverge) {
  RunningWorker worker(Options());
  WorkerStatus in_step;
  ASSERT_TRUE(statuses_.WaitFor(
      [](const WorkerStatus& s) {
        return s.crawl == "Changelog Crawl" && s.state == "Active" && s.last_synced_ms > 0;
      },
      &in_step));
  EXPECT_TRUE(InStep());
  EXPECT_EQ(in_step.files_sent, 3u);
  EXPECT_EQ(in_step.failures, 0u);
  EXPECT_EQ(in_step.change_capture, "inotify");

  // Each round of changes is taken by an incremental pass: in step again, last synced on.
  int64_t synced = in_step.last_synced_ms;
  const std::vector<std::function<void()>> rounds = {
      [&] { WriteFile(source_ / "new.txt", "new"); },
      [&] { WriteFile(source_ / "a.txt", "alpha, rewritten"); },
      [&] { std::filesystem::rename(source_ / "dir/sub", source_ / "moved"); },
      [&] { std::filesystem::remove(source_ / "dir/b.bin"); },
  };
  for (size_t i = 0; i < rounds.size(); ++i) {
    SCOPED_TRACE("round " + std::to_string(i));
    const size_t before = statuses_.size();
    rounds[i]();
    // Last synced past the change (an idle worker moves it on every second, in step as of
    // then: past `synced` alone says nothing of this change).
    const int64_t changed_at = SystemClock().NowMillis();
    WorkerStatus after;
    ASSERT_TRUE(statuses_.WaitFor(
        [&](const WorkerStatus& s) {
          return s.last_synced_ms > changed_at && s.pending_entry + s.pending_data == 0;
        },
        &after, before));
    EXPECT_EQ(after.state, "Active");
    EXPECT_EQ(after.crawl, "Changelog Crawl");
    EXPECT_EQ(after.failures, 0u);
    EXPECT_LT(after.pass_scanned, 6u) << "an incremental pass looks at what changed";
    EXPECT_TRUE(InStep());
    EXPECT_GT(after.last_synced_ms, synced);
    synced = after.last_synced_ms;
  }
  EXPECT_TRUE(worker.Stop().ok());
  EXPECT_EQ(LastStatus().state, "Stopped");
  EXPECT_EQ(links_.opened(), 1u);
}

// With sync_jobs 2 the files' contents go over a second connection of their own, each with
// its own agent: the pass still converges, and its status counts every file.
TEST_F(ReplicatorLoopTest, AnExtraTransferStreamCarriesFilesAndThePassConverges) {
  for (int i = 0; i < 20; ++i) WriteFile(source_ / ("dir/many-" + std::to_string(i)), "x");
  ReplicatorOptions o = Options();
  o.sync_jobs = 2;
  Replicator worker(o);
  Status once = worker.RunOnce();
  ASSERT_TRUE(once.ok()) << once.message();
  EXPECT_TRUE(InStep());
  EXPECT_EQ(links_.opened(), 2u);
  const WorkerStatus status = LastStatus();
  EXPECT_EQ(status.files_sent, 23u);
  EXPECT_EQ(status.failures, 0u);
  EXPECT_GT(status.last_synced_ms, 0);
}

// ENOSPC at the destination: the worker says Faulty and why, records nothing refused as
// synced, and retries after a pause (the refused transfer's SetMeta, which the agent reports
// not found, does not make it reconcile: the index is not wrong) until the destination has
// room again; then it converges.
TEST_F(ReplicatorLoopTest, ADestinationOutOfSpaceIsFaultyUntilThereIsRoomAgain) {
  calls_.enospc_writes = 1'000'000;  // full until the test makes room
  RunningWorker worker(Options());
  WorkerStatus faulty;
  ASSERT_TRUE(statuses_.WaitFor(
      [](const WorkerStatus& s) { return s.state == "Faulty" && s.crawl == "Changelog Crawl"; },
      &faulty));
  EXPECT_GE(faulty.failures, 1u);
  EXPECT_TRUE(Contains(faulty.reason, "No space left on device")) << faulty.reason;
  EXPECT_EQ(faulty.last_synced_ms, 0) << "nothing is synced while a change is refused";
  calls_.enospc_writes = 0;
  WorkerStatus recovered;
  ASSERT_TRUE(statuses_.WaitFor(
      [](const WorkerStatus& s) { return s.state == "Active" && s.last_synced_ms > 0; },
      &recovered));
  EXPECT_EQ(recovered.failures, 0u);
  EXPECT_TRUE(recovered.reason.empty()) << recovered.reason;
  EXPECT_TRUE(InStep());
  EXPECT_TRUE(worker.Stop().ok());
}

// A file the destination cannot sync (EIO) is refused: the pass fails with the count in the
// status, the file is not recorded as synced, and the next pass sends it again.
TEST_F(ReplicatorLoopTest, AnIoErrorAtTheDestinationIsReportedAndSentAgain) {
  calls_.eio_fsyncs = 1;
  Status first = RunOnce();
  EXPECT_EQ(first.code(), StatusCode::kIOError) << first.message();
  WorkerStatus failed = LastStatus();
  EXPECT_GE(failed.failures, 1u);
  EXPECT_TRUE(Contains(failed.reason, "Input/output error")) << failed.reason;
  EXPECT_EQ(failed.last_synced_ms, 0);
  EXPECT_FALSE(InStep());

  Status second = RunOnce();
  ASSERT_TRUE(second.ok()) << second.message();
  WorkerStatus converged = LastStatus();
  EXPECT_EQ(converged.failures, 0u);
  EXPECT_GT(converged.last_synced_ms, 0);
  EXPECT_EQ(converged.files_sent, 1u) << "only the refused file goes again";
  EXPECT_TRUE(InStep());
}

// Short writes at the destination are written on, not mistaken for the end of the data.
TEST_F(ReplicatorLoopTest, ShortWritesAtTheDestinationStillConverge) {
  calls_.short_writes = true;
  Status once = RunOnce();
  ASSERT_TRUE(once.ok()) << once.message();
  EXPECT_TRUE(InStep());
  EXPECT_GT(calls_.writes.load(), 100'000 / 3);
  EXPECT_EQ(LastStatus().failures, 0u);
}

// The link dies in the middle of a batch: the pass fails, nothing of the batch is recorded as
// synced, and the next worker (it finds the last run unclean: it reconciles) converges.
TEST_F(ReplicatorLoopTest, ALinkThatDiesMidBatchLosesNothing) {
  std::atomic<bool> cut{false};
  calls_.on_write = [&] {
    if (!cut.exchange(true)) links_.SeverAll();
  };
  Status first = RunOnce();
  EXPECT_EQ(first.code(), StatusCode::kUnavailable) << first.message();
  EXPECT_EQ(LastStatus().last_synced_ms, 0);
  EXPECT_TRUE(std::filesystem::exists(state_ / "unclean")) << "the next run reconciles";

  calls_.on_write = nullptr;
  Status second = RunOnce();
  ASSERT_TRUE(second.ok()) << second.message();
  EXPECT_TRUE(InStep());
  EXPECT_EQ(LastStatus().failures, 0u);
  EXPECT_GT(LastStatus().last_synced_ms, 0);
  EXPECT_FALSE(std::filesystem::exists(state_ / "unclean"));
}

// The index cannot record an acknowledged batch (its write tears, out of space): the pass
// fails with the reason in the status, the index keeps none of the batch (so it is sent
// again), and the retry converges with an index that holds the whole tree.
TEST_F(ReplicatorLoopTest, AnIndexThatCannotBeWrittenIsReportedAndTheRetryConverges) {
  state_env_.FailWrites(1, ENOSPC, /*torn=*/true, "/index");
  FakeClock clock;
  ReplicatorOptions o = Options();
  o.clock = &clock;
  RunningWorker worker(o);
  WorkerStatus faulty, recovered;
  ASSERT_TRUE(
      statuses_.WaitFor([](const WorkerStatus& s) { return s.state == "Faulty"; }, &faulty));
  EXPECT_TRUE(Contains(faulty.reason, "index")) << faulty.reason;
  EXPECT_TRUE(Contains(faulty.reason, "No space left on device")) << faulty.reason;
  EXPECT_EQ(faulty.last_synced_ms, 0);
  ASSERT_TRUE(statuses_.WaitFor(
      [](const WorkerStatus& s) { return s.state == "Active" && s.last_synced_ms > 0; },
      &recovered));
  EXPECT_TRUE(InStep());
  EXPECT_TRUE(worker.Stop().ok());
  EXPECT_EQ(state_env_.injected(), 1);
  auto index = IndexStore(state_.path()).Load();
  ASSERT_TRUE(index.ok()) << index.status().message();
  std::set<std::string> paths;
  for (const auto& [path, entry] : *index) paths.insert(path);
  EXPECT_EQ(paths,
            (std::set<std::string>{".", "a.txt", "dir", "dir/b.bin", "dir/sub", "dir/sub/c.txt"}));
}

// The agent holds a batch without acknowledging it: once the ack time-out has gone by on the
// worker's clock, the worker gives up (Faulty, saying why) instead of waiting for ever.
TEST_F(ReplicatorLoopTest, AnAgentThatNeverAcknowledgesTimesOutOnTheWorkersClock) {
  std::mutex mutex;
  std::condition_variable changed;
  bool held = false, released = false;
  calls_.on_write = [&] {
    std::unique_lock<std::mutex> lock(mutex);
    held = true;
    changed.notify_all();
    changed.wait(lock, [&] { return released; });
  };
  FakeClock clock;
  ReplicatorOptions o = Options();
  o.clock = &clock;
  o.agent_timeout_ms = 10 * 60'000;
  RunningWorker worker(o);
  bool was_held = false;
  {
    std::unique_lock<std::mutex> lock(mutex);
    was_held = changed.wait_for(lock, std::chrono::seconds(60), [&] { return held; });
  }
  // The worker may take the time its wait starts at after this: the clock moves on until it
  // gives up (once, unless the worker was not yet waiting).
  WorkerStatus faulty;
  bool gave_up = false;
  for (int i = 0; was_held && !gave_up && i < 60; ++i) {
    clock.Advance(o.agent_timeout_ms + 1);
    gave_up = statuses_.WaitFor([](const WorkerStatus& s) { return s.state == "Faulty"; }, &faulty,
                                0, std::chrono::seconds(1));
  }
  // The agent goes on (and the worker's end of the link can close) whatever happened.
  {
    std::lock_guard<std::mutex> lock(mutex);
    released = true;
  }
  changed.notify_all();
  const Status result = gave_up ? worker.Join() : worker.Stop();
  ASSERT_TRUE(was_held);
  ASSERT_TRUE(gave_up);
  EXPECT_TRUE(Contains(faulty.reason, "did not acknowledge within 10 minutes")) << faulty.reason;
  EXPECT_EQ(result.code(), StatusCode::kUnavailable);
  EXPECT_EQ(faulty.last_synced_ms, 0);
}

// What the worker reports of what is applied: lag unknown until the first full pass is applied,
// then 0; idle, last synced moves on every second (in step as of then) with nothing pending; the
// bytes applied count each file the destination acknowledged, once.
TEST_F(ReplicatorLoopTest, AnIdleWorkerIsInStepAsOfNowAndCountsWhatWasApplied) {
  RunningWorker worker(Options());
  WorkerStatus first, in_step;
  ASSERT_TRUE(statuses_.WaitFor([](const WorkerStatus&) { return true; }, &first));
  EXPECT_EQ(first.lag_ms, -1) << "before the first full pass, the lag is not known";
  ASSERT_TRUE(statuses_.WaitFor(
      [](const WorkerStatus& s) { return s.crawl == "Changelog Crawl" && s.state == "Active"; },
      &in_step));
  EXPECT_EQ(in_step.lag_ms, 0);
  EXPECT_EQ(in_step.bytes_applied, 5 + 100'000 + 5);
  const int64_t idle_since = SystemClock().NowMillis();
  WorkerStatus idle;
  ASSERT_TRUE(statuses_.WaitFor(
      [&](const WorkerStatus& s) { return s.last_synced_ms > idle_since; }, &idle));
  EXPECT_EQ(idle.lag_ms, 0);
  EXPECT_EQ(idle.oldest_pending_ms, 0);
  EXPECT_EQ(idle.bytes_applied, 5 + 100'000 + 5) << "nothing more applied";
  EXPECT_GE(idle.updated_ms, idle.last_synced_ms);

  WriteFile(source_ / "late.txt", std::string(3000, 'l'));
  Age(source_ / "late.txt");  // not racy: sent once
  const int64_t written_at = SystemClock().NowMillis();
  WorkerStatus applied;
  ASSERT_TRUE(statuses_.WaitFor(
      [&](const WorkerStatus& s) { return s.last_synced_ms > written_at; }, &applied));
  EXPECT_TRUE(InStep());
  EXPECT_EQ(applied.bytes_applied, 5 + 100'000 + 5 + 3000);
  EXPECT_TRUE(worker.Stop().ok());
  EXPECT_EQ(LastStatus().bytes_applied, 5 + 100'000 + 5 + 3000);
}

// A change the destination refuses stays pending: Faulty, its lag growing from when it was
// seen, nothing counted applied, last synced still. A stop leaves it so in the status, and the
// next worker counts on from it (its lag known from the start) until it is applied.
TEST_F(ReplicatorLoopTest, AChangeLeftPendingCountsOnInTheNextRun) {
  FakeClock clock;
  ReplicatorOptions o = Options();
  o.clock = &clock;
  o.settle_ms = o.closed_settle_ms = o.max_delay_ms = 0;  // a change is due at once
  auto worker = std::make_unique<RunningWorker>(o);
  WorkerStatus in_step;
  ASSERT_TRUE(statuses_.WaitFor(
      [](const WorkerStatus& s) { return s.crawl == "Changelog Crawl" && s.lag_ms == 0; },
      &in_step));
  const int64_t applied = in_step.bytes_applied;
  calls_.enospc_writes = 1'000'000;
  WriteFile(source_ / "refused.txt", "no room");
  Age(source_ / "refused.txt");
  WorkerStatus faulty;
  ASSERT_TRUE(statuses_.WaitFor(
      [](const WorkerStatus& s) { return s.state == "Faulty" && s.oldest_pending_ms != 0; },
      &faulty));
  EXPECT_EQ(faulty.bytes_applied, applied) << "a refused file is not applied";
  const int64_t seen_at = faulty.oldest_pending_ms;
  clock.Advance(7000);
  EXPECT_TRUE(worker->Stop().ok());
  worker.reset();
  const WorkerStatus stopped = LastStatus();
  EXPECT_EQ(stopped.state, "Stopped");
  EXPECT_EQ(stopped.oldest_pending_ms, seen_at);
  EXPECT_GE(stopped.lag_ms, 7000);
  EXPECT_LE(stopped.last_synced_ms, seen_at) << "every change before it is applied, not this one";

  clock.Advance(3000);
  const size_t from = statuses_.size();
  worker = std::make_unique<RunningWorker>(o);
  WorkerStatus restarted;
  ASSERT_TRUE(statuses_.WaitFor([](const WorkerStatus&) { return true; }, &restarted, from));
  EXPECT_EQ(restarted.oldest_pending_ms, seen_at) << "still the oldest change not applied";
  EXPECT_GE(restarted.lag_ms, 10'000);
  EXPECT_EQ(restarted.bytes_applied, applied);
  calls_.enospc_writes = 0;
  WorkerStatus recovered;
  ASSERT_TRUE(
      statuses_.WaitFor([](const WorkerStatus& s) { return s.state == "Active" && s.lag_ms == 0; },
                        &recovered, from));
  EXPECT_TRUE(InStep());
  EXPECT_EQ(recovered.bytes_applied, applied + 7);
  EXPECT_GE(recovered.last_synced_ms, seen_at);
}

}  // namespace
}  // namespace georep::replication
