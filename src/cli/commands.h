// The georep client commands: every REST resource as gluster-like words
// ("georep session create ...", "georep config SESSION KEY VALUE"), human tables by default,
// the API's JSON with --json.
#pragma once

#include <CLI/CLI.hpp>

namespace georep {

// Adds the client commands to `app`. Their exit status is written to `*exit_code`.
void AddClientCommands(CLI::App& app, int* exit_code);

}  // namespace georep
