// Operations on sessions and their config (operations.h): validation, locks and the audit
// trail here; the work on the cluster or on georep's own engine is the session's driver's
// (session_driver.h).
#include <fmt/format.h>

#include <optional>
#include <string>
#include <vector>

#include "engine/operations.h"
#include "model/aggregate_status.h"
#include "model/names.h"
#include "model/validation.h"

namespace georep {
namespace {

// Which replica/disperse set the brick at `position` belongs to.
int SetIndexOf(const Volume& v, size_t position) {
  int width = v.disperse_count > 0 ? v.disperse_count : std::max(1, v.replica_count);
  return static_cast<int>(position) / width;
}

// The new session's node rows: one per brick, Created.
std::vector<SessionNodeStatus> NewNodeRows(StoreTx& tx, const Session& s, const Volume& v,
                                           const Destination& d) {
  std::vector<SessionNodeStatus> nodes;
  for (size_t i = 0; i < v.bricks.size(); ++i) {
    SessionNodeStatus n;
    n.session_id = s.id;
    auto h = tx.GetHost(v.bricks[i].host_id);
    n.source_host = h.ok() ? h->name : v.bricks[i].host_id;
    n.source_brick = v.bricks[i].path;
    n.set_index = SetIndexOf(v, i);
    n.destination_host = d.host;
    n.status = NodeStatus::kCreated;
    n.updated_at = s.created_at;
    nodes.push_back(n);
  }
  return nodes;
}

// The session create's input of the wrong shape, before anything is asked.
Status ValidateSessionCreate(const SessionSpec& spec, const SessionCreateOptions& options) {
  if (!spec.remote_user.empty())
    GEOREP_RETURN_IF_ERROR(
        ValidateUnixUser("remote user", spec.remote_user).WithField("remote_user"));
  if (!options.sync_method.empty() && options.sync_method != "rsync" &&
      options.sync_method != "tarssh")
    return Status::InvalidArgument("sync method must be rsync or tarssh").WithField("sync_method");
  return Status::Ok();
}

}  // namespace

Result<SessionDetail> Operations::CreateSession(const Actor& a, const SessionSpec& spec,
                                                const SessionCreateOptions& options) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  SessionDetail out;
  Session& s = out.session;
  s.id = ctx_.random.NewUuid();
  s.destination_id = spec.destination_id;
  s.source_volume_id = spec.source_volume_id;
  s.destination_volume = spec.destination_volume;
  s.remote_user = spec.remote_user;
  s.created_at = s.updated_at = ctx_.clock.NowMillis();
  if (Status valid = ValidateSessionCreate(spec, options); !valid.ok()) {
    (void)ctx_.RecordFailure(a, "session.create", "session", "", valid);
    return valid;
  }
  auto guard = ctx_.locks.Lock(DestinationLockKey(spec.destination_id));
  // The monitor must not discover the gluster session between its creation on the cluster
  // and its record here.
  auto dest_for_lock = GetDestination(spec.destination_id);
  auto creating = ctx_.locks.Lock(
      NewSessionLockKey(dest_for_lock.ok() ? dest_for_lock->source_cluster_id : ""));

  // The driver's part first: eligibility, preflights, the session on the cluster.
  SessionCreation created;
  created.sync_method = options.sync_method;
  Status prepared = [&]() -> Status {
    GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(s.destination_id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.source_volume_id));
    Session probe = s;
    if (probe.remote_user.empty()) probe.remote_user = d.remote_user;
    return DriverFor(v.kind).Create(probe, v, d, options, created, out);
  }();
  if (!prepared.ok()) {
    (void)ctx_.RecordFailure(a, "session.create", "session", "", prepared);
    return prepared;
  }
  const std::string& sync_method = created.sync_method;

  std::string msg;
  Status st = ctx_.Audited(a, "session.create", "session", s.id, msg, [&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Destination d, tx.GetDestination(s.destination_id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, tx.GetVolume(s.source_volume_id));
    if (v.cluster_id != d.source_cluster_id) {
      return Status::InvalidArgument(
          fmt::format("volume '{}' is not in the destination's source cluster", v.name));
    }
    GEOREP_RETURN_IF_ERROR(DriverFor(v.kind).ValidateDestinationName(s.destination_volume));
    if (s.remote_user.empty()) s.remote_user = d.remote_user;
    GEOREP_ASSIGN_OR_RETURN(auto existing, tx.ListSessions({"", d.id}));
    for (const auto& e : existing) {
      if (e.destination_volume == s.destination_volume) {
        return Status::AlreadyExists(fmt::format(
            "{}::{} is already the destination of another session", d.host, s.destination_volume));
      }
    }
    s.session_key = fmt::format("{}_{}_{}", v.name, d.host, s.destination_volume);
    out.nodes = NewNodeRows(tx, s, v, d);
    s.status = AggregateSessionStatus(out.nodes);
    GEOREP_RETURN_IF_ERROR(tx.CreateSession(s));
    GEOREP_RETURN_IF_ERROR(tx.ReplaceNodeStatuses(s.id, out.nodes));
    msg = fmt::format("session {} -> {}@{}::{} created", v.name, s.remote_user, d.host,
                      s.destination_volume);
    if (!created.note.empty()) msg += "; " + created.note;
    for (const auto& w : out.warnings) msg += "; warning: " + w;
    if (!sync_method.empty()) {
      GEOREP_RETURN_IF_ERROR(
          tx.PutConfig(SessionConfigEntry{s.id, "sync-method", sync_method, a.name, s.created_at}));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (out.preflight) {
    // A forced rsync session on such a platform shows it for as long as it lasts.
    GEOREP_RETURN_IF_ERROR(
        ctx_.RecordDataRisk(a, s.id, sync_method.empty() ? "rsync" : sync_method, *out.preflight));
    GEOREP_ASSIGN_OR_RETURN(SessionDetail fresh, GetSession(s.id));
    out.alerts = fresh.alerts;
  }
  return out;
}

Result<std::vector<SessionDetail>> Operations::ListSessionDetails(const SessionFilter& filter) {
  return Read<std::vector<SessionDetail>>(
      ctx_.store, [&](StoreTx& tx) -> Result<std::vector<SessionDetail>> {
        if (!filter.source_volume_id.empty())
          GEOREP_RETURN_IF_ERROR(tx.GetVolume(filter.source_volume_id).status());
        if (!filter.destination_id.empty())
          GEOREP_RETURN_IF_ERROR(tx.GetDestination(filter.destination_id).status());
        GEOREP_ASSIGN_OR_RETURN(std::vector<Session> sessions, tx.ListSessions(filter));
        std::vector<SessionDetail> out;
        out.reserve(sessions.size());
        for (Session& s : sessions) {
          SessionDetail d;
          GEOREP_ASSIGN_OR_RETURN(d.nodes, tx.ListNodeStatuses(s.id));
          d.session = std::move(s);
          GEOREP_RETURN_IF_ERROR(ctx_.FillHealth(tx, d));
          out.push_back(std::move(d));
        }
        return out;
      });
}

Result<SessionDetail> Operations::RunSessionAction(const Actor& a, const std::string& id,
                                                   SessionAction action, bool force) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  const std::string event = "session." + std::string(Name(action));
  std::optional<Preflight> preflight;  // when the action was checked against one
  std::string after_warning;
  Status done = [&]() -> Status {
    auto guard = ctx_.locks.Lock(SessionLockKey(id));
    GEOREP_ASSIGN_OR_RETURN(SessionDetail s, GetSession(id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.session.source_volume_id));
    GEOREP_RETURN_IF_ERROR(CheckSessionAction(s.session.status, action, force));
    GEOREP_ASSIGN_OR_RETURN(std::string answer,
                            DriverFor(v.kind).RunAction(s, v, action, force, preflight));
    std::string oid = id, msg = fmt::format("{}: {}", s.session.session_key, answer);
    return ctx_.Audited(a, event, "session", oid, msg, [](StoreTx&) { return Status::Ok(); });
  }();
  if (!done.ok()) {
    (void)ctx_.RecordFailure(a, event, "session", id, done);
    return done;
  }
  if (preflight) {
    GEOREP_RETURN_IF_ERROR(ctx_.RecordDataRisk(a, id, "rsync", *preflight));
    if (preflight->rsync_unsafe)
      after_warning = fmt::format("data at risk (forced): {}", preflight->Summary());
  }
  GEOREP_ASSIGN_OR_RETURN(SessionDetail after, RefreshSession(a, id));
  after.preflight = preflight;
  if (!after_warning.empty()) after.warnings.push_back(after_warning);
  return after;
}

Result<SessionDetail> Operations::RefreshSession(const Actor& a, const std::string& id) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  auto guard = ctx_.locks.Lock(SessionLockKey(id));
  GEOREP_ASSIGN_OR_RETURN(Session s, ctx_.ReadSession(id));
  GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.source_volume_id));
  return DriverFor(v.kind).Refresh(a, s, v);
}

Status Operations::RemoveSession(const Actor& a, const std::string& id, bool force,
                                 bool reset_sync_time) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  // One lock across both steps, so the monitor never sees the session gone from the cluster
  // but still recorded.
  auto guard = ctx_.locks.Lock(SessionLockKey(id));
  std::optional<Volume> removed_volume;  // the session's source
  std::optional<Session> removed_session;
  bool gone_outside = false;  // gluster no longer has it: nothing to stop or delete there
  if (auto s = GetSession(id); s.ok()) {
    removed_session = s->session;
    auto v = GetVolume(s->session.source_volume_id);
    if (v.ok()) removed_volume = *v;
    gone_outside = s->session.status == SessionStatus::kUnknown &&
                   s->session.status_reason.rfind("deleted outside georep", 0) == 0;
    SessionRemoval how;
    how.force = force;
    how.allowed = CheckSessionAction(s->session.status, SessionAction::kDelete, force).ok();
    how.gone_outside = gone_outside;
    how.reset_sync_time = reset_sync_time;
    Status deleted =
        v.ok() ? DriverFor(v->kind).DeleteForRemoval(s->session, *v, how) : Status::Ok();
    if (!deleted.ok() && !force) {
      (void)ctx_.RecordFailure(a, "session.remove", "session", id, deleted);
      return deleted;
    }
  }
  std::string oid = id, msg;
  Status removed =
      ctx_.Audited(a, "session.remove", "session", oid, msg, [&](StoreTx& tx) -> Status {
        GEOREP_ASSIGN_OR_RETURN(Session s, tx.GetSession(id));
        bool removable = s.status == SessionStatus::kCreated ||
                         s.status == SessionStatus::kStopped || gone_outside;
        if (!removable && !force) {
          return Status::FailedPrecondition(fmt::format(
              "session is {}; stop it before removing it, or use force", Name(s.status)));
        }
        msg = fmt::format("session {} removed{}", s.session_key,
                          gone_outside ? " (it had been deleted outside georep)"
                          : removable  ? ""
                                       : " (forced)");
        return tx.DeleteSession(id);
      });
  // What it left behind goes with it: heartbeat files, worker state, keys.
  if (removed.ok() && removed_volume && removed_session)
    DriverFor(removed_volume->kind).ForgetRemoved(*removed_session, *removed_volume);
  return removed;
}

// ---------------------------------------------------------------- config

Result<ConfigItem> Operations::SetConfig(const Actor& a, const std::string& session_id,
                                         const std::string& key, const std::string& value,
                                         bool force) {
  // A checkpoint is a moment, set as operators run sessions; every other option is the
  // session's shape, and several name programs that run as root on the hosts.
  GEOREP_RETURN_IF_ERROR(
      Require(a, NormaliseConfigKey(key) == "checkpoint" ? Role::kOperator : Role::kAdmin));
  auto guard = ctx_.locks.Lock(SessionLockKey(session_id));
  ConfigItem item;
  std::optional<Preflight> preflight;  // when sync-method is set
  std::string oid = session_id, msg;
  // Validate, then have the session's driver apply it, then record it.
  Status st = [&]() -> Status {
    GEOREP_ASSIGN_OR_RETURN(Session s, ctx_.ReadSession(session_id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.source_volume_id));
    const ConfigOption* o = FindConfigOption(v.kind, key);
    if (!o) {
      return Status::InvalidArgument(fmt::format("'{}' is not a config option of {} sessions",
                                                 key.substr(0, 64), Name(v.kind)));
    }
    std::string given = value;
    if (o->key == "checkpoint" && value == "now")
      given = std::to_string(ctx_.clock.NowMillis() / 1000);
    GEOREP_ASSIGN_OR_RETURN(std::string canonical, ValidateConfigValue(*o, given));
    item = ConfigItem{o, canonical, false, a.name, ctx_.clock.NowMillis()};
    return DriverFor(v.kind).ApplyConfig(s, v, *o, value, force, item, preflight);
  }();
  if (!st.ok()) {
    (void)ctx_.RecordFailure(a, "session.config.set", "session", oid, st);
    return st;
  }
  msg = fmt::format("{} set to '{}'", item.option->key, item.value);
  st = ctx_.Audited(a, "session.config.set", "session", oid, msg, [&](StoreTx& tx) -> Status {
    return tx.PutConfig(SessionConfigEntry{session_id, std::string(item.option->key), item.value,
                                           a.name, item.changed_at});
  });
  if (!st.ok()) return st;
  if (item.option->key == "sync-method")
    GEOREP_RETURN_IF_ERROR(
        ctx_.RecordDataRisk(a, session_id, item.value, preflight.value_or(Preflight{})));
  return item;
}

Status Operations::ResetConfig(const Actor& a, const std::string& session_id,
                               const std::string& key) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  auto guard = ctx_.locks.Lock(SessionLockKey(session_id));
  std::string oid = session_id, msg;
  const ConfigOption* option = nullptr;
  Status st = [&]() -> Status {
    GEOREP_ASSIGN_OR_RETURN(Session s, ctx_.ReadSession(session_id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.source_volume_id));
    option = FindConfigOption(v.kind, key);
    if (!option) {
      return Status::InvalidArgument(fmt::format("'{}' is not a config option of {} sessions",
                                                 key.substr(0, 64), Name(v.kind)));
    }
    return DriverFor(v.kind).ResetConfig(s, v, *option);
  }();
  if (!st.ok()) {
    (void)ctx_.RecordFailure(a, "session.config.reset", "session", oid, st);
    return st;
  }
  msg = fmt::format("{} reset to default '{}'", option->key, option->default_value);
  return ctx_.Audited(a, "session.config.reset", "session", oid, msg, [&](StoreTx& tx) {
    return tx.DeleteConfig(session_id, std::string(option->key));
  });
}

}  // namespace georep
