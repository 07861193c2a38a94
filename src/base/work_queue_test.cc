#include "base/work_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <vector>

namespace georep {
namespace {

TEST(WorkQueue, ALaneRunsItsTasksInOrder) {
  std::mutex mutex;
  std::vector<int> ran;
  {
    WorkQueue queue(3);
    for (int i = 0; i < 200; ++i) {
      queue.Run(1, [&, i] {
        std::lock_guard<std::mutex> lock(mutex);
        ran.push_back(i);
      });
    }
  }  // the destructor runs what was given
  ASSERT_EQ(ran.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(ran[static_cast<size_t>(i)], i);
}

TEST(WorkQueue, LanesRunSideBySide) {
  WorkQueue queue(2);
  std::promise<void> second_ran;
  std::future<void> second = second_ran.get_future();
  std::promise<bool> first_saw;
  // The task on lane 0 waits for the one on lane 1: with one thread for both, it would wait
  // in vain.
  queue.Run(0, [&] {
    first_saw.set_value(second.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  });
  queue.Run(1, [&] { second_ran.set_value(); });
  EXPECT_TRUE(first_saw.get_future().get());
}

TEST(WorkQueue, LanesWrapAroundTheThreads) {
  WorkQueue queue(2);
  EXPECT_EQ(queue.threads(), 2u);
  std::promise<std::thread::id> a;
  std::promise<std::thread::id> b;
  queue.Run(1, [&] { a.set_value(std::this_thread::get_id()); });
  queue.Run(3, [&] { b.set_value(std::this_thread::get_id()); });
  EXPECT_EQ(a.get_future().get(), b.get_future().get());
  EXPECT_EQ(WorkQueue(0).threads(), 1u);
}

}  // namespace
}  // namespace georep
