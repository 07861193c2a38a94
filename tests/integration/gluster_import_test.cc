// Against real GlusterFS (tests/gluster/cluster.sh): importing a cluster over SSH with a
// confirmed host key, by the API and by the CLI, and a destination's keys: tested, broken,
// re-established, checked before a session starts.
#include "integration/gluster_fixture.h"

namespace georep::testing {
namespace {

TEST_F(GlusterTest, ImportDiscoversPeersVolumesBricksAndSizes) {
  // A wrong key is refused and nothing is written.
  int status = 0;
  Json refused = Import(nodes_[1].fingerprint, &status);
  EXPECT_EQ(status, 409) << refused.dump();
  EXPECT_NE(refused["error"]["message"].get<std::string>().find("changed"), std::string::npos)
      << refused.dump();
  auto clusters = engine_->Get("/api/v1/clusters", token_);
  EXPECT_TRUE(Json::parse(clusters->body)["items"].empty());

  Json imported = Import(nodes_[0].fingerprint, &status);
  ASSERT_EQ(status, 201) << imported.dump();
  ASSERT_EQ(imported["hosts"].size(), 2u) << imported.dump();
  std::map<std::string, Json> hosts;
  for (const auto& h : imported["hosts"]) hosts[h["address"].get<std::string>()] = h;
  ASSERT_TRUE(hosts.count(nodes_[0].ip) && hosts.count(nodes_[1].ip)) << imported.dump();
  EXPECT_EQ(hosts[nodes_[0].ip]["status"], "Up");
  EXPECT_EQ(hosts[nodes_[0].ip]["ssh_fingerprint"], nodes_[0].fingerprint);
  EXPECT_EQ(hosts[nodes_[1].ip]["status"], "Unknown");
  EXPECT_EQ(hosts[nodes_[1].ip]["ssh_fingerprint"], "");  // not confirmed yet

  ASSERT_EQ(imported["volumes"].size(), 1u);
  const Json& v = imported["volumes"][0];
  EXPECT_EQ(v["name"], "gv0");
  EXPECT_EQ(v["kind"], "gluster");
  EXPECT_EQ(v["status"], "Started");
  EXPECT_EQ(v["replica_count"], 2);
  ASSERT_EQ(v["bricks"].size(), 2u);
  EXPECT_EQ(v["bricks"][0]["host_id"], hosts[nodes_[0].ip]["id"]);
  EXPECT_EQ(v["bricks"][1]["host_id"], hosts[nodes_[1].ip]["id"]);
  EXPECT_GT(v["size_bytes"].get<int64_t>(), 0);

  // The second node is unusable until its key is confirmed, then it is Up.
  const std::string second = hosts[nodes_[1].ip]["id"];
  auto check = engine_->Post("/api/v1/hosts/" + second + "/check", "{}", token_);
  Json down = Json::parse(check->body);
  EXPECT_EQ(down["status"], "Down");
  EXPECT_NE(down["reason"].get<std::string>().find("no host key is pinned"), std::string::npos);
  Json pin = {{"fingerprint", nodes_[1].fingerprint}};
  auto repin = engine_->Put("/api/v1/hosts/" + second + "/fingerprint", pin.dump(), token_);
  ASSERT_EQ(repin->status, 200) << repin->body;
  auto again = engine_->Post("/api/v1/hosts/" + second + "/check", "{}", token_);
  EXPECT_EQ(Json::parse(again->body)["status"], "Up") << again->body;
}

TEST_F(GlusterTest, CliImportAsksForTheHostKey) {
  const std::vector<std::string> env = {"GEOREP_CONFIG_DIR=" + data_.path() + "/cli"};
  auto login = RunCommand({GeorepBinary(), "login", "--server", engine_->url(), "--password-stdin"},
                          engine_->admin_password() + "\n", env);
  ASSERT_EQ(login.exit_code, 0) << login.err;
  auto ask = RunCommand({GeorepBinary(), "cluster", "import", "src", nodes_[0].ip}, "", env, 120);
  EXPECT_EQ(ask.exit_code, 2);
  EXPECT_NE(ask.err.find(nodes_[0].fingerprint), std::string::npos) << ask.err;
  auto ok = RunCommand({GeorepBinary(), "cluster", "import", "src", nodes_[0].ip, "--fingerprint",
                        nodes_[0].fingerprint},
                       "", env, 120);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("gv0"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("Started"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("unconfirmed"), std::string::npos) << ok.out;
}

TEST_F(GlusterTest, DestinationKeysTestBrokenReestablishAndPreflight) {
  Source source;
  ASSERT_NO_FATAL_FAILURE(ImportSource(&source));
  const std::string &cluster = source.cluster, &src1 = source.src1;

  // Attach with "copy source cluster hosts' public keys to destination cluster".
  Json body = {{"source_host_id", src1},
               {"host", nodes_[2].ip},
               {"ssh_fingerprint", nodes_[2].fingerprint},
               {"copy_keys", true}};
  auto created =
      engine_->Post("/api/v1/clusters/" + cluster + "/destinations", body.dump(), token_);
  ASSERT_EQ(created->status, 201) << created->body;
  Json dest = Json::parse(created->body);
  EXPECT_EQ(dest["connection"], "Connected") << dest.dump();
  const std::string id = dest["id"];

  // The keys really arrived: every source node's geo-replication key is in dst1's
  // authorized_keys, restricted to gsyncd.
  auto authorized = OnNode("dst1", {"/bin/cat", "/root/.ssh/authorized_keys"});
  for (const char* node : {"src1", "src2"}) {
    auto pub = OnNode(node, {"/bin/cat", "/var/lib/glusterd/geo-replication/secret.pem.pub"});
    ASSERT_EQ(pub.exit_code, 0) << pub.err;
    ASSERT_NE(pub.out.find("ssh-rsa "), std::string::npos) << pub.out;
    std::string blob = pub.out.substr(pub.out.find("ssh-rsa "), 60);
    EXPECT_NE(authorized.out.find(blob), std::string::npos) << node << " key missing";
  }
  EXPECT_NE(authorized.out.find("command=\""), std::string::npos);

  auto test = engine_->Post("/api/v1/destinations/" + id + "/test", "{}", token_);
  ASSERT_EQ(test->status, 200) << test->body;
  Json ok = Json::parse(test->body);
  EXPECT_EQ(ok["connection"], "Connected") << ok.dump();
  EXPECT_FALSE(ok["last_checked"].is_null());
  // Debian 12 ships rsync 3.5: the preflight must warn and point to tarssh.
  ASSERT_FALSE(ok["warnings"].empty()) << ok.dump();
  EXPECT_NE(ok["warnings"][0].get<std::string>().find("tarssh"), std::string::npos);

  // Only src2's geo-replication key gone: Test checks every source host that runs a worker,
  // and names the one that fails.
  {
    auto pub2 = OnNode("src2", {"/bin/cat", "/var/lib/glusterd/geo-replication/secret.pem.pub"});
    const std::string blob = pub2.out.substr(pub2.out.find("ssh-rsa ") + 8, 40);
    ASSERT_EQ(blob.find_first_of("#\\"), std::string::npos);  // a plain sed address
    auto strip2 =
        OnNode("dst1", {"/bin/sed", "-i", "\\#" + blob + "#d", "/root/.ssh/authorized_keys"});
    ASSERT_EQ(strip2.exit_code, 0) << strip2.err;
    auto one = engine_->Post("/api/v1/destinations/" + id + "/test", "{}", token_);
    Json b2 = Json::parse(one->body);
    EXPECT_EQ(b2["connection"], "Broken") << b2.dump();
    const std::string reason = b2["connection_reason"];
    EXPECT_NE(reason.find("source host " + nodes_[1].ip), std::string::npos) << reason;
    EXPECT_EQ(reason.find("source host " + nodes_[0].ip), std::string::npos) << reason;
    auto fixed = engine_->Post("/api/v1/destinations/" + id + "/reestablish", "{}", token_);
    ASSERT_EQ(fixed->status, 200) << fixed->body;
    EXPECT_EQ(Json::parse(fixed->body)["connection"], "Connected") << fixed->body;
  }

  // Remove the geo-replication keys on the destination: Test says Broken, and why.
  auto strip = OnNode("dst1", {"/bin/sed", "-i", "/command=/d", "/root/.ssh/authorized_keys"});
  ASSERT_EQ(strip.exit_code, 0) << strip.err;
  auto broken = engine_->Post("/api/v1/destinations/" + id + "/test", "{}", token_);
  Json b = Json::parse(broken->body);
  EXPECT_EQ(b["connection"], "Broken") << b.dump();
  EXPECT_NE(b["connection_reason"].get<std::string>().find("with the geo-replication key"),
            std::string::npos)
      << b.dump();
  EXPECT_NE(b["connection_reason"].get<std::string>().find("Permission denied"), std::string::npos)
      << b.dump();

  // Re-establish: Connected again.
  auto re = engine_->Post("/api/v1/destinations/" + id + "/reestablish", "{}", token_);
  ASSERT_EQ(re->status, 200) << re->body;
  EXPECT_EQ(Json::parse(re->body)["connection"], "Connected") << re->body;
  auto again = engine_->Post("/api/v1/destinations/" + id + "/test", "{}", token_);
  EXPECT_EQ(Json::parse(again->body)["connection"], "Connected") << again->body;

  // Detached: the source cluster's keys leave dst1's authorized_keys, and only they (a line the
  // admin added stays); the answer says where. Attached again for what follows.
  const std::string own =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOFWkEOcsb7RM4AM2ORYMw5wzLEOdCSHn8ES9Gy5Ff2M "
      "admin@laptop";
  ASSERT_EQ(OnNode("dst1", {"/bin/sh", "-c", "printf '%s\\n' \"$1\" >> /root/.ssh/authorized_keys",
                            "sh", own})
                .exit_code,
            0);
  const std::string common =
      OnNode("src1", {"/bin/cat", "/var/lib/glusterd/geo-replication/common_secret.pem.pub"}).out;
  ASSERT_NE(common.find("ssh-rsa "), std::string::npos) << common;
  auto detached = engine_->Delete("/api/v1/destinations/" + id, token_);
  ASSERT_EQ(detached->status, 200) << detached->body;
  const std::string said = Json::parse(detached->body)["message"];
  // (how many lines: as many as the key exchanges appended)
  EXPECT_NE(
      said.find("keys were removed from root's ~/.ssh/authorized_keys on " + nodes_[2].ip + " ("),
      std::string::npos)
      << said;
  EXPECT_EQ(said.find("remain"), std::string::npos) << said;
  const std::string left = OnNode("dst1", {"/bin/cat", "/root/.ssh/authorized_keys"}).out;
  EXPECT_NE(left.find(own), std::string::npos) << left;
  {
    std::istringstream lines(common);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("ssh-rsa ") == std::string::npos) continue;
      const std::string blob = line.substr(line.find("ssh-rsa ") + 8, 60);
      EXPECT_EQ(left.find(blob), std::string::npos) << "still authorized: " << line;
    }
  }
  auto keys_event = Json::parse(
      engine_->Get("/api/v1/events?action=destination.keys_revoked", token_)->body)["items"];
  ASSERT_EQ(keys_event.size(), 1u);
  EXPECT_EQ(keys_event[0]["result"], "ok") << keys_event.dump();
  auto attached =
      engine_->Post("/api/v1/clusters/" + cluster + "/destinations", body.dump(), token_);
  ASSERT_EQ(attached->status, 201) << attached->body;
  const std::string id2 = Json::parse(attached->body)["id"];
  EXPECT_EQ(Json::parse(attached->body)["connection"], "Connected") << attached->body;

  // The destination's glusterd goes away: Broken.
  auto stop =
      OnNode("dst1", {"/bin/sh", "-c",
                      "kill $(cat " + std::string(GEOREP_GLUSTER_STATE) + "/dst1/pids/glusterd)"});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  auto down = engine_->Post("/api/v1/destinations/" + id2 + "/test", "{}", token_);
  Json d = Json::parse(down->body);
  EXPECT_EQ(d["connection"], "Broken") << d.dump();
  auto listed = engine_->Get("/api/v1/clusters/" + cluster + "/destinations", token_);
  EXPECT_EQ(Json::parse(listed->body)["items"][0]["connection"], "Broken");
}

}  // namespace
}  // namespace georep::testing
