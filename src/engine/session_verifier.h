// SessionVerifier: verify and repair of a session, of any kind. The options of a verify come
// from the session's config (sample, excludes, ignore-deletes, xattrs); the comparing and the
// repairing are the session's driver's (SessionDriver::Verify, CheckRepairable,
// CarryOutRepair). Here are the role each needs, the audit trail (every verify is a
// session.verify event, "ok" or -- with differences -- "failed"; a repair is session.repair)
// and the session's standing "verify-differs" alert, which a user's verify and a repair raise
// or clear, and the periodic verify (periodic_verifier.h) keeps its own way.
//
// It shares EngineContext with Operations and the drivers, and reaches a session's driver
// through `driver_for` (Operations::DriverFor, the one place that tells the kinds apart).
// Operations owns the one SessionVerifier and hands it out as Operations::verifier().
//
// Thread-safe, as EngineContext and the drivers are.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "engine/engine_context.h"
#include "engine/operation_types.h"
#include "engine/session_driver.h"
#include "model/entities.h"
#include "replication/verify.h"

namespace georep {

class SessionVerifier {
 public:
  // The driver of sessions of a kind.
  using DriverLookup = std::function<SessionDriver&(VolumeKind)>;

  // `ctx` must outlive the SessionVerifier, and the drivers `driver_for` gives too.
  SessionVerifier(EngineContext& ctx, DriverLookup driver_for)
      : ctx_(ctx), driver_for_(std::move(driver_for)) {}
  SessionVerifier(const SessionVerifier&) = delete;
  SessionVerifier& operator=(const SessionVerifier&) = delete;

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

 private:
  // The periodic verify runs verifies and keeps the alert by its own rule (it checks the
  // role itself, in PeriodicVerify); nothing else reaches a verify without a role check.
  friend class PeriodicVerifier;

  // A verify of the session, its outcome recorded as an event (a cancelled one: none). The
  // caller has checked the actor's role.
  Result<replication::VerifyReport> RunVerify(const Actor& a, const std::string& id,
                                              int sample_percent, const std::atomic<bool>* cancel);
  // Raises (with `differences`, the first few named) or clears the "verify-differs" alert;
  // `how` says which verify found them.
  Status RecordVerifyDiffers(const Actor& a, const std::string& id,
                             const std::vector<replication::VerifyDifference>& differences,
                             const std::string& how);

  EngineContext& ctx_;
  DriverLookup driver_for_;
};

}  // namespace georep
