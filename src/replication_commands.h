// `georep worker` and `georep agent`: the two ends of a built-in (directory volume) session.
// The engine starts workers; a worker starts its agent (directly, or over ssh).
#pragma once

#include <CLI/CLI.hpp>

namespace georep {

void AddReplicationCommands(CLI::App& app, int* exit_code);

}  // namespace georep
