#include "gluster/mountbroker.h"

#include <gtest/gtest.h>

#include "gluster/test_support/testdata.h"

namespace georep {
namespace {

using testing_support::Fixture;

TEST(Mountbroker, StatusOfTwoNodesNotSetUp) {
  auto nodes = ParseMountbrokerNodes(Fixture("mountbroker-node-status-unset.jsonl"));
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[0].node_id, "4c1dcc78-4292-4723-8d5b-03d893247875");
  EXPECT_EQ((*nodes)[1].node_id, "7591148f-41d6-430b-96be-b0615179d432");
  for (const auto& n : *nodes) {
    EXPECT_TRUE(n.ok);
    EXPECT_EQ(n.mount_root, "");  // gluster prints "None"
    EXPECT_EQ(n.group, "");
    EXPECT_FALSE(n.group_exists);
    EXPECT_FALSE(n.root_exists);
    EXPECT_TRUE(n.user_volumes.empty());
  }
}

TEST(Mountbroker, StatusAfterSetUpAndAdd) {
  auto nodes = ParseMountbrokerNodes(Fixture("mountbroker-node-status-set.jsonl"));
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  ASSERT_EQ(nodes->size(), 1u);
  const auto& n = (*nodes)[0];
  EXPECT_EQ(n.mount_root, "/var/mountbroker-root");
  EXPECT_EQ(n.group, "geogroup");
  EXPECT_TRUE(n.group_exists);
  EXPECT_TRUE(n.root_exists);
  ASSERT_EQ(n.user_volumes.count("geoaccount"), 1u);
  EXPECT_EQ(n.user_volumes.at("geoaccount"), (std::set<std::string>{"gv2"}));
}

TEST(Mountbroker, AFailedNodeSaysWhy) {
  auto nodes = ParseMountbrokerNodes(Fixture("mountbroker-node-setup-no-group.jsonl"));
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_FALSE((*nodes)[0].ok);
  EXPECT_EQ((*nodes)[0].error, "User Group not exists");
}

TEST(Mountbroker, NoNodeAnsweringIsAnError) {
  // What gluster prints when the tool is missing (exit 1).
  auto missing = ParseMountbrokerNodes("gsync peer_mountbroker.py command not found.\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("command not found"), std::string::npos);
  EXPECT_FALSE(ParseMountbrokerNodes("").ok());
}

TEST(Mountbroker, OddAnswersAreErrorsNotCrashes) {
  EXPECT_FALSE(ParseMountbrokerNodes("{not json\n").ok());
  EXPECT_FALSE(ParseMountbrokerNodes("{\"ok\": true}\n").ok());  // no nodeid
  // Wrong types are read as "not set", never thrown.
  auto odd = ParseMountbrokerNodes(
      R"({"ok": "yes", "nodeid": "n1", "output": {"group_exists": 1, "users": {"u": "gv1"}}})");
  ASSERT_TRUE(odd.ok()) << odd.status().ToString();
  EXPECT_FALSE((*odd)[0].ok);
  EXPECT_FALSE((*odd)[0].group_exists);
  EXPECT_TRUE((*odd)[0].user_volumes.at("u").empty());
}

}  // namespace
}  // namespace georep
