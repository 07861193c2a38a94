#include "engine/session_monitor.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>

namespace georep {

void SessionMonitor::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || interval_.count() <= 0) return;
  stopping_ = false;
  cancel_verifies_ = false;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "georep-monitor");
    Loop();
  });
  heartbeat_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "georep-heartbt");
    HeartbeatLoop();
  });
  verify_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "georep-verify");
    VerifyLoop();
  });
}

void SessionMonitor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cancel_verifies_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  if (verify_thread_.joinable()) verify_thread_.join();
}

void SessionMonitor::VerifyLoop() {
  const Actor monitor{"monitor", Role::kAdmin};
  std::map<std::string, std::future<void>> running;  // by session
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    std::erase_if(running, [](auto& kv) {
      return kv.second.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    });
    if (running.size() < kMaxVerifies) {
      for (const DueVerify& due : ops_.periodic_verifier().DueVerifies()) {
        if (running.size() >= kMaxVerifies) break;  // the others when a slot is free
        if (running.count(due.session_id)) continue;
        running.emplace(due.session_id, std::async(std::launch::async, [this, &monitor, due] {
                          pthread_setname_np(pthread_self(), "georep-vrfyjob");
                          auto r = ops_.periodic_verifier().PeriodicVerify(monitor, due,
                                                                           &cancel_verifies_);
                          if (!r.ok() && !cancel_verifies_.load())
                            spdlog::warn("msg=\"periodic verify\" session={} error=\"{}\"",
                                         due.session_id, r.status().message());
                        }));
      }
    }
    lock.lock();
    wake_.wait_for(lock, verify_tick_, [this] { return stopping_; });
  }
  lock.unlock();
  for (auto& [id, job] : running) job.wait();
}

void SessionMonitor::HeartbeatLoop() {
  const Actor monitor{"monitor", Role::kAdmin};
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    ops_.HeartbeatGlusterSessions(monitor);
    lock.lock();
    wake_.wait_for(lock, heartbeat_tick_, [this] { return stopping_; });
  }
}

void SessionMonitor::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    PollOnce();
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

int SessionMonitor::PollOnce() {
  const Actor monitor{"monitor", Role::kAdmin};
  const auto started = std::chrono::steady_clock::now();
  auto clusters = ops_.ListClusters();
  if (!clusters.ok()) {
    spdlog::warn("msg=\"monitor cannot list clusters\" error=\"{}\"", clusters.status().message());
    return 0;
  }
  // Clusters are polled in parallel (at most kParallel at a time); each cluster answers for
  // all its sessions in one status query.
  constexpr size_t kParallel = 8;
  // The steady pass reads gsyncd's own files on the nodes and takes no glusterd lock. A full
  // pass -- the cluster-wide status query (sessions created or deleted outside georep) and
  // every session's config (changed outside) -- is a glusterd transaction each, which makes
  // an admin's own gluster command fail meanwhile: it runs at start and every kFullEvery.
  constexpr int64_t kFullEvery = 300;  // seconds
  bool full = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int every =
        std::max<int>(1, static_cast<int>(kFullEvery / std::max<int64_t>(1, interval_.count())));
    full = passes_++ % every == 0;
  }
  std::atomic<int> refreshed{0};
  std::vector<std::future<void>> jobs;
  for (const Cluster& c : *clusters) {
    jobs.push_back(std::async(std::launch::async, [&, id = c.id, name = c.name] {
      auto poll = ops_.PollGlusterCluster(monitor, id, full);
      if (!poll.ok()) {
        spdlog::warn("msg=\"monitor cannot read cluster\" cluster={} error=\"{}\"", name,
                     poll.status().message());
        return;
      }
      refreshed += poll->refreshed + poll->discovered;
      for (const auto& p : poll->problems)
        spdlog::warn("msg=\"monitor\" cluster={} problem=\"{}\"", name, p);
    }));
    if (jobs.size() >= kParallel) {
      for (auto& j : jobs) j.wait();
      jobs.clear();
    }
  }
  for (auto& j : jobs) j.wait();
  // Directory sessions: their workers, on this machine.
  refreshed += ops_.PollDirectorySessions(monitor);
  (full ? full_passes_ : steady_passes_)
      .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return refreshed.load();
}

}  // namespace georep
