// Config values that name programs run as root on the hosts (ssh-command, rsync-ssh-options,
// rsync-options, remote-command, source-command): what an administrator may put in them.
//
// georep's own ssh options (its key, the destination's pinned host key in its own
// known_hosts file, StrictHostKeyChecking=yes, batch mode) always come first on the command
// line, and ssh keeps an option's first value; on top of that, every option that could weaken
// the pin, run another program, reach another host or change which host is reached is refused
// here, with the reason, so an admin's words can tune ssh (ciphers, timeouts, keep-alives,
// addresses) and nothing else.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace georep {

// An ssh-command value split: the program (ssh, or a path to one) and the options after it.
struct SshCommandWords {
  std::string program;
  std::vector<std::string> options;
};

// Splits and checks an ssh-command value ("ssh -o ConnectTimeout=5 -c aes128-gcm@openssh.com").
// `key` names the option in messages. An empty value is plain "ssh".
Result<SshCommandWords> ParseSshCommand(std::string_view key, std::string_view value);

// Checks words that are ssh options only (rsync-ssh-options).
Status CheckSshOptions(std::string_view key, const std::vector<std::string>& words);

// Checks rsync-options: no option that runs a program (-e/--rsh, --rsync-path) or passes
// options to the remote rsync (-M/--remote-option).
Status CheckRsyncOptions(std::string_view key, std::string_view value);

// Checks remote-command / source-command: words, the first an absolute path or a bare program
// name, none with shell syntax (each word is quoted for the remote shell, so such a character
// would not do what it seems to).
Status CheckProgramWords(std::string_view key, std::string_view value);

// Whitespace-separated words (no quoting: a quote is refused by the checks above).
std::vector<std::string> CommandWords(std::string_view value);

}  // namespace georep
