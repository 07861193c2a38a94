#include "replication/change_watcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "replication/test_util.h"

namespace georep::replication {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::WriteFile;
using Dirs = std::set<std::string>;

void Append(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << data;
}

// The same events through each watcher, on the real kernel. The source is `root/src`, with
// `root/sibling` beside it on the same file system.
class ChangeWatcherTest : public ::testing::TestWithParam<ChangeCapture> {
 protected:
  void SetUp() override {
    // The test command runs as root; elsewhere the fanotify cases are skipped, saying why.
    if (GetParam() == ChangeCapture::kFanotify) {
      if (::geteuid() != 0) GTEST_SKIP() << "a fanotify filesystem mark needs root";
    }
    fs::create_directories(src_ + "/a/sub");
    fs::create_directories(src_ + "/b");
    fs::create_directories(sibling_);
    WriteFile(src_ + "/a/f", "one\n");
    auto made = MakeChangeWatcher(src_, GetParam());
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    watcher_ = std::move(made).value();
    ASSERT_EQ(watcher_->kind(), ChangeCaptureName(GetParam()));
  }
  // What the watcher has seen since the last call. Events are queued by the system call that
  // causes them, so nothing is still on its way.
  ChangeSet Drain() {
    ChangeSet changes;
    Status st = watcher_->Drain(&changes);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return changes;
  }

  TempDir root_;
  const std::string src_ = root_.path() + "/src";
  const std::string sibling_ = root_.path() + "/sibling";
  std::unique_ptr<ChangeWatcher> watcher_;
};

TEST_P(ChangeWatcherTest, CreatedFileIsAWrittenEntry) {
  WriteFile(src_ + "/a/new", "data\n");
  ChangeSet c = Drain();
  EXPECT_EQ(c.entries, Dirs{"a/new"});
  EXPECT_TRUE(c.subtrees.empty());
  EXPECT_EQ(c.written, Dirs{"a/new"});
  EXPECT_TRUE(c.unclosed.empty()) << "written and closed";
  EXPECT_TRUE(c.changed);
  EXPECT_FALSE(c.overflow);
  EXPECT_TRUE(Drain().empty()) << "a second drain finds nothing new";
}

// A file a writer still holds open after writing is unclosed until it is closed; one that
// is removed meanwhile is not waited for.
TEST_P(ChangeWatcherTest, AFileHeldOpenAfterAWriteIsUnclosedUntilClosed) {
  const int held = ::open((src_ + "/a/held").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(held, 0);
  ASSERT_EQ(::write(held, "part", 4), 4);
  const int gone = ::open((src_ + "/b/gone").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(gone, 0);
  ASSERT_EQ(::write(gone, "x", 1), 1);
  ChangeSet c;
  ASSERT_TRUE(watcher_->Drain(&c).ok());
  EXPECT_EQ(c.unclosed, (Dirs{"a/held", "b/gone"}));
  ASSERT_EQ(::unlink((src_ + "/b/gone").c_str()), 0);
  ASSERT_TRUE(watcher_->Drain(&c).ok());
  EXPECT_EQ(c.unclosed, Dirs{"a/held"});
  ASSERT_EQ(::write(held, " two", 4), 4);
  ASSERT_TRUE(watcher_->Drain(&c).ok());
  EXPECT_EQ(c.unclosed, Dirs{"a/held"});
  ::close(held);
  ::close(gone);
  ASSERT_TRUE(watcher_->Drain(&c).ok());
  EXPECT_TRUE(c.unclosed.empty());
  EXPECT_EQ(c.written, (Dirs{"a/held", "b/gone"}));
}

TEST_P(ChangeWatcherTest, ModifiedFileIsWritten) {
  Append(src_ + "/a/f", "two\n");
  ChangeSet c = Drain();
  EXPECT_EQ(c.entries, Dirs{"a/f"});
  EXPECT_EQ(c.written, Dirs{"a/f"});
}

TEST_P(ChangeWatcherTest, RenameNamesBothEntriesAndWritesNothing) {
  ASSERT_EQ(::rename((src_ + "/a/f").c_str(), (src_ + "/b/g").c_str()), 0);
  ChangeSet c = Drain();
  EXPECT_EQ(c.entries, (Dirs{"a/f", "b/g"}));
  EXPECT_TRUE(c.subtrees.empty()) << "a file is no subtree";
  EXPECT_TRUE(c.written.empty());
}

TEST_P(ChangeWatcherTest, DeleteNamesTheEntry) {
  ASSERT_EQ(::unlink((src_ + "/a/f").c_str()), 0);
  ChangeSet c = Drain();
  EXPECT_EQ(c.entries, Dirs{"a/f"});
  EXPECT_TRUE(c.written.empty());
  ASSERT_EQ(::rmdir((src_ + "/b").c_str()), 0);
  c = Drain();
  EXPECT_EQ(c.entries, Dirs{"b"});
  EXPECT_TRUE(c.subtrees.empty()) << "a removed directory is no subtree to look at";
}

TEST_P(ChangeWatcherTest, AttributesNameTheEntry) {
  ASSERT_EQ(::chmod((src_ + "/a/f").c_str(), 0600), 0);
  ChangeSet c = Drain();
  EXPECT_EQ(c.entries, Dirs{"a/f"});
  EXPECT_TRUE(c.written.empty());
  // A directory's own attributes: the directory itself, not what is in it.
  ASSERT_EQ(::chmod((src_ + "/a/sub").c_str(), 0700), 0);
  c = Drain();
  EXPECT_EQ(c.entries, Dirs{"a/sub"});
  EXPECT_TRUE(c.subtrees.empty());
  EXPECT_TRUE(c.written.empty());
}

TEST_P(ChangeWatcherTest, NewDirectoryIsASubtreeAndWatchedAtOnce) {
  ASSERT_EQ(::mkdir((src_ + "/new").c_str(), 0755), 0);
  ChangeSet c = Drain();
  EXPECT_EQ(c.entries, Dirs{"new"});
  EXPECT_EQ(c.subtrees, Dirs{"new"});
  WriteFile(src_ + "/new/file", "x");
  ASSERT_EQ(::mkdir((src_ + "/new/deeper").c_str(), 0755), 0);
  c = Drain();
  EXPECT_EQ(c.entries, (Dirs{"new/deeper", "new/file"}));
  EXPECT_EQ(c.subtrees, Dirs{"new/deeper"});
  EXPECT_EQ(c.written, Dirs{"new/file"});
  WriteFile(src_ + "/new/deeper/file", "y");
  c = Drain();
  EXPECT_EQ(c.entries, Dirs{"new/deeper/file"});
  EXPECT_TRUE(c.subtrees.empty());
  EXPECT_EQ(c.written, Dirs{"new/deeper/file"});
}

TEST_P(ChangeWatcherTest, ChangesInARenamedDirectoryAreUnderItsNewName) {
  WriteFile(src_ + "/a/sub/old", "x");
  (void)Drain();  // both directories are known by their old names
  ASSERT_EQ(::rename((src_ + "/a").c_str(), (src_ + "/c").c_str()), 0);
  WriteFile(src_ + "/c/sub/file", "moved\n");
  ChangeSet c = Drain();
  EXPECT_EQ(c.entries, (Dirs{"a", "c", "c/sub/file"}));
  EXPECT_EQ(c.subtrees, Dirs{"c"}) << "a directory moved in is looked at whole";
  EXPECT_EQ(c.written, Dirs{"c/sub/file"});
  // And later too, in the renamed directory and the one inside it.
  WriteFile(src_ + "/c/later", "z");
  Append(src_ + "/c/sub/old", "y");
  c = Drain();
  EXPECT_EQ(c.entries, (Dirs{"c/later", "c/sub/old"}));
  EXPECT_TRUE(c.subtrees.empty());
  EXPECT_EQ(c.written, (Dirs{"c/later", "c/sub/old"}));
}

TEST_P(ChangeWatcherTest, RootItselfIsDot) {
  WriteFile(src_ + "/top", "t");
  ChangeSet c = Drain();
  EXPECT_EQ(c.entries, Dirs{"top"});
  EXPECT_EQ(c.written, Dirs{"top"});
  ASSERT_EQ(::chmod(src_.c_str(), 0700), 0);
  c = Drain();
  EXPECT_EQ(c.entries, Dirs{"."});
}

// A filesystem mark sees the whole file system: what happens beside the source (a state
// directory, a local destination) is dropped, directory renames and removals included.
TEST_P(ChangeWatcherTest, ChangesOutsideTheSourceAreNotReported) {
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat(src_.c_str(), &a), 0);
  ASSERT_EQ(::stat(sibling_.c_str(), &b), 0);
  ASSERT_EQ(a.st_dev, b.st_dev) << "the sibling must share the source's file system";
  fs::create_directories(sibling_ + "/d/e");
  WriteFile(sibling_ + "/d/e/file", "outside\n");
  ASSERT_EQ(::chmod((sibling_ + "/d/e/file").c_str(), 0600), 0);
  ASSERT_EQ(::rename((sibling_ + "/d").c_str(), (sibling_ + "/moved").c_str()), 0);
  WriteFile(sibling_ + "/moved/e/file2", "outside\n");
  fs::remove_all(sibling_ + "/moved");
  WriteFile(root_.path() + "/beside-src", "outside\n");
  ChangeSet c = Drain();
  EXPECT_TRUE(c.entries.empty()) << *c.entries.begin();
  EXPECT_TRUE(c.subtrees.empty());
  EXPECT_TRUE(c.written.empty());
  EXPECT_FALSE(c.changed);
  EXPECT_FALSE(c.overflow);
  // ... while a change inside is still seen.
  WriteFile(src_ + "/b/inside", "x");
  c = Drain();
  EXPECT_EQ(c.entries, Dirs{"b/inside"});
  EXPECT_EQ(c.written, Dirs{"b/inside"});
}

// A directory moved into the source from beside it: what happens in it is reported.
TEST_P(ChangeWatcherTest, DirectoryMovedInIsReported) {
  fs::create_directories(sibling_ + "/incoming");
  WriteFile(sibling_ + "/incoming/before", "x");
  (void)Drain();  // the outside directory is known as outside
  ASSERT_EQ(::rename((sibling_ + "/incoming").c_str(), (src_ + "/b/incoming").c_str()), 0);
  ChangeSet c = Drain();
  EXPECT_EQ(c.entries, Dirs{"b/incoming"});
  EXPECT_EQ(c.subtrees, Dirs{"b/incoming"}) << "what it holds had no events here";
  WriteFile(src_ + "/b/incoming/after", "y");
  c = Drain();
  EXPECT_EQ(c.entries, Dirs{"b/incoming/after"});
  EXPECT_EQ(c.written, Dirs{"b/incoming/after"});
}

INSTANTIATE_TEST_SUITE_P(ChangeWatcher, ChangeWatcherTest,
                         ::testing::Values(ChangeCapture::kFanotify, ChangeCapture::kInotify),
                         [](const auto& info) {
                           return std::string(ChangeCaptureName(info.param));
                         });

TEST(ChangeWatcher, AutoPicksFanotifyAsRoot) {
  TempDir src;
  auto w = MakeChangeWatcher(src.path(), ChangeCapture::kAuto);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_STREQ((*w)->kind(), ::geteuid() == 0 ? "fanotify" : "inotify");
  auto i = MakeChangeWatcher(src.path(), ChangeCapture::kInotify);
  ASSERT_TRUE(i.ok());
  EXPECT_STREQ((*i)->kind(), "inotify");
}

TEST(ChangeWatcher, ModesParse) {
  for (auto m : {ChangeCapture::kAuto, ChangeCapture::kFanotify, ChangeCapture::kInotify}) {
    auto parsed = ParseChangeCapture(ChangeCaptureName(m));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, m);
  }
  EXPECT_EQ(ParseChangeCapture("dnotify").status().code(), StatusCode::kInvalidArgument);
}

// The directories there are when the mark is set are known without a lookup by handle; a
// directory made later is looked up once.
TEST(ChangeWatcher, FanotifyKnowsTheTreeFromStart) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (the full test command runs as root)";
  TempDir src;
  fs::create_directories(src.path() + "/x/y/z");
  FanotifyWatcher w(src.path());
  ASSERT_TRUE(w.Start().ok());
  WriteFile(src.path() + "/x/y/z/f", "1");
  WriteFile(src.path() + "/x/f", "2");
  WriteFile(src.path() + "/f", "3");
  ChangeSet c;
  ASSERT_TRUE(w.Drain(&c).ok());
  EXPECT_EQ(c.entries, (Dirs{"f", "x/f", "x/y/z/f"}));
  EXPECT_EQ(w.handles_looked_up(), 0u);
  ASSERT_EQ(::mkdir((src.path() + "/x/new").c_str(), 0755), 0);
  WriteFile(src.path() + "/x/new/f", "4");
  Append(src.path() + "/x/new/f", "5");
  c = {};
  ASSERT_TRUE(w.Drain(&c).ok());
  EXPECT_EQ(c.entries, (Dirs{"x/new", "x/new/f"}));
  EXPECT_EQ(c.subtrees, Dirs{"x/new"});
  EXPECT_EQ(c.written, Dirs{"x/new/f"});
  EXPECT_EQ(w.handles_looked_up(), 1u);
}

// Scoped mount of a tmpfs, detached at the end.
class TmpfsMount {
 public:
  explicit TmpfsMount(std::string at) : at_(std::move(at)) {
    mounted_ = ::mount("georep-test", at_.c_str(), "tmpfs", 0, "size=1m") == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string at_, error_;
  bool mounted_ = false;
};

// One filesystem mark cannot see a file system mounted inside the source: auto watches with
// inotify instead, and fanotify asked for explicitly fails and says why.
TEST(ChangeWatcher, SourceSpanningFileSystemsIsNotForFanotify) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (the full test command runs as root)";
  TempDir src;
  fs::create_directories(src.path() + "/mnt");
  TmpfsMount mount(src.path() + "/mnt");
  ASSERT_TRUE(mount.mounted()) << "cannot mount a tmpfs here: " << mount.error();
  auto fan = MakeChangeWatcher(src.path(), ChangeCapture::kFanotify);
  ASSERT_FALSE(fan.ok());
  EXPECT_EQ(fan.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(fan.status().message().find("spans more than one file system"), std::string::npos)
      << fan.status().message();
  EXPECT_NE(fan.status().message().find("mnt"), std::string::npos) << fan.status().message();
  auto picked = MakeChangeWatcher(src.path(), ChangeCapture::kAuto);
  ASSERT_TRUE(picked.ok()) << picked.status().ToString();
  EXPECT_STREQ((*picked)->kind(), "inotify");
}

TEST(ChangeWatcher, MissingSourceFailsBothWays) {
  TempDir dir;
  const std::string missing = dir.path() + "/missing";
  EXPECT_FALSE(FanotifyWatcher(missing).Start().ok());
  EXPECT_FALSE(MakeChangeWatcher(missing, ChangeCapture::kFanotify).ok());
}

// The kernel's change-capture calls, with failures on demand: what a full watch table, an
// unreadable directory or exhausted fanotify groups look like, without touching the
// machine's limits.
class FaultyKernel final : public CaptureKernel {
 public:
  int InotifyInit(int flags) override {
    if (init_error != 0) {
      errno = init_error;
      return -1;
    }
    return SystemCaptureKernel().InotifyInit(flags);
  }
  int InotifyAddWatch(int fd, const char* path, uint32_t mask) override {
    for (const auto& [suffix, err] : watch_errors)
      if (std::string_view(path).ends_with(suffix)) {
        errno = err;
        return -1;
      }
    return SystemCaptureKernel().InotifyAddWatch(fd, path, mask);
  }
  int FanotifyInit(unsigned flags, unsigned event_f_flags) override {
    if (fanotify_error != 0) {
      errno = fanotify_error;
      return -1;
    }
    return SystemCaptureKernel().FanotifyInit(flags, event_f_flags);
  }
  CaptureLimits Limits() override { return limits; }

  int init_error = 0, fanotify_error = 0;
  std::map<std::string, int> watch_errors;  // path suffix -> errno
  CaptureLimits limits{8192, -1, 128, 128, 8192};
};

// All the entries named by a drain and a rescan of the unwatched directories.
Dirs Seen(ChangeWatcher& w) {
  ChangeSet c;
  EXPECT_TRUE(w.Drain(&c).ok());
  EXPECT_TRUE(w.RescanUnwatched(&c).ok());
  return c.entries;
}

// Beyond its watch limit (here a cap of 3 watches on 7 directories) inotify records each
// directory it cannot watch and why, and the rescan of those finds what changed there: a
// file in every directory arrives, as event or as rescan.
TEST(InotifyGaps, DirectoriesBeyondTheWatchLimitAreRecordedAndRescanned) {
  TempDir src;
  for (int d = 0; d < 6; ++d) fs::create_directories(src.path() + "/d" + std::to_string(d));
  WriteFile(src.path() + "/d0/old", "x");
  WriteFile(src.path() + "/d5/old", "x");
  FaultyKernel kernel;
  InotifyWatcher w(src.path(), {&kernel, 3});
  ASSERT_TRUE(w.Start().ok());
  EXPECT_EQ(w.watched(), 3u);
  ASSERT_EQ(w.unwatched().size(), 4u);
  for (const auto& [dir, err] : w.unwatched()) EXPECT_EQ(err, ENOSPC) << dir;
  const std::string reason = w.GapReason();
  EXPECT_NE(reason.find("4 of 7 directories have no inotify watch"), std::string::npos) << reason;
  EXPECT_NE(reason.find("cap of 3 inotify watches"), std::string::npos) << reason;
  EXPECT_NE(w.Needs().find("directories=7 watches=3 unwatched=4"), std::string::npos) << w.Needs();

  Dirs expected = {"top"};
  WriteFile(src.path() + "/top", "t");
  for (int d = 0; d < 6; ++d) {
    const std::string rel = "d" + std::to_string(d) + "/new";
    WriteFile(src.path() + "/" + rel, "n");
    expected.insert(rel);
  }
  ASSERT_EQ(::unlink((src.path() + "/d5/old").c_str()), 0);
  expected.insert("d5/old");
  ChangeSet events;
  ASSERT_TRUE(w.Drain(&events).ok());
  EXPECT_LT(events.entries.size(), expected.size()) << "some directories have no watch";
  ChangeSet rescanned;
  ASSERT_TRUE(w.RescanUnwatched(&rescanned).ok());
  EXPECT_TRUE(rescanned.changed);
  Dirs all = events.entries;
  all.insert(rescanned.entries.begin(), rescanned.entries.end());
  for (const auto& e : expected) EXPECT_TRUE(all.count(e)) << e << " was missed";
  // A rescan names only what changed since the last: files changed a moment ago are named
  // again (they may change again within the same tick), as written; nothing else.
  ChangeSet again;
  ASSERT_TRUE(w.RescanUnwatched(&again).ok());
  for (const auto& e : again.entries) {
    EXPECT_TRUE(rescanned.entries.count(e)) << e;
    EXPECT_TRUE(again.written.count(e)) << e;
  }
  EXPECT_FALSE(again.entries.count("d5/old"));
}

// Each rescan tries the watches again: once watches are free (directories removed), the
// unwatched directories are watched, their changes arrive as events, and the reason clears.
TEST(InotifyGaps, WatchesAreRetriedUntilEveryDirectoryIsWatched) {
  TempDir src;
  for (int d = 0; d < 7; ++d) fs::create_directories(src.path() + "/d" + std::to_string(d));
  InotifyWatcher w(src.path(), {nullptr, 5});
  ASSERT_TRUE(w.Start().ok());
  ASSERT_EQ(w.unwatched().size(), 3u);
  std::vector<std::string> watched_dirs;
  for (int d = 0; d < 7; ++d) {
    const std::string rel = "d" + std::to_string(d);
    if (!w.unwatched().count(rel)) watched_dirs.push_back(rel);
  }
  ASSERT_EQ(watched_dirs.size(), 4u) << "and the source itself";
  // A new directory in an unwatched one: found by the rescan, and unwatched in turn.
  const std::string blind = w.unwatched().begin()->first;
  ASSERT_EQ(::mkdir((src.path() + "/" + blind + "/inner").c_str(), 0755), 0);
  ChangeSet c;
  ASSERT_TRUE(w.Drain(&c).ok());
  ASSERT_TRUE(w.RescanUnwatched(&c).ok());
  EXPECT_TRUE(c.entries.count(blind + "/inner"));
  EXPECT_TRUE(c.subtrees.count(blind + "/inner"));
  EXPECT_EQ(w.unwatched().size(), 4u);
  EXPECT_EQ(w.unwatched().at(blind + "/inner"), ENOSPC);
  // Removing the watched directories frees their watches: enough for all four.
  for (const auto& rel : watched_dirs) fs::remove_all(src.path() + "/" + rel);
  (void)Seen(w);
  EXPECT_TRUE(w.unwatched().empty()) << w.GapReason();
  EXPECT_EQ(w.GapReason(), "");
  // Watched now: a change there is an event.
  WriteFile(src.path() + "/" + blind + "/inner/f", "x");
  ChangeSet events;
  ASSERT_TRUE(w.Drain(&events).ok());
  EXPECT_EQ(events.entries, Dirs{blind + "/inner/f"});
}

// Every failure is recorded per directory with its cause -- not only the watch limit.
TEST(InotifyGaps, EachWatchFailureIsRecordedWithItsCause) {
  TempDir src;
  fs::create_directories(src.path() + "/secret");
  fs::create_directories(src.path() + "/big");
  fs::create_directories(src.path() + "/fine");
  FaultyKernel kernel;
  kernel.watch_errors = {{"/secret", EACCES}, {"/big", ENOMEM}};
  InotifyWatcher w(src.path(), {&kernel, 0});
  ASSERT_TRUE(w.Start().ok());
  EXPECT_EQ(w.unwatched(), (std::map<std::string, int>{{"big", ENOMEM}, {"secret", EACCES}}));
  EXPECT_EQ(w.watched(), 2u);
  EXPECT_NE(w.GapReason().find("2 of 4 directories"), std::string::npos) << w.GapReason();
  kernel.watch_errors.erase("/big");
  WriteFile(src.path() + "/big/f", "x");
  EXPECT_TRUE(Seen(w).count("big/f"));
  EXPECT_EQ(w.unwatched(), (std::map<std::string, int>{{"secret", EACCES}}));
}

TEST(InotifyGaps, TheWatchLimitIsExplainedWithItsValueAndHowToRaiseIt) {
  CaptureLimits limits{8192, -1, 128, 128, 8192};
  std::string why = ExplainWatchError(ENOSPC, limits, 0);
  EXPECT_NE(why.find("fs.inotify.max_user_watches=8192"), std::string::npos) << why;
  EXPECT_NE(why.find("sysctl -w fs.inotify.max_user_watches="), std::string::npos) << why;
  limits.ns_max_watches = 50;  // a user namespace's own, lower limit
  why = ExplainWatchError(ENOSPC, limits, 0);
  EXPECT_NE(why.find("user.max_inotify_watches=50"), std::string::npos) << why;
  EXPECT_EQ(limits.watches(), 50);
  EXPECT_NE(ExplainWatchError(ENOSPC, limits, 10).find("cap of 10"), std::string::npos);
  EXPECT_NE(ExplainWatchError(ENOMEM, limits, 0).find("out of memory"), std::string::npos);
  EXPECT_NE(ExplainWatchError(EACCES, limits, 0).find("may not read"), std::string::npos);
}

// Other workers hold every fanotify group: auto falls back to inotify and says why, as a
// standing reason (a configuration would not be one); fanotify asked for fails with it.
TEST(ChangeWatcher, FanotifyGroupsExhaustedIsExplainedAndStanding) {
  TempDir src;
  FaultyKernel kernel;
  kernel.fanotify_error = EMFILE;
  std::string fallback, standing;
  auto w = MakeChangeWatcher(src.path(), ChangeCapture::kAuto, {&kernel, 0}, &fallback, &standing);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_STREQ((*w)->kind(), "inotify");
  EXPECT_NE(standing.find("fanotify groups exhausted: fs.fanotify.max_user_groups=128"),
            std::string::npos)
      << standing;
  EXPECT_NE(standing.find("using inotify"), std::string::npos) << standing;
  EXPECT_EQ(fallback, standing);
  auto fan = MakeChangeWatcher(src.path(), ChangeCapture::kFanotify, {&kernel, 0});
  ASSERT_FALSE(fan.ok());
  EXPECT_NE(fan.status().message().find("fanotify groups exhausted"), std::string::npos)
      << fan.status().message();
  // Not root (a configuration, not a shortage): logged, not standing.
  kernel.fanotify_error = EPERM;
  w = MakeChangeWatcher(src.path(), ChangeCapture::kAuto, {&kernel, 0}, &fallback, &standing);
  ASSERT_TRUE(w.ok());
  EXPECT_NE(fallback.find("not permitted"), std::string::npos) << fallback;
  EXPECT_EQ(standing, "");
}

TEST(ChangeWatcher, InotifyInstancesExhaustedSaysWhichLimit) {
  TempDir src;
  FaultyKernel kernel;
  kernel.init_error = EMFILE;
  InotifyWatcher w(src.path(), {&kernel, 0});
  Status st = w.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("fs.inotify.max_user_instances=128"), std::string::npos)
      << st.message();
}

}  // namespace
}  // namespace georep::replication
