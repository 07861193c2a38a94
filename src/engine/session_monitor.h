// SessionMonitor: the background job that keeps every gluster session's per-node status
// current. Every interval it refreshes each session through Operations::RefreshSession (which
// reads `geo-replication ... status detail --xml` through any reachable source host, failing
// over between them, and records an Event on every change). It takes the same per-session
// locks as operations. Clusters are polled in parallel, one thread per cluster, bounded.
//
// Thread-safe. One named thread ("georep-monitor") while started.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "engine/operations.h"

namespace georep {

class SessionMonitor {
 public:
  SessionMonitor(Operations& ops, std::chrono::seconds interval) : ops_(ops), interval_(interval) {}
  ~SessionMonitor() { Stop(); }
  SessionMonitor(const SessionMonitor&) = delete;
  SessionMonitor& operator=(const SessionMonitor&) = delete;

  void Start();
  void Stop();
  // One pass over every session; returns how many were refreshed successfully.
  int PollOnce();

 private:
  void Loop();

  Operations& ops_;
  const std::chrono::seconds interval_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace georep
