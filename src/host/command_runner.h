// CommandRunner: the seam through which georep runs a program -- on this machine or on a
// cluster host. Commands are argv vectors, never shell strings built from input.
//
// Every run has a time-out and a bound on captured output; the result says whether either
// was hit. Implementations: LocalCommandRunner (a Subprocess here), SshCommandRunner
// (ssh_transport.h); tests use FakeCommandRunner.
//
// Thread-safety: implementations are thread-safe; runs may proceed in parallel.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "base/status.h"

namespace georep {

struct CommandSpec {
  CommandSpec() = default;
  CommandSpec(std::vector<std::string> args,
              std::string input = "")  // NOLINT: brace-init is the idiom
      : argv(std::move(args)), stdin_data(std::move(input)) {}

  std::vector<std::string> argv;  // argv[0] is the program (a path, or a name found in PATH)
  std::string stdin_data;
  std::chrono::milliseconds timeout{60'000};
  size_t max_output_bytes = 4 << 20;   // per stream; the rest is read and dropped
  std::vector<std::string> extra_env;  // "NAME=value" added to the environment
  // Set (by another thread): the command is ended as at its time-out (`cancelled` in the
  // result), within about 200 ms. Not owned; may be null. Runners that wrap another (ssh, a
  // relay) pass it on with the spec.
  const std::atomic<bool>* cancel = nullptr;
};

struct CommandResult {
  int exit_code = -1;  // 0-255, or 128 + signal number
  std::string out;
  std::string err;
  bool timed_out = false;
  bool truncated = false;  // output exceeded max_output_bytes
  bool cancelled = false;  // ended by CommandSpec::cancel (timed_out is set too)
};

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // A non-OK Status means the command could not be run at all (not found, cannot connect);
  // a command that ran and failed returns OK with its exit code.
  virtual Result<CommandResult> Run(const CommandSpec& spec) = 0;
};

// Runs programs on this machine (base/subprocess.h). A command that outlives its time-out gets
// SIGTERM, then SIGKILL a second later; its whole process group is signalled.
class LocalCommandRunner final : public CommandRunner {
 public:
  Result<CommandResult> Run(const CommandSpec& spec) override;
};

// Quotes one argument for a POSIX shell: 'it'"'"'s' style. Used only where a protocol demands a
// command string (the SSH exec request); every argument is quoted, so nothing is interpreted.
std::string ShellQuote(const std::string& arg);
std::string ShellJoin(const std::vector<std::string>& argv);

}  // namespace georep
