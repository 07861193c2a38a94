#include "engine/host_connector.h"

#include <fmt/format.h>

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

Result<CommandResult> RelayingRunner::Run(const CommandSpec& spec) {
  if (!relaying_) {
    auto r = direct_->Run(spec);
    if (r.ok() || r.status().code() != StatusCode::kUnavailable || !relayed_) return r;
    relaying_ = true;
    direct_error_ = r.status().message();
  }
  auto r = relayed_->Run(spec);
  if (r.ok() || r.status().code() != StatusCode::kUnavailable) return r;
  return Status::Unavailable(
      fmt::format("{}; through {} neither: {}", direct_error_, relay_name_, r.status().message()));
}

std::unique_ptr<CommandRunner> SystemHostConnector::RunnerFor(const Host& host) {
  if (host.transport == HostTransport::kLocal) return std::make_unique<BorrowedRunner>(local_);
  return std::make_unique<SshCommandRunner>(
      local_, identity_,
      SshEndpoint{host.address, host.ssh_port, host.ssh_user, host.ssh_fingerprint, nullptr},
      state_dir_, options_);
}

std::unique_ptr<CommandRunner> SystemHostConnector::RunnerVia(const Host& target,
                                                              const Host& jump) {
  if (target.transport == HostTransport::kLocal || jump.transport == HostTransport::kLocal)
    return RunnerFor(target);
  SshEndpoint endpoint{
      target.address, target.ssh_port, target.ssh_user, target.ssh_fingerprint,
      std::make_shared<SshEndpoint>(
          SshEndpoint{jump.address, jump.ssh_port, jump.ssh_user, jump.ssh_fingerprint, nullptr})};
  return std::make_unique<SshCommandRunner>(local_, identity_, std::move(endpoint), state_dir_,
                                            options_);
}

Result<PinnedSshClient> SystemHostConnector::SshClient(const Host& host) {
  if (host.transport != HostTransport::kSsh)
    return Status::InvalidArgument("a local host is not reached over ssh");
  SshCommandRunner ssh(
      local_, identity_,
      SshEndpoint{host.address, host.ssh_port, host.ssh_user, host.ssh_fingerprint, nullptr},
      state_dir_, options_);
  return ssh.Client();
}

Status SystemHostConnector::InstallEngineKey(const Host& host, const std::string& password) {
  if (host.transport != HostTransport::kSsh)
    return Status::InvalidArgument("a local host needs no key");
  SshCommandRunner ssh(
      local_, identity_,
      SshEndpoint{host.address, host.ssh_port, host.ssh_user, host.ssh_fingerprint, nullptr},
      state_dir_, options_);
  return ssh.InstallEngineKey(password);
}

Result<std::vector<HostKey>> SystemHostConnector::ScanHostKeys(const std::string& address,
                                                               int port) {
  return georep::ScanHostKeys(local_, address, port, options_.connect_timeout_seconds);
}

}  // namespace georep
