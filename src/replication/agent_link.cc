#include "replication/agent_link.h"

#include <fcntl.h>
#include <signal.h>

#include <chrono>
#include <fstream>

#include "base/subprocess.h"
#include "base/unique_fd.h"

namespace georep::replication {
namespace {

class ProcessLink final : public AgentLink {
 public:
  ProcessLink(Subprocess process, std::string stderr_path)
      : process_(std::move(process)), stderr_path_(std::move(stderr_path)) {}
  ~ProcessLink() override {
    if (!closed_) (void)Close(0);
  }
  int write_fd() const override { return process_.stdin_fd(); }
  int read_fd() const override { return process_.stdout_fd(); }

  Status Close(int seconds) override {
    process_.CloseStdin();
    std::optional<ExitStatus> status = process_.WaitFor(std::chrono::seconds(seconds));
    const bool exited = status.has_value();
    if (!exited) (void)process_.Kill();
    closed_ = true;
    process_.CloseStdout();
    if (exited && status->success()) return Status::Ok();
    std::string how = exited ? status->Describe() : "did not exit and was killed";
    std::string tail = ErrorTail();
    return Status::Unavailable("the agent " + how + (tail.empty() ? "" : ": " + tail));
  }

  std::string ErrorTail() const override {
    // Asked when the stream failed: the process's last words (ssh's "Connection ... closed",
    // the agent's own error) are written as it exits, which may be just after its end of the
    // stream was seen. So it is given up to 2 s to exit first (not reaped: Close() does).
    (void)process_.AwaitEnd(std::chrono::seconds(2));
    std::ifstream in(stderr_path_);
    std::string line, last;
    while (std::getline(in, line))
      if (!line.empty()) last = line;
    return last.substr(0, 400);
  }

 private:
  Subprocess process_;
  std::string stderr_path_;
  bool closed_ = false;
};

}  // namespace

Result<std::unique_ptr<AgentLink>> SpawnAgent(const std::vector<std::string>& argv,
                                              const std::string& stderr_path) {
  if (argv.empty()) return Status::InvalidArgument("no agent command");
  UniqueFd err(::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  SubprocessOptions options;
  options.argv = argv;
  options.in = options.out = StdioSpec::Pipe();
  options.err = err.valid() ? StdioSpec::Fd(err.get()) : StdioSpec::Null();
  auto process = Subprocess::Start(options);
  if (!process.ok()) return Status::Unavailable("the agent: " + process.status().message());
  // The stream to the agent in 1 MiB pipe buffers (the default 64 KiB makes every 1 MiB
  // FileData sixteen wake-ups of each side). Best effort: the system's pipe-max-size may be
  // lower, and a smaller pipe still works.
  (void)::fcntl(process->stdin_fd(), F_SETPIPE_SZ, 1 << 20);
  // A dead agent must show as an error on write, not kill the worker.
  ::signal(SIGPIPE, SIG_IGN);
  return std::unique_ptr<AgentLink>(new ProcessLink(std::move(*process), stderr_path));
}

}  // namespace georep::replication
