#include "model/session_config.h"

#include <gtest/gtest.h>

#include <set>

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

}  // namespace
}  // namespace georep
