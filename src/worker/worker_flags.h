// `georep worker`'s command line, read into a WorkerConfig (model/worker_config.h): the flags
// WorkerConfig::Flags writes, each checked against the same values and limits the session
// config catalogue offers, so what the engine may write the worker accepts, and nothing else.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/worker_config.h"

namespace georep {

// What the worker's command line holds: a WorkerConfig's flags as written, and the flags only
// a person gives by hand (never the engine).
struct WorkerFlags {
  std::string source, state_dir;
  std::string destination;  // /path or [USER@]HOST::/path
  std::string ssh_command = "ssh";
  int ssh_port = 0;
  std::string remote_command = "georep agent";
  WorkerConfig settings;  // durability ... excludes; source, destination and ssh from above
  bool status_stdout = false, stop_on_stdin_eof = false;
  bool once = false;         // one full pass, then exit
  bool stream_only = false;  // contents through the agent's stream even to a local destination

  // The WorkerConfig these flags describe.
  Result<WorkerConfig> Config() const;
};

// Adds the worker's options to `cmd`, bound to `flags`.
void AddWorkerFlags(CLI::App& cmd, WorkerFlags& flags);

// Reads a worker's flags (WorkerConfig::Flags) back, as `georep worker` would.
Result<WorkerConfig> ParseWorkerFlags(const std::vector<std::string>& flags);

}  // namespace georep
