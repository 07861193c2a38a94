// WorkerLink: the engine's end of a worker that runs on another host -- the source of a
// directory volume on an ssh host. `georep worker-link` runs it as the process the engine's
// WorkerSupervisor starts and restarts, so a remote worker is supervised like a local one:
//
//   engine --(supervises)--> georep worker-link --ssh--> georep worker --status-stdout
//                                                                    --stop-on-stdin-eof
//
// - The remote worker prints each status update as a line of JSON on stdout; the link writes
//   it to the local state directory's status.json, which the engine's monitor reads as it
//   reads a local worker's. updated_ms is the time of arrival here, so a source host's clock
//   cannot make a live worker look silent (or a silent one live).
// - The remote worker's stderr, and ssh's own, go to the local worker.log: the last line
//   there says why a worker went down, as for a local one.
// - Stopping: the link ends the remote worker's stdin; the worker stops cleanly on EOF. Were
//   the link killed, its end of the pipe closes all the same.
//
// Thread-safety: none; one per process.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "base/status.h"

namespace georep::replication {

struct WorkerLinkOptions {
  std::vector<std::string> argv;  // ssh ... -- HOST '<remote georep>' 'worker' ... (quoted)
  std::string state_dir;          // local: status.json and worker.log
  std::string where;              // USER@HOST, for messages
  int stop_grace_s = 25;          // for the remote worker to stop once told to
};

// Runs until the remote worker ends, or `stop` is set and the remote worker has stopped.
// OK only for a stop asked for; otherwise why the worker (or the connection) ended.
Status RunWorkerLink(const WorkerLinkOptions& options, const std::atomic<bool>& stop);

}  // namespace georep::replication
