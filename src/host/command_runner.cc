#include "host/command_runner.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "base/subprocess.h"

namespace georep {
namespace {

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

namespace {

// Feeds the command its input and collects its output until both output streams end, the
// time-out (or a cancel) passes -- then SIGTERM to its group, SIGKILL a second later.
void Exchange(Subprocess& child, const CommandSpec& spec, CommandResult& r) {
  size_t written = 0;
  if (spec.stdin_data.empty()) child.CloseStdin();
  if (child.stdin_fd() >= 0) ::fcntl(child.stdin_fd(), F_SETFL, O_NONBLOCK);
  const auto start = std::chrono::steady_clock::now();
  bool term_sent = false;
  auto deadline = start + spec.timeout;
  while (child.stdout_fd() >= 0 || child.stderr_fd() >= 0) {
    pollfd fds[3];
    int n = 0;
    int idx_out = -1, idx_err = -1, idx_in = -1;
    if (child.stdout_fd() >= 0) fds[idx_out = n++] = {child.stdout_fd(), POLLIN, 0};
    if (child.stderr_fd() >= 0) fds[idx_err = n++] = {child.stderr_fd(), POLLIN, 0};
    if (child.stdin_fd() >= 0) fds[idx_in = n++] = {child.stdin_fd(), POLLOUT, 0};
    auto now = std::chrono::steady_clock::now();
    if (!term_sent && spec.cancel && spec.cancel->load()) {
      r.cancelled = true;
      deadline = now;
    }
    if (now >= deadline) {
      if (!term_sent) {
        r.timed_out = true;
        child.SignalGroup(SIGTERM);
        term_sent = true;
        deadline = now + std::chrono::seconds(1);
        continue;
      }
      child.SignalGroup(SIGKILL);
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
      const bool is_out = i == idx_out;
      ssize_t k = ::read(is_out ? child.stdout_fd() : child.stderr_fd(), buf, sizeof buf);
      if (k <= 0) {
        if (k < 0 && errno == EINTR) continue;
        is_out ? child.CloseStdout() : child.CloseStderr();
        continue;
      }
      Append(is_out ? r.out : r.err, buf, static_cast<size_t>(k), spec.max_output_bytes,
             &r.truncated);
    }
    if (idx_in >= 0 && (fds[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t k = ::write(child.stdin_fd(), spec.stdin_data.data() + written,
                          spec.stdin_data.size() - written);
      if (k > 0) written += static_cast<size_t>(k);
      if (k < 0 && errno != EAGAIN && errno != EINTR) written = spec.stdin_data.size();
      if (written >= spec.stdin_data.size()) child.CloseStdin();
    }
  }
}

}  // namespace

Result<CommandResult> LocalCommandRunner::Run(const CommandSpec& spec) {
  if (spec.argv.empty()) return Status::InvalidArgument("empty command");
  SigpipeGuard sigpipe_guard;
  SubprocessOptions options;
  options.argv = spec.argv;
  options.extra_env = spec.extra_env;
  options.in = options.out = options.err = StdioSpec::Pipe();
  options.new_process_group = true;  // a time-out stops its children too
  auto child = Subprocess::Start(options);
  if (!child.ok()) {
    // A program that may not be run is as good as missing to the callers: NotFound.
    if (child.status().code() == StatusCode::kPermissionDenied)
      return Status::NotFound(child.status().message());
    return child.status();
  }
  CommandResult r;
  Exchange(*child, spec, r);
  child->CloseStdin();
  const ExitStatus status = child->Wait();
  // A timed-out command's group may still hold stragglers.
  if (r.timed_out) child->SignalGroup(SIGKILL);
  r.exit_code = status.ShellCode();
  return r;
}

}  // namespace georep
