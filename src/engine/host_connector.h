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
  virtual Result<std::vector<HostKey>> ScanHostKeys(const std::string& address, int port) = 0;
  // Installs the engine's key in the host user's authorized_keys by logging in once with a
  // password (ssh hosts with a pinned key). The password is used for that login only.
  virtual Status InstallEngineKey(const Host& host, const std::string& password) = 0;
  // The engine's public key ("ssh-ed25519 AAAA... georep-engine") and its fingerprint.
  virtual std::string EnginePublicKey() = 0;
  virtual std::string EngineKeyFingerprint() = 0;
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
  Result<std::vector<HostKey>> ScanHostKeys(const std::string& address, int port) override;
  Status InstallEngineKey(const Host& host, const std::string& password) override;
  std::string EnginePublicKey() override { return identity_.public_key; }
  std::string EngineKeyFingerprint() override { return identity_.fingerprint; }

 private:
  LocalCommandRunner local_;
  SshIdentity identity_;
  std::string state_dir_;
  SshOptions options_;
};

}  // namespace georep
