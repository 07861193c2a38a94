// The georep CLI against a real engine: login (token saved 0600), commands, --json, errors.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "integration/engine_process.h"
#include "integration/sshd_server.h"

namespace georep::testing {
namespace {

using Json = nlohmann::json;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Sources are directories that exist (the engine checks), under volumes_; destinations
    // under /srv (never created: no session here starts).
    source_ = volumes_.path() + "/src";
    ASSERT_EQ(::mkdir(source_.c_str(), 0755), 0);
    engine_ = std::make_unique<EngineProcess>(
        data_.path(),
        std::vector<std::string>{"--volume-root", "/srv", "--volume-root", volumes_.path()});
    ASSERT_TRUE(engine_->Start()) << engine_->output();
    env_ = {"GEOREP_CONFIG_DIR=" + config_.path() + "/cfg"};
    auto login = Cli({"login", "--server", engine_->url(), "--user", "admin", "--password-stdin"},
                     engine_->admin_password() + "\n");
    ASSERT_EQ(login.exit_code, 0) << login.err;
  }
  CommandResult Cli(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), GeorepBinary());
    return RunCommand(args, input, env_);
  }
  TempDir data_, config_, volumes_;
  std::string source_;
  std::unique_ptr<EngineProcess> engine_;
  std::vector<std::string> env_;
};

TEST_F(CliTest, LoginSavesAPrivateToken) {
  struct stat st {};
  ASSERT_EQ(stat((config_.path() + "/cfg/credentials.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto bad = RunCommand({GeorepBinary(), "login", "--server", engine_->url(), "--password-stdin"},
                        "wrong\n", {"GEOREP_CONFIG_DIR=" + config_.path() + "/other"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("wrong user name or password"), std::string::npos) << bad.err;
}

TEST_F(CliTest, ClusterHostVolumeSessionConfigWorkflow) {
  ASSERT_EQ(Cli({"cluster", "create", "local", "--description", "this machine"}).exit_code, 0);
  auto list = Cli({"cluster", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("NAME"), std::string::npos);
  EXPECT_NE(list.out.find("this machine"), std::string::npos);

  auto host = Cli({"--json", "host", "add", "local", "localhost", "--transport", "local"});
  ASSERT_EQ(host.exit_code, 0) << host.err;
  std::string hid = Json::parse(host.out)["id"];
  auto vol = Cli({"--json", "volume", "add", "local", "src", "--host", hid, "--path", source_});
  ASSERT_EQ(vol.exit_code, 0) << vol.err;
  std::string vid = Json::parse(vol.out)["id"];
  auto dest = Cli(
      {"--json", "destination", "create", "local", "localhost", "--source-host", hid, "--local"});
  ASSERT_EQ(dest.exit_code, 0) << dest.err;
  std::string did = Json::parse(dest.out)["id"];
  auto sess = Cli({"--json", "session", "create", "--destination", did, "--volume", vid,
                   "--remote-volume", "/srv/dst"});
  ASSERT_EQ(sess.exit_code, 0) << sess.err;
  std::string sid = Json::parse(sess.out)["id"];

  auto status = Cli({"session", "status", sid});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("CRAWL STATUS"), std::string::npos);
  EXPECT_NE(status.out.find("Created"), std::string::npos);

  EXPECT_EQ(Cli({"config", sid, "rescan-interval", "5"}).exit_code, 0);
  auto one = Cli({"--json", "config", sid, "rescan-interval"});
  ASSERT_EQ(one.exit_code, 0);
  EXPECT_EQ(Json::parse(one.out)["value"], "5");
  auto invalid = Cli({"config", sid, "rescan-interval", "zero"});
  EXPECT_NE(invalid.exit_code, 0);
  EXPECT_NE(invalid.err.find("whole number"), std::string::npos) << invalid.err;
  EXPECT_EQ(Cli({"config", sid, "rescan-interval", "--reset"}).exit_code, 0);
  auto after = Cli({"--json", "config", sid, "rescan-interval"});
  EXPECT_EQ(Json::parse(after.out)["value"], "3600");

  auto events = Cli({"--json", "event", "list", "--object-id", sid});
  ASSERT_EQ(events.exit_code, 0);
  // create, set, the refused set, reset: reads are not events.
  EXPECT_EQ(Json::parse(events.out).size(), 4u);
}

TEST_F(CliTest, BadInputExitsNonZeroWithTheReason) {
  auto r = Cli({"cluster", "create", "no spaces allowed"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("invalid cluster name"), std::string::npos) << r.err;
  auto list = Cli({"--json", "cluster", "list"});
  EXPECT_EQ(Json::parse(list.out).size(), 0u);
  auto unreachable =
      RunCommand({GeorepBinary(), "--server", "http://127.0.0.1:1", "cluster", "list"}, "", env_);
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_NE(unreachable.err.find("cannot reach the georep engine"), std::string::npos);
}

// --password / --password-stdin send the one-time password: the engine tries it on the host
// (this sshd takes no passwords, so it is refused), and refuses the whole operation.
TEST_F(CliTest, OneTimePasswordFlagsReachTheEngineForDestinationsAndImport) {
  TempDir ssh_dir;
  SshServer sshd(ssh_dir.path() + "/sshd");
  ASSERT_TRUE(sshd.Start("")) << sshd.error();
  const std::string port = std::to_string(sshd.port());
  const std::string fp = sshd.HostFingerprint();
  const std::string secret = "one-time-secret-8470";

  ASSERT_EQ(Cli({"cluster", "create", "local"}).exit_code, 0);
  auto host = Cli({"--json", "host", "add", "local", "localhost", "--transport", "local"});
  ASSERT_EQ(host.exit_code, 0) << host.err;
  const std::string hid = Json::parse(host.out)["id"];

  auto refused = Cli({"destination", "create", "local", "127.0.0.1", "--port", port,
                      "--fingerprint", fp, "--source-host", hid, "--password-stdin"},
                     secret + "\n");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("root@127.0.0.1 refused the one-time password"), std::string::npos)
      << refused.err;
  auto none = Cli({"--json", "destination", "list", "local"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(Json::parse(none.out).size(), 0u) << none.out;

  // Re-establish with --password (no terminal: read from stdin): the install is tried first.
  auto dest = Cli({"--json", "destination", "create", "local", "127.0.0.1", "--port", port,
                   "--fingerprint", fp, "--source-host", hid});
  ASSERT_EQ(dest.exit_code, 0) << dest.err;
  const std::string did = Json::parse(dest.out)["id"];
  auto re = Cli({"--json", "destination", "reestablish", did, "--password"}, secret + "\n");
  ASSERT_EQ(re.exit_code, 0) << re.err;
  const Json broken = Json::parse(re.out);
  EXPECT_EQ(broken["connection"], "Broken");
  EXPECT_NE(broken["connection_reason"].get<std::string>().find("refused the one-time password"),
            std::string::npos)
      << broken.dump();

  auto import = Cli({"cluster", "import", "east", "127.0.0.1", "--port", port, "--fingerprint", fp,
                     "--password-stdin"},
                    secret + "\n");
  EXPECT_EQ(import.exit_code, 1);
  EXPECT_NE(import.err.find("root@127.0.0.1 refused the one-time password"), std::string::npos)
      << import.err;
  auto clusters = Cli({"--json", "cluster", "list"});
  EXPECT_EQ(Json::parse(clusters.out).size(), 1u) << clusters.out;  // "local" only

  // An empty password is refused by the CLI itself.
  auto empty = Cli({"destination", "reestablish", did, "--password-stdin"}, "\n");
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("one-time password is empty"), std::string::npos) << empty.err;

  // The password is never recorded.
  auto events = Cli({"--json", "event", "list", "--limit", "1000"});
  ASSERT_EQ(events.exit_code, 0);
  EXPECT_EQ(events.out.find(secret), std::string::npos);
}

// Every SESSION argument takes the session's id, its key, or "SRCVOL HOST::DVOL"; a name
// two sessions share, or none has, is refused with the candidates.
TEST_F(CliTest, SessionsAreNamedByIdKeyOrVolumeAndDestination) {
  auto session = [&](const std::string& cluster, const std::string& remote_volume) {
    auto vol = Cli({"--json", "volume", "list", cluster});
    auto dest = Cli({"--json", "destination", "list", cluster});
    EXPECT_EQ(vol.exit_code, 0) << vol.err;
    EXPECT_EQ(dest.exit_code, 0) << dest.err;
    auto created =
        Cli({"--json", "session", "create", "--destination",
             Json::parse(dest.out)[0]["id"].get<std::string>(), "--volume",
             Json::parse(vol.out)[0]["id"].get<std::string>(), "--remote-volume", remote_volume});
    EXPECT_EQ(created.exit_code, 0) << created.err;
    return Json::parse(created.out)["id"].get<std::string>();
  };
  for (const std::string cluster : {"east", "west"}) {
    ASSERT_EQ(Cli({"cluster", "create", cluster}).exit_code, 0);
    auto host = Cli({"--json", "host", "add", cluster, "localhost", "--transport", "local"});
    ASSERT_EQ(host.exit_code, 0) << host.err;
    const std::string hid = Json::parse(host.out)["id"];
    ASSERT_EQ(Cli({"volume", "add", cluster, "src", "--host", hid, "--path", source_}).exit_code,
              0);
    // West's destination is another machine also called localhost (reached over ssh, not
    // reachable now): its /srv/dst1 is not east's, which the path guards would refuse.
    std::vector<std::string> dest = {"destination", "create",        cluster,
                                     "localhost",   "--source-host", hid};
    if (cluster == "east") {
      dest.push_back("--local");
    } else {
      dest.insert(dest.end(), {"--port", "1", "--fingerprint", "SHA256:" + std::string(43, 'A')});
    }
    auto created = Cli(dest);
    ASSERT_EQ(created.exit_code, 0) << created.err;
  }
  const std::string east1 = session("east", "/srv/dst1");
  const std::string east2 = session("east", "/srv/dst2");
  const std::string west1 = session("west", "/srv/dst1");  // the same key as east1

  // By key, and by "SRCVOL HOST::DVOL".
  auto by_key = Cli({"--json", "session", "status", "src_localhost_/srv/dst2"});
  ASSERT_EQ(by_key.exit_code, 0) << by_key.err;
  EXPECT_EQ(Json::parse(by_key.out)["id"], east2);
  ASSERT_EQ(Cli({"config", "src localhost::/srv/dst2", "rescan-interval", "5"}).exit_code, 0);
  auto set = Cli({"--json", "config", east2, "rescan-interval"});
  EXPECT_EQ(Json::parse(set.out)["value"], "5") << set.out;
  auto by_user = Cli({"--json", "session", "status", "src root@localhost::/srv/dst2"});
  ASSERT_EQ(by_user.exit_code, 0) << by_user.err;
  EXPECT_EQ(Json::parse(by_user.out)["id"], east2);

  // A name two sessions share: refused, both named.
  for (const std::string name : {"src_localhost_/srv/dst1", "src localhost::/srv/dst1"}) {
    auto twice = Cli({"session", "stop", name});
    EXPECT_EQ(twice.exit_code, 2) << name;
    EXPECT_NE(twice.err.find("names 2 sessions"), std::string::npos) << twice.err;
    EXPECT_NE(twice.err.find(east1), std::string::npos) << twice.err;
    EXPECT_NE(twice.err.find(west1), std::string::npos) << twice.err;
  }
  // A name none has: refused, the sessions listed.
  auto unknown = Cli({"session", "remove", "gv0_dst1_gv1"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no session 'gv0_dst1_gv1'"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find(east2 + " (src_localhost_/srv/dst2)"), std::string::npos)
      << unknown.err;

  // The id still works, and remove by key removes that one session only.
  ASSERT_EQ(Cli({"session", "status", east1}).exit_code, 0);
  auto removed = Cli({"session", "remove", "src_localhost_/srv/dst2"});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  auto left = Cli({"--json", "session", "list"});
  ASSERT_EQ(Json::parse(left.out).size(), 2u) << left.out;
  for (const auto& s : Json::parse(left.out)) EXPECT_NE(s["id"], east2);
}

TEST_F(CliTest, LogoutRevokesTheToken) {
  auto tokens = Cli({"--json", "token", "list"});
  ASSERT_EQ(tokens.exit_code, 0);
  EXPECT_EQ(Json::parse(tokens.out).size(), 1u);
  ASSERT_EQ(Cli({"logout"}).exit_code, 0);
  auto after = Cli({"cluster", "list"});
  EXPECT_NE(after.exit_code, 0);
  EXPECT_NE(after.err.find("not logged in"), std::string::npos) << after.err;
}

TEST_F(CliTest, UsersHaveRolesAndAViewerIsToldWhatItNeeds) {
  auto add = Cli({"--json", "user", "add", "vera", "--role", "viewer"}, "long-enough-pw\n");
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_EQ(Json::parse(add.out)["role"], "viewer");
  const std::string vera = Json::parse(add.out)["id"];
  auto bad = Cli({"user", "add", "x", "--role", "root"}, "long-enough-pw\n");
  EXPECT_NE(bad.exit_code, 0);
  auto list = Cli({"user", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("ROLE"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("viewer"), std::string::npos) << list.out;

  // vera, logged in elsewhere, reads but cannot create; the message names the role needed.
  const std::vector<std::string> as_vera = {"GEOREP_CONFIG_DIR=" + config_.path() + "/vera"};
  auto login = RunCommand(
      {GeorepBinary(), "login", "--server", engine_->url(), "--user", "vera", "--password-stdin"},
      "long-enough-pw\n", as_vera);
  ASSERT_EQ(login.exit_code, 0) << login.err;
  EXPECT_EQ(RunCommand({GeorepBinary(), "cluster", "list"}, "", as_vera).exit_code, 0);
  auto refused = RunCommand({GeorepBinary(), "cluster", "create", "mine"}, "", as_vera);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("admin role"), std::string::npos) << refused.err;

  auto promote = Cli({"--json", "user", "role", vera, "operator"});
  ASSERT_EQ(promote.exit_code, 0) << promote.err;
  EXPECT_EQ(Json::parse(promote.out)["role"], "operator");
}

}  // namespace
}  // namespace georep::testing
