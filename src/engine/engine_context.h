// EngineContext: what Operations and the session drivers (session_driver.h) share -- the store,
// the clock, randomness, the per-object locks, the hosts, the worker supervisor and the
// engine's settings -- and the services built on them alone: reads in one transaction, the
// audit trail (Audited, RecordFailure), a session's standing alerts, recording the status a
// session reported, and reaching a destination host.
//
// One EngineContext is owned by Operations and lent to its drivers and to the classes it
// hands out (UserAccounts, SessionVerifier, PeriodicVerifier); it knows no driver (a
// session's kind-specific health comes through `fill_kind_health`). Thread-safe, as the
// store, locks and hosts it holds are.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "engine/host_connector.h"
#include "engine/object_locks.h"
#include "engine/operation_types.h"
#include "store/store.h"

namespace georep {

class MessageSender;
class WorkerSupervisor;
struct GeoRepStatus;  // gluster/cli_xml.h

// Reads inside one transaction and hands back the value.
template <typename T, typename Fn>
Result<T> Read(Store& store, Fn fn) {
  Result<T> out = Status::Internal("not read");
  Status st = store.Transaction([&](StoreTx& tx) -> Status {
    out = fn(tx);
    return out.ok() ? Status::Ok() : out.status();
  });
  if (!st.ok()) return st;
  return out;
}

struct EngineContext {
  EngineContext(Store& store, Clock& clock, Random& random, ObjectLocks& locks,
                HostConnector* hosts)
      : store(store), clock(clock), random(random), locks(locks), hosts(hosts) {}

  Store& store;
  Clock& clock;
  Random& random;
  ObjectLocks& locks;
  HostConnector* hosts;  // null: no host is ever reached (some unit tests)
  // Directory sessions' workers (not owned; null: they cannot run), started as
  // `georep_binary worker ...`.
  WorkerSupervisor* workers = nullptr;
  std::string georep_binary;
  // How notifications leave the engine (webhooks, e-mail); null: they wait, queued.
  MessageSender* sender = nullptr;
  std::string data_dir;  // the engine's data directory, which no destination may touch
  std::vector<std::string> volume_roots;  // directory volumes only under these, if set
  bool volume_roots_set = false;
  // The health of a session that depends on its kind (lag, throughput, heartbeat): the
  // session's driver's FillHealth, set by Operations.
  std::function<Status(StoreTx&, const Volume&, SessionDetail&)> fill_kind_health;

  // Runs `body` in a transaction and records the outcome as an Event in the audit trail.
  // `object_id` may be filled in by `body` (for creations).
  Status Audited(const Actor& a, std::string_view action, std::string_view object_type,
                 std::string& object_id, std::string& message,
                 const std::function<Status(StoreTx&)>& body);
  // Records a refused or failed action as a "failed" event; a record that cannot be written is
  // logged as an error (and returned), so callers that go on may ignore the result.
  Status RecordFailure(const Actor& a, std::string_view action, std::string_view object_type,
                       const std::string& object_id, const Status& why);
  // Appends one event (the caller's own outcome) in a transaction of its own.
  Status AppendEvent(const Event& e);

  // Reads, each in one transaction.
  Result<std::vector<Cluster>> ListClusters();
  Result<Cluster> GetCluster(const std::string& id);
  // Empty cluster_id: every cluster's.
  Result<std::vector<Destination>> ListDestinations(const std::string& cluster_id);
  Result<Host> GetHost(const std::string& id);
  Result<std::vector<Host>> ListHosts(const std::string& cluster_id);
  Result<Volume> GetVolume(const std::string& id);
  Result<std::vector<Volume>> ListVolumes(const std::string& cluster_id);
  Result<Destination> GetDestination(const std::string& id);
  Result<std::vector<Session>> ListSessions(const SessionFilter& filter);
  Result<Session> ReadSession(const std::string& id);
  Result<SessionDetail> GetSession(const std::string& id);
  Result<std::vector<ConfigItem>> GetConfig(const std::string& session_id);
  Result<std::vector<Event>> ListEvents(const EventFilter& filter);
  // Fills `d`'s alerts and last synced, and through fill_kind_health its heartbeat, lag and
  // throughput (model/session_figures.h) -- the nodes' lag as of now.
  Status FillHealth(StoreTx& tx, SessionDetail& d);

  // Puts alert `kind` (with an event when it is new) or clears it (with an event when it
  // existed); `event_action` names both events' action ("session.stalled" ->
  // "session.stalled" / "session.stalled_cleared").
  Status SetAlert(const Actor& a, const std::string& session_id, const std::string& kind, bool on,
                  const std::string& message, const std::string& event_action);
  // Keeps or clears `session_id`'s "data-at-risk" alert for its sync method on `preflight`;
  // records an event when it appears or goes.
  Status RecordDataRisk(const Actor& a, const std::string& session_id,
                        const std::string& sync_method, const Preflight& preflight);

  // What a session's kind does to the node rows a status report gave, before they are
  // recorded (the gluster driver's lag and worker fault reasons); may be empty.
  using NodeRowsAdjustment =
      std::function<void(const SessionDetail& before, const Volume& v, const Destination& d,
                         const std::vector<Host>& hosts, std::vector<SessionNodeStatus>& after)>;
  // Records what was reported for session `id` (null `reported`: the cluster could not be
  // asked, `unreachable` says why), unless the session was updated after `asked_at` (the
  // answer is older than what is recorded), with an event for each change that matters
  // (Faulty, recovered, deleted outside, a node's fault, a checkpoint completed). The caller
  // holds the session's lock.
  Result<SessionDetail> ApplyReportedStatus(const Actor& a, const std::string& id,
                                            const std::vector<GeoRepStatus>* reported,
                                            const std::string& answered_by,
                                            const std::string& unreachable, int64_t asked_at,
                                            const NodeRowsAdjustment& adjust);
  static const GeoRepStatus* FindReported(const std::vector<GeoRepStatus>& reported,
                                          const Volume& v, const Destination& d, const Session& s);
  std::vector<SessionNodeStatus> NodeRows(const Session& s, const Volume& v, const Destination& d,
                                          const std::vector<Host>& hosts,
                                          const GeoRepStatus& reported,
                                          const std::string& answered_by);

  // Reaches the destination host (as root, its key pinned): directly, or, when the engine
  // cannot reach it, through the destination's source host.
  Result<std::unique_ptr<RelayingRunner>> DestinationRunner(const Destination& d);
  // The same for `dest` (the destination as some user), through `relay` (an ssh host with its
  // key pinned; otherwise no relay).
  Result<std::unique_ptr<RelayingRunner>> DestinationRunner(const Host& dest, const Host& relay);
  // Refuses a session whose destination another session of `d` already has.
  Status CheckDestinationUnused(const Destination& d, const std::string& destination_volume);
};

}  // namespace georep
