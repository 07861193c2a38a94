#include "engine/engine_lease.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

namespace georep {
namespace {

class EngineLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("georep-lease-" + std::to_string(::getpid()) + ".db");
    std::filesystem::remove(path_);
    auto s = OpenStore("sqlite://" + path_.string());
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove(path_);
    std::filesystem::remove(path_.string() + "-wal");
    std::filesystem::remove(path_.string() + "-shm");
  }
  std::filesystem::path path_;
  std::unique_ptr<Store> store_;
  FakeClock clock_;
};

TEST_F(EngineLeaseTest, OneEngineIsActiveAndAStandbyTakesOverOnlyAfterExpiry) {
  EngineLeaseKeeper a(*store_, clock_, "a", 30'000, nullptr),
      b(*store_, clock_, "b", 30'000, nullptr);
  ASSERT_TRUE(a.Claim().ok());
  EXPECT_TRUE(a.Held());
  auto seen = b.Claim();
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->holder, "a");
  EXPECT_FALSE(b.Held());
  // a's own term ends a tenth early: before b may take the lease.
  clock_.Advance(27'001);
  EXPECT_FALSE(a.Held()) << "the holder must stop acting before its lease expires";
  clock_.Advance(2'999);
  EXPECT_EQ(b.Claim()->holder, "a") << "not expired yet";
  clock_.Advance(2);
  EXPECT_EQ(b.Claim()->holder, "b");
  EXPECT_TRUE(b.Held());
  EXPECT_EQ(a.Claim()->holder, "b");
  EXPECT_FALSE(a.Held());
}

TEST_F(EngineLeaseTest, RenewingKeepsTheLeaseAndReleasingHandsItOverAtOnce) {
  EngineLeaseKeeper a(*store_, clock_, "a", 30'000, nullptr),
      b(*store_, clock_, "b", 30'000, nullptr);
  ASSERT_TRUE(a.Claim().ok());
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(10'000);
    ASSERT_EQ(a.Claim()->holder, "a");
    ASSERT_EQ(b.Claim()->holder, "a");
    EXPECT_EQ(a.TermLeftMillis(), 27'000);
  }
  ASSERT_TRUE(a.Release().ok());
  EXPECT_FALSE(a.Held());
  EXPECT_EQ(b.Claim()->holder, "b");
}

TEST_F(EngineLeaseTest, AKeeperDestroyedWhileHoldingReleases) {
  {
    EngineLeaseKeeper a(*store_, clock_, "a", 30'000, nullptr);
    ASSERT_TRUE(a.Claim().ok());
  }
  EngineLeaseKeeper b(*store_, clock_, "b", 30'000, nullptr);
  EXPECT_EQ(b.Claim()->holder, "b");
}

TEST_F(EngineLeaseTest, ALeaseLeftByAnExitedEngineOfThisMachineIsTakenAtOnce) {
  std::set<int> running = {100, 300};
  auto alive = [&](int pid) { return running.count(pid) > 0; };
  EngineLeaseKeeper crashed(*store_, clock_, "node1:100:1", 30'000, alive);
  ASSERT_TRUE(crashed.Claim().ok());
  EngineLeaseKeeper elsewhere(*store_, clock_, "node2:200:1", 30'000, alive);
  EngineLeaseKeeper restarted(*store_, clock_, "node1:300:2", 30'000, alive);
  EXPECT_EQ(elsewhere.Claim()->holder, "node1:100:1");
  EXPECT_EQ(restarted.Claim()->holder, "node1:100:1") << "its holder still runs";
  running.erase(100);
  EXPECT_EQ(elsewhere.Claim()->holder, "node1:100:1") << "another machine cannot tell";
  EXPECT_EQ(restarted.Claim()->holder, "node1:300:2");
  EXPECT_TRUE(restarted.Held());
}

}  // namespace
}  // namespace georep
