// The fault harness's processes: the worker (restarted as the engine's supervisor does, in a
// user namespace of its own when the inotify limit is lowered), its agents found in /proc, the
// orphans this harness reaps as their subreaper, and the worker's status file.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace georep::fault {

// The children of a process (from /proc).
std::vector<pid_t> ChildrenOf(pid_t pid);

// /proc/PID/cmdline as words.
std::vector<std::string> CommandLineOf(pid_t pid);

// The `georep agent` processes serving destination `root`: the worker's children, or (over
// ssh) the children of sshd's sessions.
std::vector<pid_t> AgentsServing(const std::string& root);

// The worker, started again after a kill or an exit as the engine's supervisor would.
class Worker {
 public:
  // `inotify_limit` >= 0: the worker runs in a user namespace of its own (every uid and gid
  // mapped to itself, so owners are what they are outside) whose inotify watch limit is that.
  Worker(std::vector<std::string> argv, std::string stderr_path, int inotify_limit)
      : argv_(std::move(argv)),
        stderr_path_(std::move(stderr_path)),
        inotify_limit_(inotify_limit) {}
  ~Worker() { StopAll(); }

  void Start();
  // The engine restarted: the worker it had goes on running, out of this supervisor's hands,
  // until the next one takes its state directory over (which stops it).
  void Abandon();
  // Abandoned workers that have ended, reaped.
  void ReapAbandoned();
  // This supervisor's children: the worker and the abandoned ones not yet reaped.
  std::set<pid_t> Pids() const;
  // Whether the worker is running (reaps it when it exited by itself).
  bool Running();
  // The worker's ssh clients (its children running ssh).
  std::vector<pid_t> SshClients() const;
  // Signals the worker (by its PID) and reaps it.
  void Kill(int sig);
  void Stop() { Kill(SIGTERM); }
  // The worker and every abandoned one still running.
  void StopAll();
  pid_t pid() const { return pid_; }
  int starts() const { return starts_; }
  int exits() const { return exits_; }

 private:
  std::vector<std::string> argv_;
  std::string stderr_path_;
  int inotify_limit_;
  pid_t pid_ = -1;
  std::vector<pid_t> abandoned_;
  int starts_ = 0, exits_ = 0;  // exits: by itself (Faulty), not killed
};

// Orphans (agents of a killed worker) come to this process, their subreaper: reaped here, and
// at a round's end stopped, by PID. `keep`: children that are not orphans (the worker, sshd).
void ReapOrphans(const std::set<pid_t>& keep);

// Every child of this process but `keep` killed (SIGKILL) and reaped.
void KillDescendants(const std::set<pid_t>& keep);

// What the worker's status.json says (`ok`: it could be read).
struct Status {
  bool ok = false;
  std::string state, crawl, reason;
  int64_t last_synced_ms = 0;
  uint64_t pending = 0, failures = 0, bytes_sent = 0, files_sent = 0;
  int64_t updated_ms = 0;
};

// The worker's status.json in `state_dir`.
Status ReadStatus(const std::string& state_dir);

}  // namespace georep::fault
