#include "integration/sshd_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "integration/engine_process.h"

namespace georep::testing {
namespace {

int FreePort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

bool Accepts(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(s);
  return ok;
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
  if (port_ == 0) port_ = FreePort();
  std::ofstream(dir_ + "/authorized_keys") << authorized_key_ << "\n";
  std::ofstream cfg(dir_ + "/sshd_config");
  cfg << "Port " << port_ << "\n"
      << "ListenAddress 127.0.0.1\n"
      // A second loopback address: a name for a host reached through this one (a jump).
      << "ListenAddress 127.0.0.2\n"
      << "HostKey " << dir_ << "/host_ed25519\n"
      << "AuthorizedKeysFile " << dir_ << "/authorized_keys\n"
      << "PidFile " << dir_ << "/sshd.pid\n"
      << "PermitRootLogin prohibit-password\n"
      << "PasswordAuthentication no\n"
      << "KbdInteractiveAuthentication no\n"
      << "UsePAM no\n"
      << "StrictModes no\n"
      << "LogLevel ERROR\n";
  cfg.close();
  return Launch();
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
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    FILE* f = freopen(log.c_str(), "a", stderr);
    (void)f;
    if (unshare(CLONE_NEWNS) == 0 &&
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
        access("/root/.bashrc", F_OK) == 0) {
      mount(empty_rc.c_str(), "/root/.bashrc", nullptr, MS_BIND, nullptr);
    }
    execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", config.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Accepts(port_)) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      std::ifstream in(log);
      error_.assign(std::istreambuf_iterator<char>(in), {});
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  error_ = "sshd did not start listening";
  return false;
}

void SshServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  // Wait until the port is free again, so a restart can take it.
  for (int i = 0; i < 100 && Accepts(port_); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
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
