#include "model/command_options.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "base/ascii.h"

namespace georep {
namespace {

// ssh -o keywords an admin may set: they choose algorithms, timeouts, keep-alives, the local
// address, logging and which of the user's own keys to offer -- nothing that decides which
// host is trusted or reached, or runs anything.
constexpr std::array kAllowedSshKeys = {
    "addressfamily",
    "bindaddress",
    "bindinterface",
    "casignaturealgorithms",
    "checkhostip",
    "ciphers",
    "compression",
    "connectionattempts",
    "connecttimeout",
    "fingerprinthash",
    "gssapiauthentication",
    "hostbasedauthentication",
    "hostkeyalgorithms",
    "identitiesonly",
    "identityfile",
    "ipqos",
    "kbdinteractiveauthentication",
    "kexalgorithms",
    "loglevel",
    "macs",
    "numberofpasswordprompts",
    "passwordauthentication",
    "preferredauthentications",
    "pubkeyacceptedalgorithms",
    "pubkeyacceptedkeytypes",
    "pubkeyauthentication",
    "rekeylimit",
    "requiredrsasize",
    "serveralivecountmax",
    "serveraliveinterval",
    "tcpkeepalive",
};

// Why a known keyword is refused.
std::string_view RefusalFor(const std::string& key) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 22> kRefused = {{
      {"stricthostkeychecking", "it would weaken the destination's pinned host key"},
      {"userknownhostsfile", "it would weaken the destination's pinned host key"},
      {"globalknownhostsfile", "it would weaken the destination's pinned host key"},
      {"knownhostscommand", "it would weaken the destination's pinned host key"},
      {"hostkeyalias", "it would weaken the destination's pinned host key"},
      {"verifyhostkeydns", "it would weaken the destination's pinned host key"},
      {"updatehostkeys", "it would change the pinned host keys"},
      {"proxycommand", "it runs a program"},
      {"localcommand", "it runs a program"},
      {"permitlocalcommand", "it runs a program"},
      {"remotecommand", "georep decides what runs on the destination"},
      {"pkcs11provider", "it loads a library into ssh"},
      {"securitykeyprovider", "it loads a library into ssh"},
      {"proxyjump", "it reaches another host (give the destination an address ssh reaches)"},
      {"controlmaster", "a shared connection could be one to another host"},
      {"controlpath", "a shared connection could be one to another host"},
      {"forwardagent", "it exposes the engine's agent to the destination"},
      {"hostname", "the destination's address is the destination's"},
      {"port", "set the ssh-port option instead"},
      {"user", "the destination's ssh user is the destination's"},
      {"batchmode", "georep always runs ssh in batch mode"},
      {"include", "it reads another configuration"},
  }};
  for (const auto& [k, why] : kRefused)
    if (k == key) return why;
  if (key.find("forward") != std::string::npos || key == "tunnel" || key == "tunneldevice")
    return "georep opens no forwarding or tunnel";
  return {};
}

Status CheckOneSshKeyword(std::string_view key_name, std::string_view setting) {
  size_t end = setting.find_first_of("= \t");
  const std::string key = AsciiLower(setting.substr(0, end));
  if (key.empty()) {
    return Status::InvalidArgument(fmt::format("{}: '-o' needs KEYWORD=VALUE", key_name));
  }
  if (std::string_view why = RefusalFor(key); !why.empty()) {
    return Status::InvalidArgument(fmt::format("{}: the ssh option '{}' is not allowed: {}",
                                               key_name, setting.substr(0, end), why));
  }
  if (std::find(kAllowedSshKeys.begin(), kAllowedSshKeys.end(), key) == kAllowedSshKeys.end()) {
    return Status::InvalidArgument(
        fmt::format("{}: the ssh option '{}' is not among those georep passes on (algorithms, "
                    "timeouts, keep-alives, addresses, logging, identities: {})",
                    key_name, setting.substr(0, end), fmt::join(kAllowedSshKeys, ", ")));
  }
  return Status::Ok();
}

Status NoShellSyntax(std::string_view key, std::string_view word) {
  if (word.find_first_of("'\"`$;&|<>()\\") != std::string_view::npos) {
    return Status::InvalidArgument(fmt::format(
        "{}: '{}' has shell syntax; give plain words separated by spaces (no quoting, no "
        "shell: each word is passed as it is)",
        key, word.substr(0, 80)));
  }
  return Status::Ok();
}

}  // namespace

std::vector<std::string> CommandWords(std::string_view value) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && std::isspace(static_cast<unsigned char>(value[i]))) ++i;
    size_t start = i;
    while (i < value.size() && !std::isspace(static_cast<unsigned char>(value[i]))) ++i;
    if (i > start) words.emplace_back(value.substr(start, i - start));
  }
  return words;
}

Status CheckSshOptions(std::string_view key, const std::vector<std::string>& words) {
  // Flags that take no value and change nothing about trust.
  static constexpr std::array kPlainFlags = {"-4", "-6", "-C", "-q", "-v", "-vv", "-vvv", "-T"};
  // Flags that take a value: ciphers, MACs, the local address, a key file of the user's.
  static constexpr std::array kValueFlags = {"-c", "-m", "-b", "-B", "-i"};
  for (const auto& w : words) GEOREP_RETURN_IF_ERROR(NoShellSyntax(key, w));
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (std::find(kPlainFlags.begin(), kPlainFlags.end(), w) != kPlainFlags.end()) continue;
    if (w == "-o") {
      if (i + 1 >= words.size())
        return Status::InvalidArgument(fmt::format("{}: '-o' needs KEYWORD=VALUE", key));
      GEOREP_RETURN_IF_ERROR(CheckOneSshKeyword(key, words[++i]));
      continue;
    }
    if (w.starts_with("-o")) {
      GEOREP_RETURN_IF_ERROR(CheckOneSshKeyword(key, std::string_view(w).substr(2)));
      continue;
    }
    const std::string flag = w.substr(0, 2);
    if (std::find(kValueFlags.begin(), kValueFlags.end(), flag) != kValueFlags.end()) {
      if (w.size() == 2 && ++i >= words.size())
        return Status::InvalidArgument(fmt::format("{}: '{}' needs a value", key, w));
      continue;
    }
    return Status::InvalidArgument(fmt::format(
        "{}: '{}' is not allowed: georep passes on -4 -6 -C -q -v -T, -c CIPHERS, -m MACS, -b "
        "ADDRESS, -B INTERFACE, -i KEYFILE and -o KEYWORD=VALUE for the keywords that tune "
        "ssh; the destination's address, port, user and host key are georep's",
        key, w.substr(0, 80)));
  }
  return Status::Ok();
}

Result<SshCommandWords> ParseSshCommand(std::string_view key, std::string_view value) {
  std::vector<std::string> words = CommandWords(value);
  SshCommandWords out;
  if (words.empty()) {
    out.program = "ssh";
    return out;
  }
  out.program = words.front();
  GEOREP_RETURN_IF_ERROR(NoShellSyntax(key, out.program));
  const std::string_view base =
      std::string_view(out.program).substr(out.program.find_last_of('/') + 1);
  if (base != "ssh" || (out.program != "ssh" && out.program.front() != '/')) {
    return Status::InvalidArgument(fmt::format(
        "{} must start with ssh or an absolute path to an ssh (OpenSSH's client), not '{}'", key,
        out.program.substr(0, 80)));
  }
  out.options.assign(words.begin() + 1, words.end());
  GEOREP_RETURN_IF_ERROR(CheckSshOptions(key, out.options));
  return out;
}

Status CheckRsyncOptions(std::string_view key, std::string_view value) {
  for (const std::string& w : CommandWords(value)) {
    GEOREP_RETURN_IF_ERROR(NoShellSyntax(key, w));
    const bool long_opt = w.starts_with("--");
    const std::string name = long_opt ? w.substr(0, w.find('=')) : w;
    if (long_opt && (name == "--rsh" || name == "--rsync-path" || name == "--remote-option" ||
                     name == "--config" || name == "--daemon")) {
      return Status::InvalidArgument(
          fmt::format("{}: '{}' is not allowed: it runs a program or passes options to the "
                      "other side (set ssh options with rsync-ssh-options)",
                      key, name));
    }
    // Short options may be bundled ("-avzM..."): -e and -M anywhere in the bundle.
    if (!long_opt && w.size() > 1 && w[0] == '-' && w.find_first_of("eM", 1) != std::string::npos) {
      return Status::InvalidArgument(
          fmt::format("{}: '{}' is not allowed: -e runs a program and -M passes options to the "
                      "other side (set ssh options with rsync-ssh-options)",
                      key, w.substr(0, 80)));
    }
  }
  return Status::Ok();
}

Status CheckProgramWords(std::string_view key, std::string_view value) {
  std::vector<std::string> words = CommandWords(value);
  if (words.empty()) return Status::Ok();
  for (const auto& w : words) GEOREP_RETURN_IF_ERROR(NoShellSyntax(key, w));
  const std::string& program = words.front();
  if (program.front() != '/' && program.find('/') != std::string::npos) {
    return Status::InvalidArgument(
        fmt::format("{}: the program must be an absolute path or a name found on PATH, not '{}'",
                    key, program.substr(0, 80)));
  }
  return Status::Ok();
}

}  // namespace georep
