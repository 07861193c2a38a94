// Test support for the monitor's tests of gluster sessions: a node that answers as a healthy
// glusterd does (with the recorded XML, gluster/testdata), and a fixture with the lab's source
// cluster (lab_source.h: src1 and src2, replica-2 gv0 -> 10.77.0.11::gv1) on a scripted
// cluster. For unit tests only.
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
#include "engine/test_support/lab_source.h"
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

class GlusterMonitorTest : public LabSourceTest {
 protected:
  void SetUp() override {
    status_ = Fixture("georep-status-detail-created.xml");
    config_ = Fixture("georep-config.xml");
    cluster_.scripts["10.77.0.1"] = Node(&status_, &config_);
    cluster_.scripts["10.77.0.2"] = Node(&status_, &config_);
    cluster_.scripts["10.77.0.11"] = Node(&status_, &config_);  // the destination host
    ASSERT_NO_FATAL_FAILURE(OpenWithLabSource(&cluster_, brick_root_ + "/src1/bricks/gv0",
                                              brick_root_ + "/src2/bricks/gv0"));
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
  ScriptedCluster cluster_;
  const Actor monitor_{"monitor", Role::kAdmin};
  std::string status_, config_;
};

}  // namespace georep::testing_support
