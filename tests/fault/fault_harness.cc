// georep_fault_harness: a randomized fault harness for the built-in replication engine.
//
// Each round seeds a fresh source tree (directories, files, hard links, symlinks, xattrs,
// owners, times), starts the real `georep worker` (which starts its `georep agent`), lets it
// sync, then writes to the source live -- creates, appends, truncates, overwrites, mkdirs,
// renames of files and directories (across directories, over others), hard links, unlinks,
// rmdirs, chmod, chown, utimes, xattrs, symlink retargets -- while faults land at random
// moments: SIGKILL of the worker, of its agent, of both, and the destination's file system
// full. A killed or exited worker is started again, as the engine's supervisor would. Then the
// writer stops, and the round waits (bounded) for the worker to report it is in step and for
// the two trees to be equal by the harness's own strict comparison (type, mode, owner, size,
// content, mtime, symlink target, xattrs and ACLs, hard-link structure) -- never georep's
// verify. A round whose trees still differ at the bound "diverged": the differences, the
// round's operations and faults, and (for the first few) copies of both trees and the
// worker's state are kept.
//
// Rounds are replayable: round i of `--seed S` is round 0 of `--seed S+i` (the operations
// and the fault schedule come from the seed; the worker's timing does not).
//
// The destination is a small tmpfs mounted in a private mount namespace (unshare), so that
// it can be filled; nothing is mounted or changed outside this process's namespace. Only
// processes this harness started are signalled (it is their child subreaper).
//
// Single-threaded: the writer, the fault injection and the supervision of the worker take
// turns on the main thread, so a round's operations and faults follow its seed.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fault/fault_clock.h"
#include "fault/fault_options.h"
#include "fault/fault_processes.h"
#include "fault/fault_transport.h"
#include "fault/fault_tree.h"
#include "fault/fault_writer.h"

namespace georep::fault {
namespace {

namespace fs = std::filesystem;

// SIGINT or SIGTERM: the round in progress ends (its worker and agents stopped), no more start.
volatile sig_atomic_t g_stop = 0;
void OnStop(int) {
  g_stop = 1;
}

// The destination's file system, filled on demand.

class DestinationFs {
 public:
  // Mounts a tmpfs of `mb` MiB at `dir`, in this process's private mount namespace.
  static std::optional<DestinationFs> Mount(const std::string& dir, int mb, std::string* error) {
    fs::create_directories(dir);
    const std::string opts = "size=" + std::to_string(mb) + "m,mode=0755";
    if (::mount("georep-harness", dir.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      *error = std::string("mount tmpfs: ") + std::strerror(errno);
      return std::nullopt;
    }
    return DestinationFs(dir);
  }
  // Fills it (beside the destination, not in it) until ENOSPC.
  void Fill() {
    int fd = ::open(filler().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return;
    struct statvfs v {};
    if (::statvfs(dir_.c_str(), &v) == 0) {
      const off_t free = static_cast<off_t>(v.f_bavail) * static_cast<off_t>(v.f_frsize);
      (void)::fallocate(fd, 0, 0, free);
    }
    // What fallocate left (rounding), written until the file system is full.
    std::string chunk(1 << 16, 'x');
    while (::write(fd, chunk.data(), chunk.size()) > 0) {
    }
    ::close(fd);
    full_ = true;
  }
  void Release() {
    if (!full_) return;
    ::unlink(filler().c_str());
    full_ = false;
  }
  bool full() const { return full_; }
  const std::string& dir() const { return dir_; }

 private:
  explicit DestinationFs(std::string dir) : dir_(std::move(dir)) {}
  std::string filler() const { return dir_ + "/filler"; }
  std::string dir_;
  bool full_ = false;
};

// Rounds.

struct RoundResult {
  uint64_t seed = 0;
  bool diverged = false;
  bool initial_failed = false;
  std::vector<std::string> differences;
  std::vector<std::string> faults;  // "kill-worker@op12"
  double converge_s = -1;           // from the writer stopping (and the last fault)
  double since_last_fault_s = -1;   // from the last fault
  uint64_t tree_bytes = 0, written_bytes = 0;
  bool waited_first = false;  // the live phase began once the first sync was in step
  uint64_t initial_bytes_sent = 0, live_bytes_sent = 0;
  int worker_starts = 0, worker_exits = 0;
  std::string last_status;
};

// A round's worker as its supervisor sees it: started again when it is gone, with what its
// status said last.
struct RoundWorker {
  RoundWorker(std::vector<std::string> argv, const std::string& stderr_path, int inotify_limit,
              std::string state_dir)
      : worker(std::move(argv), stderr_path, inotify_limit), state(std::move(state_dir)) {}

  // Reads the status; a worker's counters start at 0, and its status.json is its own once
  // written after it started (until then the file is its predecessor's).
  void Poll() {
    Status s = ReadStatus(state);
    if (s.ok && s.updated_ms >= started_ms) last = s;
  }
  void Restart() {
    Poll();
    bytes_before += last.bytes_sent;
    last = Status{};
    started_ms = WallMs();
    worker.Start();
  }
  uint64_t BytesSent() const { return bytes_before + last.bytes_sent; }

  Worker worker;
  const std::string state;
  uint64_t bytes_before = 0;  // bytes_sent by earlier incarnations of the worker
  Status last;
  int64_t started_ms = WallMs();
};

// What a round's live phase leaves for its convergence to measure from.
struct LivePhase {
  int64_t last_write_ms = WallMs();
  Clock::time_point last_fault = Clock::now();
  bool any_fault = false;
};

// A round's paths: its source, its destination (on the destination's file system when there is
// one) and its worker's state directory.
struct RoundPaths {
  std::string dir, src, dst, state;
};

class Harness {
 public:
  explicit Harness(Options o) : o_(std::move(o)) {}

  int Run() {
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
      std::cerr << "prctl(PR_SET_CHILD_SUBREAPER): " << std::strerror(errno) << "\n";
      return 2;
    }
    if (o_.work_dir.empty()) {
      std::string tmpl = "/var/tmp/georep-faults-XXXXXX";
      if (::mkdtemp(tmpl.data()) == nullptr) return 2;
      o_.work_dir = tmpl;
      own_work_dir_ = true;
    }
    fs::create_directories(o_.work_dir);
    if (o_.keep_dir.empty()) o_.keep_dir = o_.work_dir + "/failed";
    // The destination on a tmpfs of its own, mounted in a private mount namespace; without
    // root (or unshare), on the work directory's file system and without disk-full faults.
    std::string why;
    if (::unshare(CLONE_NEWNS) == 0 &&
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0) {
      dest_fs_ = DestinationFs::Mount(o_.work_dir + "/dstfs", o_.dest_mb, &why);
    } else {
      why = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
    }
    if (!dest_fs_ && o_.faults.erase("disk-full"))
      std::cout << "no disk-full faults: " << why << "\n";
    if (o_.ssh) {
      // Started after the destination's file system is mounted: sshd's sessions see it.
      ssh_.emplace(o_.work_dir + "/ssh");
      if (!ssh_->Start(&why)) {
        std::cerr << "the ssh transport: " << why << "\n";
        return 2;
      }
    }
    std::string faults, ops;
    for (const auto& f : o_.faults) faults += (faults.empty() ? "" : ",") + f;
    for (const auto& op : o_.ops) ops += (ops.empty() ? "" : ",") + op;
    std::cout << "georep fault harness: " << o_.rounds << " rounds from seed " << o_.seed
              << "\n  transport: " << (o_.ssh ? "ssh (a real sshd, through a relay)" : "local")
              << (o_.inotify_limit >= 0
                      ? "; inotify watch limit " + std::to_string(o_.inotify_limit)
                      : std::string())
              << "\n  faults: " << (faults.empty() ? "none" : faults) << "\n  operations: " << ops
              << "\n  work directory: " << o_.work_dir << "\n"
              << std::flush;

    std::vector<RoundResult> results;
    const auto started = Clock::now();
    for (int i = 0; i < o_.rounds; ++i) {
      RoundResult r = RunRound(o_.seed + static_cast<uint64_t>(i), i);
      if (g_stop) {
        std::cout << "interrupted: round " << i << " not counted\n";
        break;
      }
      Print(i, r);
      results.push_back(r);
      if ((r.diverged && o_.stop_on_diverge) || g_stop) break;
    }
    return Summary(results, SecondsSince(started));
  }

 private:
  RoundResult RunRound(uint64_t seed, int index) {
    RoundResult r;
    r.seed = seed;
    std::mt19937_64 rng(seed);
    const RoundPaths p = MakeRoundPaths();
    Writer writer(p.src, &rng, o_.ops, o_.verbose);
    r.tree_bytes = writer.Seed(o_.seed_entries);
    RoundWorker w(WorkerArgv(p), p.dir + "/worker.stderr", o_.inotify_limit, p.state);
    w.worker.Start();

    // Mostly the live phase starts once the first sync is done; now and then at once, so that
    // faults land in the middle of the Hybrid Crawl.
    const bool wait_first = rng() % 4 != 0;
    if (wait_first) {
      if (!WaitForTheFirstSync(&w, p, &r)) {
        Finish(&w.worker, &r, p.src, p.dst, p.state, writer, index);
        return r;
      }
      r.initial_bytes_sent = w.BytesSent();
      r.waited_first = true;
    }
    const LivePhase live = WriteWithFaults(&rng, &writer, &w, p.dst, &r);
    Converge(&w, p, live, &r);
    r.live_bytes_sent = w.BytesSent() - r.initial_bytes_sent;
    r.last_status = StatusLine(w.last);
    Finish(&w.worker, &r, p.src, p.dst, p.state, writer, index);
    return r;
  }

  // A fresh round directory (and destination).
  RoundPaths MakeRoundPaths() {
    RoundPaths p;
    p.dir = o_.work_dir + "/round";
    std::error_code ec;
    fs::remove_all(p.dir, ec);
    p.src = p.dir + "/source";
    p.state = p.dir + "/state";
    p.dst = dest_fs_ ? dest_fs_->dir() + "/destination" : p.dir + "/destination";
    fs::remove_all(p.dst, ec);
    fs::create_directories(p.src);
    fs::create_directories(p.state);
    fs::create_directories(p.dst);
    return p;
  }

  std::vector<std::string> WorkerArgv(const RoundPaths& p) const {
    std::vector<std::string> argv = {
        o_.georep,     "worker",        "--source",
        p.src,         "--destination", ssh_ ? SshTransport::Destination(p.dst) : p.dst,
        "--state-dir", p.state};
    if (ssh_) {
      const auto more = ssh_->WorkerArgs(o_.georep);
      argv.insert(argv.end(), more.begin(), more.end());
    }
    // Each entry the worker's passes look at, in its log: what a diverged round's kept state
    // needs to be understood (rounds are small; the races are rarely replayed).
    if (std::find(o_.worker_args.begin(), o_.worker_args.end(), "--log-level") ==
        o_.worker_args.end())
      argv.insert(argv.end(), {"--log-level", "trace"});
    argv.insert(argv.end(), o_.worker_args.begin(), o_.worker_args.end());
    return argv;
  }

  // Children that are not orphans to reap: the worker, the abandoned ones, sshd.
  std::set<pid_t> NotOrphans(const RoundWorker& w) const {
    auto pids = w.worker.Pids();
    if (ssh_) pids.insert(ssh_->sshd_pid());
    return pids;
  }

  // Waits (bounded by --initial-timeout) for the worker in step with the seeded tree and the
  // trees equal; false (and `r` says why) when that does not come.
  bool WaitForTheFirstSync(RoundWorker* w, const RoundPaths& p, RoundResult* r) {
    const int64_t seeded_ms = WallMs();
    const auto t0 = Clock::now();
    while (SecondsSince(t0) < o_.initial_timeout && !g_stop) {
      SleepMs(100);
      w->Poll();
      if (!w->worker.Running()) w->Restart();
      const Status& last = w->last;
      if (last.state == "Active" && last.crawl == "Changelog Crawl" &&
          last.last_synced_ms >= seeded_ms && last.pending == 0 &&
          Compare(DescribeTree(p.src), DescribeTree(p.dst), o_.compare_dir_mtime).empty())
        return true;
    }
    r->initial_failed = true;
    r->diverged = true;
    r->differences = Compare(DescribeTree(p.src), DescribeTree(p.dst), o_.compare_dir_mtime);
    r->differences.insert(r->differences.begin(), "the first sync did not complete in " +
                                                      std::to_string(o_.initial_timeout) +
                                                      " s; status: " + StatusLine(w->last));
    r->last_status = StatusLine(w->last);
    return false;
  }

  // The live phase: the writer's operations, with faults at the moments the round's seed
  // chose, and the worker started again as the engine's supervisor would.
  LivePhase WriteWithFaults(std::mt19937_64* rng, Writer* writer, RoundWorker* w,
                            const std::string& dst, RoundResult* r) {
    // The fault schedule: which operations a fault comes after.
    std::vector<std::string> kinds(o_.faults.begin(), o_.faults.end());
    std::map<int, std::string> schedule;
    if (!kinds.empty()) {
      const int n = 1 + static_cast<int>((*rng)() % static_cast<uint64_t>(o_.max_faults));
      for (int i = 0; i < n; ++i)
        schedule[static_cast<int>((*rng)() % static_cast<uint64_t>(o_.ops_per_round))] =
            kinds[(*rng)() % kinds.size()];
    }
    FaultMoments moments;
    LivePhase live;
    for (int op = 0; op < o_.ops_per_round && !g_stop; ++op) {
      r->written_bytes += writer->Step();
      live.last_write_ms = WallMs();
      SleepMs(static_cast<int>((*rng)() % 25));
      if (op == moments.restart_at_op) {
        moments.restart_at_op = -1;
        if (!w->worker.Running()) w->Restart();
      }
      if (op == moments.release_at_op && dest_fs_) {
        moments.release_at_op = -1;
        dest_fs_->Release();
        writer->Note("[fault over] destination has space again");
      }
      auto it = schedule.find(op);
      if (it != schedule.end() && Inject(it->second, op, rng, w, dst, &moments)) {
        r->faults.push_back(it->second + "@op" + std::to_string(op));
        writer->Note("[fault] " + it->second);
        live.last_fault = Clock::now();
        live.any_fault = true;
      }
      // The supervisor: a worker that stopped by itself (Faulty) is started again.
      w->worker.ReapAbandoned();
      if (moments.restart_at_op < 0 && !w->worker.Running()) {
        writer->Note("[worker exited; restarted]");
        w->Restart();
      }
    }
    if (dest_fs_ && dest_fs_->full()) {
      dest_fs_->Release();
      writer->Note("[fault over] destination has space again");
    }
    if (!w->worker.Running()) w->Restart();
    w->worker.ReapAbandoned();
    ReapOrphans(NotOrphans(*w));
    return live;
  }

  // When a fault's effects end: a killed worker comes back after `restart_at_op`, a full
  // destination is emptied after `release_at_op` (-1: none pending).
  struct FaultMoments {
    int restart_at_op = -1;
    int release_at_op = -1;
  };

  // Lands fault `kind` after operation `op`; false when there was nothing to land it on.
  bool Inject(const std::string& kind, int op, std::mt19937_64* rng, RoundWorker* w,
              const std::string& dst, FaultMoments* moments) {
    if (kind == "kill-worker" || kind == "kill-both") {
      if (kind == "kill-both")
        for (pid_t a : AgentsServing(dst)) ::kill(a, SIGKILL);
      const bool done = w->worker.pid() > 0;
      w->Poll();
      w->worker.Kill(SIGKILL);
      moments->restart_at_op = op + 1 + static_cast<int>((*rng)() % 6);
      return done;
    }
    if (kind == "kill-agent") {
      const auto agents = AgentsServing(dst);
      for (pid_t a : agents) ::kill(a, SIGKILL);
      return !agents.empty();
    }
    if (kind == "kill-ssh") {
      const auto clients = w->worker.SshClients();
      for (pid_t c : clients) ::kill(c, SIGKILL);
      return !clients.empty();
    }
    if (kind == "cut-link" && ssh_) {
      ssh_->Cut(200 + static_cast<int>((*rng)() % 3000));
      return true;
    }
    if (kind == "engine-restart" && w->worker.pid() > 0) {
      w->Poll();
      w->worker.Abandon();
      w->Restart();
      return true;
    }
    if (kind == "disk-full" && dest_fs_ && !dest_fs_->full()) {
      dest_fs_->Fill();
      moments->release_at_op = op + 3 + static_cast<int>((*rng)() % 20);
      return true;
    }
    return false;
  }

  // Converge: the worker in step after the writer stopped, and the trees equal -- within
  // --converge-timeout, or the round diverged.
  void Converge(RoundWorker* w, const RoundPaths& p, const LivePhase& live, RoundResult* r) {
    const auto stopped = Clock::now();
    const Tree source = DescribeTree(p.src);
    std::vector<std::string> diffs = {"not compared"};
    auto last_compare = Clock::now() - std::chrono::seconds(10);
    while (true) {
      w->Poll();
      if (!w->worker.Running()) w->Restart();
      w->worker.ReapAbandoned();
      ReapOrphans(NotOrphans(*w));
      const Status& last = w->last;
      const bool in_step = last.state == "Active" && last.crawl == "Changelog Crawl" &&
                           last.last_synced_ms > live.last_write_ms && last.pending == 0;
      const bool timed_out = SecondsSince(stopped) >= o_.converge_timeout;
      if (in_step || timed_out || SecondsSince(last_compare) > 2) {
        diffs = Compare(source, DescribeTree(p.dst), o_.compare_dir_mtime);
        last_compare = Clock::now();
        if (diffs.empty() && in_step) {
          r->converge_s = SecondsSince(stopped);
          r->since_last_fault_s = live.any_fault ? SecondsSince(live.last_fault) : r->converge_s;
          return;
        }
      }
      if (timed_out || g_stop) break;
      SleepMs(100);
    }
    r->diverged = !diffs.empty();
    r->differences = diffs;
    if (!r->diverged)
      r->differences.push_back("trees equal, but the worker never reported in step: " +
                               StatusLine(w->last));
  }

  static std::string StatusLine(const Status& s) {
    if (!s.ok) return "(no status.json)";
    return "state=" + s.state + " crawl=\"" + s.crawl + "\" pending=" + std::to_string(s.pending) +
           " failures=" + std::to_string(s.failures) +
           (s.reason.empty() ? "" : " reason=\"" + s.reason + "\"");
  }

  void Finish(Worker* worker, RoundResult* r, const std::string& src, const std::string& dst,
              const std::string& state, const Writer& writer, int index) {
    worker->StopAll();
    KillDescendants(ssh_ ? std::set<pid_t>{ssh_->sshd_pid()} : std::set<pid_t>{});
    r->worker_starts = worker->starts();
    r->worker_exits = worker->exits();
    if (r->diverged && kept_ < o_.keep_failed) {
      ++kept_;
      const std::string keep =
          o_.keep_dir + "/round-" + std::to_string(index) + "-seed-" + std::to_string(r->seed);
      std::error_code ec;
      fs::remove_all(keep, ec);
      fs::create_directories(keep);
      // cp -a keeps owners, modes, times and xattrs, which is what is being looked at.
      for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
               {src, keep + "/source"}, {dst, keep + "/destination"}, {state, keep + "/state"}}) {
        pid_t pid = ::fork();
        if (pid == 0) {
          int null = ::open("/dev/null", O_WRONLY);
          ::dup2(null, 2);
          ::execl("/bin/cp", "cp", "-a", from.c_str(), to.c_str(), nullptr);
          ::_exit(127);
        }
        int st = 0;
        ::waitpid(pid, &st, 0);
      }
      std::ofstream(keep + "/operations.log") << writer.log();
      std::ofstream diff(keep + "/differences.txt");
      for (const auto& d : r->differences) diff << d << "\n";
      r->differences.push_back("kept in " + keep);
    }
    std::error_code ec;
    fs::remove_all(dst, ec);
    if (r->diverged) last_log_ = writer.log();
  }

  void Print(int index, const RoundResult& r) {
    std::string faults;
    for (const auto& f : r.faults) faults += (faults.empty() ? "" : " ") + f;
    std::cout << "round " << index << " seed " << r.seed << ": faults ["
              << (faults.empty() ? "none" : faults) << "] worker starts " << r.worker_starts;
    if (r.diverged) {
      std::cout << " DIVERGED\n  replay: --seed " << r.seed << " --rounds 1" << Replay() << "\n";
      size_t shown = 0;
      for (const auto& d : r.differences) {
        if (++shown > 25) {
          std::cout << "  ... " << r.differences.size() - 25 << " more\n";
          break;
        }
        std::cout << "  " << d << "\n";
      }
      std::cout << "  status: " << r.last_status << "\n  the round's live operations:\n";
      std::stringstream ops(last_log_);
      std::string line;
      while (std::getline(ops, line)) std::cout << "    " << line << "\n";
    } else if (r.converge_s >= 0) {
      char b[256];
      std::snprintf(b, sizeof b,
                    " converged %.2f s after the writer stopped (%.2f s after the last fault); "
                    "bytes sent %s %llu (written %llu, tree %llu)\n",
                    r.converge_s, r.since_last_fault_s,
                    r.waited_first ? "live" : "from the start (live during the first sync)",
                    static_cast<unsigned long long>(r.live_bytes_sent),
                    static_cast<unsigned long long>(r.written_bytes),
                    static_cast<unsigned long long>(r.tree_bytes));
      std::cout << b;
    } else {
      std::cout << " trees equal, not reported in step: " << r.last_status << "\n";
    }
    std::cout << std::flush;
  }

  // The options a replay of one round needs besides its seed.
  std::string Replay() const {
    std::string faults = o_.faults.empty() ? "none" : "", ops;
    for (const auto& f : o_.faults) faults += (faults.empty() ? "" : ",") + f;
    for (const auto& op : o_.ops) ops += (ops.empty() ? "" : ",") + op;
    std::string out = " --seed-entries " + std::to_string(o_.seed_entries) + " --ops-per-round " +
                      std::to_string(o_.ops_per_round) + " --max-faults " +
                      std::to_string(o_.max_faults) + " --faults " + faults + " --ops " + ops;
    if (!o_.compare_dir_mtime) out += " --no-dir-mtime";
    if (o_.ssh) out += " --transport ssh";
    if (o_.inotify_limit >= 0) out += " --inotify-limit " + std::to_string(o_.inotify_limit);
    for (const auto& a : o_.worker_args) out += " --worker-arg " + a;
    return out;
  }

  int Summary(const std::vector<RoundResult>& results, double seconds) {
    std::map<std::string, int> by_kind;
    std::vector<double> converge, since_fault;
    std::vector<uint64_t> diverged;
    uint64_t tree = 0, written = 0, initial = 0, initial_tree = 0, live = 0, live_written = 0;
    int not_in_step = 0;
    uint64_t total_sent = 0;
    for (const auto& r : results) {
      total_sent += r.initial_bytes_sent + r.live_bytes_sent;
      for (const auto& f : r.faults) ++by_kind[f.substr(0, f.find('@'))];
      if (r.diverged) diverged.push_back(r.seed);
      if (!r.diverged && r.converge_s < 0) ++not_in_step;
      if (r.converge_s >= 0) {
        converge.push_back(r.converge_s);
        since_fault.push_back(r.since_last_fault_s);
      }
      tree += r.tree_bytes;
      written += r.written_bytes;
      if (r.waited_first) {
        initial += r.initial_bytes_sent;
        initial_tree += r.tree_bytes;
        live += r.live_bytes_sent;
        live_written += r.written_bytes;
      }
    }
    auto median = [](std::vector<double> v) {
      if (v.empty()) return 0.0;
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    auto max = [](const std::vector<double>& v) {
      return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
    };
    std::cout << "\nsummary: " << results.size() << " rounds in " << static_cast<int>(seconds)
              << " s, " << diverged.size() << " diverged";
    if (not_in_step) std::cout << ", " << not_in_step << " equal but never in step";
    std::cout << "\n  faults:";
    int total = 0;
    for (const auto& [k, n] : by_kind) std::cout << " " << k << "=" << n, total += n;
    std::cout << " (" << total << ")\n";
    auto ull = [](uint64_t v) { return static_cast<unsigned long long>(v); };
    auto ratio = [](uint64_t a, uint64_t b) {
      return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
    };
    char b[800];
    std::snprintf(b, sizeof b,
                  "  converge after the writer stopped: median %.2f s, max %.2f s; after the "
                  "last fault: median %.2f s, max %.2f s\n"
                  "  bytes sent (file contents, every worker incarnation): %llu for seeded "
                  "trees of %llu and %llu written live (%.2fx)\n"
                  "  rounds that waited for the first sync: first syncs sent %llu of %llu "
                  "(%.2fx); live phases %llu for %llu written (%.2fx)\n",
                  median(converge), max(converge), median(since_fault), max(since_fault),
                  ull(total_sent), ull(tree), ull(written), ratio(total_sent, tree + written),
                  ull(initial), ull(initial_tree), ratio(initial, initial_tree), ull(live),
                  ull(live_written), ratio(live, live_written));
    std::cout << b;
    if (!diverged.empty()) {
      std::cout << "  diverged seeds:";
      for (auto s : diverged) std::cout << " " << s;
      std::cout << "\n";
    }
    if (own_work_dir_ && diverged.empty()) {
      std::error_code ec;
      if (dest_fs_) ::umount2(dest_fs_->dir().c_str(), MNT_DETACH);
      fs::remove_all(o_.work_dir, ec);
    } else if (dest_fs_) {
      ::umount2(dest_fs_->dir().c_str(), MNT_DETACH);
    }
    return diverged.empty() && !g_stop ? 0 : 1;
  }

  Options o_;
  std::optional<DestinationFs> dest_fs_;
  std::optional<SshTransport> ssh_;
  bool own_work_dir_ = false;
  int kept_ = 0;
  std::string last_log_;
};

}  // namespace
}  // namespace georep::fault

int main(int argc, char** argv) {
  georep::fault::Options o;
  if (!georep::fault::ParseOptions(argc, argv, &o)) return 2;
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGINT, georep::fault::OnStop);
  ::signal(SIGTERM, georep::fault::OnStop);
  return georep::fault::Harness(std::move(o)).Run();
}
