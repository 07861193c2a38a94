// The destination of a directory session becomes unreachable while the engine runs it: its
// sshd is stopped and the established connection cut (by PID). The session shows Faulty with
// the reason, the supervisor keeps restarting the worker with back-off, and once the sshd is
// back on the same port the session recovers by itself with nothing lost.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "integration/engine_process.h"
#include "integration/replication_support.h"
#include "integration/sshd_server.h"
#include "replication/replicator.h"
#include "replication/test_util.h"

namespace georep::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using replication::testing::WriteFile;

TEST(DestinationOutage, FaultyWithTheReasonThenRecoversByItselfWithNothingLost) {
  TempDir data, src, dst, sshd_dir;
  EngineProcess engine(data.path(), {"--monitor-interval", "1"});
  ASSERT_TRUE(engine.Start()) << engine.output();
  const std::string token = engine.Login(engine.admin_password());
  ASSERT_FALSE(token.empty());
  auto post = [&](const std::string& path, const Json& body) {
    auto r = engine.Post(path, body.dump(), token);
    EXPECT_TRUE(r) << path;
    return r ? std::make_pair(r->status, Json::parse(r->body, nullptr, false))
             : std::make_pair(0, Json());
  };

  // The destination: a private sshd on loopback that trusts the engine's key, pinned by its
  // host key's fingerprint.
  auto key = engine.Get("/api/v1/engine/ssh-key", token);
  ASSERT_TRUE(key && key->status == 200) << (key ? key->body : "no answer");
  const std::string engine_key = Json::parse(key->body)["public_key"];
  SshServer sshd(sshd_dir.path());
  ASSERT_TRUE(sshd.Start(engine_key)) << sshd.error();

  auto [c_status, cluster] = post("/api/v1/clusters", {{"name", "local"}});
  ASSERT_EQ(c_status, 201) << cluster.dump();
  const std::string cid = cluster["id"];
  auto [h_status, host] =
      post("/api/v1/clusters/" + cid + "/hosts", {{"name", "localhost"}, {"transport", "local"}});
  ASSERT_EQ(h_status, 201) << host.dump();
  auto [v_status, volume] = post("/api/v1/clusters/" + cid + "/volumes",
                                 {{"name", "docs"}, {"host_id", host["id"]}, {"path", src.path()}});
  ASSERT_EQ(v_status, 201) << volume.dump();
  auto [d_status, dest] = post("/api/v1/clusters/" + cid + "/destinations",
                               {{"source_host_id", host["id"]},
                                {"host", "127.0.0.1"},
                                {"ssh_port", sshd.port()},
                                {"ssh_fingerprint", sshd.HostFingerprint()},
                                {"remote_user", "root"}});
  ASSERT_EQ(d_status, 201) << dest.dump();
  auto [s_status, created] = post("/api/v1/sessions", {{"destination_id", dest["id"]},
                                                       {"source_volume_id", volume["id"]},
                                                       {"destination_volume", dst.path()}});
  ASSERT_EQ(s_status, 201) << created.dump();
  const std::string path = "/api/v1/sessions/" + created["id"].get<std::string>();
  const std::string state = data.path() + "/sessions/" + created["id"].get<std::string>();
  // The agent on the destination is this build's.
  const Json remote = {{"value", GeorepBinary() + " agent"}};
  auto set = engine.Put(path + "/config/remote-command", remote.dump(), token);
  ASSERT_TRUE(set && set->status == 200) << (set ? set->body : "no answer");
  auto session = [&] { return Json::parse(engine.Get(path, token)->body); };
  auto node = [&] { return session()["nodes"][0]; };
  auto events = [&](const std::string& action) {
    return Json::parse(engine.Get("/api/v1/events?action=" + action, token)->body)["items"];
  };
  auto diagnose = [&] {
    return session().dump(2) + "\nworker.log:\n" +
           replication::testing::ReadFile(state + "/worker.log") + "\nagent.log:\n" +
           replication::testing::ReadFile(state + "/agent.log");
  };

  std::mt19937_64 rng(3);
  fs::create_directories(src.path() + "/docs/old");
  for (int i = 0; i < 20; ++i) {
    std::string data_bytes(static_cast<size_t>(rng() % 100000), '\0');
    for (auto& c : data_bytes) c = static_cast<char>(rng());
    WriteFile(src.path() + "/docs/old/f" + std::to_string(i), data_bytes);
  }
  EXPECT_EQ(post(path + "/start", Json::object()).first, 200);
  ASSERT_TRUE(WaitFor(60,
                      [&] {
                        const Json n = node();
                        return n["status"] == "Active" && n["crawl_status"] == "Changelog Crawl" &&
                               SameTree(src.path(), dst.path());
                      }))
      << diagnose() << DescribeTreeDiff(src.path(), dst.path());

  // The outage: the listener stops, and the established connection (sshd's per-connection
  // processes and the agent beneath them, found by PID) is cut.
  std::vector<pid_t> connection;
  for (pid_t child : ChildrenOf(sshd.pid()))
    for (pid_t p : ProcessTree(child)) connection.push_back(p);
  ASSERT_FALSE(connection.empty()) << "no connection to the destination's sshd";
  sshd.Stop();
  for (pid_t p : connection) ::kill(p, SIGKILL);

  // Nothing changes on the source, yet the worker notices at once that the destination is gone.
  std::string reason;
  ASSERT_TRUE(WaitFor(30, [&] {
    const Json n = node();
    reason = n.value("status_reason", "");
    return n["status"] == "Faulty";
  })) << diagnose();
  EXPECT_NE(reason.find("Connection to 127.0.0.1 closed"), std::string::npos) << reason;
  EXPECT_TRUE(WaitFor(20, [&] { return !events("session.faulty").empty(); })) << diagnose();

  // Changes while the destination is away: new files, a change, a delete, a rename.
  fs::create_directories(src.path() + "/docs/while-away");
  for (int i = 0; i < 10; ++i)
    WriteFile(src.path() + "/docs/while-away/n" + std::to_string(i), "new " + std::to_string(i));
  WriteFile(src.path() + "/docs/old/f0", "changed while away");
  fs::remove(src.path() + "/docs/old/f1");
  fs::rename(src.path() + "/docs/old/f2", src.path() + "/docs/f2-moved");

  // The supervisor restarts the worker; the restarted worker cannot connect and says so.
  ASSERT_TRUE(WaitFor(60,
                      [&] {
                        const Json n = node();
                        reason = n.value("status_reason", "");
                        return n["status"] == "Faulty" &&
                               reason.find("refused") != std::string::npos;
                      }))
      << reason << "\n"
      << diagnose();
  EXPECT_NE(reason.find("cannot reach the destination"), std::string::npos) << reason;
  EXPECT_NE(reason.find("127.0.0.1"), std::string::npos) << reason;
  EXPECT_FALSE(SameTree(src.path(), dst.path()));  // it cannot have arrived

  // The destination comes back on the same port: the session recovers without anyone acting.
  ASSERT_TRUE(sshd.Start(engine_key)) << sshd.error();
  EXPECT_TRUE(
      WaitFor(90, [&] { return node()["status"] == "Active" && SameTree(src.path(), dst.path()); }))
      << diagnose() << DescribeTreeDiff(src.path(), dst.path());
  EXPECT_TRUE(WaitFor(20, [&] { return !events("session.recovered").empty(); })) << diagnose();
  EXPECT_EQ(replication::testing::ReadFile(dst.path() + "/docs/old/f0"), "changed while away");
  EXPECT_FALSE(fs::exists(dst.path() + "/docs/old/f1"));
  EXPECT_TRUE(replication::testing::GeorepTempFiles(dst.path()).empty());
  EXPECT_EQ(post(path + "/stop", Json::object()).first, 200);
}

}  // namespace
}  // namespace georep::testing
