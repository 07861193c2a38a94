// The fault harness's ssh transport: a real sshd on loopback, reached through a TCP relay this
// harness owns, so that a link can be cut (every connection reset, new ones refused for a
// while) without signalling anything.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "integration/sshd_server.h"

namespace georep::fault {

class Relay {
 public:
  ~Relay() { Stop(); }

  // Listens on a free 127.0.0.1 port and forwards each connection to 127.0.0.1:`to_port`.
  bool Start(int to_port);
  // Stops the relay: its thread joined, every connection closed.
  void Stop();
  // The link is down for `ms`: open connections are reset, new ones reset at once.
  void Cut(int ms);
  int port() const { return port_; }
  uint64_t cuts() const { return cuts_; }

 private:
  struct Pipe {  // one direction of a connection
    int from, to;
    std::string pending;  // read from `from`, not yet written to `to`
    bool eof = false;
  };
  struct Connection {
    Pipe up, down;
  };

  void Wake() { (void)!::write(wake_[1], "w", 1); }

  static void Reset(int fd);

  int Connect() const;

  enum class Flow { kOpen, kDone, kBroken };
  // Moves what it can in one direction.
  static Flow Pump(Pipe* p, short from_events, short to_events);

  void Loop();

  int to_port_ = 0, port_ = 0;
  int listener_ = -1;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::atomic<bool> stop_{false}, cut_{false};
  std::atomic<int64_t> down_until_ms_{0};
  std::atomic<uint64_t> cuts_{0};
};

// sshd, its client key and pinned host key, and the relay in front of it.
class SshTransport {
 public:
  explicit SshTransport(std::string dir) : dir_(std::move(dir)), sshd_(dir_ + "/sshd") {}

  // Starts sshd (with a fresh client key) and the relay; false with `*why` when it cannot.
  bool Start(std::string* why);

  // The worker's options for destination `path` behind this sshd.
  std::vector<std::string> WorkerArgs(const std::string& georep) const;
  static std::string Destination(const std::string& path) { return "root@127.0.0.1::" + path; }

  void Cut(int ms) { relay_.Cut(ms); }
  pid_t sshd_pid() const { return sshd_.pid(); }

 private:
  static constexpr const char* kAlias = "georep-fault-harness";
  std::string dir_;
  georep::testing::SshServer sshd_;
  Relay relay_;
};

}  // namespace georep::fault
