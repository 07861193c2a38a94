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
    return SshCommandRunner(local_, identity_, {"127.0.0.1", server_->port(), "root", fingerprint},
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
