// WorkQueue: a fixed set of threads that run the tasks given to them, each task once. A task
// given to a lane runs on that lane's thread, after the lane's earlier tasks; lanes run side
// by side. What a task touches is the caller's to guard; the queue only hands tasks out.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace georep {

class WorkQueue {
 public:
  // Starts `threads` threads (at least one). Throws std::system_error when a thread cannot
  // be started (none is left running then).
  explicit WorkQueue(size_t threads);
  // Runs every task already given, then stops the threads.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Runs `task` on the thread of lane `lane % threads()`.
  void Run(size_t lane, std::function<void()> task);
  size_t threads() const { return lanes_.size(); }

 private:
  struct Lane {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::function<void()>> tasks;
    bool stopping = false;
  };
  static void Loop(Lane& lane);
  void Stop();  // runs what is queued, and joins

  std::vector<std::unique_ptr<Lane>> lanes_;
  std::vector<std::thread> threads_;
};

}  // namespace georep
