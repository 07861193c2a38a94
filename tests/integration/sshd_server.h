// SshServer: a real OpenSSH server for tests, on a free 127.0.0.1 port, with its own host key
// and authorized_keys in a private directory. Started as a child process (dies with the test);
// stopped by PID. It runs in a mount namespace of its own (where root's .bashrc is empty), a
// copy taken at start: a file system a test mounts after Start() is not seen by its sessions.
#pragma once

#include <sys/types.h>

#include <string>

namespace georep::testing {

class SshServer {
 public:
  explicit SshServer(std::string dir) : dir_(std::move(dir)) {}
  ~SshServer() { Stop(); }
  SshServer(const SshServer&) = delete;
  SshServer& operator=(const SshServer&) = delete;

  // Generates a host key (unless one exists), writes the config, starts sshd and waits until
  // it accepts connections. `authorized_key` is one public-key line (may be empty).
  bool Start(const std::string& authorized_key);
  void Stop();
  // A new host key, same port: what a reinstalled or impersonated host looks like.
  bool RotateHostKey();

  int port() const { return port_; }
  // The listening sshd (its children are the connections); -1 when stopped.
  pid_t pid() const { return pid_; }
  // "SHA256:..." of the current host key, as ssh-keygen prints it.
  std::string HostFingerprint() const;
  const std::string& error() const { return error_; }

 private:
  bool Launch();

  std::string dir_;
  std::string authorized_key_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string error_;
};

}  // namespace georep::testing
