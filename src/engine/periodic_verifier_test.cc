// The periodic verify (verify-interval) on directory sessions over temp directories, on a fake
// clock: when it is due, the re-check that keeps files in flight from raising an alert, the
// standing verify-differs alert (also from a user's verify) and its clearing, and the
// monitor's verify thread.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "engine/operations.h"
#include "engine/session_monitor.h"
#include "replication/test_util.h"

namespace georep {
namespace {

using replication::testing::TempDir;
using replication::testing::WriteFile;

// Bounded polling for what another thread does.
bool WaitFor(int seconds, const std::function<bool()>& check) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return check();
}

// `to` becomes what verify sees as a copy of `from`: content, mode, mtime.
void Mirror(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  struct stat st {};
  ASSERT_EQ(::stat(from.c_str(), &st), 0);
  ASSERT_EQ(::chmod(to.c_str(), st.st_mode & 07777), 0);
  const timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, to.c_str(), times, 0), 0);
}

class PeriodicVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenStore("sqlite://" + db_dir_.path() + "/db");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_);
    Cluster c = *ops_->CreateCluster(admin_, {"local", ""});
    HostSpec hs;
    hs.cluster_id = c.id;
    hs.name = "localhost";
    hs.transport = HostTransport::kLocal;
    Host h = *ops_->AddHost(admin_, hs);
    VolumeSpec vs;
    vs.cluster_id = c.id;
    vs.name = "src";
    vs.bricks = {{h.id, src_.path()}};
    Volume v = *ops_->AddVolume(admin_, vs);
    auto d = ops_->CreateDestination(admin_, {c.id, h.id, "localhost", 22, "", "root"});
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    auto session = ops_->CreateSession(admin_, {d->id, v.id, dst_.path(), ""});
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    id_ = session->session.id;
    for (const char* name : {"a", "b", "c"}) {
      WriteFile(src_ / name, std::string("content of ") + name);
      Mirror(src_ / name, dst_ / name);
    }
    // The roots' times too: verify compares directories' mtimes, and the two were written
    // apart (on a busy machine, across a clock tick).
    struct stat st {};
    ASSERT_EQ(::stat(src_.path().c_str(), &st), 0);
    const timespec times[2] = {st.st_atim, st.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, dst_.path().c_str(), times, 0), 0);
  }

  void MarkStatus(SessionStatus status) {
    ASSERT_TRUE(store_
                    ->Transaction([&](StoreTx& tx) -> Status {
                      GEOREP_ASSIGN_OR_RETURN(Session got, tx.GetSession(id_));
                      got.status = status;
                      return tx.UpdateSession(got);
                    })
                    .ok());
  }
  void Set(const std::string& key, const std::string& value) {
    auto r = ops_->SetConfig(admin_, id_, key, value);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // An Active session verifying every 600 s (re-checks after 60 s), the content of every file.
  void Periodic() {
    MarkStatus(SessionStatus::kActive);
    Set("verify-interval", "600");
    Set("verify-sample", "100");
  }
  const SessionAlert* Alert() {
    auto d = ops_->GetSession(id_);
    alerts_ = d.ok() ? d->alerts : std::vector<SessionAlert>{};
    for (const auto& a : alerts_)
      if (a.kind == "verify-differs") return &a;
    return nullptr;
  }
  size_t Events(const std::string& action, const std::string& result = "") {
    auto evs = ops_->ListEvents({0, "session", id_, action, 1000});
    size_t n = 0;
    for (const auto& e : *evs) n += e.action == action && (result.empty() || e.result == result);
    return n;
  }
  PeriodicVerifyOutcome Verify() {
    auto r = ops_->periodic_verifier().PeriodicVerify(monitor_, {id_, 600, 100});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : PeriodicVerifyOutcome::kClean;
  }

  TempDir db_dir_, src_, dst_;
  Actor admin_{"admin", Role::kAdmin};
  Actor monitor_{"monitor", Role::kAdmin};
  FakeClock clock_;
  SeededRandom random_{7};
  ObjectLocks locks_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Operations> ops_;
  std::string id_;
  std::vector<SessionAlert> alerts_;
};

TEST_F(PeriodicVerifyTest, DueAnIntervalAfterFirstSeenActiveNeverWhenNotActiveOrOff) {
  // Off by default.
  MarkStatus(SessionStatus::kActive);
  clock_.Advance(86'400'000);
  EXPECT_TRUE(ops_->periodic_verifier().DueVerifies().empty());

  Set("verify-interval", "60");
  Set("verify-sample", "25");
  EXPECT_TRUE(ops_->periodic_verifier().DueVerifies().empty());  // first seen: an interval from now
  clock_.Advance(59'999);
  EXPECT_TRUE(ops_->periodic_verifier().DueVerifies().empty());
  clock_.Advance(1);
  auto due = ops_->periodic_verifier().DueVerifies();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].session_id, id_);
  EXPECT_EQ(due[0].interval_seconds, 60);
  EXPECT_EQ(due[0].sample_percent, 25);

  // Run: the next one an interval after it.
  ASSERT_TRUE(ops_->periodic_verifier().PeriodicVerify(monitor_, due[0]).ok());
  EXPECT_TRUE(ops_->periodic_verifier().DueVerifies().empty());
  clock_.Advance(60'000);
  EXPECT_EQ(ops_->periodic_verifier().DueVerifies().size(), 1u);

  // Not while Stopped, Paused, Created or Faulty; an interval after it is Active again.
  for (SessionStatus s : {SessionStatus::kStopped, SessionStatus::kPaused, SessionStatus::kCreated,
                          SessionStatus::kFaulty}) {
    MarkStatus(s);
    clock_.Advance(3'600'000);
    EXPECT_TRUE(ops_->periodic_verifier().DueVerifies().empty());
  }
  MarkStatus(SessionStatus::kActive);
  EXPECT_TRUE(ops_->periodic_verifier().DueVerifies().empty());
  clock_.Advance(60'000);
  EXPECT_EQ(ops_->periodic_verifier().DueVerifies().size(), 1u);

  // Turned off: never.
  Set("verify-interval", "0");
  clock_.Advance(3'600'000);
  EXPECT_TRUE(ops_->periodic_verifier().DueVerifies().empty());
}

TEST_F(PeriodicVerifyTest, ADifferenceSeenAgainWithTheSourceUnchangedRaisesTheAlert) {
  Periodic();
  WriteFile(dst_ / "b", "changed behind georep's back");
  EXPECT_EQ(Verify(), PeriodicVerifyOutcome::kSuspected);
  EXPECT_EQ(Alert(), nullptr);
  EXPECT_EQ(Events("session.verify_differs"), 0u);
  EXPECT_EQ(Events("session.verify", "failed"), 1u);  // the audit trail has every verify

  // Re-checked after min(interval, 60 s), not an interval later.
  EXPECT_TRUE(ops_->periodic_verifier().DueVerifies().empty());
  clock_.Advance(59'000);
  EXPECT_TRUE(ops_->periodic_verifier().DueVerifies().empty());
  clock_.Advance(1'000);
  ASSERT_EQ(ops_->periodic_verifier().DueVerifies().size(), 1u);

  EXPECT_EQ(Verify(), PeriodicVerifyOutcome::kConfirmed);
  const SessionAlert* alert = Alert();
  ASSERT_NE(alert, nullptr);
  EXPECT_NE(alert->message.find("in 1 path found by the periodic verify"), std::string::npos)
      << alert->message;
  EXPECT_NE(alert->message.find("b: "), std::string::npos) << alert->message;
  EXPECT_NE(alert->message.find("bytes at the source"), std::string::npos) << alert->message;
  EXPECT_NE(alert->message.find("2023-11-14T22:"), std::string::npos) << alert->message;
  EXPECT_NE(alert->message.find("seen again 60 s later"), std::string::npos) << alert->message;
  EXPECT_EQ(Events("session.verify_differs", "failed"), 1u);
  // Standing: the next periodic verify an interval later, not a re-check.
  EXPECT_TRUE(ops_->periodic_verifier().DueVerifies().empty());

  // Still there: kept, no second event.
  clock_.Advance(600'000);
  EXPECT_EQ(Verify(), PeriodicVerifyOutcome::kConfirmed);
  EXPECT_EQ(Events("session.verify_differs", "failed"), 1u);
}

TEST_F(PeriodicVerifyTest, AFileInFlightOrADifferentPathIsNotAlerted) {
  Periodic();
  // The source is written between the verifies: a file in flight, whatever the destination.
  WriteFile(src_ / "a", "being written");
  EXPECT_EQ(Verify(), PeriodicVerifyOutcome::kSuspected);
  clock_.Advance(60'000);
  WriteFile(src_ / "a", "being written, more of it");
  EXPECT_EQ(Verify(), PeriodicVerifyOutcome::kSuspected);
  // It arrives: clean.
  clock_.Advance(60'000);
  Mirror(src_ / "a", dst_ / "a");
  EXPECT_EQ(Verify(), PeriodicVerifyOutcome::kClean);

  // One path, then another: neither seen twice.
  WriteFile(dst_ / "b", "damaged");
  EXPECT_EQ(Verify(), PeriodicVerifyOutcome::kSuspected);
  Mirror(src_ / "b", dst_ / "b");
  WriteFile(dst_ / "c", "damaged");
  clock_.Advance(60'000);
  EXPECT_EQ(Verify(), PeriodicVerifyOutcome::kSuspected);
  EXPECT_EQ(Alert(), nullptr);
  EXPECT_EQ(Events("session.verify_differs"), 0u);
  // c again, its source as it was: alerted, and only c is named.
  clock_.Advance(60'000);
  EXPECT_EQ(Verify(), PeriodicVerifyOutcome::kConfirmed);
  ASSERT_NE(Alert(), nullptr);
  EXPECT_NE(Alert()->message.find("c: "), std::string::npos) << Alert()->message;
  EXPECT_EQ(Alert()->message.find("b: "), std::string::npos) << Alert()->message;
}

TEST_F(PeriodicVerifyTest, ACleanVerifyClearsTheAlert) {
  Periodic();
  WriteFile(dst_ / "a", "damaged");
  EXPECT_EQ(Verify(), PeriodicVerifyOutcome::kSuspected);
  clock_.Advance(60'000);
  EXPECT_EQ(Verify(), PeriodicVerifyOutcome::kConfirmed);
  ASSERT_NE(Alert(), nullptr);

  Mirror(src_ / "a", dst_ / "a");
  clock_.Advance(600'000);
  EXPECT_EQ(Verify(), PeriodicVerifyOutcome::kClean);
  EXPECT_EQ(Alert(), nullptr);
  EXPECT_EQ(Events("session.verify_differs_cleared", "ok"), 1u);
}

// Damages the destination's copy of `name`: other content, its time kept (so the one
// difference is the content, wherever the clock ticked meanwhile).
void Damage(const std::string& dst, const std::string& name) {
  struct stat st {};
  ASSERT_EQ(::stat((dst + "/" + name).c_str(), &st), 0);
  WriteFile(dst + "/" + name, "damaged");
  const timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dst + "/" + name).c_str(), times, 0), 0);
}

TEST_F(PeriodicVerifyTest, AUsersVerifyRaisesAndClearsTheAlertAtOnce) {
  ASSERT_NO_FATAL_FAILURE(Damage(dst_.path(), "c"));
  auto differs = ops_->verifier().VerifySession(admin_, id_, 100);
  ASSERT_TRUE(differs.ok()) << differs.status().ToString();
  std::string listed;
  for (const auto& d : differs->differences) listed += "\n  " + d.path + ": " + d.what;
  EXPECT_EQ(differs->differences.size(), 1u) << listed;
  ASSERT_NE(Alert(), nullptr);
  EXPECT_NE(Alert()->message.find("a verify by admin"), std::string::npos) << Alert()->message;
  EXPECT_EQ(Events("session.verify_differs", "failed"), 1u);

  Mirror(src_ / "c", dst_ / "c");
  ASSERT_TRUE(ops_->verifier().VerifySession(admin_, id_, 100).ok());
  EXPECT_EQ(Alert(), nullptr);
  EXPECT_EQ(Events("session.verify_differs_cleared", "ok"), 1u);
}

TEST_F(PeriodicVerifyTest, AVerifyThatCannotRunNeitherRaisesNorClears) {
  Periodic();
  WriteFile(dst_ / "c", "damaged");
  ASSERT_TRUE(ops_->verifier().VerifySession(admin_, id_, 100).ok());
  ASSERT_NE(Alert(), nullptr);
  const std::string message = Alert()->message;

  // The destination is gone: a failed verify, the alert as it was.
  std::filesystem::rename(dst_.path(), dst_.path() + ".away");
  EXPECT_FALSE(ops_->verifier().VerifySession(admin_, id_, 100).ok());
  auto periodic = ops_->periodic_verifier().PeriodicVerify(monitor_, {id_, 600, 100});
  EXPECT_FALSE(periodic.ok());
  ASSERT_NE(Alert(), nullptr);
  EXPECT_EQ(Alert()->message, message);
  EXPECT_EQ(Events("session.verify_differs_cleared"), 0u);
  EXPECT_EQ(Events("session.verify", "failed"), 3u);  // the first's differences, two failures
  std::filesystem::rename(dst_.path() + ".away", dst_.path());

  // Cancelled (the engine stopping): nothing recorded, nothing changed.
  std::atomic<bool> cancel{true};
  EXPECT_FALSE(ops_->periodic_verifier().PeriodicVerify(monitor_, {id_, 600, 100}, &cancel).ok());
  EXPECT_EQ(Events("session.verify"), 3u);
  ASSERT_NE(Alert(), nullptr);
}

TEST_F(PeriodicVerifyTest, TheMonitorRunsDueVerifiesOnItsOwnThreadAndStops) {
  Periodic();
  WriteFile(dst_ / "b", "damaged");
  // The status poll every hour: only the verify thread's 20 ms tick can run these.
  SessionMonitor monitor(*ops_, std::chrono::seconds(3600), std::chrono::milliseconds(250),
                         std::chrono::milliseconds(20));
  monitor.Start();
  // First seen: not due until an interval later.
  ASSERT_TRUE(WaitFor(10, [&] { return ops_->periodic_verifier().DueVerifies().empty(); }));
  EXPECT_EQ(Events("session.verify"), 0u);
  clock_.Advance(600'000);
  ASSERT_TRUE(WaitFor(30, [&] { return Events("session.verify") == 1; }));
  EXPECT_EQ(Alert(), nullptr);  // seen once: re-checked first
  clock_.Advance(60'000);
  ASSERT_TRUE(WaitFor(30, [&] { return Alert() != nullptr; }));
  EXPECT_EQ(Events("session.verify_differs", "failed"), 1u);
  Mirror(src_ / "b", dst_ / "b");
  clock_.Advance(600'000);
  ASSERT_TRUE(WaitFor(30, [&] { return Events("session.verify_differs_cleared") == 1; }));
  EXPECT_EQ(Alert(), nullptr);

  const auto start = std::chrono::steady_clock::now();
  monitor.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace georep
