// WorkerLock: one worker per state directory. A worker holds an exclusive flock(2) on
// `worker.pid` there for its whole life, with its PID written in the file.
//
// Two workers on one state directory would both append to its journal and rewrite its index.
// That can happen when the process that started a worker is gone while the worker lives on:
// an engine killed and restarted, or an ssh connection to a remote source host that died
// while the worker behind it did not notice yet. The newer worker is the one its supervisor
// now watches, so it takes the directory over: it asks the holder to stop (SIGTERM), waits
// for the lock, and kills the holder (SIGKILL) if it does not let go in time.
//
// The kernel drops the lock when its holder dies, however it dies; a stale `worker.pid` of a
// dead worker is never signalled (it is only read while its lock is held).
//
// Thread-safety: none needed; one per process.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/status.h"

namespace georep::replication {

struct WorkerLockOptions {
  int term_wait_ms = 10000;  // after SIGTERM, before SIGKILL
  int kill_wait_ms = 5000;   // after SIGKILL, before giving up
};

class WorkerLock {
 public:
  // Takes `state_dir`'s lock, taking it over from a live holder (see above). `replaced` (may
  // be null) receives the PID of the worker that was made to stop, or 0.
  static Result<WorkerLock> Acquire(const std::string& state_dir, WorkerLockOptions options = {},
                                    pid_t* replaced = nullptr);
  WorkerLock(WorkerLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  WorkerLock& operator=(WorkerLock&&) = delete;
  WorkerLock(const WorkerLock&) = delete;
  ~WorkerLock();

 private:
  explicit WorkerLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace georep::replication
