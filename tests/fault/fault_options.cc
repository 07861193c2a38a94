// The fault harness's command line (fault_options.h).
#include "fault/fault_options.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

namespace georep::fault {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string w;
  while (std::getline(in, w, sep))
    if (!w.empty()) out.push_back(w);
  return out;
}

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

}  // namespace

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

}  // namespace georep::fault
