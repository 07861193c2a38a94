#include "model/command_options.h"

#include <gtest/gtest.h>

#include "model/session_config.h"

namespace georep {
namespace {

std::string Why(const Status& st) {
  return st.ok() ? "" : st.message();
}

TEST(CommandOptions, SshCommandTunesSshButNeverTheTrust) {
  auto plain = ParseSshCommand("ssh-command", "");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->program, "ssh");
  EXPECT_TRUE(plain->options.empty());

  auto tuned = ParseSshCommand(
      "ssh-command",
      "/usr/bin/ssh -4 -C -c aes128-gcm@openssh.com -o ConnectTimeout=5 -oServerAliveInterval=10 "
      "-o IPQoS=throughput");
  ASSERT_TRUE(tuned.ok()) << tuned.status().ToString();
  EXPECT_EQ(tuned->program, "/usr/bin/ssh");
  EXPECT_EQ(tuned->options.size(), 9u);

  // Each of these would let the worker talk to a host that is not the pinned one, run a
  // program, or move the connection elsewhere (V7: StrictHostKeyChecking=no came first, and
  // ssh keeps an option's first value).
  for (const char* bad : {
           "ssh -o StrictHostKeyChecking=no",
           "ssh -o stricthostkeychecking no",
           "ssh -oUserKnownHostsFile=/dev/null",
           "ssh -o GlobalKnownHostsFile=/tmp/k",
           "ssh -o KnownHostsCommand=/bin/true",
           "ssh -o HostKeyAlias=other",
           "ssh -o ProxyCommand=nc",
           "ssh -o LocalCommand=id -o PermitLocalCommand=yes",
           "ssh -o ProxyJump=evil",
           "ssh -J evil",
           "ssh -F /tmp/config",
           "ssh -o Hostname=evil",
           "ssh -o Port=2284",
           "ssh -p 2284",
           "ssh -o User=other",
           "ssh -o ControlPath=/tmp/c",
           "ssh -o ForwardAgent=yes",
           "ssh -A",
           "ssh -L 1:2:3",
           "ssh -o BatchMode=no",
           "ssh -o PKCS11Provider=/tmp/lib.so",
           "ssh -o SomethingNew=1",
           "sh -c id",
           "/tmp/ssh-wrapper",
           "bin/ssh",
           "ssh -o Ciphers=x;id",
           "ssh -o 'ConnectTimeout=5'",
           "ssh -o",
           "ssh -c",
       }) {
    auto r = ParseSshCommand("ssh-command", bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(Why(r.status()).find("ssh-command"), std::string::npos) << bad;
  }
  EXPECT_NE(Why(ParseSshCommand("ssh-command", "ssh -o StrictHostKeyChecking=no").status())
                .find("pinned host key"),
            std::string::npos);
  EXPECT_NE(Why(ParseSshCommand("ssh-command", "ssh -o Port=1").status()).find("ssh-port option"),
            std::string::npos);
}

TEST(CommandOptions, RsyncOptionsRunNoProgram) {
  EXPECT_TRUE(CheckRsyncOptions("rsync-options", "--exclude=*.tmp --bwlimit=1000 -z").ok());
  for (const char* bad :
       {"-e ssh", "--rsh=sh", "--rsh sh", "-avze ssh", "--rsync-path=/tmp/x", "-M--log-file=/etc/x",
        "--remote-option=x", "--exclude='a b'", "--config=/tmp/c"}) {
    EXPECT_FALSE(CheckRsyncOptions("rsync-options", bad).ok()) << bad;
  }
  EXPECT_TRUE(CheckSshOptions("rsync-ssh-options", CommandWords("-o ConnectTimeout=3")).ok());
  EXPECT_FALSE(
      CheckSshOptions("rsync-ssh-options", CommandWords("-oStrictHostKeyChecking=no")).ok());
}

TEST(CommandOptions, ProgramWordsArePlainWords) {
  EXPECT_TRUE(CheckProgramWords("remote-command", "/opt/georep/bin/georep agent").ok());
  EXPECT_TRUE(CheckProgramWords("remote-command", "georep agent").ok());
  for (const char* bad : {"georep agent; id", "$(id)", "`id`", "bin/georep agent",
                          "georep agent > /etc/x", "sh -c 'id'"}) {
    EXPECT_FALSE(CheckProgramWords("remote-command", bad).ok()) << bad;
  }
}

// The config catalog applies these checks when a value is set, for both kinds of session.
TEST(CommandOptions, TheConfigCatalogChecksThem) {
  for (VolumeKind kind : {VolumeKind::kDirectory, VolumeKind::kGluster}) {
    const ConfigOption* ssh = FindConfigOption(kind, "ssh-command");
    ASSERT_NE(ssh, nullptr);
    EXPECT_FALSE(ValidateConfigValue(*ssh, "ssh -o StrictHostKeyChecking=no").ok());
    EXPECT_TRUE(ValidateConfigValue(*ssh, "ssh -o ConnectTimeout=9").ok());
  }
  const ConfigOption* rsync = FindConfigOption(VolumeKind::kGluster, "rsync-options");
  ASSERT_NE(rsync, nullptr);
  EXPECT_FALSE(ValidateConfigValue(*rsync, "--rsh=/tmp/x").ok());
  const ConfigOption* dir = FindConfigOption(VolumeKind::kGluster, "gluster-command-dir");
  ASSERT_NE(dir, nullptr);
  EXPECT_FALSE(ValidateConfigValue(*dir, "relative/dir").ok());
  EXPECT_TRUE(ValidateConfigValue(*dir, "/usr/local/sbin").ok());
  const ConfigOption* remote = FindConfigOption(VolumeKind::kDirectory, "remote-command");
  ASSERT_NE(remote, nullptr);
  EXPECT_FALSE(ValidateConfigValue(*remote, "georep agent; rm -rf /").ok());
}

}  // namespace
}  // namespace georep
