#include "engine/session_monitor.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <future>
#include <map>

namespace georep {

void SessionMonitor::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || interval_.count() <= 0) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "georep-monitor");
    Loop();
  });
}

void SessionMonitor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
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
  const Actor monitor{"monitor", true};
  auto sessions = ops_.ListSessions({});
  if (!sessions.ok()) {
    spdlog::warn("msg=\"monitor cannot list sessions\" error=\"{}\"", sessions.status().message());
    return 0;
  }
  // Group by source cluster; clusters are polled in parallel, sessions of one cluster in turn.
  std::map<std::string, std::vector<Session>> by_cluster;
  for (const auto& s : *sessions) {
    auto v = ops_.GetVolume(s.source_volume_id);
    if (!v.ok() || v->kind != VolumeKind::kGluster) continue;
    by_cluster[v->cluster_id].push_back(s);
  }
  std::atomic<int> refreshed{0};
  std::vector<std::future<void>> jobs;
  for (auto& [cluster, list] : by_cluster) {
    jobs.push_back(std::async(std::launch::async, [&, list = list] {
      for (const auto& s : list) {
        auto r = ops_.RefreshSession(monitor, s.id);
        if (r.ok()) {
          ++refreshed;
        } else {
          spdlog::warn("msg=\"monitor cannot read session\" session={} error=\"{}\"", s.id,
                       r.status().message());
        }
      }
    }));
    if (jobs.size() >= 8) {  // bounded: at most 8 clusters at a time
      for (auto& j : jobs) j.wait();
      jobs.clear();
    }
  }
  for (auto& j : jobs) j.wait();
  return refreshed.load();
}

}  // namespace georep
