// V7: an ssh-command cannot unpin a destination's host key. Against a real engine and real
// sshds on loopback: options that would weaken the pin are refused when set (with the reason),
// options that tune ssh are accepted and used, and with them the worker still connects only
// to the host whose key is pinned: pointed at another sshd (another host key) on the same
// machine, it turns Faulty and writes nothing there.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "integration/engine_process.h"
#include "integration/replication_support.h"
#include "integration/sshd_server.h"
#include "replication/test_util.h"

namespace georep::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using replication::testing::WriteFile;

TEST(CommandOptions, AnSshCommandCannotUnpinTheDestinationsHostKey) {
  TempDir data, src, dst, pinned_dir, other_dir;
  EngineProcess engine(data.path(), {"--monitor-interval", "1"});
  ASSERT_TRUE(engine.Start()) << engine.output();
  const std::string token = engine.Login(engine.admin_password());
  ASSERT_FALSE(token.empty());
  auto call = [&](const std::string& method, const std::string& path, const Json& body) {
    httplib::Result r = method == "PUT" ? engine.Put(path, body.dump(), token)
                                        : engine.Post(path, body.dump(), token);
    EXPECT_TRUE(r) << path;
    return r ? std::make_pair(r->status, Json::parse(r->body, nullptr, false))
             : std::make_pair(0, Json());
  };

  auto key = engine.Get("/api/v1/engine/ssh-key", token);
  ASSERT_TRUE(key && key->status == 200);
  const std::string engine_key = Json::parse(key->body)["public_key"];
  // Two sshds on this machine, each with its own host key; both trust the engine's key.
  SshServer pinned(pinned_dir.path()), other(other_dir.path());
  ASSERT_TRUE(pinned.Start(engine_key)) << pinned.error();
  ASSERT_TRUE(other.Start(engine_key)) << other.error();
  ASSERT_NE(pinned.HostFingerprint(), other.HostFingerprint());

  auto [cs, cluster] = call("POST", "/api/v1/clusters", {{"name", "local"}});
  ASSERT_EQ(cs, 201);
  const std::string cid = cluster["id"];
  auto [hs, host] = call("POST", "/api/v1/clusters/" + cid + "/hosts",
                         {{"name", "localhost"}, {"transport", "local"}});
  ASSERT_EQ(hs, 201);
  auto [vs, volume] = call("POST", "/api/v1/clusters/" + cid + "/volumes",
                           {{"name", "docs"}, {"host_id", host["id"]}, {"path", src.path()}});
  ASSERT_EQ(vs, 201) << volume.dump();
  auto [ds, dest] = call("POST", "/api/v1/clusters/" + cid + "/destinations",
                         {{"source_host_id", host["id"]},
                          {"host", "127.0.0.1"},
                          {"ssh_port", pinned.port()},
                          {"ssh_fingerprint", pinned.HostFingerprint()},
                          {"remote_user", "root"}});
  ASSERT_EQ(ds, 201) << dest.dump();
  auto [ss, created] = call("POST", "/api/v1/sessions",
                            {{"destination_id", dest["id"]},
                             {"source_volume_id", volume["id"]},
                             {"destination_volume", dst.path()}});
  ASSERT_EQ(ss, 201) << created.dump();
  const std::string path = "/api/v1/sessions/" + created["id"].get<std::string>();
  const std::string state = data.path() + "/sessions/" + created["id"].get<std::string>();
  ASSERT_EQ(
      call("PUT", path + "/config/remote-command", {{"value", GeorepBinary() + " agent"}}).first,
      200);

  // What V7 did (the admin's words came first, and ssh keeps the first value): refused.
  for (const char* weakening :
       {"ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        "ssh -o GlobalKnownHostsFile=/dev/null", "ssh -o HostKeyAlias=other",
        "ssh -o ProxyCommand=nc", "ssh -F /dev/null", "sh -c id"}) {
    auto [st, body] = call("PUT", path + "/config/ssh-command", {{"value", weakening}});
    EXPECT_EQ(st, 400) << weakening << ": " << body.dump();
    EXPECT_NE(body.dump().find("ssh-command"), std::string::npos) << body.dump();
  }
  auto [ws, why] =
      call("PUT", path + "/config/ssh-command", {{"value", "ssh -o StrictHostKeyChecking=no"}});
  EXPECT_NE(why["error"]["message"].get<std::string>().find("pinned host key"), std::string::npos)
      << why.dump();

  // Tuning is accepted, and used: the session replicates through the pinned sshd.
  auto [ts, tuned] = call("PUT", path + "/config/ssh-command",
                          {{"value", "ssh -o ConnectTimeout=5 -o ServerAliveInterval=5 -4"}});
  ASSERT_EQ(ts, 200) << tuned.dump();
  WriteFile(src.path() + "/first", "through the pinned host");
  ASSERT_EQ(call("POST", path + "/start", Json::object()).first, 200);
  auto node = [&] { return Json::parse(engine.Get(path, token)->body)["nodes"][0]; };
  auto diagnose = [&] {
    return Json::parse(engine.Get(path, token)->body).dump(2) + "\nworker.log:\n" +
           replication::testing::ReadFile(state + "/worker.log");
  };
  ASSERT_TRUE(WaitFor(60, [&] {
    return node()["status"] == "Active" && fs::exists(dst.path() + "/first");
  })) << diagnose();

  // The other sshd (another host key) on the port the session now uses: the worker refuses
  // it -- Faulty -- and nothing reaches the destination through it.
  ASSERT_EQ(call("POST", path + "/stop", Json::object()).first, 200);
  ASSERT_EQ(call("PUT", path + "/config/ssh-port", {{"value", std::to_string(other.port())}}).first,
            200);
  WriteFile(src.path() + "/second", "must not arrive through another host");
  ASSERT_EQ(call("POST", path + "/start", Json::object()).first, 200);
  ASSERT_TRUE(WaitFor(60, [&] { return node()["status"] == "Faulty"; })) << diagnose();
  EXPECT_FALSE(fs::exists(dst.path() + "/second")) << diagnose();
  std::string reason = node()["status_reason"];
  for (auto& c : reason) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_NE(reason.find("host key verification failed"), std::string::npos) << diagnose();
}

}  // namespace
}  // namespace georep::testing
