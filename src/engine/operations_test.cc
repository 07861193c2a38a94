#include "engine/operations.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "engine/test_support/scripted_cluster.h"

namespace georep {
namespace {

// Runs nothing: records every argv and answers success, like a cooperative cluster.
class RecordingConnector final : public HostConnector {
 public:
  class Runner final : public CommandRunner {
   public:
    explicit Runner(RecordingConnector* owner) : owner_(owner) {}
    Result<CommandResult> Run(const CommandSpec& spec) override {
      if (auto checked = testing_support::AnswerVolumeCheck(spec)) return *checked;
      std::lock_guard<std::mutex> lock(owner_->mu);  // the preflight runs on several threads
      owner_->commands.push_back(spec.argv);
      CommandResult r;
      r.exit_code = 0;
      return r;
    }

   private:
    RecordingConnector* owner_;
  };
  std::unique_ptr<CommandRunner> RunnerFor(const Host&) override {
    return std::make_unique<Runner>(this);
  }
  // Answers `presented` (when set) for every address.
  Result<std::vector<HostKey>> ScanHostKeys(const std::string& address, int port) override {
    scans.emplace_back(address, port);
    if (presented.empty()) return Status::Unavailable("cannot reach " + address);
    return presented;
  }
  std::mutex mu;
  std::vector<HostKey> presented;
  std::vector<std::pair<std::string, int>> scans;
  Status InstallEngineKey(const Host& h, const std::string& password) override {
    installs.push_back(h);
    if (accepted_password.empty()) return Status::Unavailable("no network in unit tests");
    if (password != accepted_password)
      return Status::PermissionDenied("root@" + h.address + " refused the password");
    return Status::Ok();
  }
  std::string accepted_password;
  std::vector<Host> installs;
  std::string EnginePublicKey() override { return ""; }
  std::string EngineKeyFingerprint() override { return ""; }
  std::vector<std::vector<std::string>> commands;
};

class OperationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("georep-ops-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    auto s = OpenStore("sqlite://" + (dir_ / "db").string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_);
  }
  void TearDown() override {
    ops_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A cluster with one local host, a directory volume and a destination.
  struct World {
    Cluster cluster;
    Host host;
    Volume volume;
    Destination destination;
  };
  World MakeWorld() {
    World w;
    w.cluster = *ops_->CreateCluster(admin_, {"local", ""});
    HostSpec hs;
    hs.cluster_id = w.cluster.id;
    hs.name = "localhost";
    hs.transport = HostTransport::kLocal;
    w.host = *ops_->AddHost(admin_, hs);
    VolumeSpec vs;
    vs.cluster_id = w.cluster.id;
    vs.name = "src";
    std::filesystem::create_directories(dir_ / "src");  // checked where it is, when a host is
    vs.bricks = {{w.host.id, (dir_ / "src").string()}};
    w.volume = *ops_->AddVolume(admin_, vs);
    w.destination =
        *ops_->CreateDestination(admin_, {w.cluster.id, w.host.id, "localhost", 22, "", "root"});
    return w;
  }

  size_t EventCount(const std::string& action, const std::string& result) {
    auto evs = ops_->ListEvents({0, "", "", action, 1000});
    size_t n = 0;
    for (const auto& e : *evs) n += e.result == result;
    return n;
  }

  Actor admin_{"admin", Role::kAdmin};
  Actor viewer_{"viewer", Role::kViewer};
  Actor operator_{"operator", Role::kOperator};
  std::filesystem::path dir_;
  FakeClock clock_;
  SeededRandom random_{7};
  ObjectLocks locks_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Operations> ops_;
};

TEST_F(OperationsTest, InvalidInputWritesNothingButIsAudited) {
  auto c = ops_->CreateCluster(admin_, {"bad name!", ""});
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ops_->ListClusters()->empty());
  EXPECT_EQ(EventCount("cluster.create", "failed"), 1u);
  EXPECT_EQ(EventCount("cluster.create", "ok"), 0u);
}

TEST_F(OperationsTest, SessionLifecycleRulesAndEvents) {
  World w = MakeWorld();
  auto bad = ops_->CreateSession(admin_, {w.destination.id, w.volume.id, "relative/path", ""});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ops_->ListSessions({})->empty());

  auto s = ops_->CreateSession(admin_, {w.destination.id, w.volume.id, "/srv/dst", ""});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->session.status, SessionStatus::kCreated);
  EXPECT_EQ(s->session.remote_user, "root");
  ASSERT_EQ(s->nodes.size(), 1u);
  EXPECT_EQ(s->nodes[0].source_host, "localhost");
  EXPECT_EQ(s->nodes[0].status, NodeStatus::kCreated);

  auto dup = ops_->CreateSession(admin_, {w.destination.id, w.volume.id, "/srv/dst", ""});
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);

  // The volume and the destination are in use.
  EXPECT_EQ(ops_->RemoveVolume(admin_, w.volume.id).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ops_->RemoveDestination(admin_, w.destination.id, false).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(ops_->DeleteCluster(admin_, w.cluster.id).code(), StatusCode::kFailedPrecondition);

  // A running session cannot be removed without force.
  Status mark = store_->Transaction([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Session got, tx.GetSession(s->session.id));
    got.status = SessionStatus::kActive;
    return tx.UpdateSession(got);
  });
  ASSERT_TRUE(mark.ok());
  EXPECT_EQ(ops_->RemoveSession(admin_, s->session.id, false).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(ops_->RemoveSession(admin_, s->session.id, true).ok());
  EXPECT_TRUE(ops_->RemoveDestination(admin_, w.destination.id, false).ok());
  EXPECT_EQ(EventCount("session.create", "ok"), 1u);
  EXPECT_EQ(EventCount("session.create", "failed"), 2u);
  EXPECT_EQ(EventCount("session.remove", "failed"), 1u);
}

TEST_F(OperationsTest, ForcedDestinationRemovalTakesItsSessions) {
  World w = MakeWorld();
  ASSERT_TRUE(ops_->CreateSession(admin_, {w.destination.id, w.volume.id, "/srv/dst", ""}).ok());
  EXPECT_TRUE(ops_->RemoveDestination(admin_, w.destination.id, true).ok());
  EXPECT_TRUE(ops_->ListSessions({})->empty());
}

TEST_F(OperationsTest, ConfigSetValidatesAndResets) {
  World w = MakeWorld();
  auto s = ops_->CreateSession(admin_, {w.destination.id, w.volume.id, "/srv/dst", ""});
  ASSERT_TRUE(s.ok());
  const std::string id = s->session.id;
  auto set = ops_->SetConfig(admin_, id, "rescan_interval", "600");  // '_' as gluster takes it
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->value, "600");
  EXPECT_EQ(ops_->SetConfig(admin_, id, "rescan-interval", "-1").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ops_->SetConfig(admin_, id, "no-such", "1").status().code(),
            StatusCode::kInvalidArgument);
  // gluster-only options are not options of directory sessions
  EXPECT_EQ(ops_->SetConfig(admin_, id, "use-meta-volume", "true").status().code(),
            StatusCode::kInvalidArgument);
  auto cp = ops_->SetConfig(admin_, id, "checkpoint", "now");
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->value, std::to_string(clock_.NowMillis() / 1000));

  auto items = ops_->GetConfig(id);
  ASSERT_TRUE(items.ok());
  bool seen = false;
  for (const auto& i : *items) {
    if (i.option->key == "rescan-interval") {
      seen = true;
      EXPECT_EQ(i.value, "600");
      EXPECT_FALSE(i.is_default);
      EXPECT_EQ(i.changed_by, "admin");
    }
  }
  EXPECT_TRUE(seen);
  ASSERT_TRUE(ops_->ResetConfig(admin_, id, "rescan-interval").ok());
  auto after_reset = ops_->GetConfig(id);
  ASSERT_TRUE(after_reset.ok());
  for (const auto& i : *after_reset) {
    if (i.option->key == "rescan-interval") {
      EXPECT_EQ(i.value, "3600");
      EXPECT_TRUE(i.is_default);
    }
  }
}

// Users are UserAccounts' (user_accounts_test.cc); Operations hands out its own, whose
// events are in the one audit trail.
TEST_F(OperationsTest, AccountsShareTheAuditTrail) {
  ASSERT_TRUE(ops_->accounts().CreateUser(admin_, "bob", "long-enough-pw", Role::kViewer).ok());
  EXPECT_EQ(
      ops_->accounts().CreateUser(viewer_, "eve", "long-enough-pw", Role::kViewer).status().code(),
      StatusCode::kPermissionDenied);
  EXPECT_EQ(EventCount("user.create", "ok"), 1u);
  EXPECT_EQ(EventCount("user.create", "failed"), 1u);
}

// What each role may do, at the engine's own door (the HTTP front checks the route's role
// first; this holds for any other caller too).
TEST_F(OperationsTest, RolesDecideWhoActs) {
  World w = MakeWorld();
  auto s = ops_->CreateSession(admin_, {w.destination.id, w.volume.id, "/srv/dst", ""});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const std::string id = s->session.id;
  auto denied = [](const Status& st) { return st.code() == StatusCode::kPermissionDenied; };

  // Only admins shape what runs: options naming programs, volumes, destinations, sessions.
  for (const Actor* a : {&viewer_, &operator_}) {
    EXPECT_TRUE(denied(ops_->SetConfig(*a, id, "ssh-command", "sh -c id").status()));
    EXPECT_TRUE(denied(ops_->SetConfig(*a, id, "rescan-interval", "60").status()));
    EXPECT_TRUE(denied(ops_->ResetConfig(*a, id, "rescan-interval")));
    EXPECT_TRUE(denied(ops_->CreateCluster(*a, {"c2", ""}).status()));
    EXPECT_TRUE(denied(ops_->RemoveSession(*a, id, true)));
    EXPECT_TRUE(denied(ops_->RemoveVolume(*a, w.volume.id)));
    EXPECT_TRUE(denied(ops_->RemoveDestination(*a, w.destination.id, true).status()));
    EXPECT_TRUE(denied(ops_->ScanHostKeys(*a, "127.0.0.1", 22).status()));
  }
  const std::string denial = ops_->SetConfig(operator_, id, "ssh-command", "x").status().message();
  EXPECT_NE(denial.find("admin role"), std::string::npos) << denial;

  // Operators run sessions and set checkpoints; viewers do neither.
  EXPECT_TRUE(denied(ops_->SetConfig(viewer_, id, "checkpoint", "now").status()));
  EXPECT_TRUE(denied(ops_->RunSessionAction(viewer_, id, SessionAction::kStop, false).status()));
  EXPECT_TRUE(denied(ops_->verifier().VerifySession(viewer_, id, 100).status()));
  EXPECT_TRUE(denied(ops_->TestDestination(viewer_, w.destination.id).status()));
  EXPECT_FALSE(denied(ops_->SetConfig(operator_, id, "checkpoint", "now").status()));
  EXPECT_FALSE(denied(ops_->RunSessionAction(operator_, id, SessionAction::kStop, false).status()));
  EXPECT_FALSE(denied(ops_->TestDestination(operator_, w.destination.id).status()));

  // Nothing a refused caller asked for changed.
  auto cfg = ops_->GetConfig(id);
  ASSERT_TRUE(cfg.ok());
  for (const auto& c : *cfg) {
    if (c.option->key == "ssh-command") {
      EXPECT_TRUE(c.is_default);
    }
  }
}

TEST_F(OperationsTest, GlusterVolumeSetsFollowReplicaCount) {
  RecordingConnector cluster;
  ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_, &cluster);
  auto c = *ops_->CreateCluster(admin_, {"gc", ""});
  std::vector<Host> hosts;
  for (const char* n : {"n1", "n2", "n3", "n4"}) {
    HostSpec hs;
    hs.cluster_id = c.id;
    hs.name = n;
    hs.ssh_fingerprint = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8";
    auto h = ops_->AddHost(admin_, hs);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    hosts.push_back(*h);
  }
  VolumeSpec vs;
  vs.cluster_id = c.id;
  vs.name = "gv0";
  vs.kind = VolumeKind::kGluster;
  vs.replica_count = 2;
  for (const auto& h : hosts) vs.bricks.push_back({h.id, "/bricks/" + h.name});
  auto v = ops_->AddVolume(admin_, vs);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  vs.name = "gv-odd";
  vs.bricks.pop_back();
  EXPECT_EQ(ops_->AddVolume(admin_, vs).status().code(), StatusCode::kInvalidArgument);
  // root: a non-root user's mountbroker set-up is gluster_mountbroker_test's subject.
  auto d = ops_->CreateDestination(admin_, {c.id, hosts[0].id, "remote", 22, "", "root"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(ops_->CreateSession(admin_, {d->id, v->id, "/not/a/name", ""}).status().code(),
            StatusCode::kInvalidArgument);
  SessionCreateOptions force;
  force.force = true;  // eligibility needs a real destination; see tests/integration
  auto s = ops_->CreateSession(admin_, {d->id, v->id, "gv1", ""}, force);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const std::vector<std::string> create = {"gluster",         "--mode=script", "volume",
                                           "geo-replication", "gv0",           "remote::gv1",
                                           "create",          "no-verify",     "force"};
  EXPECT_NE(std::find(cluster.commands.begin(), cluster.commands.end(), create),
            cluster.commands.end());
  ASSERT_EQ(s->nodes.size(), 4u);
  EXPECT_EQ(s->session.remote_user, "root");
  EXPECT_EQ(s->session.session_key, "gv0_remote_gv1");
  std::vector<int> sets;
  for (const auto& n : s->nodes) sets.push_back(n.set_index);
  EXPECT_EQ(sets, (std::vector<int>{0, 0, 1, 1}));
}

TEST_F(OperationsTest, AOneTimeDestinationPasswordInstallsTheEngineKeyOrAttachesNothing) {
  RecordingConnector cluster;
  cluster.accepted_password = "one-time-secret";
  ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_, &cluster);
  World w = MakeWorld();
  const std::string fp = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8";

  // No pinned key: the password is not sent anywhere.
  auto unpinned = ops_->CreateDestination(
      admin_, {w.cluster.id, w.host.id, "remote", 22, "", "geo"}, false, "one-time-secret");
  EXPECT_EQ(unpinned.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(cluster.installs.empty());

  // Refused: nothing attached, the failure audited in the operator's words, no password in it.
  auto refused = ops_->CreateDestination(
      admin_, {w.cluster.id, w.host.id, "remote", 2222, fp, "geo"}, false, "wrong");
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  ASSERT_EQ(cluster.installs.size(), 1u);
  EXPECT_EQ(cluster.installs[0].address, "remote");
  EXPECT_EQ(cluster.installs[0].ssh_port, 2222);
  EXPECT_EQ(cluster.installs[0].ssh_user, "root");
  EXPECT_EQ(cluster.installs[0].ssh_fingerprint, fp);
  EXPECT_EQ(ops_->ListDestinations(w.cluster.id)->size(), 1u);  // MakeWorld's only
  EXPECT_EQ(EventCount("destination.create", "failed"), 2u);
  auto events = ops_->ListEvents({0, "", "", "", 1000});
  ASSERT_TRUE(events.ok());
  for (const auto& e : *events) EXPECT_EQ(e.message.find("wrong"), std::string::npos) << e.message;

  auto ok = ops_->CreateDestination(admin_, {w.cluster.id, w.host.id, "remote", 2222, fp, "geo"},
                                    false, "one-time-secret");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(cluster.installs.size(), 2u);

  // Re-establish with a password installs the key again before the key exchange.
  cluster.commands.clear();
  auto again = ops_->ReestablishDestination(admin_, ok->id, "", "one-time-secret");
  EXPECT_EQ(cluster.installs.size(), 3u);
  EXPECT_FALSE(cluster.commands.empty());  // then gsec_create and the rest ran
  auto refused_again = ops_->ReestablishDestination(admin_, ok->id, "", "wrong");
  EXPECT_EQ(cluster.installs.size(), 4u);
  auto d = ops_->GetDestination(ok->id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->connection, ConnectionStatus::kBroken);
  EXPECT_NE(d->connection_reason.find("refused the password"), std::string::npos)
      << d->connection_reason;
  (void)again;
  (void)refused_again;
}

TEST_F(OperationsTest, ARefusedHostAddNeverLogsInWithItsPassword) {
  RecordingConnector net;
  net.accepted_password = "one-time-secret";
  ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_, &net);
  auto c = ops_->CreateCluster(admin_, {"east", ""});
  ASSERT_TRUE(c.ok());
  HostSpec hs;
  hs.cluster_id = c->id;
  hs.name = "s1";
  hs.address = "10.0.0.1";
  hs.ssh_fingerprint = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8";
  hs.one_time_password = "one-time-secret";
  ASSERT_TRUE(ops_->AddHost(admin_, hs).ok());
  ASSERT_EQ(net.installs.size(), 1u);

  // The same name again (another address): refused before any login, naming the duplicate.
  hs.address = "10.0.0.2";
  auto duplicate = ops_->AddHost(admin_, hs);
  EXPECT_EQ(duplicate.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(duplicate.status().message().find("cluster 'east' already has a host 's1'"),
            std::string::npos)
      << duplicate.status().message();
  EXPECT_EQ(net.installs.size(), 1u);
  EXPECT_TRUE(net.commands.empty());
  EXPECT_EQ(EventCount("host.add", "failed"), 1u);

  // A cluster that does not exist: the same.
  hs.cluster_id = "no-such-cluster";
  hs.name = "s2";
  auto orphan = ops_->AddHost(admin_, hs);
  EXPECT_EQ(orphan.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(net.installs.size(), 1u);
  EXPECT_TRUE(net.commands.empty());
  EXPECT_EQ(ops_->ListHosts(c->id)->size(), 1u);
}

TEST_F(OperationsTest, RepinTakesOnlyAKeyTheHostPresents) {
  RecordingConnector net;
  ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_, &net);
  auto c = ops_->CreateCluster(admin_, {"east", ""});
  ASSERT_TRUE(c.ok());
  const std::string s1 = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8";
  const std::string s2 = "SHA256:CXqPY4ZFRXl7D0xFFfUbJnR6i11OsDVgYp/yBeCSa78";
  const std::string s2_rsa = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
  HostSpec hs;
  hs.cluster_id = c->id;
  hs.name = "s2";
  hs.address = "10.0.0.2";
  hs.ssh_port = 2222;
  hs.ssh_fingerprint = s2;
  auto h = ops_->AddHost(admin_, hs);
  ASSERT_TRUE(h.ok()) << h.status().ToString();

  // s1's fingerprint onto s2: refused, naming what s2 presents; the pin is unchanged.
  net.presented = {{"ssh-ed25519", "", s2}, {"ssh-rsa", "", s2_rsa}};
  auto wrong = ops_->RepinHost(admin_, h->id, s1);
  EXPECT_EQ(wrong.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status().message().find("does not present " + s1), std::string::npos)
      << wrong.status().message();
  EXPECT_NE(wrong.status().message().find(s2 + " (ssh-ed25519)"), std::string::npos)
      << wrong.status().message();
  EXPECT_NE(wrong.status().message().find(s2_rsa + " (ssh-rsa)"), std::string::npos)
      << wrong.status().message();
  ASSERT_EQ(net.scans.size(), 1u);
  EXPECT_EQ(net.scans[0], (std::pair<std::string, int>{"10.0.0.2", 2222}));
  EXPECT_EQ(ops_->GetHost(h->id)->ssh_fingerprint, s2);
  EXPECT_EQ(EventCount("host.repin", "failed"), 1u);

  // A host that cannot be scanned: nothing is pinned blindly.
  net.presented.clear();
  auto unreachable = ops_->RepinHost(admin_, h->id, s2_rsa);
  EXPECT_EQ(unreachable.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(ops_->GetHost(h->id)->ssh_fingerprint, s2);

  // One of the keys it presents: pinned.
  net.presented = {{"ssh-ed25519", "", s2}, {"ssh-rsa", "", s2_rsa}};
  auto ok = ops_->RepinHost(admin_, h->id, s2_rsa);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ops_->GetHost(h->id)->ssh_fingerprint, s2_rsa);
  EXPECT_EQ(EventCount("host.repin", "ok"), 1u);
}

TEST_F(OperationsTest, AOneTimePasswordAtImportInstallsTheEngineKeyFirstOrImportsNothing) {
  testing_support::ScriptedCluster cluster;
  cluster.accepted_password = "one-time-secret";
  size_t installs_before_discovery = 0;
  cluster.scripts["gnode1"] = [&](const std::vector<std::string>& argv) -> Result<CommandResult> {
    if (argv == std::vector<std::string>{"gluster", "--mode=script", "pool", "list", "--xml"})
      installs_before_discovery = cluster.installs.size();
    if (testing_support::Has(argv, "pool"))
      return testing_support::Answer(testing_support::Fixture("pool-list.xml"));
    if (testing_support::Has(argv, "info"))
      return testing_support::Answer(testing_support::Fixture("volume-info.xml"));
    return testing_support::Answer(testing_support::Fixture("volume-status-detail.xml"));
  };
  ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_, &cluster);
  GlusterImportSpec spec;
  spec.name = "east";
  spec.address = "gnode1";
  spec.ssh_port = 2222;
  spec.ssh_fingerprint = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8";

  // Refused: no gluster command ran, nothing imported, the failure audited without the password.
  spec.one_time_password = "wrong";
  auto refused = ops_->ImportGlusterCluster(admin_, spec);
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied) << refused.status().ToString();
  ASSERT_EQ(cluster.installs.size(), 1u);
  EXPECT_EQ(cluster.installs[0].address, "gnode1");
  EXPECT_EQ(cluster.installs[0].ssh_port, 2222);
  EXPECT_EQ(cluster.installs[0].ssh_user, "root");
  EXPECT_EQ(cluster.installs[0].ssh_fingerprint, spec.ssh_fingerprint);
  EXPECT_TRUE(cluster.log.empty());
  EXPECT_TRUE(ops_->ListClusters()->empty());
  EXPECT_EQ(EventCount("cluster.import", "failed"), 1u);

  // Accepted: the key is installed before the cluster is asked anything.
  spec.one_time_password = "one-time-secret";
  auto imported = ops_->ImportGlusterCluster(admin_, spec);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_EQ(cluster.installs.size(), 2u);
  EXPECT_EQ(installs_before_discovery, 2u);
  EXPECT_EQ(imported->volumes.size(), 1u);
  auto events = ops_->ListEvents({0, "", "", "", 1000});
  ASSERT_TRUE(events.ok());
  for (const auto& e : *events) {
    EXPECT_EQ(e.message.find("wrong"), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find("one-time-secret"), std::string::npos) << e.message;
  }

  // A name already taken is refused before the password is sent anywhere.
  cluster.log.clear();
  auto duplicate = ops_->ImportGlusterCluster(admin_, spec);
  EXPECT_EQ(duplicate.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(duplicate.status().message().find("'east'"), std::string::npos);
  EXPECT_EQ(cluster.installs.size(), 2u);
  EXPECT_TRUE(cluster.log.empty());
}

// Runs commands on this machine for real (local hosts).
class LocalConnector final : public HostConnector {
 public:
  std::unique_ptr<CommandRunner> RunnerFor(const Host&) override {
    return std::make_unique<LocalCommandRunner>();
  }
  Result<std::vector<HostKey>> ScanHostKeys(const std::string&, int) override {
    return Status::Unavailable("no network in unit tests");
  }
  Status InstallEngineKey(const Host&, const std::string&) override {
    return Status::Unavailable("no network in unit tests");
  }
  std::string EnginePublicKey() override { return ""; }
  std::string EngineKeyFingerprint() override { return ""; }
};

// Re-establish on a cluster of directory volumes runs none of gluster's key exchange (there
// is no gluster: it failed with "'gsec_create' failed on local"): the built-in engine's own
// preparation, then its test of the destination decides.
TEST_F(OperationsTest, ReestablishingADirectoryDestinationTestsItWithoutGluster) {
  LocalConnector local;
  ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_, &local);
  World w = MakeWorld();  // a local host and a destination with no host key: this machine
  ASSERT_TRUE(
      ops_->CreateSession(admin_, {w.destination.id, w.volume.id, (dir_ / "replica").string(), ""})
          .ok());
  auto again = ops_->ReestablishDestination(admin_, w.destination.id, "", "");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->connection, ConnectionStatus::kConnected) << again->connection_reason;
  EXPECT_EQ(EventCount("destination.reestablish", "ok"), 1u);

  // The destination's directory cannot be made: Re-establish says so, in the test's words.
  std::ofstream(dir_ / "blocker") << "a file where a directory must be";
  ASSERT_TRUE(ops_->CreateSession(admin_, {w.destination.id, w.volume.id,
                                           (dir_ / "blocker" / "replica").string(), ""})
                  .ok());
  auto broken = ops_->ReestablishDestination(admin_, w.destination.id, "", "");
  ASSERT_TRUE(broken.ok()) << broken.status().ToString();
  EXPECT_EQ(broken->connection, ConnectionStatus::kBroken);
  EXPECT_NE(broken->connection_reason.find("blocker"), std::string::npos)
      << broken->connection_reason;
  EXPECT_EQ(broken->connection_reason.find("gsec_create"), std::string::npos)
      << broken->connection_reason;
}

// A directory volume is a directory its host can list, asked on that host: a path that is
// not there, or is a file, is refused on the request's `path`, and nothing is added.
TEST_F(OperationsTest, ADirectoryVolumesPathMustBeADirectoryOnItsHost) {
  LocalConnector local;
  ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_, &local);
  World w = MakeWorld();
  std::ofstream(dir_ / "a-file") << "x";
  struct Case {
    std::string path, words;
  };
  for (const Case& c : {Case{(dir_ / "missing").string(), "does not exist on host localhost"},
                        Case{(dir_ / "a-file").string(), "is not a directory"}}) {
    VolumeSpec vs;
    vs.cluster_id = w.cluster.id;
    vs.name = "other";
    vs.bricks = {{w.host.id, c.path}};
    auto added = ops_->AddVolume(admin_, vs);
    ASSERT_FALSE(added.ok()) << c.path;
    EXPECT_EQ(added.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(added.status().field(), "path");
    EXPECT_NE(added.status().message().find(c.words), std::string::npos)
        << added.status().message();
  }
  EXPECT_EQ(ops_->ListVolumes(w.cluster.id)->size(), 1u);
  EXPECT_EQ(EventCount("volume.add", "failed"), 2u);
}

TEST_F(OperationsTest, TestingADestinationOnThisMachineChecksItsSessionsDirectories) {
  LocalConnector local;
  ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_, &local);
  World w = MakeWorld();  // a local host and a destination with no host key: this machine
  auto alone = ops_->TestDestination(admin_, w.destination.id);
  ASSERT_TRUE(alone.ok()) << alone.status().ToString();
  EXPECT_EQ(alone->destination.connection, ConnectionStatus::kConnected);
  EXPECT_TRUE(alone->problems.empty());
  EXPECT_GT(alone->destination.last_checked, 0);

  // A replica directory still to be created, in a directory that exists: fine.
  ASSERT_TRUE(
      ops_->CreateSession(admin_, {w.destination.id, w.volume.id, (dir_ / "replica").string(), ""})
          .ok());
  auto fine = ops_->TestDestination(admin_, w.destination.id);
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(fine->destination.connection, ConnectionStatus::kConnected)
      << fine->destination.connection_reason;

  // A file where the replica directory should be: Broken, and why.
  std::ofstream(dir_ / "replica") << "not a directory";
  auto broken = ops_->TestDestination(admin_, w.destination.id);
  ASSERT_TRUE(broken.ok());
  EXPECT_EQ(broken->destination.connection, ConnectionStatus::kBroken);
  ASSERT_EQ(broken->problems.size(), 1u);
  EXPECT_NE(broken->problems[0].find("exists and is not a directory"), std::string::npos)
      << broken->problems[0];
  EXPECT_EQ(broken->destination.connection_reason, broken->problems[0]);
}

}  // namespace
}  // namespace georep
