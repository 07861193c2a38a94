#include "replication/scanner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>

#include "replication/path_beneath.h"
#include "replication/test_util.h"

namespace georep::replication {
namespace {

using testing::TempDir;
using testing::WriteFile;

std::map<std::string, ScanEntry> ByPath(const ScanResult& r) {
  std::map<std::string, ScanEntry> m;
  for (const ScanEntry& e : r.entries) m[e.path] = e;
  return m;
}

TEST(ScannerTest, ReportsEveryEntryWithItsMetadata) {
  TempDir src;
  TempDir outside;
  WriteFile(outside / "secret", "not part of the tree");
  ASSERT_EQ(::mkdir((src / "d").c_str(), 0750), 0);
  WriteFile(src / "d/f", "12345");
  ::chmod((src / "d/f").c_str(), 0640);
  ASSERT_EQ(::link((src / "d/f").c_str(), (src / "g").c_str()), 0);
  ASSERT_EQ(::symlink(outside.path().c_str(), (src / "out").c_str()), 0);
  ASSERT_EQ(::symlink("dangling/target", (src / "dangling").c_str()), 0);
  ASSERT_EQ(::setxattr((src / "d/f").c_str(), "user.k", "v", 1, 0), 0);
  struct timespec ts[2] = {{1'000, 5}, {1'600'000'000, 123'456'789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (src / "d/f").c_str(), ts, 0), 0);

  auto r = ScanTreeToVector(src.path(), {.threads = 3});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->errors.empty());
  auto m = ByPath(*r);
  ASSERT_EQ(m.size(), 6u);  // . d d/f g out dangling
  EXPECT_EQ(r->entries.front().path, ".");
  EXPECT_EQ(m["d"].type, EntryType::kDirectory);
  EXPECT_EQ(m["d"].mode & 07777, 0750u);
  const ScanEntry& f = m["d/f"];
  EXPECT_EQ(f.type, EntryType::kRegular);
  EXPECT_EQ(f.size, 5u);
  EXPECT_EQ(f.mode & 07777, 0640u);
  EXPECT_EQ(f.nlink, 2u);
  EXPECT_EQ(f.mtime_ns, 1'600'000'000'123'456'789);
  EXPECT_EQ(f.atime_ns, 1'000'000'000'005);
  EXPECT_EQ(f.uid, ::getuid());
  ASSERT_EQ(f.xattrs.size(), 1u);
  EXPECT_EQ(f.xattrs[0], (Xattr{"user.k", "v"}));
  EXPECT_EQ(m["g"].ino, f.ino);
  EXPECT_EQ(m["g"].dev, f.dev);
  EXPECT_EQ(m["out"].type, EntryType::kSymlink);
  EXPECT_EQ(m["out"].symlink_target, outside.path());
  EXPECT_EQ(m["dangling"].symlink_target, "dangling/target");
  EXPECT_EQ(m.count("out/secret"), 0u);  // symlinks are not followed
  EXPECT_EQ(r->stats.entries, 6u);
  EXPECT_EQ(r->stats.directories, 2u);
}

// ACLs with acl_xattrs; trusted.* and security.capability with trusted_xattrs (root); a
// device's number; and by default none of them.
TEST(ScannerTest, ReadsAclsAndPrivilegedXattrsWhenAskedAndDeviceNumbers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (trusted.* and devices need it)";
  TempDir src;
  ASSERT_EQ(::mkdir((src / "d").c_str(), 0770), 0);
  WriteFile(src / "d/f", "x");
  ::chmod((src / "d/f").c_str(), 0640);
  const std::string access = testing::SampleAccessAcl(), dflt = testing::SampleDefaultAcl(),
                    cap = testing::NetBindServiceCapability();
  ASSERT_EQ(
      ::setxattr((src / "d/f").c_str(), "system.posix_acl_access", access.data(), access.size(), 0),
      0);
  ASSERT_EQ(
      ::setxattr((src / "d").c_str(), "system.posix_acl_default", dflt.data(), dflt.size(), 0), 0);
  ASSERT_EQ(::setxattr((src / "d/f").c_str(), "security.capability", cap.data(), cap.size(), 0), 0);
  ASSERT_EQ(::setxattr((src / "d/f").c_str(), "trusted.t", "v", 1, 0), 0);
  ASSERT_EQ(::mknod((src / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);

  auto names = [](const ScanEntry& e) {
    std::string out;
    for (const Xattr& x : e.xattrs) out += x.name + " ";
    return out;
  };
  auto plain = ScanTreeToVector(src.path(), {.threads = 1});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(names(ByPath(*plain)["d/f"]), "");
  EXPECT_EQ(ByPath(*plain)["null"].rdev, makedev(1, 3));
  EXPECT_EQ(ByPath(*plain)["null"].type, EntryType::kOther);

  auto all =
      ScanTreeToVector(src.path(), {.threads = 1, .trusted_xattrs = true, .acl_xattrs = true});
  ASSERT_TRUE(all.ok());
  auto m = ByPath(*all);
  EXPECT_EQ(names(m["d/f"]), "security.capability system.posix_acl_access trusted.t ");
  EXPECT_EQ(names(m["d"]), "system.posix_acl_default ");
  EXPECT_EQ(m["d/f"].xattrs[1].value, access);

  // The same one entry at a time, as a live pass and the sender read them.
  UniqueFd root(::open(src.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::vector<Xattr> read;
  ASSERT_TRUE(ReadXattrsBeneath(root.get(), "d/f", XattrNamespaces{.acls = true}, &read).ok());
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0], (Xattr{"system.posix_acl_access", access}));
}

TEST(ScannerTest, ParentsComeBeforeChildrenAcrossThreads) {
  TempDir src;
  std::set<std::string> expected = {"."};
  for (int i = 0; i < 6; ++i) {
    std::string a = "a" + std::to_string(i);
    ASSERT_EQ(::mkdir((src / a).c_str(), 0755), 0);
    expected.insert(a);
    for (int j = 0; j < 5; ++j) {
      std::string b = a + "/b" + std::to_string(j);
      ASSERT_EQ(::mkdir((src / b).c_str(), 0755), 0);
      expected.insert(b);
      for (int k = 0; k < 4; ++k) {
        std::string f = b + "/f" + std::to_string(k);
        WriteFile(src / f, f);
        expected.insert(f);
      }
    }
  }
  for (int threads : {1, 2, 8}) {
    auto r = ScanTreeToVector(src.path(), {.threads = threads});
    ASSERT_TRUE(r.ok());
    std::set<std::string> seen;
    for (const ScanEntry& e : r->entries) {
      if (e.path != ".") {
        auto slash = e.path.rfind('/');
        std::string parent = slash == std::string::npos ? "." : e.path.substr(0, slash);
        EXPECT_TRUE(seen.count(parent)) << e.path << " before its parent";
      }
      seen.insert(e.path);
    }
    EXPECT_EQ(seen, expected);
    EXPECT_EQ(r->entries.size(), expected.size());  // each exactly once
  }
}

TEST(ScannerTest, MissingRootIsAnError) {
  auto r = ScanTreeToVector("/nonexistent/georep/root");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

// ScanBeneath: one entry alone, or a subtree, with paths relative to the root; nothing is
// reached through a symlink, at any level.
TEST(ScannerTest, ScanBeneathLooksAtOneEntryOrASubtree) {
  TempDir src;
  TempDir outside;
  WriteFile(outside / "secret", "not part of the tree");
  ASSERT_EQ(::mkdir((src / "d").c_str(), 0750), 0);
  ASSERT_EQ(::mkdir((src / "d/e").c_str(), 0750), 0);
  WriteFile(src / "d/f", "12345");
  WriteFile(src / "d/e/g", "1");
  ASSERT_EQ(::symlink(outside.path().c_str(), (src / "link").c_str()), 0);
  int root = ::open(src.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root, 0);

  auto one = ScanBeneath(root, "d/f", false);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_EQ(one->entries.size(), 1u);
  EXPECT_EQ(one->entries[0].path, "d/f");
  EXPECT_EQ(one->entries[0].type, EntryType::kRegular);
  EXPECT_EQ(one->entries[0].size, 5u);

  auto dir_alone = ScanBeneath(root, "d", false);
  ASSERT_TRUE(dir_alone.ok());
  ASSERT_EQ(dir_alone->entries.size(), 1u) << "a directory alone, not what is in it";
  EXPECT_EQ(dir_alone->entries[0].type, EntryType::kDirectory);

  auto subtree = ScanBeneath(root, "d", true);
  ASSERT_TRUE(subtree.ok());
  std::set<std::string> paths;
  for (const auto& e : subtree->entries) paths.insert(e.path);
  EXPECT_EQ(paths, (std::set<std::string>{"d", "d/e", "d/e/g", "d/f"}));
  EXPECT_EQ(subtree->entries.front().path, "d") << "parents first";

  auto everything = ScanBeneath(root, ".", true);
  ASSERT_TRUE(everything.ok());
  EXPECT_EQ(everything->entries.size(), 6u);  // . d d/e d/e/g d/f link

  // A symlink is the symlink, deep or not; what is beyond it is never read.
  auto link = ScanBeneath(root, "link", true);
  ASSERT_TRUE(link.ok());
  ASSERT_EQ(link->entries.size(), 1u);
  EXPECT_EQ(link->entries[0].type, EntryType::kSymlink);
  EXPECT_EQ(link->entries[0].symlink_target, outside.path());
  EXPECT_EQ(ScanBeneath(root, "link/secret", false).status().code(), StatusCode::kNotFound);
  // Gone, or beneath something that is no directory: NotFound.
  EXPECT_EQ(ScanBeneath(root, "d/missing", false).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ScanBeneath(root, "missing/x", true).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ScanBeneath(root, "d/f/x", false).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ScanBeneath(root, "../escape", false).status().code(), StatusCode::kInvalidArgument);
  ::close(root);
}

// Permission checks do not apply to root, so the scan runs in a child that drops to nobody.
TEST(ScannerTest, UnreadableEntriesAreReportedNotSkipped) {
  TempDir src;
  ::chmod(src.path().c_str(), 0755);
  ASSERT_EQ(::mkdir((src / "locked").c_str(), 0700), 0);
  WriteFile(src / "locked/hidden", "x");
  ASSERT_EQ(::mkdir((src / "open").c_str(), 0755), 0);
  WriteFile(src / "open/f", "y");
  ::chmod((src / "open/f").c_str(), 0644);
  ASSERT_EQ(::setxattr((src / "open/f").c_str(), "user.k", "v", 1, 0), 0);
  ::chmod((src / "open/f").c_str(), 0);  // its user.* xattrs need read permission
  bool as_root = ::geteuid() == 0;
  if (as_root) {
    ::chown((src / "locked").c_str(), 0, 0);
    ::chown((src / "open/f").c_str(), 0, 0);
  } else {
    ::chmod((src / "locked").c_str(), 0);
  }
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (as_root && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(10);
    auto r = ScanTreeToVector(src.path(), {.threads = 2});
    if (!r.ok()) ::_exit(11);
    bool locked_reported = false, xattr_reported = false;
    for (const ScanError& e : r->errors) {
      if (e.path == "locked" && e.status.code() == StatusCode::kPermissionDenied) {
        locked_reported = true;
      }
      if (e.path == "open/f" && e.status.code() == StatusCode::kPermissionDenied) {
        xattr_reported = true;
      }
    }
    bool locked_listed = false;
    for (const ScanEntry& e : r->entries) locked_listed |= e.path == "locked";
    if (!locked_reported) ::_exit(12);
    if (!xattr_reported) ::_exit(13);
    if (!locked_listed) ::_exit(14);  // the directory itself is still an entry
    if (r->stats.errors != 2) ::_exit(15);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::chmod((src / "locked").c_str(), 0700);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace georep::replication
