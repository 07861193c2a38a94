#include "replication/applier.h"

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

#include "replication/content_hash.h"
#include "replication/test_util.h"

namespace georep::replication {
namespace {

using testing::DescribeTree;
using testing::Exists;
using testing::GeorepTempFiles;
using testing::ReadFile;
using testing::TempDir;
using testing::UserXattrs;
using testing::WriteFile;

// Injects failures into the applier's file-system calls. Thread-safe, as file threads need:
// set the fields while the applier is idle.
class FaultyCalls final : public FileSystemCalls {
 public:
  ssize_t Pwrite(int fd, const void* buf, size_t count, off_t offset) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (write_errno != 0 && written + count > write_budget) {
      errno = write_errno;
      return -1;
    }
    written += count;
    return FileSystemCalls::Pwrite(fd, buf, count, offset);
  }
  ssize_t CopyFileRange(int in, off_t* in_offset, int out, off_t* out_offset,
                        size_t count) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (copy_errno != 0) {
      errno = copy_errno;
      return -1;
    }
    ++in_kernel_copies;
    return FileSystemCalls::CopyFileRange(in, in_offset, out, out_offset, count);
  }
  int Fsync(int fd) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (fsync_errno != 0) {
      errno = fsync_errno;
      return -1;
    }
    ++fsyncs;
    return FileSystemCalls::Fsync(fd);
  }
  int Syncfs(int fd) override {
    {
      std::unique_lock<std::mutex> lock(gate_mutex_);
      sync_waiting_ = true;
      gate_changed_.notify_all();
      gate_changed_.wait(lock, [&] { return !hold_syncs_; });
      sync_waiting_ = false;
    }
    if (syncfs_errno != 0) {
      errno = syncfs_errno;
      return -1;
    }
    ++syncfs_calls;
    return FileSystemCalls::Syncfs(fd);
  }
  int Renameat(int old_dir, const char* old_name, int new_dir, const char* new_name) override {
    std::lock_guard<std::mutex> lock(mutex_);
    renames_after_syncfs.push_back(syncfs_calls);
    return FileSystemCalls::Renameat(old_dir, old_name, new_dir, new_name);
  }
  // While held, a syncfs waits until it is let go (to see what goes on meanwhile).
  void HoldSyncs(bool hold) {
    std::lock_guard<std::mutex> lock(gate_mutex_);
    hold_syncs_ = hold;
    gate_changed_.notify_all();
  }
  bool WaitForHeldSync() {
    std::unique_lock<std::mutex> lock(gate_mutex_);
    return gate_changed_.wait_for(lock, std::chrono::seconds(20), [&] { return sync_waiting_; });
  }
  int syncfs_errno = 0;
  int copy_errno = 0;  // copy_file_range fails with it
  int in_kernel_copies = 0;
  std::vector<int> renames_after_syncfs;  // syncfs calls made before each rename
  int write_errno = 0;
  size_t write_budget = 0;
  size_t written = 0;
  int fsync_errno = 0;
  int fsyncs = 0;
  int syncfs_calls = 0;

 private:
  std::mutex mutex_;  // the counters' (syncfs_calls: the applier runs one sync at a time)
  std::mutex gate_mutex_;
  std::condition_variable gate_changed_;
  bool hold_syncs_ = false;
  bool sync_waiting_ = false;
};

SetMeta Meta(std::string path, uint32_t fields, uint32_t mode = 0, int64_t mtime_ns = 0) {
  SetMeta m;
  m.path = std::move(path);
  m.fields = fields;
  m.mode = mode;
  m.mtime_ns = mtime_ns;
  return m;
}

class ApplierTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen(ApplierOptions options = {}) {
    if (options.clock == nullptr) options.clock = &clock_;  // time moves only when told
    applier_.reset();
    auto a = Applier::Open(dest_.path(), std::move(options), &calls_);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    applier_ = std::move(a).value();
    seq_ = 0;
  }

  Status Apply(Message m) {
    std::visit(
        [&](auto& x) {
          if constexpr (requires { x.seq; }) x.seq = ++seq_;
        },
        m);
    return applier_->Apply(m);
  }

  // A whole-file transfer, in chunks of `chunk` bytes; every message is sent, as a worker
  // would, and the first failure is returned.
  Status SendFile(const std::string& path, const std::string& content, uint32_t mode = 0644,
                  size_t chunk = 3) {
    Status first = Apply(FileBegin{0, path, content.size(), mode});
    for (size_t off = 0; off < content.size(); off += chunk) {
      Status st = Apply(FileData{0, off, content.substr(off, chunk)});
      if (first.ok()) first = st;
    }
    Status st = Apply(FileEnd{0, content.size(), HashBytes(content)});
    return first.ok() ? st : first;
  }

  std::string D(const std::string& rel) const { return dest_ / rel; }

  // Reopens at `durability` with `file_threads` and speaks the handshake.
  void StartConversation(Durability durability, size_t file_threads = 0) {
    ApplierOptions options;
    options.durability = durability;
    options.file_threads = file_threads;
    Reopen(options);
    std::vector<Message> replies;
    ASSERT_TRUE(applier_->Handle(Hello{1, 1, 0, "w"}, &replies).ok());
  }
  void StartBatchConversation() { StartConversation(Durability::kBatch); }

  TempDir dest_;
  TempDir outside_;
  FaultyCalls calls_;
  FakeClock clock_;
  std::unique_ptr<Applier> applier_;
  uint64_t seq_ = 0;
};

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

TEST_F(ApplierTest, SetsModeTimesAndXattrs) {
  ASSERT_TRUE(SendFile("f", "x").ok());
  SetMeta m{0,
            "f",
            kMetaMode | kMetaAtime | kMetaMtime | kMetaXattrs,
            04751,
            0,
            0,
            1'600'000'000'111'222'333,
            1'500'000'000'987'654'321,
            {{"user.one", "1"}, {"user.bin", std::string("\0\x01\xff", 3)}}};
  ASSERT_TRUE(Apply(m).ok());
  struct stat st {};
  ASSERT_EQ(::stat(D("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04751u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 987'654'321);
  EXPECT_EQ(st.st_atim.tv_nsec, 111'222'333);
  auto x = UserXattrs(D("f"));
  EXPECT_EQ(x.size(), 2u);
  EXPECT_EQ(x["user.bin"], std::string("\0\x01\xff", 3));
  // The xattr list is complete: user.one goes, user.two comes.
  m.xattrs = {{"user.two", "2"}};
  ASSERT_TRUE(Apply(m).ok());
  x = UserXattrs(D("f"));
  ASSERT_EQ(x.size(), 1u);
  EXPECT_EQ(x["user.two"], "2");
  // Times before 1970 and the root itself.
  ASSERT_TRUE(Apply(Meta(".", kMetaMtime, 0, -1'500'000'000)).ok());
  ASSERT_EQ(::stat(dest_.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, -2);
  EXPECT_EQ(st.st_mtim.tv_nsec, 500'000'000);
  // A namespace the agent does not replicate is refused, not ignored.
  EXPECT_EQ(Apply(SetMeta{0, "f", kMetaXattrs, 0, 0, 0, 0, 0, {{"security.x", "1"}}}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Apply(Meta("missing", kMetaMode, 0600)).code(), StatusCode::kNotFound);
}

TEST_F(ApplierTest, SetsOwnerWhenPrivileged) {
  // The suite runs as root (scripts/test.sh); chown needs it.
  ASSERT_EQ(::geteuid(), 0u) << "the test suite runs as root";
  ASSERT_TRUE(SendFile("f", "x").ok());
  SetMeta owner = Meta("f", kMetaOwner | kMetaMode, 02755);
  owner.uid = 1234;
  owner.gid = 5678;
  ASSERT_TRUE(Apply(owner).ok());
  struct stat st {};
  ASSERT_EQ(::stat(D("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_mode & 07777, 02755u);  // the mode survives chown clearing setgid
  ASSERT_TRUE(Apply(SetMeta{0, "f", kMetaXattrs, 0, 0, 0, 0, 0, {{"trusted.t", "v"}}}).ok());
  char buf[8];
  EXPECT_EQ(::lgetxattr(D("f").c_str(), "trusted.t", buf, sizeof buf), 1);
}

// ACLs and capabilities go on after the owner and the mode: chown clears
// security.capability, chmod rewrites the access ACL's mask. Applied again (a replay, or a
// metadata change) they still hold; on a new file too (HandleAll's shortcut), where an ACL
// inherited from the directory's default ACL goes when the source's file has none.
TEST_F(ApplierTest, AclsAndCapabilitiesSurviveTheOwnerAndModeSetBeforeThem) {
  ASSERT_EQ(::geteuid(), 0u) << "the test suite runs as root (security.capability needs it)";
  ASSERT_TRUE(Apply(Mkdir{0, "d", 0755}).ok());
  ASSERT_TRUE(SendFile("d/f", "x").ok());
  SetMeta file = Meta("d/f", kMetaOwner | kMetaMode | kMetaXattrs, 0640);
  file.uid = 1234;
  file.gid = 5678;
  file.xattrs = {{"security.capability", testing::NetBindServiceCapability()},
                 {"system.posix_acl_access", testing::SampleAccessAcl()},
                 {"trusted.origin", "site-a"},
                 {"user.u", "1"}};
  SetMeta dir = Meta("d", kMetaMode | kMetaXattrs, 0770);
  dir.xattrs = {{"system.posix_acl_default", testing::SampleDefaultAcl()}};
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(Apply(file).ok());
    ASSERT_TRUE(Apply(dir).ok());
    EXPECT_EQ(testing::XattrOf(D("d/f"), "security.capability"),
              testing::NetBindServiceCapability())
        << "round " << round;
    EXPECT_EQ(testing::XattrOf(D("d/f"), "system.posix_acl_access"), testing::SampleAccessAcl());
    EXPECT_EQ(testing::XattrOf(D("d/f"), "trusted.origin"), "site-a");
    EXPECT_EQ(testing::XattrOf(D("d"), "system.posix_acl_default"), testing::SampleDefaultAcl());
    struct stat st {};
    ASSERT_EQ(::stat(D("d/f").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    EXPECT_EQ(st.st_uid, 1234u);
  }
  // The source's file lost its ACL and capability: so does the destination's.
  file.xattrs = {{"user.u", "1"}};
  ASSERT_TRUE(Apply(file).ok());
  EXPECT_EQ(testing::XattrOf(D("d/f"), "system.posix_acl_access"), "<none>");
  EXPECT_EQ(testing::XattrOf(D("d/f"), "security.capability"), "<none>");
  EXPECT_EQ(testing::XattrOf(D("d/f"), "trusted.origin"), "<none>");

  // New files in the directory (which has a default ACL now), through HandleAll.
  ApplierOptions batch;
  batch.durability = Durability::kBatch;
  Reopen(batch);
  std::vector<Message> replies;
  ASSERT_TRUE(applier_->Handle(Hello{1, 1, kCapabilitiesSupported, "w"}, &replies).ok());
  ASSERT_EQ(std::get<HelloReply>(replies[0]).capabilities & (kCapAcls | kCapPrivilegedXattrs),
            kCapAcls | kCapPrivilegedXattrs);
  replies.clear();
  const std::string content = "#!/bin/true\n";
  SetMeta plain = Meta("d/plain", kMetaMode | kMetaOwner | kMetaXattrs, 0750);
  SetMeta capable = Meta("d/capable", kMetaMode | kMetaOwner | kMetaXattrs, 0755);
  capable.uid = 1234;
  capable.xattrs = {{"security.capability", testing::NetBindServiceCapability()}};
  uint64_t seq = 1;
  std::vector<Message> stream;
  for (SetMeta* m : {&plain, &capable}) {
    stream.push_back(FileBegin{++seq, m->path, content.size(), 0600});
    stream.push_back(FileData{++seq, 0, content});
    stream.push_back(FileEnd{++seq, content.size(), HashBytes(content)});
    m->seq = ++seq;
    stream.push_back(*m);
  }
  stream.push_back(Barrier{++seq, true});
  ASSERT_TRUE(applier_->HandleAll(stream, &replies).ok());
  for (const Message& r : replies) EXPECT_FALSE(std::holds_alternative<Error>(r));
  EXPECT_EQ(testing::XattrOf(D("d/plain"), "system.posix_acl_access"), "<none>")
      << "the ACL inherited from the directory's default ACL stayed";
  EXPECT_EQ(testing::XattrOf(D("d/capable"), "security.capability"),
            testing::NetBindServiceCapability());
  struct stat st {};
  ASSERT_EQ(::stat(D("d/plain").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

// A worker that does not sync ACLs (or a root-only namespace to an agent that is not root):
// the agent neither sets them nor removes the destination's own.
TEST_F(ApplierTest, ManagesOnlyTheXattrNamespacesOfTheSession) {
  ApplierOptions options;
  options.privileged = false;
  Reopen(options);
  std::vector<Message> replies;
  ASSERT_TRUE(
      applier_->Handle(Hello{1, 1, kCapabilitiesSupported & ~kCapAcls, "w"}, &replies).ok());
  const uint64_t common = std::get<HelloReply>(replies[0]).capabilities;
  EXPECT_EQ(common & (kCapAcls | kCapPrivilegedXattrs | kCapDevices), 0u);
  EXPECT_NE(common & kCapSpecialFiles, 0u);
  ASSERT_TRUE(applier_->Handle(FileBegin{2, "f", 1, 0644}, &replies).ok());
  ASSERT_TRUE(applier_->Handle(FileData{3, 0, "x"}, &replies).ok());
  ASSERT_TRUE(applier_->Handle(FileEnd{4, 1, HashBytes("x")}, &replies).ok());
  const std::string acl = testing::SampleAccessAcl();
  ASSERT_EQ(::setxattr(D("f").c_str(), "system.posix_acl_access", acl.data(), acl.size(), 0), 0);
  SetMeta m = Meta("f", kMetaXattrs);
  m.seq = 5;
  m.xattrs = {{"user.u", "1"}};
  replies.clear();
  ASSERT_TRUE(applier_->Handle(m, &replies).ok());
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(testing::XattrOf(D("f"), "system.posix_acl_access"), acl);
  // Sent anyway, a namespace the session did not agree on is refused, not dropped.
  m.seq = 6;
  m.xattrs = {{"system.posix_acl_access", acl}};
  ASSERT_TRUE(applier_->Handle(m, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kUnsupported);
  m.seq = 7;
  m.xattrs = {{"trusted.t", "v"}};
  replies.clear();
  ASSERT_TRUE(applier_->Handle(m, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_NE(std::get<Error>(replies[0]).message.find("needs root"), std::string::npos);
}

TEST_F(ApplierTest, MakesFifosAndDevicesReplacingWhatIsInTheWay) {
  ASSERT_EQ(::geteuid(), 0u) << "the test suite runs as root (mknod of a device needs it)";
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

TEST_F(ApplierTest, HandleSpeaksTheConversation) {
  std::vector<Message> replies;
  // Nothing before Hello.
  EXPECT_FALSE(applier_->Handle(Mkdir{1, "a", 0755}, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kProtocol);

  Reopen();
  replies.clear();
  ASSERT_TRUE(applier_->Handle(Hello{1, 1, kCapZstd | (uint64_t{1} << 40), "w"}, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(std::get<HelloReply>(replies[0]).accepted);
  EXPECT_EQ(std::get<HelloReply>(replies[0]).capabilities, kCapZstd);
  replies.clear();
  ASSERT_TRUE(applier_->Handle(Mkdir{1, "a", 0755}, &replies).ok());
  ASSERT_TRUE(applier_->Handle(Unlink{2, "../escape"}, &replies).ok());  // fails, stream goes on
  ASSERT_TRUE(applier_->Handle(Mkdir{3, "a/b", 0755}, &replies).ok());
  ASSERT_TRUE(applier_->Handle(Barrier{4, false}, &replies).ok());
  ASSERT_EQ(replies.size(), 2u);
  const auto& err = std::get<Error>(replies[0]);
  EXPECT_EQ(err.seq, 2u);
  EXPECT_EQ(err.code, ErrorCode::kInvalidPath);
  EXPECT_TRUE(replies[1] == Message(Ack{4, false}));
  EXPECT_TRUE(std::filesystem::is_directory(D("a/b")));
  // A second Hello breaks the stream.
  replies.clear();
  EXPECT_FALSE(applier_->Handle(Hello{}, &replies).ok());

  Reopen();
  replies.clear();
  EXPECT_FALSE(applier_->Handle(Hello{9, 9, 0, "future"}, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_FALSE(std::get<HelloReply>(replies[0]).accepted);
}

// The messages of one whole file and its SetMeta, as a worker sends them.
std::vector<Message> FileWithMeta(uint64_t* seq, const std::string& path,
                                  const std::string& content, const SetMeta& meta) {
  std::vector<Message> out;
  out.push_back(FileBegin{++*seq, path, content.size(), 0600});
  out.push_back(FileData{++*seq, 0, content});
  out.push_back(FileEnd{++*seq, content.size(), HashBytes(content)});
  SetMeta m = meta;
  m.seq = ++*seq;
  m.path = path;
  out.push_back(m);
  return out;
}

// Found by the fault harness: a file whose new version did not fit kept its old bytes, but
// got the new version's mtime (its SetMeta applied on its own) -- and with it looked current
// to a reconciliation's quick check of size and mtime, for good. The old file keeps its
// metadata; the error has the worker send the version again, metadata and all.
TEST_F(ApplierTest, AFileWhoseNewVersionDidNotFitKeepsItsOldMetadataToo) {
  StartConversation(Durability::kBatch);
  std::vector<Message> replies;
  uint64_t seq = 0;
  std::vector<Message> batch =
      FileWithMeta(&seq, "f", "old bytes!", Meta("", kMetaMode | kMetaMtime, 0644, 1'000'000'000));
  batch.push_back(Barrier{++seq, false});
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(ReadFile(D("f")), "old bytes!");

  calls_.write_errno = ENOSPC;
  calls_.write_budget = calls_.written;
  // The same size, a new mtime: what an overwrite in place looks like.
  batch =
      FileWithMeta(&seq, "f", "new bytes!", Meta("", kMetaMode | kMetaMtime, 0600, 2'000'000'000));
  batch.push_back(Barrier{++seq, false});
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_FALSE(replies.empty());
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kNoSpace);
  EXPECT_EQ(ReadFile(D("f")), "old bytes!");
  struct stat st {};
  ASSERT_EQ(::stat(D("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1) << "the old bytes carry the new version's mtime";
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, HandleAllPutsMetadataOnTheFileBeforeItsRename) {
  ASSERT_EQ(::geteuid(), 0u) << "the test suite runs as root";
  std::vector<Message> replies;
  ASSERT_TRUE(applier_->Handle(Hello{1, 1, kCapXattrs, "w"}, &replies).ok());
  SetMeta meta{0,
               "",
               kMetaOwner | kMetaMode | kMetaAtime | kMetaMtime | kMetaXattrs,
               04751,
               1234,
               5678,
               1'600'000'000'111'222'333,
               1'500'000'000'987'654'321,
               {{"user.one", "1"}}};
  uint64_t seq = 0;
  std::vector<Message> batch = FileWithMeta(&seq, "f", "content", meta);
  batch.push_back(Barrier{++seq, false});
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0] == Message(Ack{seq, false}));
  struct stat st {};
  ASSERT_EQ(::stat(D("f").c_str(), &st), 0);
  EXPECT_EQ(ReadFile(D("f")), "content");
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_mode & 07777, 04751u);  // setuid survives the chown before it
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 987'654'321);
  EXPECT_EQ(st.st_atim.tv_nsec, 111'222'333);
  EXPECT_EQ(UserXattrs(D("f"))["user.one"], "1");
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());

  // Metadata the agent refuses: the content still arrives, the error names the SetMeta.
  SetMeta bad = meta;
  bad.xattrs = {{"security.x", "1"}};
  batch = FileWithMeta(&seq, "g", "new content", bad);
  const uint64_t meta_seq = seq;
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(std::get<Error>(replies[0]).seq, meta_seq);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kUnsupported);
  EXPECT_EQ(ReadFile(D("g")), "new content");

  // Content that arrives damaged: the old file stays, metadata and all (the SetMeta describes
  // the version that did not arrive), and the error names the FileEnd.
  batch = FileWithMeta(&seq, "f", "replacement", meta);
  std::get<FileEnd>(batch[2]).hash = HashBytes("something else");
  const uint64_t end_seq = std::get<FileEnd>(batch[2]).seq;
  std::get<SetMeta>(batch[3]).mode = 0640;
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(std::get<Error>(replies[0]).seq, end_seq);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kHashMismatch);
  EXPECT_EQ(ReadFile(D("f")), "content");
  ASSERT_EQ(::stat(D("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04751u);
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
  EXPECT_EQ(applier_->applied_seq(), seq);
}

TEST_F(ApplierTest, DirectoriesMovedOrReplacedBetweenFilesAreFollowed) {
  // The applier keeps the last parent directory open between operations; a directory moved,
  // removed or replaced in between must not keep receiving files under its old path.
  ASSERT_TRUE(Apply(Mkdir{0, "a", 0755}).ok());
  ASSERT_TRUE(SendFile("a/one", "1").ok());
  ASSERT_TRUE(Apply(Rename{0, "a", "b"}).ok());
  ASSERT_TRUE(Apply(Mkdir{0, "a", 0755}).ok());
  ASSERT_TRUE(SendFile("a/two", "2").ok());
  EXPECT_EQ(ReadFile(D("b/one")), "1");
  EXPECT_EQ(ReadFile(D("a/two")), "2");
  EXPECT_FALSE(Exists(D("b/two")));

  ASSERT_TRUE(Apply(Unlink{0, "a/two"}).ok());
  ASSERT_TRUE(Apply(Rmdir{0, "a"}).ok());
  ASSERT_TRUE(Apply(Mkdir{0, "a", 0755}).ok());
  ASSERT_TRUE(SendFile("a/three", "3").ok());
  EXPECT_EQ(ReadFile(D("a/three")), "3");

  // A file where the directory was (removed as what is in the way), then a directory again.
  ASSERT_TRUE(SendFile("a", "now a file").ok());
  EXPECT_EQ(ReadFile(D("a")), "now a file");
  ASSERT_TRUE(Apply(Mkdir{0, "a", 0755}).ok());
  ASSERT_TRUE(SendFile("a/four", "4").ok());
  EXPECT_EQ(ReadFile(D("a/four")), "4");
  EXPECT_EQ(DescribeTree(dest_.path()).size(), 5u);  // ., a, a/four, b, b/one
}

TEST_F(ApplierTest, BlockCopyBuildsTheNewVersionFromTheOldOne) {
  const std::string old_version = "0123456789abcdefghij";
  ASSERT_TRUE(SendFile("f", old_version).ok());
  // New version: "abcde" (copied from offset 10) + "XY" + "0123" (copied from offset 0).
  const std::string now = "abcdeXY0123";
  ASSERT_TRUE(Apply(FileBegin{0, "f", now.size(), 0644}).ok());
  ASSERT_TRUE(Apply(BlockCopy{0, 0, 10, 5}).ok());
  ASSERT_TRUE(Apply(FileData{0, 5, "XY"}).ok());
  ASSERT_TRUE(Apply(BlockCopy{0, 7, 0, 4}).ok());
  EXPECT_EQ(ReadFile(D("f")), old_version);  // nothing visible before FileEnd
  ASSERT_TRUE(Apply(FileEnd{0, now.size(), HashBytes(now)}).ok());
  EXPECT_EQ(ReadFile(D("f")), now);

  // The destination's copy is not what the worker thinks (shorter): refused, left unchanged.
  ASSERT_TRUE(Apply(FileBegin{0, "f", 100, 0644}).ok());
  Status st = Apply(BlockCopy{0, 0, 5, 50});
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(applier_->last_error_code(), ErrorCode::kHashMismatch);
  ASSERT_TRUE(Apply(FileData{0, 50, "skipped"}).ok());
  ASSERT_TRUE(Apply(FileEnd{0, 57, HashBytes("whatever")}).ok());
  EXPECT_EQ(ReadFile(D("f")), now);
  // ... or has other content: FileEnd's hash catches it.
  ASSERT_TRUE(Apply(FileBegin{0, "f", 4, 0644}).ok());
  ASSERT_TRUE(Apply(BlockCopy{0, 0, 0, 4}).ok());
  EXPECT_EQ(Apply(FileEnd{0, 4, HashBytes("zzzz")}).code(), StatusCode::kCorruption);
  EXPECT_EQ(ReadFile(D("f")), now);
  // No earlier version at all.
  ASSERT_TRUE(Apply(FileBegin{0, "new", 4, 0644}).ok());
  EXPECT_EQ(Apply(BlockCopy{0, 0, 0, 4}).code(), StatusCode::kNotFound);
  ASSERT_TRUE(Apply(FileEnd{0, 4, HashBytes("abcd")}).ok());
  EXPECT_FALSE(Exists(D("new")));
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
  // Outside a transfer, or going backwards, it breaks the protocol.
  EXPECT_EQ(Apply(BlockCopy{0, 0, 0, 1}).code(), StatusCode::kCorruption);
  EXPECT_TRUE(applier_->stream_broken());
}

TEST_F(ApplierTest, SourceCopyTakesTheBytesFromTheSourceTreeAndVerifiesThem) {
  TempDir source;
  std::mt19937_64 rng(5);
  std::string content(9u << 20, '\0');  // more than one in-kernel chunk (8 MiB)
  for (char& c : content) c = static_cast<char>(rng());
  WriteFile(source / "f", content);
  ApplierOptions options;
  options.source_root = source.path();
  Reopen(options);

  // In pieces at unaligned offsets, copied in the kernel and hashed where they landed.
  ASSERT_TRUE(Apply(FileBegin{0, "f", content.size(), 0644}).ok());
  ASSERT_TRUE(Apply(SourceCopy{0, 0, 5000}).ok());
  ASSERT_TRUE(Apply(SourceCopy{0, 5000, content.size() - 5000}).ok());
  EXPECT_FALSE(Exists(D("f")));  // nothing visible before FileEnd
  ASSERT_TRUE(Apply(FileEnd{0, content.size(), HashBytes(content)}).ok());
  EXPECT_EQ(ReadFile(D("f")), content);
  EXPECT_GE(calls_.in_kernel_copies, 3);

  // The source was rewritten after the worker read it: its hash differs from the copy's.
  WriteFile(source / "f", "a newer version");
  ASSERT_TRUE(Apply(FileBegin{0, "f", 15, 0644}).ok());
  ASSERT_TRUE(Apply(SourceCopy{0, 0, 15}).ok());
  EXPECT_EQ(Apply(FileEnd{0, 15, HashBytes("the version read")}).code(), StatusCode::kCorruption);
  EXPECT_EQ(applier_->last_error_code(), ErrorCode::kSourceChanged);
  EXPECT_EQ(ReadFile(D("f")), content);
  // ... or it shrank: refused at once, the rest of the transfer skipped.
  ASSERT_TRUE(Apply(FileBegin{0, "f", 100, 0644}).ok());
  EXPECT_FALSE(Apply(SourceCopy{0, 0, 100}).ok());
  EXPECT_EQ(applier_->last_error_code(), ErrorCode::kSourceChanged);
  ASSERT_TRUE(Apply(FileEnd{0, 100, HashBytes("whatever")}).ok());
  EXPECT_EQ(ReadFile(D("f")), content);
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());

  // A symlink in the source is never followed out of it.
  WriteFile(outside_ / "secret", "secret");
  ASSERT_EQ(::symlink((outside_ / "secret").c_str(), (source / "link").c_str()), 0);
  ASSERT_TRUE(Apply(FileBegin{0, "link", 6, 0644}).ok());
  EXPECT_FALSE(Apply(SourceCopy{0, 0, 6}).ok());
  EXPECT_EQ(applier_->last_error_code(), ErrorCode::kSourceChanged);
  ASSERT_TRUE(Apply(FileEnd{0, 6, HashBytes("secret")}).ok());
  EXPECT_FALSE(Exists(D("link")));

  // Where the kernel cannot copy between the files, the bytes are read and written.
  calls_.copy_errno = EXDEV;
  WriteFile(source / "g", "read and written");
  ASSERT_TRUE(Apply(FileBegin{0, "g", 16, 0600}).ok());
  ASSERT_TRUE(Apply(SourceCopy{0, 0, 16}).ok());
  ASSERT_TRUE(Apply(FileEnd{0, 16, HashBytes("read and written")}).ok());
  EXPECT_EQ(ReadFile(D("g")), "read and written");
}

TEST_F(ApplierTest, SourceCopyOnAFullDestinationIsNoSpaceAndLeavesNoTemp) {
  TempDir source;
  WriteFile(source / "f", "0123456789");
  WriteFile(D("f"), "old content");
  ApplierOptions options;
  options.source_root = source.path();
  Reopen(options);
  calls_.copy_errno = ENOSPC;
  ASSERT_TRUE(Apply(FileBegin{0, "f", 10, 0644}).ok());
  Status st = Apply(SourceCopy{0, 0, 10});
  EXPECT_NE(st.message().find("destination file system is full"), std::string::npos)
      << st.message();
  EXPECT_EQ(applier_->last_error_code(), ErrorCode::kNoSpace);
  ASSERT_TRUE(Apply(FileEnd{0, 10, HashBytes("0123456789")}).ok());
  EXPECT_EQ(ReadFile(D("f")), "old content");
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, SourceCopyIsOfferedOnlyWithASourceRoot) {
  std::vector<Message> replies;
  ASSERT_TRUE(applier_->Handle(Hello{1, 1, kCapabilitiesSupported, "w"}, &replies).ok());
  EXPECT_EQ(std::get<HelloReply>(replies[0]).capabilities & kCapSourceCopy, 0u);
  // Sent anyway, it breaks the protocol.
  ASSERT_TRUE(Apply(FileBegin{0, "f", 1, 0644}).ok());
  EXPECT_EQ(Apply(SourceCopy{0, 0, 1}).code(), StatusCode::kCorruption);
  EXPECT_TRUE(applier_->stream_broken());

  TempDir source;
  ApplierOptions options;
  options.source_root = source.path();
  Reopen(options);
  replies.clear();
  ASSERT_TRUE(applier_->Handle(Hello{1, 1, kCapabilitiesSupported, "w"}, &replies).ok());
  EXPECT_NE(std::get<HelloReply>(replies[0]).capabilities & kCapSourceCopy, 0u);
}

TEST_F(ApplierTest, BatchEndsOnlyForOperationsThatNeedTheStagedFilesInPlace) {
  StartBatchConversation();
  std::vector<Message> replies;
  uint64_t seq = 1;
  for (const char* dir : {"a", "b", "c"})
    ASSERT_TRUE(applier_->Handle(Mkdir{++seq, dir, 0755}, &replies).ok());
  replies.clear();
  WriteFile(D("c/x"), "x");
  calls_.syncfs_calls = 0;
  std::vector<Message> batch = FileWithMeta(&seq, "a/f", "in a", Meta("", kMetaMode, 0644));
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  // Elsewhere in the tree: a rename, an unlink, another directory's times, a new directory.
  ASSERT_TRUE(applier_->Handle(Rename{++seq, "c/x", "c/y"}, &replies).ok());
  ASSERT_TRUE(applier_->Handle(Unlink{++seq, "c/y"}, &replies).ok());
  SetMeta times_b = Meta("b", kMetaMtime, 0, 1'000'000'000);
  times_b.seq = ++seq;
  ASSERT_TRUE(applier_->Handle(times_b, &replies).ok());
  ASSERT_TRUE(applier_->Handle(Mkdir{++seq, "a/sub", 0755}, &replies).ok());
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(calls_.syncfs_calls, 0);
  EXPECT_FALSE(Exists(D("a/f")));  // still staged
  // The times of the directory it goes into: the file goes in first (its rename would move
  // the directory's mtime again).
  SetMeta times_a = Meta("a", kMetaMtime, 0, 2'000'000'000);
  times_a.seq = ++seq;
  ASSERT_TRUE(applier_->Handle(times_a, &replies).ok());
  EXPECT_EQ(calls_.syncfs_calls, 1);
  EXPECT_EQ(ReadFile(D("a/f")), "in a");
  struct stat st {};
  ASSERT_EQ(::stat(D("a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 2);
  // Removing a directory above a staged file, or the file itself, sees it in place.
  batch = FileWithMeta(&seq, "a/sub/g", "in sub", Meta("", kMetaMode, 0644));
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_TRUE(applier_->Handle(Rename{++seq, "a", "moved"}, &replies).ok());
  EXPECT_EQ(calls_.syncfs_calls, 2);
  EXPECT_EQ(ReadFile(D("moved/sub/g")), "in sub");
  batch = FileWithMeta(&seq, "b/h", "short-lived", Meta("", kMetaMode, 0644));
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_TRUE(applier_->Handle(Unlink{++seq, "b/h"}, &replies).ok());
  EXPECT_EQ(calls_.syncfs_calls, 3);
  EXPECT_FALSE(Exists(D("b/h")));
  EXPECT_TRUE(replies.empty());
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, BatchDurabilityRenamesFilesInOnlyAfterTheirDataIsSynced) {
  StartBatchConversation();
  std::vector<Message> replies;
  ASSERT_TRUE(SendFile("old", "old content").ok());  // Apply(): stays staged
  replies.clear();
  ASSERT_TRUE(applier_->Handle(Barrier{++seq_, true}, &replies).ok());
  EXPECT_EQ(ReadFile(D("old")), "old content");

  calls_.syncfs_calls = 0;
  calls_.renames_after_syncfs.clear();
  uint64_t seq = seq_;
  std::vector<Message> batch = FileWithMeta(&seq, "a", "alpha", Meta("", kMetaMode, 0640));
  for (Message& m : FileWithMeta(&seq, "b", "beta", Meta("", kMetaMode, 0600)))
    batch.push_back(std::move(m));
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  EXPECT_TRUE(replies.empty());
  // Complete and verified, but not in place until the batch ends.
  EXPECT_FALSE(Exists(D("a")));
  EXPECT_FALSE(Exists(D("b")));
  EXPECT_EQ(GeorepTempFiles(dest_.path()).size(), 2u);
  // A rename must see them in place: it ends the batch.
  ASSERT_TRUE(applier_->Handle(Rename{++seq, "a", "c"}, &replies).ok());
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(ReadFile(D("c")), "alpha");
  EXPECT_EQ(ReadFile(D("b")), "beta");
  ASSERT_GE(calls_.renames_after_syncfs.size(), 2u);
  EXPECT_GE(calls_.renames_after_syncfs[0], 1);  // the data was synced first
  EXPECT_GE(calls_.renames_after_syncfs[1], 1);

  // The sync fails: nothing goes into place, the file's own operation gets the error.
  batch = FileWithMeta(&seq, "old", "new content", Meta("", kMetaMode, 0644));
  const uint64_t meta_seq = seq;
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  calls_.syncfs_errno = EIO;
  replies.clear();
  ASSERT_TRUE(applier_->Handle(Barrier{++seq, true}, &replies).ok());
  ASSERT_EQ(replies.size(), 3u);  // the file's Error, the Barrier's own Error, its Ack
  EXPECT_EQ(std::get<Error>(replies[0]).seq, meta_seq);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kIO);
  EXPECT_EQ(ReadFile(D("old")), "old content");
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
  calls_.syncfs_errno = 0;

  // An agent that goes away with files staged leaves no temporary file behind.
  batch = FileWithMeta(&seq, "never", "acknowledged", Meta("", kMetaMode, 0644));
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  applier_.reset();
  EXPECT_FALSE(Exists(D("never")));
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, PipelinedCommitsLeaveEachSyncToRunUnderTheNextBatch) {
  StartBatchConversation();
  std::vector<Message> replies;
  calls_.syncfs_calls = 0;
  uint64_t seq = 1;

  // Batch 1, more of the stream at hand: its sync runs on; its file stays staged until the
  // sync is done, and its Ack waits.
  std::vector<Message> batch = FileWithMeta(&seq, "a", "alpha", Meta("", kMetaMode, 0644));
  const uint64_t barrier1 = ++seq;
  batch.push_back(Barrier{barrier1, true});
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, true).ok());
  EXPECT_TRUE(replies.empty());
  EXPECT_FALSE(Exists(D("a")));
  EXPECT_TRUE(applier_->holding_ack());

  // Batch 2, with a failing operation: batch 1's file goes in at this Barrier (its sync is
  // done); Ack 1 now waits for batch 2's sync, which covers that rename; the Error and Ack 2
  // wait behind it.
  batch = FileWithMeta(&seq, "b", "beta", Meta("", kMetaMode, 0644));
  const uint64_t failing = ++seq;
  batch.push_back(Mkdir{failing, "missing/x", 0755});
  const uint64_t barrier2 = ++seq;
  batch.push_back(Barrier{barrier2, true});
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, true).ok());
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(ReadFile(D("a")), "alpha");
  EXPECT_FALSE(Exists(D("b")));

  // Nothing more at hand: everything is synced and replied, in order.
  ASSERT_TRUE(applier_->HandleAll({}, &replies, false).ok());
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(std::get<Ack>(replies[0]).applied_seq, barrier1);
  EXPECT_TRUE(std::get<Ack>(replies[0]).durable);
  EXPECT_EQ(std::get<Error>(replies[1]).seq, failing);
  EXPECT_EQ(std::get<Ack>(replies[2]).applied_seq, barrier2);
  EXPECT_TRUE(std::get<Ack>(replies[2]).durable);
  EXPECT_EQ(ReadFile(D("b")), "beta");
  EXPECT_FALSE(applier_->holding_ack());
  // One sync per batch, and one for the last renames -- two per batch would be four.
  EXPECT_EQ(calls_.syncfs_calls, 3);

  // A sync that fails: the file waiting for it gets the Error (its temporary file removed),
  // its Barrier too, and the Ack does not say durable.
  calls_.syncfs_errno = EIO;
  batch = FileWithMeta(&seq, "c", "gamma", Meta("", kMetaMode, 0644));
  const uint64_t file_c = seq;
  const uint64_t barrier3 = ++seq;
  batch.push_back(Barrier{barrier3, true});
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, true).ok());
  EXPECT_TRUE(replies.empty());
  ASSERT_TRUE(applier_->HandleAll({}, &replies, false).ok());
  calls_.syncfs_errno = 0;
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(std::get<Error>(replies[0]).seq, file_c);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kIO);
  EXPECT_EQ(std::get<Error>(replies[1]).seq, barrier3);
  EXPECT_EQ(std::get<Ack>(replies[2]).applied_seq, barrier3);
  EXPECT_FALSE(std::get<Ack>(replies[2]).durable);
  EXPECT_FALSE(Exists(D("c")));
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());

  // Without more input, a Barrier is durable at once: a sync for the data, one for the renames.
  calls_.syncfs_calls = 0;
  batch = FileWithMeta(&seq, "d", "delta", Meta("", kMetaMode, 0644));
  const uint64_t barrier4 = ++seq;
  batch.push_back(Barrier{barrier4, true});
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, false).ok());
  EXPECT_EQ(calls_.syncfs_calls, 2);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(std::get<Ack>(replies[0]).durable);
  EXPECT_EQ(ReadFile(D("d")), "delta");
  EXPECT_FALSE(applier_->holding_ack());
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, TheNextBatchIsAppliedWhileTheSyncRuns) {
  StartBatchConversation();
  std::vector<Message> replies;
  uint64_t seq = 1;
  calls_.HoldSyncs(true);
  std::vector<Message> batch = FileWithMeta(&seq, "a", "alpha", Meta("", kMetaMode, 0644));
  batch.push_back(Barrier{++seq, true});
  std::vector<Message> next = FileWithMeta(&seq, "b", "beta", Meta("", kMetaMode, 0644));
  // Both calls return while the sync is held: batch 2's file is written meanwhile.
  auto applied = std::async(std::launch::async, [&] {
    return applier_->HandleAll(batch, &replies, true).ok() &&
           applier_->HandleAll(next, &replies, true).ok();
  });
  const bool returned = applied.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  EXPECT_TRUE(returned) << "the applier waited for the sync";
  EXPECT_TRUE(calls_.WaitForHeldSync());
  if (returned) {
    EXPECT_EQ(GeorepTempFiles(dest_.path()).size(), 2u);  // a's and b's, staged
  }
  calls_.HoldSyncs(false);
  ASSERT_TRUE(applied.get());
  ASSERT_TRUE(applier_->HandleAll({Barrier{++seq, true}}, &replies, false).ok());
  EXPECT_EQ(ReadFile(D("a")), "alpha");
  EXPECT_EQ(ReadFile(D("b")), "beta");
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, AnAckIsNotHeldLongWhileALargeFileGoesOnWithoutABarrier) {
  StartBatchConversation();
  std::vector<Message> replies;
  uint64_t seq = 1;
  std::vector<Message> batch = FileWithMeta(&seq, "small", "small", Meta("", kMetaMode, 0644));
  const uint64_t barrier = ++seq;
  batch.push_back(Barrier{barrier, true});
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, true).ok());
  EXPECT_TRUE(replies.empty());
  // A large file follows, piece by piece, without a Barrier.
  const std::string part(64 << 10, 'L');
  ASSERT_TRUE(
      applier_->HandleAll({FileBegin{++seq, "large", 3 * part.size(), 0644}}, &replies, true).ok());
  clock_.Advance(Applier::kMaxHoldMillis / 2);
  ASSERT_TRUE(applier_->HandleAll({FileData{++seq, 0, part}}, &replies, true).ok());
  EXPECT_TRUE(replies.empty());  // not held long yet
  clock_.Advance(Applier::kMaxHoldMillis);
  ASSERT_TRUE(applier_->HandleAll({FileData{++seq, part.size(), part}}, &replies, true).ok());
  ASSERT_EQ(replies.size(), 1u);  // held too long: synced and replied
  EXPECT_EQ(std::get<Ack>(replies[0]).applied_seq, barrier);
  EXPECT_TRUE(std::get<Ack>(replies[0]).durable);
  EXPECT_EQ(ReadFile(D("small")), "small");
  EXPECT_FALSE(applier_->holding_ack());
  // The large file goes on as before.
  const std::string whole = part + part + part;
  batch = {FileData{++seq, 2 * part.size(), part}, FileEnd{++seq, whole.size(), HashBytes(whole)},
           Barrier{++seq, true}};
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, false).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(std::get<Ack>(replies[0]).durable);
  EXPECT_EQ(ReadFile(D("large")), whole);
}

// ---- files written on the file threads (ApplierOptions::file_threads) -----------------------

// A random stream of the operations a worker sends, over a few paths that collide often:
// files (whole, sparse, some damaged, some larger than a file thread takes, most with their
// SetMeta), directories, renames, links, removals, metadata and Barriers.
class RandomStream {
 public:
  explicit RandomStream(uint32_t seed) : rng_(seed) {}

  std::vector<Message> Make(size_t operations) {
    std::vector<Message> out;
    for (size_t i = 0; i < operations; ++i) Add(&out);
    // Every path gets known times and mode at the end: a directory's mtime is otherwise the
    // moment something changed in it.
    // (No xattrs there: a symlink takes none, and its times would stay unset.)
    out.push_back(Meta(".", false));
    for (std::string_view path : kPaths) out.push_back(Meta(std::string(path), false));
    out.push_back(Barrier{++seq_, true});
    return out;
  }

  static bool IsPath(std::string_view path) {
    return std::find(std::begin(kPaths), std::end(kPaths), path) != std::end(kPaths);
  }

 private:
  static constexpr std::string_view kPaths[] = {"a", "a/f", "a/g", "a/b", "a/b/f", "c", "c/f", "h"};

  std::string Path() { return std::string(kPaths[Pick(std::size(kPaths))]); }
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  SetMeta Meta(std::string path, bool xattrs = true) {
    SetMeta m;
    m.seq = ++seq_;
    m.path = std::move(path);
    m.fields = kMetaMode | kMetaMtime | (xattrs && Pick(4) == 0 ? kMetaXattrs : 0);
    m.mode = Pick(2) == 0 ? 0755 : 0640;
    m.mtime_ns = 1'600'000'000'000'000'000 + static_cast<int64_t>(Pick(1000)) * 1'000'000'007;
    if (m.fields & kMetaXattrs) m.xattrs = {{"user.k", std::to_string(Pick(10))}};
    return m;
  }

  void Add(std::vector<Message>* out) {
    switch (Pick(12)) {
      case 0:
      case 1:
        out->push_back(Mkdir{++seq_, Path(), 0755});
        break;
      case 2:
        out->push_back(Rename{++seq_, Path(), Path()});
        break;
      case 3:
        out->push_back(Pick(2) == 0 ? Message(Unlink{++seq_, Path()})
                                    : Message(Rmdir{++seq_, Path()}));
        break;
      case 4:
        out->push_back(Pick(2) == 0 ? Message(Hardlink{++seq_, Path(), Path()})
                                    : Message(Symlink{++seq_, Path(), "target"}));
        break;
      case 5:
        out->push_back(Meta(Pick(8) == 0 ? "." : Path()));
        break;
      case 6:
        out->push_back(Barrier{++seq_, Pick(2) == 0});
        break;
      default: {  // a file, the most common operation
        const size_t size = Pick(40) == 0 ? Applier::kFileJobBytes + 1 + Pick(5000) : Pick(9000);
        std::string content(size, '\0');
        for (char& c : content) c = static_cast<char>('a' + Pick(26));
        const size_t hole = Pick(4) == 0 ? std::min<size_t>(size, 100 + Pick(3000)) : 0;
        std::fill(content.begin(), content.begin() + static_cast<ptrdiff_t>(hole), '\0');
        const std::string path = Path();
        out->push_back(FileBegin{++seq_, path, size, 0644});
        for (size_t off = hole; off < size; off += 4096) {
          out->push_back(FileData{++seq_, off, content.substr(off, 4096)});
        }
        out->push_back(FileEnd{++seq_, size, HashBytes(Pick(10) == 0 ? content + "x" : content)});
        if (Pick(5) != 0) out->push_back(Meta(path));
      }
    }
  }

  std::mt19937 rng_;
  uint64_t seq_ = 0;
};

struct Conversation {
  std::vector<Message> acks;
  std::vector<std::string> errors;        // "seq code: message", in the order of seq
  std::vector<std::string> order_faults;  // an Error after the Ack of its batch
};

// Applies `stream` to `root` in random pieces (as the agent receives it) and collects the
// replies.
Conversation Converse(const std::string& root, Durability durability, size_t threads,
                      const std::vector<Message>& stream, uint32_t seed) {
  ApplierOptions options;
  options.durability = durability;
  options.file_threads = threads;
  auto applier = Applier::Open(root, options);
  EXPECT_TRUE(applier.ok()) << applier.status().ToString();
  Conversation c;
  if (!applier.ok()) return c;
  std::vector<Message> replies;
  EXPECT_TRUE((*applier)->Handle(Hello{1, 1, kCapXattrs, "w"}, &replies).ok());
  std::mt19937 rng(seed);
  for (size_t i = 0; i < stream.size();) {
    const size_t n = std::min(stream.size() - i, std::uniform_int_distribution<size_t>(1, 60)(rng));
    std::vector<Message> piece(stream.begin() + static_cast<ptrdiff_t>(i),
                               stream.begin() + static_cast<ptrdiff_t>(i + n));
    i += n;
    const bool more = i < stream.size() && rng() % 4 != 0;
    EXPECT_TRUE((*applier)->HandleAll(piece, &replies, more).ok());
  }
  uint64_t acked = 0;
  for (const Message& m : replies) {
    if (const auto* ack = std::get_if<Ack>(&m)) {
      c.acks.push_back(*ack);
      acked = ack->applied_seq;
    } else if (const auto* error = std::get_if<Error>(&m)) {
      if (error->seq <= acked) c.order_faults.push_back(error->message);
      c.errors.push_back(
          fmt::format("{:06} {}: {}", error->seq, static_cast<int>(error->code), error->message));
    }
  }
  std::sort(c.errors.begin(), c.errors.end());
  return c;
}

// DescribeTree(), without the mtime of entries a RandomStream gives none (moved beneath
// another path): that is when it was made, and differs from run to run.
std::vector<std::string> Described(const std::string& root) {
  std::vector<std::string> lines = DescribeTree(root);
  for (std::string& line : lines) {
    const std::string path = line.substr(0, line.find(' '));
    if (path == "." || RandomStream::IsPath(path)) continue;
    const size_t at = line.find(" mtime=");
    line.erase(at, line.find(' ', at + 1) - at);
  }
  return lines;
}

// The lines of `got` not in `want` and the other way round, each cut to 200 characters.
std::string TreeDifference(const std::vector<std::string>& got,
                           const std::vector<std::string>& want) {
  std::string out;
  for (const auto& [lines, other, sign] : {std::tuple(&got, &want, "+ "), {&want, &got, "- "}}) {
    for (const std::string& line : *lines) {
      if (std::find(other->begin(), other->end(), line) == other->end())
        out += sign + line.substr(0, 200) + "\n";
    }
  }
  return out;
}

class FileThreadsTest : public ::testing::TestWithParam<Durability> {};

TEST_P(FileThreadsTest, TheOutcomeIsTheSameAsOnOneThread) {
  ASSERT_EQ(::geteuid(), 0u) << "the test suite runs as root";
  // GEOREP_SEED=N runs sequence N alone; GEOREP_SOAK_ROUNDS=N runs N sequences (25).
  const char* seed_env = getenv("GEOREP_SEED");
  const char* rounds_env = getenv("GEOREP_SOAK_ROUNDS");
  const uint32_t first = seed_env != nullptr ? static_cast<uint32_t>(atoi(seed_env)) : 1;
  const uint32_t rounds = seed_env != nullptr     ? 1
                          : rounds_env != nullptr ? static_cast<uint32_t>(atoi(rounds_env))
                                                  : 25;
  size_t entries = 0;
  size_t errors = 0;
  for (uint32_t seed = first; seed < first + rounds; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    const std::vector<Message> stream = RandomStream(seed).Make(300);
    TempDir one;
    TempDir many;
    const Conversation expected = Converse(one.path(), GetParam(), 0, stream, seed);
    const Conversation got = Converse(many.path(), GetParam(), 3, stream, seed);
    const std::vector<std::string> tree = Described(one.path());
    ASSERT_EQ(Described(many.path()), tree) << TreeDifference(Described(many.path()), tree);
    ASSERT_EQ(got.acks, expected.acks);
    ASSERT_EQ(got.errors, expected.errors);
    EXPECT_TRUE(got.order_faults.empty()) << got.order_faults.front();
    EXPECT_TRUE(GeorepTempFiles(many.path()).empty());
    entries += DescribeTree(one.path()).size();
    errors += expected.errors.size();
  }
  // Not a test that cannot fail: the streams do fail and succeed at things.
  EXPECT_GT(entries, rounds * 3);
  EXPECT_GT(errors, rounds);
}

INSTANTIATE_TEST_SUITE_P(Durabilities, FileThreadsTest,
                         ::testing::Values(Durability::kNone, Durability::kBatch, Durability::kFile,
                                           Durability::kFileAndDirectory),
                         [](const auto& info) {
                           switch (info.param) {
                             case Durability::kNone:
                               return std::string("None");
                             case Durability::kBatch:
                               return std::string("Batch");
                             case Durability::kFile:
                               return std::string("File");
                             default:
                               return std::string("FileAndDirectory");
                           }
                         });

TEST_F(ApplierTest, FilesOnThreadsAreInPlaceBeforeWhatNeedsThem) {
  StartConversation(Durability::kFile, 2);
  std::vector<Message> replies;
  uint64_t seq = 0;
  std::vector<Message> batch{Mkdir{++seq, "d", 0755}};
  for (int i = 0; i < 40; ++i) {
    for (Message& m : FileWithMeta(&seq, "d/f" + std::to_string(i), "content " + std::to_string(i),
                                   Meta("", kMetaMode | kMetaMtime, 0640, 1'000'000'000)))
      batch.push_back(std::move(m));
  }
  // Each of these needs a file above in place: the rename its file, the directory's times
  // every rename into it, the unlink the file it removes.
  batch.push_back(Rename{++seq, "d/f3", "moved"});
  batch.push_back(Unlink{++seq, "d/f4"});
  batch.push_back(Meta("d", kMetaMtime, 0, 2'000'000'000));
  std::get<SetMeta>(batch.back()).seq = ++seq;
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, true).ok());
  ASSERT_TRUE(applier_->HandleAll({Barrier{++seq, false}}, &replies, false).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0] == Message(Ack{seq, false}));
  EXPECT_EQ(ReadFile(D("moved")), "content 3");
  EXPECT_FALSE(Exists(D("d/f3")));
  EXPECT_FALSE(Exists(D("d/f4")));
  EXPECT_EQ(ReadFile(D("d/f39")), "content 39");
  struct stat st {};
  ASSERT_EQ(::stat(D("d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 2);  // set after the last file went in
  ASSERT_EQ(::stat(D("d/f7").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1);
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, AFileThatFailsOnAThreadIsRepliedAndLeavesNothing) {
  StartConversation(Durability::kBatch, 2);
  std::vector<Message> replies;
  uint64_t seq = 0;
  std::vector<Message> batch = FileWithMeta(&seq, "kept", "old", Meta("", kMetaMode, 0644));
  batch.push_back(Barrier{++seq, true});
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(ReadFile(D("kept")), "old");

  // The destination is full: the write fails on the file's thread.
  calls_.write_errno = ENOSPC;
  calls_.write_budget = calls_.written;
  batch = FileWithMeta(&seq, "kept", "new content", Meta("", kMetaMode, 0600));
  const uint64_t data_seq = std::get<FileData>(batch[1]).seq;
  batch.push_back(Barrier{++seq, true});
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(std::get<Error>(replies[0]).seq, data_seq);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kNoSpace);
  EXPECT_TRUE(replies[1] == Message(Ack{seq, true}));
  EXPECT_EQ(ReadFile(D("kept")), "old");
  struct stat st {};
  ASSERT_EQ(::stat(D("kept").c_str(), &st), 0);
  // Its SetMeta is not applied to the old bytes (as on one thread): they keep their metadata.
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
  calls_.write_errno = 0;

  // Files still on their threads when the agent goes away leave no temporary file.
  batch.clear();
  for (int i = 0; i < 50; ++i) {
    for (Message& m :
         FileWithMeta(&seq, "gone" + std::to_string(i), "x", Meta("", kMetaMode, 0644)))
      batch.push_back(std::move(m));
  }
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, true).ok());
  applier_.reset();
  EXPECT_FALSE(Exists(D("gone0")));
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

// A file on a thread whose FileEnd ends what HandleAll was given (the stream's next read has
// its SetMeta): when it fails, that SetMeta, handled on its own, leaves the old file be too --
// the old bytes never carry the new version's mtime and mode.
TEST_F(ApplierTest, AFileThatFailsOnAThreadKeepsItsMetadataWhenItsSetMetaComesLater) {
  StartConversation(Durability::kBatch, 2);
  std::vector<Message> replies;
  uint64_t seq = 0;
  std::vector<Message> batch =
      FileWithMeta(&seq, "kept", "old", Meta("", kMetaMode | kMetaMtime, 0644, 1'000'000'000));
  batch.push_back(Barrier{++seq, true});
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(ReadFile(D("kept")), "old");

  calls_.write_errno = ENOSPC;
  calls_.write_budget = calls_.written;
  batch = FileWithMeta(&seq, "kept", "new content",
                       Meta("", kMetaMode | kMetaMtime, 0600, 2'000'000'000));
  const Message meta = batch.back();
  batch.pop_back();  // FileBegin, FileData, FileEnd: one read; the SetMeta in the next
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, true).ok());
  ASSERT_TRUE(applier_->HandleAll({meta, Barrier{++seq, true}}, &replies).ok());
  ASSERT_FALSE(replies.empty());
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kNoSpace);
  EXPECT_TRUE(replies.back() == Message(Ack{seq, true}));
  EXPECT_EQ(ReadFile(D("kept")), "old");
  struct stat st {};
  ASSERT_EQ(::stat(D("kept").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1) << "the old bytes carry the new version's mtime";
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

// A file whose new content could not be written (the destination is full) still holds its
// old content: a link to it made now would give its new path that old content, while the
// worker records the new one there and never sends it again. The link is refused too, until
// the file is written.
TEST_F(ApplierTest, ALinkToAFileWhoseTransferFailedIsRefusedToo) {
  WriteFile(D("a"), "old");
  calls_.write_errno = ENOSPC;
  calls_.write_budget = calls_.written;
  EXPECT_EQ(SendFile("a", "old and appended").code(), StatusCode::kIOError);
  Status linked = Apply(Hardlink{0, "a", "b"});
  EXPECT_FALSE(linked.ok());
  EXPECT_NE(linked.message().find("new content was not written"), std::string::npos)
      << linked.message();
  EXPECT_FALSE(Exists(D("b")));
  // Moved with its directory, it is still the old content (a sibling named like the
  // directory, sorting between it and what is inside, changes nothing).
  ASSERT_TRUE(Apply(Mkdir{0, "d", 0755}).ok());
  ASSERT_TRUE(Apply(Rename{0, "a", "d/a"}).ok());
  calls_.write_errno = 0;
  ASSERT_TRUE(SendFile("d-2", "written").ok());
  calls_.write_errno = ENOSPC;
  EXPECT_EQ(SendFile("d-2", "not written").code(), StatusCode::kIOError);
  ASSERT_TRUE(Apply(Rename{0, "d", "e"}).ok());
  EXPECT_FALSE(Apply(Hardlink{0, "e/a", "b"}).ok());
  EXPECT_FALSE(Apply(Hardlink{0, "d-2", "c"}).ok());
  // Written at last: links to it are made again.
  calls_.write_errno = 0;
  ASSERT_TRUE(SendFile("e/a", "old and appended").ok());
  ASSERT_TRUE(Apply(Hardlink{0, "e/a", "b"}).ok());
  EXPECT_EQ(ReadFile(D("b")), "old and appended");
}

TEST_F(ApplierTest, ALinkToAFileThatFailedOnAThreadIsRefusedToo) {
  StartConversation(Durability::kBatch, 2);
  std::vector<Message> replies;
  uint64_t seq = 0;
  std::vector<Message> batch = FileWithMeta(&seq, "a", "old", Meta("", kMetaMode, 0644));
  batch.push_back(Barrier{++seq, true});
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  calls_.write_errno = ENOSPC;
  calls_.write_budget = calls_.written;
  batch = FileWithMeta(&seq, "a", "old and appended", Meta("", kMetaMode, 0644));
  const uint64_t data_seq = std::get<FileData>(batch[1]).seq;
  batch.push_back(Hardlink{++seq, "a", "b"});
  const uint64_t link_seq = seq;
  batch.push_back(Barrier{++seq, true});
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(std::get<Error>(replies[0]).seq, data_seq);
  EXPECT_EQ(std::get<Error>(replies[1]).seq, link_seq);
  EXPECT_TRUE(replies[2] == Message(Ack{seq, true}));
  EXPECT_EQ(ReadFile(D("a")), "old");
  EXPECT_FALSE(Exists(D("b")));
  // A later batch (the same pass) links to it: refused as well.
  batch = {Hardlink{++seq, "a", "c"}, Barrier{++seq, true}};
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(std::get<Error>(replies[0]).seq, seq - 1);
  EXPECT_FALSE(Exists(D("c")));
}

TEST_F(ApplierTest, WhatGoesBeneathAStagedFileFindsItInPlace) {
  // Whether the batch has ended must not change what happens: `a` is a file, so `a/g`
  // cannot be made, and says so, whether or not `a` is still under its temporary name.
  StartBatchConversation();
  uint64_t seq = 0;
  std::vector<Message> batch = FileWithMeta(&seq, "a", "a file", Meta("", kMetaMode, 0644));
  for (Message& m : FileWithMeta(&seq, "a/g", "beneath it", Meta("", kMetaMode, 0644)))
    batch.push_back(std::move(m));
  const uint64_t begin_seq = std::get<FileBegin>(batch[4]).seq;
  std::vector<Message> replies;
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(replies.size(), 2u);  // the file's and its SetMeta's
  EXPECT_EQ(std::get<Error>(replies[0]).seq, begin_seq);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kInvalidPath);
  EXPECT_EQ(ReadFile(D("a")), "a file");
}

}  // namespace
}  // namespace georep::replication
