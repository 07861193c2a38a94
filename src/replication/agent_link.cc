#include "replication/agent_link.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace georep::replication {
namespace {

class ProcessLink final : public AgentLink {
 public:
  ProcessLink(pid_t pid, int to, int from, std::string stderr_path)
      : pid_(pid), to_(to), from_(from), stderr_path_(std::move(stderr_path)) {}
  ~ProcessLink() override {
    if (pid_ > 0) (void)Close(0);
  }
  int write_fd() const override { return to_; }
  int read_fd() const override { return from_; }

  Status Close(int seconds) override {
    if (to_ >= 0) ::close(to_), to_ = -1;
    int status = 0;
    bool exited = false;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (pid_ > 0) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited = true;
        break;
      }
      if (r < 0 && errno != EINTR) break;
      if (std::chrono::steady_clock::now() >= until) {
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    if (from_ >= 0) ::close(from_), from_ = -1;
    if (exited && WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
    std::string how = !exited             ? "did not exit and was killed"
                      : WIFEXITED(status) ? "exited with " + std::to_string(WEXITSTATUS(status))
                      : WIFSIGNALED(status)
                          ? std::string("was killed by signal ") + strsignal(WTERMSIG(status))
                          : "ended";
    std::string tail = ErrorTail();
    return Status::Unavailable("the agent " + how + (tail.empty() ? "" : ": " + tail));
  }

  std::string ErrorTail() const override {
    // Asked when the stream failed: the process's last words (ssh's "Connection ... closed",
    // the agent's own error) are written as it exits, which may be just after its end of the
    // stream was seen. So it is given up to 2 s to exit first (not reaped: Close() does).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (pid_ > 0 && std::chrono::steady_clock::now() < until) {
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
          info.si_pid != 0)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::ifstream in(stderr_path_);
    std::string line, last;
    while (std::getline(in, line))
      if (!line.empty()) last = line;
    return last.substr(0, 400);
  }

 private:
  pid_t pid_;
  int to_, from_;
  std::string stderr_path_;
};

}  // namespace

Result<std::unique_ptr<AgentLink>> SpawnAgent(const std::vector<std::string>& argv,
                                              const std::string& stderr_path) {
  if (argv.empty()) return Status::InvalidArgument("no agent command");
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return Status::IOError(std::string("pipe: ") + strerror(errno));
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]), ::close(in[1]);
    return Status::IOError(std::string("pipe: ") + strerror(errno));
  }
  // The stream to the agent in 1 MiB pipe buffers (the default 64 KiB makes every 1 MiB
  // FileData sixteen wake-ups of each side). Best effort: the system's pipe-max-size may be
  // lower, and a smaller pipe still works.
  (void)::fcntl(in[1], F_SETPIPE_SZ, 1 << 20);
  int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (err < 0) err = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err, 2);
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
  int rc = ::posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]), ::close(out[1]), ::close(err);
  if (rc != 0) {
    ::close(in[1]), ::close(out[0]);
    return Status::Unavailable("cannot start the agent (" + argv[0] + "): " + strerror(rc));
  }
  // A dead agent must show as an error on write, not kill the worker.
  ::signal(SIGPIPE, SIG_IGN);
  return std::unique_ptr<AgentLink>(new ProcessLink(pid, in[1], out[0], stderr_path));
}

}  // namespace georep::replication
