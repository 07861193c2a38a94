// The destination side's process loop (`georep agent`): reads the replication protocol
// (wire.h) from one file descriptor, applies it with an Applier (applier.h) and writes the
// replies (HelloReply, Error, Ack; TreeListing for a ListTree) to another. Started by a worker over
// its session's `ssh-command` for a remote destination, or over a pipe for a local one.
//
// The stream is read ahead of the applier on a second thread (up to 32 MiB), so the worker
// goes on sending while the agent syncs, and the applier knows when more is at hand (its
// group commit). Thread-safety: ServeAgent runs one conversation; its reader thread ends
// with it.
#pragma once

#include <functional>
#include <string>

#include "base/status.h"
#include "replication/applier.h"

namespace georep::replication {

struct AgentOptions {
  std::string root;  // the destination directory; must exist
  ApplierOptions applier;
  FileSystemCalls* calls = nullptr;  // the applier's system calls (tests inject faults); not owned
};

// The destination's metadata at and beneath `request.path` under `root` (its answer to
// ListTree): TreeListing parts of at most kMaxListedEntries entries to `emit`, the last one
// flagged. The applier's temporary files are left out; a path that is not there lists empty.
Status ListDestination(const std::string& root, const ListTree& request,
                       const std::function<Status(TreeListing)>& emit);

// Serves until the worker closes the stream at a frame boundary (OK), or the stream breaks
// the protocol or an fd fails (non-OK; an Error reply is sent first when it can be).
Status ServeAgent(int in_fd, int out_fd, const AgentOptions& options);

}  // namespace georep::replication
