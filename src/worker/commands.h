// The command lines of the built-in engine's host-side processes: `georep worker` and
// `georep agent`, the two ends of a directory volume session, and their helpers
// `worker-link` (a worker on another host, over ssh) and `worker-keys` (a source host's key).
// The engine starts workers; a worker starts its agent (directly, or over ssh). They are part
// of the georep binary, not of a library: they join replication/ and host/.
#pragma once

#include <CLI/CLI.hpp>

namespace georep {

void AddReplicationCommands(CLI::App& app, int* exit_code);

}  // namespace georep
