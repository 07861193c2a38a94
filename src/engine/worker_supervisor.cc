#include "engine/worker_supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

extern char** environ;

namespace georep {
namespace {

class SystemChild final : public ChildProcess {
 public:
  explicit SystemChild(pid_t pid) : pid_(pid) {}
  ~SystemChild() override {
    std::string how;
    if (!Ended(&how)) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
      }
    }
  }
  int pid() const override { return pid_; }
  bool Ended(std::string* how) override {
    if (ended_) {
      *how = how_;
      return true;
    }
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r != pid_) return false;
    ended_ = true;
    how_ = WIFEXITED(st)     ? "exited with " + std::to_string(WEXITSTATUS(st))
           : WIFSIGNALED(st) ? std::string("was killed by signal ") + strsignal(WTERMSIG(st))
                             : "ended";
    *how = how_;
    return true;
  }
  void Signal(int signal) override {
    if (!ended_) ::kill(pid_, signal);
  }

 private:
  pid_t pid_;
  bool ended_ = false;
  std::string how_;
};

// The last non-empty line of a log: why a worker stopped, in its own words. The worker's own
// routine records (debug and info, which say what went well) are not reasons.
std::string LastLine(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    const bool routine =
        line.starts_with("ts=") && (line.find(" level=debug ") != std::string::npos ||
                                    line.find(" level=info ") != std::string::npos);
    if (!line.empty() && !routine) last = line;
  }
  return last.substr(0, 400);
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> SystemProcessLauncher::Launch(
    const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty()) return Status::InvalidArgument("nothing to start");
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) return Status::IOError("cannot open " + log_path + ": " + strerror(errno));
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, null, 0);
  posix_spawn_file_actions_adddup2(&fa, log, 1);
  posix_spawn_file_actions_adddup2(&fa, log, 2);
  // The child starts with no blocked signals and default dispositions, whatever this process
  // (which may block SIGTERM to wait for it, or ignore SIGPIPE) has set.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(log);
  ::close(null);
  if (rc != 0) return Status::Internal("cannot start " + argv[0] + ": " + strerror(rc));
  return std::unique_ptr<ChildProcess>(new SystemChild(pid));
}

WorkerSupervisor::WorkerSupervisor(ProcessLauncher& launcher, Clock& clock, std::string state_root)
    : launcher_(launcher), clock_(clock), state_root_(std::move(state_root)) {}

WorkerSupervisor::~WorkerSupervisor() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, w] : workers_) w.child ? w.child->Signal(SIGTERM) : void();
  for (auto& [id, w] : workers_) StopLocked(w, 10000);
}

std::string WorkerSupervisor::StateDir(const std::string& session_id) const {
  return state_root_ + "/" + session_id;
}

Status WorkerSupervisor::StartLocked(const std::string& id, Worker& w) {
  std::error_code ec;
  std::filesystem::create_directories(StateDir(id), ec);
  if (ec) return Status::IOError("cannot create " + StateDir(id) + ": " + ec.message());
  auto child = launcher_.Launch(w.argv, StateDir(id) + "/worker.log");
  if (!child.ok()) {
    w.down_reason = child.status().message();
    w.restart_at = clock_.NowMillis() + w.backoff_ms;
    w.backoff_ms = std::min<int64_t>(w.backoff_ms * 2, 60000);
    return child.status();
  }
  w.child = std::move(*child);
  w.started_at = clock_.NowMillis();
  return Status::Ok();
}

void WorkerSupervisor::StopLocked(Worker& w, int64_t grace_ms) {
  if (!w.child) return;
  std::string how;
  if (!w.child->Ended(&how)) {
    w.child->Signal(SIGTERM);
    const int64_t until = clock_.NowMillis() + grace_ms;
    while (!w.child->Ended(&how) && clock_.NowMillis() < until) clock_.Sleep(50);
    if (!w.child->Ended(&how)) w.child->Signal(SIGKILL);
  }
  w.child.reset();  // reaps it
}

Status WorkerSupervisor::Ensure(const std::string& session_id,
                                const std::vector<std::string>& argv) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = workers_.find(session_id);
  if (it != workers_.end() && it->second.argv == argv) return Status::Ok();
  if (it != workers_.end()) StopLocked(it->second, 30000);
  Worker& w = workers_[session_id];
  w = Worker{};
  w.argv = argv;
  return StartLocked(session_id, w);
}

bool WorkerSupervisor::Supervises(const std::string& session_id,
                                  const std::vector<std::string>& argv) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = workers_.find(session_id);
  return it != workers_.end() && it->second.argv == argv;
}

void WorkerSupervisor::Stop(const std::string& session_id, int64_t grace_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = workers_.find(session_id);
  if (it == workers_.end()) return;
  StopLocked(it->second, grace_ms);
  workers_.erase(it);
}

WorkerObservation WorkerSupervisor::Observe(const std::string& session_id) {
  std::lock_guard<std::mutex> lock(mu_);
  WorkerObservation out;
  auto it = workers_.find(session_id);
  if (it == workers_.end()) return out;
  Worker& w = it->second;
  out.known = true;
  std::string how;
  if (w.child && w.child->Ended(&how)) {
    std::string why = LastLine(StateDir(session_id) + "/worker.log");
    w.down_reason = "worker " + how + (why.empty() ? "" : ": " + why);
    w.child.reset();
    w.restart_at = clock_.NowMillis() + w.backoff_ms;
    w.backoff_ms = std::min<int64_t>(w.backoff_ms * 2, 60000);
  }
  if (!w.child && clock_.NowMillis() >= w.restart_at) {
    ++w.restarts;
    (void)StartLocked(session_id, w);
  }
  // A worker that has kept running a minute has recovered: back-off starts over.
  if (w.child && clock_.NowMillis() - w.started_at > 60000) w.backoff_ms = 1000;
  out.running = w.child != nullptr;
  out.down_reason = w.down_reason;
  out.restarts = w.restarts;
  out.started_at = w.started_at;
  return out;
}

std::vector<std::string> WorkerSupervisor::Supervised() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> ids;
  for (const auto& [id, w] : workers_) ids.push_back(id);
  return ids;
}

}  // namespace georep
