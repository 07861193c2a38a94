// The values Operations and the session drivers take and give: who acts (Actor), the specs
// of what is created, and what operations report (SessionDetail, Preflight, checks, config
// items). Plain data, no behaviour beyond Require and Preflight::Summary.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/entities.h"
#include "model/heartbeat.h"
#include "model/session_config.h"
#include "replication/verify.h"

namespace georep {

// Who asks, with what role. Every operation is attributed, and checks the role it needs (the
// HTTP front checks first, by route; the engine's own actors, such as the monitor, are admins).
struct Actor {
  std::string name;
  Role role = Role::kViewer;
};

// PermissionDenied, saying which role is needed, unless `a` has `needed` or more.
Status Require(const Actor& a, Role needed);

struct ClusterSpec {
  std::string name;
  std::string description;
};

struct HostSpec {
  std::string cluster_id;
  std::string name;
  std::string address;  // defaults to name
  int ssh_port = 22;
  std::string ssh_user = "root";
  HostTransport transport = HostTransport::kSsh;
  std::string ssh_fingerprint;  // required for ssh hosts
  // Optional, ssh hosts: logs in once with this password to install the engine's key in the
  // user's authorized_keys. Used for that login only: never stored, logged or recorded.
  std::string one_time_password;
};

// Importing a Gluster cluster through one of its hosts, whose host key the admin confirmed.
struct GlusterImportSpec {
  std::string name;     // the cluster's name in georep
  std::string address;  // the host to ask
  int ssh_port = 22;
  std::string ssh_user = "root";
  std::string ssh_fingerprint;
  // Optional: logs in to the asked host once with this password to install the engine's key
  // first, as HostSpec's. Used for that login only: never stored, logged or recorded.
  std::string one_time_password;
};

struct ImportedCluster {
  Cluster cluster;
  std::vector<Host> hosts;
  std::vector<Volume> volumes;
};

struct VolumeSpec {
  std::string cluster_id;
  std::string name;
  VolumeKind kind = VolumeKind::kDirectory;
  std::vector<Brick> bricks;  // directory: exactly one (host, path)
  int replica_count = 1;
  int disperse_count = 0;
};

struct DestinationSpec {
  std::string source_cluster_id;
  std::string source_host_id;
  std::string host;
  int ssh_port = 22;
  std::string ssh_fingerprint;
  std::string remote_user = "root";
};

struct SessionSpec {
  std::string destination_id;
  std::string source_volume_id;
  std::string destination_volume;
  std::string remote_user;  // empty: the destination's user
};

// What the platform preflight found on one node of a gluster session: the versions that
// decide whether gsyncd's rsync sync-method copies file contents.
struct PreflightNode {
  std::string host;
  std::string role;     // "source" or "destination"
  std::string rsync;    // "3.2.7"; empty: unknown
  std::string gluster;  // "10.3"; empty: unknown
  bool rsync_writes_empty_files = false;
  std::string problem;  // why the node could not be asked; empty when it answered
};

struct Preflight {
  std::vector<PreflightNode> nodes;
  // gsyncd's sync-method rsync would write files without their content on this platform
  // (rsync >= 3.4 on a node), or that cannot be ruled out (a node could not be asked).
  bool rsync_unsafe = false;
  bool complete = true;  // every node answered
  // One line for people: which nodes, which versions, why.
  std::string Summary() const;
};

// A session with its node rows (status breakdown).
struct SessionDetail {
  Session session;
  std::vector<SessionNodeStatus> nodes;
  std::vector<std::string> warnings;  // e.g. the rsync preflight, at create and start
  std::vector<SessionAlert> alerts;   // standing reasons it is not healthy
  // Gluster sessions: the end-to-end heartbeat (none before the first) and its settings; the
  // session's lag from it, -1 when unknown.
  std::optional<SessionHeartbeat> heartbeat;
  int64_t heartbeat_interval_ms = 0;
  int64_t stall_threshold_ms = 0;
  int64_t lag_ms = -1;
  int64_t throughput_bps = -1;
  // Every change before it is applied: the nodes' (SessionLastSynced); 0: unknown.
  int64_t last_synced = 0;
  std::optional<Preflight> preflight;  // at create and start of a gluster session
};

// A session whose periodic verify (verify-interval) is due, with its settings.
struct DueVerify {
  std::string session_id;
  int64_t interval_seconds = 0;
  int sample_percent = 10;
};

// What a repair did: the differences found, what the worker was asked to send again and to
// delete, and the verify after it.
struct RepairReport {
  replication::VerifyReport before;
  uint64_t resent = 0;   // paths sent again (differing, or missing at the destination)
  uint64_t deleted = 0;  // paths only the destination had
  replication::VerifyReport after;
};

// What a periodic verify made of its report.
enum class PeriodicVerifyOutcome {
  kClean,      // no difference: a verify-differs alert is cleared
  kSuspected,  // differences not seen before with the same source: re-checked soon
  kConfirmed,  // a difference seen again with the source unchanged: verify-differs raised
};

// Options of creating a session, as gluster's `geo-replication ... create` takes them.
struct SessionCreateOptions {
  bool force = false;       // create even when the destination volume is not eligible
  std::string sync_method;  // "tarssh" or "rsync"; empty: gluster's default
};

// A volume of the destination cluster as a candidate destination of a new session, with why
// it is not eligible (each reason starts with its name: "not-empty: ...").
struct CandidateVolume {
  std::string name;
  std::string status;      // gluster's: Started, Stopped, Created
  int64_t size_bytes = 0;  // usable size; 0 if unknown
  bool eligible = false;
  std::vector<std::string> reasons;
};

// What one host of a cluster answered to a gluster command.
struct GlusterAnswer {
  std::string out;
  Host host;  // the host that answered
};

// One monitor pass over a cluster's geo-replication sessions.
struct ClusterPoll {
  std::string answered_by;  // the host that answered
  int refreshed = 0;        // known sessions updated
  int discovered = 0;       // sessions created outside georep, now known
  std::vector<std::string> problems;
};

struct GeoRepStatus;  // gluster/cli_xml.h

// The outcome of reaching a host.
struct HostCheck {
  Host host;  // with status and last_seen updated
  bool reachable = false;
  std::string reason;  // why not, in the operator's words; empty when reachable
};

// The outcome of testing a destination.
struct DestinationCheck {
  Destination destination;            // with connection, reason and last_checked updated
  std::vector<std::string> problems;  // why it is Broken; empty when Connected
  std::vector<std::string> warnings;  // e.g. the rsync >= 3.4 preflight
};

// One config option as shown to people: catalogue entry plus current value.
struct ConfigItem {
  const ConfigOption* option = nullptr;
  std::string value;
  bool is_default = true;
  std::string changed_by;
  int64_t changed_at = 0;
};

}  // namespace georep
