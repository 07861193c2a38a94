// Files that hold secrets the engine is given (a TLS key, a database URL with its password):
// they must be the engine's alone before it reads them.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace georep {

// Ok when `path` exists and neither its group nor others may read or write it; otherwise
// InvalidArgument naming `what` (e.g. "the TLS key") and what to do.
Status CheckPrivateFile(std::string_view what, const std::string& path);

}  // namespace georep
