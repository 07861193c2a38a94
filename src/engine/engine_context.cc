// EngineContext's services (engine_context.h): reads, the audit trail, alerts, recording a
// session's reported status, and reaching destination hosts.
#include "engine/engine_context.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include "base/log.h"
#include "gluster/cli_xml.h"
#include "model/aggregate_status.h"
#include "model/names.h"
#include "model/session_figures.h"

namespace georep {
namespace {

bool Troubled(SessionStatus s) {
  return s == SessionStatus::kFaulty || s == SessionStatus::kPartialFaulty;
}

bool Running(NodeStatus s) {
  return s == NodeStatus::kActive || s == NodeStatus::kPassive || s == NodeStatus::kInitializing ||
         s == NodeStatus::kFaulty;
}

int64_t CompletedCheckpoint(const std::vector<SessionNodeStatus>& nodes) {
  int64_t checkpoint = 0;
  for (const auto& n : nodes) {
    if (n.status != NodeStatus::kActive) continue;
    if (n.checkpoint_time == 0 || !n.checkpoint_completed) return 0;
    if (checkpoint != 0 && checkpoint != n.checkpoint_time) return 0;
    checkpoint = n.checkpoint_time;
  }
  return checkpoint;
}

bool SameHost(const std::string& reported, const Host& h) {
  return reported == h.address || reported == h.name;
}

std::string FormatUtc(int64_t millis) {
  const std::time_t t = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
}  // namespace

Status EngineContext::RecordFailure(const Actor& a, std::string_view action,
                                    std::string_view object_type, const std::string& object_id,
                                    const Status& why) {
  Status st = store.Transaction([&](StoreTx& tx) -> Status {
    auto ev = tx.AppendEvent(Event{0, clock.NowMillis(), a.name, std::string(action),
                                   std::string(object_type), object_id, "failed", why.message()});
    return ev.ok() ? Status::Ok() : ev.status();
  });
  // Callers report the refusal itself whatever becomes of its record; a record that could not
  // be written is not dropped in silence.
  if (!st.ok()) {
    spdlog::error(
        "msg=\"audit event not written\" actor={} action={} object={} refusal={} error={}",
        LogValue(a.name), action, LogValue(object_id), LogValue(why.message()),
        LogValue(st.message()));
  }
  return st;
}

Status EngineContext::Audited(const Actor& a, std::string_view action, std::string_view object_type,
                              std::string& object_id, std::string& message,
                              const std::function<Status(StoreTx&)>& body) {
  Status st = store.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(body(tx));
    auto ev = tx.AppendEvent(Event{0, clock.NowMillis(), a.name, std::string(action),
                                   std::string(object_type), object_id, "ok", message});
    return ev.ok() ? Status::Ok() : ev.status();
  });
  if (!st.ok()) {
    // The operation's own error is what the caller sees; an audit write failure is logged by
    // the store's caller only through the returned status of the operation.
    (void)RecordFailure(a, action, object_type, object_id, st);
  }
  return st;
}

Status EngineContext::AppendEvent(const Event& e) {
  return store.Transaction([&](StoreTx& tx) { return tx.AppendEvent(e).status(); });
}

Result<std::vector<Host>> EngineContext::ListHosts(const std::string& cluster_id) {
  return Read<std::vector<Host>>(store, [&](StoreTx& tx) -> Result<std::vector<Host>> {
    GEOREP_RETURN_IF_ERROR(tx.GetCluster(cluster_id).status());
    return tx.ListHosts(cluster_id);
  });
}

Result<std::vector<Cluster>> EngineContext::ListClusters() {
  return Read<std::vector<Cluster>>(store, [](StoreTx& tx) { return tx.ListClusters(); });
}

Result<Cluster> EngineContext::GetCluster(const std::string& id) {
  return Read<Cluster>(store, [&](StoreTx& tx) { return tx.GetCluster(id); });
}

Result<std::vector<Destination>> EngineContext::ListDestinations(const std::string& cluster_id) {
  return Read<std::vector<Destination>>(
      store, [&](StoreTx& tx) -> Result<std::vector<Destination>> {
        // Empty: every cluster's.
        if (!cluster_id.empty()) GEOREP_RETURN_IF_ERROR(tx.GetCluster(cluster_id).status());
        return tx.ListDestinations(cluster_id);
      });
}

Result<Host> EngineContext::GetHost(const std::string& id) {
  return Read<Host>(store, [&](StoreTx& tx) { return tx.GetHost(id); });
}

Result<std::vector<Volume>> EngineContext::ListVolumes(const std::string& cluster_id) {
  return Read<std::vector<Volume>>(store, [&](StoreTx& tx) -> Result<std::vector<Volume>> {
    if (!cluster_id.empty()) GEOREP_RETURN_IF_ERROR(tx.GetCluster(cluster_id).status());
    return tx.ListVolumes(cluster_id);
  });
}

Result<Volume> EngineContext::GetVolume(const std::string& id) {
  return Read<Volume>(store, [&](StoreTx& tx) { return tx.GetVolume(id); });
}

Result<Destination> EngineContext::GetDestination(const std::string& id) {
  return Read<Destination>(store, [&](StoreTx& tx) { return tx.GetDestination(id); });
}

Result<std::vector<Session>> EngineContext::ListSessions(const SessionFilter& filter) {
  return Read<std::vector<Session>>(store, [&](StoreTx& tx) -> Result<std::vector<Session>> {
    if (!filter.source_volume_id.empty())
      GEOREP_RETURN_IF_ERROR(tx.GetVolume(filter.source_volume_id).status());
    if (!filter.destination_id.empty())
      GEOREP_RETURN_IF_ERROR(tx.GetDestination(filter.destination_id).status());
    return tx.ListSessions(filter);
  });
}

Result<Session> EngineContext::ReadSession(const std::string& id) {
  return Read<Session>(store, [&](StoreTx& tx) { return tx.GetSession(id); });
}

Result<SessionDetail> EngineContext::GetSession(const std::string& id) {
  return Read<SessionDetail>(store, [&](StoreTx& tx) -> Result<SessionDetail> {
    SessionDetail d;
    GEOREP_ASSIGN_OR_RETURN(d.session, tx.GetSession(id));
    GEOREP_ASSIGN_OR_RETURN(d.nodes, tx.ListNodeStatuses(id));
    GEOREP_RETURN_IF_ERROR(FillHealth(tx, d));
    return d;
  });
}

Result<std::vector<ConfigItem>> EngineContext::GetConfig(const std::string& session_id) {
  return Read<std::vector<ConfigItem>>(store, [&](StoreTx& tx) -> Result<std::vector<ConfigItem>> {
    GEOREP_ASSIGN_OR_RETURN(Session s, tx.GetSession(session_id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, tx.GetVolume(s.source_volume_id));
    GEOREP_ASSIGN_OR_RETURN(auto set, tx.ListConfig(session_id));
    std::vector<ConfigItem> items;
    for (const auto& o : ConfigCatalog(v.kind)) {
      ConfigItem item{&o, std::string(o.default_value), true, "", 0};
      for (const auto& e : set) {
        if (e.key == o.key) {
          item.value = e.value;
          item.is_default = false;
          item.changed_by = e.changed_by;
          item.changed_at = e.changed_at;
        }
      }
      items.push_back(item);
    }
    return items;
  });
}

Result<std::vector<Event>> EngineContext::ListEvents(const EventFilter& filter) {
  return Read<std::vector<Event>>(store, [&](StoreTx& tx) { return tx.ListEvents(filter); });
}

Status EngineContext::FillHealth(StoreTx& tx, SessionDetail& d) {
  GEOREP_ASSIGN_OR_RETURN(d.alerts, tx.ListAlerts(d.session.id));
  GEOREP_ASSIGN_OR_RETURN(Volume v, tx.GetVolume(d.session.source_volume_id));
  d.last_synced = SessionLastSynced(d.nodes);
  return fill_kind_health ? fill_kind_health(tx, v, d) : Status::Ok();
}

Status EngineContext::SetAlert(const Actor& a, const std::string& session_id,
                               const std::string& kind, bool on, const std::string& message,
                               const std::string& event_action) {
  const int64_t now = clock.NowMillis();
  return store.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Session s, tx.GetSession(session_id));
    GEOREP_ASSIGN_OR_RETURN(std::vector<SessionAlert> alerts, tx.ListAlerts(session_id));
    auto it = std::find_if(alerts.begin(), alerts.end(),
                           [&](const SessionAlert& x) { return x.kind == kind; });
    const bool existed = it != alerts.end();
    if (on) {
      GEOREP_RETURN_IF_ERROR(
          tx.PutAlert({session_id, kind, message, existed ? it->since : now, now}));
      if (!existed) {
        GEOREP_RETURN_IF_ERROR(
            tx.AppendEvent(Event{0, now, a.name, event_action, "session", session_id, "failed",
                                 fmt::format("session {}: {}", s.session_key, message)})
                .status());
      }
    } else if (existed) {
      GEOREP_RETURN_IF_ERROR(tx.DeleteAlert(session_id, kind));
      GEOREP_RETURN_IF_ERROR(tx.AppendEvent(Event{0, now, a.name, event_action + "_cleared",
                                                  "session", session_id, "ok",
                                                  fmt::format("session {}: no longer {} (was: {})",
                                                              s.session_key, kind, it->message)})
                                 .status());
    }
    return Status::Ok();
  });
}

Status EngineContext::RecordDataRisk(const Actor& a, const std::string& session_id,
                                     const std::string& sync_method, const Preflight& preflight) {
  const bool at_risk = sync_method == "rsync" && preflight.rsync_unsafe;
  return SetAlert(a, session_id, "data-at-risk", at_risk,
                  at_risk ? fmt::format("data at risk: sync-method is rsync, and {}; set "
                                        "sync-method tarssh",
                                        preflight.Summary())
                          : "",
                  "session.data_at_risk");
}

const GeoRepStatus* EngineContext::FindReported(const std::vector<GeoRepStatus>& reported,
                                                const Volume& v, const Destination& d,
                                                const Session& s) {
  for (const auto& g : reported) {
    const std::string user = s.remote_user.empty() ? d.remote_user : s.remote_user;
    if (g.source_volume == v.name && g.destination_host == d.host &&
        g.destination_volume == s.destination_volume && g.remote_user == user)
      return &g;
  }
  return nullptr;
}

std::vector<SessionNodeStatus> EngineContext::NodeRows(const Session& s, const Volume& v,
                                                       const Destination& d,
                                                       const std::vector<Host>& hosts,
                                                       const GeoRepStatus& reported,
                                                       const std::string& answered_by) {
  const int64_t now = clock.NowMillis();
  const int width = v.disperse_count > 0 ? v.disperse_count : std::max(1, v.replica_count);
  std::map<std::string, const Host*> by_id;
  for (const auto& h : hosts) by_id[h.id] = &h;
  std::vector<SessionNodeStatus> nodes;
  std::set<size_t> seen;  // brick positions gluster reported
  bool running = false;
  for (SessionNodeStatus n : reported.nodes) {
    n.session_id = s.id;
    n.updated_at = now;
    // The replica/disperse set comes from the brick's position in the volume: the same path
    // on another host is another brick.
    for (size_t i = 0; i < v.bricks.size(); ++i) {
      auto h = by_id.find(v.bricks[i].host_id);
      if (v.bricks[i].path != n.source_brick || h == by_id.end() ||
          !SameHost(n.source_host, *h->second))
        continue;
      n.set_index = static_cast<int>(i) / width;
      n.source_host = h->second->name;
      seen.insert(i);
    }
    if (n.destination_host.empty() || n.destination_host == "N/A") n.destination_host = d.host;
    running = running || Running(n.status);
    nodes.push_back(n);
  }
  // Bricks gluster did not report: their node's glusterd does not answer its peers. While
  // the session runs that brick is not being watched, which is a fault.
  for (size_t i = 0; i < v.bricks.size(); ++i) {
    if (seen.count(i)) continue;
    SessionNodeStatus n;
    n.session_id = s.id;
    auto h = by_id.find(v.bricks[i].host_id);
    n.source_host = h == by_id.end() ? v.bricks[i].host_id : h->second->name;
    n.source_brick = v.bricks[i].path;
    n.set_index = static_cast<int>(i) / width;
    n.destination_host = d.host;
    n.status = running ? NodeStatus::kFaulty : NodeStatus::kUnknown;
    n.status_reason = fmt::format(
        "gluster on {} does not report this brick: glusterd on {} does "
        "not answer its peers",
        answered_by, n.source_host);
    n.updated_at = now;
    nodes.push_back(n);
  }
  std::stable_sort(nodes.begin(), nodes.end(),
                   [](const auto& x, const auto& y) { return x.set_index < y.set_index; });
  return nodes;
}

Result<SessionDetail> EngineContext::ApplyReportedStatus(const Actor& a, const std::string& id,
                                                         const std::vector<GeoRepStatus>* reported,
                                                         const std::string& answered_by,
                                                         const std::string& unreachable,
                                                         int64_t asked_at,
                                                         const NodeRowsAdjustment& adjust) {
  GEOREP_ASSIGN_OR_RETURN(SessionDetail before, GetSession(id));
  // An operation recorded fresher news than this answer (it was asked before the operation
  // ran): keep them.
  if (before.session.updated_at > asked_at) return before;
  GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(before.session.source_volume_id));
  GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(before.session.destination_id));
  GEOREP_ASSIGN_OR_RETURN(std::vector<Host> hosts, ListHosts(v.cluster_id));
  const int64_t now = clock.NowMillis();
  SessionDetail after = before;
  after.session.updated_at = now;
  const GeoRepStatus* found = reported ? FindReported(*reported, v, d, before.session) : nullptr;
  if (found) {
    after.nodes = NodeRows(before.session, v, d, hosts, *found, answered_by);
    if (adjust) adjust(before, v, d, hosts, after.nodes);
    after.session.status = AggregateSessionStatus(after.nodes);
    // The session's reason: a node's, one that says why (from gsyncd's log or gluster's
    // answer) before one that says only that gsyncd's log could not tell.
    after.session.status_reason.clear();
    bool telling = false;
    for (const auto& n : after.nodes) {
      if (n.status_reason.empty()) continue;
      const bool says_why = n.status_reason.rfind("gsyncd log on ", 0) != 0 &&
                            n.status_reason.find(" logged nothing about ") == std::string::npos;
      if (telling && !says_why) continue;
      after.session.status_reason = n.status_reason;
      telling = telling || says_why;
    }
  } else {
    // Gone from the cluster, or the cluster cannot be asked: what georep knew is kept, marked
    // Unknown with the reason.
    after.session.status = SessionStatus::kUnknown;
    after.session.status_reason =
        reported ? fmt::format("deleted outside georep: gluster on {} no longer has this session",
                               answered_by)
                 : unreachable;
    for (auto& n : after.nodes) {
      n.status = NodeStatus::kUnknown;
      n.crawl = CrawlStatus::kNotApplicable;
      n.status_reason = after.session.status_reason;
      n.updated_at = now;
    }
  }

  // What changed, as events: Faulty, recovered, deleted outside, checkpoint completed.
  std::vector<Event> events;
  auto event = [&](std::string action, bool ok, std::string msg) {
    events.push_back(Event{0, now, a.name, std::move(action), "session", id, ok ? "ok" : "failed",
                           std::move(msg)});
  };
  const std::string& key = after.session.session_key;
  const SessionStatus was = before.session.status, is = after.session.status;
  if (!found && reported) {
    if (before.session.status_reason != after.session.status_reason)
      event("session.deleted_outside", false,
            fmt::format("session {} {}", key, after.session.status_reason));
  } else if (is != was) {
    if (Troubled(is)) {
      event("session.faulty", false,
            fmt::format(
                "session {} is {} (was {}){}", key, Name(is), Name(was),
                after.session.status_reason.empty() ? "" : ": " + after.session.status_reason));
    } else if (Troubled(was) && found) {
      event("session.recovered", true,
            fmt::format("session {} recovered: {} (was {})", key, Name(is), Name(was)));
    } else {
      // A session that stopped by itself has its reason from gsyncd's log.
      const std::string& why = found ? after.session.status_reason : unreachable;
      event("session.status", found,
            fmt::format("session {} is {} (was {}){}", key, Name(is), Name(was),
                        why.empty() ? "" : ": " + why));
    }
  }
  // A node's own fault, even where its replica's Active worker keeps the session going (the
  // session then stays Active, but the set has lost its standby): an event of its own.
  if (found) {
    for (const auto& n : after.nodes) {
      auto old = std::find_if(before.nodes.begin(), before.nodes.end(), [&](const auto& b) {
        return b.source_host == n.source_host && b.source_brick == n.source_brick;
      });
      const NodeStatus prior = old == before.nodes.end() ? NodeStatus::kUnknown : old->status;
      if (n.status == NodeStatus::kFaulty && prior != NodeStatus::kFaulty) {
        event("session.node_faulty", false,
              fmt::format("session {}: node {}:{} is Faulty{}", key, n.source_host, n.source_brick,
                          n.status_reason.empty() ? "" : ": " + n.status_reason));
      } else if (prior == NodeStatus::kFaulty && n.status != NodeStatus::kFaulty &&
                 n.status != NodeStatus::kUnknown) {
        event("session.node_recovered", true,
              fmt::format("session {}: node {}:{} is no longer Faulty: {}", key, n.source_host,
                          n.source_brick, Name(n.status)));
      }
    }
  }
  // Once per checkpoint: nodes' checkpoint columns come and go as workers restart, fail over
  // or go unknown; what was announced is kept with the session.
  if (int64_t cp = CompletedCheckpoint(after.nodes);
      cp != 0 && cp != before.session.checkpoint_announced) {
    after.session.checkpoint_announced = cp;
    int64_t done = 0;
    for (const auto& n : after.nodes) done = std::max(done, n.checkpoint_completion_time);
    event("session.checkpoint_completed", true,
          fmt::format("session {}: checkpoint of {} completed at {}", key, FormatUtc(cp),
                      FormatUtc(done)));
  }

  Status st = store.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(tx.UpdateSession(after.session));
    GEOREP_RETURN_IF_ERROR(tx.ReplaceNodeStatuses(id, after.nodes));
    for (const auto& e : events) GEOREP_RETURN_IF_ERROR(tx.AppendEvent(e).status());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  // As a read shows it: the session's figures from the nodes just recorded.
  return GetSession(id);
}

Result<std::unique_ptr<RelayingRunner>> EngineContext::DestinationRunner(const Destination& d) {
  Host dest;
  dest.name = dest.address = d.host;
  dest.ssh_port = d.ssh_port;
  dest.ssh_user = "root";
  dest.transport = HostTransport::kSsh;
  dest.ssh_fingerprint = d.ssh_fingerprint;
  Host relay;  // none, unless the source host is known
  relay.transport = HostTransport::kLocal;
  if (auto src = GetHost(d.source_host_id); src.ok()) relay = *src;
  return DestinationRunner(dest, relay);
}

Result<std::unique_ptr<RelayingRunner>> EngineContext::DestinationRunner(const Host& dest,
                                                                         const Host& relay) {
  if (!hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
  std::unique_ptr<CommandRunner> relayed;
  std::string relay_name;
  if (relay.transport == HostTransport::kSsh && !relay.ssh_fingerprint.empty()) {
    relayed = hosts->RunnerVia(dest, relay);
    relay_name = fmt::format("source host {}", relay.name);
  }
  return std::make_unique<RelayingRunner>(hosts->RunnerFor(dest), std::move(relayed), relay_name);
}

Status EngineContext::CheckDestinationUnused(const Destination& d,
                                             const std::string& destination_volume) {
  GEOREP_ASSIGN_OR_RETURN(auto existing, ListSessions({"", d.id}));
  for (const auto& e : existing) {
    if (e.destination_volume == destination_volume) {
      return Status::AlreadyExists(fmt::format(
          "{}::{} is already the destination of another session", d.host, destination_volume));
    }
  }
  return Status::Ok();
}

}  // namespace georep
