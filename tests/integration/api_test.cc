// The REST API, end to end: the real georep binary on a loopback port, real HTTP requests,
// SQLite and PostgreSQL stores, crash (SIGKILL) and restart.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "integration/api_fixture.h"

namespace georep::testing {
namespace {

TEST_P(ApiTest, EverythingButHealthNeedsAToken) {
  auto health = engine_->Get("/api/v1/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(Body(health)["status"], "ok");

  for (const char* path : {"/api/v1/clusters", "/api/v1/sessions", "/api/v1/events",
                           "/api/v1/users", "/api/v1/me", "/api/v1/openapi.json"}) {
    auto r = engine_->Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << path;
    EXPECT_EQ(Body(r)["error"]["code"], "unauthenticated") << path;
    EXPECT_EQ(r->get_header_value("WWW-Authenticate").rfind("Bearer", 0), 0u);
    auto forged = engine_->Get(path, "grp_forgedtokenforgedtokenforgedtokenforgedtok");
    EXPECT_EQ(forged->status, 401) << path;
  }
  auto post = engine_->Post("/api/v1/clusters", R"({"name":"x"})");
  EXPECT_EQ(post->status, 401);
  EXPECT_EQ(Count("/api/v1/clusters"), 0u);  // the refused POST wrote nothing

  auto wrong = engine_->Post("/api/v1/auth/login", R"({"username":"admin","password":"nope"})");
  EXPECT_EQ(wrong->status, 401);
}

TEST_P(ApiTest, OpenApiDocumentDescribesTheApi) {
  auto r = engine_->Get("/api/v1/openapi.json", token_);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  Json doc = Body(r);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  for (const char* p : {"/clusters", "/clusters/{id}/destinations", "/sessions",
                        "/sessions/{id}/config/{key}", "/events", "/auth/login"}) {
    EXPECT_TRUE(doc["paths"].contains(p)) << p;
  }
}

// Every operation of the OpenAPI document x every role: a caller below the operation's role
// gets 403 before anything is looked up or changed; one at or above it never does. The role
// each operation needs is the document's x-georep-role (the engine's route table; a unit test
// checks the document and the table name the same routes).
TEST_P(ApiTest, EveryRouteChecksTheCallersRole) {
  std::map<std::string, std::string> tokens = {{"admin", token_}};
  for (const char* role : {"viewer", "operator"}) {
    const std::string name = std::string("a-") + role;
    Create("/api/v1/users", {{"name", name}, {"password", "long-enough-pw"}, {"role", role}});
    auto login = engine_->Post("/api/v1/auth/login",
                               Json({{"username", name}, {"password", "long-enough-pw"}}).dump());
    ASSERT_TRUE(login && login->status == 200) << (login ? login->body : "no answer");
    tokens[role] = Body(login)["token"];
  }
  const std::map<std::string, int> rank = {{"viewer", 0}, {"operator", 1}, {"admin", 2}};

  auto doc_r = engine_->Get("/api/v1/openapi.json", token_);
  ASSERT_TRUE(doc_r && doc_r->status == 200);
  const Json doc = Body(doc_r);
  int operations = 0, checked = 0;
  for (const auto& [path, ops] : doc["paths"].items()) {
    for (const auto& [method, op] : ops.items()) {
      ++operations;
      if (path == "/health" || path == "/auth/login") {
        EXPECT_FALSE(op.contains("x-georep-role")) << path;
        continue;
      }
      ASSERT_TRUE(op.contains("x-georep-role")) << method << " " << path;
      const std::string needed = op["x-georep-role"];
      ASSERT_TRUE(rank.count(needed)) << needed;
      // Ids that name nothing: an allowed caller gets 404 or 400, never a change. The config
      // key is the checkpoint, the one an operator may set.
      std::string url = "/api/v1" + path;
      for (auto [from, to] : {std::pair{"{id}", "no-such-id"}, {"{key}", "checkpoint"}})
        if (auto at = url.find(from); at != std::string::npos) url.replace(at, strlen(from), to);
      for (const auto& [role, token] : tokens) {
        // A live stream lasts minutes: its allowed callers are not opened here (every role
        // may; the 401 without a token is checked in EverythingButHealthNeedsAToken).
        if (path == "/stream" && rank.at(role) >= rank.at(needed)) continue;
        httplib::Result r = method == "get"      ? engine_->Get(url, token)
                            : method == "delete" ? engine_->Delete(url, token)
                            : method == "put"    ? engine_->Put(url, "{}", token)
                                                 : engine_->Post(url, "{}", token);
        ASSERT_TRUE(r) << method << " " << url;
        const bool allowed = rank.at(role) >= rank.at(needed);
        if (allowed) {
          EXPECT_NE(r->status, 403) << role << " " << method << " " << url << ": " << r->body;
          EXPECT_NE(r->status, 401) << role << " " << method << " " << url << ": " << r->body;
        } else {
          EXPECT_EQ(r->status, 403) << role << " " << method << " " << url << ": " << r->body;
          if (r->status == 403) {
            EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find(needed + " role"),
                      std::string::npos)
                << r->body;
          }
        }
        ++checked;
      }
    }
  }
  EXPECT_GE(operations, 50);
  EXPECT_GE(checked, 3 * (operations - 3) - 2);
  // Nothing the refused calls named was created.
  EXPECT_EQ(Count("/api/v1/clusters"), 0u);
  EXPECT_EQ(Count("/api/v1/sessions"), 0u);
}

// V1: a user who is not an administrator cannot make the engine run a program of their
// choosing, nor replicate the engine's own data directory.
TEST_P(ApiTest, ANonAdministratorCannotRunCommandsOrCopyTheEnginesData) {
  Json session = MakeSession();
  const std::string sid = session["id"];
  // A user created as clients did before roles ("admin": false) is a viewer.
  Create("/api/v1/users", {{"name", "mallory"}, {"password", "long-enough-pw"}, {"admin", false}});
  Create("/api/v1/users",
         {{"name", "oscar"}, {"password", "long-enough-pw"}, {"role", "operator"}});
  auto token_of = [&](const char* name) -> std::string {
    auto login = engine_->Post("/api/v1/auth/login",
                               Json({{"username", name}, {"password", "long-enough-pw"}}).dump());
    return login && login->status == 200 ? Body(login)["token"].get<std::string>() : "";
  };
  const std::string mallory = token_of("mallory"), oscar = token_of("oscar");
  ASSERT_FALSE(mallory.empty());
  ASSERT_FALSE(oscar.empty());
  auto me = engine_->Get("/api/v1/me", mallory);
  ASSERT_TRUE(me);
  EXPECT_EQ(Body(me)["role"], "viewer");

  const std::string marker = data_.path() + "/pwned";
  for (const char* key : {"ssh-command", "remote-command", "source-command"}) {
    for (const std::string& token : {mallory, oscar}) {
      auto r = engine_->Put("/api/v1/sessions/" + sid + "/config/" + key,
                            Json({{"value", "sh -c 'id > " + marker + "'"}}).dump(), token);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 403) << key << ": " << r->body;
    }
  }
  // The operator may still verify (with the admin's options) and set a checkpoint.
  auto verify = engine_->Post("/api/v1/sessions/" + sid + "/verify", "", oscar);
  ASSERT_TRUE(verify);
  EXPECT_NE(verify->status, 403) << verify->body;
  auto checkpoint =
      engine_->Put("/api/v1/sessions/" + sid + "/config/checkpoint", R"({"value":"now"})", oscar);
  ASSERT_TRUE(checkpoint);
  EXPECT_NE(checkpoint->status, 403) << checkpoint->body;
  EXPECT_FALSE(std::filesystem::exists(marker));

  // A directory volume of the engine's data directory: volumes are for admins.
  Json clusters = Body(engine_->Get("/api/v1/clusters", token_));
  const std::string cid = clusters["items"][0]["id"];
  Json hosts = Body(engine_->Get("/api/v1/clusters/" + cid + "/hosts", token_));
  for (const std::string& token : {mallory, oscar}) {
    auto v = engine_->Post(
        "/api/v1/clusters/" + cid + "/volumes",
        Json({{"name", "loot"}, {"host_id", hosts["items"][0]["id"]}, {"path", data_.path()}})
            .dump(),
        token);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->status, 403) << v->body;
  }
  EXPECT_EQ(Count("/api/v1/volumes"), 1u);
  // Nor an admin, by mistake: a session whose source holds the engine's data directory.
  Json loot = Create("/api/v1/clusters/" + cid + "/volumes",
                     {{"name", "engine-data"},
                      {"host_id", hosts["items"][0]["id"]},
                      {"path", std::filesystem::path(data_.path()).parent_path().string()}});
  auto refused = engine_->Post("/api/v1/sessions",
                               Json({{"destination_id", session["destination_id"]},
                                     {"source_volume_id", loot["id"]},
                                     {"destination_volume", "/srv/georep/loot"}})
                                   .dump(),
                               token_);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 409) << refused->body;
  EXPECT_NE(refused->body.find("private key"), std::string::npos) << refused->body;
  // Nor can either make themself admin.
  auto users = Body(engine_->Get("/api/v1/users", token_));
  for (const auto& u : users["items"]) {
    if (u["name"] != "oscar") continue;
    auto r = engine_->Put("/api/v1/users/" + u["id"].get<std::string>() + "/role",
                          R"({"role":"admin"})", oscar);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << r->body;
  }
}

// V11: a U+202E (right-to-left override) in a rejected name was echoed into the error, the
// audit trail and every table that shows them, reversing what follows it on screen.
TEST_P(ApiTest, ControlAndBidiCharactersInRejectedValuesAreShownAsEscapes) {
  const std::string name = "report\xE2\x80\xAEtxt.exe\x1b[2J";
  auto r = engine_->Post("/api/v1/clusters", Json({{"name", name}}).dump(), token_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  const std::string message = Body(r)["error"]["message"];
  EXPECT_NE(message.find("report\\u202etxt.exe\\x1b[2J"), std::string::npos) << message;
  EXPECT_EQ(message.find("\xE2\x80\xAE"), std::string::npos) << message;
  EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
  Json events = Body(engine_->Get("/api/v1/events?action=cluster.create&result=failed", token_));
  ASSERT_FALSE(events["items"].empty()) << events.dump();
  const std::string audited = events["items"][0].dump();
  EXPECT_NE(audited.find("\\\\u202e"), std::string::npos) << audited;
  EXPECT_EQ(audited.find("\xE2\x80\xAE"), std::string::npos) << audited;
}

TEST_P(ApiTest, BadInputIsA400WithAClearMessageAndWritesNothing) {
  // `field`: the input the error names (error.field), so a form puts the message on it; empty
  // where the error is about no one field.
  struct Case {
    std::string path, body, words, field;
  };
  Json c = Create("/api/v1/clusters", {{"name", "local"}});
  const std::string cid = c["id"];
  Json h =
      Create("/api/v1/clusters/" + cid + "/hosts", {{"name", "localhost"}, {"transport", "local"}});
  const std::string hid = h["id"];
  const std::string hosts = "/api/v1/clusters/" + cid + "/hosts";
  const std::string volumes = "/api/v1/clusters/" + cid + "/volumes";
  std::vector<Case> cases = {
      {"/api/v1/clusters", R"({"name":"bad name;rm -rf"})", "invalid cluster name", "name"},
      {"/api/v1/clusters", R"({"name":"ok","colour":"red"})", "unknown field 'colour'", ""},
      {"/api/v1/clusters", R"({not json)", "not valid JSON", ""},
      {"/api/v1/clusters", R"({"name":5})", "must be a string", "name"},
      {"/api/v1/clusters", R"({"description":"no name"})", "is required", "name"},
      {hosts, R"({"name":"-bad-"})", "invalid host name", "name"},
      {hosts, R"({"name":"h2","ssh_fingerprint":"MD5:00"})", "fingerprint", "ssh_fingerprint"},
      {hosts, R"({"name":"h3","ssh_port":0})", "ssh port", "ssh_port"},
      {hosts, R"({"name":"h4","ssh_port":99999})", "ssh port", "ssh_port"},
      {hosts, R"({"name":"h5","address":"bad address"})", "invalid host address", "address"},
      {hosts, R"({"name":"h6","ssh_user":"Root!"})", "ssh user", "ssh_user"},
      {volumes, R"({"name":"v","host_id":")" + hid + R"(","path":"/srv/../etc"})", "normalised",
       "path"},
      {volumes, R"({"name":"v","host_id":")" + hid + R"(","path":"relative"})", "absolute", "path"},
      {volumes, R"({"name":"all","host_id":")" + hid + R"(","path":"/srv/a"})", "reserved", "name"},
      {"/api/v1/clusters/" + cid + "/destinations",
       R"({"source_host_id":")" + hid + R"(","host":"bad host"})", "invalid destination host",
       "host"},
      {"/api/v1/clusters/" + cid + "/destinations",
       R"({"source_host_id":")" + hid + R"(","host":"localhost","ssh_port":0})", "ssh port",
       "ssh_port"},
  };
  for (const auto& k : cases) {
    auto r = engine_->Post(k.path, k.body, token_);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << k.body << " -> " << r->body;
    Json e = Body(r);
    EXPECT_EQ(e["error"]["code"], "invalid_argument");
    EXPECT_NE(e["error"]["message"].get<std::string>().find(k.words), std::string::npos)
        << e["error"]["message"];
    if (k.field.empty()) {
      EXPECT_FALSE(e["error"].contains("field")) << k.body << " -> " << r->body;
    } else {
      EXPECT_EQ(e["error"].value("field", ""), k.field) << k.body << " -> " << r->body;
    }
  }
  EXPECT_EQ(Count("/api/v1/clusters"), 1u);
  EXPECT_EQ(Count("/api/v1/clusters/" + cid + "/hosts"), 1u);
  EXPECT_EQ(Count("/api/v1/clusters/" + cid + "/volumes"), 0u);
  EXPECT_EQ(Count("/api/v1/clusters/" + cid + "/destinations"), 0u);

  // Request-size limit.
  std::string huge = R"({"name":"x","description":")" + std::string(2 << 20, 'a') + R"("})";
  auto big = engine_->Post("/api/v1/clusters", huge, token_);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(Count("/api/v1/clusters"), 1u);

  auto missing = engine_->Get("/api/v1/sessions/does-not-exist", token_);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(Body(missing)["error"]["code"], "not_found");
}

// GET /destinations lists every cluster's destinations (a console's overview needs them all).
TEST_P(ApiTest, EveryClustersDestinationsInOneList) {
  std::set<std::string> made;
  for (const std::string name : {"east", "west"}) {
    Json c = Create("/api/v1/clusters", {{"name", name}});
    Json h = Create("/api/v1/clusters/" + c["id"].get<std::string>() + "/hosts",
                    {{"name", "localhost"}, {"transport", "local"}});
    Json d = Create("/api/v1/clusters/" + c["id"].get<std::string>() + "/destinations",
                    {{"source_host_id", h["id"]}, {"host", "localhost"}});
    made.insert(d["id"].get<std::string>());
  }
  auto r = engine_->Get("/api/v1/destinations", token_);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  std::set<std::string> listed;
  const Json body = Body(r);  // the loop below must not range over a temporary's member
  for (const Json& d : body["items"]) listed.insert(d["id"].get<std::string>());
  EXPECT_EQ(listed, made) << r->body;
}

TEST_P(ApiTest, SessionConfigAndEvents) {
  Json s = MakeSession();
  const std::string sid = s["id"];
  EXPECT_EQ(s["status"], "Created");
  ASSERT_EQ(s["nodes"].size(), 1u);
  EXPECT_EQ(s["nodes"][0]["status"], "Created");

  auto cfg = engine_->Get("/api/v1/sessions/" + sid + "/config", token_);
  ASSERT_EQ(cfg->status, 200);
  bool has_default = false;
  const Json items = Body(cfg)["items"];
  for (const auto& item : items) {
    if (item["key"] == "rescan-interval") {
      has_default =
          item["value"] == "3600" && item["default"] == "3600" && item["is_default"] == true;
      EXPECT_FALSE(item["description"].get<std::string>().empty());
    }
  }
  EXPECT_TRUE(has_default);

  auto set = engine_->Put("/api/v1/sessions/" + sid + "/config/rescan-interval",
                          R"({"value":"600"})", token_);
  ASSERT_EQ(set->status, 200) << set->body;
  EXPECT_EQ(Body(set)["value"], "600");
  EXPECT_EQ(Body(set)["changed_by"], "admin");
  auto bad = engine_->Put("/api/v1/sessions/" + sid + "/config/rescan-interval",
                          R"({"value":"lots"})", token_);
  EXPECT_EQ(bad->status, 400);
  auto reset = engine_->Delete("/api/v1/sessions/" + sid + "/config/rescan-interval", token_);
  EXPECT_EQ(reset->status, 204);

  auto events = engine_->Get("/api/v1/events?object_id=" + sid, token_);
  ASSERT_EQ(events->status, 200);
  std::vector<std::string> actions;
  const Json event_items = Body(events)["items"];
  for (const auto& e : event_items)
    actions.push_back(e["action"].get<std::string>() + ":" + e["result"].get<std::string>());
  EXPECT_EQ(actions,
            (std::vector<std::string>{"session.config.reset:ok", "session.config.set:failed",
                                      "session.config.set:ok", "session.create:ok"}));

  auto rm = engine_->Delete("/api/v1/sessions/" + sid, token_);
  EXPECT_EQ(rm->status, 204);
  EXPECT_EQ(Count("/api/v1/sessions"), 0u);
}

TEST_P(ApiTest, DataSurvivesSigkillAndRestart) {
  Json s = MakeSession();
  auto set =
      engine_->Put("/api/v1/sessions/" + s["id"].get<std::string>() + "/config/ignore-deletes",
                   R"({"value":"true"})", token_);
  ASSERT_EQ(set->status, 200);
  const std::string password = engine_->admin_password();

  engine_->Kill();  // no chance to flush or shut down cleanly
  engine_ = std::make_unique<EngineProcess>(data_.path(), extra_);
  ASSERT_TRUE(engine_->Start()) << engine_->output();
  EXPECT_TRUE(engine_->admin_password().empty()) << "a second admin password was printed";
  // The old token still works; the old password still works.
  auto me = engine_->Get("/api/v1/me", token_);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
  token_ = engine_->Login(password);
  ASSERT_FALSE(token_.empty());

  auto got = engine_->Get("/api/v1/sessions/" + s["id"].get<std::string>(), token_);
  ASSERT_EQ(got->status, 200);
  EXPECT_EQ(Body(got)["session_key"], s["session_key"]);
  auto cfg = engine_->Get("/api/v1/sessions/" + s["id"].get<std::string>() + "/config", token_);
  bool kept = false;
  const Json items = Body(cfg)["items"];
  for (const auto& item : items)
    if (item["key"] == "ignore-deletes") kept = item["value"] == "true";
  EXPECT_TRUE(kept);
  EXPECT_EQ(Count("/api/v1/clusters"), 1u);
}

TEST_P(ApiTest, SigtermShutsDownCleanly) {
  EXPECT_EQ(engine_->Terminate(), 0);
}

INSTANTIATE_TEST_SUITE_P(Stores, ApiTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

// V9-V11: writes take JSON only (a text/plain or form body is what another site's page can
// make a browser send, a login included), and numbers are numbers.
TEST_P(ApiTest, WritesTakeJsonOnlyAndNumbersAreStrict) {
  httplib::Client c("127.0.0.1", engine_->port());
  auto login = c.Post("/api/v1/auth/login",
                      R"({"username":"admin","password":")" + engine_->admin_password() + "\"}",
                      "text/plain");
  ASSERT_TRUE(login);
  EXPECT_EQ(login->status, 415) << login->body;
  EXPECT_NE(login->body.find("application/json"), std::string::npos) << login->body;
  httplib::Headers auth = {{"Authorization", "Bearer " + token_}};
  auto form = c.Post("/api/v1/clusters", auth, "name=evil", "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 415) << form->body;
  EXPECT_EQ(Count("/api/v1/clusters"), 0u);
  auto json =
      c.Post("/api/v1/clusters", auth, R"({"name":"ok"})", "application/json; charset=utf-8");
  ASSERT_TRUE(json);
  EXPECT_EQ(json->status, 201) << json->body;

  Json session = MakeSession();
  const std::string sid = session["id"];
  for (const char* bad : {"100abc", "0", "101", "-5", ""}) {
    auto r = engine_->Post("/api/v1/sessions/" + sid + "/verify?sample_percent=" + bad, "", token_);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad << ": " << r->body;
  }
}

// V6: tokens that never expire, a TTL that overflowed, tokens that outlived a password change,
// and no way for an admin to revoke another user's.
TEST_P(ApiTest, TokensExpireAndGoWithThePasswordAndAdminsRevokeThem) {
  for (const char* body : {R"({"name":"ci"})", R"({"name":"ci","ttl_seconds":0})",
                           R"({"name":"ci","ttl_seconds":9223372036854775807})"}) {
    auto r = engine_->Post("/api/v1/tokens", body, token_);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << body << ": " << r->body;
  }
  auto ok = engine_->Post("/api/v1/tokens", R"({"name":"ci","ttl_seconds":3600})", token_);
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 201) << ok->body;
  EXPECT_FALSE(Body(ok)["expires_at"].is_null());
  auto huge = engine_->Post(
      "/api/v1/auth/login",
      Json({{"username", "admin"}, {"password", engine_->admin_password()}, {"ttl_seconds", 0}})
          .dump());
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 400) << huge->body;

  // Bob's tokens: an admin sees and revokes them; Bob's password change revokes them too.
  Json bob = Create("/api/v1/users",
                    {{"name", "bob"}, {"password", "long-enough-pw"}, {"role", "operator"}});
  const std::string bob_id = bob["id"];
  auto bob_login = [&](const std::string& pw) {
    auto l =
        engine_->Post("/api/v1/auth/login", Json({{"username", "bob"}, {"password", pw}}).dump());
    return l && l->status == 200 ? Body(l)["token"].get<std::string>() : std::string();
  };
  const std::string t1 = bob_login("long-enough-pw");
  ASSERT_FALSE(t1.empty());
  auto listed = engine_->Get("/api/v1/users/" + bob_id + "/tokens", token_);
  ASSERT_TRUE(listed && listed->status == 200);
  EXPECT_EQ(Body(listed)["items"].size(), 1u);
  auto as_bob = engine_->Get("/api/v1/users/" + bob_id + "/tokens", t1);
  EXPECT_EQ(as_bob->status, 403);
  auto revoke = engine_->Delete("/api/v1/users/" + bob_id + "/tokens", token_);
  ASSERT_TRUE(revoke);
  EXPECT_EQ(revoke->status, 204) << revoke->body;
  EXPECT_EQ(engine_->Get("/api/v1/me", t1)->status, 401);

  const std::string t2 = bob_login("long-enough-pw");
  ASSERT_FALSE(t2.empty());
  auto changed = engine_->Put("/api/v1/users/" + bob_id + "/password",
                              R"({"password":"another-long-pw"})", t2);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->status, 204) << changed->body;
  EXPECT_EQ(engine_->Get("/api/v1/me", t2)->status, 401) << "a token outlived the password";
  EXPECT_FALSE(bob_login("another-long-pw").empty());
}

// V8: two engines on one data directory ran the same sessions' workers and took their state
// directories from each other forever. The second is refused, saying which process holds it;
// the first goes on; once it is gone (a kill -9 too), an engine starts at once.

}  // namespace
}  // namespace georep::testing
