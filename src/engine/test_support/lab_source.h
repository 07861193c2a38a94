// Test support for the engine's tests of gluster sessions: the lab's source cluster
// (tests/gluster/cluster.sh, whose answers gluster/testdata records) -- "src", with src1
// (10.77.0.1) and src2 (10.77.0.2) over ssh, their key pinned, and the replica-2 volume gv0 with
// a brick on each -- and its session to the lab's destination, added through Operations; and
// LabSourceTest, a fixture with Operations on a SQLite store of its own and that cluster in it.
// For unit tests only.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "engine/operations.h"
#include "replication/test_util.h"
#include "store/store.h"

namespace georep::testing_support {

// The lab's source cluster as georep holds it.
struct LabSource {
  std::string cluster_id;
  std::vector<Host> hosts;  // src1, src2
  Volume volume;            // gv0
};

// Adds the lab's source cluster through `ops` as `admin`, gv0's bricks at `src1_brick` on src1
// and `src2_brick` on src2. Fatal failures: call it under ASSERT_NO_FATAL_FAILURE.
inline void AddLabSource(Operations& ops, const Actor& admin, const std::string& src1_brick,
                         const std::string& src2_brick, LabSource* out) {
  auto c = ops.CreateCluster(admin, {"src", ""});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  out->cluster_id = c->id;
  for (const auto& [name, ip] : {std::pair{"src1", "10.77.0.1"}, {"src2", "10.77.0.2"}}) {
    HostSpec hs;
    hs.cluster_id = out->cluster_id;
    hs.name = name;
    hs.address = ip;
    hs.ssh_fingerprint = "SHA256:CXqPY4ZFRXl7D0xFFfUbJnR6i11OsDVgYp/yBeCSa78";
    auto h = ops.AddHost(admin, hs);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    out->hosts.push_back(*h);
  }
  VolumeSpec vs;
  vs.cluster_id = out->cluster_id;
  vs.name = "gv0";
  vs.kind = VolumeKind::kGluster;
  vs.replica_count = 2;
  vs.bricks = {{out->hosts[0].id, src1_brick}, {out->hosts[1].id, src2_brick}};
  auto v = ops.AddVolume(admin, vs);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  out->volume = *v;
}

// The session gv0 -> 10.77.0.11::gv1 (the lab's destination node, its key pinned, reached from
// the source host `src1_id` of the cluster `cluster_id`), created through `ops` as `admin` with
// force: eligibility is not what these tests look at. Its id; "" (and a failure) when it failed.
inline std::string CreateLabSession(Operations& ops, const Actor& admin,
                                    const std::string& cluster_id, const std::string& src1_id,
                                    const std::string& volume_id) {
  auto d =
      ops.CreateDestination(admin, {cluster_id, src1_id, "10.77.0.11", 22,
                                    "SHA256:SkjwBH3I6H0YtOLOlcgWKDXkwC8so/k92+fmqlWnM0M", "root"});
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  if (!d.ok()) return "";
  SessionCreateOptions force;
  force.force = true;
  auto s = ops.CreateSession(admin, {d->id, volume_id, "gv1", ""}, force);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? s->session.id : "";
}

// A test on Operations over a SQLite store of its own (a fake clock, seeded random numbers),
// with the lab's source cluster added.
class LabSourceTest : public ::testing::Test {
 protected:
  // Opens the store and Operations, which reach hosts through `hosts` (it must outlive them:
  // TearDown closes them), and adds the lab's source cluster (AddLabSource). Fatal failures:
  // call it under ASSERT_NO_FATAL_FAILURE.
  void OpenWithLabSource(HostConnector* hosts, const std::string& src1_brick,
                         const std::string& src2_brick) {
    auto s = OpenStore("sqlite://" + db_.path() + "/db");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_, hosts);
    LabSource source;
    ASSERT_NO_FATAL_FAILURE(AddLabSource(*ops_, admin_, src1_brick, src2_brick, &source));
    cluster_id_ = source.cluster_id;
    hosts_ = source.hosts;
    volume_ = source.volume;
  }
  void TearDown() override {
    ops_.reset();
    store_.reset();
  }

  // The session gv0 -> 10.77.0.11::gv1 (CreateLabSession).
  std::string CreateSession() {
    return CreateLabSession(*ops_, admin_, cluster_id_, hosts_[0].id, volume_.id);
  }

  replication::testing::TempDir db_;
  FakeClock clock_{1795784806000};
  SeededRandom random_{7};
  ObjectLocks locks_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Operations> ops_;
  const Actor admin_{"admin", Role::kAdmin};
  std::string cluster_id_;
  std::vector<Host> hosts_;  // src1, src2
  Volume volume_;            // gv0
};

}  // namespace georep::testing_support
