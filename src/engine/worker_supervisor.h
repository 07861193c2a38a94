// WorkerSupervisor: runs one `georep worker` process per running session of a directory
// volume, the way gsyncd's monitor runs its workers -- restarted with back-off (1 s doubling
// to 60 s) after it exits, and reported down with the reason meanwhile. Each session has a
// state directory (index, status.json, logs) that outlives its worker.
//
// Processes are started through ProcessLauncher so that tests can use a fake.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace georep {

class ChildProcess {
 public:
  virtual ~ChildProcess() = default;
  virtual int pid() const = 0;
  // Non-blocking. True once the process has ended; `how` says how ("exited with 1").
  virtual bool Ended(std::string* how) = 0;
  virtual void Signal(int signal) = 0;
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;
  // Starts argv (never through a shell) with stdin from /dev/null and stdout and stderr
  // appended to `log_path`.
  virtual Result<std::unique_ptr<ChildProcess>> Launch(const std::vector<std::string>& argv,
                                                       const std::string& log_path) = 0;
};

class SystemProcessLauncher final : public ProcessLauncher {
 public:
  Result<std::unique_ptr<ChildProcess>> Launch(const std::vector<std::string>& argv,
                                               const std::string& log_path) override;
};

struct WorkerObservation {
  bool known = false;       // a worker is supervised for the session
  bool running = false;     // ... and its process is alive
  std::string down_reason;  // why the last worker ended (kept after a restart)
  int restarts = 0;
  int64_t started_at = 0;  // when the current (or last) worker process started
};

class WorkerSupervisor {
 public:
  // `state_root` holds one directory per session.
  WorkerSupervisor(ProcessLauncher& launcher, Clock& clock, std::string state_root);
  ~WorkerSupervisor();  // stops every worker
  WorkerSupervisor(const WorkerSupervisor&) = delete;
  WorkerSupervisor& operator=(const WorkerSupervisor&) = delete;

  std::string StateDir(const std::string& session_id) const;
  // Supervises a worker running `argv` for the session: starts it unless it already runs with
  // the same argv (a changed argv -- new config -- restarts it).
  Status Ensure(const std::string& session_id, const std::vector<std::string>& argv);
  // Whether the session's worker is supervised with exactly `argv` (Ensure would start nothing).
  bool Supervises(const std::string& session_id, const std::vector<std::string>& argv);
  // Stops the session's worker (SIGTERM; SIGKILL after `grace_ms`) and forgets it.
  void Stop(const std::string& session_id, int64_t grace_ms = 30000);
  // Notices a worker that ended, restarts it once its back-off has passed, and says how it is.
  WorkerObservation Observe(const std::string& session_id);
  std::vector<std::string> Supervised();

 private:
  struct Worker {
    std::vector<std::string> argv;
    std::unique_ptr<ChildProcess> child;
    int restarts = 0;
    int64_t backoff_ms = 1000;
    int64_t restart_at = 0;
    int64_t started_at = 0;
    std::string down_reason;
  };
  Status StartLocked(const std::string& id, Worker& w);
  void StopLocked(Worker& w, int64_t grace_ms);

  ProcessLauncher& launcher_;
  Clock& clock_;
  const std::string state_root_;
  std::mutex mu_;
  std::map<std::string, Worker> workers_;  // GUARDED_BY(mu_)
};

}  // namespace georep
