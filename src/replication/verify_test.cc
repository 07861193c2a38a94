#include "replication/verify.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <map>
#include <string>

#include "replication/test_util.h"

namespace georep::replication {
namespace {

using testing::TempDir;
using testing::WriteFile;

DescribedEntry Entry(std::string path, EntryType type) {
  DescribedEntry e;
  e.path = std::move(path);
  e.type = type;
  e.mode = type == EntryType::kDirectory ? 040755 : type == EntryType::kSymlink ? 0120777 : 0100644;
  e.mtime_ns = 1'000'000'000;
  return e;
}

DescribedEntry File(std::string path, const std::string& content) {
  DescribedEntry e = Entry(std::move(path), EntryType::kRegular);
  e.size = content.size();
  e.hashed = true;
  e.hash = HashBytes(content);
  return e;
}

TreeDescription Tree(std::vector<DescribedEntry> entries) {
  TreeDescription d;
  d.entries = std::move(entries);
  d.links_described = true;
  for (const XattrNamespace& ns : kVerifiedXattrNamespaces)
    d.xattr_namespaces.emplace_back(ns.prefix);
  return d;
}

// path -> what, for the differences of `dst` against a source of one file "f".
std::map<std::string, std::string> Differences(const TreeDescription& src,
                                               const TreeDescription& dst,
                                               const VerifyOptions& options = {}) {
  auto r = CompareTreeDescriptions(src, dst, options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  std::map<std::string, std::string> m;
  if (r.ok())
    for (const auto& d : r->differences) m[d.path] += (m[d.path].empty() ? "" : "; ") + d.what;
  return m;
}

TEST(VerifyCompareTest, IdenticalDescriptionsHaveNoDifference) {
  const TreeDescription t =
      Tree({Entry(".", EntryType::kDirectory), File("f", "abc"), Entry("l", EntryType::kSymlink)});
  auto r = CompareTreeDescriptions(t, t, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->differences.empty());
  EXPECT_EQ(r->entries, 3u);
  EXPECT_EQ(r->content_checked, 1u);
  EXPECT_EQ(r->bytes_hashed, 6u);  // both sides' bytes
}

TEST(VerifyCompareTest, EachKindOfDifference) {
  const TreeDescription src = Tree({File("f", "abc")});
  auto changed = [&](auto change) {
    TreeDescription dst = src;
    change(dst.entries[0]);
    return Differences(src, dst);
  };
  using M = std::map<std::string, std::string>;
  EXPECT_EQ(changed([](DescribedEntry& e) { e.hash = HashBytes("abd"); }),
            (M{{"f", "content differs"}}));
  EXPECT_EQ(changed([](DescribedEntry& e) { e.size = 4; }),
            (M{{"f", "3 bytes at the source, 4 at the destination"}}));
  EXPECT_EQ(changed([](DescribedEntry& e) { e.mode = 0100600; }),
            (M{{"f", "mode 644 at the source, 600 at the destination"}}));
  EXPECT_EQ(changed([](DescribedEntry& e) { e.uid = 7; }),
            (M{{"f", "owner 0:0 at the source, 7:0 at the destination"}}));
  EXPECT_EQ(changed([](DescribedEntry& e) { e.mtime_ns = 5; }),
            (M{{"f",
                "modified at 1970-01-01T00:00:01.000000000Z at the source, "
                "1970-01-01T00:00:00.000000005Z at the destination"}}));
  EXPECT_EQ(changed([](DescribedEntry& e) {
              e.xattrs = {{"user.k", "v"}};
            }),
            (M{{"f", "extended attributes differ: user.k"}}));
  EXPECT_EQ(changed([](DescribedEntry& e) {
              e.type = EntryType::kDirectory;
              e.hashed = false;
            }),
            (M{{"f", "is a file at the source, a directory at the destination"}}));
  // A file the sample did not pick (or a side could not read) is compared without content.
  EXPECT_EQ(changed([](DescribedEntry& e) {
              e.hashed = false;
              e.hash = {};
            }),
            M{});
  TreeDescription link_src = Tree({Entry("l", EntryType::kSymlink)});
  link_src.entries[0].symlink_target = "a";
  TreeDescription link_dst = link_src;
  link_dst.entries[0].symlink_target = "b";
  link_dst.entries[0].mode = 0120700;  // a symlink's mode means nothing
  EXPECT_EQ(Differences(link_src, link_dst),
            (M{{"l", "points to 'a' at the source, 'b' at the destination"}}));
}

TEST(VerifyCompareTest, MissingExtraUnreadableAndExcluded) {
  const TreeDescription src =
      Tree({Entry(".", EntryType::kDirectory), File("a", "1"), File("b", "2"), File("tmp/x", "")});
  TreeDescription dst =
      Tree({Entry(".", EntryType::kDirectory), File("b", "2"), File("c", "3"), File("d.tmp", "")});
  dst.errors.push_back({"e", "Permission denied"});
  using M = std::map<std::string, std::string>;
  EXPECT_EQ(Differences(src, dst), (M{{"a", "missing at the destination"},
                                      {"c", "only at the destination"},
                                      {"d.tmp", "only at the destination"},
                                      {"e", "cannot be read at the destination: Permission denied"},
                                      {"tmp/x", "missing at the destination"}}));
  VerifyOptions o;
  o.ignore_deletes = true;
  o.excludes = {"tmp", "*.tmp"};
  EXPECT_EQ(Differences(src, dst, o), (M{{"a", "missing at the destination"},
                                         {"e",
                                          "cannot be read at the destination: Permission "
                                          "denied"}}));
  TreeDescription unreadable = src;
  unreadable.errors.push_back({"a", "cannot read /src/a"});
  EXPECT_EQ(Differences(unreadable, src), (M{{"a",
                                              "cannot be read at the source: cannot read "
                                              "/src/a"}}));
}

TEST(VerifyCompareTest, HardLinkStructure) {
  // a and b one inode, c a file of its own.
  auto linked = [](uint64_t a, uint64_t b, uint64_t c) {
    TreeDescription t = Tree({File("a", "1"), File("b", "1"), File("c", "1")});
    t.entries[0].link_group = a;
    t.entries[1].link_group = b;
    t.entries[2].link_group = c;
    return t;
  };
  const TreeDescription src = linked(1, 1, 0);
  using M = std::map<std::string, std::string>;
  EXPECT_EQ(Differences(src, linked(5, 5, 0)), M{});  // group numbers are each side's own
  EXPECT_EQ(Differences(src, linked(0, 0, 0)),
            (M{{"a",
                "hard links: one inode with 'b' at the source, a separate file at the "
                "destination"},
               {"b",
                "hard links: one inode with 'a' at the source, a separate file at the "
                "destination"}}));
  EXPECT_EQ(Differences(src, linked(1, 2, 2)),
            (M{{"a",
                "hard links: one inode with 'b' at the source, a separate file at the "
                "destination"},
               {"b",
                "hard links: one inode with 'a' at the source, one inode with 'c' at the "
                "destination"},
               {"c",
                "hard links: a separate file at the source, one inode with 'b' at the "
                "destination"}}));
  // A link whose partner is missing at the destination: only the missing one differs.
  TreeDescription lone = Tree({File("a", "1"), File("c", "1")});
  lone.entries[0].link_group = 3;
  EXPECT_EQ(Differences(src, lone), (M{{"b", "missing at the destination"}}));
  // A side described without link groups (an older georep): not compared, and said so.
  TreeDescription old = linked(0, 0, 0);
  old.links_described = false;
  auto r = CompareTreeDescriptions(src, old, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->differences.empty()) << r->differences[0].what;
  ASSERT_FALSE(r->not_compared.empty());
  EXPECT_NE(r->not_compared[0].find("hard-link structure (the destination was described "
                                    "without it"),
            std::string::npos)
      << r->not_compared[0];
}

TEST(VerifyCompareTest, DirectoryTimes) {
  const TreeDescription src = Tree({Entry(".", EntryType::kDirectory)});
  TreeDescription dst = src;
  dst.entries[0].mtime_ns = 7;
  using M = std::map<std::string, std::string>;
  EXPECT_EQ(Differences(src, dst), (M{{".",
                                       "modified at 1970-01-01T00:00:01.000000000Z at the source, "
                                       "1970-01-01T00:00:00.000000007Z at the destination"}}));
}

TEST(VerifyCompareTest, XattrNamespacesComparedAsTheSessionReplicatesThem) {
  const TreeDescription src = Tree({File("f", "1")});
  auto with = [&](std::vector<Xattr> xattrs) {
    TreeDescription t = src;
    t.entries[0].xattrs = std::move(xattrs);
    return t;
  };
  using M = std::map<std::string, std::string>;
  const TreeDescription trusted = with({{"trusted.gfid", "x"}, {"security.capability", "c"}});
  const TreeDescription acl = with({{"system.posix_acl_access", "acl"}});
  const TreeDescription user = with({{"user.a", "1"}});
  const TreeDescription selinux = with({{"security.selinux", "label"}});
  // A session that replicates none of them (sync-xattrs false): not compared, and the report
  // says so.
  VerifyOptions none;
  none.xattrs = {false, false, false};
  auto r = CompareTreeDescriptions(src, trusted, none);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->differences.empty());
  EXPECT_EQ(Differences(src, acl, none), M{});
  EXPECT_EQ(Differences(src, user, none), M{});
  std::string said;
  for (const auto& n : r->not_compared) said += n + "\n";
  EXPECT_NE(said.find("user.* xattrs, POSIX ACLs, default POSIX ACLs, security.capability, "
                      "trusted.* xattrs (not replicated by this session)"),
            std::string::npos)
      << said;
  EXPECT_NE(said.find("other xattrs: security.* but security.capability"), std::string::npos)
      << said;
  // The defaults (as the worker replicates as root): all of them, each a true finding.
  VerifyOptions all;
  EXPECT_EQ(Differences(src, trusted, all),
            (M{{"f", "extended attributes differ: security.capability, trusted.gfid"}}));
  EXPECT_EQ(Differences(src, acl, all),
            (M{{"f", "extended attributes differ: system.posix_acl_access"}}));
  r = CompareTreeDescriptions(src, trusted, all);
  ASSERT_TRUE(r.ok());
  said.clear();
  for (const auto& n : r->not_compared) said += n + "\n";
  EXPECT_EQ(said.find("not replicated by this session"), std::string::npos) << said;
  // sync-acls false: ACLs alone are left out (the agent leaves the destination's alone).
  VerifyOptions no_acls;
  no_acls.xattrs.acls = false;
  EXPECT_EQ(Differences(src, acl, no_acls), M{});
  EXPECT_NE(Differences(src, trusted, no_acls), M{});
  // sync-xattrs false: user.* not compared. Labels never.
  VerifyOptions no_user;
  no_user.xattrs.user = false;
  EXPECT_EQ(Differences(src, user, no_user), M{});
  EXPECT_EQ(Differences(src, selinux, all), M{});
  // A side that could not read trusted.* (not root): not compared, and why.
  TreeDescription unread = trusted;
  std::erase(unread.xattr_namespaces, "trusted.");
  r = CompareTreeDescriptions(trusted, unread, all);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->differences.empty()) << r->differences[0].what;
  said.clear();
  for (const auto& n : r->not_compared) said += n + "\n";
  EXPECT_NE(said.find("trusted.* xattrs (one side could not read them"), std::string::npos) << said;
}

TEST(VerifyCompareTest, DescriptionsSampledDifferentlyAreNotCompared) {
  TreeDescription a = Tree({});
  TreeDescription b = Tree({});
  b.sample_percent = 10;
  auto r = CompareTreeDescriptions(a, b, {});
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
}

TEST(VerifyDescribeTest, DescribesATreeSortedWithHashesAndExcludes) {
  TempDir t;
  ASSERT_EQ(::mkdir((t / "d").c_str(), 0750), 0);
  WriteFile(t / "d/f", "12345");
  WriteFile(t / "skip.tmp", "x");
  ASSERT_EQ(::mkdir((t / "cache").c_str(), 0700), 0);
  WriteFile(t / "cache/big", "y");
  ASSERT_EQ(::symlink("d/f", (t / "link").c_str()), 0);
  ASSERT_EQ(::setxattr((t / "d/f").c_str(), "user.k", "v", 1, 0), 0);
  auto d = DescribeTreeForVerify(t.path(), {100, {"*.tmp", "cache"}});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  std::vector<std::string> paths;
  for (const auto& e : d->entries) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{".", "d", "d/f", "link"}));
  const DescribedEntry& f = d->entries[2];
  EXPECT_EQ(f.type, EntryType::kRegular);
  struct stat st {};
  ASSERT_EQ(::lstat((t / "d/f").c_str(), &st), 0);
  EXPECT_EQ(f.mode, st.st_mode);
  EXPECT_EQ(f.mtime_ns, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec);
  EXPECT_TRUE(f.hashed);
  EXPECT_EQ(f.hash, HashBytes("12345"));
  EXPECT_EQ(f.xattrs, (std::vector<Xattr>{{"user.k", "v"}}));
  EXPECT_EQ(d->entries[3].symlink_target, "d/f");
  EXPECT_FALSE(d->entries[3].hashed);
  EXPECT_EQ(d->bytes_hashed, 5u);
  EXPECT_TRUE(d->errors.empty());
  auto missing = DescribeTreeForVerify(t / "nothing-here", {});
  EXPECT_FALSE(missing.ok());
}

TEST(VerifyDescribeTest, BothSidesSampleTheSameFiles) {
  TempDir a, b;
  for (int i = 0; i < 200; ++i) {
    WriteFile(a / ("f" + std::to_string(i)), "same");
    WriteFile(b / ("f" + std::to_string(i)), "same");
  }
  auto da = DescribeTreeForVerify(a.path(), {10, {}});
  auto db = DescribeTreeForVerify(b.path(), {10, {}});
  ASSERT_TRUE(da.ok() && db.ok());
  int hashed = 0;
  for (size_t i = 0; i < da->entries.size(); ++i) {
    EXPECT_EQ(da->entries[i].hashed, db->entries[i].hashed) << da->entries[i].path;
    hashed += da->entries[i].hashed ? 1 : 0;
  }
  EXPECT_GT(hashed, 5);
  EXPECT_LT(hashed, 50);
}

// The tester's D3: hard links split into separate files and a directory's mtime changed were
// "identical" before verify compared link structure and directory times.
TEST(VerifyTreesTest, FindsASplitHardLinkAndADirectoryTime) {
  TempDir src, dst;
  struct timespec ts[2] = {{1'000, 0}, {1'600'000'000, 0}};
  for (const TempDir* t : {&src, &dst}) {
    ASSERT_EQ(::mkdir((*t / "d").c_str(), 0755), 0);
    WriteFile(*t / "d/one", "same");
    ASSERT_EQ(::link((*t / "d/one").c_str(), (*t / "d/two").c_str()), 0);
    ASSERT_EQ(::utimensat(AT_FDCWD, (*t / "d/one").c_str(), ts, 0), 0);
    for (const char* dir : {"d", ""})
      ASSERT_EQ(::utimensat(AT_FDCWD, (*t / dir).c_str(), ts, 0), 0);
  }
  auto same = VerifyTrees(src.path(), dst.path(), {});
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_TRUE(same->differences.empty()) << same->differences[0].path << same->differences[0].what;
  // Split: two/ becomes a copy of its own, with the same content, mode and times.
  ASSERT_EQ(::unlink((dst / "d/two").c_str()), 0);
  WriteFile(dst / "d/two", "same");
  ASSERT_EQ(::utimensat(AT_FDCWD, (dst / "d/two").c_str(), ts, 0), 0);
  struct timespec later[2] = {{1'000, 0}, {1'700'000'000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dst / "d").c_str(), later, 0), 0);
  auto r = VerifyTrees(src.path(), dst.path(), {});
  ASSERT_TRUE(r.ok());
  std::map<std::string, std::string> found;
  for (const auto& d : r->differences) found[d.path] += d.what;
  EXPECT_EQ(found, (std::map<std::string, std::string>{
                       {"d",
                        "modified at 2020-09-13T12:26:40.000000000Z at the source, "
                        "2023-11-14T22:13:20.000000000Z at the destination"},
                       {"d/one",
                        "hard links: one inode with 'd/two' at the source, a separate "
                        "file at the destination"},
                       {"d/two",
                        "hard links: one inode with 'd/one' at the source, a separate "
                        "file at the destination"}}));
}

TEST(VerifyTreesTest, FindsAChangeOfContentWithSizeAndTimeKept) {
  TempDir src, dst;
  for (const TempDir* t : {&src, &dst}) WriteFile(*t / "f", "hello");
  struct timespec ts[2] = {{1'000, 0}, {1'600'000'000, 0}};
  for (const TempDir* t : {&src, &dst}) {
    ASSERT_EQ(::utimensat(AT_FDCWD, (*t / "f").c_str(), ts, 0), 0);
    ASSERT_EQ(::utimensat(AT_FDCWD, t->path().c_str(), ts, 0), 0);
  }
  auto same = VerifyTrees(src.path(), dst.path(), {});
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_TRUE(same->differences.empty()) << same->differences[0].what;
  EXPECT_EQ(same->content_checked, 1u);
  WriteFile(dst / "f", "HELLO");
  ASSERT_EQ(::utimensat(AT_FDCWD, (dst / "f").c_str(), ts, 0), 0);
  auto differs = VerifyTrees(src.path(), dst.path(), {});
  ASSERT_TRUE(differs.ok());
  ASSERT_EQ(differs->differences.size(), 1u);
  EXPECT_EQ(differs->differences[0].path, "f");
  EXPECT_EQ(differs->differences[0].what, "content differs");
}

}  // namespace
}  // namespace georep::replication
