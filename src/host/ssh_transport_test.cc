// Unit tests of the SSH transport with a fake command runner: what ssh is asked to do, and how
// its failures are reported. The real sshd tests are in tests/integration/ssh_test.cc.
#include "host/ssh_transport.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <mutex>

namespace georep {
namespace {

constexpr char kBlob[] = "AAAAC3NzaC1lZDI1NTE5AAAAIE20xZlLB7OvvmWST9VkgBzCUBeyiw8ZUZCba3m08o3k";
constexpr char kFingerprint[] = "SHA256:0R2f6SSzWHBrMrGNb+iNHnMzNqihPb28oaE6CqU+J+g";

// Answers ssh-keyscan with `keyscan_out` and ssh with the queued results; records every argv.
class FakeCommandRunner final : public CommandRunner {
 public:
  Result<CommandResult> Run(const CommandSpec& spec) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls.push_back(spec.argv);
    CommandResult r;
    r.exit_code = 0;
    if (spec.argv[0] == "ssh-keyscan") {
      r.out = keyscan_out;
      return r;
    }
    if (ssh_results.empty()) return r;
    r = ssh_results.front();
    ssh_results.pop_front();
    return r;
  }
  std::mutex mu_;
  std::string keyscan_out;
  std::deque<CommandResult> ssh_results;
  std::vector<std::vector<std::string>> calls;
};

class SshRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("georep-ssh-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  SshCommandRunner Make(const std::string& pinned) {
    SshIdentity id{"/keys/id_ed25519", "ssh-ed25519 AAAA georep-engine", "SHA256:engine"};
    return SshCommandRunner(fake_, id, {"node1.example", 2222, "root", pinned, nullptr},
                            dir_.string());
  }
  std::filesystem::path dir_;
  FakeCommandRunner fake_;
};

TEST(Fingerprint, MatchesOpenSsh) {
  auto fp = FingerprintOfKey(kBlob);
  ASSERT_TRUE(fp.ok());
  EXPECT_EQ(*fp, kFingerprint);  // as printed by `ssh-keygen -lf`
  EXPECT_FALSE(FingerprintOfKey("***").ok());
}

TEST(ParseHostKeys, SortsBestTypeFirstAndSkipsJunk) {
  auto keys =
      ParseHostKeys(std::string("# node1:22 SSH-2.0-OpenSSH_9.2\n") + "[node1]:2222 ssh-rsa " +
                    kBlob + "\n" + "garbage\n" + "[node1]:2222 ssh-ed25519 " + kBlob + "\n");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].type, "ssh-ed25519");
  EXPECT_EQ(keys[0].fingerprint, kFingerprint);
}

TEST_F(SshRunnerTest, RunsArgvQuotedAgainstAPinnedKnownHostsFile) {
  fake_.keyscan_out = std::string("[node1.example]:2222 ssh-ed25519 ") + kBlob + "\n";
  CommandResult ok;
  ok.exit_code = 0;
  ok.out = "hi\n";
  fake_.ssh_results.push_back(ok);
  auto runner = Make(kFingerprint);
  auto r = runner.Run({{"gluster", "volume", "info", "$(reboot)"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, "hi\n");
  ASSERT_EQ(fake_.calls.size(), 2u);
  const auto& ssh = fake_.calls[1];
  EXPECT_EQ(ssh[0], "ssh");
  EXPECT_EQ(ssh.back(), "'gluster' 'volume' 'info' '$(reboot)'");
  EXPECT_NE(std::find(ssh.begin(), ssh.end(), "StrictHostKeyChecking=yes"), ssh.end());
  EXPECT_NE(std::find(ssh.begin(), ssh.end(), "BatchMode=yes"), ssh.end());
  EXPECT_NE(std::find(ssh.begin(), ssh.end(), "HostKeyAlgorithms=ssh-ed25519"), ssh.end());
  auto host = std::find(ssh.begin(), ssh.end(), "--");
  ASSERT_NE(host, ssh.end());
  EXPECT_EQ(*(host + 1), "node1.example");  // options can never be smuggled in as a host
  // The known_hosts file holds exactly the pinned key, and is private.
  auto file = dir_ / "node1.example_2222";
  ASSERT_TRUE(std::filesystem::exists(file));
  EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::group_all,
            std::filesystem::perms::none);
}

TEST_F(SshRunnerTest, AChangedHostKeyIsRefusedBeforeConnecting) {
  fake_.keyscan_out = std::string("[node1.example]:2222 ssh-ed25519 ") + kBlob + "\n";
  auto runner = Make("SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8");
  auto r = runner.Run({{"true"}});
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("changed"), std::string::npos);
  EXPECT_NE(r.status().message().find(kFingerprint), std::string::npos);
  EXPECT_EQ(fake_.calls.size(), 1u) << "ssh must not run";
}

TEST_F(SshRunnerTest, SshFailuresBecomeClearStatuses) {
  fake_.keyscan_out = std::string("[node1.example]:2222 ssh-ed25519 ") + kBlob + "\n";
  struct Case {
    const char* stderr_text;
    StatusCode code;
    const char* words;
  } cases[] = {
      {"root@node1.example: Permission denied (publickey).\n", StatusCode::kPermissionDenied,
       "does not accept the engine's SSH key"},
      {"ssh: connect to host node1.example port 2222: Connection refused\n",
       StatusCode::kUnavailable, "cannot reach node1.example port 2222"},
  };
  for (const auto& c : cases) {
    CommandResult fail;
    fail.exit_code = 255;
    fail.err = c.stderr_text;
    fake_.ssh_results.push_back(fail);
    auto runner = Make(kFingerprint);
    auto r = runner.Run({{"true"}});
    EXPECT_EQ(r.status().code(), c.code) << c.stderr_text;
    EXPECT_NE(r.status().message().find(c.words), std::string::npos) << r.status().message();
  }
  // A remote command's own exit codes pass through.
  CommandResult three;
  three.exit_code = 3;
  fake_.ssh_results.push_back(three);
  auto runner = Make(kFingerprint);
  auto r = runner.Run({{"false"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 3);
}

TEST_F(SshRunnerTest, NothingIsRunWithoutAPinnedKey) {
  auto runner = Make("");
  EXPECT_EQ(runner.Run({{"true"}}).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(fake_.calls.empty());
}

}  // namespace
}  // namespace georep
