// The geo-replication model: the persisted entities georep manages, as plain values.
// These carry no behaviour and touch nothing; the store persists them and the engine
// services (src/engine) are the only code that changes them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace georep {

// Times are milliseconds since the Unix epoch (UTC); 0 means "never".

struct Cluster {
  std::string id;
  std::string name;
  std::string description;
  int64_t created_at = 0;
};

enum class HostTransport { kLocal, kSsh };
enum class HostStatus { kUnknown, kUp, kDown };

struct Host {
  std::string id;
  std::string cluster_id;
  std::string name;     // as the cluster knows it (gluster peer name)
  std::string address;  // DNS name or IP the engine connects to
  int ssh_port = 22;
  std::string ssh_user = "root";
  HostTransport transport = HostTransport::kSsh;
  std::string ssh_fingerprint;  // pinned host key, OpenSSH "SHA256:..." form; empty if local
  HostStatus status = HostStatus::kUnknown;
  int64_t last_seen = 0;
  int64_t created_at = 0;
};

enum class VolumeKind { kGluster, kDirectory };
enum class VolumeStatus { kUnknown, kCreated, kStarted, kStopped };

struct Brick {
  std::string host_id;
  std::string path;
};

struct Volume {
  std::string id;
  std::string cluster_id;
  std::string name;
  VolumeKind kind = VolumeKind::kDirectory;
  VolumeStatus status = VolumeStatus::kUnknown;
  std::vector<Brick> bricks;  // gluster: bricks in subvolume order; directory: one entry
  int replica_count = 1;
  int disperse_count = 0;
  int64_t size_bytes = 0;
  int64_t used_bytes = 0;
  int64_t created_at = 0;
};

enum class ConnectionStatus { kUnknown, kConnected, kBroken };

// A host of a remote cluster that source-cluster hosts reach by password-less SSH.
struct Destination {
  std::string id;
  std::string source_cluster_id;
  std::string source_host_id;  // source-cluster host used for key set-up
  std::string host;            // destination host name or address
  int ssh_port = 22;
  std::string ssh_fingerprint;  // pinned "SHA256:..."
  std::string remote_user = "root";
  ConnectionStatus connection = ConnectionStatus::kUnknown;
  std::string connection_reason;
  int64_t last_checked = 0;
  int64_t created_at = 0;
};

// Node-level status words, as gluster prints them (plus what oVirt added).
enum class NodeStatus {
  kUnknown,
  kInitializing,
  kActive,
  kPassive,
  kFaulty,
  kCreated,
  kStopped,
  kPaused,
  kNotStarted,
};

// Session-level status: the node statuses aggregated (see aggregate_status.h).
enum class SessionStatus {
  kUnknown,
  kCreated,
  kInitializing,
  kActive,
  kPartialFaulty,
  kFaulty,
  kStopped,
  kPaused,
};

enum class CrawlStatus { kNotApplicable, kHybrid, kHistory, kChangelog };

struct Session {
  std::string id;
  std::string destination_id;
  std::string source_volume_id;
  std::string destination_volume;  // name (gluster) or path (directory) on the destination
  std::string remote_user = "root";
  std::string session_key;  // gluster's "<master>_<slavehost>_<slavevol>" key
  SessionStatus status = SessionStatus::kCreated;
  // Why the status is what it is, when the status alone does not say (e.g. "deleted outside
  // georep"); empty otherwise.
  std::string status_reason;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // The checkpoint (its time, ms) whose completion was announced by an event; 0: none. Nodes'
  // checkpoint columns come and go as workers restart or fail over; the event is once.
  int64_t checkpoint_announced = 0;
};

// One row per source node/brick of a session.
struct SessionNodeStatus {
  std::string session_id;
  std::string source_host;
  std::string source_brick;
  int set_index = 0;  // replica/disperse set the brick belongs to
  std::string destination_host;
  NodeStatus status = NodeStatus::kUnknown;
  CrawlStatus crawl = CrawlStatus::kNotApplicable;
  int64_t last_synced = 0;
  // Pending entry / data / metadata operations and failures. -1: unknown (gluster says N/A,
  // as it does for Passive, Created, Stopped and Paused nodes; or nothing reported yet).
  int64_t entry_pending = -1;
  int64_t data_pending = -1;
  int64_t meta_pending = -1;
  int64_t failures = -1;
  int64_t checkpoint_time = 0;
  bool checkpoint_completed = false;
  int64_t checkpoint_completion_time = 0;
  // Why georep shows this status when gluster did not say it (e.g. the node's glusterd does
  // not answer); empty otherwise.
  std::string status_reason;
  int64_t updated_at = 0;
  // How old the oldest change not yet applied was at updated_at (0: in step), and the bytes
  // applied at the destination per second; -1: unknown (model/session_figures.h has the
  // rules). `lag_grows`: a change was pending then, so the lag has grown since (as of now:
  // NodeLagNow). georep's own engine measures both per node; for a gluster session the lag is
  // the end-to-end heartbeat's (SessionHeartbeat, the same for every node that replicates) and
  // the throughput is the session's only (the destination volume's growth).
  int64_t lag_ms = -1;
  int64_t throughput_bps = -1;
  bool lag_grows = false;
};

// A standing reason a session is not healthy although its status may say so (gsyncd's own
// status cannot see any of these): kept while the condition lasts, removed when it ends.
// Kinds: "data-at-risk" (sync-method rsync on a platform where gsyncd writes empty files),
// "stalled" (the end-to-end heartbeat has not arrived within stall-threshold),
// "heartbeat-mismatch" (a heartbeat arrived with the wrong size or content: data loss),
// "heartbeat-failing" (the heartbeat cannot be written or read), "verify-differs".
struct SessionAlert {
  std::string session_id;
  std::string kind;
  std::string message;
  int64_t since = 0;       // when the condition was first seen
  int64_t updated_at = 0;  // when it was last seen
};

// A lease on one database: which of the engines sharing it is active (runs sessions' workers
// and the monitor, serves the API) until `expires_at`, unless it renews.
struct EngineLease {
  std::string name;
  std::string holder;       // the active engine's identity (host, process, start)
  int64_t acquired_at = 0;  // when this holder took it
  int64_t expires_at = 0;
};

// The end-to-end heartbeat of a gluster session (engine/heartbeat.h): what the engine wrote
// into the source volume and what it has read back from the destination volume.
struct SessionHeartbeat {
  std::string session_id;
  int64_t written_seq = 0;  // the newest heartbeat written (0: none yet)
  int64_t written_at = 0;
  int64_t pending_seq = 0;  // the oldest written heartbeat not seen arrived (0: none)
  int64_t pending_at = 0;   // when it was written
  int64_t arrived_seq = 0;  // the newest heartbeat seen intact on the destination (0: none)
  int64_t arrived_written_at = 0;
  int64_t arrived_seen_at = 0;  // when it arrived there (its last change there, on the
                                // engine's clock; at the latest when the engine read it)
  int64_t checked_at = 0;       // the last read of the destination
  std::string problem;          // why the last write or read failed; empty when it worked
  // The destination volume's used bytes (statfs of its mount) at the last two reads: the
  // session's throughput is their growth; -1 when unknown.
  int64_t used_bytes = -1;
  int64_t used_at = 0;
  int64_t growth_bps = -1;
  int64_t size_bytes = -1;  // the destination volume's size at the last read; -1: unknown
};

struct SessionConfigEntry {
  std::string session_id;
  std::string key;
  std::string value;
  std::string changed_by;  // user name, "monitor" for changes seen outside georep, or empty
  int64_t changed_at = 0;
};

// The audit trail: one record per operation and per change the monitor sees.
struct Event {
  int64_t id = 0;
  int64_t at = 0;
  std::string actor;        // user name, or "monitor" / "system"
  std::string action;       // "session.create", "destination.remove", "session.status" ...
  std::string object_type;  // "cluster", "host", "volume", "destination", "session", "user" ...
  std::string object_id;
  std::string result;  // "ok" or "failed"
  std::string message;
};

struct EventFilter {
  int64_t after_id = 0;  // only events with id > after_id
  std::string object_type;
  std::string object_id;
  std::string action_prefix;
  int limit = 100;
  int64_t before_id = 0;  // if > 0: only events with id < before_id (paging back, newest first)
  std::string result{};   // "ok" or "failed"; empty: both
};

// What a user may do, each role including the ones before it (as oVirt and Cockpit separate
// who may look from who may act):
//   viewer:   read everything but secrets;
//   operator: run sessions (start, stop, pause, resume, checkpoint, verify, repair) and check
//             hosts and destinations;
//   admin:    everything else: clusters, hosts, volumes, destinations, sessions' creation,
//             removal and config (which names programs that run as root on the nodes), users.
enum class Role { kViewer = 0, kOperator = 1, kAdmin = 2 };

struct User {
  std::string id;
  std::string name;
  std::string password_hash;  // libsodium crypto_pwhash_str (Argon2id)
  Role role = Role::kViewer;
  int64_t created_at = 0;
};

struct ApiToken {
  std::string id;
  std::string user_id;
  std::string name;
  std::string token_hash;  // hex BLAKE2b-256 of the secret; the secret itself is never stored
  int64_t created_at = 0;
  int64_t expires_at = 0;  // 0: does not expire
  int64_t last_used = 0;
};

}  // namespace georep
