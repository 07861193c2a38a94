// AlertMonitor: the two threads that make alerts happen on their own in the active engine.
// "georep-alerts" runs AlertManager::Evaluate every `tick` (the status it reads is refreshed by
// the session monitor and the workers; a tick of a few seconds keeps an alert within one
// refresh of its cause). "georep-notify" sends the deliveries that are due
// (Notifications::DeliverDue) -- at once when new ones are queued (the queue wakes it), and
// when a retry's time comes.
//
// Thread-safe. Start once; Stop (or the destructor) ends both threads, a send in progress
// first (each is bounded by Notifications::kSendTimeout).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "engine/operations.h"

namespace georep {

class AlertMonitor {
 public:
  AlertMonitor(Operations& ops, std::chrono::milliseconds tick) : ops_(ops), tick_(tick) {}
  ~AlertMonitor() { Stop(); }
  AlertMonitor(const AlertMonitor&) = delete;
  AlertMonitor& operator=(const AlertMonitor&) = delete;

  void Start();
  void Stop();

 private:
  void EvaluateLoop();
  void DeliverLoop();

  Operations& ops_;
  const std::chrono::milliseconds tick_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  bool queued_ = false;    // GUARDED_BY(mu_): deliveries were queued since the last look
  std::thread evaluate_thread_;
  std::thread deliver_thread_;
};

}  // namespace georep
