#include "base/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <thread>

extern char** environ;

namespace georep {
namespace {

Status SpawnError(int err, const std::string& program) {
  std::string message = "cannot start " + program + ": " + std::strerror(err);
  if (err == ENOENT || err == ENOTDIR) return Status::NotFound(std::move(message));
  if (err == EACCES || err == EPERM) return Status::PermissionDenied(std::move(message));
  return Status::IOError(std::move(message));
}

std::string_view EnvName(std::string_view entry) {
  return entry.substr(0, entry.find('='));
}

// This process's environment with `extra` set on top: a name given in `extra` replaces this
// process's value (appending it would leave the old one first, and getenv finds the first).
std::vector<char*> BuildEnvironment(const std::vector<std::string>& extra) {
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view name = EnvName(*e);
    const bool replaced = std::any_of(extra.begin(), extra.end(),
                                      [&](const std::string& x) { return EnvName(x) == name; });
    if (!replaced) envp.push_back(*e);
  }
  for (const auto& e : extra) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  return envp;
}

// The child's ends of its three streams, and this process's ends of the pipes among them.
struct StreamEnds {
  UniqueFd child[3];
  UniqueFd parent[3];
  UniqueFd null;
};

Status OpenStreams(const StdioSpec (&specs)[3], StreamEnds& ends) {
  for (int i = 0; i < 3; ++i) {
    switch (specs[i].kind) {
      case StdioSpec::Kind::kInherit:
      case StdioSpec::Kind::kFd:
        break;
      case StdioSpec::Kind::kNull:
        if (!ends.null.valid()) ends.null.Reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
        if (!ends.null.valid())
          return Status::IOError(std::string("cannot open /dev/null: ") + std::strerror(errno));
        break;
      case StdioSpec::Kind::kPipe: {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0)
          return Status::IOError(std::string("pipe: ") + std::strerror(errno));
        // fds[0] reads: the child reads its stdin; this process reads its stdout and stderr.
        ends.child[i].Reset(i == 0 ? fds[0] : fds[1]);
        ends.parent[i].Reset(i == 0 ? fds[1] : fds[0]);
        break;
      }
    }
  }
  return Status::Ok();
}

int ChildFd(const StdioSpec& spec, int stream, const StreamEnds& ends) {
  switch (spec.kind) {
    case StdioSpec::Kind::kInherit:
      return -1;
    case StdioSpec::Kind::kNull:
      return ends.null.get();
    case StdioSpec::Kind::kPipe:
      return ends.child[stream].get();
    case StdioSpec::Kind::kFd:
      return spec.fd;
  }
  return -1;
}

// posix_spawn's file actions and attributes, released however Start returns.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  void Configure(const SubprocessOptions& o, const int (&stream_fds)[3]) {
    for (int i = 0; i < 3; ++i)
      if (stream_fds[i] >= 0) posix_spawn_file_actions_adddup2(&actions, stream_fds[i], i);
    // Descriptors opened without O_CLOEXEC (by a library, by a race with another thread's
    // open and spawn) are not the child's to keep.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    // The child starts with no blocked signals and default dispositions, whatever this
    // process (which may block SIGTERM to wait for it, or ignore SIGPIPE) has set.
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (o.new_session) {
      flags |= POSIX_SPAWN_SETSID;
    } else if (o.new_process_group) {
      flags |= POSIX_SPAWN_SETPGROUP;
      posix_spawnattr_setpgroup(&attr, 0);
    }
    posix_spawnattr_setflags(&attr, flags);
  }

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
};

}  // namespace

bool ExitStatus::exited() const {
  return WIFEXITED(wait_status);
}
int ExitStatus::exit_code() const {
  return WEXITSTATUS(wait_status);
}
bool ExitStatus::signaled() const {
  return WIFSIGNALED(wait_status);
}
int ExitStatus::signal() const {
  return WTERMSIG(wait_status);
}
int ExitStatus::ShellCode() const {
  return exited() ? exit_code() : 128 + signal();
}

std::string ExitStatus::Describe() const {
  if (exited()) return "exited with " + std::to_string(exit_code());
  if (signaled()) return std::string("was killed by signal ") + strsignal(signal());
  return "ended";
}

Result<Subprocess> Subprocess::Start(const SubprocessOptions& options) {
  if (options.argv.empty()) return Status::InvalidArgument("nothing to start");
  const StdioSpec specs[3] = {options.in, options.out, options.err};
  StreamEnds ends;
  GEOREP_RETURN_IF_ERROR(OpenStreams(specs, ends));
  const int stream_fds[3] = {ChildFd(specs[0], 0, ends), ChildFd(specs[1], 1, ends),
                             ChildFd(specs[2], 2, ends)};
  SpawnSetup setup;
  setup.Configure(options, stream_fds);
  std::vector<char*> argv;
  argv.reserve(options.argv.size() + 1);
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp = BuildEnvironment(options.extra_env);

  pid_t pid = -1;
  // glibc's posix_spawnp reports a failed exec (a missing program) here, as its errno.
  const int rc =
      ::posix_spawnp(&pid, argv[0], &setup.actions, &setup.attr, argv.data(), envp.data());
  if (rc != 0) return SpawnError(rc, options.argv[0]);

  Subprocess p;
  p.pid_ = pid;
  p.own_group_ = options.new_process_group || options.new_session;
  // Not reaped yet, so the pid cannot have been reused: the pidfd is this child's.
  p.pidfd_.Reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  p.stdin_ = std::move(ends.parent[0]);
  p.stdout_ = std::move(ends.parent[1]);
  p.stderr_ = std::move(ends.parent[2]);
  return p;
}

Subprocess::Subprocess(Subprocess&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      own_group_(o.own_group_),
      ended_(o.ended_),
      pidfd_(std::move(o.pidfd_)),
      stdin_(std::move(o.stdin_)),
      stdout_(std::move(o.stdout_)),
      stderr_(std::move(o.stderr_)) {}

Subprocess& Subprocess::operator=(Subprocess&& o) noexcept {
  if (this != &o) {
    if (pid_ > 0 && !ended_) (void)Kill();
    pid_ = std::exchange(o.pid_, -1);
    own_group_ = o.own_group_;
    ended_ = o.ended_;
    pidfd_ = std::move(o.pidfd_);
    stdin_ = std::move(o.stdin_);
    stdout_ = std::move(o.stdout_);
    stderr_ = std::move(o.stderr_);
  }
  return *this;
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !ended_) (void)Kill();
}

void Subprocess::Signal(int signal) {
  if (pid_ > 0 && !ended_) ::kill(pid_, signal);
}

void Subprocess::SignalGroup(int signal) {
  // The group outlives its leader: stragglers are reached after the leader was reaped too.
  if (pid_ > 0 && own_group_) {
    ::kill(-pid_, signal);
  } else {
    Signal(signal);
  }
}

void Subprocess::Reap(int wait_status) {
  // The pidfd stays open (and readable) until the Subprocess goes: another thread may be
  // polling it.
  ended_ = ExitStatus{wait_status};
}

std::optional<ExitStatus> Subprocess::TryWait() {
  if (ended_ || pid_ <= 0) return ended_;
  int status = 0;
  pid_t r;
  while ((r = ::waitpid(pid_, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  if (r == pid_) Reap(status);
  return ended_;
}

ExitStatus Subprocess::Wait() {
  if (ended_ || pid_ <= 0) return ended_.value_or(ExitStatus{});
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  Reap(status);
  return *ended_;
}

std::optional<ExitStatus> Subprocess::WaitFor(std::chrono::milliseconds timeout) {
  if (!AwaitEnd(timeout)) return std::nullopt;
  return TryWait();
}

ExitStatus Subprocess::Kill() {
  Signal(SIGKILL);
  return Wait();
}

bool Subprocess::AwaitEnd(std::chrono::milliseconds timeout) const {
  if (ended_ || pid_ <= 0) return true;
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (pidfd_.valid()) {
      pollfd pfd{pidfd_.get(), POLLIN, 0};
      const int wait_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 0, 60'000));
      const int r = ::poll(&pfd, 1, wait_ms);
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return false;
    } else {
      // No pidfd (a kernel before 5.3): look every 10 ms, leaving the child unreaped.
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
          info.si_pid != 0)
        return true;
      if (left.count() > 0)
        std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(10)));
    }
    if (left.count() <= 0) return false;
  }
}

}  // namespace georep
