// The fault harness's command line: the operations, the faults, the transport and the bounds
// of a run.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace georep::fault {

// A run: what its rounds do, how many, and their bounds.
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

// Reads the command line into `*o`; false (after saying why, or the usage) when it is wrong.
bool ParseOptions(int argc, char** argv, Options* o);

}  // namespace georep::fault
