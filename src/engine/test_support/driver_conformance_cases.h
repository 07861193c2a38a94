// The session-driver conformance suite (session_driver.h): the same lifecycle, refused
// transitions, config, status (fault and recovery), removal and verify cases, through
// Operations, on every world -- a driver and the place its sessions run. ConformanceWorld is
// what a world provides; each binary instantiates the cases (INSTANTIATE_TYPED_TEST_SUITE_P)
// with its worlds: the unit tests with a scripted gluster cluster and recorded directory
// workers (session_driver_conformance_test.cc), the integration tests with real `georep
// worker` processes (tests/integration/driver_conformance_test.cc). Include it in one file
// of a test binary.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "engine/operations.h"

namespace georep::testing_support {

// What every world holds: a store in a temporary directory and Operations; the world's kind
// gives Operations its clock and hosts (Open) and says how it shows what the driver did.
class ConformanceWorld {
 public:
  explicit ConformanceWorld(const std::string& name) {
    dir_ = std::filesystem::temp_directory_path() /
           ("georep-conformance-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto s = OpenStore("sqlite://" + (dir_ / "db").string());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  virtual ~ConformanceWorld() {
    Close();
    std::filesystem::remove_all(dir_);
  }
  ConformanceWorld(const ConformanceWorld&) = delete;
  ConformanceWorld& operator=(const ConformanceWorld&) = delete;
  Operations& ops() { return *ops_; }

  // A new session of this kind, created through Operations ("" when that failed).
  virtual std::string CreateSession() = 0;
  // The session's status as the kind reads it where it runs (the monitor's look).
  virtual Result<SessionDetail> Observe(const std::string& id) = 0;
  // Where the session runs says its copying runs (gluster: it was started and not stopped
  // since; directory: the worker is supervised).
  virtual bool Runs(const std::string& id) = 0;
  // Where the session runs now reports its worker Active / Faulty (with `reason`, where the
  // world can choose it).
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
  // Operations on the world's clock and hosts, which must outlive it (until Close).
  void Open(Clock& clock, HostConnector* hosts) {
    ops_ = std::make_unique<Operations>(*store_, clock, random_, locks_, hosts);
  }
  // Before what Open was given goes: a world's destructor calls it first.
  void Close() { ops_.reset(); }

  virtual std::filesystem::path source_root() = 0;
  virtual std::filesystem::path destination_root() = 0;
  // A session of a directory volume at source_root() on the engine's own host to
  // destination_root() there (the destination "backup", reached from that host): the directory
  // worlds' CreateSession. Its id; "" (and a failure) when a step failed.
  std::string CreateLocalDirectorySession() {
    auto c = ops_->CreateCluster(admin_, {"local", ""});
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return "";
    HostSpec hs;
    hs.cluster_id = c->id;
    hs.name = "localhost";
    hs.transport = HostTransport::kLocal;
    auto h = ops_->AddHost(admin_, hs);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    if (!h.ok()) return "";
    VolumeSpec vs{c->id, "src", VolumeKind::kDirectory, {{h->id, source_root().string()}}, 1, 0};
    auto v = ops_->AddVolume(admin_, vs);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    if (!v.ok()) return "";
    auto d = ops_->CreateDestination(admin_, {c->id, h->id, "backup", 22, "", "root"});
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    if (!d.ok()) return "";
    auto s = ops_->CreateSession(admin_, {d->id, v->id, destination_root().string(), ""});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? s->session.id : "";
  }
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
  SeededRandom random_{7};
  ObjectLocks locks_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Operations> ops_;
};

// Names each instantiation's tests after its world (W::kName) rather than a number.
struct ConformanceWorldNames {
  template <typename W>
  static std::string GetName(int) {
    return W::kName;
  }
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

TYPED_TEST_SUITE_P(SessionDriverConformance);

TYPED_TEST_P(SessionDriverConformance, CreateRecordsACreatedSessionWithANodePerBrick) {
  const std::string id = this->world_.CreateSession();
  auto s = this->world_.ops().GetSession(id);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->session.status, SessionStatus::kCreated);
  ASSERT_FALSE(s->nodes.empty());
  for (const auto& n : s->nodes) EXPECT_EQ(n.status, NodeStatus::kCreated);
  EXPECT_FALSE(this->world_.Runs(id));
  EXPECT_EQ(this->Events(id, "session.create", "ok"), 1u);
}

TYPED_TEST_P(SessionDriverConformance, StartPauseResumeStopFollowTheLifecycle) {
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

TYPED_TEST_P(SessionDriverConformance, TransitionsTheStateDoesNotAllowAreRefused) {
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

TYPED_TEST_P(SessionDriverConformance, ConfigSetAndResetReachWhereTheSessionRuns) {
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

TYPED_TEST_P(SessionDriverConformance, AFaultWhereTheSessionRunsIsItsStatusWithAnEvent) {
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

TYPED_TEST_P(SessionDriverConformance, RemoveForgetsAStoppedSessionAndWhatItLeft) {
  const std::string id = this->ActiveSession();
  ASSERT_TRUE(this->Act(id, SessionAction::kStop).ok());
  Status removed = this->world_.ops().RemoveSession(this->admin_, id, false);
  ASSERT_TRUE(removed.ok()) << removed.ToString();
  EXPECT_EQ(this->world_.ops().GetSession(id).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(this->world_.LeftNothing(id));
  EXPECT_EQ(this->Events(id, "session.remove", "ok"), 1u);
}

TYPED_TEST_P(SessionDriverConformance, VerifyComparesTheDestinationWithTheSource) {
  const std::string id = this->world_.CreateSession();
  this->world_.WriteTrees(/*differ=*/false);
  auto same = this->world_.ops().verifier().VerifySession(this->admin_, id, 100);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_TRUE(same->differences.empty()) << same->differences[0].path;
  EXPECT_GE(same->content_checked, 2u);

  this->world_.WriteTrees(/*differ=*/true);
  auto differs = this->world_.ops().verifier().VerifySession(this->admin_, id, 100);
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

REGISTER_TYPED_TEST_SUITE_P(SessionDriverConformance, CreateRecordsACreatedSessionWithANodePerBrick,
                            StartPauseResumeStopFollowTheLifecycle,
                            TransitionsTheStateDoesNotAllowAreRefused,
                            ConfigSetAndResetReachWhereTheSessionRuns,
                            AFaultWhereTheSessionRunsIsItsStatusWithAnEvent,
                            RemoveForgetsAStoppedSessionAndWhatItLeft,
                            VerifyComparesTheDestinationWithTheSource);

}  // namespace georep::testing_support
