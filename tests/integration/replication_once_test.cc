// The replication engine's single passes (`georep worker --once`): what a pass carries (content,
// metadata, links, moves, large files and their deltas), what it leaves alone, and what the
// next pass sends again. The real `georep worker` and agent on real directories, with trees
// compared by replication/test_util.h's DescribeTree (independent of the scanner under test).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "integration/replication_fixtures.h"

namespace georep::testing {
namespace {

namespace fs = std::filesystem;
using replication::ReadWorkerStatus;
using replication::testing::DescribeTree;
using replication::testing::GeorepTempFiles;
using replication::testing::ReadFile;

TEST(Replication, OnceCopiesContentAndMetadataAndThenSendsOnlyChanges) {
  TempDir src, dst, state;
  ASSERT_NO_FATAL_FAILURE(MakeRichTree(src.path()));
  WorkerRun w{src.path(), dst.path(), state.path()};
  auto r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(DescribeTree(dst.path()), DescribeTree(src.path()));
  auto st = ReadWorkerStatus(state.path());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->failures, 0u);
  EXPECT_GT(st->last_synced_ms, 0);
  EXPECT_EQ(st->files_sent, 5u);  // the hard link travels as a link, not a copy

  // Nothing changed: nothing is sent again.
  r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  st = ReadWorkerStatus(state.path());
  EXPECT_EQ(st->files_sent, 0u);
  EXPECT_EQ(st->bytes_sent, 0u);

  // One file changed, one renamed, one directory renamed, one deleted: exactly that moves.
  Write(src.path() + "/empty", "not empty any more");
  fs::rename(src.path() + "/dir/sub/one-mib.bin", src.path() + "/moved.bin");
  fs::rename(src.path() + "/dir", src.path() + "/renamed-dir");
  fs::remove(src.path() + "/dangling");
  r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(DescribeTree(dst.path()), DescribeTree(src.path()));
  st = ReadWorkerStatus(state.path());
  EXPECT_EQ(st->files_sent, 1u);  // renames move at the destination
  EXPECT_EQ(st->bytes_sent, 18u);
  EXPECT_TRUE(GeorepTempFiles(dst.path()).empty());
}

// A file read in the clock tick of its last change may have been written again after the read
// with its size and mtime unchanged (file systems stamp times from a coarse clock): the pass
// records it as racy and the next one reads it again; once its mtime is older than a pass's
// start it is trusted. (Here its mtime is set 30 s ahead, which every pass until then takes as
// that tick; then 10 s back, as once the clock has moved on.)
TEST(Replication, AFileReadInTheTickOfItsLastChangeIsReadAgainByTheNextPass) {
  TempDir src, dst, state;
  Write(src.path() + "/settled", "old enough");
  Write(src.path() + "/racy", "read in its tick");
  auto set_mtime = [&](int seconds_from_now) {
    timespec t{};
    ASSERT_EQ(::clock_gettime(CLOCK_REALTIME, &t), 0);
    t.tv_sec += seconds_from_now;
    const timespec times[2] = {t, t};
    ASSERT_EQ(::utimensat(AT_FDCWD, (src.path() + "/racy").c_str(), times, 0), 0);
  };
  ASSERT_NO_FATAL_FAILURE(set_mtime(30));
  WorkerRun w{src.path(), dst.path(), state.path()};
  auto sent = [&] {
    auto r = w.Once();
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto st = ReadWorkerStatus(state.path());
    return st.ok() ? st->files_sent : ~uint64_t{0};
  };
  EXPECT_EQ(sent(), 2u);
  EXPECT_EQ(sent(), 1u) << "the racy file is read again, the settled one is not";
  ASSERT_NO_FATAL_FAILURE(set_mtime(-10));
  EXPECT_EQ(sent(), 1u);  // the racy version's mtime differs: read once more, and trusted
  EXPECT_EQ(sent(), 0u);
  EXPECT_EQ(DescribeTree(dst.path()), DescribeTree(src.path()));
}

// A directory renamed and a new link made to a file in it, seen by one pass: the move is a
// rename at the destination, and the new link links to the moved file there (not a copy, which
// a later full pass would have to join).
TEST(Replication, ANewLinkToAFileOfAMovedDirectoryIsALinkInTheSamePass) {
  TempDir src, dst, state;
  fs::create_directories(src.path() + "/d");
  Write(src.path() + "/d/f", "linked content");
  WorkerRun w{src.path(), dst.path(), state.path()};
  auto r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;

  fs::rename(src.path() + "/d", src.path() + "/e");
  fs::create_hard_link(src.path() + "/e/f", src.path() + "/g");
  r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(DescribeTree(dst.path()), DescribeTree(src.path()));
  auto st = ReadWorkerStatus(state.path());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->files_sent, 0u) << "a rename and a link: no file content travels";
  struct stat moved {
  }, link{};
  ASSERT_EQ(::stat((dst.path() + "/e/f").c_str(), &moved), 0);
  ASSERT_EQ(::stat((dst.path() + "/g").c_str(), &link), 0);
  EXPECT_EQ(moved.st_ino, link.st_ino);
  EXPECT_EQ(moved.st_nlink, 2u);
}

// Directories renamed to and fro by a live writer while full passes scan them: one that is
// gone between its parent's listing and its own is a change (looked at again), never a
// failure ("cannot read directory ... No such file or directory" made the worker Faulty).
TEST(Replication, ADirectoryRenamedMidScanIsAChangeNotAFailure) {
  TempDir src, dst, state;
  constexpr int kDirs = 60;
  for (int d = 0; d < kDirs; ++d) {
    const std::string x = src.path() + "/d" + std::to_string(d) + "/x0";
    for (int s = 0; s < 4; ++s) {
      fs::create_directories(x + "/s" + std::to_string(s));
      Write(x + "/s" + std::to_string(s) + "/f", "data");
    }
  }
  // Each rename to a new name (x0 -> x1 -> x2 ...): what is gone stays gone.
  std::atomic<bool> stop{false};
  std::atomic<int> renames{0};
  std::thread writer([&] {
    for (int round = 0; !stop.load(); ++round)
      for (int d = 0; d < kDirs && !stop.load(); ++d) {
        const std::string dir = src.path() + "/d" + std::to_string(d);
        std::error_code ec;
        fs::rename(dir + "/x" + std::to_string(round), dir + "/x" + std::to_string(round + 1), ec);
        if (!ec) ++renames;
      }
  });
  WorkerRun w{src.path(), dst.path(), state.path()};
  std::vector<std::string> failed;
  for (int pass = 0; pass < 5; ++pass) {
    auto r = w.Once();
    if (r.exit_code != 0) failed.push_back(r.err);
  }
  stop = true;
  writer.join();
  EXPECT_GT(renames.load(), kDirs);
  EXPECT_TRUE(failed.empty()) << failed.size() << " passes failed, the first: " << failed[0];
  // Once the writer stops, the next pass converges.
  auto r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(DescribeTree(dst.path()), DescribeTree(src.path()))
      << DescribeTreeDiff(src.path(), dst.path());
  auto st = ReadWorkerStatus(state.path());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->failures, 0u) << st->reason;
}

// A directory's index entries sort apart when a sibling's name continues its name with a
// character before '/' ("photos", "photos-2024", "photos.zip", "photos/a"): a move of the
// directory still moves everything in it, and nothing travels again.
TEST(Replication, ADirectoryMovedBesideSiblingsThatSortInsideItsRangeMovesWhole) {
  TempDir src, dst, state;
  fs::create_directories(src.path() + "/photos/sub");
  fs::create_directories(src.path() + "/photos-2024");
  Write(src.path() + "/photos/a", "a");
  Write(src.path() + "/photos/sub/b", "b");
  Write(src.path() + "/photos-2024/c", "c");
  Write(src.path() + "/photos.zip", "zip");
  WorkerRun w{src.path(), dst.path(), state.path()};
  auto r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;

  fs::rename(src.path() + "/photos", src.path() + "/archive");
  r = w.Once();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(DescribeTree(dst.path()), DescribeTree(src.path()));
  auto st = ReadWorkerStatus(state.path());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->failures, 0u) << st->reason;
  EXPECT_EQ(st->files_sent, 0u) << "the move is a rename at the destination";

  // And the index followed: the next pass finds nothing to do.
  r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  st = ReadWorkerStatus(state.path());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->files_sent, 0u);
  EXPECT_EQ(st->pending_entry + st->pending_data + st->pending_meta, 0u);
}

TEST(Replication, ALocalDestinationCopiesLargeFilesFromTheSourceItself) {
  TempDir src, dst, state;
  std::mt19937_64 rng(11);
  Write(src.path() + "/large.bin", Random(rng, 6 << 20));
  Write(src.path() + "/small.txt", "small files still travel in the stream\n");
  WorkerRun w{src.path(), dst.path(), state.path()};
  auto r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(SameTree(src.path(), dst.path())) << DescribeTreeDiff(src.path(), dst.path());
  auto st = ReadWorkerStatus(state.path());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->files_sent, 2u);
  EXPECT_EQ(st->bytes_sent, (6u << 20) + 39);
  // The agent read the large file itself: the stream carried the small one and the framing.
  EXPECT_LT(st->wire_bytes, 16u << 10) << st->wire_bytes;

  // A rewrite is copied whole again (no delta on the same host), and verified.
  Write(src.path() + "/large.bin", Random(rng, 6 << 20));
  r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(SameTree(src.path(), dst.path())) << DescribeTreeDiff(src.path(), dst.path());
  st = ReadWorkerStatus(state.path());
  EXPECT_EQ(st->files_sent, 1u);
  EXPECT_EQ(st->delta_files, 0u);
  EXPECT_LT(st->wire_bytes, 16u << 10) << st->wire_bytes;

  // --stream-only: everything through the stream, as to a remote destination.
  TempDir dst2, state2;
  WorkerRun streamed{src.path(), dst2.path(), state2.path(), {"--stream-only"}};
  r = streamed.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(SameTree(src.path(), dst2.path())) << DescribeTreeDiff(src.path(), dst2.path());
  st = ReadWorkerStatus(state2.path());
  EXPECT_GE(st->wire_bytes, 6u << 20);
  EXPECT_TRUE(GeorepTempFiles(dst.path()).empty());
}

TEST(Replication, AChangedLargeFileTravelsAsABlockDelta) {
  TempDir src, dst, state;
  std::mt19937_64 rng(7);
  const std::string big = src.path() + "/disk.img";
  Write(big, Random(rng, 8 << 20));
  // Through the stream, as to a remote destination (on the same host the agent would copy
  // the file from the source itself, whole).
  WorkerRun w{src.path(), dst.path(), state.path(), {"--stream-only"}};
  auto r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto st = ReadWorkerStatus(state.path());
  ASSERT_TRUE(st.ok());
  EXPECT_GE(st->wire_bytes, uint64_t{8} << 20);  // the first time, all of it

  // 256 KiB rewritten in the middle, not on a block boundary.
  const std::string change = Random(rng, 256 << 10);
  auto patch = [&](const std::string& path, off_t at, const std::string& bytes) {
    int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), at), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  };
  ASSERT_NO_FATAL_FAILURE(patch(big, 3'000'001, change));
  r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(DescribeTree(dst.path()), DescribeTree(src.path()));
  st = ReadWorkerStatus(state.path());
  EXPECT_EQ(st->delta_files, 1u);
  // The change, a block on either side and the framing; not the 8 MiB.
  EXPECT_LE(st->wire_bytes,
            change.size() + 2 * uint64_t{replication::BlockSizeFor(8 << 20)} + 4096);
  EXPECT_GE(st->delta_copied_bytes, (uint64_t{8} << 20) - change.size() - 8192);

  // The destination's copy changed behind the worker's back: the delta built on it fails its
  // end-to-end hash and is refused (reported, never counted as synced)...
  ASSERT_NO_FATAL_FAILURE(patch(dst.path() + "/disk.img", 6'000'000, "tampered"));
  ASSERT_NO_FATAL_FAILURE(patch(big, 1'000'000, "changed again"));
  r = w.Once();
  EXPECT_NE(r.exit_code, 0);
  st = ReadWorkerStatus(state.path());
  EXPECT_EQ(st->failures, 1u);
  EXPECT_NE(st->reason.find("hash mismatch"), std::string::npos) << st->reason;
  // ... and the next pass sends the whole file.
  r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  st = ReadWorkerStatus(state.path());
  EXPECT_EQ(st->delta_files, 0u);
  EXPECT_GE(st->wire_bytes, uint64_t{8} << 20);
  EXPECT_EQ(DescribeTree(dst.path()), DescribeTree(src.path()));
  EXPECT_TRUE(GeorepTempFiles(dst.path()).empty());
}

TEST(Replication, IgnoreDeletesAndExcludes) {
  TempDir src, dst, state;
  Write(src.path() + "/keep", "k");
  Write(src.path() + "/scratch.tmp", "t");
  fs::create_directories(src.path() + "/cache/x");
  Write(src.path() + "/cache/x/y", "c");
  WorkerRun w{src.path(),
              dst.path(),
              state.path(),
              {"--ignore-deletes", "--exclude", "*.tmp", "--exclude", "cache"}};
  ASSERT_EQ(w.Once().exit_code, 0);
  EXPECT_TRUE(fs::exists(dst.path() + "/keep"));
  EXPECT_FALSE(fs::exists(dst.path() + "/scratch.tmp"));
  EXPECT_FALSE(fs::exists(dst.path() + "/cache"));
  fs::remove(src.path() + "/keep");
  ASSERT_EQ(w.Once().exit_code, 0);
  EXPECT_TRUE(fs::exists(dst.path() + "/keep"));  // deletes are not replicated
}

}  // namespace
}  // namespace georep::testing
