// The SSH transport against a real sshd on loopback: host-key pinning, a changed host key,
// an unauthorised engine key, an unreachable host, time-outs, and argv that no shell may
// interpret.
#include <gtest/gtest.h>

#include <filesystem>

#include "host/ssh_transport.h"
#include "integration/engine_process.h"
#include "integration/sshd_server.h"

namespace georep::testing {
namespace {

using namespace std::chrono_literals;

class SshTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto id = SshIdentity::LoadOrCreate(local_, dir_.path() + "/engine-ssh");
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    identity_ = *id;
    server_ = std::make_unique<SshServer>(dir_.path() + "/sshd");
    ASSERT_TRUE(server_->Start(identity_.public_key)) << server_->error();
  }
  SshCommandRunner Runner(const std::string& fingerprint) {
    return SshCommandRunner(local_, identity_,
                            {"127.0.0.1", server_->port(), "root", fingerprint, nullptr},
                            dir_.path() + "/known_hosts.d");
  }

  TempDir dir_;
  LocalCommandRunner local_;
  SshIdentity identity_;
  std::unique_ptr<SshServer> server_;
};

TEST_F(SshTransportTest, EngineKeyIsPrivateAndStable) {
  auto mode = std::filesystem::status(identity_.private_key_path).permissions();
  EXPECT_EQ(mode & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
            std::filesystem::perms::none);
  auto again = SshIdentity::LoadOrCreate(local_, dir_.path() + "/engine-ssh");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->fingerprint, identity_.fingerprint);  // loaded, not regenerated
}

TEST_F(SshTransportTest, ScanShowsTheRealFingerprintAndPinnedRunsWork) {
  auto keys = ScanHostKeys(local_, "127.0.0.1", server_->port(), 5);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ((*keys)[0].fingerprint, server_->HostFingerprint());

  auto runner = Runner((*keys)[0].fingerprint);
  const std::string marker = dir_.path() + "/must-not-exist";
  auto r = runner.Run({{"printf", "%s|", "two words", "$(touch " + marker + ")", "it's"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(r->out, "two words|$(touch " + marker + ")|it's|");
  EXPECT_FALSE(std::filesystem::exists(marker));

  auto code = runner.Run({{"sh", "-c", "cat; exit 7"}, "through stdin"});
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(code->exit_code, 7);
  EXPECT_EQ(code->out, "through stdin");
}

TEST_F(SshTransportTest, AChangedHostKeyIsRefusedUntilRepinned) {
  const std::string pinned = server_->HostFingerprint();
  auto runner = Runner(pinned);
  ASSERT_TRUE(runner.Run({{"true"}}).ok());
  ASSERT_TRUE(server_->RotateHostKey()) << server_->error();
  auto r = runner.Run({{"true"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("changed"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(server_->HostFingerprint()), std::string::npos);
  // An explicit re-pin to the new key works.
  auto repinned = Runner(server_->HostFingerprint());
  auto ok = repinned.Run({{"true"}});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->exit_code, 0);
}

TEST_F(SshTransportTest, ThroughAJumpHostEachHopIsPinned) {
  // The target reached through a jump host (here the same sshd, at 127.0.0.1, which forwards
  // to itself at 127.0.0.2; not "localhost", which may name ::1 first, where it does not
  // listen): the connection starts at the jump host, and both keys are checked.
  const std::string pinned = server_->HostFingerprint();
  auto via = std::make_shared<SshEndpoint>(
      SshEndpoint{"127.0.0.1", server_->port(), "root", pinned, nullptr});
  SshCommandRunner relayed(local_, identity_, {"127.0.0.2", server_->port(), "root", pinned, via},
                           dir_.path() + "/known_hosts.d");
  auto r = relayed.Run({{"sh", "-c", "echo $SSH_CONNECTION"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_NE(r->out.find("127.0.0.2 " + std::to_string(server_->port())), std::string::npos)
      << r->out;

  // A wrong pin on either hop is refused.
  const std::string other = "SHA256:CXqPY4ZFRXl7D0xFFfUbJnR6i11OsDVgYp/yBeCSa78";
  SshCommandRunner bad_target(local_, identity_, {"127.0.0.2", server_->port(), "root", other, via},
                              dir_.path() + "/known_hosts.d");
  EXPECT_EQ(bad_target.Run({{"true"}}).status().code(), StatusCode::kFailedPrecondition);
  auto bad_via = std::make_shared<SshEndpoint>(
      SshEndpoint{"127.0.0.1", server_->port(), "root", other, nullptr});
  SshCommandRunner bad_jump(local_, identity_,
                            {"127.0.0.2", server_->port(), "root", pinned, bad_via},
                            dir_.path() + "/known_hosts.d");
  auto refused = bad_jump.Run({{"true"}});
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition)
      << refused.status().ToString();
}

TEST_F(SshTransportTest, UnauthorisedEngineKeyIsPermissionDenied) {
  server_->Stop();
  ASSERT_TRUE(server_->Start("")) << server_->error();  // nothing authorised
  auto r = Runner(server_->HostFingerprint()).Run({{"true"}});
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
  EXPECT_NE(r.status().message().find(identity_.fingerprint), std::string::npos);
}

TEST_F(SshTransportTest, UnreachableHostIsUnavailable) {
  const std::string pinned = server_->HostFingerprint();
  auto runner = Runner(pinned);
  ASSERT_TRUE(runner.Run({{"true"}}).ok());
  server_->Stop();
  auto r = runner.Run({{"true"}});
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("cannot reach 127.0.0.1"), std::string::npos);
}

TEST_F(SshTransportTest, RemoteCommandsTimeOut) {
  auto runner = Runner(server_->HostFingerprint());
  CommandSpec spec{{"sleep", "30"}};
  spec.timeout = 1500ms;
  auto start = std::chrono::steady_clock::now();
  auto r = runner.Run(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);
}

}  // namespace
}  // namespace georep::testing

namespace georep::testing {
namespace {

using Json = nlohmann::json;

// The engine, end to end: its own SSH key, fetch-and-confirm a host key, check a host Up,
// refuse a changed key (Down, with the reason), and an explicit re-pin.
TEST(EngineHosts, AddCheckChangedKeyAndRepinThroughTheApiAndCli) {
  TempDir dir;
  EngineProcess engine(dir.path() + "/data");
  ASSERT_TRUE(engine.Start()) << engine.output();
  std::string token = engine.Login(engine.admin_password());
  ASSERT_FALSE(token.empty());

  auto key = engine.Get("/api/v1/engine/ssh-key", token);
  ASSERT_EQ(key->status, 200);
  const std::string engine_key = Json::parse(key->body)["public_key"];
  EXPECT_EQ(engine_key.rfind("ssh-ed25519 ", 0), 0u);
  SshServer sshd(dir.path() + "/sshd");
  ASSERT_TRUE(sshd.Start(engine_key)) << sshd.error();

  // The CLI fetches the key, shows it, and will not pin it without confirmation.
  const std::vector<std::string> env = {"GEOREP_CONFIG_DIR=" + dir.path() + "/cli"};
  auto login = RunCommand({GeorepBinary(), "login", "--server", engine.url(), "--password-stdin"},
                          engine.admin_password() + "\n", env);
  ASSERT_EQ(login.exit_code, 0) << login.err;
  ASSERT_EQ(RunCommand({GeorepBinary(), "cluster", "create", "east"}, "", env).exit_code, 0);
  const std::string port = std::to_string(sshd.port());
  auto unconfirmed = RunCommand(
      {GeorepBinary(), "host", "add", "east", "node1", "--address", "127.0.0.1", "--port", port},
      "", env);
  EXPECT_EQ(unconfirmed.exit_code, 2);
  EXPECT_NE(unconfirmed.err.find(sshd.HostFingerprint()), std::string::npos) << unconfirmed.err;
  auto added = RunCommand({GeorepBinary(), "--json", "host", "add", "east", "node1", "--address",
                           "127.0.0.1", "--port", port, "--fingerprint", sshd.HostFingerprint()},
                          "", env);
  ASSERT_EQ(added.exit_code, 0) << added.err;
  const std::string host_id = Json::parse(added.out)["id"];

  auto check = engine.Post("/api/v1/hosts/" + host_id + "/check", "{}", token);
  ASSERT_EQ(check->status, 200) << check->body;
  Json up = Json::parse(check->body);
  EXPECT_EQ(up["status"], "Up") << up.dump();
  EXPECT_TRUE(up["reachable"].get<bool>());
  EXPECT_FALSE(up["last_seen"].is_null());

  ASSERT_TRUE(sshd.RotateHostKey()) << sshd.error();
  auto changed = engine.Post("/api/v1/hosts/" + host_id + "/check", "{}", token);
  ASSERT_EQ(changed->status, 200);
  Json down = Json::parse(changed->body);
  EXPECT_EQ(down["status"], "Down");
  EXPECT_NE(down["reason"].get<std::string>().find("changed"), std::string::npos) << down.dump();
  auto cli_check = RunCommand({GeorepBinary(), "host", "check", host_id}, "", env);
  EXPECT_EQ(cli_check.exit_code, 1);
  EXPECT_NE(cli_check.out.find("Down"), std::string::npos) << cli_check.out;

  // A fingerprint the host does not present (here its old one) is refused, naming the one it
  // does; the pin stays as it was.
  const std::string old_fp = Json::parse(added.out)["ssh_fingerprint"];
  ASSERT_NE(old_fp, sshd.HostFingerprint());
  auto wrong = RunCommand({GeorepBinary(), "host", "repin", host_id, old_fp}, "", env);
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("does not present " + old_fp), std::string::npos) << wrong.err;
  EXPECT_NE(wrong.err.find(sshd.HostFingerprint()), std::string::npos) << wrong.err;
  auto still = engine.Get("/api/v1/hosts/" + host_id, token);
  EXPECT_EQ(Json::parse(still->body)["ssh_fingerprint"], old_fp);

  auto repin = RunCommand(
      {GeorepBinary(), "host", "repin", host_id, "--fingerprint", sshd.HostFingerprint()}, "", env);
  ASSERT_EQ(repin.exit_code, 0) << repin.err;
  auto again = engine.Post("/api/v1/hosts/" + host_id + "/check", "{}", token);
  EXPECT_EQ(Json::parse(again->body)["status"], "Up") << again->body;

  auto events = engine.Get("/api/v1/events?object_id=" + host_id, token);
  std::vector<std::string> seen;
  const Json items = Json::parse(events->body)["items"];
  for (const auto& e : items)
    seen.push_back(e["action"].get<std::string>() + ":" + e["result"].get<std::string>());
  // Newest first: the API and CLI checks after the key change both failed.
  EXPECT_EQ(seen, (std::vector<std::string>{"host.check:ok", "host.repin:ok", "host.repin:failed",
                                            "host.check:failed", "host.check:failed",
                                            "host.check:ok", "host.add:ok"}));
}

}  // namespace
}  // namespace georep::testing
