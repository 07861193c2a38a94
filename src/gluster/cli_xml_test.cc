#include "gluster/cli_xml.h"

#include <gtest/gtest.h>

#include "gluster/test_support/testdata.h"

namespace georep {
namespace {

using testing_support::Fixture;

TEST(GlusterXml, PoolListRecorded) {
  auto peers = ParsePoolList(Fixture("pool-list.xml"));
  ASSERT_TRUE(peers.ok()) << peers.status().ToString();
  ASSERT_EQ(peers->size(), 1u);
  EXPECT_EQ((*peers)[0].hostname, "localhost");
  EXPECT_EQ((*peers)[0].uuid, "9407d84c-9ce5-4f7b-af34-aeaa0cd6eec4");
  EXPECT_TRUE((*peers)[0].connected);
}

TEST(GlusterXml, VolumeInfoRecorded) {
  auto vols = ParseVolumeInfo(Fixture("volume-info.xml"));
  ASSERT_TRUE(vols.ok()) << vols.status().ToString();
  ASSERT_EQ(vols->size(), 1u);
  const GlusterVolume& v = (*vols)[0];
  EXPECT_EQ(v.name, "gv0");
  EXPECT_EQ(v.status, "Started");
  EXPECT_EQ(v.type, "Distributed-Replicate");
  EXPECT_EQ(v.replica_count, 2);
  EXPECT_EQ(v.disperse_count, 0);
  ASSERT_EQ(v.bricks.size(), 4u);
  EXPECT_EQ(v.bricks[0].host, "gnode1");
  EXPECT_EQ(v.bricks[0].path, "/tmp/gnode1/bricks/b1");
  EXPECT_EQ(v.bricks[3].path, "/tmp/gnode1/bricks/b4");
  EXPECT_EQ(v.options.at("nfs.disable"), "on");
}

TEST(GlusterXml, CliErrorsBecomeStatuses) {
  auto missing = ParseVolumeInfo(Fixture("volume-info-missing.xml"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "Volume does not exist");
  EXPECT_EQ(ParseVolumeInfo("").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ParseVolumeInfo("Connection failed. Please check if gluster daemon is operational.")
                .status()
                .code(),
            StatusCode::kUnavailable);
  EXPECT_TRUE(ParseVolumeInfo("noise\n" + Fixture("volume-info.xml")).ok());
  EXPECT_EQ(ParseVolumeInfo("<?xml version=\"1.0\"?><cliOutput><opRet>0</opRet").status().code(),
            StatusCode::kCorruption);
}

TEST(GlusterXml, StatusDetailSizes) {
  auto bricks = ParseVolumeStatusDetail(Fixture("volume-status-detail.xml"));
  ASSERT_TRUE(bricks.ok()) << bricks.status().ToString();
  ASSERT_EQ(bricks->size(), 4u);
  EXPECT_TRUE((*bricks)[0].online);
  EXPECT_EQ((*bricks)[0].size_total, 270553174016);
  EXPECT_EQ((*bricks)[0].size_free, 252182876160);
}

TEST(GlusterXml, GeoRepStatusWithNoSessionsIsTheCliWords) {
  auto s = ParseGeoRepStatus(Fixture("georep-status-none.out"));
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.status().message(), "geo-replication command failed");
}

void CheckSession(const std::vector<GeoRepStatus>& sessions) {
  ASSERT_EQ(sessions.size(), 1u);
  const GeoRepStatus& s = sessions[0];
  EXPECT_EQ(s.source_volume, "gv0");
  EXPECT_EQ(s.remote_user, "geoaccount");
  EXPECT_EQ(s.destination_host, "remote1");
  EXPECT_EQ(s.destination_volume, "gv1");
  ASSERT_EQ(s.nodes.size(), 2u);
  const SessionNodeStatus& a = s.nodes[0];
  EXPECT_EQ(a.source_host, "node1");
  EXPECT_EQ(a.source_brick, "/bricks/b1");
  EXPECT_EQ(a.status, NodeStatus::kActive);
  EXPECT_EQ(a.crawl, CrawlStatus::kChangelog);
  EXPECT_EQ(a.entry_pending, 3);
  EXPECT_EQ(a.data_pending, 12);
  EXPECT_EQ(a.meta_pending, 1);
  EXPECT_TRUE(a.checkpoint_completed);
  EXPECT_EQ(a.last_synced, ParseGlusterTime("2026-11-25 12:00:05"));
  EXPECT_GT(a.checkpoint_completion_time, a.checkpoint_time);
  const SessionNodeStatus& b = s.nodes[1];
  EXPECT_EQ(b.status, NodeStatus::kInitializing);  // not Unknown
  EXPECT_EQ(b.crawl, CrawlStatus::kNotApplicable);
  EXPECT_EQ(b.last_synced, 0);
  EXPECT_FALSE(b.checkpoint_completed);
}

TEST(GlusterXml, GeoRepStatusOlderElementNames) {
  auto s = ParseGeoRepStatus(Fixture("georep-status-detail.master-slave.synthetic.xml"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  CheckSession(*s);
}

TEST(GlusterXml, GeoRepStatusNewerElementNames) {
  auto s = ParseGeoRepStatus(Fixture("georep-status-detail.primary-secondary.synthetic.xml"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  CheckSession(*s);
}

TEST(GlusterXml, GeoRepStatusRecordedCreatedAndActive) {
  auto created = ParseGeoRepStatus(Fixture("georep-status-detail-created.xml"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_EQ(created->size(), 1u);
  EXPECT_EQ((*created)[0].source_volume, "gv0");
  EXPECT_EQ((*created)[0].destination_host, "10.77.0.11");
  EXPECT_EQ((*created)[0].destination_volume, "gv1");
  EXPECT_EQ((*created)[0].remote_user, "root");
  ASSERT_EQ((*created)[0].nodes.size(), 2u);
  for (const auto& n : (*created)[0].nodes) EXPECT_EQ(n.status, NodeStatus::kCreated);

  auto active = ParseGeoRepStatus(Fixture("georep-status-detail-active.xml"));
  ASSERT_TRUE(active.ok()) << active.status().ToString();
  const auto& nodes = (*active)[0].nodes;
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].source_host, "10.77.0.1");
  EXPECT_EQ(nodes[0].source_brick, "/tmp/gc/src1/bricks/gv0");
  EXPECT_EQ(nodes[0].status, NodeStatus::kActive);
  EXPECT_EQ(nodes[0].crawl, CrawlStatus::kChangelog);
  EXPECT_EQ(nodes[0].last_synced, ParseGlusterTime("2026-11-25 13:29:43"));
  EXPECT_EQ(nodes[1].status, NodeStatus::kPassive);
  EXPECT_EQ(nodes[1].crawl, CrawlStatus::kNotApplicable);
  // The Active node's counts are gluster's; the Passive node's are N/A there: unknown, not 0.
  EXPECT_EQ(nodes[0].entry_pending, 0);
  EXPECT_EQ(nodes[0].data_pending, 0);
  EXPECT_EQ(nodes[0].meta_pending, 0);
  EXPECT_EQ(nodes[0].failures, 0);
  EXPECT_EQ(nodes[1].entry_pending, -1);
  EXPECT_EQ(nodes[1].data_pending, -1);
  EXPECT_EQ(nodes[1].meta_pending, -1);
  EXPECT_EQ(nodes[1].failures, -1);
}

TEST(GlusterXml, GeoRepStatusRecordedLifecycle) {
  auto status_of = [](const std::string& fixture) {
    auto s = ParseGeoRepStatus(Fixture(fixture));
    EXPECT_TRUE(s.ok()) << fixture << ": " << s.status().ToString();
    std::vector<NodeStatus> out;
    if (s.ok() && !s->empty())
      for (const auto& n : (*s)[0].nodes) out.push_back(n.status);
    return out;
  };
  using N = NodeStatus;
  EXPECT_EQ(status_of("georep-status-detail-paused.xml"), (std::vector{N::kPaused, N::kPaused}));
  EXPECT_EQ(status_of("georep-status-detail-stopped.xml"), (std::vector{N::kStopped, N::kStopped}));
  // Asked through src2 while src1's glusterd is down: gluster reports only src2's brick.
  EXPECT_EQ(status_of("georep-status-detail-node-down.xml"), (std::vector{N::kPassive}));
}

TEST(GlusterXml, GeoRepStatusRecordedCheckpointCompleted) {
  auto s = ParseGeoRepStatus(Fixture("georep-status-detail-checkpoint.xml"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const auto& active = (*s)[0].nodes[0];
  EXPECT_EQ(active.status, NodeStatus::kActive);
  EXPECT_TRUE(active.checkpoint_completed);
  EXPECT_EQ(active.checkpoint_time, ParseGlusterTime("2026-11-27 13:06:46"));
  EXPECT_EQ(active.checkpoint_completion_time, ParseGlusterTime("2026-11-27 13:06:58"));
  EXPECT_FALSE((*s)[0].nodes[1].checkpoint_completed);  // the Passive node has none
}

TEST(GlusterXml, GeoRepStatusOfEverySessionWithTheSshPrefix) {
  // `volume geo-replication status detail --xml` (no volume) spells the destination
  // "ssh://10.77.0.11::gv1"; it is the same session.
  auto s = ParseGeoRepStatus(Fixture("georep-status-detail-all-sessions.xml"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].source_volume, "gv0");
  EXPECT_EQ((*s)[0].destination_host, "10.77.0.11");
  EXPECT_EQ((*s)[0].destination_volume, "gv1");
  EXPECT_EQ((*s)[0].remote_user, "root");
}

TEST(GlusterXml, GeoRepConfigRecorded) {
  auto c = ParseGeoRepConfig(Fixture("georep-config.xml"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->at("sync_method"), "tarssh");
  EXPECT_EQ(c->at("sync_jobs"), "3");
  EXPECT_EQ(c->at("ignore_deletes"), "false");
  EXPECT_EQ(c->at("rsync_options"), "");
  EXPECT_GT(c->size(), 40u);
  EXPECT_FALSE(ParseGeoRepConfig(Fixture("volume-info.xml")).ok());
}

TEST(RsyncPreflight, VersionsAndWarning) {
  EXPECT_EQ(ParseRsyncVersion("rsync  version 3.5.0  protocol version 32\nCopyright"),
            std::make_pair(3, 5));
  EXPECT_EQ(ParseRsyncVersion("rsync  version v3.2.7  protocol version 31"), std::make_pair(0, 0));
  EXPECT_EQ(ParseRsyncVersion("rsync  version 3.2.7  protocol version 31"), std::make_pair(3, 2));
  EXPECT_EQ(ParseRsyncVersion("bash: rsync: command not found"), std::make_pair(0, 0));
  EXPECT_EQ(RsyncPreflightWarning("n1", {3, 2}), "");
  EXPECT_EQ(RsyncPreflightWarning("n1", {0, 0}), "");
  std::string w = RsyncPreflightWarning("n1", {3, 4});
  EXPECT_NE(w.find("0 bytes"), std::string::npos);
  EXPECT_NE(w.find("tarssh"), std::string::npos);
  EXPECT_NE(RsyncPreflightWarning("n1", {4, 0}), "");
}

TEST(GlusterXml, Times) {
  EXPECT_EQ(ParseGlusterTime("1970-01-01 00:00:10"), 10000);
  EXPECT_EQ(ParseGlusterTime("N/A"), 0);
  EXPECT_EQ(ParseGlusterTime(""), 0);
  EXPECT_EQ(ParseGlusterTime("garbage that is long enough"), 0);
}

}  // namespace
}  // namespace georep
