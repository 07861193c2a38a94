// AgentLink: the worker's connection to its agent -- a child process (`georep agent`, run
// directly for a local destination or through the session's ssh command for a remote one)
// whose stdin takes the protocol and whose stdout gives the replies. Its stderr goes to a log
// file, whose tail explains a failure.
//
// Thread-safety: one thread may write while another reads; Close() once, after both.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace georep::replication {

class AgentLink {
 public:
  virtual ~AgentLink() = default;
  virtual int write_fd() const = 0;  // to the agent
  virtual int read_fd() const = 0;   // from the agent
  // Ends the stream to the agent and waits up to `seconds` for it to exit (then kills it).
  // Non-OK when it did not exit cleanly, with the tail of its stderr.
  virtual Status Close(int seconds) = 0;
  // The last line the agent (or ssh) wrote on stderr; asked after a failure, it first gives
  // the process up to 2 s to exit (its last words come as it exits).
  virtual std::string ErrorTail() const = 0;
};

// Starts `argv` (never through a shell). `stderr_path` receives its stderr (appended).
Result<std::unique_ptr<AgentLink>> SpawnAgent(const std::vector<std::string>& argv,
                                              const std::string& stderr_path);

}  // namespace georep::replication
