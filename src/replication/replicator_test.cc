#include "replication/replicator.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "replication/replicator_batch.h"

namespace georep::replication {
namespace {

// Settles `b` (no refusals from the agent, no source moved on) and applies it to `index`.
SettledBatch SettleInto(Batch& b, SyncedIndex* index) {
  Refusals refused;
  auto unchanged = [](const std::vector<IndexDelta>&, const std::string&) { return false; };
  SettledBatch s = Resolve(b, &refused, unchanged);
  for (const IndexDelta& d : SettledDeltas(s, *index)) ApplyDelta(d, index);
  return s;
}

// What the sender could not send: an entry the source shows gone or changed since the scan is
// looked at again (not a failure); anything else -- also a "not found" that the source does
// not bear out -- is refused, and so counted as a failure.
TEST(NoteUnsent, OnlyAnEntryTheSourceShowsGoneIsLookedAtAgain) {
  Batch b;
  b.deltas = {{"gone", IndexEntry{}}, {"still-there", IndexEntry{}}};
  std::vector<std::string> asked;
  auto moved_on = [&](const std::vector<IndexDelta>& sent, const std::string& path) {
    EXPECT_EQ(sent.size(), 2u);
    asked.push_back(path);
    return path == "gone";
  };
  NoteUnsent({"gone", Status::NotFound("cannot open 'gone'")}, &b, moved_on);
  NoteUnsent({"still-there", Status::NotFound("cannot open 'still-there'")}, &b, moved_on);
  NoteUnsent({"unreadable", Status::PermissionDenied("cannot open 'unreadable'")}, &b, moved_on);
  EXPECT_EQ(b.resend, std::set<std::string>{"gone"});
  ASSERT_EQ(b.refused.size(), 2u);
  EXPECT_EQ(b.refused[0].first, "still-there");
  EXPECT_EQ(b.refused[1].first, "unreadable");
  EXPECT_EQ(b.refused[1].second, "cannot open 'unreadable'");
  EXPECT_EQ(asked, (std::vector<std::string>{"gone", "still-there"}))
      << "the source is asked only about a not-found entry";
}

// An operation the agent refused because a parent or entry the index says is there is missing
// (kNotFound) marks its batch: the index is wrong about the destination there, and the next
// pass reconciles instead of sending the same operation again. Other refusals do not.
TEST(Resolve, ANotFoundRefusalMarksTheBatchForReconciling) {
  Encoder encoder;
  std::string replies;
  ASSERT_TRUE(
      encoder.Append(Error{2, ErrorCode::kNotFound, "parent directory of 'a/b'"}, &replies).ok());
  ASSERT_TRUE(encoder.Append(Error{3, ErrorCode::kPermission, "cannot write 'c'"}, &replies).ok());
  ASSERT_TRUE(encoder.Append(Ack{4, true}, &replies).ok());
  ASSERT_TRUE(encoder.Append(Error{6, ErrorCode::kNoSpace, "full"}, &replies).ok());
  ASSERT_TRUE(encoder.Append(Ack{7, true}, &replies).ok());
  Decoder decoder;
  uint64_t acked = 0;
  Refusals refused;
  ASSERT_TRUE(ParseReplies(&decoder, &replies, &acked, &refused).ok());
  EXPECT_EQ(acked, 7u);
  ASSERT_EQ(refused.size(), 3u);
  EXPECT_TRUE(refused.at(2).not_found);
  EXPECT_FALSE(refused.at(3).not_found);

  auto unchanged = [](const std::vector<IndexDelta>&, const std::string&) { return false; };
  Batch first;
  first.barrier = 4;
  first.op_path = {{2, "a/b"}, {3, "c"}};
  const SettledBatch one = Resolve(first, &refused, unchanged);
  EXPECT_TRUE(one.not_found);
  EXPECT_EQ(one.refused.size(), 2u);
  Batch second;
  second.barrier = 7;
  second.op_path = {{6, "d"}};
  const SettledBatch two = Resolve(second, &refused, unchanged);
  EXPECT_FALSE(two.not_found);
  EXPECT_EQ(two.refused.size(), 1u);
  EXPECT_TRUE(refused.empty());
}

// Found by the fault harness (seed 30017): the destination was full; a file's new version was
// refused (ENOSPC on its FileData), and the next file of the pass had vanished from the source
// before the sender could open it: it sent nothing, so its operation "ended" at the seq the
// refused file's SetMeta ended at. Recorded there, it took the refused file's place: the refusal
// went to the vanished file (looked at again anyway) and the refused file was recorded as
// applied -- never sent again, the destination keeping its old version for good.
TEST(NoteOperation, AnOperationThatSentNothingDoesNotTakeTheRefusalsOfTheOneBefore) {
  Batch b;
  uint64_t marked = 0;
  NoteOperation(&b.op_path, &marked, 4, "full");  // FileBegin 1, FileData 2, FileEnd 3, SetMeta 4
  NoteOperation(&b.op_path, &marked, 4, "vanished");  // could not be opened: nothing sent
  NoteOperation(&b.op_path, &marked, 6, "next");      // Symlink 5, SetMeta 6
  b.barrier = 7;
  b.deltas = {{"full", IndexEntry{}}, {"vanished", IndexEntry{}}, {"next", IndexEntry{}}};
  b.resend.insert("vanished");
  EXPECT_EQ(b.op_path, (std::map<uint64_t, std::string>{{4, "full"}, {6, "next"}}));

  Refusals refused = {{2, {"destination file system is full", false, false}}};
  auto unchanged = [](const std::vector<IndexDelta>&, const std::string&) { return false; };
  const SettledBatch s = Resolve(b, &refused, unchanged);
  ASSERT_EQ(s.refused.size(), 1u);
  EXPECT_EQ(s.refused[0].first, "full");
  EXPECT_EQ(s.resend, std::set<std::string>{"vanished"});

  // Nothing sent right after a Barrier: the Barrier's seq is no operation's.
  Batch after;
  uint64_t at_barrier = 7;
  NoteOperation(&after.op_path, &at_barrier, 7, "vanished-too");
  EXPECT_TRUE(after.op_path.empty());
}

// Found by the fault harness (seed 32082): a pass moved directory a to b (a Rename: a/f went
// with it at the destination) and sent b/f again, but b/f could not be read -- the source had
// removed b meanwhile -- so it was to be looked at again "as the index had it". The index had
// it as a/f only: b/f left the index, while the destination held it. The next pass moved b
// elsewhere (a new directory got its inode) and deleted what the index had in it: b/f stayed
// at the destination for good. It stays in the index where the Rename put it, not current.
TEST(SettledDeltas, AFileARenameMovedStaysWhereItWentWhenItsSendingFails) {
  IndexEntry dir;
  dir.type = EntryType::kDirectory;
  dir.ino = 2;
  IndexEntry file;
  file.type = EntryType::kRegular;
  file.ino = 3;
  file.size = 10;
  file.mtime_ns = 50;
  IndexEntry changed = file;
  changed.mtime_ns = 60;
  SyncedIndex index = {{"a", dir}, {"a/f", file}, {"g", file}};

  Batch b;
  b.barrier = 9;
  // Rename a -> b (the move's deltas), then b/f sent (it changed), then a new file n.
  b.deltas = {{"a", std::nullopt}, {"a/f", std::nullopt}, {"b", dir},
              {"b/f", file},       {"b/f", changed},      {"n", changed}};
  b.moved_in = {{"b", dir}, {"b/f", file}};
  b.op_path = {{1, "b"}, {5, "b/f"}, {8, "n"}};
  b.resend = {"b/f", "n"};  // neither could be opened: gone from the source
  b.refused = {{"g", "destination file system is full"}};
  SettledBatch s = SettleInto(b, &index);

  EXPECT_FALSE(index.count("a"));
  EXPECT_FALSE(index.count("a/f"));
  ASSERT_TRUE(index.count("b/f")) << "the destination holds it there";
  EXPECT_EQ(index.at("b/f").ino, 3u);
  // What the Rename carried there: its content known (not sent again unless the source differs),
  // its metadata not (ctime -1: sent again); looked at again next pass, or deleted.
  EXPECT_EQ(index.at("b/f").mtime_ns, 50);
  EXPECT_EQ(index.at("b/f").size, 10u);
  EXPECT_EQ(index.at("b/f").ctime_ns, -1);
  EXPECT_FALSE(index.count("n")) << "never at the destination";
  ASSERT_TRUE(index.count("g"));
  EXPECT_EQ(index.at("g").mtime_ns, -1);
}

// A directory renamed away before its SetMeta was sent (at the end of the pass): the SetMeta
// went without its xattrs. The directory was made at the destination, so it stays in the index
// -- found again under its new name by its inode, and its metadata sent again (ctime -1). As a
// resend it left the index while the destination kept it: the next pass copied the renamed
// tree anew and the old one stayed at the destination for good (fault harness, seed 41010).
TEST(SettledDeltas, AnEntryWhoseMetadataWentWithoutItsXattrsStaysWithItsMetadataNotCurrent) {
  IndexEntry dir;
  dir.type = EntryType::kDirectory;
  dir.ino = 2;
  dir.mtime_ns = 50;
  dir.ctime_ns = 70;
  SyncedIndex index;
  Batch b;
  b.barrier = 4;
  b.deltas = {{"d", dir}};
  b.op_path = {{1, "d"}, {3, "d"}};
  NoteMetaUnsent(ScanError{"d", Status::NotFound("gone")}, &b);
  NoteMetaUnsent(ScanError{"e", Status::IOError("cannot read xattrs")}, &b);
  SettledBatch s = SettleInto(b, &index);
  ASSERT_EQ(s.refused.size(), 1u);  // a read error is a failure
  EXPECT_EQ(s.refused[0].first, "e");
  ASSERT_TRUE(index.count("d")) << "the destination holds it";
  EXPECT_EQ(index.at("d").ino, 2u);
  EXPECT_EQ(index.at("d").mtime_ns, 50);
  EXPECT_EQ(index.at("d").ctime_ns, -1);
}

TEST(WorkerStatus, JsonRoundTripKeepsEveryField) {
  WorkerStatus s;
  s.state = "Active";
  s.crawl = "Changelog Crawl";
  s.change_capture = "fanotify";
  s.last_synced_ms = 1700000000123;
  s.pending_entry = 1;
  s.pending_data = 2;
  s.pending_meta = 3;
  s.failures = 4;
  s.bytes_sent = 5;
  s.files_sent = 6;
  s.wire_bytes = 7;
  s.delta_files = 8;
  s.delta_copied_bytes = 9;
  s.bytes_applied = 10;
  s.lag_ms = 11;
  s.oldest_pending_ms = 1700000000100;
  s.pass_scanned = 13;
  s.capture_gaps = 14;
  s.capture_warning = "14 of 20 directories have no inotify watch";
  s.repaired = "repair-1";
  s.reason = "why \"quoted\"";
  s.updated_ms = 12;
  auto back = StatusFromJson(StatusToJson(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(StatusToJson(*back), StatusToJson(s));
  EXPECT_EQ(back->change_capture, "fanotify");
  EXPECT_EQ(back->crawl, "Changelog Crawl");
  EXPECT_EQ(back->last_synced_ms, 1700000000123);
  EXPECT_EQ(back->reason, "why \"quoted\"");
  EXPECT_EQ(back->pass_scanned, 13u);
  EXPECT_EQ(back->capture_gaps, 14u);
  EXPECT_EQ(back->capture_warning, "14 of 20 directories have no inotify watch");
  EXPECT_EQ(back->oldest_pending_ms, 1700000000100);
  EXPECT_EQ(back->repaired, "repair-1");
  EXPECT_EQ(back->bytes_applied, 10);
}

TEST(WorkerStatus, OlderStatusWithoutChangeCaptureStillReads) {
  auto s = StatusFromJson(R"({"state":"Active","crawl":"Hybrid Crawl","lag_ms":3})");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->state, "Active");
  EXPECT_EQ(s->change_capture, "");
  EXPECT_EQ(s->lag_ms, 3);
  EXPECT_EQ(s->capture_gaps, 0u) << "an older worker reports no gaps";
  EXPECT_EQ(s->capture_warning, "");
  EXPECT_EQ(s->bytes_applied, -1) << "an older worker counts nothing applied: unknown, not 0";
  EXPECT_FALSE(StatusFromJson("not json").ok());
}

}  // namespace
}  // namespace georep::replication
