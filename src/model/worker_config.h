// The built-in engine's worker settings, defined once. Three places meet here:
// - the session config catalogue (model/session_config.cc) offers exactly these values, with
//   these limits and these defaults (a unit test holds the defaults equal);
// - the engine writes a worker's command line from a WorkerConfig (WorkerConfig::Flags), never
//   from strings of its own;
// - `georep worker` accepts exactly these values and reads that command line back into an equal
//   WorkerConfig (worker/worker_flags.h; a unit test round-trips every value the catalogue
//   offers).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace georep {

// The values of the enumerated settings, in the catalogue's order.
inline constexpr std::array<std::string_view, 4> kWorkerDurabilities = {"batch", "file", "dir",
                                                                        "none"};
inline constexpr std::array<std::string_view, 3> kWorkerChangeCaptures = {"auto", "fanotify",
                                                                          "inotify"};
inline constexpr std::array<std::string_view, 5> kWorkerLogLevels = {"TRACE", "DEBUG", "INFO",
                                                                     "WARNING", "ERROR"};
inline constexpr std::array<std::string_view, 2> kWorkerCompressions = {"none", "zstd"};
inline constexpr int kMaxWorkerSyncJobs = 16;
inline constexpr int64_t kMaxRescanIntervalSeconds = int64_t{7} * 86400;  // a week

// How a worker reaches a destination on another host: its ssh client's words (the program,
// the engine's identity and the destination's pinned host key first, then the admin's
// ssh-command options: ssh keeps an option's first value), whom it logs in as, and what runs
// the agent there.
struct WorkerSsh {
  std::vector<std::string> command = {"ssh"};
  std::string user_host;  // [USER@]HOST
  int port = 0;           // 0: ssh's default (or the ssh command's -p)
  std::vector<std::string> remote_command = {"georep", "agent"};

  bool operator==(const WorkerSsh&) const = default;
};

struct WorkerConfig {
  std::string source;            // the source directory on the worker's host
  std::string state_dir;         // index, change journal, status, logs
  std::string destination_path;  // on the worker's host, or on ssh->user_host
  std::optional<WorkerSsh> ssh;  // unset: the destination is on the worker's host

  // The session's settings (catalogue keys in the comments).
  std::string durability = "batch";     // durability
  int64_t rescan_interval_s = 3600;     // rescan-interval
  std::string change_capture = "auto";  // change-capture
  bool compress = false;                // compression zstd
  bool ignore_deletes = false;          // ignore-deletes
  bool sync_xattrs = true;              // sync-xattrs
  bool sync_acls = true;                // sync-acls
  std::string log_level = "INFO";       // log-level
  int sync_jobs = 1;                    // sync-jobs
  int64_t bandwidth_limit = 0;          // bandwidth-limit, bytes per second; 0: none
  std::vector<std::string> excludes;    // exclude (comma-separated there)

  // A worker on another host than the engine's, started over ssh: it reports each status on
  // stdout and stops when its stdin ends.
  bool remote_worker = false;

  // The worker's command-line flags (what follows `georep worker`).
  std::vector<std::string> Flags() const;

  bool operator==(const WorkerConfig&) const = default;
};

// Sets the worker setting `key` (a catalogue key, "sync-jobs") to `value` (already validated
// by the catalogue: ValidateConfigValue). Keys that are not the worker's (ssh-command,
// verify-interval...) are left to their owners: false. InvalidArgument for a value the worker
// cannot take.
Result<bool> ApplyWorkerSetting(WorkerConfig& config, std::string_view key, std::string_view value);

}  // namespace georep
