#include "model/path_guard.h"

#include <gtest/gtest.h>

namespace georep {
namespace {

// A path on the engine's machine: `real` with ids made up from its components (each ancestor
// of a path has the id of its own name), so equal names have equal ids unless told otherwise.
FileId IdOf(const std::string& real) {
  return {1, std::hash<std::string>{}(real)};
}

ResolvedPath At(const std::string& path, const std::string& real = "", bool exists = true) {
  ResolvedPath p;
  p.path = path;
  p.real = real.empty() ? path : real;
  p.resolved = true;
  p.exists = exists;
  if (exists) p.id = IdOf(p.real);
  for (std::string a = p.real; a != "/";) {
    a = a.substr(0, a.rfind('/'));
    if (a.empty()) a = "/";
    p.ancestor_ids.push_back(IdOf(a));
  }
  return p;
}

MachineIdentity Engine() {
  MachineIdentity m;
  m.engine = true;
  m.boot_id = "boot-1";
  m.mount_ns = "mnt:[1]";
  return m;
}

GuardedTree Tree(const std::string& what, ResolvedPath p, MachineIdentity m = Engine()) {
  return GuardedTree{what, "localhost", std::move(m), std::move(p),
                     what.find("'s source") != std::string::npos};
}

GuardedTree NoDataDir() {
  return GuardedTree{};
}

Status CheckDest(const ResolvedPath& dest, const ResolvedPath& source,
                 const std::vector<GuardedTree>& others = {},
                 const GuardedTree& data = NoDataDir()) {
  return CheckDestinationPath(Tree("destination", dest),
                              Tree("the source volume's directory", source), others, data);
}

TEST(PathGuard, RefusesTheSourceItsParentAndAnythingInside) {
  Status parent = CheckDest(At("/srv/p"), At("/srv/p/src"));
  EXPECT_EQ(parent.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(parent.message(),
            "destination /srv/p is a parent of the source volume's directory /srv/p/src (same "
            "host localhost): replication would overwrite and delete the source");
  Status equal = CheckDest(At("/srv/src"), At("/srv/src"));
  EXPECT_NE(equal.message().find("is the same directory as"), std::string::npos)
      << equal.ToString();
  Status inside = CheckDest(At("/srv/src/backup", "", false), At("/srv/src"));
  EXPECT_NE(inside.message().find("lies inside"), std::string::npos) << inside.ToString();
  EXPECT_NE(CheckDest(At("/", "/"), At("/srv/src")).message().find("system directory"),
            std::string::npos);
}

TEST(PathGuard, SiblingsWithACommonPrefixAreApart) {
  EXPECT_TRUE(CheckDest(At("/a/src2"), At("/a/src")).ok());
  EXPECT_TRUE(CheckDest(At("/a/sr"), At("/a/src")).ok());
  EXPECT_TRUE(CheckDest(At("/a/src-backup/x", "", false), At("/a/src")).ok());
  EXPECT_EQ(RelatePaths(At("/a/src2"), At("/a/src"), true), PathRelation::kApart);
}

TEST(PathGuard, ASymlinkIsJudgedByWhereItLeads) {
  // /backup/link -> /srv/p, the source's parent.
  Status st = CheckDest(At("/backup/link", "/srv/p"), At("/srv/p/src"));
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("/backup/link (really /srv/p) is a parent of"), std::string::npos)
      << st.ToString();
}

TEST(PathGuard, ABindMountIsFoundByDeviceAndInode) {
  // /mnt/bind is a bind mount of the source /srv/src: other name, the same id.
  ResolvedPath bind = At("/mnt/bind");
  bind.id = IdOf("/srv/src");
  EXPECT_EQ(RelatePaths(bind, At("/srv/src"), true), PathRelation::kEqual);
  EXPECT_FALSE(CheckDest(bind, At("/srv/src")).ok());
  // Something beneath the bind mount: the source's id among its ancestors.
  ResolvedPath below = At("/mnt/bind/sub", "", false);
  below.ancestor_ids.insert(below.ancestor_ids.begin(), IdOf("/srv/src"));
  EXPECT_EQ(RelatePaths(below, At("/srv/src"), true), PathRelation::kInside);
  // A bind mount of the source's parent: its id among the source's ancestors.
  ResolvedPath parent = At("/mnt/p");
  parent.id = IdOf("/srv/p");
  EXPECT_EQ(RelatePaths(parent, At("/srv/p/src"), true), PathRelation::kContains);
  // Another mount namespace of the same kernel: only ids compare.
  EXPECT_EQ(RelatePaths(At("/srv/other"), At("/srv/other/x"), false), PathRelation::kContains);
  ResolvedPath elsewhere = At("/data");
  elsewhere.id = {2, 99};
  elsewhere.ancestor_ids = {{2, 1}};
  EXPECT_EQ(RelatePaths(elsewhere, At("/data"), false), PathRelation::kApart);
}

TEST(PathGuard, SystemDirectories) {
  for (const char* p : {"/", "/etc", "/usr", "/boot", "/proc", "/var", "/run", "/lib64", "/sys",
                        "/etc/backup", "/usr/local/data", "/proc/1", "/dev/shm/x", "/lib/x"})
    EXPECT_FALSE(SystemDirectoryProblem(p).empty()) << p;
  for (const char* p : {"/var/lib/georep-data", "/srv/backup", "/home/a", "/etcetera", "/usrdata",
                        "/run/media/disk", "/library"})
    EXPECT_TRUE(SystemDirectoryProblem(p).empty()) << p;
  // A symlink into /etc is judged by where it leads; so is /etc itself written otherwise.
  Status st = CheckDest(At("/srv/etc-link", "/etc"), At("/srv/src"));
  EXPECT_NE(st.message().find("/etc is a system directory"), std::string::npos) << st.ToString();
}

TEST(PathGuard, TheEngineDataDirectoryItsParentsAndInside) {
  const GuardedTree data = Tree("the engine's data directory", At("/var/lib/georep"));
  EXPECT_FALSE(CheckDest(At("/var/lib/georep"), At("/srv/src"), {}, data).ok());
  EXPECT_FALSE(CheckDest(At("/var/lib"), At("/srv/src"), {}, data).ok());
  Status inside = CheckDest(At("/var/lib/georep/sessions/x", "", false), At("/srv/src"), {}, data);
  EXPECT_NE(inside.message().find("the engine's own state"), std::string::npos)
      << inside.ToString();
  EXPECT_TRUE(CheckDest(At("/var/lib/georep-data"), At("/srv/src"), {}, data).ok());
}

// V1: a directory volume of the engine's data directory (or above it) replicated the engine's
// private key and every password hash to a destination of the user's choice.
TEST(PathGuard, TheSourceMayNotHoldTheEngineDataDirectory) {
  const GuardedTree data = Tree("the engine's data directory", At("/var/lib/georep"));
  for (const char* src : {"/var/lib/georep", "/var/lib", "/var/lib/georep/sessions"}) {
    Status st = CheckDest(At("/backup/x", "", false), At(src, "", false), {}, data);
    EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << src;
    EXPECT_NE(st.message().find("private key"), std::string::npos) << st.ToString();
  }
  EXPECT_TRUE(CheckDest(At("/backup/x", "", false), At("/srv/src"), {}, data).ok());
}

TEST(PathGuard, OtherSessionsSourcesAndDestinations) {
  const std::vector<GuardedTree> others = {
      Tree("session a's source", At("/srv/a")),
      Tree("session a's destination", At("/backup/a")),
  };
  Status same_dest = CheckDest(At("/backup/a"), At("/srv/src"), others);
  EXPECT_NE(same_dest.message().find("each other's files"), std::string::npos)
      << same_dest.ToString();
  EXPECT_FALSE(CheckDest(At("/backup"), At("/srv/src"), others).ok());
  EXPECT_FALSE(CheckDest(At("/backup/a/x", "", false), At("/srv/src"), others).ok());
  Status on_source = CheckDest(At("/srv/a"), At("/srv/src"), others);
  EXPECT_NE(on_source.message().find("session a's source"), std::string::npos)
      << on_source.ToString();
  EXPECT_FALSE(CheckDest(At("/srv"), At("/srv/src"), others).ok());
  // Cascading: this session's source is another one's destination (or inside it).
  Status cascade = CheckDest(At("/backup/c"), At("/backup/a"), others);
  EXPECT_EQ(cascade.message(),
            "session a's destination /backup/a is the same directory as the source volume's "
            "directory /backup/a (same host localhost): that session would overwrite and delete "
            "this session's source")
      << cascade.ToString();
  EXPECT_FALSE(CheckDest(At("/backup/c"), At("/backup/a/sub"), others).ok());
  EXPECT_TRUE(CheckDest(At("/backup/b"), At("/srv/src"), others).ok());
  EXPECT_TRUE(CheckDest(At("/backup/a2"), At("/srv/src"), others).ok());
}

TEST(PathGuard, OnlyTheSameMachineCounts) {
  MachineIdentity remote;
  remote.address = "backup.example.org";
  remote.fingerprint = "SHA256:abc";
  remote.boot_id = "boot-2";
  remote.mount_ns = "mnt:[1]";
  // /srv/src on another machine is another directory.
  EXPECT_TRUE(CheckDestinationPath(Tree("destination", At("/srv/src"), remote),
                                   Tree("the source volume's directory", At("/srv/src")), {},
                                   NoDataDir())
                  .ok());
  // Unprobed hosts: by georep's identity of them.
  MachineIdentity a, b;
  a.host_id = "h1";
  b.host_id = "h1";
  EXPECT_EQ(CompareMachines(a, b), MachineMatch::kSame);
  b.host_id = "h2";
  EXPECT_EQ(CompareMachines(a, b), MachineMatch::kDifferent);
  a.address = "Node1";
  b.address = "node1";
  EXPECT_EQ(CompareMachines(a, b), MachineMatch::kSame);
  b.address = "node2";
  a.fingerprint = b.fingerprint = "SHA256:x";
  EXPECT_EQ(CompareMachines(a, b), MachineMatch::kSame);
  EXPECT_EQ(CompareMachines(Engine(), remote), MachineMatch::kDifferent);
  // The engine's machine reached over ssh on loopback: the same kernel and mount namespace.
  remote.boot_id = "boot-1";
  EXPECT_EQ(CompareMachines(Engine(), remote), MachineMatch::kSame);
  remote.mount_ns = "mnt:[2]";
  EXPECT_EQ(CompareMachines(Engine(), remote), MachineMatch::kSameKernel);
}

TEST(PathGuard, ParsesTheProbe) {
  const std::string out =
      "P /srv/p\nI 2049 12 /srv/p\nI 2049 2 /srv\nI 2049 2 /\n"
      "P /srv/p/new dir/x\nI 2049 12 /srv/p\nI 2049 2 /srv\nI 2049 2 /\n"
      "B 1234-abcd\nN mnt:[4026531841]\nE\n";
  auto a = ParsePathProbe(out, {"/link", "/srv/p/new dir/x"});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->boot_id, "1234-abcd");
  EXPECT_EQ(a->mount_ns, "mnt:[4026531841]");
  ASSERT_EQ(a->paths.size(), 2u);
  EXPECT_EQ(a->paths[0].path, "/link");
  EXPECT_EQ(a->paths[0].real, "/srv/p");
  EXPECT_TRUE(a->paths[0].exists);
  EXPECT_EQ(a->paths[0].id, (FileId{2049, 12}));
  EXPECT_EQ(a->paths[0].ancestor_ids.size(), 2u);
  EXPECT_FALSE(a->paths[1].exists);
  EXPECT_EQ(a->paths[1].real, "/srv/p/new dir/x");
  EXPECT_EQ(a->paths[1].ancestor_ids.front(), (FileId{2049, 12}));
  EXPECT_FALSE(ParsePathProbe("", {"/x"}).ok());
  EXPECT_FALSE(ParsePathProbe("P /x\n", {"/x"}).ok());
  EXPECT_FALSE(ParsePathProbe("P \nB x\nN y\nE\n", {"/x"}).ok());
  EXPECT_FALSE(ParsePathProbe("B x\nN y\nE\n", {"/x"}).ok());
}

// "C": whether a directory the probe could list holds anything (the initial sync's check).
TEST(PathGuard, ParsesWhetherADirectoryIsEmpty) {
  const std::string out =
      "P /srv/full\nC 1\nI 2049 12 /srv/full\nI 2049 2 /srv\nI 2049 2 /\n"
      "P /srv/empty\nC 0\nI 2049 13 /srv/empty\nI 2049 2 /srv\nI 2049 2 /\n"
      "P /srv/unlisted\nI 2049 14 /srv/unlisted\nI 2049 2 /srv\nI 2049 2 /\n"
      "B b\nN n\nE\n";
  auto a = ParsePathProbe(out, {"/srv/full", "/srv/empty", "/srv/unlisted"});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->paths[0].listed);
  EXPECT_FALSE(a->paths[0].empty);
  EXPECT_TRUE(a->paths[1].listed);
  EXPECT_TRUE(a->paths[1].empty);
  EXPECT_FALSE(a->paths[2].listed);
  EXPECT_FALSE(ParsePathProbe("C 1\nB b\nN n\nE\n", {}).ok());
}

}  // namespace
}  // namespace georep

namespace georep {
namespace {

TEST(VolumeRoots, AllowOnlyWholeSegmentsBeneathARoot) {
  const std::vector<std::string> roots = {"/srv/data", "/export/"};
  EXPECT_TRUE(CheckUnderVolumeRoots("the directory", "/srv/data", roots).ok());
  EXPECT_TRUE(CheckUnderVolumeRoots("the directory", "/srv/data/a/b", roots).ok());
  EXPECT_TRUE(CheckUnderVolumeRoots("the directory", "/export/x", roots).ok());
  Status sibling = CheckUnderVolumeRoots("the directory", "/srv/database", roots);
  EXPECT_EQ(sibling.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(sibling.message().find("/srv/data, /export/"), std::string::npos) << sibling.message();
  EXPECT_FALSE(CheckUnderVolumeRoots("the directory", "/srv", roots).ok());
  EXPECT_FALSE(CheckUnderVolumeRoots("the directory", "/etc", roots).ok());
}

TEST(VolumeRoots, NoRootsAllowNothingAndSaySo) {
  Status none = CheckUnderVolumeRoots("the directory", "/srv/data", {});
  EXPECT_EQ(none.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(none.message().find("--volume-root"), std::string::npos) << none.message();
}

}  // namespace
}  // namespace georep
