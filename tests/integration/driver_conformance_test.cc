// The session-driver conformance suite (engine/test_support/driver_conformance_cases.h) on
// DirectoryDriver with real workers: the `georep worker` binary under test, started by a real
// WorkerSupervisor, replicating a real source directory into a real destination directory.
// What the unit tier's worlds write for the driver to read (a worker's status, its command
// line) is here what the running worker reports and runs with; a fault is a real one (the
// worker killed), and recovery is the supervisor restarting it. Every wait is on an event --
// the worker's status.json, its process's end -- with a deadline.
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "engine/host_connector.h"
#include "engine/operations.h"
#include "engine/test_support/driver_conformance_cases.h"
#include "engine/worker_supervisor.h"
#include "integration/replication_support.h"
#include "replication/replicator.h"

namespace georep::testing_support {
namespace {

constexpr auto kWorkerDeadline = std::chrono::seconds(60);

// Waits until `done` holds, checking it again each time `changed` (the state directory's
// inotify descriptor, or -1) becomes readable or 50 ms pass -- a process's end and a restart's
// back-off are not file events. False at the deadline.
bool WaitUntil(const std::function<bool()>& done, int changed = -1) {
  const auto until = std::chrono::steady_clock::now() + kWorkerDeadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    pollfd p{changed, POLLIN, 0};
    if (changed >= 0 && ::poll(&p, 1, 50) > 0) {
      char events[4096];
      while (::read(changed, events, sizeof events) > 0) {
      }
    } else if (changed < 0) {
      ::poll(nullptr, 0, 50);
    }
  }
  return true;
}

// A directory volume on the engine's own machine, replicated into a directory beside it by
// `georep worker` processes, children of this test, under the volume roots of this world.
class RealWorkerDirectoryWorld final : public ConformanceWorld {
 public:
  static constexpr const char* kName = "DirectoryWithRealWorkers";
  RealWorkerDirectoryWorld()
      : ConformanceWorld("real-workers"), hosts_(SshIdentity{}, (dir_ / "known_hosts.d").string()) {
    Open(clock_, &hosts_);
    workers_ = std::make_unique<WorkerSupervisor>(launcher_, clock_, (dir_ / "state").string());
    ops_->SetWorkerSupervisor(workers_.get(), testing::GeorepBinary());
    ops_->SetVolumeRoots({dir_.string()});
  }
  ~RealWorkerDirectoryWorld() override {
    Close();
    workers_.reset();  // stops every worker
  }

  std::string CreateSession() override {
    std::filesystem::create_directories(source_root());
    std::filesystem::create_directories(destination_root());
    return CreateLocalDirectorySession();
  }
  Result<SessionDetail> Observe(const std::string& id) override {
    return ops_->PollDirectorySession(admin_, id);
  }
  // Supervised, and its process alive.
  bool Runs(const std::string& id) override {
    const auto ids = workers_->Supervised();
    return std::find(ids.begin(), ids.end(), id) != ids.end() && !WorkerPids(id).empty();
  }
  // The worker (restarted by the supervisor if it died, as the monitor's look does) has
  // reported Active since it started, and copies a file written to the source then.
  void ReportActive(const std::string& id) override {
    ASSERT_TRUE(WaitActive(id)) << "the worker did not report Active; its log:\n" << WorkerLog(id);
    const std::string written = "written-" + std::to_string(++written_) + ".txt";
    Write(source_root() / written, "replicated by a real worker");
    EXPECT_TRUE(WaitUntil([&] { return std::filesystem::exists(destination_root() / written); }))
        << "the Active worker did not copy " << written << "; its log:\n"
        << WorkerLog(id);
    if (killed_ > 0) {
      EXPECT_GE(workers_->Observe(id).restarts, 1) << "the killed worker was not restarted";
      const std::vector<pid_t> pids = WorkerPids(id);
      EXPECT_EQ(std::count(pids.begin(), pids.end(), killed_), 0);
      killed_ = -1;
    }
  }
  // A real fault: the worker is killed (SIGKILL), so `reason` is how it ended, not ours. The
  // wait is for its end, so that the monitor's next look cannot miss it.
  void ReportFaulty(const std::string& id, const std::string&) override {
    const std::vector<pid_t> pids = WorkerPids(id);
    ASSERT_EQ(pids.size(), 1u) << "one worker runs for the session";
    const int ended = static_cast<int>(::syscall(SYS_pidfd_open, pids[0], 0));
    ASSERT_GE(ended, 0) << "pidfd_open: " << std::strerror(errno);
    ASSERT_EQ(::kill(pids[0], SIGKILL), 0);
    pollfd p{ended, POLLIN, 0};
    const int ready =
        ::poll(&p, 1, static_cast<int>(kWorkerDeadline / std::chrono::milliseconds(1)));
    ::close(ended);
    ASSERT_EQ(ready, 1) << "the killed worker did not end";
    killed_ = pids[0];
  }
  // After the monitor's look (which restarts the worker with its new command line), the one
  // worker running -- Active since it started -- has `--ignore-deletes` on its command line
  // as `on` says.
  bool IgnoresDeletes(const std::string& id, bool on) override {
    EXPECT_TRUE(Observe(id).ok());
    EXPECT_TRUE(WaitActive(id)) << "the restarted worker did not report Active; its log:\n"
                                << WorkerLog(id);
    std::vector<pid_t> pids;
    EXPECT_TRUE(WaitUntil([&] { return (pids = WorkerPids(id)).size() == 1; }))
        << pids.size() << " workers run for the session";
    if (pids.size() != 1) return false;
    const auto argv = testing::CommandLineOf(pids[0]);
    return (std::find(argv.begin(), argv.end(), "--ignore-deletes") != argv.end()) == on;
  }
  bool LeftNothing(const std::string& id) override {
    return !Runs(id) && WorkerPids(id).empty() && !std::filesystem::exists(workers_->StateDir(id));
  }

 protected:
  std::filesystem::path source_root() override { return dir_ / "src"; }
  std::filesystem::path destination_root() override { return dir_ / "dst"; }

 private:
  // An inotify watch on a session's state directory (made if missing): status.json is
  // replaced there by rename.
  class StateWatch {
   public:
    explicit StateWatch(const std::string& dir) {
      std::filesystem::create_directories(dir);
      fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
      if (fd_ >= 0) ::inotify_add_watch(fd_, dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE);
    }
    ~StateWatch() {
      if (fd_ >= 0) ::close(fd_);
    }
    int fd() const { return fd_; }

   private:
    int fd_ = -1;
  };

  // Waits until the session's worker (restarted by the supervisor if it died, as the
  // monitor's look does) has reported Active since it started.
  bool WaitActive(const std::string& id) {
    StateWatch watch(workers_->StateDir(id));
    return WaitUntil(
        [&] {
          WorkerObservation seen = workers_->Observe(id);
          auto status = replication::ReadWorkerStatus(workers_->StateDir(id));
          return seen.running && status.ok() && status->updated_ms >= seen.started_at &&
                 status->state == "Active";
        },
        watch.fd());
  }
  // The live `georep worker` processes (children of this test) of the session's state dir.
  std::vector<pid_t> WorkerPids(const std::string& id) {
    const std::string state_dir = workers_->StateDir(id);
    std::vector<pid_t> out;
    for (pid_t child : testing::ChildrenOf(::getpid())) {
      const auto argv = testing::CommandLineOf(child);  // empty once it ended
      auto at = std::find(argv.begin(), argv.end(), "--state-dir");
      if (argv.size() > 1 && argv[1] == "worker" && at != argv.end() && at + 1 != argv.end() &&
          at[1] == state_dir)
        out.push_back(child);
    }
    return out;
  }
  std::string WorkerLog(const std::string& id) {
    std::string out;
    for (const auto& e : std::filesystem::directory_iterator(workers_->StateDir(id))) {
      if (e.path().extension() != ".log") continue;
      std::ifstream in(e.path());
      out += "== " + e.path().filename().string() + "\n" +
             std::string(std::istreambuf_iterator<char>(in), {});
    }
    return out;
  }

  SystemClock clock_;
  SystemHostConnector hosts_;
  SystemProcessLauncher launcher_;
  std::unique_ptr<WorkerSupervisor> workers_;
  pid_t killed_ = -1;  // the worker ReportFaulty killed, until its restart is seen
  int written_ = 0;    // files ReportActive wrote to the source
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(RealWorkers, SessionDriverConformance,
                               ::testing::Types<RealWorkerDirectoryWorld>, ConformanceWorldNames);

}  // namespace georep::testing_support
