// Against real GlusterFS (tests/gluster/cluster.sh): the whole life of a geo-replication
// session driven through georep's API.
#include <signal.h>

#include <algorithm>

#include "integration/gluster_fixture.h"

namespace georep::testing {
namespace {

// The session under test, as the engine's API and gluster's CLI on src1 show it.
struct SessionView {
  EngineProcess& engine;
  std::string token, path, dst_ip;

  Json Get() const { return Json::parse(engine.Get(path, token)->body); }
  // The events of `action` ("session.faulty", ...).
  Json Events(const std::string& action) const {
    return Json::parse(engine.Get("/api/v1/events?action=" + action, token)->body)["items"];
  }
  // What gluster's config of the gv0 -> dst1::gv1 session says `key` is.
  std::string GlusterSays(const std::string& key) const {
    return GlusterConfigOnNode("src1", "gv0", dst_ip + "::gv1", key);
  }
};

// The candidates, as the console's New Session dialog lists them: gv2 eligible first, gv1
// with its reason.
void ExpectCandidates(EngineProcess& engine, const std::string& token,
                      const std::string& destination, const std::string& volume) {
  auto candidates = engine.Get(
      "/api/v1/destinations/" + destination + "/volumes?source_volume_id=" + volume, token);
  ASSERT_EQ(candidates->status, 200) << candidates->body;
  Json items = Json::parse(candidates->body)["items"];
  ASSERT_EQ(items.size(), 2u) << items.dump();
  EXPECT_EQ(items[0]["name"], "gv2");
  EXPECT_EQ(items[0]["eligible"], true) << items.dump();
  EXPECT_EQ(items[1]["name"], "gv1");
  EXPECT_EQ(items[1]["eligible"], false);
  ASSERT_EQ(items[1]["reasons"].size(), 1u) << items.dump();
  EXPECT_EQ(items[1]["reasons"][0].get<std::string>().rfind("not-empty:", 0), 0u) << items.dump();
  EXPECT_GT(items[0]["size_bytes"].get<int64_t>(), 0);
}

// An admin's own gluster commands while the monitor runs (every 2 s here): none meets
// "Another transaction is in progress". The monitor reads gsyncd's files on the nodes and
// takes no glusterd lock; when it asked gluster's status detail every pass (2.4 to 3.8 s
// each on this lab), most of these failed.
void ExpectAdminCommandsMeetNoLock(const SessionView& view, const std::string& dst_ip) {
  std::vector<std::string> failed;
  const std::string before_updated = view.Get()["updated_at"].dump();
  for (int i = 1; i <= 10; ++i) {  // each takes seconds: gluster restarts the workers
    auto r = OnNode("src1", {"/usr/sbin/gluster", "--mode=script", "volume", "geo-replication",
                             "gv0", dst_ip + "::gv1", "config", "sync-jobs", i % 2 ? "4" : "3"});
    if (r.exit_code != 0) failed.push_back(r.out + r.err);
  }
  EXPECT_TRUE(failed.empty()) << failed.size() << " of 10 failed, the first: " << failed[0];
  // ... while the monitor kept the status fresh: each change restarts gsyncd's workers
  // (Initializing), and the monitor sees them Active again.
  EXPECT_NE(view.Get()["updated_at"].dump(), before_updated);
  EXPECT_TRUE(WaitFor(120, [&] { return view.Get()["status"] == "Active"; })) << view.Get().dump(2);
  EXPECT_EQ(view.GlusterSays("sync-jobs"), "3");
}

// src1's glusterd is killed: the monitor fails over to src2, which does not report src1's
// brick: that node is Faulty with the reason, and an event says so. The session is Partial
// faulty while src2's worker is not Active yet, Active once it is (the replica set goes on
// replicating); which of the two the monitor sees depends on which node gluster had made
// Active. glusterd back: the node recovers, with an event.
void KillGlusterdOfSrc1AndBringItBack(const SessionView& view) {
  auto node_of_src1 = [&] {
    const Json now = view.Get();
    for (const auto& n : now["nodes"])
      if (n["source_host"] == "10.77.0.1") return n;
    return Json();
  };
  auto kill =
      OnNode("src1", {"/bin/sh", "-c",
                      "kill $(cat " + std::string(GEOREP_GLUSTER_STATE) + "/src1/pids/glusterd)"});
  ASSERT_EQ(kill.exit_code, 0) << kill.err;
  EXPECT_TRUE(WaitFor(60, [&] { return node_of_src1().value("status", "") == "Faulty"; }))
      << view.Get().dump(2);
  EXPECT_NE(node_of_src1().value("status_reason", "").find("does not answer its peers"),
            std::string::npos)
      << view.Get().dump(2);
  EXPECT_FALSE(view.Get()["status_reason"].get<std::string>().empty());
  const std::string degraded = view.Get()["status"];
  EXPECT_TRUE(degraded == "Partial faulty" || degraded == "Active") << degraded;
  EXPECT_TRUE(WaitFor(10, [&] { return !view.Events("session.node_faulty").empty(); }));
  if (degraded == "Partial faulty") {
    EXPECT_TRUE(WaitFor(10, [&] { return !view.Events("session.faulty").empty(); }));
  }
  auto back = OnNode(
      "src1", {"/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "/usr/sbin/glusterd",
               "-p", std::string(GEOREP_GLUSTER_STATE) + "/src1/pids/glusterd"});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_TRUE(WaitFor(90, [&] {
    const std::string node = node_of_src1().value("status", "");
    return view.Get()["status"] == "Active" && (node == "Active" || node == "Passive");
  })) << view.Get().dump(2);
  EXPECT_TRUE(WaitFor(10, [&] { return !view.Events("session.node_recovered").empty(); }));
  if (degraded == "Partial faulty") {
    EXPECT_TRUE(WaitFor(10, [&] { return !view.Events("session.recovered").empty(); }));
  }
}

// The destination unreachable from the source nodes, gsyncd's connections to it cut: the
// workers go Faulty, and each node shows why from gsyncd's log on it -- first the cut
// connection, within a minute what ssh says on gsyncd's retries. Reachable again: recovered,
// the reasons gone.
void CutTheDestinationOffAndBack(const SessionView& view, const std::string& dst_ip) {
  UnreachableFromSources cut(dst_ip);
  for (const char* node : {"src1", "src2"}) ASSERT_TRUE(cut.Cut(node)) << node;
  for (const char* node : {"src1", "src2"})
    for (pid_t pid : SshClientsTo(node, dst_ip)) ::kill(pid, SIGTERM);
  const auto cut_at = std::chrono::steady_clock::now();
  auto said = [&](const std::string& words) {
    const Json now = view.Get();
    for (const auto& n : now["nodes"]) {
      const std::string reason = n.value("status_reason", "");
      if (n["status"] == "Faulty" && reason.rfind("gsyncd on ", 0) == 0 &&
          reason.find(words) != std::string::npos)
        return true;
    }
    return false;
  };
  EXPECT_TRUE(WaitFor(60, [&] { return said(""); })) << view.Get().dump(2);
  std::cout << "[ timing ] a Faulty node's reason from gsyncd's log after "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                cut_at)
                   .count()
            << " s\n";
  EXPECT_TRUE(WaitFor(150, [&] {
    return said("ssh: connect to host " + dst_ip + " port 22: No route to host");
  })) << view.Get().dump(2);
  std::cout << "[ timing ] ssh's words after "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                cut_at)
                   .count()
            << " s\n";
  {
    const Json now = view.Get();
    EXPECT_NE(now["status_reason"].get<std::string>().find("gsyncd on "), std::string::npos)
        << now.dump(2);
    for (const auto& n : now["nodes"])
      std::cout << "[ reason ] " << n["source_host"].get<std::string>() << " "
                << n["status"].get<std::string>() << ": " << n["status_reason"].get<std::string>()
                << "\n";
  }
  EXPECT_TRUE(WaitFor(10, [&] {
    const Json all = view.Events("session.node_faulty");
    for (const auto& e : all)
      if (e["message"].get<std::string>().find("is Faulty: gsyncd on ") != std::string::npos)
        return true;
    return false;
  })) << view.Events("session.node_faulty").dump(2);

  cut.Restore();
  const auto restored_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitFor(120, [&] {
    const Json now = view.Get();
    if (now["status"] != "Active") return false;
    for (const auto& n : now["nodes"])
      if (n["status"] != "Active" && n["status"] != "Passive") return false;
    return true;
  })) << view.Get().dump(2);
  std::cout << "[ timing ] recovered after "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                restored_at)
                   .count()
            << " s (the whole outage "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                cut_at)
                   .count()
            << " s)\n";
  const Json recovered = view.Get();
  EXPECT_EQ(recovered["status_reason"], "") << recovered.dump(2);
  for (const auto& n : recovered["nodes"]) EXPECT_EQ(n["status_reason"], "") << recovered.dump(2);
}

// Pause, resume, stop, each valid only where gluster accepts it; remove.
void PauseResumeStopRemove(const SessionView& view, const std::string& dst_ip) {
  auto resume_early = view.engine.Post(view.path + "/resume", "{}", view.token);
  EXPECT_EQ(resume_early->status, 409) << resume_early->body;
  auto paused = view.engine.Post(view.path + "/pause", "{}", view.token);
  ASSERT_EQ(paused->status, 200) << paused->body;
  EXPECT_EQ(Json::parse(paused->body)["status"], "Paused") << paused->body;
  auto resumed = view.engine.Post(view.path + "/resume", "{}", view.token);
  ASSERT_EQ(resumed->status, 200) << resumed->body;
  EXPECT_NE(Json::parse(resumed->body)["status"], "Paused") << resumed->body;
  auto removing_running = view.engine.Delete(view.path, view.token);
  EXPECT_EQ(removing_running->status, 409) << removing_running->body;
  auto stopped = view.engine.Post(view.path + "/stop", "{}", view.token);
  ASSERT_EQ(stopped->status, 200) << stopped->body;
  EXPECT_EQ(Json::parse(stopped->body)["status"], "Stopped") << stopped->body;
  auto removed = view.engine.Delete(view.path, view.token);
  ASSERT_EQ(removed->status, 204) << removed->body;
  EXPECT_EQ(view.engine.Get(view.path, view.token)->status, 404);
  auto gone = OnNode("src1", {"/usr/sbin/gluster", "--mode=script", "volume", "geo-replication",
                              "gv0", dst_ip + "::gv1", "status"});
  EXPECT_NE(gone.exit_code, 0) << gone.out;
}

// The whole life of a session on real GlusterFS, driven through georep's API while its
// monitor runs: eligibility, create, start, data arriving, config, checkpoint, a node's
// glusterd killed and back, pause/resume/stop/remove, and a session made by hand discovered.
TEST_F(GlusterTest, SessionLifecycleOnRealGluster) {
  const std::string state = GEOREP_GLUSTER_STATE;
  Source source;
  ASSERT_NO_FATAL_FAILURE(ImportSource(&source));
  const std::string& volume = source.volume;
  std::string destination;
  ASSERT_NO_FATAL_FAILURE(CreateDestinationOnDst1(source, &destination));

  // The destination volume is not empty: refused with the reason, nothing created.
  const std::string src_mnt = state + "/src1/mnt-gv0", dst_mnt = state + "/dst1/mnt-gv1";
  ASSERT_NO_FATAL_FAILURE(MountVolumes(src_mnt, "gv1", dst_mnt));
  ASSERT_EQ(OnNode("dst1", {"/bin/cp", "/etc/hostname", dst_mnt + "/already-here"}).exit_code, 0);
  Json sbody = {
      {"destination_id", destination}, {"source_volume_id", volume}, {"destination_volume", "gv1"}};
  auto refused = engine_->Post("/api/v1/sessions", sbody.dump(), token_);
  EXPECT_EQ(refused->status, 409) << refused->body;
  EXPECT_NE(refused->body.find("not-empty"), std::string::npos) << refused->body;
  EXPECT_NE(refused->body.find("already-here"), std::string::npos) << refused->body;
  EXPECT_TRUE(Json::parse(engine_->Get("/api/v1/sessions", token_)->body)["items"].empty());

  ASSERT_NO_FATAL_FAILURE(ExpectCandidates(*engine_, token_, destination, volume));

  // With force, and tarssh (Debian's rsync would write empty files: the preflight says so).
  sbody["force"] = true;
  sbody["sync_method"] = "tarssh";
  auto created = engine_->Post("/api/v1/sessions", sbody.dump(), token_);
  ASSERT_EQ(created->status, 201) << created->body;
  const std::string id = Json::parse(created->body)["id"];
  const std::string path = "/api/v1/sessions/" + id;
  const SessionView view{*engine_, token_, path, nodes_[2].ip};
  auto session = [&] { return view.Get(); };
  auto node_statuses = [&] {
    std::multiset<std::string> out;
    const Json now = session();
    for (const auto& n : now["nodes"]) out.insert(n["status"].get<std::string>());
    return out;
  };
  auto gluster_says = [&](const std::string& key) { return view.GlusterSays(key); };
  EXPECT_EQ(gluster_says("sync-method"), "tarssh");

  auto events = [&](const std::string& action) { return view.Events(action); };

  // Files written on the source mount before start, and a checkpoint (a given time, two minutes
  // ago) that the session's first crawl completes. Files written after start depend on
  // gsyncd's live changelog consumer, which in this lab now and then never receives a changelog
  // (the worker stays Active in Changelog Crawl and nothing moves); so what is checked here
  // does not depend on it. "checkpoint now" is covered by gluster_monitor_test.
  for (const char* name : {"one.bin", "two.bin"}) {
    auto dd = OnNode("src1", {"/bin/dd", "if=/dev/urandom", "of=" + src_mnt + "/" + name, "bs=64k",
                              "count=5", "status=none"});
    ASSERT_EQ(dd.exit_code, 0) << dd.err;
  }
  const auto two_minutes_ago = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count() -
                               120;
  Json at = {{"value", std::to_string(two_minutes_ago)}};
  auto cp = engine_->Put(path + "/config/checkpoint", at.dump(), token_);
  ASSERT_EQ(cp->status, 200) << cp->body;
  EXPECT_EQ(Json::parse(cp->body)["value"], std::to_string(two_minutes_ago)) << cp->body;

  // Start: one Active and one Passive node (replica 2) within a bounded time.
  auto started = engine_->Post(path + "/start", "{}", token_);
  ASSERT_EQ(started->status, 200) << started->body;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor(120, [&] {
    return node_statuses() == std::multiset<std::string>{"Active", "Passive"};
  })) << session().dump(2);
  std::cout << "[ timing ] Active/Passive after "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                t0)
                   .count()
            << " s\n";
  EXPECT_EQ(session()["status"], "Active");

  // The files arrive with identical content (tarssh; rsync would leave them empty).
  for (const char* name : {"one.bin", "two.bin"}) {
    const std::string want = Sha256OnNode("src1", src_mnt + "/" + name);
    ASSERT_EQ(want.size(), 64u);
    EXPECT_TRUE(WaitFor(120, [&] { return Sha256OnNode("dst1", dst_mnt + "/" + name) == want; }))
        << name << " did not arrive intact; on the destination: "
        << OnNode("dst1", {"/bin/ls", "-la", dst_mnt}).out << "\ngsyncd's log on src1:\n"
        << OnNode("src1",
                  {"/usr/bin/tail", "-n", "40",
                   "/var/log/glusterfs/geo-replication/gv0_" + nodes_[2].ip + "_gv1/gsyncd.log"})
               .out;
  }

  // The checkpoint completes, and the monitor says so once.
  EXPECT_TRUE(WaitFor(120, [&] {
    const Json now = session();
    for (const auto& n : now["nodes"])
      if (n["status"] == "Active" && n["checkpoint_completed"] == true) return true;
    return false;
  })) << session().dump(2);
  EXPECT_TRUE(WaitFor(10, [&] { return events("session.checkpoint_completed").size() == 1; }));

  ExpectAdminCommandsMeetNoLock(view, nodes_[2].ip);

  // Config: set, seen by gluster; reset, back to gluster's default.
  auto set = engine_->Put(path + "/config/sync-jobs", R"({"value":"5"})", token_);
  ASSERT_EQ(set->status, 200) << set->body;
  EXPECT_EQ(gluster_says("sync-jobs"), "5");
  auto bad = engine_->Put(path + "/config/sync-jobs", R"({"value":"many"})", token_);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_EQ(gluster_says("sync-jobs"), "5");
  auto reset = engine_->Delete(path + "/config/sync-jobs", token_);
  ASSERT_EQ(reset->status, 204) << reset->body;
  EXPECT_EQ(gluster_says("sync-jobs"), "3");

  ASSERT_NO_FATAL_FAILURE(KillGlusterdOfSrc1AndBringItBack(view));

  ASSERT_NO_FATAL_FAILURE(CutTheDestinationOffAndBack(view, nodes_[2].ip));

  ASSERT_NO_FATAL_FAILURE(PauseResumeStopRemove(view, nodes_[2].ip));

  // A session created by hand with the gluster CLI is discovered by the monitor (its
  // directory appears among gsyncd's files). The admin's command needs no retry: the monitor
  // holds no glusterd lock it could meet.
  CommandResult by_hand =
      OnNode("src1", {"/usr/sbin/gluster", "--mode=script", "volume", "geo-replication", "gv0",
                      nodes_[2].ip + "::gv2", "create", "no-verify"});
  ASSERT_EQ(by_hand.exit_code, 0) << by_hand.out << by_hand.err;
  // Discovered, it is recorded first (status Unknown) and its status from the same poll's answer
  // right after: wait for that.
  Json found;
  EXPECT_TRUE(WaitFor(30, [&] {
    const Json all = Json::parse(engine_->Get("/api/v1/sessions", token_)->body);
    for (const auto& s : all["items"])
      if (s["destination_volume"] == "gv2") found = s;
    return !found.is_null() && found["status"] != "Unknown";
  })) << found.dump();
  EXPECT_EQ(found["source_volume_id"], volume);
  EXPECT_EQ(found["destination_id"], destination);  // the destination georep already knew
  EXPECT_EQ(found["status"], "Created");
  EXPECT_EQ(events("session.discovered").size(), 1u);

  OnNode("src1", {"/bin/umount", "-l", src_mnt});
  OnNode("dst1", {"/bin/umount", "-l", dst_mnt});
}

}  // namespace
}  // namespace georep::testing
