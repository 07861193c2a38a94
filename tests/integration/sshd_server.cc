#include "integration/sshd_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "integration/engine_process.h"

namespace georep::testing {
namespace {

// A listening TCP socket on `address`:`port` (0: a port the kernel picks), close-on-exec; -1
// when it cannot be had.
int ListenOn(in_addr_t address, int port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  const int on = 1;
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // a restart takes its old port
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(address);
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(s, 64) != 0) {
    ::close(s);
    return -1;
  }
  return s;
}

int PortOf(int s) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
  return ntohs(a.sin_port);
}

}  // namespace

bool SshServer::Start(const std::string& authorized_key) {
  authorized_key_ = authorized_key;
  std::filesystem::create_directories(dir_);
  std::filesystem::create_directories("/run/sshd");  // sshd's privilege-separation directory
  if (!std::filesystem::exists(dir_ + "/host_ed25519")) {
    auto r = RunCommand(
        {"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir_ + "/host_ed25519"});
    if (r.exit_code != 0) {
      error_ = "ssh-keygen: " + r.err;
      return false;
    }
  }
  std::ofstream(dir_ + "/authorized_keys") << authorized_key_ << "\n";
  std::ofstream cfg(dir_ + "/sshd_config");
  cfg << "HostKey " << dir_ << "/host_ed25519\n"
      << "AuthorizedKeysFile " << dir_ << "/authorized_keys\n"
      << "PermitRootLogin prohibit-password\n"
      << "PasswordAuthentication no\n"
      << "KbdInteractiveAuthentication no\n"
      << "UsePAM no\n"
      << "StrictModes no\n"
      << "LogLevel ERROR\n";
  cfg.close();
  // sshd reads its configuration at each connection (-i): a mistake is found here, not there.
  auto checked = RunCommand({"/usr/sbin/sshd", "-t", "-f", dir_ + "/sshd_config"});
  if (checked.exit_code != 0) {
    error_ = "sshd -t: " + checked.err;
    return false;
  }
  return Listen() && Launch();
}

bool SshServer::Listen() {
  // The port comes from the kernel and is held from then on: sshd is started per connection
  // (-i) on sockets this server listens on, so no other process can take it in between. A
  // second loopback address on the same port names a host reached through this one (a jump).
  // After a Stop() the same port is taken again (a host that comes back where it was).
  const bool fixed = port_ != 0;
  for (int attempt = 0; attempt < 20; ++attempt) {
    const int first = ListenOn(INADDR_LOOPBACK, port_);
    if (first < 0) break;
    const int port = PortOf(first);
    const int second = ListenOn(INADDR_LOOPBACK + 1, port);
    if (second >= 0) {
      listeners_[0] = first;
      listeners_[1] = second;
      port_ = port;
      return true;
    }
    ::close(first);
    if (fixed) break;
  }
  error_ = "cannot listen on 127.0.0.1 and 127.0.0.2 (port " + std::to_string(port_) + ")";
  return false;
}

bool SshServer::Launch() {
  const std::string config = dir_ + "/sshd_config";
  const std::string log = dir_ + "/sshd.log";
  // Sessions run as root, whose shell reads /root/.bashrc for every command (Debian's bash
  // does when sshd starts it). That file is this machine's, not the test's: a version manager
  // there can make each session wait on a lock a killed session left behind. The server runs in
  // a mount namespace of its own where that file is empty.
  const std::string empty_rc = dir_ + "/empty_bashrc";
  std::ofstream(empty_rc).flush();
  // Everything the child needs is made before fork: it may not allocate (another thread may
  // have held the allocator's lock at fork).
  std::string args[] = {"/usr/sbin/sshd", "-i", "-e", "-f", config};
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(),
                  args[3].data(), args[4].data(), nullptr};
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Stop() ends it with SIGTERM, whatever the test process does with that signal.
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &default_action, nullptr);
    const int err = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (err >= 0) dup2(err, 2);
    if (unshare(CLONE_NEWNS) == 0 &&
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
        access("/root/.bashrc", F_OK) == 0) {
      mount(empty_rc.c_str(), "/root/.bashrc", nullptr, MS_BIND, nullptr);
    }
    ServeConnections(listeners_, argv);
  }
  for (int& fd : listeners_) {
    close(fd);  // the child's copies listen on
    fd = -1;
  }
  if (pid_ < 0) {
    error_ = "fork: " + std::string(strerror(errno));
    return false;
  }
  return true;
}

void SshServer::ServeConnections(const int listeners[2], char* const argv[]) {
  pollfd fds[2] = {{listeners[0], POLLIN, 0}, {listeners[1], POLLIN, 0}};
  for (;;) {
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (poll(fds, 2, 100) <= 0) continue;
    for (const pollfd& p : fds) {
      if (!(p.revents & POLLIN)) continue;
      const int connection = accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection < 0) continue;
      if (fork() == 0) {
        dup2(connection, 0);
        dup2(connection, 1);
        execv(argv[0], argv);
        _exit(127);
      }
      close(connection);
    }
  }
}

void SshServer::Stop() {
  if (pid_ <= 0) return;
  // The listener ends and its sockets with it: new connections are refused; the open ones
  // (their own sshd processes) go on, as with a daemon stopped.
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool SshServer::RotateHostKey() {
  Stop();
  std::filesystem::remove(dir_ + "/host_ed25519");
  std::filesystem::remove(dir_ + "/host_ed25519.pub");
  return Start(authorized_key_);
}

std::string SshServer::HostFingerprint() const {
  auto r = RunCommand({"/usr/bin/ssh-keygen", "-lf", dir_ + "/host_ed25519.pub"});
  auto start = r.out.find("SHA256:");
  if (start == std::string::npos) return "";
  return r.out.substr(start, r.out.find(' ', start) - start);
}

}  // namespace georep::testing
