#include "replication/reconcile.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace georep::replication {
namespace {

ScanEntry Dir(const std::string& path, uint64_t ino, int64_t mtime = 100) {
  ScanEntry e;
  e.path = path;
  e.type = EntryType::kDirectory;
  e.mode = S_IFDIR | 0755;
  e.dev = 1;
  e.ino = ino;
  e.nlink = 2;
  e.mtime_ns = mtime;
  e.ctime_ns = 7;
  return e;
}

ScanEntry File(const std::string& path, uint64_t ino, uint64_t size, int64_t mtime,
               uint32_t nlink = 1) {
  ScanEntry e;
  e.path = path;
  e.type = EntryType::kRegular;
  e.mode = S_IFREG | 0644;
  e.dev = 1;
  e.ino = ino;
  e.nlink = nlink;
  e.size = size;
  e.mtime_ns = mtime;
  e.ctime_ns = 7;
  return e;
}

// The destination's view of a source entry, on inode `ino` of the destination.
ListedEntry Listed(const ScanEntry& e, uint64_t ino) {
  return ListedEntry{e.path,     e.mode, e.uid,   e.gid,           e.size,
                     e.mtime_ns, ino,    e.nlink, e.symlink_target};
}

SyncedIndex IndexOf(const std::vector<ScanEntry>& entries) {
  SyncedIndex index;
  for (const ScanEntry& e : entries) index[e.path] = IndexEntryOf(e);
  return index;
}

std::map<std::string, std::optional<IndexEntry>> ByPath(const std::vector<IndexDelta>& deltas) {
  std::map<std::string, std::optional<IndexEntry>> out;
  for (const IndexDelta& d : deltas) out[d.path] = d.entry;
  return out;
}

// A directory renamed at the destination whose Ack never reached the index (the worker was
// killed): the index still has the old name, the destination and the source the new one. The
// index takes the destination's truth; the files are kept as synced, not sent again.
TEST(Reconcile, ARenameAppliedButNotRecordedIsTakenAsTheDestinationHasIt) {
  const ScanEntry root = Dir(".", 1), old_dir = Dir("a", 2), moved_dir = Dir("b", 2);
  const ScanEntry old_file = File("a/f", 3, 10, 50), moved_file = File("b/f", 3, 10, 50);
  const SyncedIndex index = IndexOf({root, old_dir, old_file});
  const std::vector<ScanEntry> source = {root, moved_dir, moved_file};
  const std::vector<ListedEntry> destination = {Listed(root, 91), Listed(moved_dir, 92),
                                                Listed(moved_file, 93)};

  const Reconciliation r = ReconcileIndex(index, ".", &source, destination);
  SyncedIndex after = index;
  for (const IndexDelta& d : r.deltas) ApplyDelta(d, &after);
  EXPECT_EQ(after, IndexOf(source));
  EXPECT_EQ(r.counts.kept, 3u);
  EXPECT_EQ(r.counts.missing, 2u);
  EXPECT_EQ(r.counts.stale + r.counts.meta + r.counts.extra, 0u);
  EXPECT_TRUE(r.relink.empty());
}

// The source renamed a directory and the worker was killed before it sent the rename: the
// destination still has the old name, which the index recorded with the source's inodes. It
// stays in the index as recorded (not as an unknown extra), so the pass finds the move by inode
// and renames it there instead of deleting it and sending its files again.
TEST(Reconcile, ARenameNotYetSentKeepsTheIndexEntriesSoThePassMovesThem) {
  const ScanEntry root = Dir(".", 1), old_dir = Dir("a", 2), moved_dir = Dir("b", 2);
  const ScanEntry old_file = File("a/f", 3, 10, 50), moved_file = File("b/f", 3, 10, 50);
  ScanEntry touched = File("a/g", 4, 10, 50);
  const SyncedIndex index = IndexOf({root, old_dir, old_file, touched});
  const std::vector<ScanEntry> source = {root, moved_dir, moved_file, File("b/g", 4, 10, 50)};
  ListedEntry g_there = Listed(touched, 94);
  g_there.mode = S_IFREG | 0600;  // its metadata is not what the index says
  ListedEntry unknown{"a/h", S_IFREG | 0644, 0, 0, 5, 60, 95, 1, ""};
  const std::vector<ListedEntry> destination = {Listed(root, 91), Listed(old_dir, 92),
                                                Listed(old_file, 93), g_there, unknown};

  const Reconciliation r = ReconcileIndex(index, ".", &source, destination);
  const auto by_path = ByPath(r.deltas);
  EXPECT_FALSE(by_path.count("a"));  // as recorded: source inode 2, a rename's source
  EXPECT_FALSE(by_path.count("a/f"));
  ASSERT_TRUE(by_path.count("a/g") && by_path.at("a/g"));
  EXPECT_EQ(by_path.at("a/g")->ino, 4u);
  EXPECT_EQ(by_path.at("a/g")->ctime_ns, -1);  // its metadata goes again
  ASSERT_TRUE(by_path.count("a/h") && by_path.at("a/h"));
  EXPECT_EQ(by_path.at("a/h")->ino, 0u);  // never recorded: never a rename's source
  EXPECT_EQ(r.counts.extra, 4u);
  EXPECT_EQ(r.counts.stale + r.counts.missing, 0u);
}

// Renamed twice: the agent applied a -> b, the worker was killed before it recorded it, and the
// source has since renamed b -> c. The destination's b is neither in the source nor in the
// index; its contents are those the index recorded under a. It is taken for a (the index's
// entries, source inodes included, now under b), so the pass renames b -> c there instead of
// deleting b and sending c's files again.
TEST(Reconcile, ADirectoryRenamedTwiceIsPairedWithWhatTheIndexRecordedByItsContents) {
  const ScanEntry root = Dir(".", 1);
  const ScanEntry a = Dir("a", 2), af = File("a/f", 3, 10, 50), ag = File("a/g", 4, 20, 60);
  const ScanEntry b = Dir("b", 2), bf = File("b/f", 3, 10, 50), bg = File("b/g", 4, 20, 60);
  const ScanEntry c = Dir("c", 2), cf = File("c/f", 3, 10, 50), cg = File("c/g", 4, 20, 60);
  // An empty directory renamed the same way has nothing to be paired by: not paired.
  const ScanEntry e = Dir("e", 5), e2 = Dir("e2", 5);
  const SyncedIndex index = IndexOf({root, a, af, ag, e});
  const std::vector<ScanEntry> source = {root, c, cf, cg, Dir("e3", 5)};
  const std::vector<ListedEntry> destination = {Listed(root, 91), Listed(b, 92), Listed(bf, 93),
                                                Listed(bg, 94), Listed(e2, 95)};

  const Reconciliation r = ReconcileIndex(index, ".", &source, destination);
  SyncedIndex after = index;
  for (const IndexDelta& d : r.deltas) ApplyDelta(d, &after);
  ASSERT_TRUE(after.count("b") && after.count("b/f") && after.count("b/g"));
  EXPECT_EQ(after.at("b").ino, 2u);
  EXPECT_EQ(after.at("b/f").ino, 3u);
  EXPECT_EQ(after.at("b/g").ino, 4u);
  EXPECT_EQ(after.at("b/g").mtime_ns, 60);  // its content is known: not sent again
  EXPECT_FALSE(after.count("a") || after.count("a/f"));
  ASSERT_TRUE(after.count("e2"));
  EXPECT_EQ(after.at("e2").ino, 0u);
}

// Renamed twice while a writer was busy in it: the destination's copy lacks a file the index
// records, has one the index never recorded, and holds an older version of another. Most of
// its contents match: still paired, the unchanged file not sent again. Two destination
// directories that match one index directory equally well are not paired.
TEST(Reconcile, ADirectoryRenamedTwiceIsPairedThoughSomeOfItsContentsChanged) {
  const ScanEntry root = Dir(".", 1), a = Dir("a", 2);
  const ScanEntry af = File("a/f", 3, 10, 50), ag = File("a/g", 4, 20, 60),
                  ah = File("a/h", 5, 30, 70);
  const SyncedIndex index = IndexOf({root, a, af, ag, ah, File("a/gone", 6, 1, 1)});
  const std::vector<ScanEntry> source = {root, Dir("c", 2), File("c/f", 3, 10, 50),
                                         File("c/g", 4, 25, 65), File("c/h", 5, 30, 70)};
  const ScanEntry b = Dir("b", 2), bf = File("b/f", 3, 10, 50), bg = File("b/g", 4, 20, 60);
  ListedEntry bh = Listed(File("b/h", 5, 30, 70), 96);
  bh.size = 12;  // an older version
  const std::vector<ListedEntry> destination = {Listed(root, 91),
                                                Listed(b, 92),
                                                Listed(bf, 93),
                                                Listed(bg, 94),
                                                bh,
                                                {"b/new", S_IFREG | 0644, 0, 0, 5, 9, 97, 1, ""}};
  const Reconciliation r = ReconcileIndex(index, ".", &source, destination);
  SyncedIndex after = index;
  for (const IndexDelta& d : r.deltas) ApplyDelta(d, &after);
  ASSERT_TRUE(after.count("b") && after.count("b/f"));
  EXPECT_EQ(after.at("b").ino, 2u);
  EXPECT_EQ(after.at("b/f").ino, 3u);  // moved with b, not sent again
  EXPECT_EQ(after.at("b/f").mtime_ns, 50);
  ASSERT_TRUE(after.count("b/h") && after.count("b/new"));
  EXPECT_EQ(after.at("b/h").ino, 0u);  // not what the index recorded: deleted, sent again
  EXPECT_EQ(after.at("b/new").ino, 0u);

  // b and b2 hold the same names: which one the index's a became is not known.
  std::vector<ListedEntry> two = destination;
  for (const ListedEntry& d : destination)
    if (d.path.starts_with("b")) {
      ListedEntry copy = d;
      copy.path.insert(1, "2");
      two.push_back(copy);
    }
  const Reconciliation r2 = ReconcileIndex(index, ".", &source, two);
  SyncedIndex after2 = index;
  for (const IndexDelta& d : r2.deltas) ApplyDelta(d, &after2);
  ASSERT_TRUE(after2.count("b") && after2.count("b2"));
  EXPECT_EQ(after2.at("b").ino, 0u);
  EXPECT_EQ(after2.at("b2").ino, 0u);
}

// A file the source changed while the worker ran, whose new version the destination holds
// with the source's size and mtime, but which the index never recorded as sent (the worker was
// killed with it in flight, perhaps read in the clock tick of a write that left size and mtime
// as they were): sent again. Size and mtime alone are trusted only on a first sync.
TEST(Reconcile, SizeAndMtimeVouchForAFileOnlyWhereTheIndexRecordsThatVersion) {
  const ScanEntry root = Dir(".", 1), was = File("f", 2, 10, 50), now = File("f", 2, 10, 60);
  ScanEntry racy = File("r", 3, 10, 70);
  SyncedIndex index = IndexOf({root, was, racy});
  index["r"].mtime_ns = kRacyMtime;  // sent, but read in the tick of its last change
  const std::vector<ScanEntry> source = {root, now, racy};
  const std::vector<ListedEntry> destination = {Listed(root, 91), Listed(now, 92),
                                                Listed(racy, 93)};
  Reconciliation r = ReconcileIndex(index, ".", &source, destination);
  auto by_path = ByPath(r.deltas);
  ASSERT_TRUE(by_path.count("f") && by_path.at("f"));
  EXPECT_EQ(by_path.at("f")->mtime_ns, -1);  // sent again
  ASSERT_TRUE(by_path.count("r") && by_path.at("r"));
  EXPECT_EQ(by_path.at("r")->mtime_ns, -1);
  EXPECT_EQ(r.counts.stale, 2u);

  // A first sync into a destination that already holds the files: size and mtime vouch.
  r = ReconcileIndex(SyncedIndex{}, ".", &source, destination);
  EXPECT_EQ(r.counts.stale, 0u);
  EXPECT_EQ(r.counts.meta + r.counts.kept, 3u);
}

// What differs is recorded so that the next pass sends just that: content again, metadata
// only, a directory's times; missing entries leave the index, extra ones enter it to be deleted.
TEST(Reconcile, EachKindOfDifferenceIsRecordedForTheNextPass) {
  const ScanEntry root = Dir(".", 1), dir = Dir("d", 2, 100);
  const ScanEntry same = File("d/same", 3, 10, 50), changed = File("d/changed", 4, 10, 50);
  const ScanEntry chmodded = File("d/mode", 5, 10, 50), gone = File("d/gone", 6, 10, 50);
  const std::vector<ScanEntry> source = {root, dir, same, changed, chmodded, gone};
  const SyncedIndex index = IndexOf(source);

  ListedEntry dir_there = Listed(dir, 12);
  dir_there.mtime_ns = 999;  // its contents arrived after its times were set
  ListedEntry changed_there = Listed(changed, 14);
  changed_there.size = 3;  // an older version
  ListedEntry mode_there = Listed(chmodded, 15);
  mode_there.mode = S_IFREG | 0600;
  const ListedEntry extra{"d/extra", S_IFREG | 0644, 0, 0, 5, 60, 16, 1, ""};
  const std::vector<ListedEntry> destination = {
      Listed(root, 11), dir_there, changed_there, extra, mode_there, Listed(same, 13)};

  const Reconciliation r = ReconcileIndex(index, ".", &source, destination);
  const auto by_path = ByPath(r.deltas);
  EXPECT_FALSE(by_path.count("d/same"));  // as recorded
  ASSERT_TRUE(by_path.count("d/changed") && by_path.at("d/changed"));
  EXPECT_EQ(by_path.at("d/changed")->mtime_ns, -1);  // sent again
  EXPECT_EQ(by_path.at("d/changed")->size, 3u);
  ASSERT_TRUE(by_path.count("d/mode") && by_path.at("d/mode"));
  EXPECT_EQ(by_path.at("d/mode")->mtime_ns, 50);  // the content stays
  EXPECT_EQ(by_path.at("d/mode")->ctime_ns, -1);  // the metadata goes again
  ASSERT_TRUE(by_path.count("d") && by_path.at("d"));
  EXPECT_EQ(by_path.at("d")->mtime_ns, -1);
  ASSERT_TRUE(by_path.count("d/gone"));
  EXPECT_FALSE(by_path.at("d/gone"));
  ASSERT_TRUE(by_path.count("d/extra") && by_path.at("d/extra"));
  EXPECT_EQ(by_path.at("d/extra")->ino, 0u);  // never a rename's source
  EXPECT_EQ(r.counts.kept, 2u);
  EXPECT_EQ(r.counts.meta, 2u);
  EXPECT_EQ(r.counts.stale, 1u);
  EXPECT_EQ(r.counts.missing, 1u);
  EXPECT_EQ(r.counts.extra, 1u);
}

// Two links of one source file that are two files at the destination are named for relinking;
// links that share an inode there are not.
TEST(Reconcile, LinksSplitAtTheDestinationAreJoinedAgain) {
  const ScanEntry root = Dir(".", 1);
  const ScanEntry a = File("a", 5, 10, 50, 2), b = File("b", 5, 10, 50, 2);
  const ScanEntry c = File("c", 6, 10, 50, 2), d = File("d", 6, 10, 50, 2);
  const std::vector<ScanEntry> source = {root, a, b, c, d};
  const std::vector<ListedEntry> destination = {Listed(root, 1), Listed(a, 20), Listed(b, 21),
                                                Listed(c, 30), Listed(d, 30)};
  const Reconciliation r = ReconcileIndex(IndexOf(source), ".", &source, destination);
  EXPECT_EQ(r.relink, (std::set<std::pair<uint64_t, uint64_t>>{{1, 5}}));
  EXPECT_EQ(r.counts.relinked, 1u);
  EXPECT_TRUE(r.deltas.empty());  // the content is there: only the links change
}

// Found by the fault harness: a link made in directory d (sent as a file of its own, its
// joining left to a full pass) and the worker killed before that pass; meanwhile the source
// renamed d -> e. The destination's d/l is a separate file the pass moves to e/l: it is named
// for joining too, though no path of it is where the source has it.
TEST(Reconcile, ALinkLeftSeparateInADirectoryTheSourceRenamedIsJoinedAgain) {
  const ScanEntry root = Dir(".", 1), d = Dir("d", 2), e = Dir("e", 2);
  const ScanEntry f = File("f", 5, 10, 50, 2), in_d = File("d/l", 5, 10, 50, 2);
  const std::vector<ScanEntry> source = {root, e, f, File("e/l", 5, 10, 50, 2)};
  const SyncedIndex index = IndexOf({root, d, f, in_d});
  const std::vector<ListedEntry> destination = {Listed(root, 1), Listed(d, 2), Listed(f, 20),
                                                Listed(in_d, 21)};
  const Reconciliation r = ReconcileIndex(index, ".", &source, destination);
  EXPECT_EQ(r.relink, (std::set<std::pair<uint64_t, uint64_t>>{{1, 5}}));
  // Joined already (one inode there): nothing to do.
  const std::vector<ListedEntry> joined = {Listed(root, 1), Listed(d, 2), Listed(f, 20),
                                           Listed(in_d, 20)};
  EXPECT_TRUE(ReconcileIndex(index, ".", &source, joined).relink.empty());
}

// Found by the fault harness (seed 30348): three links of one file; while no worker ran, the
// source renamed another file -- empty too, of the same mtime -- over one of them (c). The
// destination still has c as a link of the other two, which its size and mtime made pass for the
// renamed file: its metadata went there, onto the inode of all three (a chmod 0444 of c made a
// and b read-only at the destination). A path linked there to another source file's paths is
// sent again, a file of its own; the links that keep the inode stay as they are.
TEST(Reconcile, APathLinkedAtTheDestinationToAnotherSourceFileIsSentAgain) {
  const ScanEntry root = Dir(".", 1);
  const ScanEntry a = File("a", 5, 0, 50, 3), b = File("b", 5, 0, 50, 3);
  const ScanEntry c = File("c", 5, 0, 50, 3), other = File("other", 6, 0, 50);
  const SyncedIndex index = IndexOf({root, a, b, c, other});
  ScanEntry replaced = File("c", 6, 0, 50);  // `other`, renamed over c
  replaced.ctime_ns = 8;
  const std::vector<ScanEntry> source = {root, File("a", 5, 0, 50, 2), File("b", 5, 0, 50, 2),
                                         replaced};
  const std::vector<ListedEntry> destination = {Listed(root, 1), Listed(a, 20), Listed(b, 20),
                                                Listed(c, 20), Listed(other, 21)};
  const Reconciliation r = ReconcileIndex(index, ".", &source, destination);
  const auto by_path = ByPath(r.deltas);
  ASSERT_TRUE(by_path.count("c") && by_path.at("c"));
  EXPECT_EQ(by_path.at("c")->mtime_ns, -1);  // sent again, whole: a new inode there
  EXPECT_EQ(by_path.at("c")->ino, 6u);
  EXPECT_FALSE(by_path.count("a"));  // they keep the inode
  EXPECT_FALSE(by_path.count("b"));
  EXPECT_EQ(r.counts.stale, 1u);
  EXPECT_EQ(r.counts.meta, 0u);
  EXPECT_TRUE(r.relink.empty());
}

// Without a scan of the source the index stands for it; a scope limits what is looked at, and
// skipped (excluded) paths are left alone.
TEST(Reconcile, WithoutASourceScanTheIndexStandsForItWithinTheScope) {
  const ScanEntry root = Dir(".", 1), sub = Dir("sub", 2), other = Dir("other", 3);
  const ScanEntry f = File("sub/f", 4, 10, 50), g = File("other/g", 5, 10, 50);
  const SyncedIndex index = IndexOf({root, sub, other, f, g});
  ListedEntry f_there = Listed(f, 44);
  f_there.mtime_ns = 51;
  const std::vector<ListedEntry> destination = {
      Listed(sub, 42), f_there, {"sub/excluded.tmp", S_IFREG | 0644, 0, 0, 1, 1, 45, 1, ""}};
  const Reconciliation r = ReconcileIndex(index, "sub", nullptr, destination,
                                          [](const std::string& p) { return p.ends_with(".tmp"); });
  const auto by_path = ByPath(r.deltas);
  EXPECT_EQ(by_path.size(), 1u);  // other/ is out of scope, sub/excluded.tmp skipped
  ASSERT_TRUE(by_path.count("sub/f") && by_path.at("sub/f"));
  EXPECT_EQ(by_path.at("sub/f")->mtime_ns, -1);
  EXPECT_EQ(by_path.at("sub/f")->ino, 4u);  // still the source's file
}

// Found by the fault harness (seed 30051): a directory chowned while no worker ran. The
// reconciliation at the next start recorded it with the source's metadata, new ctime
// included, as not current (mtime -1: its SetMeta goes at the end of the pass) -- and the agent
// was killed before that end. The next reconciliation took the entry, whose ctime is the
// source's, for metadata sent, and the owner never went: the destination kept the old one.
TEST(Reconcile, ADirectoryWhoseMetadataTheIndexHasAsNotCurrentIsSentAgain) {
  const ScanEntry root = Dir(".", 1);
  ScanEntry chowned = Dir("d", 2, 100);
  chowned.gid = 65534;
  chowned.ctime_ns = 8;
  SyncedIndex index = IndexOf({root, chowned});
  index["d"].mtime_ns = -1;  // recorded, its SetMeta not yet applied
  ListedEntry there = Listed(chowned, 92);
  there.gid = 0;  // the old owner (not compared: an agent that is not root cannot set it)
  const std::vector<ScanEntry> source = {root, chowned};
  const Reconciliation r = ReconcileIndex(index, ".", &source, {Listed(root, 91), there});
  SyncedIndex after = index;
  for (const IndexDelta& d : r.deltas) ApplyDelta(d, &after);
  EXPECT_EQ(after.at("d").mtime_ns, -1) << "its metadata goes again";
  EXPECT_EQ(r.counts.meta, 1u);
  EXPECT_EQ(r.counts.kept, 1u);  // the root

  // Once a pass sent it (the index records the same ctime, its mtime current): kept.
  index["d"].mtime_ns = 100;
  const Reconciliation sent = ReconcileIndex(index, ".", &source, {Listed(root, 91), there});
  EXPECT_EQ(sent.counts.kept, 2u);
  EXPECT_TRUE(sent.deltas.empty());
}

}  // namespace
// Owners and xattrs are not in the listing: a file whose metadata changed since the index last
// recorded it (a chown moved its ctime; the worker was killed before it was sent) has its
// metadata sent again, not its data; one the index records as sent stays as it is.
TEST(Reconcile, MetadataTheIndexDoesNotRecordAsSentGoesAgain) {
  const ScanEntry root = Dir(".", 1), same = File("same", 2, 10, 50);
  const SyncedIndex index = IndexOf({root, same, File("chowned", 3, 10, 50)});
  ScanEntry chowned = File("chowned", 3, 10, 50);
  chowned.uid = 1000;
  chowned.ctime_ns = 8;
  const std::vector<ScanEntry> source = {root, same, chowned};
  const std::vector<ListedEntry> destination = {Listed(root, 91), Listed(same, 92),
                                                Listed(File("chowned", 3, 10, 50), 93)};
  const Reconciliation r = ReconcileIndex(index, ".", &source, destination);
  EXPECT_EQ(r.counts.kept, 2u);
  EXPECT_EQ(r.counts.meta, 1u);
  EXPECT_EQ(r.counts.stale, 0u);
  const auto by_path = ByPath(r.deltas);
  ASSERT_TRUE(by_path.count("chowned"));
  ASSERT_TRUE(by_path.at("chowned").has_value());
  EXPECT_EQ(by_path.at("chowned")->ctime_ns, -1);  // its metadata goes again
  EXPECT_EQ(by_path.at("chowned")->mtime_ns, 50);  // its data does not
  EXPECT_TRUE(!by_path.count("same") || by_path.at("same") == IndexOf({same}).at("same"));
}

}  // namespace georep::replication
