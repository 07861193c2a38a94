// SshServer: a real OpenSSH server for tests, on a 127.0.0.1 port the kernel picks (and the same
// port on 127.0.0.2), with its own host key and authorized_keys in a private directory. This
// server listens itself, from the start, and runs `sshd -i` for each connection: the port is
// held from the moment it is known, never released for sshd to bind. Its listener is a child
// process (dies with the test), stopped by PID. It runs in a mount namespace of its own (where
// root's .bashrc is empty), a copy taken at start: a file system a test mounts after Start()
// is not seen by its sessions.
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

  // Generates a host key (unless one exists), writes and checks the config, and listens (on
  // the port it had, after a Stop()). `authorized_key` is one public-key line (may be empty).
  bool Start(const std::string& authorized_key);
  void Stop();
  // A new host key, same port: what a reinstalled or impersonated host looks like.
  bool RotateHostKey();

  int port() const { return port_; }
  // The listener (its children are the connections, one `sshd -i` each); -1 when stopped.
  pid_t pid() const { return pid_; }
  // "SHA256:..." of the current host key, as ssh-keygen prints it.
  std::string HostFingerprint() const;
  const std::string& error() const { return error_; }

 private:
  bool Listen();
  bool Launch();
  // The listener's loop (in its own process): each connection on `listeners` served by
  // `argv` (sshd -i) with the connection as its stdin and stdout.
  [[noreturn]] static void ServeConnections(const int listeners[2], char* const argv[]);

  std::string dir_;
  std::string authorized_key_;
  int port_ = 0;
  int listeners_[2] = {-1, -1};  // 127.0.0.1 and 127.0.0.2, until the listener has them
  pid_t pid_ = -1;
  std::string error_;
};

}  // namespace georep::testing
