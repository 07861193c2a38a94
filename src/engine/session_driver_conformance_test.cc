// The session-driver conformance suite (session_driver.h): the same lifecycle, config,
// status and removal cases, through Operations, on every driver -- GlusterDriver against a
// scripted gluster cluster that keeps each session's state as gluster would (the XML recorded
// from real GlusterFS, gluster/testdata), DirectoryDriver with its workers supervised (their
// launches recorded, their status.json written as a worker writes it). Each world says how
// its kind shows what the driver did; every case asserts that.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/operations.h"
#include "engine/test_support/directory_nodes.h"
#include "engine/test_support/scripted_cluster.h"
#include "engine/worker_supervisor.h"
#include "replication/replicator.h"

namespace georep {
namespace {

using testing_support::Answer;
using testing_support::DirectoryNodes;
using testing_support::Fixture;
using testing_support::Has;
using testing_support::ScriptedCluster;

// What every world holds: a store in a temporary directory, a clock, and Operations, whose
// hosts are scripted (`cluster_`) or have their volumes in directories here (`nodes_`).
class World {
 public:
  World(const std::string& name, bool on_directory_nodes) {
    dir_ = std::filesystem::temp_directory_path() /
           ("georep-conformance-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    auto s = OpenStore("sqlite://" + (dir_ / "db").string());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    HostConnector* hosts = &cluster_;
    if (on_directory_nodes) hosts = &nodes_;
    ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_, hosts);
  }
  virtual ~World() {
    ops_.reset();
    std::filesystem::remove_all(dir_);
  }
  Operations& ops() { return *ops_; }
  FakeClock& clock() { return clock_; }

  // A new session of this kind, created through Operations ("" when that failed).
  virtual std::string CreateSession() = 0;
  // The session's status as the kind reads it where it runs (the monitor's look).
  virtual Result<SessionDetail> Observe(const std::string& id) = 0;
  // Where the session runs says its copying runs (gluster: it was started and not stopped
  // since; directory: the worker is supervised).
  virtual bool Runs(const std::string& id) = 0;
  // Where the session runs now reports its worker Active / Faulty with `reason`.
  virtual void ReportActive(const std::string& id) = 0;
  virtual void ReportFaulty(const std::string& id, const std::string& reason) = 0;
  // Where the session runs got `ignore-deletes` as `on` (gluster: the config command;
  // directory: the worker's command line, after the monitor's look).
  virtual bool IgnoresDeletes(const std::string& id, bool on) = 0;
  // What the session left where it ran is gone (gluster: deleted there; directory: its
  // worker's state).
  virtual bool LeftNothing(const std::string& id) = 0;

  // The session's source and destination trees as the engine's machine sees them: the same
  // files, all with the same times; `differ`: b.txt's content differs at the destination.
  void WriteTrees(bool differ) {
    for (const auto& root : {source_root(), destination_root()}) {
      Write(root / "a.txt", "alpha");
      Write(root / "dir/b.txt", differ && root == destination_root() ? "BRAVO" : "bravo");
    }
    for (const auto& root : {source_root(), destination_root()}) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(root)) SetTimes(e.path());
      SetTimes(root);
    }
  }

 protected:
  virtual std::filesystem::path source_root() = 0;
  virtual std::filesystem::path destination_root() = 0;
  static void Write(const std::filesystem::path& p, const std::string& content) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }
  static void SetTimes(const std::filesystem::path& p) {
    const timespec times[2] = {{1577934245, 0}, {1577934245, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << p;
  }

  const Actor admin_{"admin", Role::kAdmin};
  std::filesystem::path dir_;
  FakeClock clock_{1795784806000};
  SeededRandom random_{7};
  ObjectLocks locks_;
  ScriptedCluster cluster_;
  DirectoryNodes nodes_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Operations> ops_;
};

// The harness's layout (gluster/testdata): src1 and src2, replica-2 gv0, -> 10.77.0.11::gv1.
// Every node answers as one glusterd of a cluster would: the session's status follows the
// create / start / stop / pause / resume / delete it was sent. The volumes are directories
// here (both source nodes see one), mounted and read as on gluster's nodes.
class GlusterWorld final : public World {
 public:
  GlusterWorld() : World("gluster", /*on_directory_nodes=*/true) {
    nodes_.nodes = {{"10.77.0.1", (dir_ / "source-nodes").string()},
                    {"10.77.0.2", (dir_ / "source-nodes").string()},
                    {"10.77.0.11", (dir_ / "destination-nodes").string()}};
    nodes_.gluster = [this](const std::vector<std::string>& argv) { return Answer(argv); };
  }

  std::string CreateSession() override {
    std::string cluster_id = ops_->CreateCluster(admin_, {"src", ""})->id;
    std::vector<Host> hosts;
    for (const auto& [name, ip] : {std::pair{"src1", "10.77.0.1"}, {"src2", "10.77.0.2"}}) {
      HostSpec hs{cluster_id,
                  name,
                  ip,
                  22,
                  "root",
                  HostTransport::kSsh,
                  "SHA256:CXqPY4ZFRXl7D0xFFfUbJnR6i11OsDVgYp/yBeCSa78",
                  ""};
      hosts.push_back(*ops_->AddHost(admin_, hs));
    }
    VolumeSpec vs{cluster_id, "gv0", VolumeKind::kGluster, {}, 2, 0};
    vs.bricks = {{hosts[0].id, "/tmp/gc/src1/bricks/gv0"},
                 {hosts[1].id, "/tmp/gc/src2/bricks/gv0"}};
    Volume v = *ops_->AddVolume(admin_, vs);
    auto d = ops_->CreateDestination(
        admin_, {cluster_id, hosts[0].id, "10.77.0.11", 22,
                 "SHA256:SkjwBH3I6H0YtOLOlcgWKDXkwC8so/k92+fmqlWnM0M", "root"});
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    SessionCreateOptions force;  // eligibility is gluster_monitor_test's
    force.force = true;
    auto s = ops_->CreateSession(admin_, {d->id, v.id, "gv1", ""}, force);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? s->session.id : "";
  }
  Result<SessionDetail> Observe(const std::string& id) override {
    return ops_->RefreshSession(admin_, id);
  }
  bool Runs(const std::string&) override { return state_ == "active"; }
  void ReportActive(const std::string&) override { faulty_ = false; }
  void ReportFaulty(const std::string&, const std::string&) override { faulty_ = true; }
  bool IgnoresDeletes(const std::string&, bool on) override {
    return Sent(on ? std::vector<std::string>{"config", "ignore-deletes", "true"}
                   : std::vector<std::string>{"config", "!ignore-deletes"});
  }
  bool LeftNothing(const std::string&) override { return state_ == "deleted"; }

 protected:
  std::filesystem::path source_root() override { return dir_ / "source-nodes/gv0"; }
  std::filesystem::path destination_root() override { return dir_ / "destination-nodes/gv1"; }

 private:
  // What glusterd answers to `argv`, keeping the session's state.
  Result<CommandResult> Answer(const std::vector<std::string>& argv) {
    if (argv.size() < 7 || argv[3] != "geo-replication") return testing_support::Answer("ok\n");
    const std::string& verb = argv[6];
    if (verb == "status") {
      if (state_ == "deleted") return testing_support::Answer(Fixture("georep-status-none.out"), 2);
      std::string xml = Fixture("georep-status-detail-" + state_ + ".xml");
      for (const char* was : {"<status>Active</status>", "<status>Passive</status>"})
        for (size_t at; faulty_ && (at = xml.find(was)) != std::string::npos;)
          xml.replace(at, std::string(was).size(), "<status>Faulty</status>");
      return testing_support::Answer(xml);
    }
    if (verb == "create") state_ = "created";
    if (verb == "start" || verb == "resume") state_ = "active";
    if (verb == "stop") state_ = "stopped";
    if (verb == "pause") state_ = "paused";
    if (verb == "delete") state_ = "deleted";
    if (verb == "config" && Has(argv, "--xml"))
      return testing_support::Answer(Fixture("georep-config.xml"));
    return testing_support::Answer("geo-replication command executed successfully\n");
  }
  bool Sent(const std::vector<std::string>& words) {
    const auto sent = nodes_.Runs("gluster");
    return std::any_of(sent.begin(), sent.end(), [&](const auto& run) {
      const auto& argv = run.second.argv;
      return argv.size() >= 6 + words.size() &&
             std::equal(words.begin(), words.end(), argv.begin() + 6);
    });
  }

  std::string state_ = "none";  // the session's state on the cluster
  bool faulty_ = false;         // every worker reported Faulty
};

// A worker that ends when told to; its launch is recorded.
struct RecordedWorker final : ChildProcess {
  int pid() const override { return 1; }
  bool Ended(std::string* how) override {
    if (ended) *how = "was killed by signal 15";
    return ended;
  }
  void Signal(int signal) override { ended = ended || signal == SIGTERM || signal == SIGKILL; }
  bool ended = false;
};
struct RecordingLauncher final : ProcessLauncher {
  Result<std::unique_ptr<ChildProcess>> Launch(const std::vector<std::string>& argv,
                                               const std::string&) override {
    launches.push_back(argv);
    return std::unique_ptr<ChildProcess>(std::make_unique<RecordedWorker>());
  }
  std::vector<std::vector<std::string>> launches;
};

// A directory volume on the engine's own host, to a local destination path.
class DirectoryWorld final : public World {
 public:
  DirectoryWorld() : World("directory", /*on_directory_nodes=*/false) {
    cluster_.scripts["localhost"] = [](const std::vector<std::string>&) { return Answer(""); };
    workers_ = std::make_unique<WorkerSupervisor>(launcher_, clock_, (dir_ / "state").string());
    ops_->SetWorkerSupervisor(workers_.get(), "/usr/bin/georep");
  }
  ~DirectoryWorld() override {
    ops_.reset();
    workers_.reset();
  }

  std::string CreateSession() override {
    Cluster c = *ops_->CreateCluster(admin_, {"local", ""});
    HostSpec hs;
    hs.cluster_id = c.id;
    hs.name = "localhost";
    hs.transport = HostTransport::kLocal;
    Host h = *ops_->AddHost(admin_, hs);
    VolumeSpec vs{c.id, "src", VolumeKind::kDirectory, {{h.id, source_root().string()}}, 1, 0};
    Volume v = *ops_->AddVolume(admin_, vs);
    auto d = ops_->CreateDestination(admin_, {c.id, h.id, "backup", 22, "", "root"});
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    auto s = ops_->CreateSession(admin_, {d->id, v.id, destination_root().string(), ""});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? s->session.id : "";
  }
  Result<SessionDetail> Observe(const std::string& id) override {
    return ops_->PollDirectorySession(admin_, id);
  }
  bool Runs(const std::string& id) override {
    const auto ids = workers_->Supervised();
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  }
  void ReportActive(const std::string& id) override { Report(id, "Active", ""); }
  void ReportFaulty(const std::string& id, const std::string& reason) override {
    Report(id, "Faulty", reason);
  }
  bool IgnoresDeletes(const std::string& id, bool on) override {
    EXPECT_TRUE(Observe(id).ok());
    return !launcher_.launches.empty() && Has(launcher_.launches.back(), "--ignore-deletes") == on;
  }
  bool LeftNothing(const std::string& id) override {
    return !Runs(id) && !std::filesystem::exists(workers_->StateDir(id));
  }

 protected:
  std::filesystem::path source_root() override { return dir_ / "src"; }
  std::filesystem::path destination_root() override { return dir_ / "dst"; }

 private:
  void Report(const std::string& id, const std::string& state, const std::string& reason) {
    clock_.Advance(1000);
    replication::WorkerStatus w;
    w.state = state;
    w.reason = reason;
    w.crawl = "Changelog Crawl";
    w.updated_ms = clock_.NowMillis();
    ASSERT_TRUE(replication::WriteWorkerStatus(workers_->StateDir(id), w).ok());
  }

  RecordingLauncher launcher_;
  std::unique_ptr<WorkerSupervisor> workers_;
};

template <typename W>
class SessionDriverConformance : public ::testing::Test {
 protected:
  Result<SessionDetail> Act(const std::string& id, SessionAction action, bool force = false) {
    return world_.ops().RunSessionAction(admin_, id, action, force);
  }
  SessionStatus StatusOf(const std::string& id) {
    auto s = world_.ops().GetSession(id);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? s->session.status : SessionStatus::kUnknown;
  }
  size_t Events(const std::string& id, const std::string& action, const std::string& result) {
    auto evs = world_.ops().ListEvents({0, "session", id, action, 1000});
    EXPECT_TRUE(evs.ok());
    return evs.ok() ? std::count_if(
                          evs->begin(), evs->end(),
                          [&](const Event& e) { return e.action == action && e.result == result; })
                    : 0;
  }
  // A new session, started, and reported Active where it runs.
  std::string ActiveSession() { return MakeActive(world_.CreateSession()); }
  std::string MakeActive(const std::string& id) {
    EXPECT_TRUE(Act(id, SessionAction::kStart).ok());
    world_.ReportActive(id);
    auto seen = world_.Observe(id);
    EXPECT_TRUE(seen.ok()) << seen.status().ToString();
    EXPECT_EQ(StatusOf(id), SessionStatus::kActive);
    return id;
  }

  W world_;
  const Actor admin_{"admin", Role::kAdmin};
};

using Worlds = ::testing::Types<GlusterWorld, DirectoryWorld>;
TYPED_TEST_SUITE(SessionDriverConformance, Worlds);

TYPED_TEST(SessionDriverConformance, CreateRecordsACreatedSessionWithANodePerBrick) {
  const std::string id = this->world_.CreateSession();
  auto s = this->world_.ops().GetSession(id);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->session.status, SessionStatus::kCreated);
  ASSERT_FALSE(s->nodes.empty());
  for (const auto& n : s->nodes) EXPECT_EQ(n.status, NodeStatus::kCreated);
  EXPECT_FALSE(this->world_.Runs(id));
  EXPECT_EQ(this->Events(id, "session.create", "ok"), 1u);
}

TYPED_TEST(SessionDriverConformance, StartPauseResumeStopFollowTheLifecycle) {
  const std::string id = this->ActiveSession();
  EXPECT_TRUE(this->world_.Runs(id));

  auto paused = this->Act(id, SessionAction::kPause);
  ASSERT_TRUE(paused.ok()) << paused.status().ToString();
  EXPECT_EQ(this->StatusOf(id), SessionStatus::kPaused);
  EXPECT_FALSE(this->world_.Runs(id));

  ASSERT_TRUE(this->Act(id, SessionAction::kResume).ok());
  EXPECT_TRUE(this->world_.Runs(id));
  this->world_.ReportActive(id);
  ASSERT_TRUE(this->world_.Observe(id).ok());
  EXPECT_EQ(this->StatusOf(id), SessionStatus::kActive);

  auto stopped = this->Act(id, SessionAction::kStop);
  ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
  EXPECT_EQ(this->StatusOf(id), SessionStatus::kStopped);
  EXPECT_FALSE(this->world_.Runs(id));
  for (const char* action : {"session.start", "session.pause", "session.resume", "session.stop"})
    EXPECT_EQ(this->Events(id, action, "ok"), 1u) << action;
}

TYPED_TEST(SessionDriverConformance, TransitionsTheStateDoesNotAllowAreRefused) {
  const std::string id = this->world_.CreateSession();
  for (SessionAction action : {SessionAction::kPause, SessionAction::kResume}) {
    auto refused = this->Act(id, action);
    EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition) << Name(action);
  }
  EXPECT_EQ(this->StatusOf(id), SessionStatus::kCreated);
  EXPECT_FALSE(this->world_.Runs(id));
  EXPECT_EQ(this->Events(id, "session.pause", "failed"), 1u);

  // A running session is not removed without force, and keeps running.
  const std::string active = this->MakeActive(id);
  Status removed = this->world_.ops().RemoveSession(this->admin_, active, false);
  EXPECT_EQ(removed.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(this->StatusOf(active), SessionStatus::kActive);
  EXPECT_TRUE(this->world_.Runs(active));
}

TYPED_TEST(SessionDriverConformance, ConfigSetAndResetReachWhereTheSessionRuns) {
  const std::string id = this->ActiveSession();
  auto set = this->world_.ops().SetConfig(this->admin_, id, "ignore-deletes", "true");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->value, "true");
  EXPECT_TRUE(this->world_.IgnoresDeletes(id, true));

  ASSERT_TRUE(this->world_.ops().ResetConfig(this->admin_, id, "ignore-deletes").ok());
  auto config = this->world_.ops().GetConfig(id);
  ASSERT_TRUE(config.ok());
  for (const auto& item : *config) {
    if (item.option->key == "ignore-deletes") {
      EXPECT_TRUE(item.is_default);
    }
  }
  EXPECT_TRUE(this->world_.IgnoresDeletes(id, false));
  EXPECT_EQ(this->Events(id, "session.config.set", "ok"), 1u);
  EXPECT_EQ(this->Events(id, "session.config.reset", "ok"), 1u);
}

TYPED_TEST(SessionDriverConformance, AFaultWhereTheSessionRunsIsItsStatusWithAnEvent) {
  const std::string id = this->ActiveSession();
  this->world_.ReportFaulty(id, "the destination refused the connection");
  auto seen = this->world_.Observe(id);
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  EXPECT_EQ(seen->session.status, SessionStatus::kFaulty);
  EXPECT_EQ(this->StatusOf(id), SessionStatus::kFaulty);
  EXPECT_EQ(this->Events(id, "session.faulty", "failed"), 1u);

  this->world_.ReportActive(id);
  ASSERT_TRUE(this->world_.Observe(id).ok());
  EXPECT_EQ(this->StatusOf(id), SessionStatus::kActive);
  EXPECT_EQ(this->Events(id, "session.recovered", "ok"), 1u);
}

TYPED_TEST(SessionDriverConformance, RemoveForgetsAStoppedSessionAndWhatItLeft) {
  const std::string id = this->ActiveSession();
  ASSERT_TRUE(this->Act(id, SessionAction::kStop).ok());
  Status removed = this->world_.ops().RemoveSession(this->admin_, id, false);
  ASSERT_TRUE(removed.ok()) << removed.ToString();
  EXPECT_EQ(this->world_.ops().GetSession(id).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(this->world_.LeftNothing(id));
  EXPECT_EQ(this->Events(id, "session.remove", "ok"), 1u);
}

TYPED_TEST(SessionDriverConformance, VerifyComparesTheDestinationWithTheSource) {
  const std::string id = this->world_.CreateSession();
  this->world_.WriteTrees(/*differ=*/false);
  auto same = this->world_.ops().VerifySession(this->admin_, id, 100);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_TRUE(same->differences.empty()) << same->differences[0].path;
  EXPECT_GE(same->content_checked, 2u);

  this->world_.WriteTrees(/*differ=*/true);
  auto differs = this->world_.ops().VerifySession(this->admin_, id, 100);
  ASSERT_TRUE(differs.ok()) << differs.status().ToString();
  ASSERT_EQ(differs->differences.size(), 1u);
  EXPECT_NE(differs->differences[0].path.find("b.txt"), std::string::npos);
  auto s = this->world_.ops().GetSession(id);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(std::any_of(s->alerts.begin(), s->alerts.end(),
                          [](const SessionAlert& a) { return a.kind == "verify-differs"; }));
  EXPECT_EQ(this->Events(id, "session.verify", "ok"), 1u);
  EXPECT_EQ(this->Events(id, "session.verify", "failed"), 1u);
}

}  // namespace
}  // namespace georep
