// The synced index and the change journal on a file system that fails (base/fault_env.h):
// writes that run out of space or tear, syncs that fail, a crash that loses what was not
// synced. What a worker was told is recorded is never lost or half applied; a torn record is
// detected and left behind.
#include <errno.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "base/fault_env.h"
#include "base/mem_env.h"
#include "replication/change_journal.h"
#include "replication/synced_index.h"

namespace georep::replication {
namespace {

constexpr const char* kStateDir = "/state";

IndexEntry File(uint64_t ino, int64_t mtime) {
  IndexEntry e;
  e.type = EntryType::kRegular;
  e.mode = 0644;
  e.size = 10;
  e.ino = ino;
  e.mtime_ns = mtime;
  return e;
}

// Batches of changes and the index after each: the states a crash may go back to.
class IndexHistory {
 public:
  std::vector<IndexDelta> Batch(int n) {
    return {{"f" + std::to_string(n), File(n, n)}, {"f" + std::to_string(n - 1), std::nullopt}};
  }
  void Applied(const std::vector<IndexDelta>& batch) {
    for (const auto& d : batch) ApplyDelta(d, &index);
    states.push_back(index);
  }
  // The position of `loaded` among the states (-1: none of them).
  int Find(const SyncedIndex& loaded) const {
    for (size_t i = 0; i < states.size(); ++i)
      if (states[i] == loaded) return static_cast<int>(i);
    return -1;
  }
  SyncedIndex index;
  std::vector<SyncedIndex> states{SyncedIndex{}};
};

class SyncedIndexUnderFaults : public ::testing::Test {
 protected:
  // What a restarted worker loads.
  Result<SyncedIndex> Reload() { return IndexStore(kStateDir, &mem_).Load(); }
  MemEnv mem_;
  FaultEnv env_{&mem_};
  IndexHistory history_;
};

TEST_F(SyncedIndexUnderFaults, ARecordThatRanOutOfSpaceIsNotRecorded) {
  IndexStore store(kStateDir, &env_);
  ASSERT_TRUE(store.Load().ok());
  auto first = history_.Batch(1);
  history_.Applied(first);
  ASSERT_TRUE(store.Append(first, history_.index).ok());
  env_.FailWrites(1, ENOSPC);
  SyncedIndex refused = history_.index;
  for (const auto& d : history_.Batch(2)) ApplyDelta(d, &refused);
  Status full = store.Append(history_.Batch(2), refused);
  EXPECT_EQ(full.code(), StatusCode::kIOError);
  EXPECT_NE(full.message().find("No space left on device"), std::string::npos) << full.message();
  auto loaded = Reload();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(*loaded, history_.index) << "the batch whose record failed is sent again";
}

TEST_F(SyncedIndexUnderFaults, ATornRecordIsDroppedAndTheNextAppendRewritesTheLog) {
  IndexStore store(kStateDir, &env_);
  ASSERT_TRUE(store.Load().ok());
  for (int n = 1; n <= 3; ++n) {
    auto batch = history_.Batch(n);
    history_.Applied(batch);
    ASSERT_TRUE(store.Append(batch, history_.index).ok());
  }
  const SyncedIndex before_tear = history_.index;
  env_.FailWrites(1, EIO, /*torn=*/true);
  SyncedIndex torn = history_.index;
  for (const auto& d : history_.Batch(4)) ApplyDelta(d, &torn);
  ASSERT_FALSE(store.Append(history_.Batch(4), torn).ok());

  // A restarted worker: the torn tail is found and dropped, the batches before it kept.
  IndexStore restarted(kStateDir, &env_);
  auto loaded = restarted.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(*loaded, before_tear);
  EXPECT_GT(restarted.dropped_log_bytes(), 0u);
  // Its next commit folds: snapshot and log rewritten, nothing torn left behind.
  SyncedIndex index = *loaded;
  auto next = history_.Batch(5);
  for (const auto& d : next) ApplyDelta(d, &index);
  ASSERT_TRUE(restarted.Append(next, index).ok());
  EXPECT_EQ(restarted.folds(), 1u);
  IndexStore third(kStateDir, &env_);
  auto again = third.Load();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, index);
  EXPECT_EQ(third.dropped_log_bytes(), 0u);
}

// The log is not synced per record: a crash may lose the newest records, which makes the
// worker send their batches again -- never the other way round. The snapshot is synced before
// it replaces the old one.
TEST_F(SyncedIndexUnderFaults, ACrashGoesBackToAStateTheDestinationHeldNoFurtherThanTheSnapshot) {
  IndexStore store(kStateDir, &env_);
  ASSERT_TRUE(store.Load().ok());
  for (int n = 1; n <= 2; ++n) {
    auto batch = history_.Batch(n);
    history_.Applied(batch);
    ASSERT_TRUE(store.Append(batch, history_.index).ok());
  }
  ASSERT_TRUE(store.Fold(history_.index).ok());
  const int folded = static_cast<int>(history_.states.size()) - 1;
  for (int n = 3; n <= 5; ++n) {
    auto batch = history_.Batch(n);
    history_.Applied(batch);
    ASSERT_TRUE(store.Append(batch, history_.index).ok());
  }
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  auto loaded = Reload();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const int at = history_.Find(*loaded);
  EXPECT_GE(at, folded) << "a state the index had, not older than its snapshot";
}

// A snapshot that cannot be written (its sync fails) leaves the old one in place.
TEST_F(SyncedIndexUnderFaults, AFailedSnapshotLeavesTheLastWholeOne) {
  IndexStore store(kStateDir, &env_);
  ASSERT_TRUE(store.Load().ok());
  auto first = history_.Batch(1);
  history_.Applied(first);
  ASSERT_TRUE(store.Fold(history_.index).ok());
  const SyncedIndex snapshot = history_.index;
  auto second = history_.Batch(2);
  history_.Applied(second);
  env_.FailSyncs(1, EIO, "index.tmp");
  Status failed = store.Fold(history_.index);
  EXPECT_NE(failed.message().find("Input/output error"), std::string::npos) << failed.message();
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  auto loaded = Reload();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(*loaded, snapshot);
  EXPECT_FALSE(mem_.Exists(std::string(kStateDir) + "/index.tmp"));
}

// The journal syncs each record before the worker acts on it: a crash keeps every record
// Append() returned OK for; one that failed (its write or its sync) is reported.
TEST(ChangeJournalUnderFaults, WhatWasAppendedSurvivesACrashAndAFailureIsReported) {
  MemEnv mem;
  FaultEnv env(&mem);
  ChangeJournal journal(kStateDir, &env);
  ASSERT_TRUE(journal.Append({{"d1"}, {"e1"}, {"w1"}}).ok());
  env.FailSyncs(1, EIO);
  Status unsynced = journal.Append({{"d2"}, {}, {}});
  EXPECT_EQ(unsynced.code(), StatusCode::kIOError);
  EXPECT_NE(unsynced.message().find("cannot sync"), std::string::npos) << unsynced.message();
  env.FailWrites(1, ENOSPC);
  EXPECT_FALSE(journal.Append({{"d3"}, {}, {}}).ok());
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  auto loaded = ChangeJournal(kStateDir, &mem).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->directories, std::set<std::string>{"d1"});
  EXPECT_EQ(loaded->entries, std::set<std::string>{"e1"});
  EXPECT_EQ(loaded->written, std::set<std::string>{"w1"});
}

TEST(ChangeJournalUnderFaults, ATornRecordIsCutOffAndTheRecordsBeforeAndAfterItKept) {
  MemEnv mem;
  FaultEnv env(&mem);
  ChangeJournal journal(kStateDir, &env);
  ASSERT_TRUE(journal.Append({{"first"}, {}, {}}).ok());
  ASSERT_TRUE(journal.Append({{"second"}, {}, {}}).ok());
  env.FailWrites(1, EIO, /*torn=*/true);
  EXPECT_FALSE(journal.Append({{"third"}, {"third/file"}, {}}).ok());
  auto loaded = journal.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->directories, (std::set<std::string>{"first", "second"}));
  EXPECT_TRUE(loaded->entries.empty());
  // The torn tail is cut off before the next record: what is appended after the failure is
  // loaded too, by this journal and by a new one (a worker started again).
  ASSERT_TRUE(journal.Append({{"after"}, {}, {}}).ok());
  loaded = journal.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->directories, (std::set<std::string>{"first", "second", "after"}));
  loaded = ChangeJournal(kStateDir, &env).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->directories, (std::set<std::string>{"first", "second", "after"}));
  // Cleared once its changes are synced, the journal starts whole again.
  ASSERT_TRUE(journal.Clear().ok());
  ASSERT_TRUE(journal.Append({{"fourth"}, {}, {}}).ok());
  loaded = journal.Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->directories, std::set<std::string>{"fourth"});
}

TEST(ChangeJournalUnderFaults, AWorkerStartedAfterACrashInAnAppendKeepsWhatItAppends) {
  MemEnv mem;
  FaultEnv env(&mem);
  {
    ChangeJournal crashed(kStateDir, &env);
    ASSERT_TRUE(crashed.Append({{"before"}, {}, {}}).ok());
    env.FailWrites(1, EIO, /*torn=*/true);
    ASSERT_FALSE(crashed.Append({{"torn"}, {}, {}}).ok());
  }
  ChangeJournal restarted(kStateDir, &env);
  ASSERT_TRUE(restarted.Append({{"restarted"}, {}, {}}).ok());
  auto loaded = restarted.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->directories, (std::set<std::string>{"before", "restarted"}));
}

}  // namespace
}  // namespace georep::replication
