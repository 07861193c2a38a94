// SSH transport: the engine's own key pair, host-key pinning by OpenSSH SHA256 fingerprint,
// and a CommandRunner that runs argv vectors on a host through the OpenSSH client.
//
// Why the OpenSSH client (not libssh): it is what admins and gsyncd already use, so it honours
// their ssh_config (ProxyJump, ciphers, ports) and its behaviour is the one they know; it is
// exec'd as an argv vector like any other command, so the same CommandRunner seam, time-outs
// and output bounds apply.
//
// Pinning: a host's key is fetched with ssh-keyscan and its fingerprint shown to the admin,
// who confirms it. Before every connection the runner writes a private known_hosts file that
// holds only the key whose fingerprint is the pinned one, and runs ssh with
// StrictHostKeyChecking=yes against it. A host that presents any other key is refused with
// FailedPrecondition ("host key changed"); only an explicit re-pin accepts a new key.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "host/command_runner.h"

namespace georep {

struct HostKey {
  std::string type;         // "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"
  std::string blob_base64;  // the public key
  std::string fingerprint;  // "SHA256:..." as `ssh-keygen -l` prints it
};

// SHA256 fingerprint of a public-key blob (base64, as in known_hosts or a .pub file).
Result<std::string> FingerprintOfKey(const std::string& blob_base64);

// Parses ssh-keyscan / known_hosts lines ("host type base64 [comment]"); skips comments.
std::vector<HostKey> ParseHostKeys(const std::string& text);

// Whether ssh's error output (its exit status 255) says the host was not reached at all: no
// route, refused, timed out, not resolved, the connection dropped -- not a changed host key
// and not a refused login.
bool SshSaysUnreachable(const std::string& ssh_stderr);

// The host's keys, best type first (ed25519, ecdsa, rsa). Unavailable when nothing answers.
Result<std::vector<HostKey>> ScanHostKeys(CommandRunner& local, const std::string& host, int port,
                                          int timeout_seconds);

// The engine's SSH key pair, in `dir` (created 0700; the private key is 0600).
struct SshIdentity {
  std::string private_key_path;
  std::string public_key;  // one line: "ssh-ed25519 AAAA... georep-engine"
  std::string fingerprint;

  // The key pair `dir`/id_ed25519, made (with `comment`) when there is none.
  static Result<SshIdentity> LoadOrCreate(CommandRunner& local, const std::string& dir,
                                          const std::string& comment = "georep-engine");
};

struct SshEndpoint {
  std::string host;
  int port = 22;
  std::string user = "root";
  std::string pinned_fingerprint;
  // Reached through this host (for a destination the engine cannot reach itself, through a
  // source host): the TCP connection starts there (`ssh -W`), each hop checked against its own
  // pinned key with the engine's key. Null: directly.
  std::shared_ptr<const SshEndpoint> via;
};

// An ssh client's options that make it log in with one identity and accept only the pinned
// host key: what a replication worker's ssh carries. The two files are named, so that a worker
// on another host is given the same options with that host's copies of them.
struct PinnedSshClient {
  std::string identity_file;     // the private key (-i)
  std::string known_hosts_file;  // holds the pinned host key line only
  std::string host_key_algorithms;
  int connect_timeout_seconds = 10;

  // -i, IdentitiesOnly, BatchMode, then the pinned host key's options.
  std::vector<std::string> Options() const;
};

struct SshOptions {
  int connect_timeout_seconds = 10;
  std::string ssh_program = "ssh";
  std::string keyscan_program = "ssh-keyscan";
  std::string sshpass_program = "sshpass";
};

class SshCommandRunner final : public CommandRunner {
 public:
  // `state_dir` holds the per-endpoint known_hosts files the runner writes.
  SshCommandRunner(CommandRunner& local, SshIdentity identity, SshEndpoint endpoint,
                   std::string state_dir, SshOptions options = {});

  // Runs spec.argv on the endpoint. Connection failures are Statuses in the operator's words:
  // Unavailable (unreachable, refused, timed out), PermissionDenied (the host does not accept
  // the engine's key), FailedPrecondition (host key differs from the pinned fingerprint).
  Result<CommandResult> Run(const CommandSpec& spec) override;

  // Logs in once with `password` (through sshpass, which reads it from a pipe: it is never on
  // a command line, in the environment, stored or logged), still against the pinned host key,
  // and appends the engine's public key to the user's authorized_keys unless it is there.
  // PermissionDenied when the password is refused.
  Status InstallEngineKey(const std::string& password);

  // How another program (a replication worker) reaches the endpoint as this runner does: the
  // engine's key only, and only the pinned host key (ProxyCommand hops excluded:
  // FailedPrecondition for an endpoint reached through another).
  Result<PinnedSshClient> Client();

 private:
  // The options that make ssh accept only the pinned host key.
  struct PinnedOptions {
    std::string known_hosts;
    std::string host_key_algorithms;
    std::vector<std::string> options;
  };
  Result<PinnedOptions> Pinned();
  // The runner of the `via` hop (null when direct).
  std::unique_ptr<SshCommandRunner> Jump();
  Result<std::string> KnownHostsFile();

  CommandRunner& local_;
  SshIdentity identity_;
  SshEndpoint endpoint_;
  std::string state_dir_;
  SshOptions options_;
};

}  // namespace georep
