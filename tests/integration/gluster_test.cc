// Against real GlusterFS: a 2-node cluster (tests/gluster/cluster.sh) in network namespaces,
// each node with its own sshd and host key. The engine imports it over SSH with a confirmed key.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "host/ssh_transport.h"
#include "integration/engine_process.h"

namespace georep::testing {
namespace {

using Json = nlohmann::json;

struct Node {
  std::string name, ip, fingerprint;
};

class GlusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The engine's key exists before the cluster does, so the nodes can trust it.
    LocalCommandRunner local;
    auto id = SshIdentity::LoadOrCreate(local, data_.path() + "/engine/ssh");
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    std::ofstream(data_.path() + "/engine.pub") << id->public_key << "\n";
    auto up = RunCommand({"/bin/bash", GEOREP_GLUSTER_HARNESS, "up", GEOREP_GLUSTER_STATE,
                          data_.path() + "/engine.pub"},
                         "", {}, 180);
    ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
    std::ifstream nodes(std::string(GEOREP_GLUSTER_STATE) + "/nodes");
    Node n;
    while (nodes >> n.name >> n.ip >> n.fingerprint) nodes_.push_back(n);
    ASSERT_EQ(nodes_.size(), 3u);  // src1, src2, dst1

    engine_ = std::make_unique<EngineProcess>(data_.path() + "/engine");
    ASSERT_TRUE(engine_->Start()) << engine_->output();
    token_ = engine_->Login(engine_->admin_password());
    ASSERT_FALSE(token_.empty());
  }
  void TearDown() override {
    engine_.reset();
    auto down = RunCommand({"/bin/bash", GEOREP_GLUSTER_HARNESS, "down", GEOREP_GLUSTER_STATE});
    EXPECT_EQ(down.exit_code, 0) << down.err;
  }

  Json Import(const std::string& fingerprint, int* status) {
    Json body = {{"name", "src"}, {"address", nodes_[0].ip}, {"ssh_fingerprint", fingerprint}};
    auto r = engine_->Post("/api/v1/clusters/import", body.dump(), token_);
    *status = r ? r->status : 0;
    return r ? Json::parse(r->body) : Json();
  }

  TempDir data_;
  std::vector<Node> nodes_;
  std::unique_ptr<EngineProcess> engine_;
  std::string token_;
};

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

// On a test node: runs argv in its network and mount namespaces.
CommandResult OnNode(const std::string& node, std::vector<std::string> argv) {
  std::vector<std::string> all = {
      "/usr/bin/nsenter", "--net=/run/netns/" + node,
      "--mount=" + std::string(GEOREP_GLUSTER_STATE) + "/" + node + "/mnt.ns", "--"};
  all.insert(all.end(), argv.begin(), argv.end());
  return RunCommand(all);
}

TEST_F(GlusterTest, DestinationKeysTestBrokenReestablishAndPreflight) {
  int status = 0;
  Json imported = Import(nodes_[0].fingerprint, &status);
  ASSERT_EQ(status, 201) << imported.dump();
  const std::string cluster = imported["cluster"]["id"];
  std::string src1, src2;
  for (const auto& h : imported["hosts"]) {
    if (h["address"] == nodes_[0].ip) src1 = h["id"];
    if (h["address"] == nodes_[1].ip) src2 = h["id"];
  }
  Json pin = {{"fingerprint", nodes_[1].fingerprint}};
  ASSERT_EQ(engine_->Put("/api/v1/hosts/" + src2 + "/fingerprint", pin.dump(), token_)->status,
            200);
  ASSERT_EQ(engine_->Post("/api/v1/hosts/" + src2 + "/check", "{}", token_)->status, 200);

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

  // The destination's glusterd goes away: Broken.
  auto stop =
      OnNode("dst1", {"/bin/sh", "-c",
                      "kill $(cat " + std::string(GEOREP_GLUSTER_STATE) + "/dst1/pids/glusterd)"});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  auto down = engine_->Post("/api/v1/destinations/" + id + "/test", "{}", token_);
  Json d = Json::parse(down->body);
  EXPECT_EQ(d["connection"], "Broken") << d.dump();
  auto listed = engine_->Get("/api/v1/clusters/" + cluster + "/destinations", token_);
  EXPECT_EQ(Json::parse(listed->body)["items"][0]["connection"], "Broken");
}

}  // namespace
}  // namespace georep::testing
