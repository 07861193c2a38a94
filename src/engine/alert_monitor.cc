#include "engine/alert_monitor.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/log.h"

namespace georep {

void AlertMonitor::Start() {
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  ops_.notifications().OnQueued([this] {
    {
      std::lock_guard lock(mu_);
      queued_ = true;
    }
    wake_.notify_all();
  });
  evaluate_thread_ = std::thread([this] { EvaluateLoop(); });
  deliver_thread_ = std::thread([this] { DeliverLoop(); });
}

void AlertMonitor::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (evaluate_thread_.joinable()) evaluate_thread_.join();
  if (deliver_thread_.joinable()) deliver_thread_.join();
  ops_.notifications().OnQueued(nullptr);
}

void AlertMonitor::EvaluateLoop() {
  pthread_setname_np(pthread_self(), "georep-alerts");
  for (;;) {
    auto pass = ops_.alerts().Evaluate();
    if (!pass.ok()) {
      spdlog::warn("msg=\"cannot evaluate the alerts\" error={}",
                   LogValue(pass.status().message()));
    } else if (pass->fired + pass->resolved > 0) {
      spdlog::info("msg=\"alerts changed\" fired={} resolved={} deliveries_queued={}", pass->fired,
                   pass->resolved, pass->queued);
    }
    std::unique_lock lock(mu_);
    if (wake_.wait_for(lock, tick_, [this] { return stopping_; })) return;
  }
}

void AlertMonitor::DeliverLoop() {
  pthread_setname_np(pthread_self(), "georep-notify");
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      queued_ = false;
    }
    // Sends in rounds of 100 until nothing is due.
    while (ops_.notifications().DeliverDue(100) == 100) {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    // A pending retry is waited for; otherwise a minute at most (a delivery queued by another
    // process sharing the store is not missed for long).
    const int64_t next = ops_.notifications().NextDueIn();
    const auto wait =
        std::chrono::milliseconds(next < 0 ? 60'000 : std::min<int64_t>(next, 60'000));
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, wait, [this] { return stopping_ || queued_; });
    if (stopping_) return;
  }
}

}  // namespace georep
