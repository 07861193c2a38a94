#include "engine/worker_supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/subprocess.h"
#include "replication/replicator.h"

namespace georep {
namespace {

class SystemChild final : public ChildProcess {
 public:
  explicit SystemChild(Subprocess process) : process_(std::move(process)) {}
  int pid() const override { return process_.pid(); }
  int ExitFd() const override { return process_.exit_fd(); }
  bool Ended(std::string* how) override {
    std::optional<ExitStatus> status = process_.TryWait();
    if (!status) return false;
    *how = status->Describe();
    return true;
  }
  void Signal(int signal) override { process_.Signal(signal); }

 private:
  Subprocess process_;  // killed and reaped, if it still runs, when the child is deleted
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
  UniqueFd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log.valid()) return Status::IOError("cannot open " + log_path + ": " + strerror(errno));
  SubprocessOptions options;
  options.argv = argv;
  options.in = StdioSpec::Null();
  options.out = options.err = StdioSpec::Fd(log.get());
  auto process = Subprocess::Start(options);
  if (!process.ok()) return Status::Internal(process.status().message());
  return std::unique_ptr<ChildProcess>(new SystemChild(std::move(*process)));
}

WorkerSupervisor::WorkerSupervisor(ProcessLauncher& launcher, Clock& clock, std::string state_root)
    : launcher_(launcher),
      clock_(clock),
      state_root_(std::move(state_root)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

WorkerSupervisor::~WorkerSupervisor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, w] : workers_) w.child ? w.child->Signal(SIGTERM) : void();
  for (auto& [id, w] : workers_) StopLocked(w, 10000);
}

void WorkerSupervisor::SetRestartGuard(RestartGuard guard) {
  std::lock_guard<std::mutex> lock(mu_);
  guard_ = std::move(guard);
}

void WorkerSupervisor::SetEndListener(std::function<void(const std::string&)> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = std::move(listener);
}

void WorkerSupervisor::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (watching_) return;
  watching_ = true;
  stopping_ = false;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "georep-workers");
    Loop();
  });
}

void WorkerSupervisor::StopRestarting() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!watching_) return;
    stopping_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  watching_ = false;
}

void WorkerSupervisor::Wake() {
  if (!wake_fd_.valid()) return;
  const uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof one);
}

void WorkerSupervisor::Loop() {
  std::vector<std::string> ended;
  for (;;) {
    ended.clear();
    const int64_t next = Step("", true, &ended);
    std::function<void(const std::string&)> listener;
    std::vector<pollfd> fds;
    bool blind = false;  // a child without an exit fd: looked at every second
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      listener = listener_;
      if (wake_fd_.valid()) fds.push_back({wake_fd_.get(), POLLIN, 0});
      for (const auto& [id, w] : workers_) {
        if (!w.child) continue;
        const int fd = w.child->ExitFd();
        if (fd >= 0)
          fds.push_back({fd, POLLIN, 0});
        else
          blind = true;
      }
    }
    for (const auto& id : ended)
      if (listener) listener(id);
    int64_t timeout = next == 0 ? -1 : std::max<int64_t>(0, next - clock_.NowMillis());
    if (blind || !wake_fd_.valid()) timeout = timeout < 0 ? 1000 : std::min<int64_t>(timeout, 1000);
    if (!ended.empty()) continue;  // the listener took time: look again before waiting
    int r = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<int64_t>(timeout, 60000)));
    if (r > 0 && wake_fd_.valid() && (fds[0].revents & POLLIN)) {
      uint64_t n = 0;
      (void)!::read(wake_fd_.get(), &n, sizeof n);
    }
  }
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
    ScheduleRestartLocked(w);
    return child.status();
  }
  w.child = std::move(*child);
  w.started_at = clock_.NowMillis();
  Wake();  // the thread watches the new child too
  return Status::Ok();
}

void WorkerSupervisor::ScheduleRestartLocked(Worker& w) {
  w.restart_at = clock_.NowMillis() + w.backoff_ms;
  w.backoff_ms = std::min<int64_t>(w.backoff_ms * 2, kMaxBackoffMs);
  Wake();  // the thread's wait ends by then, whoever noticed the end
}

void WorkerSupervisor::NoticeEndLocked(const std::string& id, Worker& w, const std::string& how) {
  std::string why = LastLine(StateDir(id) + "/worker.log");
  w.down_reason = "worker " + how + (why.empty() ? "" : ": " + why);
  // A worker that was healthy -- it said Active last, or it ran long -- ended: the schedule
  // starts over (a kill, one fault after hours of work). One that never got there doubles it.
  bool healthy = clock_.NowMillis() - w.started_at >= kHealthyAfterMs;
  if (auto st = replication::ReadWorkerStatus(StateDir(id));
      st.ok() && st->updated_ms >= w.started_at && st->state == "Active")
    healthy = true;
  if (healthy) w.backoff_ms = kFirstBackoffMs;
  w.child.reset();
  ScheduleRestartLocked(w);
}

int64_t WorkerSupervisor::Step(const std::string& only, bool restart,
                               std::vector<std::string>* ended) {
  std::vector<std::pair<std::string, uint64_t>> due;
  RestartGuard guard;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = clock_.NowMillis();
    for (auto& [id, w] : workers_) {
      if (!only.empty() && id != only) continue;
      std::string how;
      if (w.child && w.child->Ended(&how)) {
        NoticeEndLocked(id, w, how);
        if (ended) ended->push_back(id);
      }
      if (restart && !w.child && !w.guarding && now >= w.restart_at) {
        w.guarding = true;
        due.emplace_back(id, w.generation);
      }
    }
    guard = guard_;
  }
  for (const auto& [id, generation] : due) {
    // Asked with no lock held: the guard probes hosts, and may take seconds.
    const Status allowed = guard ? guard(id) : Status::Ok();
    std::lock_guard<std::mutex> lock(mu_);
    auto it = workers_.find(id);
    if (it == workers_.end() || it->second.generation != generation) continue;  // stopped
    Worker& w = it->second;
    w.guarding = false;
    if (!allowed.ok()) {
      w.down_reason = "not restarted: " + allowed.message();
      ScheduleRestartLocked(w);
      if (ended) ended->push_back(id);
      continue;
    }
    ++w.restarts;
    ++restarts_;
    (void)StartLocked(id, w);
  }
  std::lock_guard<std::mutex> lock(mu_);
  int64_t next = 0;
  for (const auto& [id, w] : workers_)
    if (!w.child && !w.guarding && (next == 0 || w.restart_at < next)) next = w.restart_at;
  return next;
}

int64_t WorkerSupervisor::RestartDue() {
  return Step("", true, nullptr);
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
  w.generation = ++generations_;
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
  bool watching = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    watching = watching_;
  }
  // With the thread running, restarts are its own (on time, guarded); an observer only looks.
  Step(session_id, !watching, nullptr);
  std::lock_guard<std::mutex> lock(mu_);
  WorkerObservation out;
  auto it = workers_.find(session_id);
  if (it == workers_.end()) return out;
  Worker& w = it->second;
  out.known = true;
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

WorkerCounts WorkerSupervisor::Counts() {
  std::lock_guard<std::mutex> lock(mu_);
  WorkerCounts out;
  out.supervised = static_cast<int>(workers_.size());
  for (const auto& [id, w] : workers_)
    if (w.child) ++out.running;
  out.restarts = restarts_;
  return out;
}

}  // namespace georep
