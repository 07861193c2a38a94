// Small helpers for the integration tests of the built-in replication engine that run real
// `georep worker` processes: bounded waits, tree differences for failure messages, a worker
// run continuously (stopped by its PID) and a look at processes' children in /proc.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "integration/engine_process.h"
#include "replication/test_util.h"

namespace georep::testing {

// Polls `check` every 300 ms for at most `seconds`.
inline bool WaitFor(int seconds, const std::function<bool()>& check) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  return check();
}

// The lines of two DescribeTree()s that differ (at most a few), for failure messages.
inline std::string DescribeTreeDiff(const std::string& a, const std::string& b) {
  auto x = replication::testing::DescribeTree(a), y = replication::testing::DescribeTree(b);
  std::vector<std::string> only_x, only_y;
  std::set_difference(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(only_x));
  std::set_difference(y.begin(), y.end(), x.begin(), x.end(), std::back_inserter(only_y));
  std::string out;
  for (size_t i = 0; i < only_x.size() && i < 8; ++i) out += "\n  source only: " + only_x[i];
  for (size_t i = 0; i < only_y.size() && i < 8; ++i) out += "\n  destination only: " + only_y[i];
  return out;
}

inline bool SameTree(const std::string& a, const std::string& b) {
  return replication::testing::DescribeTree(a) == replication::testing::DescribeTree(b);
}

// `georep worker --source SRC --destination DST --state-dir STATE` plus `extra`.
inline std::vector<std::string> WorkerArgv(const std::string& src, const std::string& dst,
                                           const std::string& state,
                                           const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {GeorepBinary(),  "worker", "--source",    src,
                                   "--destination", dst,      "--state-dir", state};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// A worker running continuously, as the engine runs it; SIGTERM (by PID) when destroyed.
class RunningWorker {
 public:
  explicit RunningWorker(std::vector<std::string> argv) : argv_(std::move(argv)) {}
  ~RunningWorker() { Stop(); }
  RunningWorker(const RunningWorker&) = delete;
  RunningWorker& operator=(const RunningWorker&) = delete;
  void Start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> args;
      for (auto& a : argv_) args.push_back(a.data());
      args.push_back(nullptr);
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  // Signals the worker (by its PID) and reaps it.
  void Kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
  }
  void Stop() { Kill(SIGTERM); }
  pid_t pid() const { return pid_; }

 private:
  std::vector<std::string> argv_;
  pid_t pid_ = -1;
};

// The children of a process (from /proc), e.g. a worker's agent or an sshd's connections.
inline std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "children");
    pid_t child = 0;
    while (in >> child) out.push_back(child);
  }
  return out;
}

// A process and all its descendants, parents first.
inline std::vector<pid_t> ProcessTree(pid_t pid) {
  std::vector<pid_t> out = {pid};
  for (size_t i = 0; i < out.size(); ++i)
    for (pid_t c : ChildrenOf(out[i])) out.push_back(c);
  return out;
}

// /proc/PID/cmdline as words.
inline std::vector<std::string> CommandLineOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> words;
  std::string w;
  while (std::getline(in, w, '\0')) words.push_back(w);
  return words;
}

}  // namespace georep::testing
