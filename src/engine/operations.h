// Operations: the one layer through which every change to georep's state is made, used by
// the REST API (and so by the CLI and the web console) and by the engine's own jobs.
//
// Each operation validates its input before touching anything (InvalidArgument, nothing
// written), takes the per-object lock it needs (ObjectLocks), makes its changes in one store
// transaction, and records an Event -- "ok" with the change, or "failed" with the reason --
// so the audit trail holds every attempt.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "engine/host_connector.h"
#include "engine/object_locks.h"
#include "model/entities.h"
#include "model/heartbeat.h"
#include "model/session_config.h"
#include "model/session_lifecycle.h"
#include "replication/verify.h"
#include "store/store.h"

namespace georep {

class WorkerSupervisor;

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

class Operations {
 public:
  // `hosts` may be null where no host is ever reached (some unit tests); host operations then
  // fail with FailedPrecondition.
  Operations(Store& store, Clock& clock, Random& random, ObjectLocks& locks,
             HostConnector* hosts = nullptr)
      : store_(store), clock_(clock), random_(random), locks_(locks), hosts_(hosts) {}

  // Clusters
  Result<Cluster> CreateCluster(const Actor& a, const ClusterSpec& spec);
  Result<std::vector<Cluster>> ListClusters();
  Result<Cluster> GetCluster(const std::string& id);
  // Refused while the cluster has destinations or sessions.
  Status DeleteCluster(const Actor& a, const std::string& id);
  // Discovers a Gluster cluster from one of its hosts (over SSH with the confirmed key): its
  // peers, volumes, bricks, replica/disperse layout, status and sizes. The asked host is pinned
  // and Up; the other peers are added unpinned (status Unknown) until their keys are confirmed.
  // With a one-time password the engine's key is installed on the asked host first (as
  // AddHost); a refused password imports nothing.
  Result<ImportedCluster> ImportGlusterCluster(const Actor& a, const GlusterImportSpec& spec);

  // Hosts
  Result<Host> AddHost(const Actor& a, const HostSpec& spec);
  Result<std::vector<Host>> ListHosts(const std::string& cluster_id);
  Result<Host> GetHost(const std::string& id);
  // Refused while a brick or a destination uses the host.
  Status RemoveHost(const Actor& a, const std::string& id);
  // The SSH host keys `address` presents, best first, for the admin to confirm one.
  Result<std::vector<HostKey>> ScanHostKeys(const Actor& a, const std::string& address, int port);
  // Runs a harmless command on the host; marks it Up (with last seen) or Down, with the reason.
  Result<HostCheck> CheckHost(const Actor& a, const std::string& id);
  // Pins a new host key fingerprint: the explicit step after a host key really changed. The
  // host is scanned first: a fingerprint it does not present is refused (FailedPrecondition,
  // naming the ones it does), and so is any re-pin while it cannot be scanned.
  Result<Host> RepinHost(const Actor& a, const std::string& id, const std::string& fingerprint);
  // The engine's SSH public key, to be trusted by hosts' authorized_keys.
  Result<std::pair<std::string, std::string>> EngineSshKey();

  // Volumes
  Result<Volume> AddVolume(const Actor& a, const VolumeSpec& spec);
  Result<std::vector<Volume>> ListVolumes(const std::string& cluster_id);
  Result<Volume> GetVolume(const std::string& id);
  // Refused while sessions use the volume.
  Status RemoveVolume(const Actor& a, const std::string& id);

  // Destinations
  // With `copy_keys` (the seed's "copy source cluster hosts' public keys to destination
  // cluster"): gsec_create on the source host, the common public-key file copied to the
  // destination, add_secret_pub there, so every destination host trusts every source host. If
  // that fails the destination is still attached, Broken with the reason; Re-establish retries.
  // `root_password` (optional, never stored or logged): a one-time password of root on the
  // destination host, used first to install the engine's key there (against the pinned host
  // key); if it is refused, nothing is attached.
  Result<Destination> CreateDestination(const Actor& a, const DestinationSpec& spec,
                                        bool copy_keys = false,
                                        const std::string& root_password = "");
  // Redoes the key exchange (after installing the engine's key with `root_password`, if given).
  // A changed destination host key is refused unless `new_fingerprint` re-pins it explicitly.
  Result<Destination> ReestablishDestination(const Actor& a, const std::string& id,
                                             const std::string& new_fingerprint,
                                             const std::string& root_password = "");
  Result<std::vector<Destination>> ListDestinations(const std::string& cluster_id);
  Result<Destination> GetDestination(const std::string& id);
  // Refused while sessions use the destination, unless `force` (which removes them too). The
  // source cluster's geo-replication keys, installed when it was attached, leave the remote
  // user's authorized_keys on every destination node georep reaches; the answer says where
  // they were removed and where they remain.
  Result<std::string> RemoveDestination(const Actor& a, const std::string& id, bool force);
  // Tests a destination: the engine reaches it over SSH with the pinned key (as root) and
  // gluster answers there; and the platform preflight on the source cluster's hosts (rsync).
  // Records Connected or Broken with the reason, and the time.
  Result<DestinationCheck> TestDestination(const Actor& a, const std::string& id);

  // Sessions
  // For a gluster source volume the destination volume must be eligible, unless forced: it
  // exists and is started, is empty, is at least as large as the source, is not another
  // session's destination, is not the source itself, and its host answers. Each refusal names
  // its reason. The session is then created on the cluster (`create no-verify`).
  Result<SessionDetail> CreateSession(const Actor& a, const SessionSpec& spec,
                                      const SessionCreateOptions& options = {});
  // Every volume of the destination's cluster as a destination for `source_volume_id`, eligible
  // ones first, each with its reasons (the console's "show all" reveals the others).
  Result<std::vector<CandidateVolume>> ListCandidateVolumes(const std::string& destination_id,
                                                            const std::string& source_volume_id);
  // start / stop / pause / resume / delete on the cluster, valid only in the states where
  // gluster accepts them (model/session_lifecycle.h).
  Result<SessionDetail> RunSessionAction(const Actor& a, const std::string& id,
                                         SessionAction action, bool force);
  // Reads the session's status from the cluster (through any reachable source host) and
  // updates its node rows and aggregate status; records an Event when the status changes.
  // This is what the monitor does every interval.
  Result<SessionDetail> RefreshSession(const Actor& a, const std::string& id);
  // The monitor's pass over one cluster (PollGlusterCluster below): gsyncd's status files on
  // every source node, or one `geo-replication status detail --xml` through any host that
  // answers (failing over between them) for all its sessions. Updates every known session's
  // node rows and aggregate status; discovers sessions created outside georep; marks those
  // deleted outside; picks up config changed outside (`config --xml`, in a full pass). Every
  // change is an Event: session.faulty, session.recovered, session.checkpoint_completed,
  // session.discovered, session.deleted_outside, session.config_changed_outside.
  // Directory volumes run on georep's own engine: one `georep worker` per running session,
  // supervised by `workers` (not owned; null: directory sessions cannot run), started as
  // `georep_binary worker ...`.
  void SetWorkerSupervisor(WorkerSupervisor* workers, std::string georep_binary);
  // The engine's data directory (on the engine's machine), which no destination may touch.
  void SetEngineDataDir(std::string dir) { data_dir_ = std::move(dir); }
  // Directory volumes (sources and destinations) only under these directories (model/
  // path_guard.h: CheckUnderVolumeRoots); never called: anywhere the other guards allow.
  void SetVolumeRoots(std::vector<std::string> roots) {
    volume_roots_ = std::move(roots);
    volume_roots_set_ = true;
  }
  // The monitor's look at one directory session: its worker running (restarted if it died),
  // its status.json recorded as the node row, events as for gluster sessions.
  Result<SessionDetail> PollDirectorySession(const Actor& a, const std::string& id);
  // Every directory session; returns how many were read.
  int PollDirectorySessions(const Actor& a);
  // Compares a session's destination with its source (content of `sample_percent` of the
  // files) and records the outcome as an event. Directory sessions: described where each tree
  // is; gluster sessions: each volume mounted and described on one node of its cluster
  // (gluster_verify.h).
  // Differences raise the session's standing "verify-differs" alert at once (the user saw
  // them); a verify without any clears it.
  Result<replication::VerifyReport> VerifySession(const Actor& a, const std::string& id,
                                                  int sample_percent);
  // Repairs a started directory session's destination (issue D11): a full verify, then the
  // worker is handed exactly what differs (replication/repair_request.h) -- sent again, and
  // what only the destination has deleted unless ignore-deletes -- and once its full pass has
  // carried that out, a verify again, whose outcome keeps the verify-differs alert as
  // VerifySession does. FailedPrecondition for a session that is not started, a gluster
  // session, or a source on another host; Unavailable when the worker has not carried
  // the request out within `timeout`. Recorded as event session.repair.
  Result<RepairReport> RepairSession(const Actor& a, const std::string& id,
                                     std::chrono::milliseconds timeout = std::chrono::minutes(10));
  // The periodic verify (periodic_verify.cc). Sessions whose verify is due: Active, with
  // verify-interval set, and the last periodic verify (or the first time the session was
  // seen so) at least an interval ago -- or a re-check due sooner. Sessions that are not
  // Active (or have it off) forget their schedule: the first verify comes an interval after
  // they are Active again.
  std::vector<DueVerify> DueVerifies();
  // Runs one periodic verify and keeps the alert: a difference raises "verify-differs" only
  // when the previous periodic verify saw the same path differ with the source entry in the
  // same state (so a file in flight, or changed in between, is not a difference); new
  // differences are re-checked after min(interval, 60 s), or twice the session's lag if more.
  // A verify that cannot run changes no alert (a failed session.verify event); `cancel` set
  // ends it early (Unavailable, no event).
  Result<PeriodicVerifyOutcome> PeriodicVerify(const Actor& a, const DueVerify& due,
                                               const std::atomic<bool>* cancel = nullptr);
  // One monitor pass over a cluster's gluster sessions. Without `full`, every node's status
  // comes from gsyncd's own files on it (ReadGsyncdFiles: one ssh command per source node, no
  // glusterd transaction, so no admin's gluster command meets "Another transaction is in
  // progress" because of the monitor); the cluster-wide `status detail` query is asked only
  // when a node cannot be read that way (unreachable, glusterd not running, files missing) or
  // the files show a session directory appear or go that no full pass has looked at yet. A
  // `full` pass asks gluster (discovery of sessions created outside georep, sessions deleted
  // outside) and reads every session's config.
  Result<ClusterPoll> PollGlusterCluster(const Actor& a, const std::string& cluster_id,
                                         bool full = true);
  Result<std::vector<Session>> ListSessions(const SessionFilter& filter);
  Result<SessionDetail> GetSession(const std::string& id);
  // ListSessions with each session's per-node status, read in one transaction.
  Result<std::vector<SessionDetail>> ListSessionDetails(const SessionFilter& filter);
  // Refused unless the session is Created or Stopped (gluster's rule), unless `force`.
  Status RemoveSession(const Actor& a, const std::string& id, bool force,
                       bool reset_sync_time = false);

  // The truth about gluster sessions (gluster_truth.cc).
  // The platform preflight of a session's nodes: every source host and the destination host
  // (rsync and gluster versions).
  Result<Preflight> SessionPreflight(const std::string& session_id);
  // One heartbeat step of a gluster session: writes a heartbeat into the source volume when
  // one is due, reads the destination's back while one is on its way (or every 10 s), and
  // keeps the session's alerts (stalled, heartbeat-mismatch, heartbeat-failing) and events;
  // with stall-action restart, restarts a stalled session. The heartbeat monitor runs it
  // about every second for every gluster session.
  Result<SessionHeartbeat> HeartbeatSession(const Actor& a, const std::string& id);
  // Every gluster session's heartbeat step; returns how many sessions were looked at.
  int HeartbeatGlusterSessions(const Actor& a);

  // Session config
  Result<std::vector<ConfigItem>> GetConfig(const std::string& session_id);
  // `force`: set sync-method rsync even where the preflight finds that gsyncd would write
  // files without their content (the session then shows a standing "data-at-risk" alert).
  Result<ConfigItem> SetConfig(const Actor& a, const std::string& session_id,
                               const std::string& key, const std::string& value,
                               bool force = false);
  Status ResetConfig(const Actor& a, const std::string& session_id, const std::string& key);

  // Events
  Result<std::vector<Event>> ListEvents(const EventFilter& filter);

  // Users (admins only)
  Result<User> CreateUser(const Actor& a, const std::string& name, const std::string& password,
                          Role role);
  Result<std::vector<User>> ListUsers(const Actor& a);
  Status DeleteUser(const Actor& a, const std::string& id);
  // An administrator changes a user's role; the last administrator stays one.
  Result<User> SetRole(const Actor& a, const std::string& user_id, Role role);
  // A user changes their own password; admins may change anyone's. The user's tokens are
  // revoked.
  Status SetPassword(const Actor& a, const std::string& user_id, const std::string& password);

  // A user's tokens, and revoking them all (admins: a lost laptop, a user who left).
  Result<std::vector<ApiToken>> ListUserTokens(const Actor& a, const std::string& user_id);
  Status RevokeUserTokens(const Actor& a, const std::string& user_id);

  // Tokens of the acting user.
  Result<std::vector<ApiToken>> ListTokens(const User& u);
  Status RevokeToken(const Actor& a, const User& u, const std::string& token_id);

 private:
  // Runs `body` in a transaction and records the outcome as an Event in the audit trail.
  // `object_id` may be filled in by `body` (for creations).
  Status Audited(const Actor& a, std::string_view action, std::string_view object_type,
                 std::string& object_id, std::string& message,
                 const std::function<Status(StoreTx&)>& body);
  // gluster geo-replication on the session's source cluster: `gluster --mode=script volume
  // geo-replication SRC [USER@]HOST::VOL ARGS...`, tried on each usable source host in turn.
  Result<std::string> RunGeoRep(const Session& s, const std::vector<std::string>& args, bool xml);
  // `argv` on the cluster's hosts in turn, `preferred_host_id` first, until one answers: a
  // host that cannot be reached, or whose glusterd does not answer, is skipped (Unavailable
  // when none answers). With `xml` the CLI's output is returned whatever its exit code.
  Result<GlusterAnswer> RunGlusterOnCluster(const std::string& cluster_id,
                                            const std::string& preferred_host_id,
                                            const std::vector<std::string>& argv, bool xml);
  // Records what gluster reported for session `id` (null `reported`: the cluster could not
  // be asked, `unreachable` says why), unless the session was updated after `asked_at` (the
  // answer is older than what is recorded). The caller holds the session's lock.
  Result<SessionDetail> ApplyGlusterStatus(const Actor& a, const std::string& id,
                                           const std::vector<GeoRepStatus>* reported,
                                           const std::string& answered_by,
                                           const std::string& unreachable, int64_t asked_at);
  // What gsyncd's files on the cluster's source nodes say for the `known` sessions, read
  // without glusterd; `needs_gluster` (with the reason) when they cannot answer for all of them.
  struct GsyncdFilesPoll {
    std::vector<GeoRepStatus> reported;  // one per known session that every node has
    std::string read_from;               // the hosts read, by name
    std::string needs_gluster;           // why the gluster query is needed; "" when it is not
    std::string evidence;                // session directories that appeared or went, as one string
  };
  Result<GsyncdFilesPoll> ReadGsyncdFiles(const std::string& cluster_id,
                                          const std::vector<Volume>& volumes,
                                          const std::vector<Session>& known);
  static const GeoRepStatus* FindReported(const std::vector<GeoRepStatus>& reported,
                                          const Volume& v, const Destination& d, const Session& s);
  std::vector<SessionNodeStatus> NodeRows(const Session& s, const Volume& v, const Destination& d,
                                          const std::vector<Host>& hosts,
                                          const GeoRepStatus& reported,
                                          const std::string& answered_by);
  // Gives each node of `after` whose worker went Faulty, or Stopped / Created without georep
  // stopping the session, the reason from the tail of gsyncd's log on that node (read over
  // the node's runner; "gsyncd log on HOST unreadable: ..." when it cannot be). Read when the
  // node goes Faulty, then at most once a minute while it stays Faulty (gsyncd's retries,
  // Faulty -> Initializing -> Faulty, keep the reason on the node); a node Stopped by itself
  // is read once.
  void ExplainWorkerFaults(const SessionDetail& before, const Volume& v, const Destination& d,
                           const std::vector<Host>& hosts, std::vector<SessionNodeStatus>& after);
  // The preflight of `cluster_id`'s hosts and of destination `d` (null: sources only).
  Preflight PlatformPreflight(const std::string& cluster_id, const Destination* d);
  // The same, remembered for 10 minutes per cluster and destination: the monitor's.
  Preflight CachedPreflight(const std::string& cluster_id, const Destination& d);
  // The monitor's look at a session's sync method against the (cached) preflight.
  Status RecheckDataRisk(const std::string& id);
  // Keeps or clears `session_id`'s "data-at-risk" alert for its sync method on `preflight`;
  // records an event when it appears or goes.
  Status RecordDataRisk(const Actor& a, const std::string& session_id,
                        const std::string& sync_method, const Preflight& preflight);
  // Puts alert `kind` (with an event when it is new) or clears it (with an event when it
  // existed); `event_action` names both events' action ("session.stalled" ->
  // "session.stalled" / "session.stalled_cleared").
  Status SetAlert(const Actor& a, const std::string& session_id, const std::string& kind, bool on,
                  const std::string& message, const std::string& event_action);
  // A verify of the session, its outcome recorded as an event (a cancelled one: none).
  Result<replication::VerifyReport> RunVerify(const Actor& a, const std::string& id,
                                              int sample_percent, const std::atomic<bool>* cancel);
  // Raises (with `differences`, the first few named) or clears the "verify-differs" alert.
  Status RecordVerifyDiffers(const Actor& a, const std::string& id,
                             const std::vector<replication::VerifyDifference>& differences,
                             const std::string& how);
  // The heartbeat's two I/O steps, through a mount of the volume on one node.
  Status WriteHeartbeat(const Volume& v, const Destination& d, const std::string& file, int64_t seq,
                        const std::string& text);
  struct DestinationFile {
    int64_t seq = 0;
    std::string text;
    int64_t changed_at = 0;  // when its data last changed there, on the engine's clock
  };
  struct DestinationRead {
    std::vector<DestinationFile> files;  // the newest two, newest first
    int64_t used_bytes = -1;             // the destination volume's used bytes
    int64_t node_ahead_ms = 0;           // the node's clock against the engine's
  };
  // Removes a removed session's heartbeat file from the source volume (best effort).
  // A removed session's heartbeat files go, and georep's heartbeat mounts with the last
  // session that used them (the source volume's on its hosts, the destination volume's there).
  void ForgetHeartbeat(const Volume& v, const Session& removed);
  Result<DestinationRead> ReadHeartbeat(const Session& s, const Destination& d,
                                        const std::string& file);
  // Fills `d`'s alerts, heartbeat, lag and throughput from the store.
  Status FillHealth(StoreTx& tx, SessionDetail& d);
  // Picks up config changed on the cluster outside georep. Takes the session's lock.
  Status SyncGlusterConfig(const Actor& a, const std::string& id);
  Result<std::string> DiscoverGlusterSession(const Actor& a, const Cluster& c,
                                             const GeoRepStatus& g, const Host& answered_by);
  Result<Session> ReadSession(const std::string& id);
  Status CheckGlusterEligibility(const Destination& d, const Volume& source,
                                 const std::string& destination_volume);
  // The destination cluster's volumes (`only` one, if not empty) with their reasons.
  Result<std::vector<CandidateVolume>> GlusterCandidates(const Destination& d, const Volume& source,
                                                         const std::string& only);
  // Reaches the destination host (as root, its key pinned): directly, or, when the engine
  // cannot reach it, through the destination's source host.
  Result<std::unique_ptr<RelayingRunner>> DestinationRunner(const Destination& d);
  // The same for `dest` (the destination as some user), through `relay` (an ssh host with its
  // key pinned; otherwise no relay).
  Result<std::unique_ptr<RelayingRunner>> DestinationRunner(const Host& dest, const Host& relay);
  // The key exchange; returns why it failed, in the operator's words.
  Status ExchangeKeys(const Destination& d);
  // Its undoing, for a detached destination: what was removed where, and what remains.
  std::string RevokeSourceClusterKeys(const Destination& d);
  // Test's checks, for a destination on this machine (directory volumes: the sessions'
  // directories) and for one over ssh (reachable, gluster there, the source hosts' logins).
  Status CheckLocalDestination(const Destination& d, const Host& source, DestinationCheck& out);
  // An ssh destination of directory sessions (directory_sessions.cc): reached with its pinned
  // host key, the agent runnable there (its version), each session's path a writable
  // directory or creatable, and its file system's free space. No gluster.
  Status CheckSshDirectoryDestination(const Destination& d, DestinationCheck& out);
  Status CheckSshDestination(const Destination& d, const std::vector<Host>& sources,
                             DestinationCheck& out);
  // Logs in to the destination as root once with `password` and installs the engine's key.
  Status InstallDestinationKey(const Destination& d, const std::string& password);

  // Non-root destinations (gluster_mountbroker.cc). The destination cluster's nodes: those
  // georep can run commands on (the destination host first), and the names of the others.
  struct DestinationNode {
    std::string name;
    std::unique_ptr<CommandRunner> runner;
  };
  struct DestinationNodes {
    std::vector<DestinationNode> nodes;
    std::vector<std::string> unreachable;
    std::map<std::string, std::string> names;  // gluster peer uuid -> host name
  };
  Result<DestinationNodes> ReachDestinationNodes(const Destination& d);
  // The cluster's mountbroker group, or the default one when it has none yet.
  std::string MountbrokerGroup(CommandRunner& dest, const std::string& where);
  // The user exists on `node`, in `group`, with a home and key logins only.
  Status EnsureGeoAccount(const std::string& node, CommandRunner& r, const std::string& user,
                          const std::string& group);
  // The destination user on every node georep reaches; returns the nodes it could not reach.
  Result<std::vector<std::string>> PrepareGeoAccounts(const Destination& d);
  // `user` may mount `volume` on every destination node (set-up, add, glusterd restarted when
  // anything changed; `done` says what was done). Returns warnings for nodes georep cannot reach.
  Result<std::vector<std::string>> SetUpMountbroker(const Destination& d, const std::string& user,
                                                    const std::string& volume, std::string* done);
  // Records a destination's connection state and an event.
  Result<Destination> RecordConnection(const Actor& a, const std::string& id,
                                       std::string_view action, bool connected,
                                       const std::string& reason, const std::string& extra);
  // Records a refused or failed action as a "failed" event; a record that cannot be written is
  // logged as an error (and returned), so callers that go on may ignore the result.
  Status RecordFailure(const Actor& a, std::string_view action, std::string_view object_type,
                       const std::string& object_id, const Status& why);

  // Directory volumes (directory_sessions.cc).
  Result<std::vector<std::string>> WorkerArgv(const Session& s, const Volume& v,
                                              const Destination& d);
  // `force`: start into a destination that is not empty before the first sync.
  Status RunDirectoryAction(const Session& s, const Volume& v, SessionAction action, bool force);
  // The path guards (model/path_guard.h) for session `s`'s destination: the real paths and
  // device/inode of it, of its source, of the engine's data directory and of every other
  // directory session's source and destination, each asked on its host (one probe per host;
  // a host that cannot be asked has its paths compared as written). FailedPrecondition with
  // the reason when the destination may not be used. `not_empty`, if given: whether the
  // destination is a directory that holds something (false when it could not be told).
  Status CheckDirectoryDestination(const Session& s, const Volume& v, const Destination& d,
                                   bool* not_empty = nullptr);
  // FailedPrecondition ("not-empty: ...") for a session's first sync into a destination that
  // holds something: the source would be mixed into it.
  static Status NotEmptyRefusal(const Session& s, const Destination& d);
  // In the create event of a session forced into a destination that is not empty.
  static constexpr const char* kForcedNotEmpty = "is not empty (forced)";
  // How a program on the engine's machine reaches a session's ssh destination -- the worker's
  // agent and verify's describe alike: the session's config over the destination's own values.
  struct DestinationSsh {
    std::string ssh_command;  // the ssh-command config, the engine's key, the pinned host key
    int port = 22;
    std::string user_host;       // USER@HOST
    std::string remote_command;  // what runs `georep agent` there
  };
  // `from_source_host`: for a worker on an ssh source host, with the files made there.
  Result<DestinationSsh> SshToDestination(const Session& s, const Destination& d,
                                          const std::vector<ConfigItem>& config,
                                          bool from_source_host = false);
  // hosts_->SshClientOptions(dest), also for a destination the engine reaches only through
  // `relay` (its pinned key read there).
  Result<std::vector<std::string>> DestinationClientOptions(const Host& dest, const Host& relay);
  // The destination as a host reached over ssh, as the session's user.
  static Host DestinationHost(const Session& s, const Destination& d);
  // For a source on an ssh host, before its worker starts: a worker key there (made once), the
  // destination's pinned host key there, and that worker key accepted by the destination.
  Status PrepareRemoteSource(const Session& s, const Volume& v, const Destination& d);
  // Removes a removed session's worker state from its ssh source host (best effort).
  void RemoveRemoteWorkerState(const Volume& v, const std::string& session_id);
  // The authorized_keys line ("restrict KEY") with which PrepareRemoteSource had a session's
  // destination accept its source host's worker key, as kept in the session's state
  // directory; empty if none.
  std::string TrustedSourceWorkerKey(const std::string& session_id) const;
  // Takes that `line` back at `gone`'s destination, once no other session of a volume on the
  // same source host goes to the same destination account (best effort).
  void RevokeSourceWorkerKey(const Session& gone, const Volume& v, const std::string& line);
  // `georep agent --describe` of a directory volume on an ssh host, run there.
  Result<replication::TreeDescription> DescribeSource(const Host& src, const Volume& v,
                                                      const std::vector<ConfigItem>& config,
                                                      const replication::DescribeOptions& options);
  // What `georep agent --describe` of `path` on `host` (reached as `where`) gave: the tree, or
  // why not. `command` is what ran the agent there.
  static Result<replication::TreeDescription> DescribedTree(const CommandResult& r,
                                                            const std::string& path,
                                                            const std::string& where,
                                                            const std::string& host,
                                                            const std::string& command);
  // Verify of a gluster session (gluster_verify.cc): each volume mounted read-only on one node
  // of its cluster (a source host that answers; the destination host, relayed if need be),
  // listed and hashed there; compared as for directory sessions.
  Result<replication::VerifyReport> VerifyGlusterSession(const Session& s, const Volume& v,
                                                         const Destination& d,
                                                         const replication::VerifyOptions& o);
  // `georep agent --describe` of the session's destination path, run over ssh: from the
  // engine, or, when it cannot reach the destination, from `src` (an ssh source host, with its
  // worker's key, as the worker reaches it; null: the engine's machine).
  Result<replication::TreeDescription> DescribeDestination(
      const Session& s, const Destination& d, const std::vector<ConfigItem>& config,
      const replication::DescribeOptions& options, const Host* src);

  Store& store_;
  Clock& clock_;
  Random& random_;
  ObjectLocks& locks_;
  HostConnector* hosts_;
  WorkerSupervisor* workers_ = nullptr;
  std::string georep_binary_;
  std::string data_dir_;  // empty: none to guard
  std::vector<std::string> volume_roots_;
  bool volume_roots_set_ = false;
  // The monitor's preflights (CachedPreflight) and the stall restarts (HeartbeatSession).
  std::mutex truth_mu_;
  std::map<std::string, std::pair<int64_t, Preflight>> preflights_;  // GUARDED_BY(truth_mu_)
  std::map<std::string, int64_t> stall_restarts_;                    // GUARDED_BY(truth_mu_)
  std::map<std::string, int64_t> damaged_since_;                     // GUARDED_BY(truth_mu_)
  // Per cluster: the session directories gsyncd's files showed appearing or gone
  // (GsyncdFilesPoll::evidence) in the last pass, and what gluster was last asked about, so
  // the same news asks gluster once, and only when two passes in a row see it.
  std::map<std::string, std::pair<std::string, std::string>>
      gsyncd_evidence_;  // GUARDED_BY(truth_mu_)
  // The periodic verify's schedule and the differences it is re-checking, per session.
  struct PeriodicVerifyState {
    int64_t last_at = 0;     // the last periodic verify's end (first: when first seen due)
    int64_t recheck_at = 0;  // when the suspects are verified again; 0: none
    std::map<std::string, std::string> suspects;  // path -> its source state then
  };
  std::mutex verify_mu_;
  std::map<std::string, PeriodicVerifyState> periodic_verifies_;  // GUARDED_BY(verify_mu_)
  // Why gsyncd's workers stopped (ExplainWorkerFaults): the sessions georep itself stopped
  // (their workers' Stopped is expected) and when each node's log was last read.
  std::mutex gsyncd_mu_;
  std::set<std::string> stopped_by_georep_;          // GUARDED_BY(gsyncd_mu_)
  std::map<std::string, int64_t> gsyncd_log_reads_;  // GUARDED_BY(gsyncd_mu_)
};

}  // namespace georep
