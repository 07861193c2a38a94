#include "host/ssh_transport.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include "base/unique_fd.h"

namespace georep {
namespace {

int TypeRank(const std::string& type) {
  if (type == "ssh-ed25519") return 0;
  if (type.rfind("ecdsa-sha2-", 0) == 0) return 1;
  if (type == "ssh-rsa") return 2;
  return 3;
}

// The host-key algorithms ssh must offer to be shown a key of `type`.
std::string AlgorithmsFor(const std::string& type) {
  if (type == "ssh-rsa") return "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
  return type;
}

// mkdir -p; the directories it creates are 0700.
Status MakeDir(const std::string& dir) {
  for (size_t pos = 0; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    const std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::IOError(fmt::format("cannot create {}: {}", part, std::strerror(errno)));
  }
  return Status::Ok();
}

Status WriteFile0600(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  {
    UniqueFd file(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    const int fd = file.get();
    if (fd < 0)
      return Status::IOError(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
    bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
    ok = ::fsync(fd) == 0 && ok;
    if (!ok) return Status::IOError(fmt::format("cannot write {}", tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::IOError(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  return Status::Ok();
}

// A file name for an endpoint: only characters that are safe in any file system.
std::string SafeName(const std::string& host, int port) {
  std::string out;
  for (char c : host)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
  return fmt::format("{}_{}", out, port);
}

// The options that make ssh accept only the host key in `known_hosts`.
std::vector<std::string> PinnedHostKeyOptions(const std::string& known_hosts,
                                              const std::string& algorithms, int timeout_seconds) {
  return {"-o", "StrictHostKeyChecking=yes",
          "-o", "UserKnownHostsFile=" + known_hosts,
          "-o", "GlobalKnownHostsFile=/dev/null",
          "-o", "HostKeyAlgorithms=" + algorithms,
          "-o", "CheckHostIP=no",
          "-o", "UpdateHostKeys=no",
          "-o", fmt::format("ConnectTimeout={}", timeout_seconds)};
}

}  // namespace

Result<std::string> FingerprintOfKey(const std::string& blob_base64) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  std::string blob(blob_base64.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(blob.data()), blob.size(),
                        blob_base64.c_str(), blob_base64.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len == 0) {
    return Status::InvalidArgument("public key is not valid base64");
  }
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(blob.data()), len);
  char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
                                     sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
  sodium_bin2base64(b64, sizeof b64, digest, sizeof digest,
                    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
  return "SHA256:" + std::string(b64);
}

std::vector<HostKey> ParseHostKeys(const std::string& text) {
  std::vector<HostKey> keys;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string host, type, blob;
    if (!(fields >> host >> type >> blob)) continue;
    auto fp = FingerprintOfKey(blob);
    if (!fp.ok()) continue;
    keys.push_back(HostKey{type, blob, *fp});
  }
  std::stable_sort(keys.begin(), keys.end(), [](const HostKey& a, const HostKey& b) {
    return TypeRank(a.type) < TypeRank(b.type);
  });
  return keys;
}

bool SshSaysUnreachable(const std::string& ssh_stderr) {
  for (const char* said :
       {"Connection refused", "timed out", "No route to host", "Could not resolve",
        "Network is unreachable", "Connection closed", "Connection reset"})
    if (ssh_stderr.find(said) != std::string::npos) return true;
  return false;
}

Result<std::vector<HostKey>> ScanHostKeys(CommandRunner& local, const std::string& host, int port,
                                          int timeout_seconds) {
  CommandSpec spec{{"ssh-keyscan", "-T", std::to_string(timeout_seconds), "-p",
                    std::to_string(port), "-t", "ed25519,ecdsa,rsa", "--", host}};
  spec.timeout = std::chrono::seconds(timeout_seconds + 5);
  spec.max_output_bytes = 64 << 10;
  GEOREP_ASSIGN_OR_RETURN(CommandResult r, local.Run(spec));
  auto keys = ParseHostKeys(r.out);
  if (keys.empty()) {
    return Status::Unavailable(fmt::format(
        "no SSH host key from {} port {}: the host is unreachable or not running an SSH server",
        host, port));
  }
  return keys;
}

Result<SshIdentity> SshIdentity::LoadOrCreate(CommandRunner& local, const std::string& dir,
                                              const std::string& comment) {
  GEOREP_RETURN_IF_ERROR(MakeDir(dir));
  SshIdentity id;
  id.private_key_path = dir + "/id_ed25519";
  if (::access(id.private_key_path.c_str(), F_OK) != 0) {
    GEOREP_ASSIGN_OR_RETURN(
        CommandResult r, local.Run({{"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                                     "-f", id.private_key_path}}));
    if (r.exit_code != 0) return Status::IOError(fmt::format("ssh-keygen failed: {}", r.err));
  }
  ::chmod(id.private_key_path.c_str(), 0600);
  std::ifstream pub(id.private_key_path + ".pub");
  std::getline(pub, id.public_key);
  auto keys = ParseHostKeys("engine " + id.public_key);
  if (keys.empty())
    return Status::Corruption(fmt::format("{}.pub is not a public key", id.private_key_path));
  id.fingerprint = keys[0].fingerprint;
  return id;
}

SshCommandRunner::SshCommandRunner(CommandRunner& local, SshIdentity identity, SshEndpoint endpoint,
                                   std::string state_dir, SshOptions options)
    : local_(local),
      identity_(std::move(identity)),
      endpoint_(std::move(endpoint)),
      state_dir_(std::move(state_dir)),
      options_(std::move(options)) {}

Result<std::string> SshCommandRunner::KnownHostsFile() {
  GEOREP_RETURN_IF_ERROR(MakeDir(state_dir_));
  const std::string path = state_dir_ + "/" + SafeName(endpoint_.host, endpoint_.port);
  // Reuse the file when it still holds the pinned key.
  {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    auto keys = ParseHostKeys(ss.str());
    if (keys.size() == 1 && keys[0].fingerprint == endpoint_.pinned_fingerprint) return path;
  }
  // Through the jump host when there is one: the key is the one the host presents there.
  auto jump = Jump();
  GEOREP_ASSIGN_OR_RETURN(
      auto keys, ScanHostKeys(jump ? static_cast<CommandRunner&>(*jump) : local_, endpoint_.host,
                              endpoint_.port, options_.connect_timeout_seconds));
  for (const auto& k : keys) {
    if (k.fingerprint != endpoint_.pinned_fingerprint) continue;
    const std::string name = endpoint_.port == 22
                                 ? endpoint_.host
                                 : fmt::format("[{}]:{}", endpoint_.host, endpoint_.port);
    GEOREP_RETURN_IF_ERROR(
        WriteFile0600(path, fmt::format("{} {} {}\n", name, k.type, k.blob_base64)));
    return path;
  }
  std::string seen;
  for (const auto& k : keys) seen += (seen.empty() ? "" : ", ") + k.fingerprint;
  return Status::FailedPrecondition(fmt::format(
      "host key of {} port {} changed: it presents {} but {} is pinned; if the change is "
      "expected, re-pin the new fingerprint explicitly",
      endpoint_.host, endpoint_.port, seen, endpoint_.pinned_fingerprint));
}

std::unique_ptr<SshCommandRunner> SshCommandRunner::Jump() {
  if (!endpoint_.via) return nullptr;
  return std::make_unique<SshCommandRunner>(local_, identity_, *endpoint_.via, state_dir_,
                                            options_);
}

std::vector<std::string> PinnedSshClient::Options() const {
  std::vector<std::string> out = {"-i", identity_file,  "-o", "IdentitiesOnly=yes",
                                  "-o", "BatchMode=yes"};
  for (auto& o :
       PinnedHostKeyOptions(known_hosts_file, host_key_algorithms, connect_timeout_seconds))
    out.push_back(std::move(o));
  return out;
}

Result<PinnedSshClient> SshCommandRunner::Client() {
  if (endpoint_.via) {
    return Status::FailedPrecondition(fmt::format(
        "{} is reached through {}; a worker cannot reach it", endpoint_.host, endpoint_.via->host));
  }
  GEOREP_ASSIGN_OR_RETURN(PinnedOptions p, Pinned());
  return PinnedSshClient{identity_.private_key_path, p.known_hosts, p.host_key_algorithms,
                         options_.connect_timeout_seconds};
}

Result<SshCommandRunner::PinnedOptions> SshCommandRunner::Pinned() {
  PinnedOptions p;
  GEOREP_ASSIGN_OR_RETURN(p.known_hosts, KnownHostsFile());
  std::string type;
  {
    std::ifstream in(p.known_hosts);
    std::string host;
    in >> host >> type;
  }
  p.host_key_algorithms = AlgorithmsFor(type);
  p.options =
      PinnedHostKeyOptions(p.known_hosts, p.host_key_algorithms, options_.connect_timeout_seconds);
  if (auto jump = Jump()) {
    if (endpoint_.via->pinned_fingerprint.empty()) {
      return Status::FailedPrecondition(
          fmt::format("no host key is pinned for {}, through which {} is reached",
                      endpoint_.via->host, endpoint_.host));
    }
    GEOREP_ASSIGN_OR_RETURN(PinnedOptions hop, jump->Pinned());
    // ssh runs ProxyCommand through a shell: every word is quoted (ShellJoin), and the words
    // are the engine's own paths and validated host names, users and ports.
    std::vector<std::string> proxy = {options_.ssh_program, "-o", "BatchMode=yes"};
    proxy.insert(proxy.end(), hop.options.begin(), hop.options.end());
    for (std::string arg :
         {std::string("-o"), std::string("IdentitiesOnly=yes"), std::string("-o"),
          std::string("LogLevel=ERROR"), std::string("-i"), identity_.private_key_path,
          std::string("-p"), std::to_string(endpoint_.via->port), std::string("-l"),
          endpoint_.via->user, std::string("-W"), std::string("%h:%p"), std::string("--"),
          endpoint_.via->host})
      proxy.push_back(std::move(arg));
    p.options.push_back("-o");
    p.options.push_back("ProxyCommand=" + ShellJoin(proxy));
  }
  return p;
}

Status SshCommandRunner::InstallEngineKey(const std::string& password) {
  if (endpoint_.pinned_fingerprint.empty()) {
    return Status::FailedPrecondition(
        fmt::format("no host key is pinned for {}; confirm its fingerprint first", endpoint_.host));
  }
  if (password.empty() || password.find('\n') != std::string::npos)
    return Status::InvalidArgument("the one-time password must be one non-empty line");
  // The key is the engine's own ("ssh-ed25519 AAAA... georep-engine"), never user input;
  // checked anyway, since it goes into a remote shell command.
  for (char c : identity_.public_key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view(" +/=-_.@").find(c) == std::string_view::npos)
      return Status::Internal("the engine's public key has unexpected characters");
  }
  GEOREP_ASSIGN_OR_RETURN(PinnedOptions pinned, Pinned());
  const std::string& key = identity_.public_key;
  CommandSpec spec;
  spec.argv = {options_.sshpass_program,  // no -p/-e/-f: the password comes on stdin
               options_.ssh_program};
  spec.argv.insert(spec.argv.end(), pinned.options.begin(), pinned.options.end());
  for (const char* o :
       {"PubkeyAuthentication=no", "PreferredAuthentications=password,keyboard-interactive",
        "NumberOfPasswordPrompts=1", "LogLevel=ERROR"}) {
    spec.argv.push_back("-o");
    spec.argv.push_back(o);
  }
  for (std::string arg : {std::string("-p"), std::to_string(endpoint_.port), std::string("-l"),
                          endpoint_.user, std::string("--"), endpoint_.host})
    spec.argv.push_back(std::move(arg));
  spec.argv.push_back(fmt::format(
      "umask 077 && mkdir -p .ssh && touch .ssh/authorized_keys && "
      "{{ grep -qxF '{0}' .ssh/authorized_keys || "
      // A last line without its newline would swallow the key.
      "{{ [ -z \"$(tail -c 1 .ssh/authorized_keys)\" ] || echo >> .ssh/authorized_keys; "
      "printf '%s\\n' '{0}' >> .ssh/authorized_keys; }}; }}",
      key));
  spec.stdin_data = password + "\n";
  spec.timeout = std::chrono::seconds(options_.connect_timeout_seconds + 30);
  GEOREP_ASSIGN_OR_RETURN(CommandResult r, local_.Run(spec));
  if (r.timed_out) {
    return Status::Unavailable(
        fmt::format("installing the engine's key on {} timed out", endpoint_.host));
  }
  // sshpass: 5 wrong password, 6 host key unknown, other values pass ssh's through.
  if (r.exit_code == 5 || r.err.find("Permission denied") != std::string::npos) {
    return Status::PermissionDenied(
        fmt::format("{}@{} refused the one-time password", endpoint_.user, endpoint_.host));
  }
  if (r.exit_code == 6 || r.err.find("Host key verification failed") != std::string::npos) {
    return Status::FailedPrecondition(
        fmt::format("host key of {} does not match the pinned fingerprint {}", endpoint_.host,
                    endpoint_.pinned_fingerprint));
  }
  if (r.exit_code != 0) {
    std::string first_line = r.err.substr(0, r.err.find('\n'));
    return Status::Unavailable(fmt::format("cannot install the engine's key on {}: {}",
                                           endpoint_.host,
                                           first_line.empty() ? "sshpass failed" : first_line));
  }
  return Status::Ok();
}

Result<CommandResult> SshCommandRunner::Run(const CommandSpec& spec) {
  if (spec.argv.empty()) return Status::InvalidArgument("empty command");
  if (endpoint_.pinned_fingerprint.empty()) {
    return Status::FailedPrecondition(
        fmt::format("no host key is pinned for {}; confirm its fingerprint first", endpoint_.host));
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    GEOREP_ASSIGN_OR_RETURN(PinnedOptions pinned, Pinned());
    const std::string& known_hosts = pinned.known_hosts;
    CommandSpec ssh = spec;
    ssh.argv = {options_.ssh_program, "-o", "BatchMode=yes"};
    ssh.argv.insert(ssh.argv.end(), pinned.options.begin(), pinned.options.end());
    const std::vector<std::string> rest = {"-o",
                                           "ServerAliveInterval=15",
                                           "-o",
                                           "ServerAliveCountMax=3",
                                           "-o",
                                           "IdentitiesOnly=yes",
                                           "-o",
                                           "LogLevel=ERROR",
                                           "-i",
                                           identity_.private_key_path,
                                           "-p",
                                           std::to_string(endpoint_.port),
                                           "-l",
                                           endpoint_.user,
                                           "--",
                                           endpoint_.host,
                                           ShellJoin(spec.argv)};
    ssh.argv.insert(ssh.argv.end(), rest.begin(), rest.end());
    GEOREP_ASSIGN_OR_RETURN(CommandResult r, local_.Run(ssh));
    if (r.exit_code != 255 || r.timed_out) return r;
    // 255 is ssh's own failure (a remote command exiting 255 is indistinguishable; rare).
    const std::string& e = r.err;
    auto has = [&](const char* s) { return e.find(s) != std::string::npos; };
    if (has("Host key verification failed") || has("REMOTE HOST IDENTIFICATION HAS CHANGED")) {
      // The cached file may be stale (re-pin); rescan once, then report.
      ::unlink(known_hosts.c_str());
      if (attempt == 0) continue;
      return Status::FailedPrecondition(
          fmt::format("host key of {} does not match the pinned fingerprint {}", endpoint_.host,
                      endpoint_.pinned_fingerprint));
    }
    if (has("Permission denied")) {
      return Status::PermissionDenied(
          fmt::format("{}@{} does not accept the engine's SSH key ({}); install it in that user's "
                      "authorized_keys",
                      endpoint_.user, endpoint_.host, identity_.fingerprint));
    }
    if (SshSaysUnreachable(e)) {
      std::string first_line = e.substr(0, e.find('\n'));
      return Status::Unavailable(
          fmt::format("cannot reach {} port {}: {}", endpoint_.host, endpoint_.port, first_line));
    }
    return r;
  }
  return Status::Internal("unreachable");
}

}  // namespace georep
