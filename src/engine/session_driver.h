// SessionDriver: what differs between the kinds of volume a session replicates. Operations
// validates, locks, audits and records; the session's driver does the work on the cluster or
// on georep's own engine. Implemented by GlusterDriver (gluster_driver.h: `gluster volume
// geo-replication` on the source cluster) and DirectoryDriver (directory_driver.h: georep's
// own `georep worker`); Operations::DriverFor picks one by the volume's kind.
//
// The contract, for every driver:
//   - A driver never records the outcome of an operation itself (Operations -- or, for
//     verify and repair, SessionVerifier -- records the event, ok or failed, with the Status
//     a driver returns), except where a method says it records (Refresh: the status it
//     reads, with its events).
//   - A refusal names its reason: InvalidArgument for input of the wrong shape,
//     FailedPrecondition for what the session's state, the destination or the engine's
//     set-up does not allow, Unavailable for a cluster or host that does not answer.
//   - Methods are called without a store transaction open (except FillHealth, inside one);
//     the caller holds the session's lock where one is named.
//   - Thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/operation_types.h"
#include "model/entities.h"
#include "model/session_config.h"
#include "model/session_lifecycle.h"
#include "replication/repair_request.h"
#include "replication/verify.h"
#include "store/store.h"

namespace georep {

// How a session is being removed (SessionDriver::DeleteForRemoval).
struct SessionRemoval {
  bool force = false;
  // The delete is one the session's state allows (model/session_lifecycle.h).
  bool allowed = false;
  // The cluster no longer has the session: nothing to stop or delete there.
  bool gone_outside = false;
  bool reset_sync_time = false;  // gluster's `delete reset-sync-time`
};

// What a driver's create did before the session is recorded.
struct SessionCreation {
  std::string sync_method;  // what the session is created with; empty: the default
  std::string note;         // what else was set up, for the create event
};

class SessionDriver {
 public:
  virtual ~SessionDriver() = default;

  // ---- volumes
  // The kind's rules for a new volume's layout (after the name and set sizes are checked).
  virtual Status ValidateVolumeLayout(const VolumeSpec& spec) const = 0;
  // Where the volume may be (directory volumes: under the engine's volume roots).
  virtual Status ValidateVolumePlace(const VolumeSpec& spec) const = 0;
  // A new volume's status until the cluster is asked.
  virtual VolumeStatus InitialVolumeStatus() const = 0;

  // ---- create
  // The shape of a session's destination: a volume name, a path.
  virtual Status ValidateDestinationName(const std::string& destination_volume) const = 0;
  // Everything before a new session `s` (its remote user filled in) of volume `v` to `d` is
  // recorded: eligibility of the destination (unless `options.force`), preflights, and the
  // session's creation on the cluster. Warnings and the preflight go in `out`.
  virtual Status Create(const Session& s, const Volume& v, const Destination& d,
                        const SessionCreateOptions& options, SessionCreation& created,
                        SessionDetail& out) = 0;

  // ---- lifecycle
  // start / stop / pause / resume / delete of a session whose state allows `action` (checked
  // by the caller, who holds the session's lock). Returns what the cluster answered, for the
  // event; `preflight` is set when the action was checked against one (its data-at-risk
  // alert is then kept by the caller).
  virtual Result<std::string> RunAction(const SessionDetail& s, const Volume& v,
                                        SessionAction action, bool force,
                                        std::optional<Preflight>& preflight) = 0;
  // Before a session is forgotten (its lock held): deleted on the cluster, its worker stopped.
  // An error refuses the removal unless `how.force`.
  virtual Status DeleteForRemoval(const Session& s, const Volume& v, const SessionRemoval& how) = 0;
  // After a session is forgotten: what it left behind (heartbeat files, worker state, keys),
  // best effort.
  virtual void ForgetRemoved(const Session& s, const Volume& v) = 0;

  // ---- config
  // Has the session take option `o` (validated; `item.value` its canonical value, which the
  // driver may replace with what the cluster recorded). Options the engine keeps itself
  // (model/session_config.h: IsEngineOption) and the kinds with no cluster to tell are only
  // recorded: Ok. `value` is what the user gave ("now" for a checkpoint).
  virtual Status ApplyConfig(const Session& s, const Volume& v, const ConfigOption& o,
                             const std::string& value, bool force, ConfigItem& item,
                             std::optional<Preflight>& preflight) = 0;
  // Has the session take option `o`'s default.
  virtual Status ResetConfig(const Session& s, const Volume& v, const ConfigOption& o) = 0;

  // ---- status
  // Reads session `s`'s status where it runs and records it (node rows, aggregate status,
  // events); the caller holds the session's lock.
  virtual Result<SessionDetail> Refresh(const Actor& a, const Session& s, const Volume& v) = 0;
  // Fills `d`'s lag, throughput and heartbeat from the store (inside `tx`), by the rules of
  // model/session_figures.h; its nodes' lag as of now (a node row read stays as recorded
  // otherwise).
  virtual Status FillHealth(StoreTx& tx, const Volume& v, SessionDetail& d) = 0;

  // ---- verify and repair
  // Compares the destination with the source as `o` says (sample, excludes, xattrs).
  virtual Result<replication::VerifyReport> Verify(const Session& s, const Volume& v,
                                                   const Destination& d,
                                                   const std::vector<ConfigItem>& config,
                                                   const replication::VerifyOptions& o) = 0;
  // FailedPrecondition when the session cannot be repaired by georep.
  virtual Status CheckRepairable(const Session& s, const Volume& v) = 0;
  // Hands `request` to the session's worker and waits until it is carried out (Unavailable
  // after `timeout`).
  virtual Status CarryOutRepair(const Session& s, const replication::RepairRequest& request,
                                std::chrono::milliseconds timeout) = 0;

  // ---- destinations
  // Test's checks of destination `d` of a cluster whose volumes are of this driver's kind
  // (`sources`: the cluster's hosts); problems and warnings go in `out`.
  virtual Status TestDestination(const Destination& d, const std::vector<Host>& sources,
                                 DestinationCheck& out) = 0;
  // Re-establish's work for destination `d` (its key just re-pinned, or its login lost): what
  // lets this kind's sessions reach it again, then whether they can. The reason, in the
  // operator's words, when they cannot.
  virtual Status ReestablishDestination(const Destination& d) = 0;
};

}  // namespace georep
