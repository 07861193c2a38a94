#include "engine/host_connector.h"

namespace georep {
namespace {

// A runner that borrows the connector's LocalCommandRunner.
class BorrowedRunner final : public CommandRunner {
 public:
  explicit BorrowedRunner(CommandRunner& r) : r_(r) {}
  Result<CommandResult> Run(const CommandSpec& spec) override { return r_.Run(spec); }

 private:
  CommandRunner& r_;
};

}  // namespace

std::unique_ptr<CommandRunner> SystemHostConnector::RunnerFor(const Host& host) {
  if (host.transport == HostTransport::kLocal) return std::make_unique<BorrowedRunner>(local_);
  return std::make_unique<SshCommandRunner>(
      local_, identity_,
      SshEndpoint{host.address, host.ssh_port, host.ssh_user, host.ssh_fingerprint}, state_dir_,
      options_);
}

Status SystemHostConnector::InstallEngineKey(const Host& host, const std::string& password) {
  if (host.transport != HostTransport::kSsh)
    return Status::InvalidArgument("a local host needs no key");
  SshCommandRunner ssh(
      local_, identity_,
      SshEndpoint{host.address, host.ssh_port, host.ssh_user, host.ssh_fingerprint}, state_dir_,
      options_);
  return ssh.InstallEngineKey(password);
}

Result<std::vector<HostKey>> SystemHostConnector::ScanHostKeys(const std::string& address,
                                                               int port) {
  return georep::ScanHostKeys(local_, address, port, options_.connect_timeout_seconds);
}

}  // namespace georep
