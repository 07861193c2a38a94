// Subprocess: the one way georep starts a program on this machine -- an argv vector (never a
// shell), its environment, where its standard streams go, and, once started, its end: a wait
// with or without a time-out, a signal, how it ended. The command runner, the worker supervisor
// and the agent link all start their children here.
//
// The child starts with no blocked signals and default dispositions for the signals georep
// blocks or ignores, and with no descriptor of this process beyond its three streams (those
// are set up, the rest closed, between fork and exec). A program that cannot be started is an
// error from Start(), not an exit code 127.
//
// Thread-safety: a Subprocess is used by one thread at a time, except AwaitEnd(), which may run
// in one thread while another reads or writes the pipes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"

namespace georep {

// Where one of the child's standard streams goes.
struct StdioSpec {
  enum class Kind { kInherit, kNull, kPipe, kFd };
  Kind kind = Kind::kInherit;
  int fd = -1;  // kFd: a descriptor of this process, duplicated for the child; not owned

  static StdioSpec Inherit() { return {}; }
  static StdioSpec Null() { return {Kind::kNull, -1}; }
  static StdioSpec Pipe() { return {Kind::kPipe, -1}; }  // this process holds the other end
  static StdioSpec Fd(int fd) { return {Kind::kFd, fd}; }
};

struct SubprocessOptions {
  std::vector<std::string> argv;       // argv[0]: a path, or a name looked up in PATH
  std::vector<std::string> extra_env;  // "NAME=value": set on top of this process's environment
  StdioSpec in = StdioSpec::Null();
  StdioSpec out = StdioSpec::Inherit();
  StdioSpec err = StdioSpec::Inherit();
  bool new_process_group = false;  // its own group, so SignalGroup() reaches its children too
  bool new_session = false;        // setsid(): its own session (and group), no terminal
};

// How a process ended.
struct ExitStatus {
  int wait_status = 0;  // as waitpid(2) gives it

  bool exited() const;
  int exit_code() const;  // when exited()
  bool signaled() const;
  int signal() const;  // when signaled()
  // 0-255 when it exited; 128 + the signal number when a signal ended it (the shell's $?).
  int ShellCode() const;
  bool success() const { return exited() && exit_code() == 0; }
  // "exited with 1", "was killed by signal Killed".
  std::string Describe() const;
};

class Subprocess {
 public:
  // Starts the program. NotFound (or PermissionDenied, IOError) "cannot start <argv[0]>: <why>"
  // when it cannot be run.
  static Result<Subprocess> Start(const SubprocessOptions& options);

  Subprocess(Subprocess&&) noexcept;
  Subprocess& operator=(Subprocess&&) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // A child that has not been waited for is killed (SIGKILL) and reaped: none is left behind.
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // This process's ends of the pipes asked for (-1 for a stream that is not a pipe).
  int stdin_fd() const { return stdin_.get(); }
  int stdout_fd() const { return stdout_.get(); }
  int stderr_fd() const { return stderr_.get(); }
  void CloseStdin() { stdin_.Reset(); }
  void CloseStdout() { stdout_.Reset(); }
  void CloseStderr() { stderr_.Reset(); }
  // Readable once the child has ended (a pidfd), until this Subprocess goes; -1 on a kernel
  // without pidfds.
  int exit_fd() const { return pidfd_.get(); }

  // Sends `signal` to the child (to its whole group with SignalGroup, when it has its own);
  // nothing once it has been reaped.
  void Signal(int signal);
  void SignalGroup(int signal);

  // Non-blocking: how it ended, reaping it, or nullopt while it runs.
  std::optional<ExitStatus> TryWait();
  // Blocks until it ends, and reaps it.
  ExitStatus Wait();
  // Waits up to `timeout` for it to end and reaps it; nullopt if it still runs then.
  std::optional<ExitStatus> WaitFor(std::chrono::milliseconds timeout);
  // Waits up to `timeout` for it to end without reaping it (its pid stays valid); true once
  // it has ended.
  bool AwaitEnd(std::chrono::milliseconds timeout) const;
  // SIGKILL and reap (for one that outlived its time).
  ExitStatus Kill();

 private:
  Subprocess() = default;
  void Reap(int wait_status);

  pid_t pid_ = -1;  // -1 once reaped
  bool own_group_ = false;
  std::optional<ExitStatus> ended_;
  UniqueFd pidfd_;
  UniqueFd stdin_, stdout_, stderr_;
};

}  // namespace georep
