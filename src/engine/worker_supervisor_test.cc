// WorkerSupervisor with a fake launcher and clock: restarts with doubling back-off, the reason
// a worker ended, a changed command line restarting it, stop.
#include "engine/worker_supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace georep {
namespace {

// Signals sent to each child, by pid; kept by the launcher (a child is deleted when reaped).
using SignalLog = std::map<int, std::vector<int>>;

struct FakeChild final : ChildProcess {
  FakeChild(int id, SignalLog* log) : id(id), log(log) {}
  int pid() const override { return id; }
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
  bool ended = false;
  std::string how_;
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

  // It dies again at once: the next restart waits twice as long.
  launcher_.last->ended = true;
  EXPECT_FALSE(sup.Observe("s1").running);
  clock_.Advance(1999);
  EXPECT_FALSE(sup.Observe("s1").running);
  clock_.Advance(1);
  EXPECT_TRUE(sup.Observe("s1").running);
  EXPECT_EQ(launcher_.launches.size(), 3u);
}

TEST_F(WorkerSupervisorTest, ANewCommandLineRestartsAndStopForgets) {
  WorkerSupervisor sup(launcher_, clock_, dir_.string());
  ASSERT_TRUE(sup.Ensure("s1", {"georep", "worker", "--compress"}).ok());
  ASSERT_TRUE(sup.Ensure("s1", {"georep", "worker"}).ok());  // config changed
  EXPECT_EQ(launcher_.launches.size(), 2u);
  EXPECT_EQ(launcher_.signals[1], std::vector<int>{SIGTERM});  // the old one was stopped
  EXPECT_EQ(sup.Supervised(), std::vector<std::string>{"s1"});
  sup.Stop("s1");
  EXPECT_EQ(launcher_.signals[2], std::vector<int>{SIGTERM});
  EXPECT_FALSE(sup.Observe("s1").known);
  EXPECT_TRUE(sup.Supervised().empty());
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
