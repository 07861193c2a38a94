// GlusterDriver: sessions of gluster volumes, driven through `gluster volume geo-replication`
// on the source cluster (gsyncd does the copying). Implements SessionDriver
// (session_driver.h), and the gluster-only work Operations forwards: importing a cluster,
// the monitor's cluster polls, the end-to-end heartbeat, candidate destination volumes and
// the source cluster's key exchange with a destination. Its code lives in gluster_driver.cc
// (the SessionDriver methods, keys), gluster_sessions.cc (commands, status, discovery),
// gluster_candidates.cc (destination volumes' eligibility),
// gluster_truth.cc (preflight, heartbeat), gluster_mountbroker.cc (non-root destinations)
// and gluster_verify.cc (verify through mounts).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/engine_context.h"
#include "engine/session_driver.h"
#include "host/command_runner.h"

namespace georep {

class GlusterDriver final : public SessionDriver {
 public:
  explicit GlusterDriver(EngineContext& ctx) : ctx_(ctx) {}

  // How a stalled session is restarted (stall-action restart): Operations' RunSessionAction,
  // with its checks and events.
  using ActionRunner = std::function<Result<SessionDetail>(const Actor&, const std::string& id,
                                                           SessionAction, bool force)>;
  void SetActionRunner(ActionRunner run) { run_action_ = std::move(run); }

  // Gluster-only operations; their contracts are Operations' (operations.h).
  Result<ImportedCluster> ImportGlusterCluster(const Actor& a, const GlusterImportSpec& spec);
  Result<std::vector<CandidateVolume>> ListCandidateVolumes(const std::string& destination_id,
                                                            const std::string& source_volume_id);
  Result<ClusterPoll> PollGlusterCluster(const Actor& a, const std::string& cluster_id, bool full);
  Result<Preflight> SessionPreflight(const std::string& session_id);
  Result<SessionHeartbeat> HeartbeatSession(const Actor& a, const std::string& id);
  int HeartbeatGlusterSessions(const Actor& a);
  // The key exchange between the destination's source cluster and the destination (gsec_create,
  // add_secret_pub); returns why it failed, in the operator's words.
  Status ExchangeKeys(const Destination& d);
  // Its undoing, for a detached destination: what was removed where, and what remains.
  std::string RevokeSourceClusterKeys(const Destination& d);

  Status ValidateVolumeLayout(const VolumeSpec& spec) const override;
  Status ValidateVolumePlace(const VolumeSpec& spec) const override;
  VolumeStatus InitialVolumeStatus() const override { return VolumeStatus::kUnknown; }
  Status ValidateDestinationName(const std::string& destination_volume) const override;
  // The destination volume must be eligible, unless forced; the platform preflight picks the
  // sync method; a non-root user gets its mountbroker set-up; then `create no-verify`.
  Status Create(const Session& s, const Volume& v, const Destination& d,
                const SessionCreateOptions& options, SessionCreation& created,
                SessionDetail& out) override;
  Result<std::string> RunAction(const SessionDetail& s, const Volume& v, SessionAction action,
                                bool force, std::optional<Preflight>& preflight) override;
  Status DeleteForRemoval(const Session& s, const Volume& v, const SessionRemoval& how) override;
  void ForgetRemoved(const Session& s, const Volume& v) override;
  Status ApplyConfig(const Session& s, const Volume& v, const ConfigOption& o,
                     const std::string& value, bool force, ConfigItem& item,
                     std::optional<Preflight>& preflight) override;
  Status ResetConfig(const Session& s, const Volume& v, const ConfigOption& o) override;
  Result<SessionDetail> Refresh(const Actor& a, const Session& s, const Volume& v) override;
  Status FillHealth(StoreTx& tx, const Volume& v, SessionDetail& d) override;
  Result<replication::VerifyReport> Verify(const Session& s, const Volume& v, const Destination& d,
                                           const std::vector<ConfigItem>& config,
                                           const replication::VerifyOptions& o) override;
  // Always FailedPrecondition: gsyncd's own full sync repairs a gluster session.
  Status CheckRepairable(const Session& s, const Volume& v) override;
  Status CarryOutRepair(const Session& s, const replication::RepairRequest& request,
                        std::chrono::milliseconds timeout) override;
  // Reachable over ssh with the pinned key, gluster there, the source hosts' logins.
  Status TestDestination(const Destination& d, const std::vector<Host>& sources,
                         DestinationCheck& out) override;
  // The key exchange again (ExchangeKeys).
  Status ReestablishDestination(const Destination& d) override { return ExchangeKeys(d); }

 private:
  // gluster geo-replication on the session's source cluster: `gluster --mode=script volume
  // geo-replication SRC [USER@]HOST::VOL ARGS...`, tried on each usable source host in turn.
  Result<std::string> RunGeoRep(const Session& s, const std::vector<std::string>& args, bool xml);
  // `argv` on the cluster's hosts in turn, `preferred_host_id` first, until one answers: a
  // host that cannot be reached, or whose glusterd does not answer, is skipped (Unavailable
  // when none answers). With `xml` the CLI's output is returned whatever its exit code.
  Result<GlusterAnswer> RunGlusterOnCluster(const std::string& cluster_id,
                                            const std::string& preferred_host_id,
                                            const std::vector<std::string>& argv, bool xml);
  // Records what gluster reported for session `id` (ApplyReportedStatus, with a node's lag
  // from the heartbeat and gsyncd's reasons for its workers' faults).
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
    int64_t size_bytes = -1;             // and its size
    int64_t node_ahead_ms = 0;           // the node's clock against the engine's
  };
  // Removes a removed session's heartbeat file from the source volume (best effort).
  // A removed session's heartbeat files go, and georep's heartbeat mounts with the last
  // session that used them (the source volume's on its hosts, the destination volume's there).
  void ForgetHeartbeat(const Volume& v, const Session& removed);
  // stall-action restart of stalled session `s` (with an event), at most once per threshold.
  Status RestartStalled(const Actor& a, const Session& s, const HeartbeatSettings& settings,
                        const SessionHeartbeat& hb, int64_t now);
  Result<DestinationRead> ReadHeartbeat(const Session& s, const Destination& d,
                                        const std::string& file);
  // Picks up config changed on the cluster outside georep. Takes the session's lock.
  Status SyncGlusterConfig(const Actor& a, const std::string& id);
  Result<std::string> DiscoverGlusterSession(const Actor& a, const Cluster& c,
                                             const GeoRepStatus& g, const Host& answered_by);
  Status CheckGlusterEligibility(const Destination& d, const Volume& source,
                                 const std::string& destination_volume);
  // The destination cluster's volumes (`only` one, if not empty) with their reasons.
  Result<std::vector<CandidateVolume>> GlusterCandidates(const Destination& d, const Volume& source,
                                                         const std::string& only);
  // Test's checks of an ssh destination: reachable, gluster there, the source hosts' logins.
  Status CheckSshDestination(const Destination& d, const std::vector<Host>& sources,
                             DestinationCheck& out);

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
  // Verify of a gluster session (gluster_verify.cc): each volume mounted read-only on one node
  // of its cluster (a source host that answers; the destination host, relayed if need be),
  // listed and hashed there; compared as for directory sessions.
  Result<replication::VerifyReport> VerifyGlusterSession(const Session& s, const Volume& v,
                                                         const Destination& d,
                                                         const replication::VerifyOptions& o);

  EngineContext& ctx_;
  ActionRunner run_action_;
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
  // Why gsyncd's workers stopped (ExplainWorkerFaults): the sessions georep itself stopped
  // (their workers' Stopped is expected) and when each node's log was last read.
  std::mutex gsyncd_mu_;
  std::set<std::string> stopped_by_georep_;          // GUARDED_BY(gsyncd_mu_)
  std::map<std::string, int64_t> gsyncd_log_reads_;  // GUARDED_BY(gsyncd_mu_)
};

}  // namespace georep
