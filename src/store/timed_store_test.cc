// TimedStore: every transaction timed into its histogram, its outcome (commit or rollback)
// the wrapped store's, its duration a real one.
#include "store/timed_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "replication/test_util.h"

namespace georep {
namespace {

TEST(TimedStore, TimesEveryTransactionAndPassesItsOutcomeOn) {
  replication::testing::TempDir dir;
  auto inner = OpenStore("sqlite://" + dir.path() + "/db");
  ASSERT_TRUE(inner.ok()) << inner.status().ToString();
  Histogram durations(TimedStore::Bounds());
  TimedStore store(**inner, durations);
  EXPECT_EQ(store.Backend(), "sqlite");
  EXPECT_EQ(store.SchemaVersion(), (*inner)->SchemaVersion());

  ASSERT_TRUE(store.Transaction([](StoreTx& tx) {
                     return tx.CreateCluster({"c1", "east", "", 1});
                   })
                  .ok());
  // A failed callback: its status comes back, and what it wrote is rolled back.
  Status refused = store.Transaction([](StoreTx& tx) {
    EXPECT_TRUE(tx.CreateCluster({"c2", "west", "", 1}).ok());
    return Status::InvalidArgument("changed my mind");
  });
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  size_t clusters = 0;
  ASSERT_TRUE((*inner)
                  ->Transaction([&](StoreTx& tx) {
                    auto all = tx.ListClusters();
                    clusters = all.ok() ? all->size() : 99;
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(clusters, 1u);
  EXPECT_EQ(durations.Take().count, 2u);  // the read on the inner store is not counted

  // A transaction that takes 30 ms is counted above 25 ms (whatever the others took).
  ASSERT_TRUE(store
                  .Transaction([](StoreTx&) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(30));
                    return Status::Ok();
                  })
                  .ok());
  const Histogram::Snapshot s = durations.Take();
  EXPECT_EQ(s.count, 3u);
  EXPECT_GE(s.sum, 0.030);
  size_t le_25ms = 99;
  for (size_t i = 0; i < s.bounds.size(); ++i)
    if (s.bounds[i] == 0.025) le_25ms = s.cumulative[i];
  EXPECT_LE(le_25ms, 2u);
}

}  // namespace
}  // namespace georep
