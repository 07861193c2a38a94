// DirectoryDriver: sessions of directory volumes, run by georep's own replication engine.
// Start runs a `georep worker` (supervised by WorkerSupervisor) with the session's config as
// its flags; the monitor reads the worker's status.json into the session's node row, through
// the same recording (and events) as a gluster session's status. Implements SessionDriver
// (session_driver.h): directory_driver.cc runs and polls the workers, directory_remote.cc
// holds how they reach source and destination hosts, directory_destination.cc the
// destination's guards and checks.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine_context.h"
#include "engine/session_driver.h"
#include "host/command_runner.h"
#include "host/ssh_transport.h"
#include "model/session_figures.h"
#include "model/worker_config.h"
#include "replication/tree_description.h"

namespace georep {
namespace replication {
struct WorkerStatus;
}  // namespace replication

class DirectoryDriver final : public SessionDriver {
 public:
  explicit DirectoryDriver(EngineContext& ctx) : ctx_(ctx) {}

  // Directory sessions run under `workers` (not owned; null: they cannot run), started as
  // `georep_binary worker ...`; every restart between polls is checked as a start is.
  void SetWorkerSupervisor(WorkerSupervisor* workers, std::string georep_binary);
  // The monitor's look at one directory session: its worker running (restarted if it died),
  // its status.json recorded as the node row, events as for gluster sessions.
  Result<SessionDetail> PollDirectorySession(const Actor& a, const std::string& id);
  // Every directory session; returns how many were read.
  int PollDirectorySessions(const Actor& a);

  // One host and path; no replica or disperse sets.
  Status ValidateVolumeLayout(const VolumeSpec& spec) const override;
  // Under the engine's volume roots, when they are set, and a directory its host can read
  // (asked there: a volume over a path that is not there would replicate nothing).
  Status ValidateVolumePlace(const VolumeSpec& spec) const override;
  // A directory is there to be read: no start of its own.
  VolumeStatus InitialVolumeStatus() const override { return VolumeStatus::kStarted; }
  // An absolute path on the destination host.
  Status ValidateDestinationName(const std::string& destination_volume) const override;
  // The path guards (model/path_guard.h), and a destination that holds something refused
  // unless forced; nothing runs until start.
  Status Create(const Session& s, const Volume& v, const Destination& d,
                const SessionCreateOptions& options, SessionCreation& created,
                SessionDetail& out) override;
  // Start and resume (re)start the session's worker under the supervisor; stop and pause stop
  // it, keeping its index.
  Result<std::string> RunAction(const SessionDetail& s, const Volume& v, SessionAction action,
                                bool force, std::optional<Preflight>& preflight) override;
  Status DeleteForRemoval(const Session& s, const Volume& v, const SessionRemoval& how) override;
  // The worker's state goes, here and on an ssh source host, and the source host's worker key
  // is taken back from the destination once no other session uses it.
  void ForgetRemoved(const Session& s, const Volume& v) override;
  // Stored only: the next poll restarts the worker with its new command line (WorkerConfig).
  Status ApplyConfig(const Session& s, const Volume& v, const ConfigOption& o,
                     const std::string& value, bool force, ConfigItem& item,
                     std::optional<Preflight>& preflight) override;
  Status ResetConfig(const Session& s, const Volume& v, const ConfigOption& o) override;
  Result<SessionDetail> Refresh(const Actor& a, const Session& s, const Volume& v) override;
  Status FillHealth(StoreTx& tx, const Volume& v, SessionDetail& d) override;
  Result<replication::VerifyReport> Verify(const Session& s, const Volume& v, const Destination& d,
                                           const std::vector<ConfigItem>& config,
                                           const replication::VerifyOptions& o) override;
  // A started session whose source is on this host: its worker carries the repair out.
  Status CheckRepairable(const Session& s, const Volume& v) override;
  Status CarryOutRepair(const Session& s, const replication::RepairRequest& request,
                        std::chrono::milliseconds timeout) override;
  // A destination on this machine (the sessions' directories) or over ssh (georep's agent
  // there): no gluster.
  Status TestDestination(const Destination& d, const std::vector<Host>& sources,
                         DestinationCheck& out) override;
  // No gluster keys: each session from an ssh source host is prepared again (the destination's
  // pinned key there, its worker key accepted by the destination), then the destination is
  // tested; its problems are the reason.
  Status ReestablishDestination(const Destination& d) override;

 private:
  // Test's checks for a destination on this machine: each session's directory writable, or
  // creatable.
  Status CheckLocalDestination(const Destination& d, const Host& source, DestinationCheck& out);
  // A new directory volume's path is a directory its host can list (the path probe, asked on
  // that host). InvalidArgument naming `path` when it is not; Unavailable when the host cannot
  // be asked. A host that is not the cluster's is left to the add, which refuses it.
  Status CheckVolumeDirectory(const VolumeSpec& spec) const;
  // An ssh destination of directory sessions: reached with its pinned host key, the agent
  // runnable there (its version), each session's path a writable directory or creatable, and
  // its file system's free space. No gluster.
  Status CheckSshDirectoryDestination(const Destination& d, DestinationCheck& out);
  // The worker's command line: `georep worker` and its WorkerConfig's flags
  // (model/worker_config.h), through `georep worker-link` for a source on an ssh host.
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
  // How a session's ssh destination is reached -- by the worker's agent and verify's describe
  // alike: the engine's key and the destination's pinned key, then the session's ssh-command,
  // its ssh-port or the destination's own, its remote-command. `from_source_host`: for a
  // worker on an ssh source host, with the copies of those files PrepareRemoteSource made there.
  Result<WorkerSsh> SshToDestination(const Session& s, const Destination& d,
                                     const std::vector<ConfigItem>& config,
                                     bool from_source_host = false);
  // hosts_->SshClient(dest), also for a destination the engine reaches only through `relay`
  // (its pinned key read there).
  Result<PinnedSshClient> DestinationClient(const Host& dest, const Host& relay);
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
  // `georep agent --describe` of the session's destination path, run over ssh: from the
  // engine, or, when it cannot reach the destination, from `src` (an ssh source host, with its
  // worker's key, as the worker reaches it; null: the engine's machine).
  Result<replication::TreeDescription> DescribeDestination(
      const Session& s, const Destination& d, const std::vector<ConfigItem>& config,
      const replication::DescribeOptions& options, const Host* src);

  // The node's figures from its worker's status at `now` (`reporting`: the worker runs and
  // this status is its own, and recent): last synced, pending counts, lag, and the throughput
  // from the session's window of reports.
  void FiguresFromWorker(const std::string& id, const replication::WorkerStatus& status,
                         bool reporting, int64_t now, SessionNodeStatus& n);
  // A stopped or paused session's node: no worker applies anything (throughput 0), and the lag
  // grows from a change its worker left pending, or is unknown (nobody watches the source).
  void FiguresWithoutWorker(const std::string& id, SessionNodeStatus& n);

  EngineContext& ctx_;
  std::mutex rates_mu_;
  std::map<std::string, ThroughputWindow> rates_;  // GUARDED_BY(rates_mu_); by session
};

}  // namespace georep
