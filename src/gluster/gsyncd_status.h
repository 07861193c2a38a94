// gsyncd's own status files, read on a source node without asking glusterd.
//
// `gluster volume geo-replication ... status` is a glusterd transaction: it holds glusterd's lock
// while gsyncd answers on every node, and an admin's own gluster command then fails with
// "Another transaction is in progress". gsyncd keeps what that query shows in files on each
// source node (gsyncdstatus.py): under /var/lib/glusterd/geo-replication/VOL_HOST_DESTVOL/,
// monitor.status (Created / Started / Paused / Stopped), one brick_<quoted path>.status JSON
// per local brick (worker_status, crawl_status, last_synced, entry / data / meta, failures,
// checkpoint fields) and gsyncd.conf (the session's checkpoint); the monitor holds a POSIX lock
// on its pid file while it runs. GsyncdStatusReader() is a fixed script (its paths come as
// arguments, never inside the script) that prints them all in one ssh round trip;
// ParseGsyncdNodeReport() reads its output, and GsyncdBrickRow() derives a brick's row exactly
// as gsyncd's status subcommand does (GeorepStatus.get_status) for glusterd.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/entities.h"

namespace georep {

// A session's working directory's name on every source node: "gv0_10.77.0.11_gv1" (the remote
// user is not part of it).
std::string GsyncdSessionDir(const std::string& source_volume, const std::string& destination_host,
                             const std::string& destination_volume);
// The monitor's pid file: /var/run/gluster/gsyncd-gv0-10.77.0.11-gv1.pid.
std::string GsyncdPidFile(const std::string& source_volume, const std::string& destination_host,
                          const std::string& destination_volume);
// "brick_%2Fdata%2Fgv0.status" for /data/gv0 (Python's urllib.parse.quote_plus).
std::string GsyncdBrickStatusFile(const std::string& brick_path);

// argv that prints, for every (session directory, pid file) pair, what the node's files say.
std::vector<std::string> GsyncdStatusReader(
    const std::vector<std::pair<std::string, std::string>>& sessions);

struct GsyncdSessionFiles {
  bool present = false;        // the session's directory and its monitor.status exist
  std::string monitor_status;  // monitor.status, trimmed ("" when empty)
  bool monitor_running = false;
  int64_t checkpoint = 0;                     // seconds; gsyncd.conf's checkpoint, 0 if none
  std::map<std::string, std::string> bricks;  // brick status file name -> its JSON
};

struct GsyncdNodeReport {
  bool glusterd_running = false;
  std::vector<std::string> session_dirs;               // every session directory on the node
  std::map<std::string, GsyncdSessionFiles> sessions;  // by directory name, as asked
};

// Corruption when the output is not the reader's (another program answered, it was cut short).
Result<GsyncdNodeReport> ParseGsyncdNodeReport(std::string_view out);

// The row `status detail` shows for `brick` of that session on that node (source_host,
// source_brick and destination_host filled from what is given). A missing or unreadable brick
// file counts as gsyncd's defaults, as gsyncd itself does.
SessionNodeStatus GsyncdBrickRow(const GsyncdSessionFiles& files, const std::string& brick,
                                 const std::string& source_host);

}  // namespace georep
