// WorkerSupervisor with a fake launcher and clock: restarts with doubling back-off (the whole
// schedule, and when it starts over), the reason a worker ended, a changed command line
// restarting it, stop, the restart guard, and the thread noticing an end as it happens; and
// SystemProcessLauncher with small real processes.
#include "engine/worker_supervisor.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "replication/replicator.h"

namespace georep {
namespace {

// Signals sent to each child, by pid; kept by the launcher (a child is deleted when reaped).
using SignalLog = std::map<int, std::vector<int>>;

struct FakeChild final : ChildProcess {
  FakeChild(int id, SignalLog* log) : id(id), log(log) {}
  int pid() const override { return id; }
  int ExitFd() const override { return exit_fd.get(); }
  // Ends as a real child does: the exit fd becomes readable.
  void End(std::string how) {
    how_ = std::move(how);
    ended = true;
    const uint64_t one = 1;
    if (exit_fd.valid()) (void)!::write(exit_fd.get(), &one, sizeof one);
  }
  bool Ended(std::string* how) override {
    if (ended) *how = how_;
    return ended;
  }
  void Signal(int signal) override {
    (*log)[id].push_back(signal);
    if (signal == SIGTERM || signal == SIGKILL) {
      ended = true;
      how_ = "was killed by signal " + std::to_string(signal);
    }
  }
  int id;
  SignalLog* log;
  std::atomic<bool> ended = false;
  std::string how_;
  UniqueFd exit_fd{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
};

struct FakeLauncher final : ProcessLauncher {
  Result<std::unique_ptr<ChildProcess>> Launch(const std::vector<std::string>& argv,
                                               const std::string& log_path) override {
    launches.push_back(argv);
    logs.push_back(log_path);
    if (fail) return Status::Internal("cannot start " + argv[0] + ": No such file or directory");
    auto c = std::make_unique<FakeChild>(static_cast<int>(launches.size()), &signals);
    last = c.get();
    return std::unique_ptr<ChildProcess>(std::move(c));
  }
  std::vector<std::vector<std::string>> launches;
  std::vector<std::string> logs;
  FakeChild* last = nullptr;
  bool fail = false;
  SignalLog signals;
};

class WorkerSupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("georep-sup-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  FakeClock clock_;
  FakeLauncher launcher_;
};

TEST_F(WorkerSupervisorTest, RestartsACrashedWorkerWithDoublingBackoffAndSaysWhy) {
  WorkerSupervisor sup(launcher_, clock_, dir_.string());
  ASSERT_TRUE(sup.Ensure("s1", {"georep", "worker", "--source", "/a"}).ok());
  EXPECT_EQ(launcher_.launches.size(), 1u);
  EXPECT_EQ(launcher_.logs[0], dir_.string() + "/s1/worker.log");
  EXPECT_TRUE(sup.Observe("s1").running);
  // Ensure with the same command line: nothing new.
  ASSERT_TRUE(sup.Ensure("s1", {"georep", "worker", "--source", "/a"}).ok());
  EXPECT_EQ(launcher_.launches.size(), 1u);

  { std::ofstream(dir_ / "s1" / "worker.log") << "georep worker: the agent exited with 1: boom\n"; }
  launcher_.last->ended = true;
  launcher_.last->how_ = "exited with 1";
  WorkerObservation o = sup.Observe("s1");
  EXPECT_FALSE(o.running);
  EXPECT_EQ(o.down_reason, "worker exited with 1: georep worker: the agent exited with 1: boom");
  EXPECT_EQ(launcher_.launches.size(), 1u);  // back-off: not yet
  clock_.Advance(999);
  EXPECT_FALSE(sup.Observe("s1").running);
  clock_.Advance(1);
  o = sup.Observe("s1");
  EXPECT_TRUE(o.running);
  EXPECT_EQ(o.restarts, 1);
  EXPECT_EQ(launcher_.launches.size(), 2u);
  EXPECT_FALSE(o.down_reason.empty());  // kept until the new worker reports
  WorkerCounts counts = sup.Counts();
  EXPECT_EQ(counts.supervised, 1);
  EXPECT_EQ(counts.running, 1);
  EXPECT_EQ(counts.restarts, 1);

  // It dies again at once: the next restart waits twice as long.
  launcher_.last->ended = true;
  EXPECT_FALSE(sup.Observe("s1").running);
  counts = sup.Counts();  // down, still supervised
  EXPECT_EQ(counts.supervised, 1);
  EXPECT_EQ(counts.running, 0);
  clock_.Advance(1999);
  EXPECT_FALSE(sup.Observe("s1").running);
  clock_.Advance(1);
  EXPECT_TRUE(sup.Observe("s1").running);
  EXPECT_EQ(launcher_.launches.size(), 3u);
  EXPECT_EQ(sup.Counts().restarts, 2);
  // Stopped and forgotten: the restarts made stay counted (a counter never goes back).
  sup.Stop("s1");
  EXPECT_EQ(sup.Counts().supervised, 0);
  EXPECT_EQ(sup.Counts().restarts, 2);
}

TEST_F(WorkerSupervisorTest, ANewCommandLineRestartsAndStopForgets) {
  WorkerSupervisor sup(launcher_, clock_, dir_.string());
  ASSERT_TRUE(sup.Ensure("s1", {"georep", "worker", "--compress"}).ok());
  ASSERT_TRUE(sup.Ensure("s1", {"georep", "worker"}).ok());  // config changed
  EXPECT_EQ(launcher_.launches.size(), 2u);
  EXPECT_EQ(launcher_.signals[1], std::vector<int>{SIGTERM});  // the old one was stopped
  EXPECT_EQ(sup.Supervised(), std::vector<std::string>{"s1"});
  EXPECT_EQ(sup.Counts().restarts, 0);  // a new command line is no restart after an end
  sup.Stop("s1");
  EXPECT_EQ(launcher_.signals[2], std::vector<int>{SIGTERM});
  EXPECT_FALSE(sup.Observe("s1").known);
  EXPECT_TRUE(sup.Supervised().empty());
  EXPECT_EQ(sup.Counts().supervised, 0);
  EXPECT_EQ(sup.Counts().running, 0);
}

TEST_F(WorkerSupervisorTest, AWorkerThatCannotStartIsRetried) {
  WorkerSupervisor sup(launcher_, clock_, dir_.string());
  launcher_.fail = true;
  EXPECT_FALSE(sup.Ensure("s1", {"/missing/georep", "worker"}).ok());
  WorkerObservation o = sup.Observe("s1");
  EXPECT_FALSE(o.running);
  EXPECT_NE(o.down_reason.find("No such file"), std::string::npos) << o.down_reason;
  launcher_.fail = false;
  clock_.Advance(1000);
  EXPECT_TRUE(sup.Observe("s1").running);
}

TEST_F(WorkerSupervisorTest, TheReasonIsNotARoutineLogRecord) {
  WorkerSupervisor sup(launcher_, clock_, dir_.string());
  ASSERT_TRUE(sup.Ensure("s1", {"georep", "worker"}).ok());
  {
    std::ofstream log(dir_ / "s1" / "worker.log");
    log << "ts=2026-11-27T19:27:21.439Z level=info msg=\"worker starts\" source=/a\n"
        << "ts=2026-11-27T19:27:22.082Z level=warning msg=Faulty reason=\"disk full\"\n"
        << "ts=2026-11-27T19:27:23.100Z level=debug msg=pass full=false subtrees=1 entries=2\n"
        << "ts=2026-11-27T19:27:23.200Z level=info msg=\"recovered: Active\"\n";
  }
  launcher_.last->ended = true;
  launcher_.last->how_ = "was killed by signal Killed";
  // Killed after routine records: the last one that says something went wrong is the reason.
  EXPECT_EQ(sup.Observe("s1").down_reason,
            "worker was killed by signal Killed: ts=2026-11-27T19:27:22.082Z level=warning "
            "msg=Faulty reason=\"disk full\"");
}

}  // namespace
}  // namespace georep

namespace georep {
namespace {

// The documented schedule: 1 s after the end, doubling with every end before the worker was
// healthy, up to 30 s; the restart comes exactly when it is due, not a poll later.
TEST_F(WorkerSupervisorTest, RestartScheduleDoublesFromOneSecondToThirty) {
  WorkerSupervisor sup(launcher_, clock_, dir_.string());
  ASSERT_TRUE(sup.Ensure("s1", {"georep", "worker"}).ok());
  const std::vector<int64_t> expected = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
  for (size_t i = 0; i < expected.size(); ++i) {
    launcher_.last->End("exited with 1");
    const size_t launched = launcher_.launches.size();
    const int64_t ended_at = clock_.NowMillis();
    EXPECT_EQ(sup.RestartDue(), ended_at + expected[i]) << "end " << i + 1;
    clock_.Advance(expected[i] - 1);
    EXPECT_EQ(sup.RestartDue(), ended_at + expected[i]);
    EXPECT_EQ(launcher_.launches.size(), launched) << "restarted early after end " << i + 1;
    clock_.Advance(1);
    EXPECT_EQ(sup.RestartDue(), 0);  // nothing waiting: it runs again
    EXPECT_EQ(launcher_.launches.size(), launched + 1) << "end " << i + 1;
    clock_.Advance(500);  // it dies half a second later, before it was healthy
  }
}

// A worker that reported Active (its last status, written after it started) was healthy: its
// end -- a kill -9 -- is restarted 1 s later however often it happened before.
TEST_F(WorkerSupervisorTest, AWorkerThatReportedActiveIsRestartedAfterOneSecond) {
  WorkerSupervisor sup(launcher_, clock_, dir_.string());
  ASSERT_TRUE(sup.Ensure("s1", {"georep", "worker"}).ok());
  for (int i = 0; i < 4; ++i) {  // four quick faults: the next delay is 16 s
    launcher_.last->End("exited with 1");
    sup.RestartDue();
    clock_.Advance(20000);
    sup.RestartDue();
  }
  ASSERT_EQ(launcher_.launches.size(), 5u);
  replication::WorkerStatus active;
  active.state = "Active";
  active.updated_ms = clock_.NowMillis() + 300;
  clock_.Advance(300);
  ASSERT_TRUE(replication::WriteWorkerStatus(sup.StateDir("s1"), active).ok());
  for (int kill = 0; kill < 3; ++kill) {
    launcher_.last->End("was killed by signal Killed");
    const int64_t ended_at = clock_.NowMillis();
    EXPECT_EQ(sup.RestartDue(), ended_at + 1000) << "kill " << kill;
    clock_.Advance(1000);
    sup.RestartDue();
    EXPECT_EQ(launcher_.launches.size(), 6u + kill);
    active.updated_ms = clock_.NowMillis() + 200;  // the new worker reports Active
    clock_.Advance(200);
    ASSERT_TRUE(replication::WriteWorkerStatus(sup.StateDir("s1"), active).ok());
  }
  // A worker that says Faulty when it ends was not healthy: the delay doubles again.
  active.state = "Faulty";
  active.updated_ms = clock_.NowMillis();
  ASSERT_TRUE(replication::WriteWorkerStatus(sup.StateDir("s1"), active).ok());
  launcher_.last->End("exited with 1");
  EXPECT_EQ(sup.RestartDue(), clock_.NowMillis() + 2000);
  clock_.Advance(2000);
  sup.RestartDue();
  launcher_.last->End("exited with 1");
  EXPECT_EQ(sup.RestartDue(), clock_.NowMillis() + 4000);
}

// Running a minute is healthy too (a worker that never gets to Active: a huge first crawl).
TEST_F(WorkerSupervisorTest, AWorkerThatRanAMinuteStartsTheScheduleOver) {
  WorkerSupervisor sup(launcher_, clock_, dir_.string());
  ASSERT_TRUE(sup.Ensure("s1", {"georep", "worker"}).ok());
  for (int i = 0; i < 3; ++i) {
    launcher_.last->End("exited with 1");
    sup.RestartDue();
    clock_.Advance(10000);
    sup.RestartDue();
  }
  clock_.Advance(WorkerSupervisor::kHealthyAfterMs);
  launcher_.last->End("exited with 1");
  EXPECT_EQ(sup.RestartDue(), clock_.NowMillis() + 1000);
}

// Every restart asks the guard first (the destination's path checks); a refusal keeps the
// worker down with the reason and is asked again on the same schedule.
TEST_F(WorkerSupervisorTest, ARestartTheGuardRefusesIsNotMade) {
  WorkerSupervisor sup(launcher_, clock_, dir_.string());
  std::vector<std::string> asked;
  Status answer = Status::FailedPrecondition("destination is inside the source");
  sup.SetRestartGuard([&](const std::string& id) {
    asked.push_back(id);
    return answer;
  });
  ASSERT_TRUE(sup.Ensure("s1", {"georep", "worker"}).ok());
  EXPECT_TRUE(asked.empty());  // a start is checked by whoever starts it
  launcher_.last->End("exited with 1");
  sup.RestartDue();
  clock_.Advance(1000);
  sup.RestartDue();
  EXPECT_EQ(asked, std::vector<std::string>{"s1"});
  EXPECT_EQ(launcher_.launches.size(), 1u);
  WorkerObservation o = sup.Observe("s1");
  EXPECT_FALSE(o.running);
  EXPECT_EQ(o.down_reason, "not restarted: destination is inside the source");
  clock_.Advance(1999);
  sup.RestartDue();
  EXPECT_EQ(asked.size(), 1u);
  answer = Status::Ok();
  clock_.Advance(1);
  sup.RestartDue();
  EXPECT_EQ(asked.size(), 2u);
  EXPECT_EQ(launcher_.launches.size(), 2u);
  EXPECT_TRUE(sup.Observe("s1").running);
}

// With its thread, the supervisor learns of an end from the child's exit fd: nobody polls.
TEST_F(WorkerSupervisorTest, TheThreadNoticesAnEndAsItHappens) {
  WorkerSupervisor sup(launcher_, clock_, dir_.string());
  std::mutex mu;
  std::condition_variable told;
  std::vector<std::string> ended;
  sup.SetEndListener([&](const std::string& id) {
    std::lock_guard<std::mutex> lock(mu);
    ended.push_back(id);
    told.notify_all();
  });
  ASSERT_TRUE(sup.Ensure("s1", {"georep", "worker"}).ok());
  sup.Start();
  launcher_.last->End("was killed by signal Killed");
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(told.wait_for(lock, std::chrono::seconds(20), [&] { return !ended.empty(); }));
  EXPECT_EQ(ended, std::vector<std::string>{"s1"});
  lock.unlock();
  EXPECT_EQ(sup.Observe("s1").down_reason, "worker was killed by signal Killed");
  sup.StopRestarting();
}

// The real launcher: a child's output is appended to its log, its end is seen on its exit fd and
// said in words, and one that cannot be started is an error, not a child.
TEST_F(WorkerSupervisorTest, SystemLauncherLogsOutputAndReportsTheEnd) {
  const std::string log = (dir_ / "worker.log").string();
  { std::ofstream(log) << "earlier\n"; }
  SystemProcessLauncher launcher;
  auto child = launcher.Launch({"/bin/sh", "-c", "echo out; echo err >&2; read x; exit 3"}, log);
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  std::string how;
  ASSERT_GE((*child)->ExitFd(), 0);
  pollfd pfd{(*child)->ExitFd(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 60'000), 1);  // stdin is /dev/null: `read` ends at once
  ASSERT_TRUE((*child)->Ended(&how));
  EXPECT_EQ(how, "exited with 3");
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "earlier\nout\nerr\n");
}

TEST_F(WorkerSupervisorTest, SystemLauncherSignalsAndCannotStartAMissingProgram) {
  const std::string log = (dir_ / "worker.log").string();
  SystemProcessLauncher launcher;
  auto child = launcher.Launch({"sleep", "60"}, log);
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  std::string how;
  EXPECT_FALSE((*child)->Ended(&how));
  (*child)->Signal(SIGTERM);
  pollfd pfd{(*child)->ExitFd(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 60'000), 1);
  ASSERT_TRUE((*child)->Ended(&how));
  EXPECT_EQ(how, std::string("was killed by signal ") + strsignal(SIGTERM));

  auto missing = launcher.Launch({"/nonexistent/georep", "worker"}, log);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot start /nonexistent/georep"), std::string::npos)
      << missing.status().message();
}

}  // namespace
}  // namespace georep
