// SessionVerifier::VerifySession for a destination reached over ssh, with the process seam faked:
// the ssh command line the engine builds (the worker's, with describe's arguments) and what it
// makes of each way the run can end.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include "engine/operations.h"
#include "engine/test_support/volume_check.h"
#include "model/path_guard.h"
#include "replication/test_util.h"

namespace georep {
namespace {

// The options PinnedSshClient gives with the connector's files (below), in order.
const std::vector<std::string> kPinnedOptions = {"-i", "/engine/key",
                                                 "-o", "IdentitiesOnly=yes",
                                                 "-o", "BatchMode=yes",
                                                 "-o", "StrictHostKeyChecking=yes",
                                                 "-o", "UserKnownHostsFile=/pinned/dr.example",
                                                 "-o", "GlobalKnownHostsFile=/dev/null",
                                                 "-o", "HostKeyAlgorithms=ssh-ed25519",
                                                 "-o", "CheckHostIP=no",
                                                 "-o", "UpdateHostKeys=no",
                                                 "-o", "ConnectTimeout=10"};

std::vector<std::string> Cat(std::vector<std::string> a, const std::vector<std::string>& b,
                             const std::vector<std::string>& c) {
  a.insert(a.end(), b.begin(), b.end());
  a.insert(a.end(), c.begin(), c.end());
  return a;
}

using replication::testing::TempDir;
using replication::testing::WriteFile;

// Every command runs through `script`; the engine's ssh options are fixed.
class ScriptedConnector final : public HostConnector {
 public:
  using Script = std::function<Result<CommandResult>(const CommandSpec&)>;
  class Runner final : public CommandRunner {
   public:
    explicit Runner(ScriptedConnector* owner) : owner_(owner) {}
    Result<CommandResult> Run(const CommandSpec& spec) override {
      // The path guards' probe at create (model/path_guard.h): unanswered, not recorded.
      if (spec.argv.size() > 3 && spec.argv[3] == kPathProbeName)
        return Status::Unavailable("no path probe here");
      if (auto checked = testing_support::AnswerVolumeCheck(spec)) return *checked;
      owner_->specs.push_back(spec);
      return owner_->script(spec);
    }

   private:
    ScriptedConnector* owner_;
  };
  std::unique_ptr<CommandRunner> RunnerFor(const Host& h) override {
    hosts.push_back(h.transport);
    return std::make_unique<Runner>(this);
  }
  Result<std::vector<HostKey>> ScanHostKeys(const std::string&, int) override {
    return Status::Unavailable("no network in unit tests");
  }
  Status InstallEngineKey(const Host&, const std::string&) override {
    return Status::Unavailable("no network in unit tests");
  }
  Result<PinnedSshClient> SshClient(const Host& host) override {
    return PinnedSshClient{"/engine/key", "/pinned/" + host.address, "ssh-ed25519", 10};
  }
  std::string EnginePublicKey() override { return ""; }
  std::string EngineKeyFingerprint() override { return ""; }

  Script script;
  std::vector<CommandSpec> specs;
  std::vector<HostTransport> hosts;
};

CommandResult Exited(int code, std::string out, std::string err) {
  CommandResult r;
  r.exit_code = code;
  r.out = std::move(out);
  r.err = std::move(err);
  return r;
}

class VerifySessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenStore("sqlite://" + db_dir_.path() + "/db");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_, &hosts_);
    Cluster c = *ops_->CreateCluster(admin_, {"local", ""});
    HostSpec hs;
    hs.cluster_id = c.id;
    hs.name = "localhost";
    hs.transport = HostTransport::kLocal;
    Host h = *ops_->AddHost(admin_, hs);
    VolumeSpec vs;
    vs.cluster_id = c.id;
    vs.name = "src";
    vs.bricks = {{h.id, src_.path()}};
    Volume v = *ops_->AddVolume(admin_, vs);
    auto d = ops_->CreateDestination(
        admin_, {c.id, h.id, "dr.example", 2222, "SHA256:" + std::string(43, 'A'), "backup"});
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    auto session = ops_->CreateSession(admin_, {d->id, v.id, "/srv/replica of src", ""});
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    id_ = session->session.id;
    hosts_.hosts.clear();  // what verify reaches, not the path guards at create
    WriteFile(src_ / "a", "alpha");
    WriteFile(src_ / "b", "beta");
  }

  // Answers like `georep agent --describe` of `root` would.
  ScriptedConnector::Script DescribeOf(const std::string& root) {
    return [root](const CommandSpec& spec) -> Result<CommandResult> {
      auto at = std::find(spec.argv.begin(), spec.argv.end(), "'--sample'");
      if (at == spec.argv.end() || at + 1 == spec.argv.end())
        return Status::InvalidArgument("no --sample");
      const int sample = std::stoi(at[1].substr(1));
      auto d = replication::DescribeTreeForVerify(root, {sample, {}});
      if (!d.ok()) return d.status();
      auto bytes = replication::EncodeTreeDescription(*d);
      if (!bytes.ok()) return bytes.status();
      return Exited(0, *bytes, "");
    };
  }

  TempDir db_dir_, src_;
  Actor admin_{"admin", Role::kAdmin};
  FakeClock clock_;
  SeededRandom random_{7};
  ObjectLocks locks_;
  ScriptedConnector hosts_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Operations> ops_;
  std::string id_;
};

TEST_F(VerifySessionTest, RunsTheWorkersSshCommandLineWithDescribe) {
  TempDir dst;
  WriteFile(dst / "a", "alpha");
  struct timespec times[2] = {{1'000, 0}, {1'600'000'000, 0}};
  // The roots' times too: a directory's mtime is compared.
  for (const std::string& p : {src_ / "a", dst / "a", src_.path(), dst.path()})
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, 0), 0);
  hosts_.script = DescribeOf(dst.path());
  auto r = ops_->verifier().VerifySession(admin_, id_, 100);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(hosts_.specs.size(), 1u);
  EXPECT_EQ(hosts_.hosts, std::vector<HostTransport>{HostTransport::kLocal});  // ssh runs here
  EXPECT_EQ(
      hosts_.specs[0].argv,
      Cat({"ssh"}, kPinnedOptions,
          {"-o", "BatchMode=yes", "-p", "2222", "--", "backup@dr.example", "'georep'", "'agent'",
           "'--root'", "'/srv/replica of src'", "'--describe'", "'--sample'", "'100'"}));
  EXPECT_GE(hosts_.specs[0].max_output_bytes, replication::kMaxTreeDescriptionBytes);
  ASSERT_EQ(r->differences.size(), 1u);
  EXPECT_EQ(r->differences[0].path, "b");
  EXPECT_EQ(r->differences[0].what, "missing at the destination");

  // The session's own ssh command, port, remote command and excludes.
  ASSERT_TRUE(ops_->SetConfig(admin_, id_, "ssh-command", "/usr/bin/ssh -o ConnectTimeout=7").ok());
  ASSERT_TRUE(ops_->SetConfig(admin_, id_, "ssh-port", "2200").ok());
  ASSERT_TRUE(ops_->SetConfig(admin_, id_, "remote-command", "sudo /opt/georep agent").ok());
  ASSERT_TRUE(ops_->SetConfig(admin_, id_, "exclude", "*.tmp,cache it").ok());
  hosts_.specs.clear();
  r = ops_->verifier().VerifySession(admin_, id_, 10);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // georep's options first: ssh keeps an option's first value.
  EXPECT_EQ(hosts_.specs[0].argv, Cat({"/usr/bin/ssh"}, kPinnedOptions,
                                      {"-o",
                                       "ConnectTimeout=7",
                                       "-o",
                                       "BatchMode=yes",
                                       "-p",
                                       "2200",
                                       "--",
                                       "backup@dr.example",
                                       "'sudo'",
                                       "'/opt/georep'",
                                       "'agent'",
                                       "'--root'",
                                       "'/srv/replica of src'",
                                       "'--describe'",
                                       "'--sample'",
                                       "'10'",
                                       "'--exclude'",
                                       "'*.tmp'",
                                       "'--exclude'",
                                       "'cache it'"}));
}

TEST_F(VerifySessionTest, SaysWhyTheDestinationCouldNotBeDescribed) {
  auto verify_fails = [&](ScriptedConnector::Script script) {
    hosts_.script = std::move(script);
    auto r = ops_->verifier().VerifySession(admin_, id_, 100);
    EXPECT_FALSE(r.ok());
    return r.ok() ? Status::Ok() : r.status();
  };
  Status st = verify_fails([](const CommandSpec&) {
    return Exited(255, "", "ssh: connect to host dr.example port 2222: Connection refused\r\n");
  });
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message(),
            "cannot reach the destination backup@dr.example port 2222 over ssh: ssh: connect to "
            "host dr.example port 2222: Connection refused");
  st = verify_fails([](const CommandSpec&) {
    return Exited(109, "",
                  "The following arguments were not expected: --sample 100 --describe\nRun with "
                  "--help for more information.\n");
  });
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("too old"), std::string::npos) << st.message();
  st = verify_fails([](const CommandSpec&) {
    return Exited(1, "", "georep agent: cannot describe the tree: cannot open /srv/x\n");
  });
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("failed (exit 1): georep agent: cannot describe the tree"),
            std::string::npos)
      << st.message();
  st = verify_fails([](const CommandSpec&) { return Exited(0, "hello\n", ""); });
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("does not start with GRTREE"), std::string::npos) << st.message();
  st = verify_fails([](const CommandSpec&) {
    CommandResult r = Exited(0, "", "");
    r.timed_out = true;
    return r;
  });
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  st = verify_fails([](const CommandSpec&) {
    CommandResult r = Exited(0, "GRTREE", "");
    r.truncated = true;
    return r;
  });
  EXPECT_NE(st.message().find("exceeds"), std::string::npos) << st.message();
  st = verify_fails(
      [](const CommandSpec&) -> Result<CommandResult> { return Status::Internal("no ssh"); });
  EXPECT_EQ(st.message(), "no ssh");
  // A description cut short in transit (a lost connection after ssh started).
  TempDir dst;
  auto whole = DescribeOf(dst.path());
  st = verify_fails([&](const CommandSpec& spec) -> Result<CommandResult> {
    auto r = whole(spec);
    if (r.ok()) r->out.resize(r->out.size() / 2);
    return r;
  });
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("checksum mismatch"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace georep
