// Directory sessions' config reaches the worker: every option of the directory catalog maps to
// the `georep worker` flag that gives it its effect (tests/integration/replication_*_test.cc shows
// each flag's effect on real trees), or is one the engine itself acts on.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "engine/session_monitor.h"
#include "engine/test_support/directory_sessions_fixture.h"

namespace georep {
namespace {

using testing_support::Has;
using testing_support::PinnedOptions;
using testing_support::PinnedOptionsConnector;
using testing_support::RanOnHost;
using testing_support::RecordingRunner;
using testing_support::Values;
using testing_support::Words;

class DirectorySessionArgvTest : public testing_support::DirectorySessionsFixture {};

TEST_F(DirectorySessionArgvTest, DefaultsGiveADefaultWorker) {
  const std::string id = MakeSession("");
  const auto argv = Start(id);
  ASSERT_GE(argv.size(), 2u);
  EXPECT_EQ(argv[0], "/usr/bin/georep");
  EXPECT_EQ(argv[1], "worker");
  EXPECT_EQ(Values(argv, "--source"), std::vector<std::string>{"/srv/src"});
  EXPECT_EQ(Values(argv, "--destination"), std::vector<std::string>{"/srv/dst"});
  EXPECT_EQ(Values(argv, "--state-dir"), std::vector<std::string>{workers_->StateDir(id)});
  EXPECT_EQ(Values(argv, "--durability"), std::vector<std::string>{"batch"});
  EXPECT_EQ(Values(argv, "--rescan-interval"), std::vector<std::string>{"3600"});
  EXPECT_EQ(Values(argv, "--change-capture"), std::vector<std::string>{"auto"});
  EXPECT_EQ(Values(argv, "--log-level"), std::vector<std::string>{"info"});
  for (const char* absent :
       {"--compress", "--ignore-deletes", "--no-xattrs", "--bandwidth-limit", "--sync-jobs",
        "--exclude", "--ssh-command", "--ssh-port", "--remote-command"})
    EXPECT_FALSE(Has(argv, absent)) << absent;
}

TEST_F(DirectorySessionArgvTest, EveryOptionReachesTheWorker) {
  const std::string id = MakeSession("SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8");
  // What each option of the catalog becomes. A new option must be added here (with a test of
  // its effect in tests/integration/replication_*_test.cc).
  const std::map<std::string, std::string> settings = {
      {"checkpoint", "1700000000"},  // the engine's: compared with the worker's last synced
      // The engine's: the monitor's periodic verify (periodic_verify_test.cc).
      {"verify-interval", "600"},
      {"verify-sample", "25"},
      // The engine's: the alert rules' thresholds (alerts_test.cc).
      {"alert-lag-threshold", "120"},
      {"alert-checkpoint-timeout", "7200"},
      {"sync-jobs", "3"},
      {"ignore-deletes", "true"},
      {"sync-xattrs", "false"},
      {"sync-acls", "false"},
      {"ssh-port", "2022"},
      {"ssh-command", "/opt/openssh/bin/ssh -v -o ConnectTimeout=5"},
      {"remote-command", "/opt/georep/bin/georep agent"},
      // For a source on an ssh host: AnSshSourceRunsItsWorkerThereThroughWorkerLink.
      {"source-command", "/opt/georep/bin/georep"},
      {"compression", "zstd"},
      {"bandwidth-limit", "1000000"},
      {"durability", "file"},
      {"rescan-interval", "60"},
      {"change-capture", "inotify"},
      {"exclude", "*.tmp,,cache/*"},
      {"log-level", "DEBUG"},
  };
  for (const auto& o : ConfigCatalog(VolumeKind::kDirectory))
    EXPECT_TRUE(settings.count(std::string(o.key))) << o.key << " has no mapping tested";

  // ssh-port not set: the destination's own port.
  auto argv = Start(id);
  EXPECT_EQ(Values(argv, "--ssh-port"), std::vector<std::string>{"2222"});
  EXPECT_EQ(Values(argv, "--destination"), std::vector<std::string>{"geo@backup::/srv/dst"});
  EXPECT_EQ(connector_.asked_user, "geo");

  for (const auto& [key, value] : settings) ASSERT_NO_FATAL_FAILURE(Set(id, key, value));
  // The changed config restarts the worker with the new command line.
  ASSERT_TRUE(ops_->PollDirectorySession(admin_, id).ok());
  argv = launcher_.launches.back();
  EXPECT_GE(launcher_.launches.size(), 2u);
  EXPECT_TRUE(Has(argv, "--ignore-deletes"));
  EXPECT_TRUE(Has(argv, "--no-xattrs"));
  EXPECT_TRUE(Has(argv, "--no-acls"));
  EXPECT_EQ(Values(argv, "--ssh-port"), std::vector<std::string>{"2022"});
  // georep's own options first (ssh keeps an option's first value), the admin's after.
  EXPECT_EQ(Values(argv, "--ssh-command"),
            std::vector<std::string>{"/opt/openssh/bin/ssh " +
                                     PinnedOptions("/engine/key", "/engine/known_hosts-backup") +
                                     " -v -o ConnectTimeout=5"});
  EXPECT_EQ(Values(argv, "--remote-command"),
            std::vector<std::string>{"/opt/georep/bin/georep agent"});
  EXPECT_TRUE(Has(argv, "--compress"));
  EXPECT_EQ(Values(argv, "--bandwidth-limit"), std::vector<std::string>{"1000000"});
  EXPECT_EQ(Values(argv, "--sync-jobs"), std::vector<std::string>{"3"});
  EXPECT_EQ(Values(argv, "--durability"), std::vector<std::string>{"file"});
  EXPECT_EQ(Values(argv, "--rescan-interval"), std::vector<std::string>{"60"});
  EXPECT_EQ(Values(argv, "--change-capture"), std::vector<std::string>{"inotify"});
  EXPECT_EQ(Values(argv, "--exclude"), (std::vector<std::string>{"*.tmp", "cache/*"}));
  EXPECT_EQ(Values(argv, "--log-level"), std::vector<std::string>{"debug"});
  EXPECT_FALSE(Has(argv, "--checkpoint"));
  EXPECT_FALSE(Has(argv, "--verify-interval"));
  EXPECT_FALSE(Has(argv, "--verify-sample"));
  EXPECT_FALSE(Has(argv, "--alert-lag-threshold"));
  EXPECT_FALSE(Has(argv, "--alert-checkpoint-timeout"));

  // sync-xattrs back on, bandwidth unlimited: the flags go.
  Set(id, "sync-xattrs", "true");
  Set(id, "sync-acls", "true");
  Set(id, "bandwidth-limit", "0");
  ASSERT_TRUE(ops_->PollDirectorySession(admin_, id).ok());
  argv = launcher_.launches.back();
  EXPECT_FALSE(Has(argv, "--no-xattrs"));
  EXPECT_FALSE(Has(argv, "--no-acls"));
  EXPECT_FALSE(Has(argv, "--bandwidth-limit"));
}

// An ssh-command stored before the checks existed (or written to the database by hand) that
// would let the worker accept a host that is not the pinned one: the worker is not started,
// and the start says why.
TEST_F(DirectorySessionArgvTest, AStoredSshCommandThatWouldUnpinTheHostStartsNoWorker) {
  const std::string id = MakeSession("SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8");
  ASSERT_TRUE(store_
                  ->Transaction([&](StoreTx& tx) {
                    return tx.PutConfig(
                        {id, "ssh-command",
                         "ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null", "admin",
                         1});
                  })
                  .ok());
  auto r = ops_->RunSessionAction(admin_, id, SessionAction::kStart, false);
  EXPECT_TRUE(launcher_.launches.empty()) << "a worker was started";
  const std::string why = r.ok() ? r->session.status_reason : r.status().message();
  EXPECT_NE(why.find("pinned host key"), std::string::npos) << why;
}

// The worker measures its own lag, and reports what it applied: the first poll that finds it
// Active shows the lag, on the node and the session (no gluster heartbeat stands in for it); the
// throughput is what was applied between two reports -- unknown after one.
TEST_F(DirectorySessionArgvTest, TheWorkersOwnLagIsShownFromTheFirstPollItsThroughputFromTwo) {
  const std::string id = MakeSession("");
  Start(id);
  clock_.Advance(1000);
  replication::WorkerStatus w = ActiveWorker();
  w.lag_ms = 1500;
  w.bytes_applied = 1 << 20;
  auto polled = ReportAndPoll(id, w);
  ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  ASSERT_EQ(polled->nodes.size(), 1u);
  EXPECT_EQ(polled->nodes[0].status, NodeStatus::kActive);
  EXPECT_EQ(polled->nodes[0].lag_ms, 1500);
  EXPECT_EQ(polled->nodes[0].throughput_bps, -1);
  auto read = ops_->GetSession(id);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->lag_ms, 1500);
  EXPECT_EQ(read->throughput_bps, -1);
  clock_.Advance(2000);
  w.updated_ms = clock_.NowMillis();
  w.bytes_applied += 8192;
  polled = ReportAndPoll(id, w);
  ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  EXPECT_EQ(polled->nodes[0].throughput_bps, 4096);
  EXPECT_EQ(ops_->GetSession(id)->throughput_bps, 4096);
}

// The monitor times each of its passes, full ones (discovery and config: the first, then every
// 5 minutes' worth) and steady ones apart: the metrics' georep_monitor_pass_duration_seconds.
TEST_F(DirectorySessionArgvTest, TheMonitorTimesEachPassFullAndSteadyApart) {
  const std::string id = MakeSession("");
  Start(id);
  SessionMonitor monitor(*ops_, std::chrono::seconds(10));  // every 30th pass a full one
  EXPECT_EQ(monitor.PassDurations(true).count, 0u);
  monitor.PollOnce();
  EXPECT_EQ(monitor.PassDurations(true).count, 1u);
  EXPECT_EQ(monitor.PassDurations(false).count, 0u);
  monitor.PollOnce();
  monitor.PollOnce();
  EXPECT_EQ(monitor.PassDurations(true).count, 1u);
  const Histogram::Snapshot steady = monitor.PassDurations(false);
  EXPECT_EQ(steady.count, 2u);
  EXPECT_GT(steady.sum, 0);
  EXPECT_EQ(steady.bounds, SessionMonitor::PassBounds());
}

// A worker whose change capture is blind somewhere (directories without a watch) is still
// Active -- data flows -- with the reason on the node and a standing "change-capture" alert,
// raised once and cleared (with an event each) when the worker reports it gone.
TEST_F(DirectorySessionArgvTest, ACaptureGapIsAStandingAlertWhileTheWorkerReportsIt) {
  const std::string id = MakeSession("");
  Start(id);
  clock_.Advance(1000);
  replication::WorkerStatus w = ActiveWorker();
  w.capture_gaps = 1001;
  w.capture_warning = "1001 of 2001 directories have no inotify watch";
  auto polled = ReportAndPoll(id, w);
  ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  ASSERT_EQ(polled->nodes.size(), 1u);
  EXPECT_EQ(polled->nodes[0].status, NodeStatus::kActive);
  EXPECT_EQ(polled->nodes[0].status_reason, w.capture_warning);
  auto kinds = [&] {
    std::vector<std::string> out;
    auto read = ops_->GetSession(id);
    EXPECT_TRUE(read.ok());
    if (read.ok())
      for (const auto& a : read->alerts) out.push_back(a.kind + ": " + a.message);
    return out;
  };
  EXPECT_EQ(kinds(),
            std::vector<std::string>{"change-capture: change capture: " + w.capture_warning});
  ASSERT_TRUE(ops_->PollDirectorySession(admin_, id).ok());
  EXPECT_EQ(kinds().size(), 1u) << "raised once";

  w.capture_gaps = 0;
  w.capture_warning.clear();
  clock_.Advance(1000);
  w.updated_ms = clock_.NowMillis();
  polled = ReportAndPoll(id, w);
  ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  EXPECT_EQ(polled->nodes[0].status_reason, "");
  EXPECT_TRUE(kinds().empty());
}

// While a change is pending, the lag the worker wrote goes on growing until the engine reads it.
TEST_F(DirectorySessionArgvTest, APendingChangesLagGrowsSinceTheWorkerWroteIt) {
  const std::string id = MakeSession("");
  Start(id);
  clock_.Advance(1000);
  replication::WorkerStatus w = ActiveWorker();
  w.lag_ms = 800;
  w.oldest_pending_ms = clock_.NowMillis() - 800;
  ASSERT_TRUE(replication::WriteWorkerStatus(workers_->StateDir(id), w).ok());
  clock_.Advance(2000);  // the worker is in the middle of a long pass
  auto polled = ops_->PollDirectorySession(admin_, id);
  ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  EXPECT_EQ(polled->nodes[0].lag_ms, 2800);
  // In step (nothing pending): what it wrote.
  w.lag_ms = 0;
  w.oldest_pending_ms = 0;
  ASSERT_TRUE(replication::WriteWorkerStatus(workers_->StateDir(id), w).ok());
  clock_.Advance(2000);
  polled = ops_->PollDirectorySession(admin_, id);
  ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  EXPECT_EQ(polled->nodes[0].lag_ms, 0);
}

// The supervisor's own restart of a worker that exited -- between the monitor's polls -- is
// checked by the path guards too: into a destination that became unsafe it is not made.
TEST_F(DirectorySessionArgvTest, ARestartBetweenPollsIsGuarded) {
  const std::string id = MakeSession("");
  connector_.real_paths["/srv/dst"] = "/backup/dst";
  Start(id);
  ASSERT_EQ(launcher_.launches.size(), 1u);
  connector_.real_paths["/srv/dst"] = "/srv/src/dst";
  launcher_.last->ended = true;
  workers_->RestartDue();  // the end, noticed
  clock_.Advance(1000);
  workers_->RestartDue();  // the restart, due
  EXPECT_EQ(launcher_.launches.size(), 1u);
  const WorkerObservation seen = workers_->Observe(id);
  EXPECT_FALSE(seen.running);
  EXPECT_EQ(seen.down_reason.rfind("not restarted: destination /srv/dst", 0), 0u)
      << seen.down_reason;
  EXPECT_NE(seen.down_reason.find("lies inside the source volume's directory"), std::string::npos)
      << seen.down_reason;
  // Safe again: the next restart on the schedule (2 s later) is made.
  connector_.real_paths["/srv/dst"] = "/backup/dst";
  clock_.Advance(2000);
  workers_->RestartDue();
  EXPECT_EQ(launcher_.launches.size(), 2u);
}

// What the worker does not replicate on purpose (a Unix socket, a device for an agent that is
// not root) is a note on an Active node, with its count and reason -- never Faulty.
TEST_F(DirectorySessionArgvTest, SpecialFilesNotReplicatedAreANoteNotAFault) {
  const std::string id = MakeSession("");
  Start(id);
  replication::WorkerStatus w = ActiveWorker();
  w.skipped_special = 2;
  w.skipped_xattrs = 1;
  w.skipped_reason = "'run/app.sock' is a Unix socket: meaningless without the process serving it";
  auto polled = ReportAndPoll(id, w);
  ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  ASSERT_EQ(polled->nodes.size(), 1u);
  EXPECT_EQ(polled->nodes[0].status, NodeStatus::kActive);
  EXPECT_EQ(polled->nodes[0].failures, 0);
  EXPECT_NE(polled->nodes[0].status_reason.find("not replicated: 2 special files, 1 entries"),
            std::string::npos)
      << polled->nodes[0].status_reason;
  EXPECT_NE(polled->nodes[0].status_reason.find("run/app.sock"), std::string::npos);
}

// The pinned fingerprint's letters and digits, in the name of src1's known_hosts file.
const std::string kFingerprintChars = "nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8";

TEST_F(DirectorySessionArgvTest, AnSshSourceRunsItsWorkerThereThroughWorkerLink) {
  connector_.known_hosts_dir = dir_.string();
  const std::string id = MakeSession("SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8", true);
  Set(id, "source-command", "/opt/georep/bin/georep");
  const auto argv = Start(id);

  // Before the worker: src1 makes its worker key and pins the destination's key (the line the
  // engine pinned, on stdin); the destination accepts that key, for commands only.
  ASSERT_EQ(connector_.ran.size(), 2u);
  EXPECT_EQ(connector_.ran[0].host, "10.0.0.1");
  EXPECT_EQ(connector_.ran[0].spec.argv,
            (std::vector<std::string>{"/opt/georep/bin/georep", "worker-keys", "--state-root",
                                      ".local/state/georep", "--known-hosts",
                                      "backup-2222-" + kFingerprintChars}));
  EXPECT_EQ(connector_.ran[0].spec.stdin_data,
            std::string("[backup]:2222 ") + PinnedOptionsConnector::kHostKey + "\n");
  EXPECT_EQ(connector_.ran[1].host, "backup");
  ASSERT_EQ(connector_.ran[1].spec.argv.size(), 5u);
  EXPECT_EQ(connector_.ran[1].spec.argv[0], "sh");
  EXPECT_EQ(connector_.ran[1].spec.argv[4], std::string("restrict ") + RecordingRunner::kWorkerKey);

  // The engine supervises worker-link, which runs the worker on src1 over ssh.
  const std::vector<std::string> head = {
      "/usr/bin/georep", "worker-link",   "--state-dir", workers_->StateDir(id),
      "--where",         "root@10.0.0.1", "--",          "ssh"};
  ASSERT_GT(argv.size(), head.size());
  EXPECT_EQ(std::vector<std::string>(argv.begin(), argv.begin() + head.size()), head);
  const auto at = std::find(argv.begin(), argv.end(), "10.0.0.1");
  ASSERT_NE(at, argv.end());
  EXPECT_EQ(std::vector<std::string>(argv.begin() + head.size(), at),
            Words(PinnedOptions("/engine/key", dir_.string() + "/10.0.0.1-22") +
                  " -o ServerAliveInterval=15 -o ServerAliveCountMax=4 -p 22 -l root --"));
  // The remote words, each quoted for the remote shell.
  const std::vector<std::string> remote(at + 1, argv.end());
  ASSERT_GE(remote.size(), 2u);
  EXPECT_EQ(remote[0], "'/opt/georep/bin/georep'");
  EXPECT_EQ(remote[1], "'worker'");
  EXPECT_EQ(Values(remote, "'--source'"), std::vector<std::string>{"'/srv/src'"});
  EXPECT_EQ(Values(remote, "'--state-dir'"),
            std::vector<std::string>{"'.local/state/georep/workers/" + id + "'"});
  EXPECT_EQ(Values(remote, "'--destination'"), std::vector<std::string>{"'geo@backup::/srv/dst'"});
  // src1's own key and its pinned copy of the destination's key, not the engine's files.
  EXPECT_EQ(
      Values(remote, "'--ssh-command'"),
      std::vector<std::string>{
          "'ssh " +
          PinnedOptions("~/.local/state/georep/ssh/id_ed25519",
                        "~/.local/state/georep/ssh/known_hosts-backup-2222-" + kFingerprintChars) +
          "'"});
  EXPECT_TRUE(Has(remote, "'--status-stdout'"));
  EXPECT_TRUE(Has(remote, "'--stop-on-stdin-eof'"));

  // Polls leave a running worker's host alone; a new command line (here new config) has the
  // host prepared again before its worker restarts -- as has a re-pinned destination key,
  // which is in the known_hosts file's name.
  ASSERT_TRUE(ops_->PollDirectorySession(admin_, id).ok());
  EXPECT_EQ(connector_.ran.size(), 2u);
  Set(id, "rescan-interval", "60");
  ASSERT_TRUE(ops_->PollDirectorySession(admin_, id).ok());
  ASSERT_EQ(connector_.ran.size(), 4u);
  EXPECT_EQ(connector_.ran[2].spec.argv[1], "worker-keys");
  EXPECT_EQ(Values(launcher_.launches.back(), "'--rescan-interval'"),
            std::vector<std::string>{"'60'"});

  // Removing the session removes the worker's state on src1 too, and the destination stops
  // accepting src1's worker key: no other session from src1 goes there.
  connector_.ran.clear();
  ASSERT_TRUE(ops_->RunSessionAction(admin_, id, SessionAction::kStop, false).ok());
  ASSERT_TRUE(ops_->RemoveSession(admin_, id, false, false).ok());
  ASSERT_EQ(connector_.ran.size(), 2u);
  EXPECT_EQ(connector_.ran[0].host, "10.0.0.1");
  EXPECT_EQ(connector_.ran[0].spec.argv,
            (std::vector<std::string>{"rm", "-rf", "--", ".local/state/georep/workers/" + id}));
  EXPECT_EQ(connector_.ran[1].host, "backup");
  ASSERT_EQ(connector_.ran[1].spec.argv.size(), 5u);
  EXPECT_EQ(connector_.ran[1].spec.argv[3], "georep-revoke");
  EXPECT_EQ(connector_.ran[1].spec.argv[4], std::string("restrict ") + RecordingRunner::kWorkerKey);
  EXPECT_FALSE(std::filesystem::exists(workers_->StateDir(id)));
}

// The destination accepts a source host's worker key for as long as a session of a volume on
// that host goes there: the last one's removal takes it back, not the first one's.
TEST_F(DirectorySessionArgvTest, TheLastSessionFromASourceHostTakesItsWorkerKeyBack) {
  connector_.known_hosts_dir = dir_.string();
  const std::string first = MakeSession("SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8", true);
  const Session s1 = ops_->GetSession(first)->session;
  const Volume v1 = *ops_->GetVolume(s1.source_volume_id);
  VolumeSpec vs;
  vs.cluster_id = v1.cluster_id;
  vs.name = "other";
  vs.bricks = {{v1.bricks[0].host_id, "/srv/other"}};
  auto v2 = ops_->AddVolume(admin_, vs);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  auto second = ops_->CreateSession(admin_, {s1.destination_id, v2->id, "/srv/dst2", ""});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  Start(first);
  Start(second->session.id);
  ASSERT_TRUE(ops_->RunSessionAction(admin_, first, SessionAction::kStop, false).ok());
  ASSERT_TRUE(ops_->RunSessionAction(admin_, second->session.id, SessionAction::kStop, false).ok());
  auto revocations = [&] {
    return std::count_if(connector_.ran.begin(), connector_.ran.end(), [](const RanOnHost& r) {
      return r.spec.argv.size() == 5 && r.spec.argv[3] == "georep-revoke";
    });
  };

  connector_.ran.clear();
  ASSERT_TRUE(ops_->RemoveSession(admin_, first, false, false).ok());
  EXPECT_EQ(revocations(), 0) << "the second session from src1 still goes there";
  ASSERT_TRUE(ops_->RemoveSession(admin_, second->session.id, false, false).ok());
  EXPECT_EQ(revocations(), 1);
}

// A destination that became a symlink to the source's parent after create: start refuses it
// (nothing launched, still Created), and the monitor does not start its worker (Faulty, why).
TEST_F(DirectorySessionArgvTest, PathGuardsStopAStartAndTheMonitorsRestart) {
  const std::string id = MakeSession("");
  connector_.real_paths["/srv/dst"] = "/srv";
  auto refused = ops_->RunSessionAction(admin_, id, SessionAction::kStart, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().message(),
            "destination /srv/dst (really /srv) is a parent of the source volume's directory "
            "/srv/src (same host localhost): replication would overwrite and delete the source");
  EXPECT_TRUE(launcher_.launches.empty());
  EXPECT_EQ(ops_->GetSession(id)->session.status, SessionStatus::kCreated);

  connector_.real_paths["/srv/dst"] = "/backup/dst";
  Start(id);
  ASSERT_EQ(launcher_.launches.size(), 1u);
  // Unsafe again, and a new command line (new config): the monitor refuses to restart it.
  connector_.real_paths["/srv/dst"] = "/srv/src/dst";
  Set(id, "log-level", "DEBUG");
  auto polled = ops_->PollDirectorySession(admin_, id);
  ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  ASSERT_EQ(polled->nodes.size(), 1u);
  EXPECT_EQ(polled->nodes[0].status, NodeStatus::kFaulty);
  EXPECT_NE(polled->nodes[0].status_reason.find("lies inside the source volume's directory"),
            std::string::npos)
      << polled->nodes[0].status_reason;
  EXPECT_EQ(launcher_.launches.size(), 1u);
  EXPECT_TRUE(workers_->Supervised().empty());
}

TEST_F(DirectorySessionArgvTest, AnSshSourceCannotWriteToAPathOnTheEnginesMachine) {
  const std::string id = MakeSession("", true);
  auto r = ops_->RunSessionAction(admin_, id, SessionAction::kStart, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "directory volume 'src' is on ssh host 'src1' while destination 'backup' is a path "
            "on the engine's machine, which a worker on 'src1' cannot write to: attach the "
            "destination as a host reached over ssh");
  EXPECT_TRUE(launcher_.launches.empty());
  EXPECT_TRUE(connector_.ran.empty());
}

}  // namespace
}  // namespace georep
