// Test support for the monitor's tests of gluster sessions: a node that answers as a healthy
// glusterd does (with the recorded XML, gluster/testdata), and a fixture with the harness's
// layout -- src1 and src2, replica-2 gv0 -> 10.77.0.11::gv1 -- on a scripted cluster. For unit
// tests only.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include "engine/operations.h"
#include "engine/test_support/scripted_cluster.h"
#include "gluster/cli_xml.h"

namespace georep::testing_support {

// A healthy node: `status` answers `status_xml`, `config --xml` the recorded config, `tail`
// gsyncd's log `gsyncd_log` (none: tail cannot open it), every other gluster command succeeds.
inline ScriptedCluster::Script Node(const std::string* status_xml, const std::string* config_xml,
                                    const std::string* gsyncd_log = nullptr) {
  return [=](const std::vector<std::string>& argv) -> Result<CommandResult> {
    if (argv[0] == "tail") {
      if (gsyncd_log) return Answer(*gsyncd_log);
      CommandResult r = Answer("", 1);
      r.err = "tail: cannot open '" + argv.back() + "' for reading: No such file or directory\n";
      return r;
    }
    if (Has(argv, "status")) {
      if (status_xml->rfind("<?xml", 0) != 0) return Answer(*status_xml, 2);
      return Answer(*status_xml);
    }
    if (Has(argv, "config") && Has(argv, "--xml")) return Answer(*config_xml);
    if (argv[0] == "rsync") return Answer("rsync  version 3.2.7  protocol version 31\n");
    return Answer("ok\n");
  };
}

inline Result<CommandResult> GlusterdDown(const std::vector<std::string>&) {
  CommandResult r;
  r.exit_code = 1;
  r.out = "Connection failed. Please check if gluster daemon is operational.\n";
  return r;
}

class GlusterMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("georep-mon-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    auto s = OpenStore("sqlite://" + (dir_ / "db").string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_, &cluster_);
    status_ = Fixture("georep-status-detail-created.xml");
    config_ = Fixture("georep-config.xml");
    cluster_.scripts["10.77.0.1"] = Node(&status_, &config_);
    cluster_.scripts["10.77.0.2"] = Node(&status_, &config_);
    cluster_.scripts["10.77.0.11"] = Node(&status_, &config_);  // the destination host

    // The harness's layout: src1 (10.77.0.1) and src2 (10.77.0.2), replica-2 gv0.
    cluster_id_ = ops_->CreateCluster(admin_, {"src", ""})->id;
    for (const auto& [name, ip] : {std::pair{"src1", "10.77.0.1"}, {"src2", "10.77.0.2"}}) {
      HostSpec hs;
      hs.cluster_id = cluster_id_;
      hs.name = name;
      hs.address = ip;
      hs.ssh_fingerprint = "SHA256:CXqPY4ZFRXl7D0xFFfUbJnR6i11OsDVgYp/yBeCSa78";
      auto h = ops_->AddHost(admin_, hs);
      ASSERT_TRUE(h.ok()) << h.status().ToString();
      hosts_.push_back(*h);
    }
    VolumeSpec vs;
    vs.cluster_id = cluster_id_;
    vs.name = "gv0";
    vs.kind = VolumeKind::kGluster;
    vs.replica_count = 2;
    vs.bricks = {{hosts_[0].id, brick_root_ + "/src1/bricks/gv0"},
                 {hosts_[1].id, brick_root_ + "/src2/bricks/gv0"}};
    auto v = ops_->AddVolume(admin_, vs);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    volume_ = *v;
  }
  void TearDown() override {
    ops_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // The session gv0 -> 10.77.0.11::gv1, created through georep.
  std::string CreateSession() {
    auto d = ops_->CreateDestination(
        admin_, {cluster_id_, hosts_[0].id, "10.77.0.11", 22,
                 "SHA256:SkjwBH3I6H0YtOLOlcgWKDXkwC8so/k92+fmqlWnM0M", "root"});
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    SessionCreateOptions force;
    force.force = true;
    auto s = ops_->CreateSession(admin_, {d->id, volume_.id, "gv1", ""}, force);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? s->session.id : "";
  }

  ClusterPoll Poll() {
    auto p = ops_->PollGlusterCluster(monitor_, cluster_id_);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? *p : ClusterPoll{};
  }

  std::vector<Event> Events(const std::string& action) {
    auto evs = ops_->ListEvents({0, "", "", action, 1000});
    EXPECT_TRUE(evs.ok());
    return evs.ok() ? *evs : std::vector<Event>{};
  }

  std::string brick_root_ = "/tmp/gc";  // where the recorded answers' bricks are
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  FakeClock clock_{1795784806000};
  SeededRandom random_{7};
  ObjectLocks locks_;
  ScriptedCluster cluster_;
  std::unique_ptr<Operations> ops_;
  const Actor admin_{"admin", Role::kAdmin};
  const Actor monitor_{"monitor", Role::kAdmin};
  std::string status_, config_;
  std::string cluster_id_;
  std::vector<Host> hosts_;
  Volume volume_;
};

}  // namespace georep::testing_support
