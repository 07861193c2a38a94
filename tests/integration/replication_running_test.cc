// The replication engine running continuously: random operations on the source while a worker
// runs (over one stream and three), SIGKILLs of the worker and its agents in the middle of
// transfers, and files spread over several agents.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>

#include "integration/replication_fixtures.h"

namespace georep::testing {
namespace {

namespace fs = std::filesystem;
using replication::ReadWorkerStatus;
using replication::testing::DescribeTree;
using replication::testing::GeorepTempFiles;
using replication::testing::ReadFile;

// Random operations of every kind on a source tree, each noted in words for a failure's
// message. The same seed makes the same operations on the same tree.
class RandomSourceWriter {
 public:
  RandomSourceWriter(std::string root, uint64_t seed) : root_(std::move(root)), rng_(seed) {}

  // One random operation (create, mkdir, append, overwrite, truncate, rename, link, symlink,
  // remove, xattr, chmod) on what exists now.
  void Operate() {
    Refresh();
    const int kind = static_cast<int>(rng_() % 14);
    if (kind == 0 || files_.empty()) {
      const size_t n = rng_() % 200000;
      const std::string data = Random(rng_, n);
      const std::string p = Fresh(Pick(dirs_));
      Write(Path(p), data);
      Note("create " + p + " " + std::to_string(n));
    } else if (kind <= 4) {
      MakeADirectoryOrChangeAFile(kind);
    } else if (kind <= 9) {
      MoveOrLink(kind);
    } else {
      RemoveOrChangeMetadata(kind);
    }
  }

  // Now and then a large sparse file.
  void MaybeWriteSparse() {
    if (rng_() % 2 == 0) return;
    const std::string p = Fresh("");
    const auto at = static_cast<off_t>(rng_() % (8 << 20));
    int fd = ::open(Path(p).c_str(), O_WRONLY | O_CREAT, 0644);
    (void)::pwrite(fd, "end", 3, at);
    ::close(fd);
    Note("sparse " + p + " " + std::to_string(at));
  }

  // The operations since the last call, one a line.
  std::string TakeNotes() { return std::exchange(done_, ""); }

 private:
  std::string Path(const std::string& rel) const { return root_ + "/" + rel; }
  std::string& Pick(std::vector<std::string>& v) { return v[rng_() % v.size()]; }
  void Note(const std::string& what) { done_ += "  " + what + "\n"; }

  // A new name in `dir`. Now and then one that continues a directory's beside it ("n7" and
  // "n7-12", "n7.12"), which a plain string order puts between "n7" and "n7/...".
  std::string Fresh(const std::string& dir) {
    std::string name = "n" + std::to_string(++counter_);
    if (rng_() % 3 == 0) {
      std::vector<std::string> beside;
      for (const std::string& d : dirs_) {
        const auto slash = d.rfind('/');
        if (!d.empty() && (slash == std::string::npos ? dir.empty() : d.substr(0, slash) == dir))
          beside.push_back(slash == std::string::npos ? d : d.substr(slash + 1));
      }
      if (!beside.empty())
        name = Pick(beside) + (rng_() % 2 ? "-" : ".") + std::to_string(counter_);
    }
    return (dir.empty() ? "" : dir + "/") + name;
  }

  // What exists now (renames and deletes change it).
  void Refresh() {
    files_.clear();
    dirs_ = {""};
    for (auto it = fs::recursive_directory_iterator(root_);
         it != fs::recursive_directory_iterator(); ++it) {
      std::string rel = fs::relative(it->path(), root_).string();
      if (it->is_directory() && !it->is_symlink())
        dirs_.push_back(rel);
      else if (it->is_regular_file() && !it->is_symlink())
        files_.push_back(rel);
    }
  }

  // kind 1: mkdir; 2: append; 3: overwrite in place; 4: truncate.
  void MakeADirectoryOrChangeAFile(int kind) {
    std::error_code ec;
    if (kind == 1) {
      const std::string p = Fresh(Pick(dirs_));
      fs::create_directories(Path(p), ec);
      Note("mkdir " + p);
    } else if (kind == 2) {
      const std::string p = Pick(files_);
      const size_t n = rng_() % 5000;
      std::ofstream(Path(p), std::ios::app) << Random(rng_, n);
      Note("append " + p + " " + std::to_string(n));
    } else if (kind == 3) {
      const std::string p = Pick(files_);
      std::fstream f(Path(p), std::ios::in | std::ios::out | std::ios::binary);
      const auto at = static_cast<std::streamoff>(rng_() % 100);
      f.seekp(at);
      f << Random(rng_, 64);
      Note("overwrite " + p + " at " + std::to_string(at));
    } else {
      const size_t n = rng_() % 1000;
      const std::string p = Pick(files_);
      fs::resize_file(Path(p), n, ec);
      Note("truncate " + p + " " + std::to_string(n));
    }
  }

  // kind 5: rename a file, sometimes over another; 6: rename a directory (not into itself);
  // 7: a rename cycle (a -> t, b -> a, t -> b); 8: a hard link; 9: a symlink.
  void MoveOrLink(int kind) {
    std::error_code ec;
    if (kind == 5) {
      const std::string from = Pick(files_);
      const std::string to = rng_() % 3 == 0 ? Pick(files_) : Fresh(Pick(dirs_));
      fs::rename(Path(from), Path(to), ec);
      Note("rename " + from + " " + to);
    } else if (kind == 6) {
      if (dirs_.size() <= 1) return ChmodAFile();
      const std::string from = dirs_[1 + rng_() % (dirs_.size() - 1)];
      const std::string parent = Pick(dirs_);
      if (parent.rfind(from, 0) != 0) {
        const std::string to = Fresh(parent);
        fs::rename(Path(from), Path(to), ec);
        Note("rename directory " + from + " " + to);
      }
    } else if (kind == 7) {
      if (files_.size() < 2) return ChmodAFile();
      const std::string a = files_[0], b = files_[files_.size() - 1];
      if (a != b) {
        fs::rename(Path(a), Path(a + ".cycle"), ec);
        fs::rename(Path(b), Path(a), ec);
        fs::rename(Path(a + ".cycle"), Path(b), ec);
        Note("swap " + a + " " + b);
      }
    } else if (kind == 8) {
      const std::string p = Fresh(Pick(dirs_));
      const std::string target = Pick(files_);
      fs::create_hard_link(Path(target), Path(p), ec);
      Note("link " + target + " " + p);
    } else {
      const std::string p = Fresh(Pick(dirs_));
      const std::string target = "target-" + std::to_string(rng_() % 10);
      fs::create_symlink(target, Path(p), ec);
      Note("symlink " + target + " " + p);
    }
  }

  // kind 10: remove a file; 11: remove a directory; 12: an xattr; else a chmod.
  void RemoveOrChangeMetadata(int kind) {
    std::error_code ec;
    if (kind == 10) {
      const std::string p = Pick(files_);
      fs::remove(Path(p), ec);
      Note("remove " + p);
    } else if (kind == 11 && dirs_.size() > 1) {
      const std::string p = dirs_[1 + rng_() % (dirs_.size() - 1)];
      fs::remove_all(Path(p), ec);
      Note("remove directory " + p);
    } else if (kind == 12) {
      const std::string v = std::to_string(rng_() % 1000);
      const std::string p = Pick(files_);
      ::setxattr(Path(p).c_str(), "user.k", v.data(), v.size(), 0);
      Note("xattr " + p + " " + v);
    } else {
      ChmodAFile();
    }
  }

  void ChmodAFile() {
    const mode_t mode = rng_() % 2 ? 0600 : 0644;
    const std::string p = Pick(files_);
    ::chmod(Path(p).c_str(), mode);
    Note("chmod " + p + " " + std::to_string(mode));
  }

  const std::string root_;
  std::mt19937_64 rng_;
  std::vector<std::string> files_, dirs_ = {""};
  int counter_ = 0;
  std::string done_;
};

// Kept for a look after a failure: the two trees and the worker's state as they were.
void KeepForALook(const TempDir& src, const TempDir& dst, const TempDir& state) {
  RunCommand({"/bin/rm", "-rf", "/var/tmp/georep-failed"});
  RunCommand({"/bin/mkdir", "-p", "/var/tmp/georep-failed"});
  RunCommand({"/bin/cp", "-a", src.path(), "/var/tmp/georep-failed/source"});
  RunCommand({"/bin/cp", "-a", dst.path(), "/var/tmp/georep-failed/destination"});
  RunCommand({"/bin/cp", "-a", state.path(), "/var/tmp/georep-failed/state"});
  ADD_FAILURE() << "trees and the worker's state kept in /var/tmp/georep-failed";
}

// The model-based test: random sequences of operations on the source while a worker (with
// `extra` flags) runs, as the engine runs it; the destination must converge to the same tree
// after every round. The seed is printed on failure; GEOREP_SOAK_ROUNDS runs longer by hand.
void RandomOperationsWhileRunningConverge(const std::vector<std::string>& extra) {
  const char* seed_env = getenv("GEOREP_SEED");
  const char* rounds_env = getenv("GEOREP_SOAK_ROUNDS");
  const uint64_t seed = seed_env != nullptr ? std::strtoull(seed_env, nullptr, 10)
                                            : static_cast<uint64_t>(::time(nullptr));
  const int rounds = rounds_env != nullptr ? std::atoi(rounds_env) : 6;
  SCOPED_TRACE("GEOREP_SEED=" + std::to_string(seed));
  TempDir src, dst, state;
  RunningWorker worker(WorkerArgv(src.path(), dst.path(), state.path(), extra));
  worker.Start();

  RandomSourceWriter writer(src.path(), seed);
  for (int round = 0; round < rounds; ++round) {
    for (int op = 0; op < 40; ++op) writer.Operate();
    writer.MaybeWriteSparse();
    EXPECT_TRUE(WaitFor(60, [&] { return DescribeTree(dst.path()) == DescribeTree(src.path()); }))
        << "round " << round << " did not converge: " << ReplicationReason(state.path())
        << DescribeTreeDiff(src.path(), dst.path()) << "the round's operations:\n"
        << writer.TakeNotes();
    if (::testing::Test::HasFailure()) {
      KeepForALook(src, dst, state);
      break;
    }
    (void)writer.TakeNotes();
  }
  auto st = ReadWorkerStatus(state.path());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, "Active");
  EXPECT_EQ(st->crawl, "Changelog Crawl");
  EXPECT_EQ(st->failures, 0u) << st->reason;
  EXPECT_TRUE(GeorepTempFiles(dst.path()).empty());
  // Nothing here is a fault: a pass that failed on the way (and a later one that made up for
  // it) is a defect too.
  const std::string log = ReadFile(state.path() + "/worker.log");
  EXPECT_EQ(log.find("msg=Faulty"), std::string::npos) << log;
}

TEST(Replication, RandomOperationsWhileRunningConverge) {
  RandomOperationsWhileRunningConverge({"--log-level", "debug"});
}

// The same over three agent connections: files whose directory is acknowledged travel on the
// two extra streams while renames, deletes, links and metadata keep their order on the first.
TEST(Replication, RandomOperationsOverThreeStreamsConverge) {
  RandomOperationsWhileRunningConverge({"--sync-jobs", "3"});
}

// SIGKILL the worker, then its agent, in the middle of transfers: no partial file is ever
// visible under its final name, a restart converges, and data already applied is not sent
// again. `extra`: more worker flags; `per_batch_in_flight`: files applied but not acknowledged
// at a kill, at most (sent again).
void KilledWorkerAndAgentConvergeWithoutResending(const std::vector<std::string>& extra,
                                                  size_t resent_at_most) {
  TempDir src, dst, state;
  std::mt19937_64 rng(7);
  constexpr int kFiles = 40;
  for (int i = 0; i < kFiles; ++i)
    Write(src.path() + "/f" + std::to_string(i), Random(rng, 3 << 20));
  const auto want = DescribeTree(src.path());

  for (int attempt = 0; attempt < 2; ++attempt) {
    // Slowed to 20 MB/s, so that the kills land in the middle of the transfer.
    auto argv = WorkerArgv(src.path(), dst.path(), state.path(), extra);
    argv.insert(argv.end(), {"--bandwidth-limit", "20000000"});
    RunningWorker worker(argv);
    worker.Start();
    // Let it get part of the way, then kill: the worker itself, then (second time) the agent.
    ASSERT_TRUE(WaitFor(60, [&] {
      int n = 0;
      for (auto& e : fs::directory_iterator(dst.path()))
        n += e.path().filename().string()[0] == 'f';
      return n >= (attempt + 1) * 8;
    }));
    if (attempt == 0) {
      worker.Kill(SIGKILL);
    } else {
      // The agent found among the worker's children while the worker is stopped (SIGSTOP):
      // stopped, it neither starts another agent nor reaps this one, so the PID stays this
      // agent's (alive, or a zombie) until the kill. Between passes there may be none yet.
      pid_t agent = 0;
      ASSERT_TRUE(WaitFor(30, [&] {
        ::kill(worker.pid(), SIGSTOP);
        agent = AgentOf(worker.pid());
        if (agent == 0) ::kill(worker.pid(), SIGCONT);
        return agent != 0;
      })) << "no agent running";
      ASSERT_EQ(::kill(agent, SIGKILL), 0);
      worker.Kill(SIGKILL);
    }
    // Whatever is there under a final name is complete and right.
    for (auto& e : fs::directory_iterator(dst.path())) {
      const std::string name = e.path().filename().string();
      if (replication::Applier::IsTempName(name)) continue;
      EXPECT_EQ(ReadFile(e.path().string()), ReadFile(src.path() + "/" + name))
          << name << " is visible but not complete";
    }
  }
  size_t already = 0;
  for (auto& e : fs::directory_iterator(dst.path()))
    already += !replication::Applier::IsTempName(e.path().filename().string());
  WorkerRun w{src.path(), dst.path(), state.path(), extra};
  auto r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(DescribeTree(dst.path()), want);
  EXPECT_TRUE(GeorepTempFiles(dst.path()).empty());
  auto st = ReadWorkerStatus(state.path());
  ASSERT_TRUE(st.ok());
  // Files applied and acknowledged before the kills are not sent again; at most the batch in
  // flight at each kill is (its Ack never came).
  EXPECT_LE(st->files_sent, static_cast<uint64_t>(kFiles) - already + resent_at_most)
      << "already there: " << already;
  // The last kill came once 16 files were there, and what arrived stays: so at most the other
  // 24 plus the batches in flight went again (30 with one stream, 36 with three).
  EXPECT_GE(already, 16u);
  EXPECT_LE(st->files_sent, static_cast<uint64_t>(kFiles) - 16 + resent_at_most);
}

// (A commit every 16 MiB: at most 6 files of 3 MiB were in flight at the last kill.)
TEST(Replication, KilledWorkerAndAgentConvergeWithoutResending) {
  KilledWorkerAndAgentConvergeWithoutResending({}, 6);
}

// Three streams: the files travel on the two extra ones, each with its own batch of at most 6
// files in flight.
TEST(Replication, KilledWorkerAndAgentsOfThreeStreamsConvergeWithoutResending) {
  KilledWorkerAndAgentConvergeWithoutResending({"--sync-jobs", "3"}, 12);
}

// --sync-jobs 3: three agent connections, the files spread over them; the destination
// converges, by --once and by a running worker, and a second pass sends nothing.
TEST(Replication, SyncJobsSpreadsFilesOverSeveralAgents) {
  TempDir src, dst, state, live_dst, live_state;
  std::mt19937_64 rng(5);
  for (int d = 0; d < 40; ++d) {
    const std::string dir = src.path() + "/d" + std::to_string(d);
    fs::create_directories(dir);
    for (int f = 0; f < 30; ++f) Write(dir + "/f" + std::to_string(f), Random(rng, rng() % 20000));
  }
  for (int i = 0; i < 4; ++i)
    Write(src.path() + "/d" + std::to_string(i) + "/big", Random(rng, size_t(2 + 2 * i) << 20));

  WorkerRun w{src.path(), dst.path(), state.path(), {"--sync-jobs", "3"}};
  auto r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err << ReadFile(state.path() + "/worker.log");
  EXPECT_TRUE(SameTree(src.path(), dst.path())) << DescribeTreeDiff(src.path(), dst.path());
  auto st = ReadWorkerStatus(state.path());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->files_sent, 40u * 30u + 4u);
  EXPECT_EQ(st->failures, 0u) << st->reason;
  // Each extra connection's agent wrote its log (its stderr) next to the first one's.
  for (const char* log : {"/agent.log", "/agent-1.log", "/agent-2.log"})
    EXPECT_TRUE(fs::exists(state.path() + log)) << log;
  EXPECT_FALSE(fs::exists(state.path() + "/agent-3.log"));
  r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  st = ReadWorkerStatus(state.path());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->files_sent, 0u);
  EXPECT_EQ(st->bytes_sent, 0u);

  // A running worker: three agents are its children, and the files went over more than one.
  RunningWorker worker(
      WorkerArgv(src.path(), live_dst.path(), live_state.path(), {"--sync-jobs", "3"}));
  worker.Start();
  EXPECT_TRUE(WaitFor(120, [&] { return SameTree(src.path(), live_dst.path()); }))
      << ReplicationReason(live_state.path()) << DescribeTreeDiff(src.path(), live_dst.path());
  // Live changes: new and rewritten files in directories the destination holds.
  for (int d = 0; d < 40; d += 4) {
    const std::string dir = src.path() + "/d" + std::to_string(d);
    Write(dir + "/live", Random(rng, 100000));
    Write(dir + "/f0", Random(rng, 50000));
  }
  EXPECT_TRUE(WaitFor(60, [&] { return SameTree(src.path(), live_dst.path()); }))
      << ReplicationReason(live_state.path()) << DescribeTreeDiff(src.path(), live_dst.path());
  const std::vector<pid_t> agents = ChildrenOf(worker.pid());
  ASSERT_EQ(agents.size(), 3u);
  std::vector<uint64_t> read;
  for (pid_t a : agents) {
    EXPECT_NE(CommandLine(a).find(" agent --root " + live_dst.path()), std::string::npos)
        << CommandLine(a);
    read.push_back(BytesRead(a));
  }
  std::sort(read.rbegin(), read.rend());
  // About 32 MiB of files: the two busiest agents each took a good part of it.
  EXPECT_GE(read[1], 4u << 20) << read[0] << " " << read[1] << " " << read[2];
  st = ReadWorkerStatus(live_state.path());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, "Active");
  EXPECT_EQ(st->failures, 0u) << st->reason;
  EXPECT_TRUE(GeorepTempFiles(live_dst.path()).empty());
}

}  // namespace
}  // namespace georep::testing
