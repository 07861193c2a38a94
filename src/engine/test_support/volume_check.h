// A new directory volume's path is checked on its host (DirectoryDriver::CheckVolumeDirectory:
// the path probe run as kVolumeCheckName). Unit tests' fakes of a host answer it here: every
// path is a directory that can be listed. For unit tests only.
#pragma once

#include <optional>
#include <string>

#include "host/command_runner.h"
#include "model/path_guard.h"

namespace georep::testing_support {

// The answer when `spec` is the volume check, nothing otherwise.
inline std::optional<CommandResult> AnswerVolumeCheck(const CommandSpec& spec) {
  if (spec.argv.size() < 4 || spec.argv[3] != kVolumeCheckName) return std::nullopt;
  CommandResult r;
  r.exit_code = 0;
  for (size_t i = 4; i < spec.argv.size(); ++i) {
    const std::string& p = spec.argv[i];
    r.out += "P " + p + "\nC 0\nI 1 " + std::to_string(i) + " " + p + "\n";
  }
  r.out += "B boot-1\nN mnt:[1]\nE\n";
  return r;
}

}  // namespace georep::testing_support
