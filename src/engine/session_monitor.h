// SessionMonitor: the background job that keeps every gluster session's per-node status
// current. Every interval it polls each cluster through Operations::PollGlusterCluster: gsyncd's
// own status files on every source node (no glusterd transaction, so no lock an admin's gluster
// command could meet), and gluster's `geo-replication status detail --xml` only where the files
// cannot answer or show a session appear or go, and in a full pass at start and every 5 minutes
// (discovery of sessions created outside georep, sessions deleted outside, config changed
// outside; an Event on every change). It takes the same per-session locks as operations.
// Clusters are polled in parallel, at most 8 at a time.
// A second thread runs every gluster session's end-to-end heartbeat step every 250 ms
// (Operations::HeartbeatGlusterSessions: writes when one is due, reads back while one is on
// its way), so the arrival it sees is as fine as one ssh round trip, not the interval.
//
// A third thread runs the periodic verify (verify-interval; PeriodicVerifier::DueVerifies and
// PeriodicVerify): every verify_tick it starts the verifies that are due, each on a thread of
// its own ("georep-vrfyjob"), at most one per session and kMaxVerifies in all, so a long
// verify never holds up the status or the heartbeat. Stop cancels the running verifies (their
// commands are ended) and waits for them.
//
// Each pass's duration is kept (PassDurations: full and steady passes apart) for the engine's
// metrics.
//
// Thread-safe. Three named threads ("georep-monitor", "georep-heartbt", "georep-verify"), and
// up to kMaxVerifies verify jobs, while started.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "base/histogram.h"
#include "engine/operations.h"

namespace georep {

class SessionMonitor {
 public:
  // Verifies that run at once, over every session: each lists both trees in full.
  static constexpr size_t kMaxVerifies = 2;

  SessionMonitor(Operations& ops, std::chrono::seconds interval,
                 std::chrono::milliseconds heartbeat_tick = std::chrono::milliseconds(250),
                 std::chrono::milliseconds verify_tick = std::chrono::seconds(2))
      : ops_(ops),
        interval_(interval),
        heartbeat_tick_(heartbeat_tick),
        verify_tick_(verify_tick) {}
  ~SessionMonitor() { Stop(); }
  SessionMonitor(const SessionMonitor&) = delete;
  SessionMonitor& operator=(const SessionMonitor&) = delete;

  void Start();
  void Stop();
  // One pass over every cluster; returns how many sessions were refreshed or discovered.
  int PollOnce();
  // How long the passes took so far: the full ones (discovery and config, at start and every
  // 5 minutes) or the steady ones.
  Histogram::Snapshot PassDurations(bool full) const {
    return full ? full_passes_.Take() : steady_passes_.Take();
  }
  // The bounds of PassDurations' buckets, in seconds.
  static std::vector<double> PassBounds() {
    return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
  }

 private:
  void Loop();
  void HeartbeatLoop();
  void VerifyLoop();

  Operations& ops_;
  const std::chrono::seconds interval_;
  const std::chrono::milliseconds heartbeat_tick_;
  const std::chrono::milliseconds verify_tick_;
  std::thread heartbeat_thread_;
  std::thread verify_thread_;
  std::atomic<bool> cancel_verifies_{false};  // set by Stop: running verifies end early
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
  int passes_ = 0;  // GUARDED_BY(mu_); every kFullEvery seconds' pass is a full one
  Histogram full_passes_{PassBounds()};
  Histogram steady_passes_{PassBounds()};
};

}  // namespace georep
