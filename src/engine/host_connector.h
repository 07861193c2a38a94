// HostConnector: how the engine reaches a host -- a CommandRunner for a Host (local or over
// SSH with its pinned key), and the host-key scan that shows an admin a fingerprint to
// confirm. Operations take it as a parameter; tests pass a fake.
//
// Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "host/command_runner.h"
#include "host/ssh_transport.h"
#include "model/entities.h"

namespace georep {

class HostConnector {
 public:
  virtual ~HostConnector() = default;
  virtual std::unique_ptr<CommandRunner> RunnerFor(const Host& host) = 0;
  // `target` reached through `jump` (an ssh host): the connection starts at `jump`. For a
  // destination the engine cannot reach itself. Connectors without relays run directly.
  virtual std::unique_ptr<CommandRunner> RunnerVia(const Host& target, const Host& jump) {
    (void)jump;
    return RunnerFor(target);
  }
  virtual Result<std::vector<HostKey>> ScanHostKeys(const std::string& address, int port) = 0;
  // Installs the engine's key in the host user's authorized_keys by logging in once with a
  // password (ssh hosts with a pinned key). The password is used for that login only.
  virtual Status InstallEngineKey(const Host& host, const std::string& password) = 0;
  // How a program the engine starts (a replication worker) reaches `host` as the engine
  // would: the engine's key, the pinned host key only.
  virtual Result<PinnedSshClient> SshClient(const Host& host) {
    (void)host;
    return Status::Unavailable("this connector starts no ssh clients");
  }
  // The engine's public key ("ssh-ed25519 AAAA... georep-engine") and its fingerprint.
  virtual std::string EnginePublicKey() = 0;
  virtual std::string EngineKeyFingerprint() = 0;
};

// Runs on a host directly while it can be reached; once it cannot (Unavailable), through a
// relayed runner (the same host reached through another), for the rest of its life.
class RelayingRunner final : public CommandRunner {
 public:
  RelayingRunner(std::unique_ptr<CommandRunner> direct, std::unique_ptr<CommandRunner> relayed,
                 std::string relay_name)
      : direct_(std::move(direct)),
        relayed_(std::move(relayed)),
        relay_name_(std::move(relay_name)) {}
  Result<CommandResult> Run(const CommandSpec& spec) override;
  // Whether commands go through the relay (the direct way was found unreachable).
  bool relayed() const { return relaying_; }
  const std::string& relay_name() const { return relay_name_; }

 private:
  std::unique_ptr<CommandRunner> direct_;
  std::unique_ptr<CommandRunner> relayed_;  // may be null: no relay
  std::string relay_name_;
  bool relaying_ = false;
  std::string direct_error_;
};

// Production connector: LocalCommandRunner for local hosts, SshCommandRunner for ssh hosts.
class SystemHostConnector final : public HostConnector {
 public:
  // `state_dir` receives the pinned known_hosts files.
  SystemHostConnector(SshIdentity identity, std::string state_dir, SshOptions options = {})
      : identity_(std::move(identity)),
        state_dir_(std::move(state_dir)),
        options_(std::move(options)) {}

  std::unique_ptr<CommandRunner> RunnerFor(const Host& host) override;
  std::unique_ptr<CommandRunner> RunnerVia(const Host& target, const Host& jump) override;
  Result<std::vector<HostKey>> ScanHostKeys(const std::string& address, int port) override;
  Status InstallEngineKey(const Host& host, const std::string& password) override;
  Result<PinnedSshClient> SshClient(const Host& host) override;
  std::string EnginePublicKey() override { return identity_.public_key; }
  std::string EngineKeyFingerprint() override { return identity_.fingerprint; }

 private:
  LocalCommandRunner local_;
  SshIdentity identity_;
  std::string state_dir_;
  SshOptions options_;
};

}  // namespace georep
