// Parsers for the gluster CLI's machine-readable output (`gluster --mode=script ... --xml`).
//
// Each returns the facts georep needs, or a Status: the CLI's own error (opErrstr) when opRet
// is not 0 -- NotFound for "does not exist", FailedPrecondition otherwise; when the CLI answers
// in words only (gluster 10 prints just "geo-replication command failed" for a status query
// with no sessions) those words, as Unavailable if glusterd is down, else FailedPrecondition;
// Corruption for empty or malformed XML. Text before the XML declaration is skipped.
//
// Geo-replication status accepts both the older master/slave and the newer primary/secondary
// element names. gluster's "Initializing..." stays Initializing.
//
// Pure functions; thread-safe. Fuzzed by fuzz/gluster_xml_fuzz.cc.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/entities.h"

namespace georep {

struct GlusterPeer {
  std::string uuid;
  std::string hostname;  // "localhost" for the node that answered
  bool connected = false;
};

struct GlusterBrick {
  std::string host;  // as in "host:/path"
  std::string path;
  std::string host_uuid;
  bool arbiter = false;
};

struct GlusterVolume {
  std::string name;
  std::string id;
  std::string status;  // "Created", "Started", "Stopped"
  std::string type;    // "Replicate", "Distributed-Replicate", "Disperse" ...
  int replica_count = 1;
  int disperse_count = 0;
  int redundancy_count = 0;
  int arbiter_count = 0;
  std::vector<GlusterBrick> bricks;  // in subvolume order
  std::map<std::string, std::string> options;
};

struct GlusterBrickUsage {
  std::string host;
  std::string path;
  bool online = false;
  int64_t size_total = 0;
  int64_t size_free = 0;
};

struct GeoRepStatus {
  std::string source_volume;
  std::string remote_user;
  std::string destination_host;
  std::string destination_volume;
  std::vector<SessionNodeStatus> nodes;  // session_id and set_index left for the caller
};

Result<std::vector<GlusterPeer>> ParsePoolList(std::string_view xml);
Result<std::vector<GlusterVolume>> ParseVolumeInfo(std::string_view xml);
Result<std::vector<GlusterBrickUsage>> ParseVolumeStatusDetail(std::string_view xml);
Result<std::vector<GeoRepStatus>> ParseGeoRepStatus(std::string_view xml);
// `volume geo-replication SRC DST config --xml`: every option gsyncd has, as gluster spells it
// in XML (underscores: "sync_jobs"), to its value ("" for unset).
Result<std::map<std::string, std::string>> ParseGeoRepConfig(std::string_view xml);

// "2026-11-25 12:00:00" (as gsyncd prints, taken as UTC) -> epoch ms; "N/A", "" -> 0.
int64_t ParseGlusterTime(std::string_view text);

// The version in `rsync --version` output ("rsync  version 3.5.0  protocol version 32"), as
// {major, minor}; {0, 0} when absent.
std::pair<int, int> ParseRsyncVersion(std::string_view text);

// gsyncd's sync-method rsync with rsync >= 3.4 writes every file on the destination as 0 bytes
// while reporting success: rsync refuses gluster's virtual .gfid paths. Returns the warning to
// show, or "" when the version is not affected.
std::string RsyncPreflightWarning(const std::string& host, std::pair<int, int> version);

}  // namespace georep
