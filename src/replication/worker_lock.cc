#include "replication/worker_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

namespace georep::replication {
namespace {

// The PID in the lock file; 0 while there is none (a holder that has not written it yet).
pid_t ReadPid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  long pid = std::strtol(buf, nullptr, 10);
  return pid > 0 ? static_cast<pid_t>(pid) : 0;
}

// Whether `pid` runs `georep worker` (a PID is only ever signalled when it does).
bool IsWorker(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
  std::string arg;
  while (std::getline(in, arg, '\0'))
    if (arg == "worker") return true;
  return false;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<WorkerLock> WorkerLock::Acquire(const std::string& state_dir, WorkerLockOptions options,
                                       pid_t* replaced) {
  if (replaced) *replaced = 0;
  const std::string path = state_dir + "/worker.pid";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError(fmt::format("cannot open {}: {}", path, strerror(errno)));
  WorkerLock lock(fd);
  enum { kWaiting, kTermSent, kKillSent } phase = kWaiting;
  int64_t deadline = 0;
  pid_t holder = 0;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK)
      return Status::IOError(fmt::format("cannot lock {}: {}", path, strerror(errno)));
    const pid_t pid = ReadPid(fd);
    const int64_t now = NowMs();
    if (phase == kWaiting && pid > 0 && pid != ::getpid() && IsWorker(pid)) {
      holder = pid;
      ::kill(holder, SIGTERM);
      phase = kTermSent;
      deadline = now + options.term_wait_ms;
    } else if (phase == kWaiting && deadline == 0) {
      // No worker's PID yet: its holder is starting (or is not a worker); give it the time a
      // stopping worker gets, then say who holds it.
      deadline = now + options.term_wait_ms;
    } else if (now >= deadline && phase == kTermSent) {
      // Only the holder asked to stop, still holding: not a process that took its PID since.
      if (pid == holder && IsWorker(holder)) ::kill(holder, SIGKILL);
      phase = kKillSent;
      deadline = now + options.kill_wait_ms;
    } else if (now >= deadline) {
      return Status::FailedPrecondition(
          phase == kKillSent
              ? fmt::format("the worker (pid {}) holding {} did not end after SIGKILL", holder,
                            path)
              : fmt::format("{} is held by {}, which is not a georep worker: another process "
                            "uses this state directory",
                            path, pid > 0 ? fmt::format("pid {}", pid) : "a process"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
    return Status::IOError(fmt::format("cannot write {}: {}", path, strerror(errno)));
  if (replaced) *replaced = holder;
  return lock;
}

WorkerLock::~WorkerLock() {
  if (fd_ >= 0) ::close(fd_);  // the lock goes with the descriptor
}

}  // namespace georep::replication
