// WorkerSupervisor: runs one `georep worker` process per running session of a directory
// volume, the way gsyncd's monitor runs its workers -- restarted after it exits, and reported
// down with the reason meanwhile. Each session has a state directory (index, status.json,
// logs) that outlives its worker.
//
// The restart schedule (kFirstBackoffMs, kMaxBackoffMs): a worker that ends is started again
// 1 s after its exit; each further end before a worker has been healthy doubles that delay
// (2 s, 4 s, 8 s, 16 s), up to 30 s. A worker is healthy once it has reported Active (its last
// status.json, written after it started, says Active when it ends) or has run for
// kHealthyAfterMs: the next end is then restarted 1 s after again. A worker that cannot be
// launched at all follows the same schedule.
//
// With Start(), a thread ("georep-workers") learns of each exit as it happens -- it waits on
// every child's ExitFd() (a pidfd) -- and restarts each worker when its delay has passed,
// without waiting for anyone's poll. Before every restart it asks the restart guard (the
// destination's path checks): a refused restart is not made, the reason is the worker's down
// reason, and it is asked again on the same schedule. Without Start() (unit tests, with a fake
// clock) the same steps run in RestartDue() and Observe().
//
// Processes are started through ProcessLauncher so that tests can use a fake.
//
// Thread-safety: all methods may be called from any thread. The restart guard is called with
// no lock of the supervisor held.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "base/unique_fd.h"

namespace georep {

class ChildProcess {
 public:
  virtual ~ChildProcess() = default;
  virtual int pid() const = 0;
  // Non-blocking. True once the process has ended; `how` says how ("exited with 1").
  virtual bool Ended(std::string* how) = 0;
  virtual void Signal(int signal) = 0;
  // A file descriptor that becomes readable when the process ends (a pidfd), owned by the
  // child; -1 when there is none (the supervisor then notices the end at its next step).
  virtual int ExitFd() const { return -1; }
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

// The supervisor at one moment, for the engine's metrics.
struct WorkerCounts {
  int supervised = 0;    // sessions with a worker supervised
  int running = 0;       // ... whose process is alive
  int64_t restarts = 0;  // restarts made since the engine started (never decreases)
};

class WorkerSupervisor {
 public:
  static constexpr int64_t kFirstBackoffMs = 1000;
  static constexpr int64_t kMaxBackoffMs = 30000;
  static constexpr int64_t kHealthyAfterMs = 60000;

  // Asked before each restart of a session's worker; a refusal keeps it down, with the reason.
  using RestartGuard = std::function<Status(const std::string& session_id)>;

  // `state_root` holds one directory per session.
  WorkerSupervisor(ProcessLauncher& launcher, Clock& clock, std::string state_root);
  ~WorkerSupervisor();  // stops the thread and every worker

  void SetRestartGuard(RestartGuard guard);
  // Told (by the thread, with no lock held) when a worker ended or a restart was refused, so
  // its status can be shown at once rather than at the next poll.
  void SetEndListener(std::function<void(const std::string& session_id)> listener);
  // Starts the thread that restarts workers as they end (see above). Idempotent.
  void Start();
  // Ends that thread (the workers run on; Observe restarts them again). Before whatever the
  // guard and listener call goes away.
  void StopRestarting();
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
  // Notices every worker that ended and restarts those whose delay has passed (the thread's
  // step). Returns the time of the next restart due, or 0 when none is waiting.
  int64_t RestartDue();
  std::vector<std::string> Supervised();
  // Looks only: notices no end and restarts nothing (the thread, or Observe, does that).
  WorkerCounts Counts();

 private:
  struct Worker {
    std::vector<std::string> argv;
    std::unique_ptr<ChildProcess> child;
    int restarts = 0;
    int64_t backoff_ms = kFirstBackoffMs;
    int64_t restart_at = 0;
    int64_t started_at = 0;
    std::string down_reason;
    uint64_t generation = 0;  // a new Ensure, or a Stop, makes a guard's answer stale
    bool guarding = false;    // the restart guard is being asked
  };
  Status StartLocked(const std::string& id, Worker& w);
  void StopLocked(Worker& w, int64_t grace_ms);
  // A worker's end: its reason, and when it is started again.
  void NoticeEndLocked(const std::string& id, Worker& w, const std::string& how);
  void ScheduleRestartLocked(Worker& w);
  // Notices the ends of `only` one session's worker, or all (empty), and with `restart`
  // restarts those due. Sessions whose worker ended or was refused go to `ended`.
  int64_t Step(const std::string& only, bool restart, std::vector<std::string>* ended);
  void Loop();
  void Wake();

  ProcessLauncher& launcher_;
  Clock& clock_;
  const std::string state_root_;
  std::mutex mu_;
  std::map<std::string, Worker> workers_;             // GUARDED_BY(mu_)
  uint64_t generations_ = 0;                          // GUARDED_BY(mu_)
  int64_t restarts_ = 0;                              // GUARDED_BY(mu_): every worker's
  RestartGuard guard_;                                // GUARDED_BY(mu_)
  std::function<void(const std::string&)> listener_;  // GUARDED_BY(mu_)
  bool watching_ = false;  // GUARDED_BY(mu_): the thread restarts workers
  bool stopping_ = false;  // GUARDED_BY(mu_)
  UniqueFd wake_fd_;       // an eventfd: a new child, a stop
  std::thread thread_;
};

}  // namespace georep
