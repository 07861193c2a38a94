// Logging: spdlog to stderr, one line per record in logfmt ("ts=... level=info msg=...
// key=value"), so that journald and log shippers can parse it. Secrets (passwords, tokens,
// database passwords) are never passed to the logger; callers redact first.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace georep {

// level: "debug", "info", "warning", "error".
void InitLogging(std::string_view level);

// Quotes a value for logfmt when it holds spaces, quotes or '='.
std::string LogValue(std::string_view v);

// The first non-blank line of a program's output (trailing blanks and CR cut, at most 300
// characters, control characters escaped: VisibleText): what a message quotes of a
// command's stderr.
std::string FirstLine(std::string_view text);

}  // namespace georep
