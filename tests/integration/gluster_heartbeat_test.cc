// Against real GlusterFS (tests/gluster/cluster.sh): a session created with the defaults copies
// contents, and the heartbeat measures lag and stalls (and a stall ends by itself).
#include <signal.h>

#include <cmath>

#include "base/clock.h"
#include "integration/gluster_fixture.h"

namespace georep::testing {
namespace {

// The session under test, as the engine's API shows it.
struct HeartbeatSession {
  EngineProcess& engine;
  std::string token, path;

  Json Get() const { return Json::parse(engine.Get(path, token)->body); }
  // Sets the session's config `key` to `value` (SetSessionConfig).
  void Set(const std::string& key, const std::string& value) const {
    SetSessionConfig(engine, token, path, key, value);
  }
  // The events of `action` ("session.stalled", ...).
  Json Events(const std::string& action) const {
    return Json::parse(engine.Get("/api/v1/events?action=" + action, token)->body)["items"];
  }
  // Whether the session shows an alert of `kind`.
  bool HasAlert(const std::string& kind) const {
    const Json now = Get();
    for (const auto& a : now["alerts"])
      if (a["kind"] == kind) return true;
    return false;
  }
};

// The heartbeat's lag against a probe file's: a probe is written on the source mount the
// moment a new heartbeat appears there (both then travel in the same gsyncd batch, unless a
// changelog rollover falls between them), and timed to its arrival on the destination;
// the session's lag is read once the engine has seen that heartbeat arrive. A heartbeat
// every 20 s: longer than a changelog's 15 s, so no newer heartbeat travels in the same
// batch (its shorter wait would be the newest measured). Three pairs; their median
// difference is compared. A pair during which gsyncd stalled by itself (this lab's live
// crawl now and then stops; the restart then sends what waited, in other batches) measures
// gsyncd's stall, not the heartbeat: it is left out, and said so.
void CompareTheLagWithProbeFiles(const HeartbeatSession& view, const std::string& src_mnt,
                                 const std::string& dst_mnt, const std::string& id) {
  const std::string state_dir = GEOREP_GLUSTER_STATE;
  ASSERT_NO_FATAL_FAILURE(view.Set("heartbeat-interval", "20"));
  ASSERT_NO_FATAL_FAILURE(view.Set("stall-threshold", "60"));
  // Each heartbeat is a file of its own, .georep/heartbeat/SESSION/SEQ.
  const std::string hb_dir = src_mnt + "/.georep/heartbeat/" + id;
  auto newest_heartbeat = [&] {
    auto r = OnNode("src1", {"/bin/sh", "-c", "ls \"$1\" | sort -n | tail -n 1", "sh", hb_dir});
    std::string name = r.out.substr(0, r.out.find('\n'));
    return name.empty() ? std::string() : OnNode("src1", {"/bin/cat", hb_dir + "/" + name}).out;
  };
  std::vector<double> differences;
  for (int pair = 0; pair < 8 && differences.size() < 3; ++pair) {
    const size_t restarts_then = view.Events("session.stall_restart").size();
    const std::string seen_before = newest_heartbeat();
    std::string hb_text;
    WaitFor(
        30,
        [&] {
          hb_text = newest_heartbeat();
          return !hb_text.empty() && hb_text != seen_before;
        },
        100);
    ASSERT_NE(hb_text, seen_before);
    const int64_t probe_written = NowMs();
    const std::string probe = "probe" + std::to_string(pair) + ".txt";
    std::ofstream(state_dir + "/" + probe) << "probe " << probe_written << "\n";
    ASSERT_EQ(OnNode("src1", {"/bin/cp", state_dir + "/" + probe, src_mnt + "/" + probe}).exit_code,
              0);
    int64_t probe_arrived = 0;
    WaitFor(
        180,
        [&] {
          if (OnNode("dst1", {"/usr/bin/test", "-s", dst_mnt + "/" + probe}).exit_code != 0)
            return false;
          probe_arrived = NowMs();
          return true;
        },
        100);
    ASSERT_NE(probe_arrived, 0) << probe << " never arrived";
    const auto at = hb_text.find("written ");
    ASSERT_NE(at, std::string::npos) << hb_text;
    const std::string written =
        FormatIsoMillis(std::stoll(hb_text.substr(at + 8, hb_text.find('\n', at) - at - 8)));
    Json measured;
    ASSERT_TRUE(WaitFor(60, [&] {
      measured = view.Get();
      const Json& hb = measured["heartbeat"];
      return hb.is_object() && hb["last_arrived_written"].is_string() &&
             hb["last_arrived_written"].get<std::string>() >= written &&
             measured["lag_seconds"].is_number();
    })) << measured.dump(2);
    const double probe_lag = static_cast<double>(probe_arrived - probe_written) / 1000.0;
    const double hb_lag = measured["lag_seconds"].get<double>();
    const bool disturbed =
        view.Events("session.stall_restart").size() > restarts_then || view.HasAlert("stalled");
    std::cout << "[ lag ] probe file " << probe_lag << " s, heartbeat " << hb_lag << " s"
              << (disturbed ? " (gsyncd stalled meanwhile: left out)" : "") << "\n";
    if (!disturbed) differences.push_back(std::abs(hb_lag - probe_lag));
  }
  ASSERT_EQ(differences.size(), 3u) << "gsyncd stalled during most probe pairs";
  std::sort(differences.begin(), differences.end());
  EXPECT_LE(differences[1], 2.0) << "median difference of the three pairs";
}

// Stalls: heartbeats every 2 s, stalled after 60 s on the way (this lab's own lag reaches
// ~30 s: gsyncd waits for a changelog's 15 s, then copies).
void FreezeTheWorkersAndSeeTheStallEnd(const HeartbeatSession& view, const std::string& src_mnt,
                                       const std::string& dst_mnt) {
  const std::string state_dir = GEOREP_GLUSTER_STATE;
  ASSERT_NO_FATAL_FAILURE(view.Set("heartbeat-interval", "2"));
  ASSERT_NO_FATAL_FAILURE(view.Set("stall-threshold", "60"));

  // gsyncd's workers frozen (as when its changelog consumer stops picking up changes):
  // gluster still says Active; georep shows the stall within the threshold, restarts the
  // session, and the stall ends.
  ASSERT_TRUE(WaitFor(120, [&] { return !view.HasAlert("stalled"); })) << view.Get().dump(2);
  const size_t stalls_before = view.Events("session.stalled").size();
  const size_t restarts_before = view.Events("session.stall_restart").size();
  const size_t cleared_before = view.Events("session.stalled_cleared").size();
  std::vector<pid_t> frozen;
  for (const char* node : {"src1", "src2"})
    for (pid_t p : GsyncdWorkers(node)) frozen.push_back(p);
  ASSERT_FALSE(frozen.empty());
  for (pid_t p : frozen) kill(p, SIGSTOP);
  const auto t0 = std::chrono::steady_clock::now();
  // Threshold 60 s, from the oldest heartbeat still on its way (written at most 2 s after the
  // freeze, perhaps before it), read every 250 ms.
  EXPECT_TRUE(WaitFor(120, [&] { return view.Events("session.stalled").size() > stalls_before; }))
      << view.Get().dump(2);
  const auto detected =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::cout << "[ stall ] shown " << detected << " s after the workers froze (threshold 60 s)\n";
  EXPECT_LE(detected, 60 + 2 + 20);
  EXPECT_TRUE(
      WaitFor(30, [&] { return view.Events("session.stall_restart").size() > restarts_before; }));

  // gluster's stop ends the frozen workers (SIGKILL reaches a stopped process); let any that
  // are left go on.
  for (pid_t p : frozen) kill(p, SIGCONT);
  std::ofstream(state_dir + "/after.txt") << "written during the stall\n";
  ASSERT_EQ(
      OnNode("src1", {"/bin/cp", state_dir + "/after.txt", src_mnt + "/after-stall.txt"}).exit_code,
      0);
  EXPECT_TRUE(WaitFor(240, [&] {
    return view.Events("session.stalled_cleared").size() > cleared_before;
  })) << view.Get().dump(2);
  EXPECT_TRUE(WaitFor(120, [&] {
    return OnNode("dst1", {"/usr/bin/test", "-s", dst_mnt + "/after-stall.txt"}).exit_code == 0;
  }));
  // (The stall's end is its cleared event above: this lab's gsyncd may stall again by itself
  // afterwards, which the heartbeat rightly shows.)
  EXPECT_FALSE(view.HasAlert("heartbeat-mismatch")) << view.Get().dump(2);
}

// The trust a Gluster session earns end to end, on Debian 12's own rsync (3.5, with which
// gsyncd's sync-method rsync writes every file as 0 bytes): a session created with the
// defaults copies every file's content (the preflight chose tarssh, and said why); the
// heartbeat's lag agrees with a probe file's; a stall (gsyncd's workers frozen) is shown
// within the threshold and, with stall-action restart, ends by itself.
TEST_F(GlusterTest, DefaultsCopyContentsAndTheHeartbeatMeasuresLagAndStalls) {
  const std::string state = GEOREP_GLUSTER_STATE;
  Source source;
  ASSERT_NO_FATAL_FAILURE(ImportSource(&source));
  std::string dest_id;
  ASSERT_NO_FATAL_FAILURE(CreateDestinationOnDst1(source, &dest_id));
  const std::string src_mnt = state + "/src1/mnt-hb", dst_mnt = state + "/dst1/mnt-hb";
  ASSERT_NO_FATAL_FAILURE(MountVolumes(src_mnt, "gv2", dst_mnt));
  // Files of several sizes, written before start (the first crawl carries them).
  std::vector<std::string> files;
  for (int i = 0; i < 12; ++i) {
    const std::string name = "f" + std::to_string(i) + ".bin";
    const int kib = i == 0 ? 2048 : 1 + i * 37;
    auto dd = OnNode("src1", {"/bin/dd", "if=/dev/urandom", "of=" + src_mnt + "/" + name, "bs=1k",
                              "count=" + std::to_string(kib), "status=none"});
    ASSERT_EQ(dd.exit_code, 0) << dd.err;
    files.push_back(name);
  }

  // Created with the defaults: the preflight finds Debian's rsync and chooses tarssh.
  auto [s_status, created] = PostJson("/api/v1/sessions", {{"destination_id", dest_id},
                                                           {"source_volume_id", source.volume},
                                                           {"destination_volume", "gv2"}});
  ASSERT_EQ(s_status, 201) << created.dump(2);
  std::cout << "[ preflight ] " << created["preflight"].dump(2) << "\n";
  ASSERT_EQ(created["preflight"]["nodes"].size(), 3u) << created.dump(2);
  for (const auto& n : created["preflight"]["nodes"]) {
    EXPECT_EQ(n["rsync"], "3.5.0") << n.dump();
    EXPECT_FALSE(n["gluster"].is_null()) << n.dump();
  }
  ASSERT_EQ(created["warnings"].size(), 1u) << created.dump(2);
  EXPECT_NE(created["warnings"][0].get<std::string>().find("sync-method tarssh chosen"),
            std::string::npos);
  EXPECT_TRUE(created["alerts"].empty());
  const std::string id = created["id"];
  const std::string path = "/api/v1/sessions/" + id;
  const HeartbeatSession view{*engine_, token_, path};
  auto session = [&] { return view.Get(); };
  auto gluster_says = [&](const std::string& key) {
    return GlusterConfigOnNode("src1", "gv0", nodes_[2].ip + "::gv2", key);
  };
  EXPECT_EQ(gluster_says("sync-method"), "tarssh");
  // rsync there is refused unless forced.
  auto rsync = engine_->Put(path + "/config/sync-method", R"({"value":"rsync"})", token_);
  EXPECT_EQ(rsync->status, 409) << rsync->body;
  EXPECT_NE(rsync->body.find("0 bytes"), std::string::npos) << rsync->body;
  EXPECT_EQ(gluster_says("sync-method"), "tarssh");

  // Heartbeats every 2 s; restarted when stalled (this lab's gsyncd now and then stops
  // picking up changes by itself: the restart is what recovers it).
  for (const auto& [key, value] : {std::pair{"heartbeat-interval", "2"},
                                   {"stall-threshold", "120"},
                                   {"stall-action", "restart"}}) {
    ASSERT_NO_FATAL_FAILURE(view.Set(key, value));
  }
  EXPECT_EQ(session()["lag_seconds"], nullptr);  // nothing measured yet: unknown, not 0

  auto started = PostJson(path + "/start", Json::object());
  ASSERT_EQ(started.first, 200) << started.second.dump();
  // Every file arrives with its content (checked by content, not by count).
  for (const auto& name : files) {
    const std::string want = Sha256OnNode("src1", src_mnt + "/" + name);
    ASSERT_EQ(want.size(), 64u);
    EXPECT_TRUE(WaitFor(180, [&] { return Sha256OnNode("dst1", dst_mnt + "/" + name) == want; }))
        << name << " did not arrive intact: " << OnNode("dst1", {"/bin/ls", "-la", dst_mnt}).out;
  }
  // Heartbeats arrive, and the session's lag is measured.
  ASSERT_TRUE(WaitFor(180, [&] {
    const Json s = session();
    return s["heartbeat"].is_object() && s["heartbeat"]["last_arrived"].is_string() &&
           s["lag_seconds"].is_number();
  })) << session().dump(2);
  EXPECT_EQ(session()["status"], "Active") << session().dump(2);

  ASSERT_NO_FATAL_FAILURE(CompareTheLagWithProbeFiles(view, src_mnt, dst_mnt, id));
  ASSERT_NO_FATAL_FAILURE(FreezeTheWorkersAndSeeTheStallEnd(view, src_mnt, dst_mnt));

  // Removed: its heartbeat files go from the source volume, and georep's heartbeat mounts (the
  // volumes' last session) from every node.
  ASSERT_EQ(engine_->Post(path + "/stop?force=true", "{}", token_)->status, 200);
  ASSERT_EQ(engine_->Delete(path, token_)->status, 204);
  EXPECT_NE(OnNode("src1", {"/usr/bin/test", "-e", src_mnt + "/.georep/heartbeat/" + id}).exit_code,
            0);
  for (const auto& [node, volume] : {std::pair{"src1", "gv0"}, {"src2", "gv0"}, {"dst1", "gv2"}})
    EXPECT_NE(
        OnNode(node, {"/usr/bin/mountpoint", "-q", std::string("/run/georep/heartbeat/") + volume})
            .exit_code,
        0)
        << node << " still has georep's heartbeat mount of " << volume;

  OnNode("src1", {"/bin/umount", "-l", src_mnt});
  OnNode("dst1", {"/bin/umount", "-l", dst_mnt});
}

}  // namespace
}  // namespace georep::testing
