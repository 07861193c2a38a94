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
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/engine_process.h"
#include "integration/sshd_server.h"

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// SIGINT or SIGTERM: the round in progress ends (its worker and agents stopped), no more start.
volatile sig_atomic_t g_stop = 0;
void OnStop(int) {
  g_stop = 1;
}

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void SleepMs(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string w;
  while (std::getline(in, w, sep))
    if (!w.empty()) out.push_back(w);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Options

const std::vector<std::string> kAllOps = {
    "create",        "append",         "truncate",   "overwrite", "mkdir",
    "rename-file",   "rename-replace", "rename-dir", "link",      "unlink",
    "rmdir",         "chmod",          "chown",      "utimes",    "xattr",
    "xattr-trusted", "symlink",        "fifo",       "acl"};
// kill-ssh and cut-link need the ssh transport. engine-restart: a second worker started while
// the first runs, as an engine restarted after a kill -9 does (the workers it started outlive
// it); the new one takes the state directory over.
const std::vector<std::string> kAllFaults = {"kill-worker", "kill-agent",     "kill-both",
                                             "disk-full",   "engine-restart", "kill-ssh",
                                             "cut-link"};
const std::set<std::string> kSshFaults = {"kill-ssh", "cut-link"};

struct Options {
  std::string georep;
  int rounds = 10;
  uint64_t seed = 0;
  bool seed_given = false;
  std::set<std::string> ops;
  std::set<std::string> faults;
  int ops_per_round = 80;
  int max_faults = 3;         // per round, at most
  int seed_entries = 300;     // the seeded tree's files (and a fifth as many directories)
  int converge_timeout = 60;  // seconds after the writer stops
  int initial_timeout = 60;   // seconds for the first sync
  bool compare_dir_mtime = true;
  int keep_failed = 3;   // rounds whose trees are kept
  std::string work_dir;  // default: a new directory under /var/tmp
  std::string keep_dir;  // default: WORK_DIR/failed
  int dest_mb = 128;     // the destination tmpfs
  std::vector<std::string> worker_args;
  bool ssh = false;        // --transport ssh: the destination behind a real sshd on loopback
  int inotify_limit = -1;  // the worker's user namespace's inotify watch limit
  bool stop_on_diverge = false;
  bool verbose = false;
};

void Usage() {
  std::cerr <<
      R"(usage: georep_fault_harness --georep PATH [options]
  --rounds N             rounds to run (10)
  --seed S               first round's seed (default: the time); round i uses S+i
  --faults LIST          comma-separated: kill-worker,kill-agent,kill-both,disk-full,
                         engine-restart, and with ssh kill-ssh,cut-link; all or none (default: all)
  --transport T          local (default) or ssh: the destination behind a real sshd on
                         127.0.0.1, reached through a TCP relay that cut-link breaks
  --inotify-limit N      run the worker in a user namespace of its own whose inotify watch
                         limit (user.max_inotify_watches) is N: directories beyond it unwatched
  --ops LIST             comma-separated operation kinds (default: all);
                         -KIND / +KIND change the default, e.g. --ops -rename-dir,-link
  --ops-per-round N      live operations per round (80)
  --max-faults N         faults per round, at most (3)
  --seed-entries N       files in the seeded tree (300)
  --converge-timeout S   bound on convergence after the writer stops (60)
  --no-dir-mtime         do not compare directories' mtimes
  --keep-failed N        keep trees and state of the first N diverged rounds (3)
  --work-dir DIR         where rounds run (default: a new /var/tmp/georep-faults-XXXXXX)
  --keep-dir DIR         where diverged rounds are kept (default: WORK_DIR/failed)
  --dest-mb N            size of the destination tmpfs (128)
  --worker-arg ARG       an extra `georep worker` argument (repeatable)
  --stop-on-diverge      stop at the first diverged round
  --verbose              print each operation and fault
operation kinds: create append truncate overwrite mkdir rename-file rename-replace rename-dir
  link unlink rmdir chmod chown utimes xattr xattr-trusted symlink fifo acl
)";
}

bool ParseOptions(int argc, char** argv, Options* o) {
  std::string ops_arg, faults_arg = "all";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--georep")
      o->georep = value();
    else if (a == "--rounds")
      o->rounds = std::stoi(value());
    else if (a == "--seed")
      o->seed = std::stoull(value()), o->seed_given = true;
    else if (a == "--faults")
      faults_arg = value();
    else if (a == "--ops")
      ops_arg = value();
    else if (a == "--ops-per-round")
      o->ops_per_round = std::stoi(value());
    else if (a == "--max-faults")
      o->max_faults = std::stoi(value());
    else if (a == "--seed-entries")
      o->seed_entries = std::stoi(value());
    else if (a == "--converge-timeout")
      o->converge_timeout = std::stoi(value());
    else if (a == "--no-dir-mtime")
      o->compare_dir_mtime = false;
    else if (a == "--keep-failed")
      o->keep_failed = std::stoi(value());
    else if (a == "--work-dir")
      o->work_dir = value();
    else if (a == "--keep-dir")
      o->keep_dir = value();
    else if (a == "--dest-mb")
      o->dest_mb = std::stoi(value());
    else if (a == "--transport") {
      const std::string t = value();
      if (t != "local" && t != "ssh") {
        std::cerr << "--transport is local or ssh\n";
        return false;
      }
      o->ssh = t == "ssh";
    } else if (a == "--inotify-limit")
      o->inotify_limit = std::stoi(value());
    else if (a == "--worker-arg")
      o->worker_args.push_back(value());
    else if (a == "--stop-on-diverge")
      o->stop_on_diverge = true;
    else if (a == "--verbose")
      o->verbose = true;
    else if (a == "--help" || a == "-h")
      return Usage(), false;
    else {
      std::cerr << "unknown argument " << a << "\n";
      return Usage(), false;
    }
  }
  if (o->georep.empty()) {
    std::cerr << "--georep PATH is required\n";
    return false;
  }
  o->georep = fs::absolute(o->georep).string();   // also the agent's path over ssh
  o->ops.insert(kAllOps.begin(), kAllOps.end());  // every kind, unless told otherwise
  if (ops_arg == "all") {
    o->ops.insert(kAllOps.begin(), kAllOps.end());
  } else if (!ops_arg.empty()) {
    const auto words = Split(ops_arg, ',');
    const bool removals = std::all_of(words.begin(), words.end(), [](const std::string& w) {
      return w[0] == '-' || w[0] == '+';
    });
    if (!removals) o->ops.clear();
    for (auto w : words) {
      const bool remove = w[0] == '-';
      const bool add = w[0] == '+';
      if (remove || add) w = w.substr(1);
      if (std::find(kAllOps.begin(), kAllOps.end(), w) == kAllOps.end()) {
        std::cerr << "unknown operation kind " << w << "\n";
        return false;
      }
      if (remove)
        o->ops.erase(w);
      else
        o->ops.insert(w);
    }
  }
  if (faults_arg == "all") {
    for (const auto& f : kAllFaults)
      if (o->ssh || !kSshFaults.count(f)) o->faults.insert(f);
  } else if (faults_arg != "none") {
    for (const auto& f : Split(faults_arg, ',')) {
      if (std::find(kAllFaults.begin(), kAllFaults.end(), f) == kAllFaults.end()) {
        std::cerr << "unknown fault " << f << "\n";
        return false;
      }
      if (kSshFaults.count(f) && !o->ssh) {
        std::cerr << "fault " << f << " needs --transport ssh\n";
        return false;
      }
      o->faults.insert(f);
    }
  }
  // A worker in a user namespace of its own is not root on the host: it can neither read nor
  // write trusted.* xattrs (it says so in its log), so the mix leaves them out.
  if (o->inotify_limit >= 0 && o->ops.erase("xattr-trusted"))
    std::cout << "no trusted.* xattrs: a worker in a user namespace cannot replicate them\n";
  if (!o->seed_given) o->seed = static_cast<uint64_t>(::time(nullptr));
  return true;
}

// ---------------------------------------------------------------------------------------------
// The strict comparison: each tree described by lstat, readlink, listxattr and its contents.

struct Entry {
  char type = '?';  // f d l p s c b
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  std::string content_hash;  // regular files
  std::string target;        // symlinks
  std::map<std::string, std::string> xattrs;
  std::string links;  // regular files with several links: the other paths sharing the inode
};

using Tree = std::map<std::string, Entry>;

std::string HashFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::string("unreadable: ") + std::strerror(errno);
  XXH3_state_t* st = XXH3_createState();
  XXH3_128bits_reset(st);
  std::vector<char> buf(1 << 16);
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0)
    XXH3_128bits_update(st, buf.data(), static_cast<size_t>(n));
  ::close(fd);
  const XXH128_hash_t h = XXH3_128bits_digest(st);
  XXH3_freeState(st);
  char out[40];
  std::snprintf(out, sizeof out, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return out;
}

// Replicated xattr namespaces: user.* and, as root, trusted.*; ACLs (system.posix_acl_*).
bool ComparedXattr(const std::string& name) {
  return name.starts_with("user.") || name.starts_with("trusted.") ||
         name == "system.posix_acl_access" || name == "system.posix_acl_default";
}

std::map<std::string, std::string> Xattrs(const std::string& path) {
  std::map<std::string, std::string> out;
  std::string names(1 << 16, '\0');
  ssize_t n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n <= 0) return out;
  names.resize(static_cast<size_t>(n));
  for (size_t pos = 0; pos < names.size();) {
    std::string name(names.c_str() + pos);
    pos += name.size() + 1;
    if (!ComparedXattr(name)) continue;
    std::string value(1 << 16, '\0');
    ssize_t m = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    value.resize(m < 0 ? 0 : static_cast<size_t>(m));
    out[name] = value;
  }
  return out;
}

void Walk(const std::string& root, const std::string& rel, Tree* tree,
          std::map<std::pair<dev_t, ino_t>, std::vector<std::string>>* inodes) {
  const std::string path = rel.empty() ? root : root + "/" + rel;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;  // gone meanwhile: the caller compares again
  Entry e;
  e.type = S_ISREG(st.st_mode)    ? 'f'
           : S_ISDIR(st.st_mode)  ? 'd'
           : S_ISLNK(st.st_mode)  ? 'l'
           : S_ISFIFO(st.st_mode) ? 'p'
           : S_ISSOCK(st.st_mode) ? 's'
           : S_ISCHR(st.st_mode)  ? 'c'
           : S_ISBLK(st.st_mode)  ? 'b'
                                  : '?';
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  e.xattrs = Xattrs(path);
  if (e.type == 'f') {
    e.size = st.st_size;
    e.content_hash = HashFile(path);
    if (st.st_nlink > 1) (*inodes)[{st.st_dev, st.st_ino}].push_back(rel);
  } else if (e.type == 'l') {
    std::string target(4096, '\0');
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    target.resize(n < 0 ? 0 : static_cast<size_t>(n));
    e.target = target;
    e.size = st.st_size;
  }
  (*tree)[rel.empty() ? "." : rel] = e;
  if (e.type != 'd') return;
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& d : fs::directory_iterator(path, ec)) names.push_back(d.path().filename());
  for (const auto& n : names) Walk(root, rel.empty() ? n : rel + "/" + n, tree, inodes);
}

Tree DescribeTree(const std::string& root) {
  Tree tree;
  std::map<std::pair<dev_t, ino_t>, std::vector<std::string>> inodes;
  Walk(root, "", &tree, &inodes);
  for (auto& [inode, paths] : inodes) {
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) {
      std::string others;
      for (const auto& q : paths)
        if (q != p) others += (others.empty() ? "" : " ") + q;
      tree[p].links = others;
    }
  }
  return tree;
}

std::string Octal(mode_t m) {
  char b[16];
  std::snprintf(b, sizeof b, "%04o", m);
  return b;
}

std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 32 && c < 127) {
      out += static_cast<char>(c);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  return out.size() > 80 ? out.substr(0, 80) + "..." : out;
}

// The differences between source `a` and destination `b`, one line each.
std::vector<std::string> Compare(const Tree& a, const Tree& b, bool dir_mtime) {
  std::vector<std::string> out;
  for (const auto& [path, x] : a) {
    auto it = b.find(path);
    if (it == b.end()) {
      out.push_back(path + ": missing at the destination (source type " + x.type + ")");
      continue;
    }
    const Entry& y = it->second;
    auto diff = [&](const std::string& what, const std::string& sv, const std::string& dv) {
      out.push_back(path + ": " + what + " source " + sv + " destination " + dv);
    };
    if (x.type != y.type) {
      diff("type", std::string(1, x.type), std::string(1, y.type));
      continue;
    }
    const bool root = path == ".";
    if (x.mode != y.mode && x.type != 'l' && !root) diff("mode", Octal(x.mode), Octal(y.mode));
    if ((x.uid != y.uid || x.gid != y.gid) && !root)
      diff("owner", std::to_string(x.uid) + ":" + std::to_string(x.gid),
           std::to_string(y.uid) + ":" + std::to_string(y.gid));
    if (x.type == 'f' && x.size != y.size)
      diff("size", std::to_string(x.size), std::to_string(y.size));
    if (x.type == 'f' && x.content_hash != y.content_hash)
      diff("content", x.content_hash, y.content_hash);
    if (x.type == 'l' && x.target != y.target) diff("symlink target", x.target, y.target);
    if (x.mtime_ns != y.mtime_ns && !root && (x.type != 'd' || dir_mtime))
      diff("mtime", std::to_string(x.mtime_ns), std::to_string(y.mtime_ns));
    if (x.xattrs != y.xattrs && !root) {
      std::string sv, dv;
      for (const auto& [k, v] : x.xattrs) sv += k + "=" + Printable(v) + ";";
      for (const auto& [k, v] : y.xattrs) dv += k + "=" + Printable(v) + ";";
      diff("xattrs", "{" + sv + "}", "{" + dv + "}");
    }
    if (x.links != y.links) diff("hard links", "[" + x.links + "]", "[" + y.links + "]");
  }
  for (const auto& [path, y] : b)
    if (!a.count(path))
      out.push_back(path + ": only at the destination (type " + std::string(1, y.type) + ")");
  return out;
}

// ---------------------------------------------------------------------------------------------
// Processes: the worker, restarted like the engine's supervisor does.

std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "children");
    pid_t child = 0;
    while (in >> child) out.push_back(child);
  }
  return out;
}

std::vector<std::string> CommandLineOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> words;
  std::string w;
  while (std::getline(in, w, '\0')) words.push_back(w);
  return words;
}

// The `georep agent` processes serving destination `root`: the worker's children, or (over
// ssh) the children of sshd's sessions.
std::vector<pid_t> AgentsServing(const std::string& root) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    const auto words = CommandLineOf(std::stoi(name));
    if (words.size() < 4 || words[1] != "agent") continue;
    for (size_t i = 2; i + 1 < words.size(); ++i)
      if (words[i] == "--root" && words[i + 1] == root) out.push_back(std::stoi(name));
  }
  return out;
}

class Worker {
 public:
  // `inotify_limit` >= 0: the worker runs in a user namespace of its own (every uid and gid
  // mapped to itself, so owners are what they are outside) whose inotify watch limit is that.
  Worker(std::vector<std::string> argv, std::string stderr_path, int inotify_limit)
      : argv_(std::move(argv)),
        stderr_path_(std::move(stderr_path)),
        inotify_limit_(inotify_limit) {}
  ~Worker() { StopAll(); }

  void Start() {
    int ready[2] = {-1, -1}, go[2] = {-1, -1};
    if (inotify_limit_ >= 0 && (::pipe(ready) != 0 || ::pipe(go) != 0)) {
      std::cerr << "pipe: " << std::strerror(errno) << "\n";
      return;
    }
    // Everything the child needs is made before fork: with the relay's thread running, the
    // child may not allocate (that thread may have held the allocator's lock at fork).
    std::vector<char*> args;
    for (auto& a : argv_) args.push_back(a.data());
    args.push_back(nullptr);
    const std::string limit = std::to_string(inotify_limit_) + "\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      int null = ::open("/dev/null", O_RDWR);
      int err = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(null, 0);
      ::dup2(null, 1);
      if (err >= 0) ::dup2(err, 2);
      if (inotify_limit_ >= 0) {
        // The parent writes the id maps (it may map every id: it is root outside); then this
        // namespace's limit, which the kernel checks besides the machine's fs.inotify.*.
        char c = 0;
        if (::unshare(CLONE_NEWUSER) != 0 || ::write(ready[1], "u", 1) != 1 ||
            ::read(go[0], &c, 1) != 1 || c != 'g') {
          ::perror("worker's user namespace");
          ::_exit(126);
        }
        const int fd = ::open("/proc/sys/user/max_inotify_watches", O_WRONLY);
        if (fd < 0 ||
            ::write(fd, limit.data(), limit.size()) != static_cast<ssize_t>(limit.size())) {
          ::perror("user.max_inotify_watches");
          ::_exit(126);
        }
        ::close(fd);
      }
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    if (inotify_limit_ >= 0) {
      ::close(ready[1]);
      ::close(go[0]);
      char c = 0;
      bool ok = ::read(ready[0], &c, 1) == 1;
      const std::string proc = "/proc/" + std::to_string(pid_);
      for (const char* map : {"/uid_map", "/gid_map"}) {
        std::ofstream m(proc + map);
        m << "0 0 4294967295\n";
        m.close();
        ok = ok && m.good();
      }
      if (!ok) std::cerr << "cannot map the worker's user namespace\n";
      ok = ::write(go[1], ok ? "g" : "x", 1) == 1 && ok;
      ::close(ready[0]);
      ::close(go[1]);
    }
    ++starts_;
  }
  // The engine restarted: the worker it had goes on running, out of this supervisor's hands,
  // until the next one takes its state directory over (which stops it).
  void Abandon() {
    if (pid_ > 0) abandoned_.push_back(pid_);
    pid_ = -1;
  }
  // Abandoned workers that have ended, reaped.
  void ReapAbandoned() {
    std::erase_if(abandoned_, [](pid_t p) { return ::waitpid(p, nullptr, WNOHANG) == p; });
  }
  // This supervisor's children: the worker and the abandoned ones not yet reaped.
  std::set<pid_t> Pids() const {
    std::set<pid_t> out(abandoned_.begin(), abandoned_.end());
    if (pid_ > 0) out.insert(pid_);
    return out;
  }
  // Whether the worker is running (reaps it when it exited by itself).
  bool Running() {
    if (pid_ <= 0) return false;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      ++exits_;
      return false;
    }
    return true;
  }
  // The worker's ssh clients (its children running ssh).
  std::vector<pid_t> SshClients() const {
    std::vector<pid_t> out;
    if (pid_ <= 0) return out;
    for (pid_t c : ChildrenOf(pid_)) {
      auto words = CommandLineOf(c);
      if (!words.empty() && fs::path(words[0]).filename() == "ssh") out.push_back(c);
    }
    return out;
  }
  void Kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
  }
  void Stop() { Kill(SIGTERM); }
  // The worker and every abandoned one still running.
  void StopAll() {
    Stop();
    for (pid_t p : abandoned_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    abandoned_.clear();
  }
  pid_t pid() const { return pid_; }
  int starts() const { return starts_; }
  int exits() const { return exits_; }

 private:
  std::vector<std::string> argv_;
  std::string stderr_path_;
  int inotify_limit_;
  pid_t pid_ = -1;
  std::vector<pid_t> abandoned_;
  int starts_ = 0, exits_ = 0;  // exits: by itself (Faulty), not killed
};

// Orphans (agents of a killed worker) come to this process, their subreaper: reaped here, and
// at a round's end stopped, by PID. `keep`: children that are not orphans (the worker, sshd).
void ReapOrphans(const std::set<pid_t>& keep) {
  for (pid_t c : ChildrenOf(::getpid())) {
    if (keep.count(c)) continue;
    int st = 0;
    ::waitpid(c, &st, WNOHANG);
  }
}

void KillDescendants(const std::set<pid_t>& keep) {
  for (pid_t c : ChildrenOf(::getpid())) {
    if (keep.count(c)) continue;
    ::kill(c, SIGKILL);
    int st = 0;
    ::waitpid(c, &st, 0);
  }
}

// ---------------------------------------------------------------------------------------------
// The ssh transport: a real sshd on loopback, reached through a TCP relay this harness owns,
// so that a link can be cut (every connection reset, new ones refused for a while) without
// signalling anything.

class Relay {
 public:
  ~Relay() { Stop(); }

  // Listens on a free 127.0.0.1 port and forwards each connection to 127.0.0.1:`to_port`.
  bool Start(int to_port) {
    to_port_ = to_port;
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener_, 16) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
        ::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0)
      return false;
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Loop(); });
    return true;
  }
  void Stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    Wake();
    thread_.join();
    for (int fd : {listener_, wake_[0], wake_[1]})
      if (fd >= 0) ::close(fd);
  }
  // The link is down for `ms`: open connections are reset, new ones reset at once.
  void Cut(int ms) {
    down_until_ms_ = WallMs() + ms;
    cut_ = true;
    Wake();
  }
  int port() const { return port_; }
  uint64_t cuts() const { return cuts_; }

 private:
  struct Pipe {  // one direction of a connection
    int from, to;
    std::string pending;  // read from `from`, not yet written to `to`
    bool eof = false;
  };
  struct Connection {
    Pipe up, down;
  };

  void Wake() { (void)!::write(wake_[1], "w", 1); }

  static void Reset(int fd) {
    linger l{1, 0};  // close with RST, as a vanished peer's kernel would answer
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
  }

  int Connect() const {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(to_port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    if (fd >= 0) ::close(fd);
    return -1;
  }

  enum class Flow { kOpen, kDone, kBroken };
  // Moves what it can in one direction.
  static Flow Pump(Pipe* p, short from_events, short to_events) {
    if (!p->pending.empty() && (to_events & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::send(p->to, p->pending.data(), p->pending.size(), MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) return Flow::kBroken;
      if (n > 0) p->pending.erase(0, static_cast<size_t>(n));
    }
    if (p->pending.empty() && !p->eof && (from_events & (POLLIN | POLLERR | POLLHUP))) {
      char buf[65536];
      ssize_t n = ::recv(p->from, buf, sizeof buf, 0);
      if (n == 0) {
        p->eof = true;
        ::shutdown(p->to, SHUT_WR);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return Flow::kBroken;
      } else if (n > 0) {
        p->pending.assign(buf, static_cast<size_t>(n));
      }
    }
    return p->eof && p->pending.empty() ? Flow::kDone : Flow::kOpen;
  }

  void Loop() {
    std::vector<Connection> conns;
    auto close_all = [&] {
      for (auto& c : conns) Reset(c.up.from), Reset(c.up.to);
      conns.clear();
    };
    while (!stop_) {
      if (cut_.exchange(false)) {
        if (!conns.empty()) ++cuts_;
        close_all();
      }
      std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listener_, POLLIN, 0}};
      for (auto& c : conns) {
        // Per connection: client, server; read where nothing is pending, write where it is.
        fds.push_back({c.up.from,
                       static_cast<short>((c.up.pending.empty() && !c.up.eof ? POLLIN : 0) |
                                          (c.down.pending.empty() ? 0 : POLLOUT)),
                       0});
        fds.push_back({c.up.to,
                       static_cast<short>((c.down.pending.empty() && !c.down.eof ? POLLIN : 0) |
                                          (c.up.pending.empty() ? 0 : POLLOUT)),
                       0});
      }
      if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) break;
      char drain[64];
      while (::read(wake_[0], drain, sizeof drain) > 0) {
      }
      std::vector<Connection> kept;
      for (size_t i = 0; i < conns.size(); ++i) {
        const short client = fds[2 + 2 * i].revents, server = fds[3 + 2 * i].revents;
        Connection& c = conns[i];
        const Flow up = Pump(&c.up, client, server);
        const Flow down = Pump(&c.down, server, client);
        if (up == Flow::kBroken || down == Flow::kBroken) {
          Reset(c.up.from);  // one side reset: so is the other
          Reset(c.up.to);
        } else if (up == Flow::kDone && down == Flow::kDone) {
          ::close(c.up.from);
          ::close(c.up.to);
        } else {
          kept.push_back(std::move(c));
        }
      }
      conns = std::move(kept);
      if (fds[1].revents & POLLIN) {
        int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;
        const int server = WallMs() < down_until_ms_ ? -1 : Connect();
        if (server < 0) {
          Reset(client);  // the link is down (or sshd is): refused
          continue;
        }
        ::fcntl(client, F_SETFL, O_NONBLOCK);
        ::fcntl(server, F_SETFL, O_NONBLOCK);
        conns.push_back({Pipe{client, server, {}, false}, Pipe{server, client, {}, false}});
      }
    }
    close_all();
  }

  int to_port_ = 0, port_ = 0;
  int listener_ = -1;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::atomic<bool> stop_{false}, cut_{false};
  std::atomic<int64_t> down_until_ms_{0};
  std::atomic<uint64_t> cuts_{0};
};

// sshd, its client key and pinned host key, and the relay in front of it.
class SshTransport {
 public:
  explicit SshTransport(std::string dir) : dir_(std::move(dir)), sshd_(dir_ + "/sshd") {}

  bool Start(std::string* why) {
    fs::create_directories(dir_);
    const std::string key = dir_ + "/id_ed25519";
    if (!fs::exists(key)) {
      auto r = georep::testing::RunCommand(
          {"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key});
      if (r.exit_code != 0) return *why = "ssh-keygen: " + r.err, false;
    }
    std::ifstream pub(key + ".pub");
    std::string public_key;
    std::getline(pub, public_key);
    if (!sshd_.Start(public_key)) return *why = "sshd: " + sshd_.error(), false;
    // The host key pinned under an alias, whatever port the relay has.
    std::ifstream host(dir_ + "/sshd/host_ed25519.pub");
    std::string type, blob;
    host >> type >> blob;
    std::ofstream(dir_ + "/known_hosts") << kAlias << " " << type << " " << blob << "\n";
    if (!relay_.Start(sshd_.port())) return *why = "relay: cannot listen", false;
    return true;
  }

  // The worker's options for destination `path` behind this sshd.
  std::vector<std::string> WorkerArgs(const std::string& georep) const {
    return {"--ssh-command",
            "ssh -i " + dir_ + "/id_ed25519 -o HostKeyAlias=" + kAlias + " -o UserKnownHostsFile=" +
                dir_ + "/known_hosts -o StrictHostKeyChecking=yes" + " -o ConnectTimeout=10",
            "--ssh-port",
            std::to_string(relay_.port()),
            "--remote-command",
            georep + " agent"};
  }
  static std::string Destination(const std::string& path) { return "root@127.0.0.1::" + path; }

  void Cut(int ms) { relay_.Cut(ms); }
  pid_t sshd_pid() const { return sshd_.pid(); }

 private:
  static constexpr const char* kAlias = "georep-fault-harness";
  std::string dir_;
  georep::testing::SshServer sshd_;
  Relay relay_;
};

struct Status {
  bool ok = false;
  std::string state, crawl, reason;
  int64_t last_synced_ms = 0;
  uint64_t pending = 0, failures = 0, bytes_sent = 0, files_sent = 0;
  int64_t updated_ms = 0;
};

Status ReadStatus(const std::string& state_dir) {
  Status s;
  std::ifstream in(state_dir + "/status.json");
  if (!in) return s;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return s;
  s.ok = true;
  s.state = j.value("state", "");
  s.crawl = j.value("crawl", "");
  s.reason = j.value("reason", "");
  s.last_synced_ms = j.value("last_synced_ms", int64_t{0});
  s.pending = j.value("pending_entry", uint64_t{0}) + j.value("pending_data", uint64_t{0}) +
              j.value("pending_meta", uint64_t{0});
  s.failures = j.value("failures", uint64_t{0});
  s.bytes_sent = j.value("bytes_sent", uint64_t{0});
  s.files_sent = j.value("files_sent", uint64_t{0});
  s.updated_ms = j.value("updated_ms", int64_t{0});
  return s;
}

// ---------------------------------------------------------------------------------------------
// The source tree and the writer.

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(s.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return s;
}

bool WriteAll(const std::string& path, const std::string& data, int flags) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW | flags, 0644);
  if (fd < 0) return false;
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  return ok;
}

size_t RandomFileSize(std::mt19937_64& rng) {
  const int r = static_cast<int>(rng() % 100);
  if (r < 10) return 0;
  if (r < 80) return rng() % 8192;
  if (r < 97) return rng() % (256 << 10);
  return rng() % (2 << 20);
}

// A POSIX ACL as the kernel stores it in system.posix_acl_access (version 2 entries).
std::string AclValue(std::mt19937_64& rng) {
  auto put = [](std::string* s, uint16_t tag, uint16_t perm, uint32_t id) {
    char b[8];
    std::memcpy(b, &tag, 2);
    std::memcpy(b + 2, &perm, 2);
    std::memcpy(b + 4, &id, 4);
    s->append(b, 8);
  };
  std::string v;
  const uint32_t version = 2;
  v.append(reinterpret_cast<const char*>(&version), 4);
  put(&v, 0x01, 6, 0xffffffff);                                       // user::rw-
  put(&v, 0x02, static_cast<uint16_t>(rng() % 8), 1000 + rng() % 3);  // user:N:...
  put(&v, 0x04, 4, 0xffffffff);                                       // group::r--
  put(&v, 0x10, 7, 0xffffffff);                                       // mask::rwx
  put(&v, 0x20, static_cast<uint16_t>(rng() % 8), 0xffffffff);        // other::...
  return v;
}

class Writer {
 public:
  Writer(std::string root, std::mt19937_64* rng, const std::set<std::string>& ops, bool verbose)
      : root_(std::move(root)), rng_(*rng), verbose_(verbose) {
    // Weights: contents and names change most.
    const std::map<std::string, int> weight = {
        {"create", 10}, {"append", 6},      {"truncate", 4},       {"overwrite", 6},
        {"mkdir", 4},   {"rename-file", 6}, {"rename-replace", 3}, {"rename-dir", 4},
        {"link", 4},    {"unlink", 5},      {"rmdir", 2},          {"chmod", 4},
        {"chown", 3},   {"utimes", 4},      {"xattr", 4},          {"symlink", 4},
        {"fifo", 1},    {"acl", 2},         {"xattr-trusted", 2}};
    for (const auto& op : ops)
      for (int i = 0; i < weight.at(op); ++i) mix_.push_back(op);
  }

  // The seeded tree: `files` files in files/5 directories, with hard links, symlinks, xattrs,
  // owners and times.
  uint64_t Seed(int files) {
    const int dirs = std::max(1, files / 5);
    for (int i = 0; i < dirs; ++i) {
      Refresh();
      Mkdir(Fresh(Pick(dirs_)));
    }
    uint64_t bytes = 0;
    for (int i = 0; i < files; ++i) {
      Refresh();
      const std::string p = Fresh(Pick(dirs_));
      const std::string data = RandomBytes(rng_, RandomFileSize(rng_));
      bytes += data.size();
      WriteAll(Path(p), data, O_CREAT | O_TRUNC);
    }
    Refresh();
    for (int i = 0; i < files / 20; ++i) Link();
    for (int i = 0; i < files / 20; ++i) Symlink();
    for (int i = 0; i < files / 10; ++i) Xattr(false);
    for (int i = 0; i < files / 20; ++i) Chown();
    for (int i = 0; i < files / 10; ++i) Utimes();
    log_.clear();
    return bytes;
  }

  // One random operation; returns bytes written.
  uint64_t Step() {
    Refresh();
    const std::string op = mix_[rng_() % mix_.size()];
    written_ = 0;
    if (files_.empty() && op != "mkdir" && op != "rename-dir" && op != "rmdir" && op != "symlink" &&
        op != "fifo") {
      Create();
    } else if (op == "create")
      Create();
    else if (op == "append")
      Append();
    else if (op == "truncate")
      Truncate();
    else if (op == "overwrite")
      Overwrite();
    else if (op == "mkdir")
      Mkdir(Fresh(Pick(dirs_)));
    else if (op == "rename-file")
      RenameFile(false);
    else if (op == "rename-replace")
      RenameFile(true);
    else if (op == "rename-dir")
      RenameDir();
    else if (op == "link")
      Link();
    else if (op == "unlink")
      Unlink();
    else if (op == "rmdir")
      Rmdir();
    else if (op == "chmod")
      Chmod();
    else if (op == "chown")
      Chown();
    else if (op == "utimes")
      Utimes();
    else if (op == "xattr")
      Xattr(false);
    else if (op == "symlink")
      Symlink();
    else if (op == "xattr-trusted")
      Xattr(true);
    else if (op == "fifo")
      Fifo();
    else if (op == "acl")
      Acl();
    return written_;
  }

  void Note(const std::string& what) {
    log_ += what + "\n";
    if (verbose_) std::cout << "    " << what << "\n";
  }
  const std::string& log() const { return log_; }

 private:
  std::string Path(const std::string& rel) const { return rel.empty() ? root_ : root_ + "/" + rel; }
  std::string& Pick(std::vector<std::string>& v) { return v[rng_() % v.size()]; }

  void Refresh() {
    files_.clear();
    dirs_ = {""};
    symlinks_.clear();
    all_.clear();
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root_, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string rel = it->path().lexically_relative(root_).string();
      all_.push_back(rel);
      if (it->is_symlink(ec))
        symlinks_.push_back(rel);
      else if (it->is_directory(ec))
        dirs_.push_back(rel);
      else if (it->is_regular_file(ec))
        files_.push_back(rel);
    }
    std::sort(files_.begin(), files_.end());
    std::sort(dirs_.begin(), dirs_.end());
    std::sort(symlinks_.begin(), symlinks_.end());
    std::sort(all_.begin(), all_.end());
  }

  // A new name in `dir`; now and then one that continues a sibling's name ("n7" and "n7-12",
  // "n7.12"), which plain string order puts between "n7" and "n7/...".
  std::string Fresh(const std::string& dir) {
    std::string name = "n" + std::to_string(++counter_);
    if (rng_() % 4 == 0) {
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

  void Create() {
    const std::string p = Fresh(Pick(dirs_));
    const std::string data = RandomBytes(rng_, RandomFileSize(rng_));
    WriteAll(Path(p), data, O_CREAT | O_TRUNC);
    written_ = data.size();
    Note("create " + p + " " + std::to_string(data.size()));
  }
  void Append() {
    const std::string p = Pick(files_);
    const std::string data = RandomBytes(rng_, rng_() % 16384);
    WriteAll(Path(p), data, O_APPEND);
    written_ = data.size();
    Note("append " + p + " " + std::to_string(data.size()));
  }
  void Truncate() {
    const std::string p = Pick(files_);
    const off_t n = static_cast<off_t>(rng_() % 4096);
    (void)::truncate(Path(p).c_str(), n);
    Note("truncate " + p + " " + std::to_string(n));
  }
  void Overwrite() {
    const std::string p = Pick(files_);
    const off_t at = static_cast<off_t>(rng_() % 8192);
    const std::string data = RandomBytes(rng_, 1 + rng_() % 512);
    int fd = ::open(Path(p).c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      (void)::pwrite(fd, data.data(), data.size(), at);
      ::close(fd);
    }
    written_ = data.size();
    Note("overwrite " + p + " at " + std::to_string(at) + " " + std::to_string(data.size()));
  }
  void Mkdir(const std::string& p) {
    ::mkdir(Path(p).c_str(), rng_() % 4 == 0 ? 0700 : 0755);
    Note("mkdir " + p);
  }
  void RenameFile(bool replace) {
    const std::string from = Pick(files_);
    std::string to;
    if (replace) {
      // Over another file, or over a symlink.
      to = !symlinks_.empty() && rng_() % 4 == 0 ? Pick(symlinks_) : Pick(files_);
    } else {
      to = Fresh(Pick(dirs_));
    }
    const int r = ::rename(Path(from).c_str(), Path(to).c_str());
    Note(std::string(replace ? "rename-replace " : "rename ") + from + " -> " + to +
         (r == 0 ? "" : " (failed)"));
  }
  void RenameDir() {
    if (dirs_.size() < 2) return Mkdir(Fresh(""));
    const std::string from = dirs_[1 + rng_() % (dirs_.size() - 1)];
    std::string to;
    const int how = static_cast<int>(rng_() % 4);
    if (how == 0) {
      // Over an empty directory (made empty here if it is a fresh one).
      to = Fresh(Pick(dirs_));
      ::mkdir(Path(to).c_str(), 0755);
    } else {
      to = Fresh(Pick(dirs_));  // within its parent or across directories
    }
    if (to.rfind(from + "/", 0) == 0 || to == from) return;  // not into itself
    const int r = ::rename(Path(from).c_str(), Path(to).c_str());
    Note(std::string(how == 0 ? "rename-dir over empty " : "rename-dir ") + from + " -> " + to +
         (r == 0 ? "" : " (failed: " + std::string(std::strerror(errno)) + ")"));
  }
  void Link() {
    if (files_.empty()) return;
    const std::string target = Pick(files_);
    const std::string p = Fresh(Pick(dirs_));
    ::link(Path(target).c_str(), Path(p).c_str());
    Note("link " + target + " " + p);
  }
  void Unlink() {
    std::vector<std::string> victims = files_;
    victims.insert(victims.end(), symlinks_.begin(), symlinks_.end());
    const std::string p = Pick(victims);
    ::unlink(Path(p).c_str());
    Note("unlink " + p);
  }
  void Rmdir() {
    if (dirs_.size() < 2) return;
    const std::string p = dirs_[1 + rng_() % (dirs_.size() - 1)];
    std::error_code ec;
    // Mostly an empty one; now and then a whole subtree.
    if (fs::is_empty(Path(p), ec) || rng_() % 3 == 0) {
      fs::remove_all(Path(p), ec);
      Note("rmdir -r " + p);
    }
  }
  void Chmod() {
    std::vector<std::string> any = files_;
    any.insert(any.end(), dirs_.begin() + 1, dirs_.end());
    const std::string p = Pick(any);
    static const mode_t kModes[] = {0600, 0644, 0640, 0755, 0700, 0444, 02755, 01777, 0750};
    mode_t m = kModes[rng_() % std::size(kModes)];
    struct stat st {};
    if (::lstat(Path(p).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) m |= 0700;  // stay writable
    ::chmod(Path(p).c_str(), m);
    Note("chmod " + p + " " + Octal(m));
  }
  void Chown() {
    std::vector<std::string> any = files_;
    any.insert(any.end(), dirs_.begin() + 1, dirs_.end());
    any.insert(any.end(), symlinks_.begin(), symlinks_.end());
    const std::string p = Pick(any);
    static const uid_t kIds[] = {0, 1, 1000, 1001, 65534};
    const uid_t u = kIds[rng_() % std::size(kIds)];
    const gid_t g = kIds[rng_() % std::size(kIds)];
    ::lchown(Path(p).c_str(), u, g);
    Note("chown " + p + " " + std::to_string(u) + ":" + std::to_string(g));
  }
  void Utimes() {
    std::vector<std::string> any = files_;
    any.insert(any.end(), dirs_.begin(), dirs_.end());
    any.insert(any.end(), symlinks_.begin(), symlinks_.end());
    const std::string p = Pick(any);
    struct timespec t[2];
    t[0].tv_sec = 1000000000 + static_cast<time_t>(rng_() % 700000000);
    t[0].tv_nsec = static_cast<long>(rng_() % 1000000000);
    t[1].tv_sec = 1000000000 + static_cast<time_t>(rng_() % 700000000);
    t[1].tv_nsec = static_cast<long>(rng_() % 1000000000);
    ::utimensat(AT_FDCWD, Path(p).c_str(), t, AT_SYMLINK_NOFOLLOW);
    Note("utimes " + (p.empty() ? "." : p) + " " + std::to_string(t[1].tv_sec) + "." +
         std::to_string(t[1].tv_nsec));
  }
  void Xattr(bool trusted) {
    std::vector<std::string> any = files_;
    any.insert(any.end(), dirs_.begin() + 1, dirs_.end());
    if (any.empty()) return;
    const std::string p = Pick(any);
    const int how = static_cast<int>(rng_() % 5);
    const std::string name =
        trusted ? "trusted.georep-harness" : "user.k" + std::to_string(how % 3);
    if (how == 4 && !trusted) {
      ::lremovexattr(Path(p).c_str(), "user.k0");
      Note("removexattr " + p + " user.k0");
      return;
    }
    const std::string v =
        how == 3 ? RandomBytes(rng_, rng_() % 200) : std::to_string(rng_() % 1000);
    ::lsetxattr(Path(p).c_str(), name.c_str(), v.data(), v.size(), 0);
    Note("setxattr " + p + " " + name + " (" + std::to_string(v.size()) + " bytes)");
  }
  void Symlink() {
    // A new symlink, or one retargeted (a new symlink renamed over the old one).
    std::string target;
    if (!all_.empty() && rng_() % 2)
      target = "/" + Pick(all_);  // absolute, never followed
    else
      target = "target-" + std::to_string(rng_() % 10);
    if (!symlinks_.empty() && rng_() % 2) {
      const std::string p = Pick(symlinks_);
      const std::string tmp = Fresh(Pick(dirs_));
      ::symlink(target.c_str(), Path(tmp).c_str());
      ::rename(Path(tmp).c_str(), Path(p).c_str());
      Note("symlink retarget " + p + " -> " + target);
    } else {
      const std::string p = Fresh(Pick(dirs_));
      ::symlink(target.c_str(), Path(p).c_str());
      Note("symlink " + p + " -> " + target);
    }
  }
  void Fifo() {
    const std::string p = Fresh(Pick(dirs_));
    ::mkfifo(Path(p).c_str(), 0644);
    Note("mkfifo " + p);
  }
  void Acl() {
    const std::string p = Pick(files_);
    const std::string v = AclValue(rng_);
    const int r = ::lsetxattr(Path(p).c_str(), "system.posix_acl_access", v.data(), v.size(), 0);
    Note("setfacl " + p + (r == 0 ? "" : " (failed: " + std::string(std::strerror(errno)) + ")"));
  }

  std::string root_;
  std::mt19937_64& rng_;
  bool verbose_;
  std::vector<std::string> mix_;
  std::vector<std::string> files_, dirs_, symlinks_, all_;
  int counter_ = 0;
  uint64_t written_ = 0;
  std::string log_;
};

// ---------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------
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
    const std::string dir = o_.work_dir + "/round";
    std::error_code ec;
    fs::remove_all(dir, ec);
    const std::string src = dir + "/source", state = dir + "/state";
    const std::string dst = dest_fs_ ? dest_fs_->dir() + "/destination" : dir + "/destination";
    fs::remove_all(dst, ec);
    fs::create_directories(src);
    fs::create_directories(state);
    fs::create_directories(dst);

    Writer writer(src, &rng, o_.ops, o_.verbose);
    r.tree_bytes = writer.Seed(o_.seed_entries);
    std::vector<std::string> argv = {o_.georep,       "worker",
                                     "--source",      src,
                                     "--destination", ssh_ ? SshTransport::Destination(dst) : dst,
                                     "--state-dir",   state};
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
    Worker worker(argv, dir + "/worker.stderr", o_.inotify_limit);
    // Children that are not orphans to reap.
    auto keep = [&] {
      auto pids = worker.Pids();
      if (ssh_) pids.insert(ssh_->sshd_pid());
      return pids;
    };
    uint64_t bytes_before = 0;  // bytes_sent by earlier incarnations of the worker
    Status last;
    // A worker's counters start at 0; its status.json is its own once written after it started
    // (until then the file is its predecessor's).
    int64_t started_ms = WallMs();
    auto poll = [&] {
      Status s = ReadStatus(state);
      if (s.ok && s.updated_ms >= started_ms) last = s;
    };
    auto restart = [&] {
      poll();
      bytes_before += last.bytes_sent;
      last = Status{};
      started_ms = WallMs();
      worker.Start();
    };
    worker.Start();

    // Mostly the live phase starts once the first sync is done; now and then at once, so that
    // faults land in the middle of the Hybrid Crawl.
    const bool wait_first = rng() % 4 != 0;
    if (wait_first) {
      const int64_t seeded_ms = WallMs();
      const auto t0 = Clock::now();
      bool ok = false;
      while (SecondsSince(t0) < o_.initial_timeout && !g_stop) {
        SleepMs(100);
        poll();
        if (!worker.Running()) restart();
        if (last.state == "Active" && last.crawl == "Changelog Crawl" &&
            last.last_synced_ms >= seeded_ms && last.pending == 0) {
          ok = Compare(DescribeTree(src), DescribeTree(dst), o_.compare_dir_mtime).empty();
          if (ok) break;
        }
      }
      if (!ok) {
        r.initial_failed = true;
        r.diverged = true;
        r.differences = Compare(DescribeTree(src), DescribeTree(dst), o_.compare_dir_mtime);
        r.differences.insert(r.differences.begin(), "the first sync did not complete in " +
                                                        std::to_string(o_.initial_timeout) +
                                                        " s; status: " + StatusLine(last));
        r.last_status = StatusLine(last);
        Finish(&worker, &r, src, dst, state, writer, index);
        return r;
      }
      r.initial_bytes_sent = bytes_before + last.bytes_sent;
      r.waited_first = true;
    }

    // The fault schedule: which operations a fault comes after.
    std::vector<std::string> kinds(o_.faults.begin(), o_.faults.end());
    std::map<int, std::string> schedule;
    if (!kinds.empty()) {
      const int n = 1 + static_cast<int>(rng() % static_cast<uint64_t>(o_.max_faults));
      for (int i = 0; i < n; ++i)
        schedule[static_cast<int>(rng() % static_cast<uint64_t>(o_.ops_per_round))] =
            kinds[rng() % kinds.size()];
    }
    int restart_at_op = -1;  // a killed worker comes back after this operation
    int release_at_op = -1;  // a full destination is emptied after this one
    Clock::time_point last_fault = Clock::now();
    bool any_fault = false;
    int64_t last_write_ms = WallMs();
    for (int op = 0; op < o_.ops_per_round && !g_stop; ++op) {
      r.written_bytes += writer.Step();
      last_write_ms = WallMs();
      SleepMs(static_cast<int>(rng() % 25));
      if (op == restart_at_op) {
        restart_at_op = -1;
        if (!worker.Running()) restart();
      }
      if (op == release_at_op && dest_fs_) {
        release_at_op = -1;
        dest_fs_->Release();
        writer.Note("[fault over] destination has space again");
      }
      auto it = schedule.find(op);
      if (it != schedule.end()) {
        const std::string& kind = it->second;
        bool done = true;
        if (kind == "kill-worker" || kind == "kill-both") {
          if (kind == "kill-both")
            for (pid_t a : AgentsServing(dst)) ::kill(a, SIGKILL);
          done = worker.pid() > 0;
          poll();
          worker.Kill(SIGKILL);
          restart_at_op = op + 1 + static_cast<int>(rng() % 6);
        } else if (kind == "kill-agent") {
          const auto agents = AgentsServing(dst);
          done = !agents.empty();
          for (pid_t a : agents) ::kill(a, SIGKILL);
        } else if (kind == "kill-ssh") {
          const auto clients = worker.SshClients();
          done = !clients.empty();
          for (pid_t c : clients) ::kill(c, SIGKILL);
        } else if (kind == "cut-link" && ssh_) {
          ssh_->Cut(200 + static_cast<int>(rng() % 3000));
        } else if (kind == "engine-restart" && worker.pid() > 0) {
          poll();
          worker.Abandon();
          restart();
        } else if (kind == "disk-full" && dest_fs_ && !dest_fs_->full()) {
          dest_fs_->Fill();
          release_at_op = op + 3 + static_cast<int>(rng() % 20);
        } else {
          done = false;
        }
        if (done) {
          r.faults.push_back(kind + "@op" + std::to_string(op));
          writer.Note("[fault] " + kind);
          last_fault = Clock::now();
          any_fault = true;
        }
      }
      // The supervisor: a worker that stopped by itself (Faulty) is started again.
      worker.ReapAbandoned();
      if (restart_at_op < 0 && !worker.Running()) {
        writer.Note("[worker exited; restarted]");
        restart();
      }
    }
    if (dest_fs_ && dest_fs_->full()) {
      dest_fs_->Release();
      writer.Note("[fault over] destination has space again");
    }
    if (!worker.Running()) restart();
    worker.ReapAbandoned();
    ReapOrphans(keep());

    // Converge: the worker in step after the writer stopped, and the trees equal.
    const auto stopped = Clock::now();
    const Tree source = DescribeTree(src);
    std::vector<std::string> diffs = {"not compared"};
    auto last_compare = Clock::now() - std::chrono::seconds(10);
    while (true) {
      poll();
      if (!worker.Running()) restart();
      worker.ReapAbandoned();
      ReapOrphans(keep());
      const bool in_step = last.state == "Active" && last.crawl == "Changelog Crawl" &&
                           last.last_synced_ms > last_write_ms && last.pending == 0;
      const bool timed_out = SecondsSince(stopped) >= o_.converge_timeout;
      if (in_step || timed_out || SecondsSince(last_compare) > 2) {
        diffs = Compare(source, DescribeTree(dst), o_.compare_dir_mtime);
        last_compare = Clock::now();
        if (diffs.empty() && in_step) {
          r.converge_s = SecondsSince(stopped);
          r.since_last_fault_s = any_fault ? SecondsSince(last_fault) : r.converge_s;
          break;
        }
      }
      if (timed_out || g_stop) break;
      SleepMs(100);
    }
    if (r.converge_s < 0) {
      r.diverged = !diffs.empty();
      r.differences = diffs;
      if (!r.diverged)
        r.differences.push_back("trees equal, but the worker never reported in step: " +
                                StatusLine(last));
    }
    r.live_bytes_sent = bytes_before + last.bytes_sent - r.initial_bytes_sent;
    r.last_status = StatusLine(last);
    Finish(&worker, &r, src, dst, state, writer, index);
    return r;
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

int main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, &o)) return 2;
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGINT, OnStop);
  ::signal(SIGTERM, OnStop);
  return Harness(std::move(o)).Run();
}
