// What the replication engine does with a source that is gone, and with metadata and entries
// beyond files: POSIX ACLs, capabilities, trusted.* attributes, FIFOs, devices, Unix sockets.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>

#include "integration/replication_fixtures.h"

namespace georep::testing {
namespace {

namespace fs = std::filesystem;
using replication::ReadWorkerStatus;
using replication::testing::BindUnixSocket;
using replication::testing::DescribeTree;
using replication::testing::GeorepTempFiles;
using replication::testing::ReadFile;

// A source that is gone is an error, never an empty tree: nothing at the destination is
// deleted for it.
TEST(Replication, AMissingSourceFailsAndDeletesNothing) {
  TempDir base, dst, state;
  const std::string src = base.path() + "/src";
  fs::create_directories(src + "/dir");
  Write(src + "/dir/kept", "kept");
  WorkerRun w{src, dst.path(), state.path()};
  auto r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto synced = ReadWorkerStatus(state.path());
  ASSERT_TRUE(synced.ok());
  const int64_t last_synced = synced->last_synced_ms;
  ASSERT_GT(last_synced, 0);
  fs::rename(src, base.path() + "/unmounted");
  r = w.Once();
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("cannot open source root"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(dst.path() + "/dir/kept"), "kept");
  // What the first run applied is still applied: a worker that fails from the start says so,
  // not "never".
  r = RunCommand(WorkerArgv(src, dst.path(), state.path()), "", {}, 60);
  EXPECT_NE(r.exit_code, 0);
  auto failed = ReadWorkerStatus(state.path());
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->state, "Faulty");
  EXPECT_EQ(failed->last_synced_ms, last_synced);
  // And a worker that runs when its source goes: Faulty at its next pass, nothing deleted.
  fs::rename(base.path() + "/unmounted", src);
  RunningWorker worker(WorkerArgv(src, dst.path(), state.path()));
  worker.Start();
  ASSERT_TRUE(WaitFor(60, [&] {
    auto st = ReadWorkerStatus(state.path());
    return st.ok() && st->crawl == "Changelog Crawl" && st->state == "Active";
  })) << ReplicationReason(state.path());
  fs::rename(src, base.path() + "/unmounted");
  Write(base.path() + "/unmounted/dir/late", "a change the worker sees");
  ASSERT_TRUE(WaitFor(30, [&] { return WorkerStateIs(state.path(), "Faulty"); }))
      << ReplicationReason(state.path());
  EXPECT_NE(ReplicationReason(state.path()).find("cannot open source root"), std::string::npos)
      << ReplicationReason(state.path());
  EXPECT_EQ(ReadFile(dst.path() + "/dir/kept"), "kept");
}

void SetXattr(const std::string& path, const char* name, const std::string& value) {
  ASSERT_EQ(::lsetxattr(path.c_str(), name, value.data(), value.size(), 0), 0)
      << name << " of " << path << ": " << strerror(errno);
}

// Metadata beyond user.* and entries beyond files (issue 18, D8): POSIX ACLs (a file's, a
// directory's default), security.capability and trusted.* from a root worker to a root
// agent, a FIFO and a device made at the destination, a Unix socket not replicated -- counted
// with its reason in the status, never a failure, never Faulty; once and live.
TEST(Replication, AclsCapabilitiesTrustedXattrsAndSpecialFilesArriveAndASocketIsCounted) {
  ASSERT_EQ(::geteuid(), 0u) << "the integration tests run as root (devices, capabilities)";
  TempDir src, dst, state;
  const std::string s = src.path(), d = dst.path();
  fs::create_directories(s + "/shared");
  Write(s + "/shared/report", "acl'd\n");
  Write(s + "/tool", "#!/bin/true\n");
  ::chmod((s + "/shared").c_str(), 0770);
  ::chmod((s + "/shared/report").c_str(), 0640);
  ::chmod((s + "/tool").c_str(), 0755);
  ASSERT_EQ(::chown((s + "/tool").c_str(), 1234, 5678), 0);  // before the capability: chown
                                                             // clears it
  ASSERT_NO_FATAL_FAILURE(SetXattr(s + "/shared/report", "system.posix_acl_access",
                                   replication::testing::SampleAccessAcl()));
  ASSERT_NO_FATAL_FAILURE(SetXattr(s + "/shared", "system.posix_acl_default",
                                   replication::testing::SampleDefaultAcl()));
  ASSERT_NO_FATAL_FAILURE(SetXattr(s + "/tool", "security.capability",
                                   replication::testing::NetBindServiceCapability()));
  ASSERT_NO_FATAL_FAILURE(SetXattr(s + "/tool", "trusted.origin", "site-a"));
  ASSERT_EQ(::mkfifo((s + "/fifo").c_str(), 0620), 0);
  ::chmod((s + "/fifo").c_str(), 0620);  // past the umask
  ASSERT_EQ(::mknod((s + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(BindUnixSocket(s + "/sock"), "");

  auto expect_replicated = [&](const std::string& where) {
    using replication::testing::XattrOf;
    for (const auto& [path, name] : std::vector<std::pair<std::string, const char*>>{
             {"shared/report", "system.posix_acl_access"},
             {"shared", "system.posix_acl_default"},
             {"tool", "security.capability"},
             {"tool", "trusted.origin"}}) {
      EXPECT_NE(XattrOf(s + "/" + path, name), "<none>") << where << ": " << name;
      EXPECT_EQ(XattrOf(d + "/" + path, name), XattrOf(s + "/" + path, name))
          << where << ": " << name << " of " << path;
    }
    struct stat st {};
    ASSERT_EQ(::lstat((d + "/fifo").c_str(), &st), 0) << where;
    EXPECT_TRUE(S_ISFIFO(st.st_mode)) << where;
    EXPECT_EQ(st.st_mode & 07777, 0620u) << where;
    ASSERT_EQ(::lstat((d + "/null").c_str(), &st), 0) << where;
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << where;
    EXPECT_EQ(st.st_rdev, makedev(1, 3)) << where;
    ASSERT_EQ(::lstat((d + "/tool").c_str(), &st), 0) << where;
    EXPECT_EQ(st.st_uid, 1234u) << where;
    EXPECT_EQ(st.st_mode & 07777, 0755u) << where;
    EXPECT_FALSE(fs::exists(fs::symlink_status(d + "/sock"))) << where;
  };

  WorkerRun w{s, d, state.path()};
  auto r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err << ReplicationReason(state.path());
  expect_replicated("once");
  auto st = ReadWorkerStatus(state.path());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->failures, 0u);
  EXPECT_EQ(st->skipped_special, 1u);
  EXPECT_NE(st->skipped_reason.find("'sock' is a Unix socket"), std::string::npos)
      << st->skipped_reason;
  EXPECT_TRUE(GeorepTempFiles(d).empty());

  // Live: a new FIFO and another socket arrive, a changed ACL follows; never Faulty.
  RunningWorker worker(WorkerArgv(s, d, state.path()));
  worker.Start();
  bool faulty = false;
  auto status = [&] {
    auto now = ReadWorkerStatus(state.path());
    if (now.ok() && now->state == "Faulty") faulty = true;
    return now;
  };
  ASSERT_TRUE(WaitFor(60, [&] {
    auto now = status();
    return now.ok() && now->crawl == "Changelog Crawl" && now->state == "Active";
  })) << ReplicationReason(state.path());
  ASSERT_EQ(::mkfifo((s + "/shared/fifo2").c_str(), 0600), 0);
  ASSERT_EQ(BindUnixSocket(s + "/shared/sock2"), "");
  const std::string narrower =
      replication::testing::AclXattr({{0x01, 6}, {0x02, 6, 1234}, {0x04, 0}, {0x10, 6}, {0x20, 0}});
  ASSERT_NO_FATAL_FAILURE(SetXattr(s + "/shared/report", "system.posix_acl_access", narrower));
  ASSERT_TRUE(WaitFor(30, [&] {
    auto now = status();
    struct stat fifo {};
    return now.ok() && now->skipped_special == 2 &&
           ::lstat((d + "/shared/fifo2").c_str(), &fifo) == 0 && S_ISFIFO(fifo.st_mode) &&
           replication::testing::XattrOf(d + "/shared/report", "system.posix_acl_access") ==
               narrower;
  })) << ReplicationReason(state.path());
  expect_replicated("live");
  // The sockets go: so does the count.
  fs::remove(s + "/sock");
  fs::remove(s + "/shared/sock2");
  ASSERT_TRUE(WaitFor(30, [&] {
    auto now = status();
    return now.ok() && now->skipped_special == 0 && now->skipped_reason.empty();
  })) << ReplicationReason(state.path());
  auto last = status();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->state, "Active");
  EXPECT_EQ(last->failures, 0u);
  EXPECT_FALSE(faulty) << "the worker was Faulty at some point";
}

}  // namespace
}  // namespace georep::testing
