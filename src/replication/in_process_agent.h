// InProcessAgentLinks: an agent-link factory (AgentLinks, replicator.h) for tests -- each
// connection is a socketpair whose far end an agent (ServeAgent, agent.h) serves on a thread of
// this process, so the worker loop runs whole with no process started. A test can cut the
// connections (SeverAll) to play a link that dies mid-batch.
//
// Thread-safety: Open() on the worker's thread; SeverAll() and opened() from any thread (an
// applier's FileSystemCalls hook among them).
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "replication/agent.h"
#include "replication/replicator.h"

namespace georep::replication {

class InProcessAgentLinks final : public AgentLinks {
 public:
  explicit InProcessAgentLinks(AgentOptions options) : options_(std::move(options)) {}
  ~InProcessAgentLinks() override;
  Result<std::unique_ptr<AgentLink>> Open(int stream) override;
  // Shuts down every connection opened so far, both ways: each side finds the other gone.
  void SeverAll();
  // Connections opened so far.
  size_t opened() const;

  struct Connection;  // a socketpair and the agent thread on its far end

 private:
  const AgentOptions options_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Connection>> connections_;  // guarded by mutex_
};

}  // namespace georep::replication
