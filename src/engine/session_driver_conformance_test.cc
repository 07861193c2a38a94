// The session-driver conformance suite (test_support/driver_conformance_cases.h) in the unit
// tier: GlusterDriver against a scripted gluster cluster that keeps each session's state as
// gluster would (the XML recorded from real GlusterFS, gluster/testdata), DirectoryDriver with
// its workers supervised (their launches recorded, their status.json written as a worker
// writes it). Each world says how its kind shows what the driver did; every case asserts that.
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
#include "engine/test_support/driver_conformance_cases.h"
#include "engine/test_support/lab_source.h"
#include "engine/test_support/recording_launcher.h"
#include "engine/test_support/scripted_cluster.h"
#include "engine/worker_supervisor.h"
#include "replication/replicator.h"

namespace georep {
namespace {

using testing_support::Answer;
using testing_support::ConformanceWorld;
using testing_support::DirectoryNodes;
using testing_support::Fixture;
using testing_support::Has;
using testing_support::RecordingLauncher;
using testing_support::ScriptedCluster;

// The unit worlds: a fake clock, and hosts that are scripted (`cluster_`) or have their
// volumes in directories here (`nodes_`).
class ScriptedWorld : public ConformanceWorld {
 public:
  ScriptedWorld(const std::string& name, bool on_directory_nodes) : ConformanceWorld(name) {
    HostConnector* hosts = &cluster_;
    if (on_directory_nodes) hosts = &nodes_;
    Open(clock_, hosts);
  }
  ~ScriptedWorld() override { Close(); }

 protected:
  FakeClock clock_{1795784806000};
  ScriptedCluster cluster_;
  DirectoryNodes nodes_;
};

// The harness's layout (gluster/testdata): src1 and src2, replica-2 gv0, -> 10.77.0.11::gv1.
// Every node answers as one glusterd of a cluster would: the session's status follows the
// create / start / stop / pause / resume / delete it was sent. The volumes are directories
// here (both source nodes see one), mounted and read as on gluster's nodes.
class GlusterWorld final : public ScriptedWorld {
 public:
  static constexpr const char* kName = "Gluster";
  GlusterWorld() : ScriptedWorld("gluster", /*on_directory_nodes=*/true) {
    nodes_.nodes = {{"10.77.0.1", (dir_ / "source-nodes").string()},
                    {"10.77.0.2", (dir_ / "source-nodes").string()},
                    {"10.77.0.11", (dir_ / "destination-nodes").string()}};
    nodes_.gluster = [this](const std::vector<std::string>& argv) { return Answer(argv); };
  }

  std::string CreateSession() override {
    testing_support::LabSource source;
    testing_support::AddLabSource(*ops_, admin_, "/tmp/gc/src1/bricks/gv0",
                                  "/tmp/gc/src2/bricks/gv0", &source);
    if (source.volume.id.empty()) return "";  // AddLabSource failed, and said why
    // Forced: eligibility is gluster_monitor_test's.
    return testing_support::CreateLabSession(*ops_, admin_, source.cluster_id, source.hosts[0].id,
                                             source.volume.id);
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

// A directory volume on the engine's own host, to a local destination path.
class DirectoryWorld final : public ScriptedWorld {
 public:
  static constexpr const char* kName = "Directory";
  DirectoryWorld() : ScriptedWorld("directory", /*on_directory_nodes=*/false) {
    cluster_.scripts["localhost"] = [](const std::vector<std::string>&) { return Answer(""); };
    workers_ = std::make_unique<WorkerSupervisor>(launcher_, clock_, (dir_ / "state").string());
    ops_->SetWorkerSupervisor(workers_.get(), "/usr/bin/georep");
  }
  ~DirectoryWorld() override {
    Close();
    workers_.reset();
  }

  std::string CreateSession() override { return CreateLocalDirectorySession(); }
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

}  // namespace

namespace testing_support {
using ScriptedWorlds = ::testing::Types<GlusterWorld, DirectoryWorld>;
INSTANTIATE_TYPED_TEST_SUITE_P(Scripted, SessionDriverConformance, ScriptedWorlds,
                               ConformanceWorldNames);
}  // namespace testing_support
}  // namespace georep
