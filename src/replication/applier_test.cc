// The Applier: entries created, replaced and removed beneath the root, files never visible
// half-written, failures that leave nothing behind, and the protocol's rules.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <future>
#include <iterator>
#include <mutex>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "replication/applier_test_fixture.h"
#include "replication/content_hash.h"
#include "replication/test_util.h"

namespace georep::replication {
namespace {

using namespace applier_testing;  // NOLINT(google-build-using-namespace): the fixture

TEST_F(ApplierTest, CreatesDirectoriesFilesAndSymlinks) {
  ASSERT_TRUE(Apply(Mkdir{0, "a", 0755}).ok());
  ASSERT_TRUE(Apply(Mkdir{0, "a/b", 0700}).ok());
  ASSERT_TRUE(SendFile("a/b/f", "hello world").ok());
  ASSERT_TRUE(Apply(Symlink{0, "a/l", "b/f"}).ok());
  ASSERT_TRUE(Apply(Symlink{0, "a/abs", "/etc/passwd"}).ok());
  EXPECT_EQ(ReadFile(D("a/b/f")), "hello world");
  EXPECT_EQ(std::filesystem::read_symlink(D("a/l")), "b/f");
  EXPECT_EQ(std::filesystem::read_symlink(D("a/abs")), "/etc/passwd");
  struct stat st {};
  ASSERT_EQ(::stat(D("a/b/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
  EXPECT_EQ(applier_->applied_seq(), seq_);
}

TEST_F(ApplierTest, PartialFileIsNeverVisibleUnderItsName) {
  WriteFile(D("f"), "old");
  ASSERT_TRUE(Apply(FileBegin{0, "f", 6, 0600}).ok());
  ASSERT_TRUE(Apply(FileData{0, 0, "new"}).ok());
  EXPECT_EQ(ReadFile(D("f")), "old");
  std::vector<std::string> temps = GeorepTempFiles(dest_.path());
  ASSERT_EQ(temps.size(), 1u);
  EXPECT_TRUE(Applier::IsTempName(temps[0])) << temps[0];
  EXPECT_TRUE(temps[0].starts_with(".georep.f."));
  ASSERT_TRUE(Apply(FileData{0, 3, "new"}).ok());
  ASSERT_TRUE(Apply(FileEnd{0, 6, HashBytes("newnew")}).ok());
  EXPECT_EQ(ReadFile(D("f")), "newnew");
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, HashMismatchLeavesOldFileAndNoTemp) {
  WriteFile(D("f"), "precious");
  ASSERT_TRUE(Apply(FileBegin{0, "f", 5, 0644}).ok());
  ASSERT_TRUE(Apply(FileData{0, 0, "bogus"}).ok());
  Status st = Apply(FileEnd{0, 5, HashBytes("other")});
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("hash mismatch for 'f'"), std::string::npos) << st.message();
  EXPECT_EQ(applier_->last_error_code(), ErrorCode::kHashMismatch);
  EXPECT_EQ(ReadFile(D("f")), "precious");
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
  // The stream goes on.
  EXPECT_TRUE(SendFile("g", "fine").ok());
}

TEST_F(ApplierTest, RefusesPathsThatLeaveTheRoot) {
  // Rooted one level down in a directory of the test's own, so that "../x" names a path only
  // this test could have created.
  ASSERT_TRUE(std::filesystem::create_directory(outside_ / "root"));
  auto opened = Applier::Open(outside_ / "root", {}, &calls_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  applier_ = std::move(opened).value();
  for (const std::string& bad :
       std::vector<std::string>{"../x", "/etc/x", "a/../../x", "a//b", "./a", "a/.", "", "a/",
                                std::string("a\0b", 3), std::string(300, 'n')}) {
    Status st = Apply(FileBegin{0, bad, 1, 0644});
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(applier_->last_error_code(), ErrorCode::kInvalidPath) << bad;
    ASSERT_TRUE(Apply(FileData{0, 0, "x"}).ok());  // skipped: the file already failed
    ASSERT_TRUE(Apply(FileEnd{0, 1, HashBytes("x")}).ok());
    EXPECT_EQ(Apply(Mkdir{0, bad, 0755}).code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(Apply(Unlink{0, bad}).code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(Apply(Rename{0, "a", bad}).code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(Apply(Hardlink{0, bad, "z"}).code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(Apply(Meta("..", kMetaMode, 0777)).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Exists(outside_ / "x"));
  EXPECT_TRUE(std::filesystem::is_empty(outside_ / "root"));
}

TEST_F(ApplierTest, SymlinkInDestinationIsNeverWrittenThrough) {
  ::chmod(outside_.path().c_str(), 0700);
  WriteFile(outside_ / "victim", "outside");
  ASSERT_EQ(::symlink(outside_.path().c_str(), D("link").c_str()), 0);
  ASSERT_EQ(::symlink((outside_ / "victim").c_str(), D("flink").c_str()), 0);

  EXPECT_FALSE(SendFile("link/victim", "pwned").ok());
  EXPECT_FALSE(SendFile("link/new", "pwned").ok());
  EXPECT_FALSE(Apply(Mkdir{0, "link/dir", 0755}).ok());
  EXPECT_FALSE(Apply(Symlink{0, "link/s", "x"}).ok());
  EXPECT_FALSE(Apply(Hardlink{0, "link/victim", "stolen"}).ok());
  EXPECT_FALSE(Apply(Rename{0, "link/victim", "stolen"}).ok());
  EXPECT_FALSE(Apply(Unlink{0, "link/victim"}).ok());
  EXPECT_FALSE(Apply(Meta("link/victim", kMetaMode, 0777)).ok());
  // The symlinks themselves are entries: their metadata is set without following them...
  ASSERT_TRUE(Apply(Meta("link", kMetaMode | kMetaMtime, 0777, 123)).ok());
  ASSERT_TRUE(Apply(Meta("flink", kMetaMode, 0666)).ok());
  // ... and writing a file at their path replaces them.
  ASSERT_TRUE(SendFile("flink", "replaced").ok());

  EXPECT_EQ(ReadFile(outside_ / "victim"), "outside");
  EXPECT_FALSE(Exists(outside_ / "new"));
  EXPECT_FALSE(Exists(outside_ / "dir"));
  struct stat st {};
  ASSERT_EQ(::stat(outside_.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat((outside_ / "victim").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(ReadFile(D("flink")), "replaced");
  ASSERT_EQ(::lstat(D("flink").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, NoSpaceIsADistinctErrorAndLeavesNoTemp) {
  WriteFile(D("f"), "old content");
  calls_.write_errno = ENOSPC;
  calls_.write_budget = 4;
  Status st = SendFile("f", "0123456789", 0644, 3);
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_NE(st.message().find("destination file system is full"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("'f'"), std::string::npos) << st.message();
  EXPECT_EQ(applier_->last_error_code(), ErrorCode::kNoSpace);
  EXPECT_FALSE(applier_->stream_broken());  // the rest of that file's data was skipped
  EXPECT_EQ(ReadFile(D("f")), "old content");
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
  // Space comes back: the next transfer works.
  calls_.write_errno = 0;
  EXPECT_TRUE(SendFile("f", "0123456789").ok());
  EXPECT_EQ(ReadFile(D("f")), "0123456789");
}

TEST_F(ApplierTest, FsyncFailureIsReportedAndLeavesNoTemp) {
  calls_.fsync_errno = EIO;
  Status st = SendFile("f", "data");
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_EQ(applier_->last_error_code(), ErrorCode::kIO);
  EXPECT_FALSE(Exists(D("f")));
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, DurabilityNoneDoesNotFsyncButDurableBarrierSyncs) {
  ApplierOptions none;
  none.durability = Durability::kNone;
  Reopen(none);
  ASSERT_TRUE(SendFile("f", "data").ok());
  EXPECT_EQ(calls_.fsyncs, 0);
  ApplierOptions all;
  all.durability = Durability::kFileAndDirectory;
  Reopen(all);
  ASSERT_TRUE(SendFile("g", "data").ok());
  EXPECT_EQ(calls_.fsyncs, 2);  // the file, then its directory
  std::vector<Message> replies;
  ApplierOptions options;
  Reopen(options);
  ASSERT_TRUE(applier_->Handle(Hello{1, 1, 0, "t"}, &replies).ok());
  ASSERT_TRUE(applier_->Handle(Barrier{1, true}, &replies).ok());
  EXPECT_EQ(calls_.syncfs_calls, 1);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_TRUE(replies[1] == Message(Ack{1, true}));
}

TEST_F(ApplierTest, RenameCycleThroughATemporaryName) {
  ASSERT_TRUE(SendFile("a", "A").ok());
  ASSERT_TRUE(SendFile("b", "B").ok());
  ASSERT_TRUE(Apply(Rename{0, "a", "t"}).ok());
  ASSERT_TRUE(Apply(Rename{0, "b", "a"}).ok());
  ASSERT_TRUE(Apply(Rename{0, "t", "b"}).ok());
  EXPECT_EQ(ReadFile(D("a")), "B");
  EXPECT_EQ(ReadFile(D("b")), "A");
  EXPECT_FALSE(Exists(D("t")));
}

TEST_F(ApplierTest, RenamesDirectoriesAndReplacesWhatIsInTheWay) {
  ASSERT_TRUE(Apply(Mkdir{0, "d", 0755}).ok());
  ASSERT_TRUE(Apply(Mkdir{0, "d/sub", 0755}).ok());
  ASSERT_TRUE(SendFile("d/sub/f", "deep").ok());
  ASSERT_TRUE(Apply(Mkdir{0, "e", 0755}).ok());
  ASSERT_TRUE(Apply(Rename{0, "d", "e/moved"}).ok());
  EXPECT_EQ(ReadFile(D("e/moved/sub/f")), "deep");
  EXPECT_FALSE(Exists(D("d")));
  // A file replaces a file; a directory replaces a stale non-empty directory and a file.
  ASSERT_TRUE(SendFile("x", "X").ok());
  ASSERT_TRUE(SendFile("y", "Y").ok());
  ASSERT_TRUE(Apply(Rename{0, "x", "y"}).ok());
  EXPECT_EQ(ReadFile(D("y")), "X");
  ASSERT_TRUE(Apply(Mkdir{0, "stale", 0755}).ok());
  ASSERT_TRUE(SendFile("stale/junk", "junk").ok());
  ASSERT_TRUE(Apply(Rename{0, "e/moved", "stale"}).ok());
  EXPECT_EQ(ReadFile(D("stale/sub/f")), "deep");
  EXPECT_FALSE(Exists(D("stale/junk")));
  ASSERT_TRUE(Apply(Rename{0, "stale", "y"}).ok());
  EXPECT_EQ(ReadFile(D("y/sub/f")), "deep");
  // Renaming onto an ancestor or into itself is refused, and destroys nothing.
  EXPECT_EQ(Apply(Rename{0, "y/sub", "y"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Apply(Rename{0, "y", "y/sub/inner"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadFile(D("y/sub/f")), "deep");
  // A missing source is an error that names it.
  Status st = Apply(Rename{0, "nope", "z"});
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("'nope'"), std::string::npos);
  EXPECT_EQ(applier_->last_error_code(), ErrorCode::kNotFound);
}

TEST_F(ApplierTest, UnlinkAndRmdirOfMissingEntriesSucceed) {
  EXPECT_TRUE(Apply(Unlink{0, "missing"}).ok());
  EXPECT_TRUE(Apply(Rmdir{0, "missing"}).ok());
  EXPECT_TRUE(Apply(Unlink{0, "no/such/parent"}).ok());
  ASSERT_TRUE(Apply(Mkdir{0, "d", 0755}).ok());
  ASSERT_TRUE(SendFile("d/f", "x").ok());
  ASSERT_TRUE(Apply(Unlink{0, "d/f"}).ok());
  EXPECT_TRUE(Apply(Unlink{0, "d/f"}).ok());
  ASSERT_TRUE(Apply(Rmdir{0, "d"}).ok());
  EXPECT_TRUE(Apply(Rmdir{0, "d"}).ok());
  EXPECT_FALSE(Exists(D("d")));
  // Removing what the source no longer has, even if the destination diverged.
  ASSERT_TRUE(Apply(Mkdir{0, "full", 0555}).ok());
  ASSERT_TRUE(SendFile("full/f", "x").ok());
  ASSERT_TRUE(Apply(Meta("full", kMetaMode, 0555)).ok());
  ASSERT_TRUE(Apply(Rmdir{0, "full"}).ok());
  EXPECT_FALSE(Exists(D("full")));
}

TEST_F(ApplierTest, HardlinksShareTheInode) {
  ASSERT_TRUE(SendFile("f", "shared").ok());
  ASSERT_TRUE(Apply(Hardlink{0, "f", "g"}).ok());
  ASSERT_TRUE(Apply(Hardlink{0, "f", "g"}).ok());  // replay
  WriteFile(D("h"), "something else");
  ASSERT_TRUE(Apply(Hardlink{0, "f", "h"}).ok());  // replaces
  struct stat f {
  }, g{}, h{};
  ASSERT_EQ(::stat(D("f").c_str(), &f), 0);
  ASSERT_EQ(::stat(D("g").c_str(), &g), 0);
  ASSERT_EQ(::stat(D("h").c_str(), &h), 0);
  EXPECT_EQ(f.st_ino, g.st_ino);
  EXPECT_EQ(f.st_ino, h.st_ino);
  EXPECT_EQ(f.st_nlink, 3u);
  EXPECT_EQ(Apply(Hardlink{0, "missing", "k"}).code(), StatusCode::kNotFound);
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, SparseAndEmptyFiles) {
  ASSERT_TRUE(SendFile("empty", "").ok());
  EXPECT_TRUE(Exists(D("empty")));
  EXPECT_EQ(std::filesystem::file_size(D("empty")), 0u);
  // Data at 0 and at 8 MiB, a hole between and after.
  const uint64_t kSize = 16u << 20;
  std::string head = "head", tail = "tail";
  ContentHasher h;
  h.Update(head);
  h.UpdateZeros((8u << 20) - head.size());
  h.Update(tail);
  h.UpdateZeros(kSize - (8u << 20) - tail.size());
  ASSERT_TRUE(Apply(FileBegin{0, "sparse", kSize, 0600}).ok());
  ASSERT_TRUE(Apply(FileData{0, 0, head}).ok());
  ASSERT_TRUE(Apply(FileData{0, 8u << 20, tail}).ok());
  ASSERT_TRUE(Apply(FileEnd{0, kSize, h.Finish()}).ok());
  struct stat st {};
  ASSERT_EQ(::stat(D("sparse").c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kSize);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);  // the holes stayed holes
  std::string content = ReadFile(D("sparse"));
  EXPECT_EQ(content.substr(0, 4), "head");
  EXPECT_EQ(content.substr(8u << 20, 4), "tail");
  EXPECT_EQ(HashBytes(content), h.Finish());
  // Overlapping data breaks the stream.
  ASSERT_TRUE(Apply(FileBegin{0, "bad", 10, 0600}).ok());
  ASSERT_TRUE(Apply(FileData{0, 4, "abcd"}).ok());
  EXPECT_EQ(Apply(FileData{0, 2, "x"}).code(), StatusCode::kCorruption);
  EXPECT_TRUE(applier_->stream_broken());
}

TEST_F(ApplierTest, MakesFifosAndDevicesReplacingWhatIsInTheWay) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (mknod of a device needs it)";
  ASSERT_TRUE(Apply(MakeNode{0, "fifo", S_IFIFO | 0640, 0}).ok());
  ASSERT_TRUE(Apply(MakeNode{0, "fifo", S_IFIFO | 0640, 0}).ok());  // a replay
  const dev_t null_dev = makedev(1, 3);
  WriteFile(D("null"), "a file in the way");
  ASSERT_TRUE(Apply(MakeNode{0, "null", S_IFCHR | 0666, null_dev}).ok());
  struct stat st {};
  ASSERT_EQ(::lstat(D("fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  ASSERT_EQ(::lstat(D("null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, null_dev);
  // Another device number replaces the node.
  ASSERT_TRUE(Apply(MakeNode{0, "null", S_IFCHR | 0666, makedev(1, 5)}).ok());
  ASSERT_EQ(::lstat(D("null").c_str(), &st), 0);
  EXPECT_EQ(st.st_rdev, makedev(1, 5));
  // Its SetMeta as for any entry.
  ASSERT_TRUE(Apply(Meta("fifo", kMetaMode | kMetaMtime, 0600, 1'500'000'000'000'000'000)).ok());
  ASSERT_EQ(::lstat(D("fifo").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'000);
  // A socket is never made; a device only by root.
  EXPECT_EQ(Apply(MakeNode{0, "sock", S_IFSOCK | 0777, 0}).code(), StatusCode::kInvalidArgument);
  ApplierOptions options;
  options.privileged = false;
  Reopen(options);
  EXPECT_EQ(Apply(MakeNode{0, "dev", S_IFCHR | 0666, null_dev}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(applier_->last_error_code(), ErrorCode::kUnsupported);
  EXPECT_FALSE(Exists(D("dev")));
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, ReplacesEntriesOfAnotherType) {
  ASSERT_TRUE(Apply(Mkdir{0, "d", 0755}).ok());
  ASSERT_TRUE(SendFile("d/f", "x").ok());
  ASSERT_TRUE(SendFile("d", "now a file").ok());  // a file replaces a directory tree
  EXPECT_EQ(ReadFile(D("d")), "now a file");
  ASSERT_TRUE(Apply(Mkdir{0, "d", 0755}).ok());  // and a directory replaces the file
  EXPECT_TRUE(std::filesystem::is_directory(D("d")));
  ASSERT_TRUE(Apply(Symlink{0, "d", "elsewhere"}).ok());
  EXPECT_EQ(std::filesystem::read_symlink(D("d")), "elsewhere");
  ASSERT_TRUE(Apply(Symlink{0, "d", "elsewhere"}).ok());  // replay
  ASSERT_TRUE(Apply(Symlink{0, "d", "new target"}).ok());
  EXPECT_EQ(std::filesystem::read_symlink(D("d")), "new target");
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, OpenSweepsStaleTemporaryFiles) {
  ASSERT_EQ(::mkdir(D("sub").c_str(), 0755), 0);
  WriteFile(D("sub/.georep.f.0123456789abcdef.tmp"), "left by a killed agent");
  WriteFile(D(".georep.g.fedcba9876543210.tmp"), "another");
  WriteFile(D(".georep.mine"), "a user's file that only looks similar");
  WriteFile(D(".georep.x.0123456789ABCDEF.tmp"), "upper-case hex: not ours");
  Reopen();
  EXPECT_EQ(applier_->swept_temp_files(), 2u);
  EXPECT_FALSE(Exists(D("sub/.georep.f.0123456789abcdef.tmp")));
  EXPECT_TRUE(Exists(D(".georep.mine")));
  EXPECT_TRUE(Exists(D(".georep.x.0123456789ABCDEF.tmp")));
}

TEST_F(ApplierTest, DestroyingMidTransferRemovesTheTemp) {
  ASSERT_TRUE(Apply(FileBegin{0, "f", 3, 0644}).ok());
  ASSERT_TRUE(Apply(FileData{0, 0, "abc"}).ok());
  EXPECT_EQ(GeorepTempFiles(dest_.path()).size(), 1u);
  applier_.reset();
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
  EXPECT_FALSE(Exists(D("f")));
}

TEST_F(ApplierTest, FileAbortDropsTheTransfer) {
  WriteFile(D("f"), "old");
  ASSERT_TRUE(Apply(FileBegin{0, "f", 3, 0644}).ok());
  ASSERT_TRUE(Apply(FileData{0, 0, "new"}).ok());
  ASSERT_TRUE(Apply(FileAbort{0, "source vanished"}).ok());
  EXPECT_EQ(ReadFile(D("f")), "old");
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, ProtocolViolationsBreakTheStream) {
  ASSERT_TRUE(applier_->Apply(Mkdir{5, "a", 0755}).ok());
  EXPECT_EQ(applier_->Apply(Mkdir{5, "b", 0755}).code(), StatusCode::kCorruption);
  EXPECT_TRUE(applier_->stream_broken());
  EXPECT_FALSE(applier_->Apply(Mkdir{6, "b", 0755}).ok());
  Reopen();
  EXPECT_EQ(applier_->Apply(FileData{1, 0, "x"}).code(), StatusCode::kCorruption);
  Reopen();
  ASSERT_TRUE(applier_->Apply(FileBegin{1, "f", 1, 0644}).ok());
  EXPECT_EQ(applier_->Apply(Mkdir{2, "d", 0755}).code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace georep::replication
