// A directory session's destination can never point where it hurts (model/path_guard.h): the
// real engine, real trees, symlinks and bind mounts, a real sshd on loopback. Each refusal
// names its reason and leaves the trees as they were.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "integration/engine_process.h"
#include "integration/replication_support.h"
#include "integration/sshd_server.h"
#include "replication/test_util.h"

namespace georep::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using replication::testing::DescribeTree;

void Put(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

// A bind mount, undone on every way out.
class BindMount {
 public:
  BindMount(const std::string& from, const std::string& to) : to_(to) {
    fs::create_directories(to);
    mounted_ = ::mount(from.c_str(), to.c_str(), nullptr, MS_BIND, nullptr) == 0;
  }
  ~BindMount() {
    if (mounted_) ::umount2(to_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  std::string to_;
  bool mounted_ = false;
};

// An engine with a local host, a directory volume at ROOT/p/src (holding keep = "original" and
// src/keep = "nested", the tester's D1 tree) and a destination on the engine's machine.
class PathGuard : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartEngine(true)); }

  void StartEngine(bool first) {
    engine_ = std::make_unique<EngineProcess>(
        data_.path(), std::vector<std::string>{"--monitor-interval", monitor_interval_});
    ASSERT_TRUE(engine_->Start()) << engine_->output();
    if (first) password_ = engine_->admin_password();
    token_ = engine_->Login(password_);
    ASSERT_FALSE(token_.empty());
    if (!first) return;
    parent_ = root_.path() + "/p";
    src_ = parent_ + "/src";
    Put(src_ + "/keep", "original");
    Put(src_ + "/src/keep", "nested");
    auto [c_status, cluster] = Post("/api/v1/clusters", {{"name", "local"}});
    ASSERT_EQ(c_status, 201) << cluster.dump();
    cluster_id_ = cluster["id"];
    auto [h_status, host] = Post("/api/v1/clusters/" + cluster_id_ + "/hosts",
                                 {{"name", "localhost"}, {"transport", "local"}});
    ASSERT_EQ(h_status, 201) << host.dump();
    host_id_ = host["id"];
    volume_id_ = AddVolume("docs", src_);
    ASSERT_FALSE(volume_id_.empty());
    auto [d_status, dest] = Post("/api/v1/clusters/" + cluster_id_ + "/destinations",
                                 {{"source_host_id", host_id_}, {"host", "localhost"}});
    ASSERT_EQ(d_status, 201) << dest.dump();
    destination_id_ = dest["id"];
  }

  std::pair<int, Json> Post(const std::string& path, const Json& body) {
    auto r = engine_->Post(path, body.dump(), token_);
    EXPECT_TRUE(r) << path;
    return r ? std::make_pair(r->status, Json::parse(r->body, nullptr, false))
             : std::make_pair(0, Json());
  }
  std::string AddVolume(const std::string& name, const std::string& path) {
    std::filesystem::create_directories(path);  // a volume's directory exists (the engine checks)
    auto [status, volume] = Post("/api/v1/clusters/" + cluster_id_ + "/volumes",
                                 {{"name", name}, {"host_id", host_id_}, {"path", path}});
    EXPECT_EQ(status, 201) << volume.dump();
    return status == 201 ? volume["id"].get<std::string>() : "";
  }
  std::pair<int, Json> Create(const std::string& destination, const std::string& volume = "",
                              const std::string& destination_id = "") {
    return Post("/api/v1/sessions",
                {{"destination_id", destination_id.empty() ? destination_id_ : destination_id},
                 {"source_volume_id", volume.empty() ? volume_id_ : volume},
                 {"destination_volume", destination}});
  }
  // The refusal's message, after checking it is one (409) and that nothing was created.
  std::string Refused(const std::string& destination, const std::string& volume = "",
                      const std::string& destination_id = "") {
    const size_t before = Sessions().size();
    auto [status, body] = Create(destination, volume, destination_id);
    EXPECT_EQ(status, 409) << destination << ": " << body.dump();
    EXPECT_EQ(Sessions().size(), before) << destination;
    return body["error"]["message"].is_string() ? body["error"]["message"].get<std::string>()
                                                : body.dump();
  }
  Json Sessions() {
    auto r = engine_->Get("/api/v1/sessions", token_);
    return r && r->status == 200 ? Json::parse(r->body)["items"] : Json::array();
  }
  std::string Real(const std::string& p) { return fs::canonical(p).string(); }
  // An sshd on loopback that trusts the engine's key, and a destination of the source host on
  // it (its host key pinned, `extra` added to the request); `*dest` is what the engine answered.
  void AttachSshDestination(const Json& extra, Json* dest) {
    auto key = engine_->Get("/api/v1/engine/ssh-key", token_);
    ASSERT_TRUE(key && key->status == 200);
    sshd_ = std::make_unique<SshServer>(sshd_dir_.path());
    ASSERT_TRUE(sshd_->Start(Json::parse(key->body)["public_key"])) << sshd_->error();
    Json body = {{"source_host_id", host_id_},
                 {"host", "127.0.0.1"},
                 {"ssh_port", sshd_->port()},
                 {"ssh_fingerprint", sshd_->HostFingerprint()}};
    body.update(extra);
    auto [d_status, created] = Post("/api/v1/clusters/" + cluster_id_ + "/destinations", body);
    ASSERT_EQ(d_status, 201) << created.dump();
    *dest = created;
  }

  TempDir data_, root_, sshd_dir_;
  std::string monitor_interval_ = "1";
  std::unique_ptr<EngineProcess> engine_;
  std::unique_ptr<SshServer> sshd_;
  std::string password_, token_, cluster_id_, host_id_, volume_id_, destination_id_;
  std::string parent_, src_;
};

::testing::AssertionResult Says(const std::string& said, const std::string& text) {
  if (said.find(text) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected \"" << text << "\" in: " << said;
}

TEST_F(PathGuard, AParentOfTheSourceIsRefusedAtCreateAndNothingChanges) {
  const auto tree = DescribeTree(parent_);
  EXPECT_EQ(Refused(parent_),
            "destination " + parent_ + " is a parent of the source volume's directory " + src_ +
                " (same host localhost): replication would overwrite and delete the source");
  EXPECT_TRUE(Says(Refused(root_.path()), "is a parent of the source volume's directory"));
  EXPECT_EQ(DescribeTree(parent_), tree);
  EXPECT_EQ(replication::testing::ReadFile(src_ + "/keep"), "original");
  EXPECT_EQ(replication::testing::ReadFile(src_ + "/src/keep"), "nested");
  // The refusal is in the audit trail.
  auto events = engine_->Get("/api/v1/events?action=session.create&result=failed", token_);
  ASSERT_TRUE(events && events->status == 200);
  EXPECT_TRUE(Says(events->body, "is a parent of the source"));
}

// Directory volumes, sources and destinations alike, lie only under the directories the
// engine was started with (--volume-root), as written and as resolved.
TEST_F(PathGuard, DirectoryVolumesLieOnlyUnderTheAllowedRoots) {
  auto restart = [&](const std::string& root) {
    EXPECT_EQ(engine_->Terminate(), 0);
    engine_ = std::make_unique<EngineProcess>(
        data_.path(),
        std::vector<std::string>{"--monitor-interval", monitor_interval_, "--volume-root", root});
    ASSERT_TRUE(engine_->Start()) << engine_->output();
    token_ = engine_->Login(password_);
    ASSERT_FALSE(token_.empty());
  };
  ASSERT_NO_FATAL_FAILURE(restart(parent_));
  TempDir outside;
  auto [v_status, refused_volume] =
      Post("/api/v1/clusters/" + cluster_id_ + "/volumes",
           {{"name", "elsewhere"}, {"host_id", host_id_}, {"path", outside.path()}});
  EXPECT_EQ(v_status, 403) << refused_volume.dump();
  EXPECT_TRUE(Says(refused_volume.dump(),
                   "is not under a directory this engine allows volumes "
                   "in (" +
                       parent_ + ")"));
  auto [d_status, refused_dest] = Create(outside.path() + "/copy");
  EXPECT_EQ(d_status, 403) << refused_dest.dump();
  EXPECT_TRUE(Says(refused_dest.dump(), "--volume-root"));
  // A symlink under the root that leads out of it.
  fs::create_directory_symlink(outside.path(), parent_ + "/out");
  auto [l_status, refused_link] = Create(parent_ + "/out/copy");
  EXPECT_EQ(l_status, 403) << refused_link.dump();
  EXPECT_TRUE(Says(refused_link.dump(), "(its real path) " + Real(outside.path()) + "/copy"));
  auto [ok_status, session] = Create(parent_ + "/copy");
  ASSERT_EQ(ok_status, 201) << session.dump();
  EXPECT_EQ(Sessions().size(), 1u);

  // Started again allowing only another directory: the session is refused at start.
  ASSERT_NO_FATAL_FAILURE(restart(outside.path()));
  auto start = engine_->Post("/api/v1/sessions/" + session["id"].get<std::string>() + "/start",
                             "{}", token_);
  ASSERT_TRUE(start);
  EXPECT_EQ(start->status, 403) << start->body;
  EXPECT_TRUE(Says(start->body, "not under a directory this engine allows"));
}

TEST_F(PathGuard, TheSourceItselfAndAnythingInsideAreRefusedASiblingIsNot) {
  EXPECT_TRUE(Says(Refused(src_), "is the same directory as the source volume's directory"));
  EXPECT_TRUE(Says(Refused(src_ + "/backup"), "lies inside the source volume's directory"));
  EXPECT_TRUE(Says(Refused(src_ + "/src"), "lies inside the source volume's directory"));
  // A common prefix is not a parent: /p/src2 is apart from /p/src.
  auto [status, body] = Create(parent_ + "/src2");
  EXPECT_EQ(status, 201) << body.dump();
}

TEST_F(PathGuard, ASymlinkIsJudgedByWhereItLeads) {
  fs::create_directory_symlink(parent_, root_.path() + "/link");
  EXPECT_TRUE(Says(Refused(root_.path() + "/link"),
                   "destination " + root_.path() + "/link (really " + Real(parent_) +
                       ") is a parent of the source volume's directory"));
  // A path not there yet, beneath a symlink into the source.
  fs::create_directory_symlink(src_, root_.path() + "/into-src");
  EXPECT_TRUE(Says(Refused(root_.path() + "/into-src/new/backup"),
                   "lies inside the source volume's directory"));
}

TEST_F(PathGuard, ABindMountIsFoundByDeviceAndInode) {
  ASSERT_EQ(::geteuid(), 0u) << "the integration tests run as root (bind mounts need it)";
  {
    BindMount of_source(src_, root_.path() + "/mnt/src");
    ASSERT_TRUE(of_source.mounted());
    EXPECT_TRUE(Says(Refused(root_.path() + "/mnt/src"),
                     "is the same directory as the source volume's directory"));
    EXPECT_TRUE(Says(Refused(root_.path() + "/mnt/src/deeper"),
                     "lies inside the source volume's directory"));
  }
  {
    BindMount of_parent(parent_, root_.path() + "/mnt/p");
    ASSERT_TRUE(of_parent.mounted());
    EXPECT_TRUE(
        Says(Refused(root_.path() + "/mnt/p"), "is a parent of the source volume's directory"));
  }
  EXPECT_EQ(replication::testing::ReadFile(src_ + "/keep"), "original");
}

TEST_F(PathGuard, AnotherSessionsDestinationOrSourceIsRefused) {
  auto [status, first] = Create(root_.path() + "/backup");
  ASSERT_EQ(status, 201) << first.dump();
  const std::string key = first["session_key"];
  const std::string other = AddVolume("other", root_.path() + "/other");
  fs::create_directories(root_.path() + "/other");
  fs::create_directories(root_.path() + "/backup");
  // The same directory through a second destination on the same machine, and other names of it.
  auto [d_status, dest] = Post("/api/v1/clusters/" + cluster_id_ + "/destinations",
                               {{"source_host_id", host_id_}, {"host", "127.0.0.1"}});
  ASSERT_EQ(d_status, 201) << dest.dump();
  EXPECT_TRUE(Says(Refused(root_.path() + "/backup", other, dest["id"]),
                   "is the same directory as session " + key + "'s destination"));
  EXPECT_TRUE(Says(Refused(root_.path() + "/backup", other, dest["id"]), "each other's files"));
  fs::create_directory_symlink(root_.path() + "/backup", root_.path() + "/backup-link");
  EXPECT_TRUE(Says(Refused(root_.path() + "/backup-link", other),
                   "is the same directory as session " + key + "'s destination"));
  EXPECT_TRUE(Says(Refused(root_.path() + "/backup/inner", other),
                   "lies inside session " + key + "'s destination"));
  EXPECT_TRUE(Says(Refused(root_.path(), other), "is a parent of"));
  // Another session's source: the other volume to the first one's source, and to its parent.
  EXPECT_TRUE(Says(Refused(src_, other),
                   "is the same directory as session " + key + "'s source directory"));
  EXPECT_TRUE(Says(Refused(src_ + "/x", other), "lies inside session " + key + "'s source"));
  // Nor may this session's source be another session's destination (a cascade).
  const std::string cascade = AddVolume("cascade", root_.path() + "/backup");
  EXPECT_TRUE(Says(Refused(root_.path() + "/elsewhere", cascade),
                   "session " + key + "'s destination " + root_.path() +
                       "/backup is the same directory as the source volume's directory"));
  // Apart from everything: accepted.
  auto [ok_status, ok] = Create(root_.path() + "/backup2", other);
  EXPECT_EQ(ok_status, 201) << ok.dump();
}

TEST_F(PathGuard, SystemDirectoriesAndTheEnginesDataDirectoryAreRefused) {
  EXPECT_TRUE(Says(Refused("/etc"), "/etc is a system directory"));
  EXPECT_TRUE(Says(Refused("/usr"), "/usr is a system directory"));
  EXPECT_TRUE(Says(Refused("/boot"), "/boot is a system directory"));
  EXPECT_TRUE(Says(Refused("/proc"), "/proc is a system directory"));
  EXPECT_TRUE(Says(Refused("/etc/georep-backup"), "lies inside the system directory /etc"));
  EXPECT_TRUE(Says(Refused(data_.path()), "is the same directory as the engine's data directory"));
  EXPECT_TRUE(Says(Refused(data_.path() + "/sessions"), "lies inside the engine's data directory"));
  // /tmp holds the data directory (and the source too: that is said first).
  EXPECT_TRUE(Says(Refused(fs::path(data_.path()).parent_path().string()), "is a parent of"));
}

TEST_F(PathGuard, StartRefusesADestinationThatBecameUnsafe) {
  auto [status, created] = Create(root_.path() + "/later");
  ASSERT_EQ(status, 201) << created.dump();
  const std::string path = "/api/v1/sessions/" + created["id"].get<std::string>();
  // After create, the destination became a symlink to the source's parent.
  fs::create_directory_symlink(parent_, root_.path() + "/later");
  const auto tree = DescribeTree(parent_);
  auto [s_status, body] = Post(path + "/start", Json::object());
  EXPECT_EQ(s_status, 409) << body.dump();
  EXPECT_TRUE(Says(body["error"]["message"].dump(), "is a parent of the source volume's"));
  EXPECT_EQ(Json::parse(engine_->Get(path, token_)->body)["status"], "Created");
  EXPECT_EQ(DescribeTree(parent_), tree);
}

TEST_F(PathGuard, TheMonitorDoesNotRestartAWorkerIntoAnUnsafeDestination) {
  const std::string dst = root_.path() + "/replica";
  auto [status, created] = Create(dst);
  ASSERT_EQ(status, 201) << created.dump();
  const std::string path = "/api/v1/sessions/" + created["id"].get<std::string>();
  auto session = [&] { return Json::parse(engine_->Get(path, token_)->body); };
  ASSERT_EQ(Post(path + "/start", Json::object()).first, 200);
  ASSERT_TRUE(WaitFor(60, [&] { return session()["status"] == "Active"; })) << session().dump();
  ASSERT_TRUE(WaitFor(30, [&] { return SameTree(src_, dst); })) << DescribeTreeDiff(src_, dst);
  // The engine stops (its workers with it); meanwhile the destination is made a symlink to
  // the source's parent; the engine starts again.
  EXPECT_EQ(engine_->Terminate(), 0);
  fs::remove_all(dst);
  fs::create_directory_symlink(parent_, dst);
  const auto tree = DescribeTree(parent_);
  ASSERT_NO_FATAL_FAILURE(StartEngine(false));
  EXPECT_TRUE(WaitFor(30, [&] {
    const Json now = session();
    return now["status"] == "Faulty" && now["nodes"][0]["status_reason"].dump().find(
                                            "is a parent of the source") != std::string::npos;
  })) << session().dump(2);
  EXPECT_EQ(DescribeTree(parent_), tree);
  EXPECT_EQ(replication::testing::ReadFile(src_ + "/keep"), "original");
}

// Between the monitor's polls (30 s apart here) a worker that exits is restarted by the
// supervisor on its own -- and only after the same checks: a destination that became a
// symlink to the source's parent while the worker ran is not restarted into.
TEST_F(PathGuard, AWorkerThatExitedIsNotRestartedIntoAnUnsafeDestination) {
  EXPECT_EQ(engine_->Terminate(), 0);
  monitor_interval_ = "30";
  ASSERT_NO_FATAL_FAILURE(StartEngine(false));
  const std::string dst = root_.path() + "/replica";
  auto [status, created] = Create(dst);
  ASSERT_EQ(status, 201) << created.dump();
  const std::string path = "/api/v1/sessions/" + created["id"].get<std::string>();
  auto session = [&] { return Json::parse(engine_->Get(path, token_)->body); };
  auto worker = [&] {
    auto pids = RunCommand({"/usr/bin/pgrep", "-f", "worker --source " + src_});
    return pids.out.empty() ? 0 : std::stoi(pids.out);
  };
  ASSERT_EQ(Post(path + "/start", Json::object()).first, 200);
  ASSERT_TRUE(WaitFor(60, [&] { return SameTree(src_, dst); })) << DescribeTreeDiff(src_, dst);
  const int pid = worker();
  ASSERT_NE(pid, 0);
  fs::remove_all(dst);
  fs::create_directory_symlink(parent_, dst);
  const auto tree = DescribeTree(parent_);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  // Refused by the supervisor ("not restarted: ..."), then by the poll that follows.
  EXPECT_TRUE(WaitFor(20, [&] {
    const Json now = session();
    return now["status"] == "Faulty" && now["nodes"][0]["status_reason"].dump().find(
                                            "is a parent of the source") != std::string::npos;
  })) << session().dump(2);
  EXPECT_EQ(worker(), 0);
  EXPECT_EQ(DescribeTree(parent_), tree);
  EXPECT_EQ(replication::testing::ReadFile(src_ + "/keep"), "original");
}

// A first sync into a directory that holds something makes it a copy of the source: refused
// at create, and at the first start when it filled after create -- unless forced. Forced, what
// the source does not have is deleted there, and a file already equal to the source's (size
// and mtime) is kept as it is, not sent again.
TEST_F(PathGuard, ADestinationThatIsNotEmptyIsRefusedUnlessForced) {
  const std::string full = root_.path() + "/full";
  Put(full + "/.only-a-hidden-file", "theirs");
  Put(full + "/keep", "original");
  struct stat source_keep {};
  ASSERT_EQ(::stat((src_ + "/keep").c_str(), &source_keep), 0);
  const timespec times[2] = {source_keep.st_atim, source_keep.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, (full + "/keep").c_str(), times, 0), 0);
  struct stat seeded {};
  ASSERT_EQ(::stat((full + "/keep").c_str(), &seeded), 0);
  EXPECT_TRUE(Says(Refused(full), "not-empty: destination directory " + full + " is not empty"));
  auto [forced, body] = Post("/api/v1/sessions", {{"destination_id", destination_id_},
                                                  {"source_volume_id", volume_id_},
                                                  {"destination_volume", full},
                                                  {"force", true}});
  ASSERT_EQ(forced, 201) << body.dump();
  EXPECT_TRUE(Says(body["warnings"].dump(), "is not empty (forced)")) << body.dump();
  const std::string forced_path = "/api/v1/sessions/" + body["id"].get<std::string>();
  EXPECT_EQ(Post(forced_path + "/start", Json::object()).first, 200);  // not asked again
  EXPECT_TRUE(WaitFor(60, [&] { return fs::exists(full + "/src/keep"); }));
  EXPECT_TRUE(WaitFor(60, [&] { return SameTree(src_, full); })) << DescribeTreeDiff(src_, full);
  EXPECT_FALSE(fs::exists(full + "/.only-a-hidden-file"));
  struct stat kept {};
  ASSERT_EQ(::stat((full + "/keep").c_str(), &kept), 0);
  EXPECT_EQ(kept.st_ino, seeded.st_ino) << "an equal file is not sent again";
  EXPECT_EQ(Post(forced_path + "/stop", Json::object()).first, 200);

  // Empty at create; filled before the first start.
  const std::string later = root_.path() + "/later";
  fs::create_directories(later);
  auto [status, created] = Create(later);
  ASSERT_EQ(status, 201) << created.dump();
  const std::string path = "/api/v1/sessions/" + created["id"].get<std::string>();
  Put(later + "/arrived", "meanwhile");
  auto [refused, why] = Post(path + "/start", Json::object());
  EXPECT_EQ(refused, 409) << why.dump();
  EXPECT_TRUE(Says(why.dump(), "not-empty"));
  EXPECT_EQ(Json::parse(engine_->Get(path, token_)->body)["status"], "Created");
  EXPECT_EQ(Post(path + "/start?force=true", Json::object()).first, 200);
  EXPECT_TRUE(WaitFor(60, [&] { return fs::exists(later + "/keep"); }));
  // Once started, a stop and start of the (now full) destination is not asked about.
  EXPECT_EQ(Post(path + "/stop", Json::object()).first, 200);
  EXPECT_EQ(Post(path + "/start", Json::object()).first, 200);
}

// The destination reached over ssh -- a real sshd on loopback, so the same machine, which the
// probe's kernel boot id and mount namespace tell.
TEST_F(PathGuard, AnSshDestinationOnTheSameMachineIsJudgedToo) {
  Json dest;
  ASSERT_NO_FATAL_FAILURE(AttachSshDestination(Json::object(), &dest));
  EXPECT_EQ(Refused(parent_, "", dest["id"]),
            "destination " + parent_ + " is a parent of the source volume's directory " + src_ +
                " (same host localhost): replication would overwrite and delete the source");
  EXPECT_TRUE(Says(Refused(src_ + "/inside", "", dest["id"]), "lies inside"));
  auto [status, ok] = Create(root_.path() + "/over-ssh", "", dest["id"]);
  EXPECT_EQ(status, 201) << ok.dump();
}

// `destination test` of an ssh destination of directory sessions checks what they need -- ssh
// with the pinned host key, the agent runnable there, each session's path usable, free space
// -- and never asks gluster (which such a destination does not run).
TEST_F(PathGuard, TestingAnSshDirectoryDestinationChecksTheAgentAndThePaths) {
  Json dest;
  ASSERT_NO_FATAL_FAILURE(AttachSshDestination({{"remote_user", "root"}}, &dest));
  const std::string test = "/api/v1/destinations/" + dest["id"].get<std::string>() + "/test";
  const std::string there = root_.path() + "/over-ssh";
  auto [status, created] = Create(there, "", dest["id"]);
  ASSERT_EQ(status, 201) << created.dump();
  const std::string config =
      "/api/v1/sessions/" + created["id"].get<std::string>() + "/config/remote-command";
  auto remote = [&](const std::string& command) {
    auto r = engine_->Put(config, Json{{"value", command}}.dump(), token_);
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  };

  ASSERT_NO_FATAL_FAILURE(remote(GeorepBinary() + " agent"));
  auto [ok_status, fine] = Post(test, Json::object());
  ASSERT_EQ(ok_status, 200) << fine.dump();
  EXPECT_EQ(fine["connection"], "Connected") << fine.dump(2);
  EXPECT_TRUE(fine["problems"].empty()) << fine.dump(2);
  EXPECT_EQ(fine.dump().find("gluster"), std::string::npos) << fine.dump(2);

  // The agent is not there.
  ASSERT_NO_FATAL_FAILURE(remote("/nonexistent/georep agent"));
  auto [s1, no_agent] = Post(test, Json::object());
  ASSERT_EQ(s1, 200) << no_agent.dump();
  EXPECT_EQ(no_agent["connection"], "Broken");
  EXPECT_TRUE(
      Says(no_agent["problems"].dump(), "`/nonexistent/georep agent --version` does not run"))
      << no_agent.dump(2);
  EXPECT_EQ(no_agent.dump().find("gluster"), std::string::npos) << no_agent.dump(2);

  // The path is taken by a file.
  ASSERT_NO_FATAL_FAILURE(remote(GeorepBinary() + " agent"));
  Put(there, "a file");
  auto [s2, file] = Post(test, Json::object());
  ASSERT_EQ(s2, 200) << file.dump();
  EXPECT_EQ(file["connection"], "Broken");
  EXPECT_TRUE(Says(file["problems"].dump(), "destination " + there +
                                                " on root@127.0.0.1 exists "
                                                "and is not a directory"))
      << file.dump(2);
}

}  // namespace
}  // namespace georep::testing
