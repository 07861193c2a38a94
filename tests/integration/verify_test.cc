// `georep verify` of a directory session whose destination is reached over ssh: the real
// engine, worker and `georep agent --describe` behind a real sshd on 127.0.0.1, through the API
// and the CLI -- no difference after a sync; then a changed, a missing and a chmod-ed file made
// at the destination, a split hard link and a directory's changed time, an unreachable
// destination and a destination georep too old to describe; and `georep session repair`
// making a tampered destination equal to its source again.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "integration/engine_process.h"
#include "integration/sshd_server.h"
#include "replication/test_util.h"

namespace georep::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using replication::testing::DescribeTree;

bool WaitFor(int seconds, const std::function<bool()>& check) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return check();
}

void Write(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// A small tree with each kind of entry verify compares.
void MakeTree(const std::string& root) {
  fs::create_directories(root + "/dir/deeper");
  Write(root + "/top.txt", "top\n");
  Write(root + "/dir/small.txt", "hello\n");
  Write(root + "/dir/deeper/data.bin", std::string(300000, 'z'));
  Write(root + "/dir/keep-mode", "mode");
  ASSERT_EQ(::chmod((root + "/dir/keep-mode").c_str(), 0640), 0);
  ASSERT_EQ(::symlink("dir/small.txt", (root + "/link").c_str()), 0);
  ASSERT_EQ(::setxattr((root + "/top.txt").c_str(), "user.origin", "src", 3, 0), 0);
}

std::set<std::string> PathsIn(const Json& report) {
  std::set<std::string> paths;
  for (const auto& d : report["differences"]) paths.insert(d["path"].get<std::string>());
  return paths;
}

std::string WhatFor(const Json& report, const std::string& path) {
  for (const auto& d : report["differences"])
    if (d["path"] == path) return d["difference"];
  return "";
}

class VerifyOverSsh : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = std::make_unique<EngineProcess>(data_.path(),
                                              std::vector<std::string>{"--monitor-interval", "1"});
    ASSERT_TRUE(engine_->Start()) << engine_->output();
    token_ = engine_->Login(engine_->admin_password());
    ASSERT_FALSE(token_.empty());
    auto key = engine_->Get("/api/v1/engine/ssh-key", token_);
    ASSERT_TRUE(key && key->status == 200);
    sshd_ = std::make_unique<SshServer>(sshd_dir_.path());
    ASSERT_TRUE(sshd_->Start(Json::parse(key->body)["public_key"])) << sshd_->error();

    auto [c_status, cluster] = Post("/api/v1/clusters", {{"name", "local"}});
    ASSERT_EQ(c_status, 201) << cluster.dump();
    const std::string cid = cluster["id"];
    auto [h_status, host] =
        Post("/api/v1/clusters/" + cid + "/hosts", {{"name", "localhost"}, {"transport", "local"}});
    ASSERT_EQ(h_status, 201) << host.dump();
    auto [v_status, volume] =
        Post("/api/v1/clusters/" + cid + "/volumes",
             {{"name", "docs"}, {"host_id", host["id"]}, {"path", src_.path()}});
    ASSERT_EQ(v_status, 201) << volume.dump();
    // Only the destination's own port: the session's ssh-port config stays at its default.
    auto [d_status, dest] = Post("/api/v1/clusters/" + cid + "/destinations",
                                 {{"source_host_id", host["id"]},
                                  {"host", "127.0.0.1"},
                                  {"ssh_port", sshd_->port()},
                                  {"ssh_fingerprint", sshd_->HostFingerprint()}});
    ASSERT_EQ(d_status, 201) << dest.dump();
    dst_ = dst_root_.path() + "/replica of docs";
    auto [s_status, created] = Post("/api/v1/sessions", {{"destination_id", dest["id"]},
                                                         {"source_volume_id", volume["id"]},
                                                         {"destination_volume", dst_}});
    ASSERT_EQ(s_status, 201) << created.dump();
    id_ = created["id"];
    path_ = "/api/v1/sessions/" + id_;
    // The georep under test, not one on PATH.
    SetConfig("remote-command", GeorepBinary() + " agent");

    env_ = {"GEOREP_CONFIG_DIR=" + cli_config_.path()};
    ASSERT_EQ(RunCommand({GeorepBinary(), "login", "--server", engine_->url(), "--password-stdin"},
                         engine_->admin_password() + "\n", env_)
                  .exit_code,
              0);
  }

  std::pair<int, Json> Post(const std::string& path, const Json& body) {
    auto r = engine_->Post(path, body.dump(), token_);
    EXPECT_TRUE(r) << path;
    return r ? std::make_pair(r->status, Json::parse(r->body, nullptr, false))
             : std::make_pair(0, Json());
  }
  void SetConfig(const std::string& key, const std::string& value) {
    auto r = engine_->Put(path_ + "/config/" + key, Json{{"value", value}}.dump(), token_);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  std::pair<int, Json> Verify() { return Post(path_ + "/verify", Json::object()); }
  Json Events() {
    auto r = engine_->Get("/api/v1/events?action=session.verify", token_);
    return r ? Json::parse(r->body)["items"] : Json();
  }
  // Starts the session, waits until the destination matches the source, stops it (so nothing
  // puts back what the test then changes at the destination).
  void SyncOnce(bool stop = true) {
    ASSERT_NO_FATAL_FAILURE(MakeTree(src_.path()));
    // A hard link pair: top.txt and dir/hard are one inode.
    ASSERT_EQ(::link((src_.path() + "/top.txt").c_str(), (src_.path() + "/dir/hard").c_str()), 0);
    ASSERT_EQ(Post(path_ + "/start", Json::object()).first, 200);
    ASSERT_TRUE(WaitFor(60, [&] { return DescribeTree(dst_) == DescribeTree(src_.path()); }))
        << engine_->Get(path_, token_)->body;
    if (stop) {
      ASSERT_EQ(Post(path_ + "/stop", Json::object()).first, 200);
      return;
    }
    // Left running: settled before the test changes the destination -- its first pass ended
    // (live changes now) with nothing pending, so nothing it still applies undoes a change.
    ASSERT_TRUE(WaitFor(60, [&] {
      const Json s = Json::parse(engine_->Get(path_, token_)->body);
      if (s["status"] != "Active" || s["nodes"].size() != 1) return false;
      const Json& n = s["nodes"][0];
      return n["crawl_status"] == "Changelog Crawl" && n["entry_pending"] == 0 &&
             n["data_pending"] == 0 && n["meta_pending"] == 0;
    })) << engine_->Get(path_, token_)->body;
  }
  // Replaces `path` at the destination with a separate copy: same content, mode, owner, times.
  void SplitHardLink(const std::string& path) {
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    std::ifstream in(path, std::ios::binary);
    const std::string content((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
    ASSERT_EQ(::unlink(path.c_str()), 0);
    Write(path, content);
    ASSERT_EQ(::chmod(path.c_str(), st.st_mode & 07777), 0);
    char value[64];
    const ssize_t n =
        ::getxattr((src_.path() + "/top.txt").c_str(), "user.origin", value, sizeof(value));
    ASSERT_GT(n, 0);
    ASSERT_EQ(::setxattr(path.c_str(), "user.origin", value, static_cast<size_t>(n), 0), 0);
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }
  // Sets a directory's mtime, keeping its atime.
  static void SetMtime(const std::string& path, time_t seconds) {
    const struct timespec times[2] = {{0, UTIME_OMIT}, {seconds, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }
  // Restores a directory's times after an entry in it was changed by hand.
  static void KeepTimes(const std::string& dir, const std::function<void()>& change) {
    struct stat st {};
    ASSERT_EQ(::stat(dir.c_str(), &st), 0);
    change();
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, dir.c_str(), times, 0), 0);
  }

  TempDir data_, src_, dst_root_, sshd_dir_, cli_config_;
  std::unique_ptr<EngineProcess> engine_;
  std::unique_ptr<SshServer> sshd_;
  std::string token_, dst_, id_, path_;
  std::vector<std::string> env_;
};

TEST_F(VerifyOverSsh, NoDifferenceAfterSyncThenEachChangeAtTheDestination) {
  ASSERT_NO_FATAL_FAILURE(SyncOnce());
  auto [status, report] = Verify();
  ASSERT_EQ(status, 200) << report.dump();
  EXPECT_EQ(report["identical"], true) << report.dump(2);
  EXPECT_EQ(report["entries"], 9) << report.dump(2);  // . dir deeper 5 files link
  EXPECT_EQ(report["content_checked"], 5) << report.dump(2);
  auto cli = RunCommand({GeorepBinary(), "verify", id_}, "", env_);
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_NE(cli.out.find("identical"), std::string::npos) << cli.out;

  // Changed behind georep's back at the destination: content (same size and time), a file
  // removed, a mode.
  struct stat st {};
  ASSERT_EQ(::stat((dst_ + "/dir/small.txt").c_str(), &st), 0);
  Write(dst_ + "/dir/small.txt", "HELLO\n");
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dst_ + "/dir/small.txt").c_str(), times, 0), 0);
  ASSERT_TRUE(fs::remove(dst_ + "/dir/deeper/data.bin"));
  ASSERT_EQ(::chmod((dst_ + "/dir/keep-mode").c_str(), 0600), 0);
  std::tie(status, report) = Verify();
  ASSERT_EQ(status, 200) << report.dump();
  EXPECT_EQ(report["identical"], false);
  // Removing data.bin moved its directory's time too: a difference of its own.
  EXPECT_EQ(PathsIn(report), (std::set<std::string>{"dir/small.txt", "dir/deeper/data.bin",
                                                    "dir/keep-mode", "dir/deeper"}))
      << report.dump(2);
  EXPECT_EQ(WhatFor(report, "dir/small.txt"), "content differs");
  EXPECT_EQ(WhatFor(report, "dir/deeper/data.bin"), "missing at the destination");
  EXPECT_EQ(WhatFor(report, "dir/keep-mode"), "mode 640 at the source, 600 at the destination");

  cli = RunCommand({GeorepBinary(), "verify", id_}, "", env_);
  EXPECT_EQ(cli.exit_code, 1) << cli.out << cli.err;
  for (const char* p : {"dir/small.txt", "dir/deeper/data.bin", "dir/keep-mode"})
    EXPECT_NE(cli.out.find(p), std::string::npos) << p << "\n" << cli.out;

  // Recorded like a local verification: ok, then failed with the first difference.
  const Json events = Events();
  ASSERT_GE(events.size(), 4u) << events.dump(2);
  EXPECT_EQ(events[0]["result"], "failed") << events.dump(2);
  EXPECT_EQ(events[events.size() - 1]["result"], "ok") << events.dump(2);

  // A sample compares only some files' content, the same ones on both sides.
  auto sampled = Post(path_ + "/verify?sample_percent=1", Json::object());
  ASSERT_EQ(sampled.first, 200) << sampled.second.dump();
  EXPECT_LT(sampled.second["content_checked"].get<int>(), 5);
  EXPECT_TRUE(PathsIn(sampled.second).count("dir/keep-mode")) << sampled.second.dump(2);
}

TEST_F(VerifyOverSsh, ExcludedPathsAreNotCompared) {
  SetConfig("exclude", "*.bin");
  ASSERT_NO_FATAL_FAILURE(MakeTree(src_.path()));
  fs::create_directories(dst_);
  struct stat root {};
  ASSERT_EQ(::stat(src_.path().c_str(), &root), 0);
  ASSERT_EQ(::chmod(dst_.c_str(), root.st_mode & 07777), 0);
  // Nothing synced: everything but the excluded file is missing, which shows it was left out on
  // both sides (the destination's own *.bin too).
  Write(dst_ + "/stray.bin", "not compared");
  // The roots' times alike: a directory's mtime is compared, and this is about excludes.
  ASSERT_EQ(::stat(src_.path().c_str(), &root), 0);
  const struct timespec root_times[2] = {root.st_atim, root.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, dst_.c_str(), root_times, 0), 0);
  auto [status, report] = Verify();
  ASSERT_EQ(status, 200) << report.dump();
  EXPECT_EQ(PathsIn(report), (std::set<std::string>{"dir", "dir/deeper", "dir/small.txt",
                                                    "dir/keep-mode", "top.txt", "link"}))
      << report.dump(2);
}

// The tester's D3: hard links split into separate files and directory times that differ were
// reported "identical". Now each is a difference, and the report says what it did not compare.
TEST_F(VerifyOverSsh, FindsSplitHardLinksAndDirectoryTimesAndSaysWhatItDidNotCompare) {
  ASSERT_NO_FATAL_FAILURE(SyncOnce());
  auto [status, report] = Verify();
  ASSERT_EQ(status, 200) << report.dump();
  ASSERT_EQ(report["identical"], true) << report.dump(2);

  // Same content, mode, owner, xattrs and times; only no longer one inode. Its directory's
  // time is put back, so only the link structure differs there.
  KeepTimes(dst_ + "/dir", [&] { SplitHardLink(dst_ + "/dir/hard"); });
  SetMtime(dst_ + "/dir/deeper", 1'500'000'000);
  std::tie(status, report) = Verify();
  ASSERT_EQ(status, 200) << report.dump();
  EXPECT_EQ(report["identical"], false);
  EXPECT_EQ(PathsIn(report), (std::set<std::string>{"top.txt", "dir/hard", "dir/deeper"}))
      << report.dump(2);
  EXPECT_EQ(WhatFor(report, "top.txt"),
            "hard links: one inode with 'dir/hard' at the source, a separate file at the "
            "destination");
  EXPECT_NE(WhatFor(report, "dir/deeper").find("2017-07-14T02:40:00.000000000Z at the destination"),
            std::string::npos)
      << report.dump(2);
  // What it did not compare, plainly.
  std::string not_compared;
  for (const auto& n : report["not_compared"]) not_compared += n.get<std::string>() + "\n";
  // The session replicates every xattr namespace verify knows (the defaults, as root): what is
  // left is what georep never replicates.
  EXPECT_EQ(not_compared.find("not replicated by this session"), std::string::npos)
      << report.dump(2);
  EXPECT_NE(not_compared.find("other xattrs: security.* but security.capability"),
            std::string::npos)
      << report.dump(2);
  EXPECT_NE(not_compared.find("access and change times"), std::string::npos) << report.dump(2);
  auto cli = RunCommand({GeorepBinary(), "verify", id_}, "", env_);
  EXPECT_EQ(cli.exit_code, 1) << cli.out << cli.err;
  EXPECT_NE(cli.out.find("dir/hard: hard links: one inode with 'top.txt' at the source"),
            std::string::npos)
      << cli.out;
  EXPECT_NE(cli.out.find("not compared: "), std::string::npos) << cli.out;
}

// D11: a destination changed behind georep's back is repaired -- exactly what differs sent
// again, what only the destination has deleted -- and verified identical again.
TEST_F(VerifyOverSsh, RepairMakesATamperedDestinationEqualToItsSource) {
  ASSERT_NO_FATAL_FAILURE(SyncOnce(/*stop=*/false));
  // Tampered with: content changed with size and mtime kept, a file deleted, an extra file and
  // an extra directory, a mode, a split hard link, a directory's time.
  struct stat st {};
  ASSERT_EQ(::stat((dst_ + "/dir/small.txt").c_str(), &st), 0);
  Write(dst_ + "/dir/small.txt", "HELLO\n");
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dst_ + "/dir/small.txt").c_str(), times, 0), 0);
  ASSERT_TRUE(fs::remove(dst_ + "/dir/deeper/data.bin"));
  Write(dst_ + "/extra.txt", "only here");
  fs::create_directories(dst_ + "/extra-dir/inner");
  Write(dst_ + "/extra-dir/inner/file", "only here too");
  ASSERT_EQ(::chmod((dst_ + "/dir/keep-mode").c_str(), 0600), 0);
  SplitHardLink(dst_ + "/dir/hard");
  SetMtime(dst_ + "/dir", 1'500'000'000);
  ASSERT_NE(DescribeTree(dst_), DescribeTree(src_.path()));

  auto [status, report] = Post(path_ + "/repair", Json::object());
  ASSERT_EQ(status, 200) << report.dump(2);
  const Json& before = report["before"];
  for (const char* p :
       {"dir/small.txt", "dir/deeper/data.bin", "extra.txt", "extra-dir", "extra-dir/inner",
        "extra-dir/inner/file", "dir/keep-mode", "dir/hard", "top.txt", "dir"})
    EXPECT_TRUE(PathsIn(before).count(p)) << p << "\n" << before.dump(2);
  EXPECT_EQ(report["deleted"], 4) << report.dump(2);  // extra.txt, extra-dir, inner, file
  EXPECT_EQ(report["identical"], true) << report.dump(2);
  EXPECT_EQ(report["after"]["identical"], true) << report.dump(2);
  // The destination is its source again: content, modes, times, links.
  EXPECT_EQ(DescribeTree(dst_), DescribeTree(src_.path()));
  EXPECT_FALSE(fs::exists(dst_ + "/extra.txt"));
  EXPECT_FALSE(fs::exists(dst_ + "/extra-dir"));

  // The CLI: nothing left to repair, exit 0; recorded as events.
  auto cli = RunCommand({GeorepBinary(), "session", "repair", id_}, "", env_);
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_NE(cli.out.find("identical"), std::string::npos) << cli.out;
  auto events = engine_->Get("/api/v1/events?action=session.repair", token_);
  ASSERT_TRUE(events);
  const Json items = Json::parse(events->body)["items"];
  ASSERT_EQ(items.size(), 2u) << items.dump(2);
  for (const auto& e : items) EXPECT_EQ(e["result"], "ok") << e.dump();
}

TEST_F(VerifyOverSsh, RepairIsRefusedForASessionThatIsNotStarted) {
  ASSERT_NO_FATAL_FAILURE(SyncOnce());
  auto [status, report] = Post(path_ + "/repair", Json::object());
  EXPECT_EQ(status, 409) << report.dump();
  EXPECT_NE(report["error"]["message"].get<std::string>().find("start it first"), std::string::npos)
      << report.dump();
}

TEST_F(VerifyOverSsh, ClearErrorsWhenTheDestinationCannotDescribeItself) {
  ASSERT_NO_FATAL_FAILURE(MakeTree(src_.path()));
  fs::create_directories(dst_);
  const std::string port = std::to_string(sshd_->port());

  // A georep from before `agent --describe`: what its command line parser says.
  const std::string old = sshd_dir_.path() + "/old-georep";
  Write(old,
        "#!/bin/sh\n"
        "echo 'The following arguments were not expected: 100 --sample --describe' >&2\n"
        "echo 'Run with --help for more information.' >&2\n"
        "exit 109\n");
  ASSERT_EQ(::chmod(old.c_str(), 0755), 0);
  SetConfig("remote-command", old + " agent");
  auto [status, report] = Verify();
  EXPECT_EQ(status, 409) << report.dump();
  std::string message = report["error"]["message"];
  EXPECT_NE(message.find("too old"), std::string::npos) << message;
  EXPECT_NE(message.find("not expected: 100 --sample --describe"), std::string::npos) << message;

  // Something that is not georep at all.
  SetConfig("remote-command", "/bin/echo");
  std::tie(status, report) = Verify();
  EXPECT_EQ(status, 500) << report.dump();
  message = report["error"]["message"];
  EXPECT_NE(message.find("does not start with GRTREE"), std::string::npos) << message;

  // The destination path is gone: the agent says so.
  SetConfig("remote-command", GeorepBinary() + " agent");
  fs::remove_all(dst_);
  std::tie(status, report) = Verify();
  EXPECT_EQ(status, 409) << report.dump();
  message = report["error"]["message"];
  EXPECT_NE(message.find("failed (exit 1)"), std::string::npos) << message;

  // The destination is down: host, port and ssh's own words; the CLI fails too.
  sshd_->Stop();
  std::tie(status, report) = Verify();
  EXPECT_EQ(status, 503) << report.dump();
  message = report["error"]["message"];
  EXPECT_NE(message.find("cannot reach the destination root@127.0.0.1 port " + port),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("Connection refused"), std::string::npos) << message;
  auto cli = RunCommand({GeorepBinary(), "verify", id_}, "", env_);
  EXPECT_NE(cli.exit_code, 0);
  EXPECT_NE((cli.out + cli.err).find("Connection refused"), std::string::npos)
      << cli.out << cli.err;
  // Each failure is an event (the CLI's too).
  const Json events = Events();
  EXPECT_EQ(events.size(), 5u) << events.dump(2);
  for (const auto& e : events) EXPECT_EQ(e["result"], "failed") << e.dump();
}

}  // namespace
}  // namespace georep::testing
