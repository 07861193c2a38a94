#include "base/work_queue.h"

#include <algorithm>
#include <utility>

namespace georep {

WorkQueue::WorkQueue(size_t threads) {
  const size_t n = std::max<size_t>(threads, 1);
  lanes_.reserve(n);
  threads_.reserve(n);
  try {
    for (size_t i = 0; i < n; ++i) {
      lanes_.push_back(std::make_unique<Lane>());
      threads_.emplace_back([lane = lanes_.back().get()] { Loop(*lane); });
    }
  } catch (...) {  // no thread to be had: the ones started stop before the error goes on
    Stop();
    throw;
  }
}

WorkQueue::~WorkQueue() {
  Stop();
}

void WorkQueue::Stop() {
  for (const auto& lane : lanes_) {
    std::lock_guard<std::mutex> lock(lane->mutex);
    lane->stopping = true;
    lane->changed.notify_all();
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void WorkQueue::Run(size_t lane, std::function<void()> task) {
  Lane& l = *lanes_[lane % lanes_.size()];
  std::lock_guard<std::mutex> lock(l.mutex);
  l.tasks.push_back(std::move(task));
  l.changed.notify_one();
}

void WorkQueue::Loop(Lane& lane) {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(lane.mutex);
      lane.changed.wait(lock, [&] { return lane.stopping || !lane.tasks.empty(); });
      if (lane.tasks.empty()) return;  // stopping, and nothing left to run
      task = std::move(lane.tasks.front());
      lane.tasks.pop_front();
    }
    task();
  }
}

}  // namespace georep
