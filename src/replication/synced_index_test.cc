#include "replication/synced_index.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "replication/le_bytes.h"
#include "replication/test_util.h"

namespace georep::replication {
namespace {

using testing::ReadFile;
using testing::TempDir;

IndexEntry File(uint64_t ino, int64_t mtime) {
  IndexEntry e;
  e.type = EntryType::kRegular;
  e.mode = 0644;
  e.size = 10;
  e.ino = ino;
  e.mtime_ns = mtime;
  return e;
}

// Applies `deltas` to `*index` and appends them to `store` as one record.
void AppendRecord(IndexStore& store, const std::vector<IndexDelta>& deltas, SyncedIndex* index) {
  for (const auto& d : deltas) ApplyDelta(d, index);
  ASSERT_TRUE(store.Append(deltas, *index).ok());
}

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

TEST(IndexStore, LogReplaysOverTheSnapshot) {
  TempDir dir;
  SyncedIndex index;
  {
    IndexStore store(dir.path());
    ASSERT_TRUE(store.Load().ok());
    ASSERT_NO_FATAL_FAILURE(AppendRecord(store, {{"a", File(1, 5)}, {"b", File(2, 6)}}, &index));
    ASSERT_TRUE(store.Fold(index).ok());  // a snapshot with a and b
    ASSERT_NO_FATAL_FAILURE(
        AppendRecord(store, {{"a", std::nullopt}, {"c", File(3, 7)}, {"b", File(2, 9)}}, &index));
    EXPECT_GT(store.log_bytes(), 0u);
  }
  IndexStore again(dir.path());
  auto loaded = again.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(*loaded, index);
  EXPECT_EQ(loaded->count("a"), 0u);
  EXPECT_EQ(loaded->at("b").mtime_ns, 9);
  EXPECT_EQ(again.dropped_log_bytes(), 0u);
}

// An entry as format 2 (and log-1) wrote it: no `linked`.
std::string OlderEntry(const std::string& path, const IndexEntry& e) {
  std::string out;
  le::PutStr(&out, path);
  for (uint64_t v :
       {static_cast<uint64_t>(e.type), uint64_t{e.mode}, uint64_t{e.uid}, uint64_t{e.gid}, e.size,
        e.dev, e.ino, static_cast<uint64_t>(e.mtime_ns), static_cast<uint64_t>(e.ctime_ns)})
    le::PutU64(&out, v);
  le::PutStr(&out, e.target);
  return out;
}

// A state directory of the previous format (snapshot and log) reads whole -- nothing is sent
// again after an upgrade -- and the next commit rewrites it in the new one.
TEST(IndexStore, ThePreviousFormatReadsAndTheNextAppendRewritesIt) {
  TempDir dir;
  std::ofstream(dir.path() + "/index", std::ios::binary)
      << "georep-index-2\n" + OlderEntry("a", File(1, 5)) + OlderEntry("b", File(2, 6));
  std::string payload;
  le::PutU64(&payload, 1);
  payload += OlderEntry("c", File(3, 7));
  std::string record = "georep-index-log-1\n";
  le::PutU64(&record, payload.size());
  record += payload;
  le::PutU64(&record, XXH3_64bits(payload.data(), payload.size()));
  std::ofstream(dir.path() + "/index.log", std::ios::binary) << record;

  IndexStore store(dir.path());
  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->size(), 3u);
  EXPECT_EQ(loaded->at("a"), File(1, 5));
  EXPECT_EQ(loaded->at("c"), File(3, 7));
  EXPECT_EQ(store.dropped_log_bytes(), 0u);

  SyncedIndex index = *loaded;
  IndexEntry linked = File(4, 8);
  linked.linked = true;
  ASSERT_NO_FATAL_FAILURE(AppendRecord(store, {{"d", linked}}, &index));
  EXPECT_EQ(store.folds(), 1u) << "an older format is folded into the new one";
  EXPECT_EQ(ReadFile(dir.path() + "/index").substr(0, 15), "georep-index-3\n");
  IndexStore again(dir.path());
  auto reloaded = again.Load();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString();
  EXPECT_EQ(*reloaded, index);
  EXPECT_TRUE(reloaded->at("d").linked);
}

TEST(IndexStore, ATornRecordIsDroppedWholeAndTheNextAppendFolds) {
  TempDir dir;
  SyncedIndex index;
  IndexStore store(dir.path());
  ASSERT_TRUE(store.Load().ok());
  ASSERT_NO_FATAL_FAILURE(AppendRecord(store, {{"a", File(1, 5)}}, &index));
  const SyncedIndex after_one = index;
  ASSERT_NO_FATAL_FAILURE(AppendRecord(store, {{"b", File(2, 6)}, {"c", File(3, 7)}}, &index));
  // A worker killed in the middle of writing the second record.
  const std::string log = dir.path() + "/index.log";
  ASSERT_EQ(::truncate(log.c_str(), static_cast<off_t>(FileSize(log) - 5)), 0);

  IndexStore reloaded(dir.path());
  auto loaded = reloaded.Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, after_one);  // not half of the second batch: none of it
  EXPECT_GT(reloaded.dropped_log_bytes(), 0u);
  // A damaged byte inside a record is caught by its checksum the same way.
  SyncedIndex idx = *loaded;
  ASSERT_NO_FATAL_FAILURE(AppendRecord(reloaded, {{"d", File(4, 8)}}, &idx));
  EXPECT_EQ(reloaded.folds(), 1u);  // the damaged tail is gone with the fold
  IndexStore last(dir.path());
  auto final_index = last.Load();
  ASSERT_TRUE(final_index.ok());
  EXPECT_EQ(*final_index, idx);
  EXPECT_EQ(last.dropped_log_bytes(), 0u);
}

TEST(IndexStore, FlippedByteStopsTheReplayAtThatRecord) {
  TempDir dir;
  SyncedIndex index;
  IndexStore store(dir.path());
  ASSERT_TRUE(store.Load().ok());
  ASSERT_NO_FATAL_FAILURE(AppendRecord(store, {{"a", File(1, 5)}}, &index));
  const SyncedIndex after_one = index;
  const uint64_t first_end = store.log_bytes();
  ASSERT_NO_FATAL_FAILURE(AppendRecord(store, {{"b", File(2, 6)}}, &index));
  std::fstream f(dir.path() + "/index.log", std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(first_end + 12));
  f.put('\x7f');
  f.close();
  IndexStore reloaded(dir.path());
  auto loaded = reloaded.Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, after_one);
}

TEST(IndexStore, TheLogIsFoldedOnceItOutgrowsTheSnapshot) {
  TempDir dir;
  SyncedIndex index;
  IndexStore store(dir.path());
  ASSERT_TRUE(store.Load().ok());
  // Batches of 1000 changes: the log grows until it passes max(1 MiB, snapshot), then folds.
  for (uint64_t batch = 0; batch < 40; ++batch) {
    std::vector<IndexDelta> deltas;
    for (uint64_t i = 0; i < 1000; ++i)
      deltas.push_back({"dir/file" + std::to_string(i), File(i, static_cast<int64_t>(batch))});
    for (const auto& d : deltas) ApplyDelta(d, &index);
    ASSERT_TRUE(store.Append(deltas, index).ok());
    EXPECT_LE(store.log_bytes(),
              std::max<uint64_t>(1 << 20, FileSize(dir.path() + "/index")) + uint64_t{1000} * 200);
  }
  EXPECT_GE(store.folds(), 1u);
  IndexStore reloaded(dir.path());
  auto loaded = reloaded.Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, index);
}

TEST(IndexStore, AnOlderIndexFormatReadsAsEmptyAndAForeignFileIsAnError) {
  TempDir dir;
  { std::ofstream(dir.path() + "/index") << "georep-index-1\nwhatever"; }
  IndexStore store(dir.path());
  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->empty());
  { std::ofstream(dir.path() + "/index") << "not an index at all"; }
  EXPECT_EQ(store.Load().status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace georep::replication

namespace georep::replication {
namespace {

// Subtree of a plain map, the slow way: every entry looked at.
std::vector<std::pair<std::string, IndexEntry>> SubtreeOf(const SyncedIndex& index,
                                                          const std::string& path) {
  std::vector<std::pair<std::string, IndexEntry>> out;
  for (const auto& [p, e] : index)
    if (path == "." || p == path || p.starts_with(path + "/")) out.emplace_back(p, e);
  return out;
}

// A pending index reads as a copy of its base with the same changes made -- also while the
// base takes in (acknowledged) changes of paths it changed, and with names that sort between
// a directory and what is beneath it ("a", "a-1", "a.z", "a/b").
TEST(PendingIndex, ReadsAsACopyOfItsBaseWithTheChangesMade) {
  const std::vector<std::string> paths = {".",     "a",    "a-1", "a.z", "a/b", "a/b-2",
                                          "a/b/c", "a/b0", "a0",  "b",   "b/a", "ab"};
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    SyncedIndex base;
    for (const auto& p : paths)
      if (rng() % 2) base[p] = File(rng() % 100, 1);
    SyncedIndex copy = base;
    PendingIndex pending(base);
    std::set<std::string> changed;
    for (int op = 0; op < 20; ++op) {
      const std::string& p = paths[rng() % paths.size()];
      switch (rng() % 3) {
        case 0: {
          const IndexEntry e = File(rng() % 100, static_cast<int64_t>(op));
          pending.Set(p, e);
          copy[p] = e;
          changed.insert(p);
          break;
        }
        case 1:
          pending.Erase(p);
          copy.erase(p);
          changed.insert(p);
          break;
        default:
          // An acknowledged batch reaches the base: only paths this pass changed.
          if (changed.count(p)) base[p] = File(999, -1);
      }
    }
    for (const auto& p : paths) {
      EXPECT_EQ(pending.Find(p).has_value(), copy.count(p) == 1) << p;
      if (copy.count(p)) {
        EXPECT_EQ(*pending.Find(p), copy[p]) << p;
      }
      EXPECT_EQ(pending.Subtree(p), SubtreeOf(copy, p)) << p;
    }
  }
}

}  // namespace
}  // namespace georep::replication
