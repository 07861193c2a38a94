// Against real GlusterFS (tests/gluster/cluster.sh): how the engine gets in -- a one-time
// password installs its key on a source or destination host, a destination it cannot reach is
// attached through the source host, a non-root destination goes through the mountbroker.
#include "integration/gluster_fixture.h"

namespace georep::testing {
namespace {

// A host that does not trust the engine yet: a one-time root password installs the engine's
// key (against the pinned host key); a wrong password adds nothing; the password is nowhere
// in the engine's output or database afterwards.
TEST_F(GlusterTest, OneTimePasswordInstallsTheEngineKey) {
  const std::string password = RootPassword();
  ASSERT_FALSE(password.empty());
  auto strip = OnNode("src2", {"/bin/sed", "-i", "/georep-engine/d", "/root/.ssh/authorized_keys"});
  ASSERT_EQ(strip.exit_code, 0) << strip.err;
  auto created = engine_->Post("/api/v1/clusters", R"({"name":"pw"})", token_);
  ASSERT_EQ(created->status, 201) << created->body;
  const std::string cluster = Json::parse(created->body)["id"];
  auto hosts = [&] {
    return Json::parse(
        engine_->Get("/api/v1/clusters/" + cluster + "/hosts", token_)->body)["items"];
  };
  Json body = {{"name", "src2"},
               {"address", nodes_[1].ip},
               {"ssh_fingerprint", nodes_[1].fingerprint},
               {"password", "wrong-" + password}};
  auto refused = engine_->Post("/api/v1/clusters/" + cluster + "/hosts", body.dump(), token_);
  EXPECT_EQ(refused->status, 403) << refused->body;
  EXPECT_NE(refused->body.find("refused the one-time password"), std::string::npos)
      << refused->body;
  EXPECT_TRUE(hosts().empty());

  // A wrong host key is refused before any password is sent.
  body["ssh_fingerprint"] = nodes_[0].fingerprint;
  body["password"] = password;
  auto wrong_key = engine_->Post("/api/v1/clusters/" + cluster + "/hosts", body.dump(), token_);
  EXPECT_EQ(wrong_key->status, 409) << wrong_key->body;
  EXPECT_TRUE(hosts().empty());

  body["ssh_fingerprint"] = nodes_[1].fingerprint;
  auto added = engine_->Post("/api/v1/clusters/" + cluster + "/hosts", body.dump(), token_);
  ASSERT_EQ(added->status, 201) << added->body;
  const std::string id = Json::parse(added->body)["id"];
  auto check = engine_->Post("/api/v1/hosts/" + id + "/check", "{}", token_);
  EXPECT_EQ(Json::parse(check->body)["status"], "Up") << check->body;
  auto keys = OnNode("src2", {"/bin/grep", "-c", "georep-engine", "/root/.ssh/authorized_keys"});
  EXPECT_EQ(keys.out, "1\n");

  ExpectNeitherStoredNorLogged(password, "action=host.add");
  auto events = engine_->Get("/api/v1/events?action=host.add", token_);
  EXPECT_NE(events->body.find("one-time password"), std::string::npos) << events->body;
}

// The console's New Destination dialog: the destination does not trust the engine yet; a
// one-time root password installs the engine's key there, then the key exchange runs.
TEST_F(GlusterTest, ADestinationOneTimePasswordInstallsTheEngineKeyThere) {
  const std::string password = RootPassword();
  ASSERT_FALSE(password.empty());
  Source source;
  ASSERT_NO_FATAL_FAILURE(ImportSource(&source));
  auto strip = OnNode("dst1", {"/bin/sed", "-i", "/georep-engine/d", "/root/.ssh/authorized_keys"});
  ASSERT_EQ(strip.exit_code, 0) << strip.err;
  const std::string path = "/api/v1/clusters/" + source.cluster + "/destinations";
  auto listed = [&] { return Json::parse(engine_->Get(path, token_)->body)["items"]; };

  Json body = {{"source_host_id", source.src1},
               {"host", nodes_[2].ip},
               {"ssh_fingerprint", nodes_[2].fingerprint},
               {"copy_keys", true},
               {"password", "wrong-" + password}};
  auto refused = engine_->Post(path, body.dump(), token_);
  EXPECT_EQ(refused->status, 403) << refused->body;
  EXPECT_NE(refused->body.find("refused the one-time password"), std::string::npos)
      << refused->body;
  EXPECT_TRUE(listed().empty());  // nothing attached

  body["password"] = password;
  auto created = engine_->Post(path, body.dump(), token_);
  ASSERT_EQ(created->status, 201) << created->body;
  Json dest = Json::parse(created->body);
  EXPECT_EQ(dest["connection"], "Connected") << dest.dump();
  auto keys = OnNode("dst1", {"/bin/grep", "-c", "georep-engine", "/root/.ssh/authorized_keys"});
  EXPECT_EQ(keys.out, "1\n");

  ExpectNeitherStoredNorLogged(password, "object_type=destination");
}

// A destination on a network only the clusters share: the engine has no route to it, so it
// attaches, exchanges keys and tests through the source host (each hop's key pinned).
TEST_F(GlusterTest, ADestinationTheEngineCannotReachIsAttachedThroughTheSourceHost) {
  const std::string hidden = "10.78.0.11";
  auto direct = RunCommand({"/usr/bin/ssh-keyscan", "-T", "3", hidden}, "", {}, 30);
  ASSERT_TRUE(direct.out.empty()) << "the engine must not reach " << hidden;
  Source source;
  ASSERT_NO_FATAL_FAILURE(ImportSource(&source));
  const std::string &cluster = source.cluster, &src1 = source.src1;

  Json body = {{"source_host_id", src1},
               {"host", hidden},
               {"ssh_fingerprint", nodes_[2].fingerprint},
               {"copy_keys", true}};
  auto created =
      engine_->Post("/api/v1/clusters/" + cluster + "/destinations", body.dump(), token_);
  ASSERT_EQ(created->status, 201) << created->body;
  Json dest = Json::parse(created->body);
  EXPECT_EQ(dest["connection"], "Connected") << dest.dump();
  auto authorized = OnNode("dst1", {"/bin/cat", "/root/.ssh/authorized_keys"});
  EXPECT_NE(authorized.out.find("command=\""), std::string::npos) << authorized.out;

  auto test = engine_->Post("/api/v1/destinations/" + dest["id"].get<std::string>() + "/test", "{}",
                            token_);
  ASSERT_EQ(test->status, 200) << test->body;
  Json t = Json::parse(test->body);
  EXPECT_EQ(t["connection"], "Connected") << t.dump();
  bool said_relayed = false;
  for (const auto& w : t["warnings"])
    if (w.get<std::string>().find("only through source host") != std::string::npos)
      said_relayed = true;
  EXPECT_TRUE(said_relayed) << t.dump();

  // A wrong pin for the hidden host is refused through the relay too.
  Json wrong = {{"source_host_id", src1},
                {"host", hidden},
                {"ssh_port", 22},
                {"remote_user", "geoaccount"},
                {"ssh_fingerprint", nodes_[1].fingerprint},
                {"copy_keys", true}};
  auto refused =
      engine_->Post("/api/v1/clusters/" + cluster + "/destinations", wrong.dump(), token_);
  ASSERT_EQ(refused->status, 201) << refused->body;  // attached, but Broken with the reason
  Json r = Json::parse(refused->body);
  EXPECT_EQ(r["connection"], "Broken") << r.dump();
  EXPECT_NE(r["connection_reason"].get<std::string>().find("pinned"), std::string::npos)
      << r.dump();
}

// A destination user other than root (gluster's mountbroker): georep creates the user on the
// destination node, gives it the source nodes' keys, sets up the mountbroker for the volume,
// restarts glusterd there, and the session replicates as that user.
TEST_F(GlusterTest, NonRootDestinationThroughTheMountbroker) {
  const std::string state = GEOREP_GLUSTER_STATE;
  Source source;
  ASSERT_NO_FATAL_FAILURE(ImportSource(&source));
  Json dbody = {{"source_host_id", source.src1},
                {"host", nodes_[2].ip},
                {"ssh_fingerprint", nodes_[2].fingerprint},
                {"remote_user", "geoaccount"},
                {"copy_keys", true}};
  auto dest =
      engine_->Post("/api/v1/clusters/" + source.cluster + "/destinations", dbody.dump(), token_);
  ASSERT_EQ(dest->status, 201) << dest->body;
  Json d = Json::parse(dest->body);
  EXPECT_EQ(d["connection"], "Connected") << d.dump();
  EXPECT_EQ(d["remote_user"], "geoaccount");

  // The user exists on dst1 (and not on this machine), in the mountbroker group, and holds
  // both source nodes' geo-replication keys.
  auto user = OnNode("dst1", {"/usr/bin/id", "-nG", "geoaccount"});
  ASSERT_EQ(user.exit_code, 0) << user.err;
  EXPECT_NE(user.out.find("geogroup"), std::string::npos) << user.out;
  EXPECT_NE(RunCommand({"/usr/bin/getent", "passwd", "geoaccount"}).exit_code, 0);
  auto authorized = OnNode("dst1", {"/bin/cat", "/home/geoaccount/.ssh/authorized_keys"});
  ASSERT_EQ(authorized.exit_code, 0) << authorized.err;
  for (const char* node : {"src1", "src2"}) {
    auto pub = OnNode(node, {"/bin/cat", "/var/lib/glusterd/geo-replication/secret.pem.pub"});
    std::string blob = pub.out.substr(pub.out.find("ssh-rsa "), 60);
    EXPECT_NE(authorized.out.find(blob), std::string::npos) << node << " key missing";
  }
  auto test =
      engine_->Post("/api/v1/destinations/" + d["id"].get<std::string>() + "/test", "{}", token_);
  EXPECT_EQ(Json::parse(test->body)["connection"], "Connected") << test->body;

  // Data on the source before start (see SessionLifecycleOnRealGluster on why before).
  const std::string src_mnt = state + "/src1/mnt-gv0";
  ASSERT_EQ(OnNode("src1", {"/bin/mkdir", "-p", src_mnt}).exit_code, 0);
  auto m = OnNode("src1", {"/bin/mount", "-t", "glusterfs", nodes_[0].ip + ":/gv0", src_mnt});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  auto dd = OnNode("src1", {"/bin/dd", "if=/dev/urandom", "of=" + src_mnt + "/as-geoaccount.bin",
                            "bs=64k", "count=4", "status=none"});
  ASSERT_EQ(dd.exit_code, 0) << dd.err;
  const std::string want = Sha256OnNode("src1", src_mnt + "/as-geoaccount.bin");
  OnNode("src1", {"/bin/umount", src_mnt});

  const std::string glusterd_before =
      OnNode("dst1", {"/bin/cat", state + "/dst1/pids/glusterd"}).out;
  Json sbody = {{"destination_id", d["id"]},
                {"source_volume_id", source.volume},
                {"destination_volume", "gv2"},
                {"sync_method", "tarssh"}};
  auto created = engine_->Post("/api/v1/sessions", sbody.dump(), token_);
  ASSERT_EQ(created->status, 201) << created->body;
  const Json s = Json::parse(created->body);
  EXPECT_EQ(s["remote_user"], "geoaccount");
  // dst1's glusterd.vol lets geoaccount mount gv2, and glusterd was restarted to read it.
  auto vol = OnNode("dst1", {"/bin/cat", "/etc/glusterfs/glusterd.vol"});
  EXPECT_NE(vol.out.find("option mountbroker-root /var/mountbroker-root"), std::string::npos)
      << vol.out;
  EXPECT_NE(vol.out.find("option mountbroker-geo-replication.geoaccount gv2"), std::string::npos)
      << vol.out;
  EXPECT_NE(OnNode("dst1", {"/bin/cat", state + "/dst1/pids/glusterd"}).out, glusterd_before);
  auto created_events =
      Json::parse(engine_->Get("/api/v1/events?action=session.create", token_)->body)["items"];
  ASSERT_FALSE(created_events.empty());
  EXPECT_NE(created_events[0]["message"].get<std::string>().find("glusterd restarted on"),
            std::string::npos)
      << created_events.dump();

  const std::string path = "/api/v1/sessions/" + s["id"].get<std::string>();
  ASSERT_EQ(engine_->Post(path + "/start", "{}", token_)->status, 200);
  auto session = [&] { return Json::parse(engine_->Get(path, token_)->body); };
  EXPECT_TRUE(WaitFor(120, [&] {
    std::multiset<std::string> st;
    const Json now = session();  // the range below must not be a temporary's member
    for (const auto& n : now["nodes"]) st.insert(n["status"].get<std::string>());
    return st == std::multiset<std::string>{"Active", "Passive"};
  })) << session().dump(2);
  // The file arrives intact on gv2's brick, written through geoaccount's mountbroker mount.
  const std::string brick = state + "/dst1/bricks/gv2/as-geoaccount.bin";
  EXPECT_TRUE(WaitFor(120, [&] { return Sha256OnNode("dst1", brick) == want; }))
      << OnNode("src1",
                {"/usr/bin/tail", "-n", "30",
                 "/var/log/glusterfs/geo-replication/gv0_" + nodes_[2].ip + "_gv2/gsyncd.log"})
             .out;

  ASSERT_EQ(engine_->Post(path + "/stop", "{}", token_)->status, 200);
  EXPECT_EQ(engine_->Delete(path, token_)->status, 204);
}

}  // namespace
}  // namespace georep::testing
