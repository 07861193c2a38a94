// Every config option of a directory session has an effect, shown here through the real
// `georep worker` (and its agent, directly or behind a real sshd on loopback) with the flag
// the engine passes for it (src/engine/directory_sessions_test.cc checks that mapping).
// Covered elsewhere: ignore-deletes and exclude (Replication.IgnoreDeletesAndExcludes),
// checkpoint (Replication.EngineRunsADirectorySessionThroughItsWholeLife).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/xattr.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "host/command_runner.h"
#include "host/ssh_transport.h"
#include "integration/engine_process.h"
#include "integration/replication_support.h"
#include "integration/sshd_server.h"
#include "replication/replicator.h"
#include "replication/test_util.h"

namespace georep::testing {
namespace {

namespace fs = std::filesystem;
using replication::ReadWorkerStatus;
using replication::testing::ReadFile;
using replication::testing::UserXattrs;
using replication::testing::WriteFile;

CommandResult Once(const std::string& src, const std::string& dst, const std::string& state,
                   const std::vector<std::string>& extra = {}) {
  auto argv = WorkerArgv(src, dst, state, extra);
  argv.push_back("--once");
  return RunCommand(argv, "", {}, 300);
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A private sshd that lets the test's own key in, and the ssh command that uses that key.
class LoopbackSsh {
 public:
  bool Start() {
    LocalCommandRunner local;
    auto id = SshIdentity::LoadOrCreate(local, keys_.path());
    if (!id.ok()) {
      error_ = id.status().ToString();
      return false;
    }
    ssh_options_ = " -i " + id->private_key_path +
                   " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null";
    if (!sshd_.Start(id->public_key)) {
      error_ = sshd_.error();
      return false;
    }
    return true;
  }
  // `program` (ssh, or a wrapper of it) with the options that log in with the test's key.
  std::string SshCommand(const std::string& program = "ssh") const {
    return program + ssh_options_;
  }
  std::string Port() const { return std::to_string(sshd_.port()); }
  const std::string& error() const { return error_; }

 private:
  TempDir keys_, dir_;
  SshServer sshd_{dir_.path()};
  std::string ssh_options_, error_;
};

TEST(DirectoryConfig, SyncXattrsFalseLeavesExtendedAttributesBehind) {
  TempDir src, with, without, state_with, state_without;
  WriteFile(src.path() + "/tagged", "data\n");
  ASSERT_EQ(::setxattr((src.path() + "/tagged").c_str(), "user.origin", "site-a", 6, 0), 0);
  fs::create_directories(src.path() + "/dir");
  ASSERT_EQ(::setxattr((src.path() + "/dir").c_str(), "user.kind", "folder", 6, 0), 0);

  auto r = Once(src.path(), without.path(), state_without.path(), {"--no-xattrs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(without.path() + "/tagged"), "data\n");
  EXPECT_TRUE(UserXattrs(without.path() + "/tagged").empty());
  EXPECT_TRUE(UserXattrs(without.path() + "/dir").empty());

  r = Once(src.path(), with.path(), state_with.path());  // sync-xattrs=true, the default
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(UserXattrs(with.path() + "/tagged"),
            (std::map<std::string, std::string>{{"user.origin", "site-a"}}));
  EXPECT_EQ(UserXattrs(with.path() + "/dir"),
            (std::map<std::string, std::string>{{"user.kind", "folder"}}));
  EXPECT_TRUE(SameTree(src.path(), with.path())) << DescribeTreeDiff(src.path(), with.path());
}

TEST(DirectoryConfig, CompressionZstdPutsFewerBytesOnTheWire) {
  TempDir src, plain, packed, state_plain, state_packed;
  std::string text;
  for (int i = 0; text.size() < (4u << 20); ++i)
    text += "line " + std::to_string(i % 1000) + " of a very compressible log file\n";
  WriteFile(src.path() + "/log.txt", text);

  // The plain stream as to a remote destination (on this host the agent would otherwise read
  // the file from the source itself); a compressed session always uses the stream.
  auto r = Once(src.path(), plain.path(), state_plain.path(), {"--stream-only"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Once(src.path(), packed.path(), state_packed.path(), {"--compress"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(SameTree(src.path(), packed.path())) << DescribeTreeDiff(src.path(), packed.path());
  auto a = ReadWorkerStatus(state_plain.path()), b = ReadWorkerStatus(state_packed.path());
  ASSERT_TRUE(a.ok() && b.ok());
  // The same file, the same logical bytes; on the wire the compressed stream is far smaller.
  EXPECT_EQ(a->bytes_sent, text.size());
  EXPECT_EQ(b->bytes_sent, text.size());
  EXPECT_GE(a->wire_bytes, text.size());
  EXPECT_LT(b->wire_bytes * 5, a->wire_bytes)
      << "plain " << a->wire_bytes << " bytes, zstd " << b->wire_bytes << " bytes";
}

TEST(DirectoryConfig, BandwidthLimitHoldsTheTransferBack) {
  TempDir src, dst, state;
  constexpr size_t kBytes = 3u << 20;
  constexpr int64_t kLimit = 1u << 20;  // bytes per second
  WriteFile(src.path() + "/random.bin", RandomBytes(kBytes, 11));
  const auto start = std::chrono::steady_clock::now();
  auto r =
      Once(src.path(), dst.path(), state.path(), {"--bandwidth-limit", std::to_string(kLimit)});
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(SameTree(src.path(), dst.path())) << DescribeTreeDiff(src.path(), dst.path());
  // A lower bound only: the limiter lets the first write through at once (at most one flush
  // of 1 MiB), the rest at the limit. Nothing is said about how fast it may be.
  EXPECT_GE(took, static_cast<double>(kBytes - (1u << 20)) / kLimit) << "took " << took << " s";
}

// What the agent syncs, counted by strace around the agent (the session's remote command).
TEST(DirectoryConfig, DurabilityDecidesWhatTheDestinationSyncs) {
  LoopbackSsh ssh;
  ASSERT_TRUE(ssh.Start()) << ssh.error();
  TempDir src, traces;
  constexpr int kFiles = 6;
  for (int i = 0; i < kFiles; ++i)
    WriteFile(src.path() + "/f" + std::to_string(i), RandomBytes(10000, i));
  struct Synced {
    size_t fsync = 0, syncfs = 0;
  };
  auto run = [&](const std::string& durability) -> Synced {
    TempDir dst, state;
    const std::string trace = traces.path() + "/" + durability;
    auto r = Once(src.path(), "root@127.0.0.1::" + dst.path(), state.path(),
                  {"--ssh-command", ssh.SshCommand(), "--ssh-port", ssh.Port(), "--remote-command",
                   // (LeakSanitizer, in sanitizer builds, cannot run under ptrace.)
                   "/usr/bin/env ASAN_OPTIONS=detect_leaks=0 /usr/bin/strace -f -qq -e "
                   "signal=none -e trace=fsync,fdatasync,syncfs -o " +
                       trace + " " + GeorepBinary() + " agent",
                   "--durability", durability});
    EXPECT_EQ(r.exit_code, 0) << durability << ": " << r.err;
    EXPECT_TRUE(SameTree(src.path(), dst.path())) << DescribeTreeDiff(src.path(), dst.path());
    const std::string calls = ReadFile(trace);
    return {Count(calls, " fsync(") + Count(calls, " fdatasync("), Count(calls, " syncfs(")};
  };
  const Synced file = run("file"), batch = run("batch"), none = run("none");
  EXPECT_GE(file.fsync, static_cast<size_t>(kFiles)) << "every file synced";
  EXPECT_GE(file.syncfs, 1u) << "and the batch";
  EXPECT_EQ(batch.fsync, 0u) << "no file synced on its own";
  EXPECT_GE(batch.syncfs, 1u) << "the batch synced at its barrier";
  EXPECT_EQ(none.fsync, 0u);
  EXPECT_EQ(none.syncfs, 0u) << "nothing synced";
}

// A store through a shared writable mapping raises no inotify or fanotify event (both report
// write(2), not stores to mapped pages; the close-write of the open file comes only when the
// mapping goes, which here is after the workers), yet it moves the file's mtime: only a rescan
// of the whole source finds it. With rescans off, a pass that runs after it (triggered elsewhere)
// does not carry it; with rescan-interval=2, it arrives by itself.
TEST(DirectoryConfig, RescanIntervalFindsAChangeNoEventReports) {
  TempDir src, dst, state;
  constexpr size_t kSize = 8192;
  fs::create_directories(src.path() + "/mapped");
  fs::create_directories(src.path() + "/probe");
  const std::string file = src.path() + "/mapped/file";
  WriteFile(file, std::string(kSize, 'a'));
  struct Mapping {
    void* at = MAP_FAILED;
    ~Mapping() {
      if (at != MAP_FAILED) ::munmap(at, kSize);
    }
  };
  std::vector<std::unique_ptr<Mapping>> mappings;  // unmapped at the end, the workers gone
  // Waits until the file system's clock is past the file's mtime by more than a second, so that
  // the next store gives it a visibly newer one.
  auto past_the_mtime_s_tick = [&] {
    const auto last = fs::last_write_time(file);
    return WaitFor(10, [&] {
      return fs::file_time_type::clock::now() - last > std::chrono::milliseconds(1100);
    });
  };
  auto store_through_mapping = [&](char c) {
    int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    auto m = std::make_unique<Mapping>();
    m->at = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);  // the mapping keeps the file open: no close event yet
    ASSERT_NE(m->at, MAP_FAILED) << strerror(errno);
    std::memset(m->at, c, kSize);
    ASSERT_EQ(::msync(m->at, kSize, MS_SYNC), 0);
    mappings.push_back(std::move(m));
  };
  auto destination_has = [&](char c) {
    return ReadFile(dst.path() + "/mapped/file") == std::string(kSize, c);
  };
  auto probe = [&](const std::string& name) {  // a change the capture sees, in another directory
    WriteFile(src.path() + "/probe/" + name, name);
    return WaitFor(30, [&] { return ReadFile(dst.path() + "/probe/" + name) == name; });
  };

  {
    RunningWorker worker(
        WorkerArgv(src.path(), dst.path(), state.path(), {"--rescan-interval", "0"}));
    worker.Start();
    ASSERT_TRUE(WaitFor(30, [&] { return destination_has('a'); }));
    ASSERT_TRUE(past_the_mtime_s_tick());
    ASSERT_NO_FATAL_FAILURE(store_through_mapping('b'));
    ASSERT_TRUE(probe("one")) << "the worker does not replicate at all";
    // The store stays unseen (this fails as soon as it is seen) while the worker runs on.
    ASSERT_FALSE(WaitFor(3, [&] { return !destination_has('a'); }))
        << "the store through the mapping was seen without a rescan: this test shows nothing";
  }
  {
    RunningWorker worker(
        WorkerArgv(src.path(), dst.path(), state.path(), {"--rescan-interval", "2"}));
    worker.Start();
    // The start's full crawl finds the first store; the second is made while it watches.
    ASSERT_TRUE(WaitFor(30, [&] { return destination_has('b'); }));
    ASSERT_TRUE(probe("two"));
    ASSERT_TRUE(past_the_mtime_s_tick());
    ASSERT_NO_FATAL_FAILURE(store_through_mapping('c'));
    EXPECT_TRUE(WaitFor(30, [&] { return destination_has('c'); }))
        << "the periodic rescan did not carry the change";
  }
}

// The session's ssh command and remote command are what runs: a wrapper of ssh as the ssh
// command (on the session's ssh port), a wrapper of the agent as the remote command.
TEST(DirectoryConfig, SshCommandSshPortAndRemoteCommandAreWhatRuns) {
  LoopbackSsh ssh;
  ASSERT_TRUE(ssh.Start()) << ssh.error();
  TempDir src, dst, state, bin;
  const std::string ssh_calls = bin.path() + "/ssh-calls",
                    agent_calls = bin.path() + "/agent-calls";
  WriteFile(bin.path() + "/ssh-wrapper",
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + ssh_calls + "'\nexec /usr/bin/ssh \"$@\"\n");
  WriteFile(bin.path() + "/agent-wrapper", "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + agent_calls +
                                               "'\nexec '" + GeorepBinary() + "' agent \"$@\"\n");
  fs::permissions(bin.path() + "/ssh-wrapper", fs::perms::owner_all);
  fs::permissions(bin.path() + "/agent-wrapper", fs::perms::owner_all);
  WriteFile(src.path() + "/file", "over the wrappers\n");

  auto r = Once(src.path(), "root@127.0.0.1::" + dst.path(), state.path(),
                {"--ssh-command", ssh.SshCommand(bin.path() + "/ssh-wrapper"), "--ssh-port",
                 ssh.Port(), "--remote-command", bin.path() + "/agent-wrapper"});
  ASSERT_EQ(r.exit_code, 0) << r.err << ReadFile(state.path() + "/agent.log");
  EXPECT_TRUE(SameTree(src.path(), dst.path())) << DescribeTreeDiff(src.path(), dst.path());
  const std::string ssh_log = ReadFile(ssh_calls), agent_log = ReadFile(agent_calls);
  EXPECT_NE(ssh_log.find("-p " + ssh.Port() + " -- root@127.0.0.1"), std::string::npos) << ssh_log;
  EXPECT_NE(agent_log.find("--root " + dst.path()), std::string::npos) << agent_log;
  // The data's cipher: AES-GCM first where the CPU has AES instructions, as long as no one
  // chose the ciphers (what `ssh -G` says is this ssh's own default).
  const bool cpu_has_aes =
      RunCommand({"/bin/grep", "-qwE", "^(flags|Features).*\\baes\\b", "/proc/cpuinfo"})
          .exit_code == 0;
  auto ciphers = [](std::vector<std::string> argv) {
    std::istringstream out(RunCommand(argv).out);
    for (std::string line; std::getline(out, line);)
      if (line.rfind("ciphers ", 0) == 0) return line;
    return std::string("none reported");
  };
  const bool ciphers_are_defaults = ciphers({"/usr/bin/ssh", "-G", "root@127.0.0.1"}) ==
                                    ciphers({"/usr/bin/ssh", "-F", "none", "-G", "localhost"});
  EXPECT_EQ(ssh_log.find("Ciphers=aes128-gcm@openssh.com,") != std::string::npos,
            cpu_has_aes && ciphers_are_defaults)
      << ssh_log;
  // A cipher the ssh command chose is kept.
  TempDir state_cipher, dst_cipher;
  fs::remove(ssh_calls);
  r = Once(src.path(), "root@127.0.0.1::" + dst_cipher.path(), state_cipher.path(),
           {"--ssh-command", ssh.SshCommand(bin.path() + "/ssh-wrapper") + " -c aes256-ctr",
            "--ssh-port", ssh.Port(), "--remote-command", bin.path() + "/agent-wrapper"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(ssh_calls).find("Ciphers="), std::string::npos) << ReadFile(ssh_calls);
  EXPECT_NE(ReadFile(ssh_calls).find("-c aes256-ctr"), std::string::npos);

  // Another port (nothing listens there): the session's port is the one used, and fails.
  TempDir state2;
  r = Once(src.path(), "root@127.0.0.1::" + dst.path(), state2.path(),
           {"--ssh-command", ssh.SshCommand(bin.path() + "/ssh-wrapper"), "--ssh-port", "1",
            "--remote-command", bin.path() + "/agent-wrapper"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(ReadFile(ssh_calls).find("-p 1 --"), std::string::npos);
}

// sync-jobs: that many ssh sessions, each with its agent, and the files spread over them (the
// agents' wrapper keeps a copy of the stream each one was sent).
TEST(DirectoryConfig, SyncJobsOpensThatManySshSessions) {
  LoopbackSsh ssh;
  ASSERT_TRUE(ssh.Start()) << ssh.error();
  TempDir src, dst, state, bin, streams;
  const std::string ssh_calls = bin.path() + "/ssh-calls";
  WriteFile(bin.path() + "/ssh-wrapper",
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + ssh_calls + "'\nexec /usr/bin/ssh \"$@\"\n");
  WriteFile(bin.path() + "/agent-wrapper", "#!/bin/sh\ntee '" + streams.path() + "/stream.'$$ | '" +
                                               GeorepBinary() + "' agent \"$@\"\n");
  fs::permissions(bin.path() + "/ssh-wrapper", fs::perms::owner_all);
  fs::permissions(bin.path() + "/agent-wrapper", fs::perms::owner_all);
  for (int d = 0; d < 10; ++d) {
    fs::create_directories(src.path() + "/d" + std::to_string(d));
    for (int f = 0; f < 20; ++f)
      WriteFile(src.path() + "/d" + std::to_string(d) + "/f" + std::to_string(f),
                RandomBytes(30000, static_cast<uint64_t>(d * 100 + f)));
  }
  WriteFile(src.path() + "/d0/big", RandomBytes(4u << 20, 99));

  auto r =
      Once(src.path(), "root@127.0.0.1::" + dst.path(), state.path(),
           {"--ssh-command", ssh.SshCommand(bin.path() + "/ssh-wrapper"), "--ssh-port", ssh.Port(),
            "--remote-command", bin.path() + "/agent-wrapper", "--sync-jobs", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err << ReadFile(state.path() + "/agent.log");
  EXPECT_TRUE(SameTree(src.path(), dst.path())) << DescribeTreeDiff(src.path(), dst.path());
  EXPECT_EQ(Count(ReadFile(ssh_calls), "-- root@127.0.0.1"), 3u) << ReadFile(ssh_calls);
  std::vector<uintmax_t> sizes;
  for (const auto& f : fs::directory_iterator(streams.path())) sizes.push_back(f.file_size());
  ASSERT_EQ(sizes.size(), 3u);
  std::sort(sizes.rbegin(), sizes.rend());
  // 10 MiB of files: the two busiest streams each carried a good part of them.
  EXPECT_GE(sizes[1], 2u << 20) << sizes[0] << " " << sizes[1] << " " << sizes[2];
}

// The descriptors of change capture a process holds, from /proc: "fanotify" or "inotify", with
// their fdinfo (an fanotify fd lists its marks, an inotify fd one line per watch).
std::vector<std::pair<std::string, std::string>> CaptureFds(pid_t pid) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string proc = "/proc/" + std::to_string(pid);
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator(proc + "/fd", ec)) {
    const std::string target = fs::read_symlink(fd.path(), ec).string();
    const std::string info = ReadFile(proc + "/fdinfo/" + fd.path().filename().string());
    if (target == "anon_inode:[fanotify]") out.emplace_back("fanotify", info);
    if (target == "anon_inode:inotify") out.emplace_back("inotify", info);
  }
  return out;
}

// Scoped mount of a tmpfs, detached at the end.
class TmpfsMount {
 public:
  explicit TmpfsMount(std::string at) : at_(std::move(at)) {
    mounted_ = ::mount("georep-test", at_.c_str(), "tmpfs", 0, "size=1m") == 0;
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  bool mounted() const { return mounted_; }

 private:
  std::string at_;
  bool mounted_ = false;
};

// change-capture decides how the running worker sees changes: with one fanotify filesystem
// mark or with an inotify watch on every directory (auto: fanotify, as root on one file
// system). Each carries a live change, in a directory made after the start too; the log and
// status.json name the capture in use, and /proc shows the worker holds exactly that.
TEST(DirectoryConfig, ChangeCaptureDecidesHowTheWorkerWatches) {
  ASSERT_EQ(::geteuid(), 0u)
      << "fanotify filesystem marks need root (the test command runs as root)";
  for (const std::string mode : {"inotify", "fanotify", "auto"}) {
    SCOPED_TRACE(mode);
    const std::string expected = mode == "auto" ? "fanotify" : mode;
    TempDir src, dst, state;
    fs::create_directories(src.path() + "/d1/d2");
    WriteFile(src.path() + "/d1/d2/first", "first\n");
    RunningWorker worker(
        WorkerArgv(src.path(), dst.path(), state.path(), {"--change-capture", mode}));
    worker.Start();
    ASSERT_TRUE(WaitFor(30, [&] {
      auto st = ReadWorkerStatus(state.path());
      return st.ok() && st->crawl == "Changelog Crawl";
    })) << ReadFile(state.path() + "/worker.log");
    EXPECT_EQ(ReadWorkerStatus(state.path())->change_capture, expected);
    const std::string log = ReadFile(state.path() + "/worker.log");
    EXPECT_NE(log.find("change_capture=" + expected), std::string::npos) << log;

    const auto fds = CaptureFds(worker.pid());
    ASSERT_EQ(fds.size(), 1u) << "one capture descriptor";
    EXPECT_EQ(fds[0].first, expected);
    if (expected == "fanotify") {
      EXPECT_EQ(Count(fds[0].second, "fanotify sdev:"), 1u) << "one filesystem mark\n"
                                                            << fds[0].second;
      EXPECT_EQ(Count(fds[0].second, "inotify wd:"), 0u) << fds[0].second;
    } else {
      EXPECT_EQ(Count(fds[0].second, "inotify wd:"), 3u) << "a watch per directory\n"
                                                         << fds[0].second;
    }

    WriteFile(src.path() + "/d1/d2/live", "live\n");
    fs::create_directories(src.path() + "/new/deeper");
    WriteFile(src.path() + "/new/deeper/file", "in a new directory\n");
    EXPECT_TRUE(WaitFor(30, [&] {
      return ReadFile(dst.path() + "/d1/d2/live") == "live\n" &&
             ReadFile(dst.path() + "/new/deeper/file") == "in a new directory\n";
    })) << DescribeTreeDiff(src.path(), dst.path());
    // With a rescan an hour away, the capture alone carried them.
    EXPECT_TRUE(SameTree(src.path(), dst.path())) << DescribeTreeDiff(src.path(), dst.path());
  }
}

// A source with another file system mounted inside cannot be seen by one filesystem mark:
// auto says why in the log and watches with inotify; fanotify asked for makes the worker
// Faulty, with the reason in status.json.
TEST(DirectoryConfig, ChangeCaptureFanotifyCannotSpanFileSystems) {
  ASSERT_EQ(::geteuid(), 0u) << "mounting needs root (the test command runs as root)";
  TempDir src, dst, state_auto, state_fanotify;
  fs::create_directories(src.path() + "/mnt");
  TmpfsMount mount(src.path() + "/mnt");
  ASSERT_TRUE(mount.mounted()) << "cannot mount a tmpfs here: " << strerror(errno);
  WriteFile(src.path() + "/file", "x\n");

  auto r = RunCommand(
      WorkerArgv(src.path(), dst.path(), state_fanotify.path(), {"--change-capture", "fanotify"}),
      "", {}, 60);
  EXPECT_NE(r.exit_code, 0);
  auto st = ReadWorkerStatus(state_fanotify.path());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, "Faulty");
  EXPECT_NE(st->reason.find("spans more than one file system"), std::string::npos) << st->reason;

  RunningWorker worker(WorkerArgv(src.path(), dst.path(), state_auto.path()));
  worker.Start();
  ASSERT_TRUE(WaitFor(30, [&] {
    auto s = ReadWorkerStatus(state_auto.path());
    return s.ok() && s->crawl == "Changelog Crawl";
  })) << ReadFile(state_auto.path() + "/worker.log");
  EXPECT_EQ(ReadWorkerStatus(state_auto.path())->change_capture, "inotify");
  const std::string log = ReadFile(state_auto.path() + "/worker.log");
  EXPECT_NE(log.find("inotify instead"), std::string::npos) << log;
  EXPECT_NE(log.find("spans more than one file system"), std::string::npos) << log;
  WriteFile(src.path() + "/live", "live\n");
  EXPECT_TRUE(WaitFor(30, [&] { return ReadFile(dst.path() + "/live") == "live\n"; }));
}

TEST(DirectoryConfig, LogLevelDecidesWhatWorkerLogGets) {
  TempDir src, dst;
  WriteFile(src.path() + "/file", "logged\n");
  {
    TempDir state;
    ASSERT_EQ(Once(src.path(), dst.path(), state.path(), {"--log-level", "debug"}).exit_code, 0);
    const std::string log = ReadFile(state.path() + "/worker.log");
    EXPECT_NE(
        log.find("level=debug msg=pass full=true subtrees=1 entries=0 scanned=2 files=1 bytes=7"),
        std::string::npos)
        << log;
    EXPECT_NE(log.find("level=info msg=\"connected to the agent\""), std::string::npos) << log;
  }
  {
    TempDir state;  // the default: what happens, not each pass
    ASSERT_EQ(Once(src.path(), dst.path(), state.path()).exit_code, 0);
    const std::string log = ReadFile(state.path() + "/worker.log");
    EXPECT_NE(log.find("level=info"), std::string::npos) << log;
    EXPECT_EQ(log.find("level=debug"), std::string::npos) << log;
  }
  {
    TempDir state;  // ERROR (as the config spells it): a run that works leaves nothing
    ASSERT_EQ(Once(src.path(), dst.path(), state.path(), {"--log-level", "ERROR"}).exit_code, 0);
    EXPECT_EQ(ReadFile(state.path() + "/worker.log"), "");
    // ... and one that fails says why.
    auto r = Once(src.path(), "/proc/georep-no-such-destination", state.path(),
                  {"--log-level", "error"});
    EXPECT_NE(r.exit_code, 0);
    const std::string log = ReadFile(state.path() + "/worker.log");
    EXPECT_NE(log.find("level=error"), std::string::npos) << log;
    EXPECT_EQ(log.find("level=info"), std::string::npos) << log;
  }
  {
    TempDir state;  // trace (a worker run by hand): each entry a pass looks at, and what it did
    TempDir fresh;
    ASSERT_EQ(Once(src.path(), fresh.path(), state.path(), {"--log-level", "trace"}).exit_code, 0);
    const std::string log = ReadFile(state.path() + "/worker.log");
    EXPECT_NE(log.find("level=trace msg=visit path=file "), std::string::npos) << log;
    EXPECT_NE(log.find("level=trace msg=send path=file new=true"), std::string::npos) << log;
  }
  TempDir state;
  EXPECT_NE(Once(src.path(), dst.path(), state.path(), {"--log-level", "verbose"}).exit_code, 0);
}

}  // namespace
}  // namespace georep::testing
