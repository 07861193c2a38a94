// Against real GlusterFS's lab nodes (tests/gluster/cluster.sh): directory volumes on ssh hosts
// replicate from those hosts, and verify compares volumes on their nodes.
#include <signal.h>

#include "integration/gluster_fixture.h"

namespace georep::testing {
namespace {

// A directory volume on an ssh host (src1) replicates from there: the engine starts its worker
// on src1 over ssh (worker-link), src1 gets a worker key of its own that dst1 accepts, and
// src1's worker reaches dst1 with it -- no data passes through the engine's machine. Status,
// verify, a killed worker, stop and remove work as for a local source.
TEST_F(GlusterTest, ADirectoryVolumeOnAnSshHostReplicatesFromThatHost) {
  const std::string state = GEOREP_GLUSTER_STATE;
  Source source;
  ASSERT_NO_FATAL_FAILURE(ImportSource(&source));
  const std::string src_dir = state + "/src1/docs", dst_dir = state + "/dst1/docs-copy";
  std::string path;
  ASSERT_NO_FATAL_FAILURE(
      CreateDirectorySession(source, "docs", src_dir, nodes_[2].ip, dst_dir, &path));
  const std::string id = path.substr(path.rfind('/') + 1);
  auto post = [&](const std::string& p, const Json& body) { return PostJson(p, body); };
  auto set = [&](const std::string& key, const std::string& value) {
    SetSessionConfig(*engine_, token_, path, key, value);
  };
  auto session = [&] { return Json::parse(engine_->Get(path, token_)->body); };
  auto events = [&](const std::string& action) {
    return Json::parse(engine_->Get("/api/v1/events?action=" + action, token_)->body)["items"];
  };

  // No georep where source-command points on src1: the start is refused, saying so.
  ASSERT_NO_FATAL_FAILURE(set("source-command", "/nonexistent/georep"));
  auto refused = post(path + "/start", Json::object());
  EXPECT_NE(refused.first, 200);
  EXPECT_NE(refused.second.dump().find("cannot run `/nonexistent/georep worker-keys`"),
            std::string::npos)
      << refused.second.dump();
  EXPECT_EQ(session()["status"], "Created");
  EXPECT_TRUE(WorkersOnNode("src1").empty());

  // georep on the lab's hosts is this build's binary.
  ASSERT_NO_FATAL_FAILURE(set("source-command", GeorepBinary()));
  ASSERT_NO_FATAL_FAILURE(set("remote-command", GeorepBinary() + " agent"));
  ASSERT_NO_FATAL_FAILURE(StartDirectorySession(path, dst_dir));
  EXPECT_EQ(session()["nodes"][0]["source_host"], nodes_[0].ip) << session().dump(2);
  // The worker runs on src1 (in its namespaces), with src1's key, which dst1 accepts for
  // commands only; the engine's machine runs only the link.
  const std::vector<pid_t> workers = WorkersOnNode("src1");
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_TRUE(std::ifstream(state + "/src1/dotlocal/state/georep/ssh/id_ed25519").good());
  const std::string worker_key = ReadFile(state + "/src1/dotlocal/state/georep/ssh/id_ed25519.pub");
  ASSERT_FALSE(worker_key.empty());
  EXPECT_NE(ReadFile(state + "/dst1/ssh/authorized_keys").find("restrict " + worker_key),
            std::string::npos);

  // Live changes, then verify: the source described on src1, the destination on dst1.
  ASSERT_NO_FATAL_FAILURE(WriteLiveAndVerify(path, src_dir, dst_dir));

  // The worker on src1 is killed: Faulty, then restarted there by the engine; nothing lost.
  ASSERT_EQ(::kill(workers[0], SIGKILL), 0);
  std::ofstream(src_dir + "/after-kill.txt") << "k\n";
  EXPECT_TRUE(WaitFor(30, [&] { return !events("session.faulty").empty(); })) << session().dump(2);
  EXPECT_TRUE(WaitFor(60, [&] { return !events("session.recovered").empty(); }))
      << session().dump(2);
  EXPECT_TRUE(WaitFor(30, [&] { return ReadFile(dst_dir + "/after-kill.txt") == "k\n"; }));
  EXPECT_EQ(WorkersOnNode("src1").size(), 1u);

  // Stop: the worker on src1 ends (its stdin ends with the link); remove: its state goes.
  ASSERT_EQ(post(path + "/stop", Json::object()).first, 200);
  EXPECT_TRUE(WaitFor(30, [&] { return WorkersOnNode("src1").empty(); }));
  const std::string remote_state = state + "/src1/dotlocal/state/georep/workers/" + id;
  EXPECT_TRUE(std::ifstream(remote_state + "/worker.pid").good());
  EXPECT_EQ(engine_->Delete(path, token_)->status, 204);
  EXPECT_FALSE(std::ifstream(remote_state + "/worker.pid").good());
  // dst1 no longer accepts src1's worker key (no other session from src1 goes there); the
  // engine's own key stays.
  const std::string authorized = ReadFile(state + "/dst1/ssh/authorized_keys");
  EXPECT_EQ(authorized.find(worker_key.substr(0, worker_key.find('\n'))), std::string::npos)
      << authorized;
  EXPECT_NE(authorized.find("georep-engine"), std::string::npos) << authorized;
}

// A destination that only the source host reaches (on the clusters' own network): the worker
// there replicates to it; the engine has the destination accept the worker's key, describes
// it for verify, and takes the key back, all through the source host.
TEST_F(GlusterTest, ADirectoryVolumeOnAnSshHostReplicatesToADestinationOnlyItReaches) {
  const std::string hidden = "10.78.0.11", state = GEOREP_GLUSTER_STATE;
  auto direct = RunCommand({"/usr/bin/ssh-keyscan", "-T", "3", hidden}, "", {}, 30);
  ASSERT_TRUE(direct.out.empty()) << "the engine must not reach " << hidden;
  Source source;
  ASSERT_NO_FATAL_FAILURE(ImportSource(&source));
  const std::string src_dir = state + "/src1/hidden-docs", dst_dir = state + "/dst1/hidden-copy";
  std::string path;
  ASSERT_NO_FATAL_FAILURE(
      CreateDirectorySession(source, "hidden-docs", src_dir, hidden, dst_dir, &path));
  auto post = [&](const std::string& p, const Json& body) { return PostJson(p, body); };
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"source-command", GeorepBinary()}, {"remote-command", GeorepBinary() + " agent"}}) {
    ASSERT_NO_FATAL_FAILURE(SetSessionConfig(*engine_, token_, path, key, value));
  }
  ASSERT_NO_FATAL_FAILURE(StartDirectorySession(path, dst_dir));
  const std::string worker_key = ReadFile(state + "/src1/dotlocal/state/georep/ssh/id_ed25519.pub");
  ASSERT_FALSE(worker_key.empty());
  const std::string key_line = "restrict " + worker_key.substr(0, worker_key.find('\n'));
  EXPECT_NE(ReadFile(state + "/dst1/ssh/authorized_keys").find(key_line), std::string::npos);

  // Verify: the destination described from src1, as its worker reaches it.
  ASSERT_NO_FATAL_FAILURE(WriteLiveAndVerify(path, src_dir, dst_dir));

  // Removed: dst1 no longer accepts src1's worker key.
  ASSERT_EQ(post(path + "/stop", Json::object()).first, 200);
  EXPECT_EQ(engine_->Delete(path, token_)->status, 204);
  EXPECT_EQ(ReadFile(state + "/dst1/ssh/authorized_keys").find(key_line), std::string::npos);
}

// Verify of a gluster session: each volume mounted read-only on one node of its cluster, listed
// and hashed there. Identical once replicated; then a file truncated on the destination's brick
// behind gluster's back is found, by size, in a full verify and in a sample, and a file
// rewritten there at the same size by its content; what georep and gluster keep at a volume's
// root is not compared.
TEST_F(GlusterTest, VerifyComparesTheVolumesOnTheirNodes) {
  const std::string state = GEOREP_GLUSTER_STATE;
  Source source;
  ASSERT_NO_FATAL_FAILURE(ImportSource(&source));
  std::string dest_id;
  ASSERT_NO_FATAL_FAILURE(CreateDestinationOnDst1(source, &dest_id));

  // Files written on the source mount before the session starts (the first crawl carries
  // them): nested, odd names, owners, modes, a symlink.
  const std::string src_mnt = state + "/src1/mnt-gv0", dst_mnt = state + "/dst1/mnt-gv1";
  ASSERT_NO_FATAL_FAILURE(MountVolumes(src_mnt, "gv1", dst_mnt));
  const std::vector<std::string> files = {"a.bin", "sub/b.bin", "sub/deeper/c d.bin", "e.txt",
                                          "sub/f.txt"};
  ASSERT_EQ(OnNode("src1", {"/bin/mkdir", "-p", src_mnt + "/sub/deeper"}).exit_code, 0);
  for (size_t i = 0; i < files.size(); ++i) {
    auto dd = OnNode("src1", {"/bin/dd", "if=/dev/urandom", "of=" + src_mnt + "/" + files[i],
                              "bs=4k", "count=" + std::to_string(3 + 5 * i), "status=none"});
    ASSERT_EQ(dd.exit_code, 0) << dd.err;
  }
  ASSERT_EQ(OnNode("src1", {"/bin/chown", "1234:567", src_mnt + "/e.txt"}).exit_code, 0);
  ASSERT_EQ(OnNode("src1", {"/bin/chmod", "600", src_mnt + "/sub/f.txt"}).exit_code, 0);
  ASSERT_EQ(OnNode("src1", {"/bin/ln", "-s", "sub/b.bin", src_mnt + "/link"}).exit_code, 0);

  auto [s_status, created] = PostJson("/api/v1/sessions", {{"destination_id", dest_id},
                                                           {"source_volume_id", source.volume},
                                                           {"destination_volume", "gv1"},
                                                           {"sync_method", "tarssh"}});
  ASSERT_EQ(s_status, 201) << created.dump();
  const std::string id = created["id"], path = "/api/v1/sessions/" + id;
  ASSERT_EQ(PostJson(path + "/start", Json::object()).first, 200);
  for (const auto& f : files) {
    const std::string want = Sha256OnNode("src1", src_mnt + "/" + f);
    ASSERT_EQ(want.size(), 64u);
    ASSERT_TRUE(WaitFor(180, [&] { return Sha256OnNode("dst1", dst_mnt + "/" + f) == want; }))
        << f << " did not arrive; on the destination:\n"
        << OnNode("dst1", {"/bin/ls", "-laR", dst_mnt}).out;
  }

  // georep's own directory (the source's heartbeat) is not compared, nor is gluster's own.
  ASSERT_EQ(OnNode("dst1", {"/bin/mkdir", "-p", dst_mnt + "/.georep"}).exit_code, 0);
  ASSERT_EQ(OnNode("dst1", {"/bin/cp", "/etc/hostname", dst_mnt + "/.georep/only-here"}).exit_code,
            0);

  // Identical, once gsyncd has set the metadata too (it follows the data).
  auto verify = [&](int sample) {
    auto r = PostJson(path + "/verify?sample_percent=" + std::to_string(sample), Json::object());
    EXPECT_EQ(r.first, 200) << r.second.dump(2);
    return r.second;
  };
  Json report;
  EXPECT_TRUE(WaitFor(60, [&] { return (report = verify(100))["identical"] == true; }))
      << report.dump(2);
  EXPECT_EQ(report["entries"], 8) << report.dump(2);  // 5 files, 2 directories, a symlink
  EXPECT_EQ(report["content_checked"], files.size()) << report.dump(2);
  // Each volume was mounted for that verify only (a mount kept would answer from its caches).
  for (const char* node : {"src1", "dst1"}) {
    auto mounts = OnNode(node, {"/bin/findmnt", "-rn", "-o", "TARGET"});
    EXPECT_EQ(mounts.out.find("/run/georep/verify"), std::string::npos) << node << mounts.out;
  }

  // Truncated on dst1's brick directly: found, with both sizes; and by a 50% sample too (sizes
  // are compared for every file).
  const std::string brick = state + "/dst1/bricks/gv1";
  auto cut = OnNode("dst1", {"/usr/bin/truncate", "-s", "1000", brick + "/sub/b.bin"});
  ASSERT_EQ(cut.exit_code, 0) << cut.err;
  report = verify(100);
  ASSERT_EQ(report["differences"].size(), 1u) << report.dump(2);
  EXPECT_EQ(report["differences"][0]["path"], "sub/b.bin");
  EXPECT_EQ(report["differences"][0]["difference"],
            "32768 bytes at the source, 1000 at the "
            "destination");
  EXPECT_EQ(report["content_checked"], files.size() - 1);
  Json sampled = verify(50);
  ASSERT_EQ(sampled["differences"].size(), 1u) << sampled.dump(2);
  EXPECT_EQ(sampled["differences"][0]["path"], "sub/b.bin");
  EXPECT_LT(sampled["content_checked"].get<int>(), report["content_checked"].get<int>());

  // Rewritten at the same size on the brick: only its content tells, hashed on dst1.
  auto rewrite = OnNode("dst1", {"/bin/dd", "if=/dev/zero", "of=" + brick + "/e.txt", "bs=4k",
                                 "count=1", "conv=notrunc", "status=none"});
  ASSERT_EQ(rewrite.exit_code, 0) << rewrite.err;
  report = verify(100);
  std::map<std::string, std::string> found;
  for (const auto& d : report["differences"]) found[d["path"]] = d["difference"];
  EXPECT_EQ(found, (std::map<std::string, std::string>{
                       {"e.txt", "content differs"},
                       {"sub/b.bin", "32768 bytes at the source, 1000 at the destination"}}))
      << report.dump(2);

  // The CLI says the same and exits 1; each verify is an event.
  const std::vector<std::string> env = {"GEOREP_CONFIG_DIR=" + data_.path() + "/cli"};
  auto login = RunCommand({GeorepBinary(), "login", "--server", engine_->url(), "--password-stdin"},
                          engine_->admin_password() + "\n", env);
  ASSERT_EQ(login.exit_code, 0) << login.err;
  auto cli = RunCommand({GeorepBinary(), "verify", id, "--sample", "50"}, "", env, 120);
  EXPECT_EQ(cli.exit_code, 1) << cli.out << cli.err;
  EXPECT_NE(cli.out.find("sub/b.bin: 32768 bytes at the source, 1000 at the destination"),
            std::string::npos)
      << cli.out;
  auto events =
      Json::parse(engine_->Get("/api/v1/events?action=session.verify", token_)->body)["items"];
  EXPECT_GE(events.size(), 5u);
  EXPECT_EQ(events[0]["result"], "failed") << events.dump(2);

  ASSERT_EQ(PostJson(path + "/stop", Json::object()).first, 200);
  OnNode("src1", {"/bin/umount", "-l", src_mnt});
  OnNode("dst1", {"/bin/umount", "-l", dst_mnt});
}

}  // namespace
}  // namespace georep::testing
