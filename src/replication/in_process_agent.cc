#include "replication/in_process_agent.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <string>
#include <thread>

namespace georep::replication {

struct InProcessAgentLinks::Connection {
  int worker_end = -1;
  int agent_end = -1;
  std::thread agent;
  std::mutex mutex;
  Status served = Status::Ok();  // ServeAgent's result (guarded by mutex) ...
  bool ended = false;            // ... once this is set

  ~Connection() {
    Shutdown(SHUT_RDWR);
    Join();
    ::close(worker_end);
    ::close(agent_end);
  }
  void Shutdown(int how) const { (void)::shutdown(worker_end, how); }
  void Join() {
    if (agent.joinable()) agent.join();
  }
};

namespace {

// The worker's end of one connection.
class InProcessAgentLink final : public AgentLink {
 public:
  explicit InProcessAgentLink(std::shared_ptr<InProcessAgentLinks::Connection> c)
      : c_(std::move(c)) {}
  ~InProcessAgentLink() override {
    c_->Shutdown(SHUT_RDWR);
    c_->Join();
  }
  int write_fd() const override { return c_->worker_end; }
  int read_fd() const override { return c_->worker_end; }
  // The agent sees the end of its stream and returns; its result is the link's.
  Status Close(int /*seconds*/) override {
    c_->Shutdown(SHUT_WR);
    c_->Join();
    return c_->served;
  }
  // Why the agent ended, when it has (a process's last words on stderr).
  std::string ErrorTail() const override {
    std::lock_guard<std::mutex> lock(c_->mutex);
    if (!c_->ended) return "in-process agent";
    return c_->served.ok() ? "in-process agent: ended"
                           : "in-process agent: " + c_->served.message();
  }

 private:
  std::shared_ptr<InProcessAgentLinks::Connection> c_;
};

}  // namespace

InProcessAgentLinks::~InProcessAgentLinks() = default;

Result<std::unique_ptr<AgentLink>> InProcessAgentLinks::Open(int /*stream*/) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Status::IOError(std::string("socketpair: ") + strerror(errno));
  auto c = std::make_shared<Connection>();
  c->worker_end = sv[0];
  c->agent_end = sv[1];
  Connection* raw = c.get();
  c->agent = std::thread([raw, options = options_] {
    Status served = ServeAgent(raw->agent_end, raw->agent_end, options);
    {
      std::lock_guard<std::mutex> lock(raw->mutex);
      raw->served = std::move(served);
      raw->ended = true;
    }
    // A worker still writing finds the agent gone, as it would a process that exited.
    (void)::shutdown(raw->agent_end, SHUT_RDWR);
  });
  std::lock_guard<std::mutex> lock(mutex_);
  connections_.push_back(c);
  return std::unique_ptr<AgentLink>(std::make_unique<InProcessAgentLink>(std::move(c)));
}

void InProcessAgentLinks::SeverAll() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& c : connections_) c->Shutdown(SHUT_RDWR);
}

size_t InProcessAgentLinks::opened() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return connections_.size();
}

}  // namespace georep::replication
