#include "replication/worker_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "replication/test_util.h"

namespace georep::replication {
namespace {

using testing::ReadFile;
using testing::TempDir;

// Another process holding the state directory's lock: bash (no child of its own, so nothing
// else keeps the lock), named `name` in its command line, waiting on a pipe it never reads.
class Holder {
 public:
  // `take_lock` false: it only writes its PID, as a worker that has died would have left it.
  Holder(const std::string& dir, const std::string& name, bool ignore_term, bool take_lock = true) {
    int p[2];
    EXPECT_EQ(::pipe(p), 0);
    const std::string script =
        std::string(ignore_term ? "trap '' TERM; " : "") +
        (take_lock ? "exec 9<>\"$1/worker.pid\" && flock -x 9 && echo $$ >&9 && "
                   : "echo $$ > \"$1/worker.pid\" && ") +
        "read -r -t 60 _ || true";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(p[0], 0);
      ::close(p[1]);
      ::execl("/bin/bash", "bash", "-c", script.c_str(), name.c_str(), dir.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(p[0]);
    keep_open_ = p[1];
    // Until the lock is taken and the PID written.
    for (int i = 0; i < 500; ++i) {
      if (ReadFile(dir + "/worker.pid") == std::to_string(pid_) + "\n") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the holder never took the lock";
  }
  ~Holder() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(keep_open_);
  }
  pid_t pid() const { return pid_; }
  // The holder's end: "signal N" or "exit N", waiting for it.
  std::string Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                               : "exit " + std::to_string(WEXITSTATUS(status));
  }

 private:
  pid_t pid_ = -1;
  int keep_open_ = -1;
};

TEST(WorkerLock, AFreeDirectoryIsTakenAndNamesItsHolder) {
  TempDir dir;
  pid_t replaced = -1;
  auto lock = WorkerLock::Acquire(dir.path(), {}, &replaced);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ(replaced, 0);
  EXPECT_EQ(ReadFile(dir.path() + "/worker.pid"), std::to_string(::getpid()) + "\n");
}

TEST(WorkerLock, ALiveWorkerIsAskedToStopAndItsDirectoryTakenOver) {
  TempDir dir;
  Holder holder(dir.path(), "worker", false);
  pid_t replaced = 0;
  auto lock = WorkerLock::Acquire(dir.path(), {}, &replaced);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ(replaced, holder.pid());
  EXPECT_EQ(holder.Wait(), "signal " + std::to_string(SIGTERM));
  EXPECT_EQ(ReadFile(dir.path() + "/worker.pid"), std::to_string(::getpid()) + "\n");
}

TEST(WorkerLock, AWorkerThatIgnoresTheRequestIsKilled) {
  TempDir dir;
  Holder holder(dir.path(), "worker", true);
  auto lock = WorkerLock::Acquire(dir.path(), {.term_wait_ms = 300, .kill_wait_ms = 5000});
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ(holder.Wait(), "signal " + std::to_string(SIGKILL));
}

TEST(WorkerLock, AProcessThatIsNotAWorkerIsLeftAloneAndNamed) {
  TempDir dir;
  Holder holder(dir.path(), "something-else", false);
  auto lock = WorkerLock::Acquire(dir.path(), {.term_wait_ms = 300, .kill_wait_ms = 300});
  ASSERT_FALSE(lock.ok());
  EXPECT_NE(lock.status().message().find("pid " + std::to_string(holder.pid())), std::string::npos)
      << lock.status().message();
  EXPECT_NE(lock.status().message().find("not a georep worker"), std::string::npos);
  EXPECT_EQ(::kill(holder.pid(), 0), 0) << "the holder was signalled";
}

TEST(WorkerLock, APidLeftInTheFileIsNeverSignalled) {
  // A live process named like a worker whose PID is in worker.pid, holding no lock (a PID left
  // by a worker that died, since taken by another process): the lock is free, nobody is asked
  // to stop.
  TempDir dir;
  Holder bystander(dir.path(), "worker", false, false);
  pid_t replaced = -1;
  auto lock =
      WorkerLock::Acquire(dir.path(), {.term_wait_ms = 100, .kill_wait_ms = 100}, &replaced);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ(replaced, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(::kill(bystander.pid(), 0), 0) << "the process named in the stale file was signalled";
  EXPECT_EQ(ReadFile(dir.path() + "/worker.pid"), std::to_string(::getpid()) + "\n");
}

}  // namespace
}  // namespace georep::replication
