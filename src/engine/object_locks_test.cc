#include "engine/object_locks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace georep {
namespace {

TEST(ObjectLocks, SerialisesSameKeyAndCleansUp) {
  ObjectLocks locks;
  int counter = 0;  // deliberately not atomic: the lock must protect it
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto g = locks.Lock("session:a");
        ++counter;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(counter, 8000);
  EXPECT_EQ(locks.LiveCount(), 0u);
}

TEST(ObjectLocks, DifferentKeysDoNotBlock) {
  ObjectLocks locks;
  auto a = locks.Lock("session:a");
  std::atomic<bool> got_b{false};
  std::thread t([&] {
    auto b = locks.Lock("session:b");
    got_b = true;
  });
  t.join();  // would hang if keys shared a lock
  EXPECT_TRUE(got_b);
  EXPECT_EQ(locks.LiveCount(), 1u);
}

}  // namespace
}  // namespace georep
