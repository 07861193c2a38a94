// Test support for the engine's tests of directory sessions: hosts that answer as the test says
// (RecordingRunner, PinnedOptionsConnector), and a fixture with an engine whose workers are
// recorded, not started (DirectorySessionsFixture). For unit tests only.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/operations.h"
#include "engine/test_support/recording_launcher.h"
#include "engine/test_support/volume_check.h"
#include "engine/worker_supervisor.h"
#include "model/path_guard.h"
#include "replication/replicator.h"

namespace georep::testing_support {

// The options PinnedSshClient gives for `identity` and `known_hosts` (the connectors below
// pin an ssh-ed25519 key).
inline std::string PinnedOptions(const std::string& identity, const std::string& known_hosts) {
  return "-i " + identity +
         " -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o "
         "UserKnownHostsFile=" +
         known_hosts +
         " -o GlobalKnownHostsFile=/dev/null -o HostKeyAlgorithms=ssh-ed25519 -o CheckHostIP=no "
         "-o UpdateHostKeys=no -o ConnectTimeout=10";
}

inline std::vector<std::string> Words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// What the engine ran on a host, and what the host answered (a canned public key for
// `georep worker-keys`, success otherwise).
struct RanOnHost {
  std::string host;
  CommandSpec spec;
};
struct RecordingRunner final : CommandRunner {
  RecordingRunner(std::string host, std::vector<RanOnHost>* ran,
                  const std::map<std::string, std::string>* real_paths)
      : host_(std::move(host)), ran_(ran), real_paths_(real_paths) {}
  Result<CommandResult> Run(const CommandSpec& spec) override {
    CommandResult r;
    r.exit_code = 0;
    // The path guards' probe (model/path_guard.h): asked, not recorded; answered with nothing
    // (a host that cannot say: the paths are then compared as written) unless the test gave
    // real paths -- every host then one machine, each path real as given or as mapped.
    if (auto checked = AnswerVolumeCheck(spec)) return *checked;
    if (spec.argv.size() > 3 && spec.argv[3] == kPathProbeName) {
      if (real_paths_->empty()) return r;
      for (size_t i = 4; i < spec.argv.size(); ++i) {
        auto it = real_paths_->find(spec.argv[i]);
        r.out += "P " + (it == real_paths_->end() ? spec.argv[i] : it->second) + "\n";
      }
      r.out += "B boot-1\nN mnt:[1]\nE\n";
      return r;
    }
    ran_->push_back({host_, spec});
    if (std::find(spec.argv.begin(), spec.argv.end(), "worker-keys") != spec.argv.end())
      r.out = std::string(kWorkerKey) + "\n";
    return r;
  }
  static constexpr const char* kWorkerKey =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOFWkEOcsb7RM4AM2ORYMw5wzLEOdCSHn8ES9Gy5Ff2M "
      "georep-worker@src1";
  std::string host_;
  std::vector<RanOnHost>* ran_;
  const std::map<std::string, std::string>* real_paths_;
};

// Reaches no host; gives workers fixed ssh options, as the real connector gives its pinned ones
// (with a known_hosts file of its own, as the real one has for a pinned destination).
struct PinnedOptionsConnector final : HostConnector {
  std::unique_ptr<CommandRunner> RunnerFor(const Host& host) override {
    return std::make_unique<RecordingRunner>(host.address, &ran, &real_paths);
  }
  Result<std::vector<HostKey>> ScanHostKeys(const std::string&, int) override {
    return Status::Unavailable("no network in unit tests");
  }
  Status InstallEngineKey(const Host&, const std::string&) override {
    return Status::Unavailable("no network in unit tests");
  }
  Result<PinnedSshClient> SshClient(const Host& host) override {
    asked_user = host.ssh_user;
    PinnedSshClient client{"/engine/key", "/engine/known_hosts-" + host.address, "ssh-ed25519", 10};
    if (!known_hosts_dir.empty()) {
      client.known_hosts_file =
          known_hosts_dir + "/" + host.address + "-" + std::to_string(host.ssh_port);
      std::ofstream(client.known_hosts_file)
          << "[" << host.address << "]:" << host.ssh_port << " " << kHostKey << "\n";
    }
    return client;
  }
  std::string EnginePublicKey() override { return ""; }
  std::string EngineKeyFingerprint() override { return ""; }
  static constexpr const char* kHostKey =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMvMaPyZfLDAGnV5yMhkbBbQz5VaC9mQsSwiKkdmo0wn";
  std::string asked_user;
  std::string known_hosts_dir;  // empty: options without a known_hosts file
  std::vector<RanOnHost> ran;
  std::map<std::string, std::string> real_paths;  // path -> its real path, per the probe
};

// The value after `flag` (every occurrence), in order.
inline std::vector<std::string> Values(const std::vector<std::string>& argv,
                                       const std::string& flag) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag) out.push_back(argv[i + 1]);
  return out;
}

inline bool Has(const std::vector<std::string>& argv, const std::string& flag) {
  return std::find(argv.begin(), argv.end(), flag) != argv.end();
}

// An engine (Operations, on SQLite in a directory of its own) with a worker supervisor whose
// launcher records the workers' command lines and starts nothing, on a FakeClock; directory
// sessions made through it, and the status a worker would write, written for the monitor to poll.
class DirectorySessionsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("georep-dirargv-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    auto s = OpenStore("sqlite://" + (dir_ / "db").string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    workers_ = std::make_unique<WorkerSupervisor>(launcher_, clock_, (dir_ / "state").string());
    ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_, &connector_);
    ops_->SetWorkerSupervisor(workers_.get(), "/usr/bin/georep");
  }
  void TearDown() override {
    ops_.reset();
    workers_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A session of a directory volume on the engine's own host (or on ssh host src1, 10.0.0.1);
  // `fingerprint` empty: a local destination path, else one reached over ssh on port 2222.
  std::string MakeSession(const std::string& fingerprint, bool ssh_source = false) {
    Cluster c = *ops_->CreateCluster(admin_, {"local", ""});
    HostSpec hs;
    hs.cluster_id = c.id;
    hs.name = ssh_source ? "src1" : "localhost";
    hs.transport = ssh_source ? HostTransport::kSsh : HostTransport::kLocal;
    if (ssh_source) {
      hs.address = "10.0.0.1";
      hs.ssh_fingerprint = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8";
    }
    auto added = ops_->AddHost(admin_, hs);
    EXPECT_TRUE(added.ok()) << added.status().ToString();
    Host h = *added;
    VolumeSpec vs;
    vs.cluster_id = c.id;
    vs.name = "src";
    vs.bricks = {{h.id, "/srv/src"}};
    Volume v = *ops_->AddVolume(admin_, vs);
    auto d = ops_->CreateDestination(admin_, {c.id, h.id, "backup", 2222, fingerprint, "geo"});
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    auto s = ops_->CreateSession(admin_, {d->id, v.id, "/srv/dst", ""});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s->session.id;
  }
  void Set(const std::string& id, const std::string& key, const std::string& value) {
    auto r = ops_->SetConfig(admin_, id, key, value);
    ASSERT_TRUE(r.ok()) << key << ": " << r.status().ToString();
  }
  // Starts the session; returns the worker's command line.
  std::vector<std::string> Start(const std::string& id) {
    auto r = ops_->RunSessionAction(admin_, id, SessionAction::kStart, false);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return launcher_.launches.empty() ? std::vector<std::string>{} : launcher_.launches.back();
  }
  // What a worker Active in the Changelog Crawl, in step, writes to its status.json, now.
  replication::WorkerStatus ActiveWorker() {
    replication::WorkerStatus w;
    w.state = "Active";
    w.crawl = "Changelog Crawl";
    w.lag_ms = 0;
    w.bytes_applied = 0;
    w.updated_ms = clock_.NowMillis();
    return w;
  }
  // `w` written as the status.json of session `id`'s worker, then the monitor's poll of it.
  Result<SessionDetail> ReportAndPoll(const std::string& id, const replication::WorkerStatus& w) {
    Status written = replication::WriteWorkerStatus(workers_->StateDir(id), w);
    if (!written.ok()) return written;
    return ops_->PollDirectorySession(admin_, id);
  }

  Actor admin_{"admin", Role::kAdmin};
  std::filesystem::path dir_;
  FakeClock clock_;
  SeededRandom random_{7};
  ObjectLocks locks_;
  RecordingLauncher launcher_;
  PinnedOptionsConnector connector_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<WorkerSupervisor> workers_;
  std::unique_ptr<Operations> ops_;
};

}  // namespace georep::testing_support
