#include "api/json_model.h"

#include <gtest/gtest.h>

namespace georep {
namespace {

TEST(JsonModel, StrictBodies) {
  auto ok = ClusterSpecFrom(Json{{"name", "east"}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->name, "east");
  auto typo = ClusterSpecFrom(Json{{"nmae", "east"}});
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("unknown field 'nmae'"), std::string::npos);
  auto missing = ClusterSpecFrom(Json::object());
  EXPECT_NE(missing.status().message().find("'name' is required"), std::string::npos);
  auto wrong_type = HostSpecFrom(Json{{"name", "h"}, {"ssh_port", "22"}}, "c");
  EXPECT_NE(wrong_type.status().message().find("whole number"), std::string::npos);
  EXPECT_FALSE(ParseBody("{not json").ok());
  EXPECT_FALSE(ParseBody("[1,2]").ok());
  EXPECT_TRUE(ParseBody("").ok());
}

TEST(JsonModel, DirectoryVolumeShorthand) {
  auto v = VolumeSpecFrom(Json{{"name", "src"}, {"host_id", "h1"}, {"path", "/srv/a"}}, "c");
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->bricks.size(), 1u);
  EXPECT_EQ(v->bricks[0].path, "/srv/a");
  EXPECT_EQ(v->kind, VolumeKind::kDirectory);
}

TEST(JsonModel, UnknownCountsAreNullNotZero) {
  SessionNodeStatus passive;  // as parsed from gluster's N/A: -1
  passive.status = NodeStatus::kPassive;
  Json j = ToJson(passive);
  for (const char* key : {"entry_pending", "data_pending", "meta_pending", "failures"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_TRUE(j[key].is_null()) << key << ": " << j[key].dump();
  }
  SessionNodeStatus active;
  active.entry_pending = 0;
  active.data_pending = 12;
  active.meta_pending = 1;
  active.failures = 0;
  j = ToJson(active);
  EXPECT_EQ(j["entry_pending"], 0);
  EXPECT_EQ(j["data_pending"], 12);
  EXPECT_EQ(j["meta_pending"], 1);
  EXPECT_EQ(j["failures"], 0);
}

TEST(JsonModel, SecretsNeverSerialised) {
  User u{"id", "alice", "$argon2id$secret-hash", Role::kOperator, 0};
  EXPECT_EQ(ToJson(u).dump().find("argon2id"), std::string::npos);
  EXPECT_EQ(ToJson(u)["role"], "operator");
  EXPECT_EQ(ToJson(u)["admin"], false);
  ApiToken t{"id", "u", "cli", "digest-secret", 0, 0, 0};
  EXPECT_EQ(ToJson(t).dump().find("digest-secret"), std::string::npos);
}

}  // namespace
}  // namespace georep
