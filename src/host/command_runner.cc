#include "host/command_runner.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

extern char** environ;

namespace georep {
namespace {

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  void Close(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
};

void Append(std::string& to, const char* data, size_t n, size_t limit, bool* truncated) {
  if (to.size() >= limit) {
    *truncated = true;
    return;
  }
  size_t take = std::min(n, limit - to.size());
  to.append(data, take);
  if (take < n) *truncated = true;
}

}  // namespace

std::string ShellQuote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') {
      out += "'\"'\"'";
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

std::string ShellJoin(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += ShellQuote(a);
  }
  return out;
}

// Blocks SIGPIPE in this thread while it lives, and discards one raised meanwhile, so that
// writing to a child that has exited is an EPIPE error and not the death of the engine.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    timespec zero{0, 0};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_{}, old_{};
};

Result<CommandResult> LocalCommandRunner::Run(const CommandSpec& spec) {
  if (spec.argv.empty()) return Status::InvalidArgument("empty command");
  SigpipeGuard sigpipe_guard;
  Pipe in, out, err, exec_err;
  if (::pipe2(in.fd, O_CLOEXEC) || ::pipe2(out.fd, O_CLOEXEC) || ::pipe2(err.fd, O_CLOEXEC) ||
      ::pipe2(exec_err.fd, O_CLOEXEC)) {
    return Status::IOError(fmt::format("pipe: {}", std::strerror(errno)));
  }
  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) envp.push_back(*e);
  for (const auto& e : spec.extra_env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return Status::IOError(fmt::format("fork: {}", std::strerror(errno)));
  if (pid == 0) {
    ::setpgid(0, 0);  // its own process group, so a time-out stops its children too
    ::dup2(in.fd[0], 0);
    ::dup2(out.fd[1], 1);
    ::dup2(err.fd[1], 2);
    sigset_t none;
    sigemptyset(&none);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);  // the child starts with no blocked signals
    ::signal(SIGPIPE, SIG_DFL);
    ::execvpe(argv[0], argv.data(), envp.data());
    int e = errno;
    (void)!::write(exec_err.fd[1], &e, sizeof e);
    ::_exit(127);
  }
  in.Close(0);
  out.Close(1);
  err.Close(1);
  exec_err.Close(1);

  int exec_errno = 0;
  ssize_t got = ::read(exec_err.fd[0], &exec_errno, sizeof exec_errno);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    ::waitpid(pid, nullptr, 0);
    return Status::NotFound(
        fmt::format("cannot run {}: {}", spec.argv[0], std::strerror(exec_errno)));
  }

  CommandResult r;
  size_t written = 0;
  if (spec.stdin_data.empty()) in.Close(1);
  ::fcntl(in.fd[1], F_SETFL, O_NONBLOCK);
  const auto start = std::chrono::steady_clock::now();
  bool term_sent = false;
  auto deadline = start + spec.timeout;
  while (out.fd[0] >= 0 || err.fd[0] >= 0) {
    pollfd fds[3];
    int n = 0;
    int idx_out = -1, idx_err = -1, idx_in = -1;
    if (out.fd[0] >= 0) fds[idx_out = n++] = {out.fd[0], POLLIN, 0};
    if (err.fd[0] >= 0) fds[idx_err = n++] = {err.fd[0], POLLIN, 0};
    if (in.fd[1] >= 0) fds[idx_in = n++] = {in.fd[1], POLLOUT, 0};
    auto now = std::chrono::steady_clock::now();
    if (!term_sent && spec.cancel && spec.cancel->load()) {
      r.cancelled = true;
      deadline = now;
    }
    if (now >= deadline) {
      if (!term_sent) {
        r.timed_out = true;
        ::kill(-pid, SIGTERM);
        term_sent = true;
        deadline = now + std::chrono::seconds(1);
        continue;
      }
      ::kill(-pid, SIGKILL);
      break;
    }
    int wait_ms =
        static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()) +
        1;
    if (spec.cancel) wait_ms = std::min(wait_ms, 200);
    if (::poll(fds, static_cast<nfds_t>(n), wait_ms) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    char buf[65536];
    for (int i : {idx_out, idx_err}) {
      if (i < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Pipe& p = i == idx_out ? out : err;
      ssize_t k = ::read(p.fd[0], buf, sizeof buf);
      if (k <= 0) {
        if (k < 0 && errno == EINTR) continue;
        p.Close(0);
        continue;
      }
      Append(i == idx_out ? r.out : r.err, buf, static_cast<size_t>(k), spec.max_output_bytes,
             &r.truncated);
    }
    if (idx_in >= 0 && (fds[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t k =
          ::write(in.fd[1], spec.stdin_data.data() + written, spec.stdin_data.size() - written);
      if (k > 0) written += static_cast<size_t>(k);
      if (k < 0 && errno != EAGAIN && errno != EINTR) written = spec.stdin_data.size();
      if (written >= spec.stdin_data.size()) in.Close(1);
    }
  }
  in.Close(1);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // A timed-out command's group may still hold stragglers.
  if (r.timed_out) ::kill(-pid, SIGKILL);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace georep
