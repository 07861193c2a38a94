#include "api/json_model.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

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

// A session's JSON carries the actions its status allows, by the engine's own rules.
TEST(JsonModel, SessionDetailSaysWhichActionsItsStatusAllows) {
  SessionDetail d;
  d.session.status = SessionStatus::kActive;
  const Json j = ToJson(d);
  ASSERT_EQ(j["allowed_actions"].size(), 5u);
  std::map<std::string, Json> by_action;
  for (const auto& a : j["allowed_actions"]) by_action[a["action"]] = a;
  EXPECT_EQ(by_action["start"]["mode"], "force");
  EXPECT_NE(by_action["start"]["reason"].get<std::string>().find("it is already started"),
            std::string::npos);
  EXPECT_EQ(by_action["stop"]["mode"], "ok");
  EXPECT_FALSE(by_action["stop"].contains("reason"));
  EXPECT_EQ(by_action["pause"]["mode"], "ok");
  EXPECT_EQ(by_action["resume"]["mode"], "no");
  EXPECT_EQ(by_action["delete"]["mode"], "force");

  const Json paused = AllowedActions(SessionStatus::kPaused);
  EXPECT_EQ(paused[0]["action"], "start");
  EXPECT_EQ(paused[0]["mode"], "no");
  EXPECT_EQ(paused[3]["mode"], "ok");  // resume
}

}  // namespace
}  // namespace georep
