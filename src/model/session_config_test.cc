#include "model/session_config.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace georep {
namespace {

TEST(SessionConfig, EveryDefaultIsValidAndKeysAreUnique) {
  for (VolumeKind kind : {VolumeKind::kGluster, VolumeKind::kDirectory}) {
    std::set<std::string_view> keys;
    for (const auto& o : ConfigCatalog(kind)) {
      EXPECT_TRUE(keys.insert(o.key).second) << "duplicate key " << o.key;
      EXPECT_FALSE(o.description.empty()) << o.key;
      auto v = ValidateConfigValue(o, o.default_value);
      EXPECT_TRUE(v.ok()) << o.key << ": " << v.status().ToString();
      if (v.ok()) {
        EXPECT_EQ(*v, o.default_value) << o.key;
      }
    }
  }
}

TEST(SessionConfig, GlusterUnderscoreKeysAreAccepted) {
  const ConfigOption* o = FindConfigOption(VolumeKind::kGluster, "sync_jobs");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->key, "sync-jobs");
  EXPECT_EQ(FindConfigOption(VolumeKind::kGluster, "no-such-option"), nullptr);
}

TEST(SessionConfig, ValuesAreValidatedAndCanonicalised) {
  const ConfigOption* jobs = FindConfigOption(VolumeKind::kGluster, "sync-jobs");
  const ConfigOption* deletes = FindConfigOption(VolumeKind::kGluster, "ignore-deletes");
  const ConfigOption* method = FindConfigOption(VolumeKind::kGluster, "sync-method");
  ASSERT_TRUE(jobs && deletes && method);
  EXPECT_EQ(*ValidateConfigValue(*jobs, "8"), "8");
  EXPECT_FALSE(ValidateConfigValue(*jobs, "0").ok());
  EXPECT_FALSE(ValidateConfigValue(*jobs, "65").ok());
  EXPECT_FALSE(ValidateConfigValue(*jobs, "3x").ok());
  EXPECT_FALSE(ValidateConfigValue(*jobs, "").ok());
  EXPECT_EQ(*ValidateConfigValue(*deletes, "on"), "true");
  EXPECT_EQ(*ValidateConfigValue(*deletes, "False"), "false");
  EXPECT_FALSE(ValidateConfigValue(*deletes, "maybe").ok());
  EXPECT_EQ(*ValidateConfigValue(*method, "tarssh"), "tarssh");
  auto bad = ValidateConfigValue(*method, "scp");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("rsync, tarssh"), std::string::npos);
  const ConfigOption* opts = FindConfigOption(VolumeKind::kGluster, "rsync-options");
  EXPECT_FALSE(ValidateConfigValue(*opts, "a\nb").ok());
}

TEST(SessionConfig, DirectoryOptionsRejectWhatTheWorkerCannotTake) {
  auto check = [](std::string_view key, const std::vector<std::string>& good,
                  const std::vector<std::string>& bad) {
    const ConfigOption* o = FindConfigOption(VolumeKind::kDirectory, key);
    ASSERT_NE(o, nullptr) << key;
    for (const auto& v : good) EXPECT_TRUE(ValidateConfigValue(*o, v).ok()) << key << "=" << v;
    for (const auto& v : bad) EXPECT_FALSE(ValidateConfigValue(*o, v).ok()) << key << "=" << v;
  };
  check("checkpoint", {"0", "1700000000"}, {"-1", "yesterday", "1.5"});
  check("sync-jobs", {"1", "3", "16"}, {"0", "17", "many"});
  check("ignore-deletes", {"true", "off"}, {"maybe", ""});
  check("sync-xattrs", {"false", "yes"}, {"2", "xattrs"});
  check("ssh-port", {"22", "65535"}, {"0", "65536", "-22", "ssh"});
  check("ssh-command", {"ssh -o ConnectTimeout=5", ""}, {"ssh\n-v", std::string(1025, 's')});
  check("remote-command", {"/usr/local/bin/georep agent"}, {"georep agent\r"});
  check("compression", {"none", "zstd"}, {"gzip", "ZSTD", ""});
  check("bandwidth-limit", {"0", "1048576"}, {"-1", "1M", "1e6"});
  check("durability", {"file", "batch", "dir", "none"}, {"always", "FILE", ""});
  check("rescan-interval", {"0", "604800"}, {"-1", "604801", "1h"});
  check("change-capture", {"auto", "fanotify", "inotify"}, {"", "FANOTIFY", "inotify2"});
  check("exclude", {"*.tmp,cache/*", ""}, {"*.tmp\t"});
  check("log-level", {"TRACE", "DEBUG", "INFO", "WARNING", "ERROR"}, {"debug", "CRITICAL", ""});
  check("verify-sample", {"1", "10", "100"}, {"0", "101", "10%"});
  // Options of gluster sessions only are not directory options.
  EXPECT_EQ(FindConfigOption(VolumeKind::kDirectory, "sync-method"), nullptr);
  EXPECT_EQ(FindConfigOption(VolumeKind::kDirectory, "use-meta-volume"), nullptr);
}

TEST(SessionConfig, VerifyIntervalIsOffOrAtLeastTheMinimum) {
  for (VolumeKind kind : {VolumeKind::kGluster, VolumeKind::kDirectory}) {
    const ConfigOption* o = FindConfigOption(kind, "verify-interval");
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->default_value, "0");
    EXPECT_EQ(*ValidateConfigValue(*o, "0"), "0");
    EXPECT_EQ(*ValidateConfigValue(*o, "10"), "10");
    EXPECT_EQ(*ValidateConfigValue(*o, "3600"), "3600");
    auto short_one = ValidateConfigValue(*o, "5");
    ASSERT_FALSE(short_one.ok());
    EXPECT_EQ(short_one.status().message(),
              "verify-interval is 0 (off) or at least 10 seconds, not 5");
    EXPECT_FALSE(ValidateConfigValue(*o, "-10").ok());
    EXPECT_EQ(FindConfigOption(kind, "verify-sample")->default_value, "10");
    // georep's own: never sent to gluster.
    EXPECT_TRUE(IsEngineOption(kind, "verify-interval"));
    EXPECT_TRUE(IsEngineOption(kind, "verify-sample"));
  }
}

}  // namespace
}  // namespace georep
