// Operations: the one layer through which every change to georep's state is made, used by
// the REST API (and so by the CLI and the web console) and by the engine's own jobs.
//
// Each operation validates its input before touching anything (InvalidArgument, nothing
// written), takes the per-object lock it needs (ObjectLocks), makes its changes in one store
// transaction, and records an Event -- "ok" with the change, or "failed" with the reason --
// so the audit trail holds every attempt.
//
// What differs between the kinds of volume is a session driver's (session_driver.h):
// GlusterDriver for gluster volumes, DirectoryDriver for georep's own engine, picked by
// DriverFor. Operations, its drivers and their shared services (EngineContext) live in
// operations*.cc and the drivers' own files. Verify and repair are SessionVerifier's
// (session_verifier.h), the periodic verify PeriodicVerifier's (periodic_verifier.h), users
// and tokens UserAccounts' (user_accounts.h): each owned here, on the same EngineContext, and
// handed out (verifier(), periodic_verifier(), accounts()) so that whatever holds an
// Operations reaches them with no wiring of its own.
//
// Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "engine/alert_manager.h"
#include "engine/directory_driver.h"
#include "engine/engine_context.h"
#include "engine/gluster_driver.h"
#include "engine/host_connector.h"
#include "engine/notifications.h"
#include "engine/object_locks.h"
#include "engine/operation_types.h"
#include "engine/periodic_verifier.h"
#include "engine/session_driver.h"
#include "engine/session_verifier.h"
#include "engine/user_accounts.h"
#include "model/entities.h"
#include "model/session_lifecycle.h"
#include "store/store.h"

namespace georep {

class WorkerSupervisor;

class Operations {
 public:
  // `hosts` may be null where no host is ever reached (some unit tests); host operations then
  // fail with FailedPrecondition.
  Operations(Store& store, Clock& clock, Random& random, ObjectLocks& locks,
             HostConnector* hosts = nullptr);

  // Clusters
  Result<Cluster> CreateCluster(const Actor& a, const ClusterSpec& spec);
  Result<std::vector<Cluster>> ListClusters() { return ctx_.ListClusters(); }
  Result<Cluster> GetCluster(const std::string& id) { return ctx_.GetCluster(id); }
  // Refused while the cluster has destinations or sessions.
  Status DeleteCluster(const Actor& a, const std::string& id);
  // Discovers a Gluster cluster from one of its hosts (over SSH with the confirmed key): its
  // peers, volumes, bricks, replica/disperse layout, status and sizes. The asked host is pinned
  // and Up; the other peers are added unpinned (status Unknown) until their keys are confirmed.
  // With a one-time password the engine's key is installed on the asked host first (as
  // AddHost); a refused password imports nothing.
  Result<ImportedCluster> ImportGlusterCluster(const Actor& a, const GlusterImportSpec& spec) {
    return gluster_.ImportGlusterCluster(a, spec);
  }

  // Hosts
  Result<Host> AddHost(const Actor& a, const HostSpec& spec);
  Result<std::vector<Host>> ListHosts(const std::string& cluster_id) {
    return ctx_.ListHosts(cluster_id);
  }
  Result<Host> GetHost(const std::string& id) { return ctx_.GetHost(id); }
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
  Result<std::vector<Volume>> ListVolumes(const std::string& cluster_id) {
    return ctx_.ListVolumes(cluster_id);
  }
  Result<Volume> GetVolume(const std::string& id) { return ctx_.GetVolume(id); }
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
  Result<std::vector<Destination>> ListDestinations(const std::string& cluster_id) {
    return ctx_.ListDestinations(cluster_id);
  }
  Result<Destination> GetDestination(const std::string& id) { return ctx_.GetDestination(id); }
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
                                                            const std::string& source_volume_id) {
    return gluster_.ListCandidateVolumes(destination_id, source_volume_id);
  }
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
  // How alerts' notifications leave the engine (not owned; null: they stay queued).
  void SetMessageSender(MessageSender* sender) { ctx_.sender = sender; }
  void SetWorkerSupervisor(WorkerSupervisor* workers, std::string georep_binary) {
    directory_.SetWorkerSupervisor(workers, std::move(georep_binary));
  }
  // The engine's data directory (on the engine's machine), which no destination may touch.
  void SetEngineDataDir(std::string dir) { ctx_.data_dir = std::move(dir); }
  // Directory volumes (sources and destinations) only under these directories (model/
  // path_guard.h: CheckUnderVolumeRoots); never called: anywhere the other guards allow.
  void SetVolumeRoots(std::vector<std::string> roots) {
    ctx_.volume_roots = std::move(roots);
    ctx_.volume_roots_set = true;
  }
  // The monitor's look at one directory session: its worker running (restarted if it died),
  // its status.json recorded as the node row, events as for gluster sessions.
  Result<SessionDetail> PollDirectorySession(const Actor& a, const std::string& id) {
    return directory_.PollDirectorySession(a, id);
  }
  // Every directory session; returns how many were read.
  int PollDirectorySessions(const Actor& a) { return directory_.PollDirectorySessions(a); }
  // Verify and repair of sessions (session_verifier.h), on this EngineContext and drivers.
  SessionVerifier& verifier() { return verifier_; }
  // The periodic verify's schedule (periodic_verifier.h), on this verifier().
  PeriodicVerifier& periodic_verifier() { return periodic_verifier_; }
  // One monitor pass over a cluster's gluster sessions. Without `full`, every node's status
  // comes from gsyncd's own files on it (ReadGsyncdFiles: one ssh command per source node, no
  // glusterd transaction, so no admin's gluster command meets "Another transaction is in
  // progress" because of the monitor); the cluster-wide `status detail` query is asked only
  // when a node cannot be read that way (unreachable, glusterd not running, files missing) or
  // the files show a session directory appear or go that no full pass has looked at yet. A
  // `full` pass asks gluster (discovery of sessions created outside georep, sessions deleted
  // outside) and reads every session's config.
  Result<ClusterPoll> PollGlusterCluster(const Actor& a, const std::string& cluster_id,
                                         bool full = true) {
    return gluster_.PollGlusterCluster(a, cluster_id, full);
  }
  Result<std::vector<Session>> ListSessions(const SessionFilter& filter) {
    return ctx_.ListSessions(filter);
  }
  Result<SessionDetail> GetSession(const std::string& id) { return ctx_.GetSession(id); }
  // ListSessions with each session's per-node status, read in one transaction.
  Result<std::vector<SessionDetail>> ListSessionDetails(const SessionFilter& filter);
  // Refused unless the session is Created or Stopped (gluster's rule), unless `force`.
  Status RemoveSession(const Actor& a, const std::string& id, bool force,
                       bool reset_sync_time = false);

  // The truth about gluster sessions (GlusterDriver: gluster_truth.cc).
  // The platform preflight of a session's nodes: every source host and the destination host
  // (rsync and gluster versions).
  Result<Preflight> SessionPreflight(const std::string& session_id) {
    return gluster_.SessionPreflight(session_id);
  }
  // One heartbeat step of a gluster session: writes a heartbeat into the source volume when
  // one is due, reads the destination's back while one is on its way (or every 10 s), and
  // keeps the session's alerts (stalled, heartbeat-mismatch, heartbeat-failing) and events;
  // with stall-action restart, restarts a stalled session. The heartbeat monitor runs it
  // about every second for every gluster session.
  Result<SessionHeartbeat> HeartbeatSession(const Actor& a, const std::string& id) {
    return gluster_.HeartbeatSession(a, id);
  }
  // Every gluster session's heartbeat step; returns how many sessions were looked at.
  int HeartbeatGlusterSessions(const Actor& a) { return gluster_.HeartbeatGlusterSessions(a); }

  // Session config
  Result<std::vector<ConfigItem>> GetConfig(const std::string& session_id) {
    return ctx_.GetConfig(session_id);
  }
  // `force`: set sync-method rsync even where the preflight finds that gsyncd would write
  // files without their content (the session then shows a standing "data-at-risk" alert).
  Result<ConfigItem> SetConfig(const Actor& a, const std::string& session_id,
                               const std::string& key, const std::string& value,
                               bool force = false);
  Status ResetConfig(const Actor& a, const std::string& session_id, const std::string& key);

  // Events
  Result<std::vector<Event>> ListEvents(const EventFilter& filter) {
    return ctx_.ListEvents(filter);
  }

  // Users and their tokens (user_accounts.h): the same EngineContext, so the same audit
  // trail, clock and randomness.
  UserAccounts& accounts() { return accounts_; }

  // Alerts and the engine settings they read (alert_manager.h), and the notifiers that carry
  // them out (notifications.h).
  AlertManager& alerts() { return alerts_; }
  Notifications& notifications() { return notifications_; }

 private:
  // The driver of sessions of `kind`, and of the sessions a destination serves (georep's own
  // engine for a destination on this machine or of a cluster of directory volumes only;
  // gluster otherwise): the one place that tells the kinds apart.
  SessionDriver& DriverFor(VolumeKind kind);
  SessionDriver& DriverForDestination(const Destination& d);
  // Logs in to the destination as root once with `password` and installs the engine's key.
  Status InstallDestinationKey(const Destination& d, const std::string& password);
  // Records a destination's connection state and an event.
  Result<Destination> RecordConnection(const Actor& a, const std::string& id,
                                       std::string_view action, bool connected,
                                       const std::string& reason, const std::string& extra);

  EngineContext ctx_;
  GlusterDriver gluster_{ctx_};
  DirectoryDriver directory_{ctx_};
  UserAccounts accounts_{ctx_};
  SessionVerifier verifier_{ctx_,
                            [this](VolumeKind kind) -> SessionDriver& { return DriverFor(kind); }};
  PeriodicVerifier periodic_verifier_{ctx_, verifier_};
  Notifications notifications_{ctx_};
  AlertManager alerts_{ctx_, notifications_};
};

}  // namespace georep
