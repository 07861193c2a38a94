// The fault harness's ssh transport (fault_transport.h).
#include "fault/fault_transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "fault/fault_clock.h"
#include "integration/engine_process.h"

namespace georep::fault {

namespace fs = std::filesystem;

bool Relay::Start(int to_port) {
  to_port_ = to_port;
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listener_, 16) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
      ::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0)
    return false;
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { Loop(); });
  return true;
}

void Relay::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  Wake();
  thread_.join();
  for (int fd : {listener_, wake_[0], wake_[1]})
    if (fd >= 0) ::close(fd);
}

void Relay::Cut(int ms) {
  down_until_ms_ = WallMs() + ms;
  cut_ = true;
  Wake();
}

void Relay::Reset(int fd) {
  linger l{1, 0};  // close with RST, as a vanished peer's kernel would answer
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

int Relay::Connect() const {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(to_port_));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

Relay::Flow Relay::Pump(Pipe* p, short from_events, short to_events) {
  if (!p->pending.empty() && (to_events & (POLLOUT | POLLERR | POLLHUP))) {
    ssize_t n = ::send(p->to, p->pending.data(), p->pending.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return Flow::kBroken;
    if (n > 0) p->pending.erase(0, static_cast<size_t>(n));
  }
  if (p->pending.empty() && !p->eof && (from_events & (POLLIN | POLLERR | POLLHUP))) {
    char buf[65536];
    ssize_t n = ::recv(p->from, buf, sizeof buf, 0);
    if (n == 0) {
      p->eof = true;
      ::shutdown(p->to, SHUT_WR);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return Flow::kBroken;
    } else if (n > 0) {
      p->pending.assign(buf, static_cast<size_t>(n));
    }
  }
  return p->eof && p->pending.empty() ? Flow::kDone : Flow::kOpen;
}

void Relay::Loop() {
  std::vector<Connection> conns;
  auto close_all = [&] {
    for (auto& c : conns) Reset(c.up.from), Reset(c.up.to);
    conns.clear();
  };
  while (!stop_) {
    if (cut_.exchange(false)) {
      if (!conns.empty()) ++cuts_;
      close_all();
    }
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listener_, POLLIN, 0}};
    for (auto& c : conns) {
      // Per connection: client, server; read where nothing is pending, write where it is.
      fds.push_back({c.up.from,
                     static_cast<short>((c.up.pending.empty() && !c.up.eof ? POLLIN : 0) |
                                        (c.down.pending.empty() ? 0 : POLLOUT)),
                     0});
      fds.push_back({c.up.to,
                     static_cast<short>((c.down.pending.empty() && !c.down.eof ? POLLIN : 0) |
                                        (c.up.pending.empty() ? 0 : POLLOUT)),
                     0});
    }
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) break;
    char drain[64];
    while (::read(wake_[0], drain, sizeof drain) > 0) {
    }
    std::vector<Connection> kept;
    for (size_t i = 0; i < conns.size(); ++i) {
      const short client = fds[2 + 2 * i].revents, server = fds[3 + 2 * i].revents;
      Connection& c = conns[i];
      const Flow up = Pump(&c.up, client, server);
      const Flow down = Pump(&c.down, server, client);
      if (up == Flow::kBroken || down == Flow::kBroken) {
        Reset(c.up.from);  // one side reset: so is the other
        Reset(c.up.to);
      } else if (up == Flow::kDone && down == Flow::kDone) {
        ::close(c.up.from);
        ::close(c.up.to);
      } else {
        kept.push_back(std::move(c));
      }
    }
    conns = std::move(kept);
    if (fds[1].revents & POLLIN) {
      int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      const int server = WallMs() < down_until_ms_ ? -1 : Connect();
      if (server < 0) {
        Reset(client);  // the link is down (or sshd is): refused
        continue;
      }
      ::fcntl(client, F_SETFL, O_NONBLOCK);
      ::fcntl(server, F_SETFL, O_NONBLOCK);
      conns.push_back({Pipe{client, server, {}, false}, Pipe{server, client, {}, false}});
    }
  }
  close_all();
}

bool SshTransport::Start(std::string* why) {
  fs::create_directories(dir_);
  const std::string key = dir_ + "/id_ed25519";
  if (!fs::exists(key)) {
    auto r = georep::testing::RunCommand(
        {"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key});
    if (r.exit_code != 0) return *why = "ssh-keygen: " + r.err, false;
  }
  std::ifstream pub(key + ".pub");
  std::string public_key;
  std::getline(pub, public_key);
  if (!sshd_.Start(public_key)) return *why = "sshd: " + sshd_.error(), false;
  // The host key pinned under an alias, whatever port the relay has.
  std::ifstream host(dir_ + "/sshd/host_ed25519.pub");
  std::string type, blob;
  host >> type >> blob;
  std::ofstream(dir_ + "/known_hosts") << kAlias << " " << type << " " << blob << "\n";
  if (!relay_.Start(sshd_.port())) return *why = "relay: cannot listen", false;
  return true;
}

std::vector<std::string> SshTransport::WorkerArgs(const std::string& georep) const {
  return {"--ssh-command",
          "ssh -i " + dir_ + "/id_ed25519 -o HostKeyAlias=" + kAlias + " -o UserKnownHostsFile=" +
              dir_ + "/known_hosts -o StrictHostKeyChecking=yes" + " -o ConnectTimeout=10",
          "--ssh-port",
          std::to_string(relay_.port()),
          "--remote-command",
          georep + " agent"};
}

}  // namespace georep::fault
