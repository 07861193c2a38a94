// SqlStore: the Store written once over SqlConnection, in SQL that SQLite and PostgreSQL
// both accept. Enum fields are stored as their API words (model/names.h).
#include <fmt/format.h>

#include <ctime>
#include <mutex>
#include <string>

#include "model/names.h"
#include "store/migrations.h"
#include "store/sql.h"
#include "store/sql_alert_tables.h"
#include "store/sql_statements.h"
#include "store/store.h"

namespace georep {
namespace {

using sql::ExpectOne;
using sql::Params;
using sql::V;

template <typename E, typename Parse>
E EnumOr(const std::string& s, Parse parse, E fallback) {
  auto v = parse(s);
  return v ? *v : fallback;
}

constexpr std::string_view kClusterCols = "id, name, description, created_at";
Cluster ClusterFrom(const SqlRow& r) {
  return Cluster{r.Text(0), r.Text(1), r.Text(2), r.Int(3)};
}

constexpr std::string_view kHostCols =
    "id, cluster_id, name, address, ssh_port, ssh_user, transport, ssh_fingerprint, status, "
    "last_seen, created_at";
Host HostFrom(const SqlRow& r) {
  Host h;
  h.id = r.Text(0);
  h.cluster_id = r.Text(1);
  h.name = r.Text(2);
  h.address = r.Text(3);
  h.ssh_port = static_cast<int>(r.Int(4));
  h.ssh_user = r.Text(5);
  h.transport = EnumOr(r.Text(6), ParseHostTransport, HostTransport::kSsh);
  h.ssh_fingerprint = r.Text(7);
  h.status = EnumOr(r.Text(8), ParseHostStatus, HostStatus::kUnknown);
  h.last_seen = r.Int(9);
  h.created_at = r.Int(10);
  return h;
}
Params HostParams(const Host& h) {
  return {V(h.id),
          V(h.cluster_id),
          V(h.name),
          V(h.address),
          V(h.ssh_port),
          V(h.ssh_user),
          V(Name(h.transport)),
          V(h.ssh_fingerprint),
          V(Name(h.status)),
          V(h.last_seen),
          V(h.created_at)};
}

constexpr std::string_view kVolumeCols =
    "id, cluster_id, name, kind, status, replica_count, disperse_count, size_bytes, used_bytes, "
    "created_at";
Volume VolumeFrom(const SqlRow& r) {
  Volume v;
  v.id = r.Text(0);
  v.cluster_id = r.Text(1);
  v.name = r.Text(2);
  v.kind = EnumOr(r.Text(3), ParseVolumeKind, VolumeKind::kDirectory);
  v.status = EnumOr(r.Text(4), ParseVolumeStatus, VolumeStatus::kUnknown);
  v.replica_count = static_cast<int>(r.Int(5));
  v.disperse_count = static_cast<int>(r.Int(6));
  v.size_bytes = r.Int(7);
  v.used_bytes = r.Int(8);
  v.created_at = r.Int(9);
  return v;
}
Params VolumeParams(const Volume& v) {
  return {V(v.id),           V(v.cluster_id),    V(v.name),           V(Name(v.kind)),
          V(Name(v.status)), V(v.replica_count), V(v.disperse_count), V(v.size_bytes),
          V(v.used_bytes),   V(v.created_at)};
}

constexpr std::string_view kDestinationCols =
    "id, source_cluster_id, source_host_id, host, ssh_port, ssh_fingerprint, remote_user, "
    "connection, connection_reason, last_checked, created_at";
Destination DestinationFrom(const SqlRow& r) {
  Destination d;
  d.id = r.Text(0);
  d.source_cluster_id = r.Text(1);
  d.source_host_id = r.Text(2);
  d.host = r.Text(3);
  d.ssh_port = static_cast<int>(r.Int(4));
  d.ssh_fingerprint = r.Text(5);
  d.remote_user = r.Text(6);
  d.connection = EnumOr(r.Text(7), ParseConnectionStatus, ConnectionStatus::kUnknown);
  d.connection_reason = r.Text(8);
  d.last_checked = r.Int(9);
  d.created_at = r.Int(10);
  return d;
}
Params DestinationParams(const Destination& d) {
  return {V(d.id),           V(d.source_cluster_id), V(d.source_host_id),
          V(d.host),         V(d.ssh_port),          V(d.ssh_fingerprint),
          V(d.remote_user),  V(Name(d.connection)),  V(d.connection_reason),
          V(d.last_checked), V(d.created_at)};
}

constexpr std::string_view kSessionCols =
    "id, destination_id, source_volume_id, destination_volume, remote_user, session_key, status, "
    "created_at, updated_at, status_reason, checkpoint_announced";
Session SessionFrom(const SqlRow& r) {
  Session s;
  s.id = r.Text(0);
  s.destination_id = r.Text(1);
  s.source_volume_id = r.Text(2);
  s.destination_volume = r.Text(3);
  s.remote_user = r.Text(4);
  s.session_key = r.Text(5);
  s.status = EnumOr(r.Text(6), ParseSessionStatus, SessionStatus::kUnknown);
  s.created_at = r.Int(7);
  s.updated_at = r.Int(8);
  s.status_reason = r.Text(9);
  s.checkpoint_announced = r.Int(10);
  return s;
}
Params SessionParams(const Session& s) {
  return {V(s.id),          V(s.destination_id), V(s.source_volume_id),    V(s.destination_volume),
          V(s.remote_user), V(s.session_key),    V(Name(s.status)),        V(s.created_at),
          V(s.updated_at),  V(s.status_reason),  V(s.checkpoint_announced)};
}

constexpr std::string_view kNodeCols =
    "session_id, source_host, source_brick, set_index, destination_host, status, crawl, "
    "last_synced, entry_pending, data_pending, meta_pending, failures, checkpoint_time, "
    "checkpoint_completed, checkpoint_completion_time, updated_at, status_reason, lag_ms, "
    "throughput_bps, lag_grows";
SessionNodeStatus NodeFrom(const SqlRow& r) {
  SessionNodeStatus n;
  n.session_id = r.Text(0);
  n.source_host = r.Text(1);
  n.source_brick = r.Text(2);
  n.set_index = static_cast<int>(r.Int(3));
  n.destination_host = r.Text(4);
  n.status = EnumOr(r.Text(5), ParseNodeStatus, NodeStatus::kUnknown);
  n.crawl = EnumOr(r.Text(6), ParseCrawlStatus, CrawlStatus::kNotApplicable);
  n.last_synced = r.Int(7);
  n.entry_pending = r.Int(8);
  n.data_pending = r.Int(9);
  n.meta_pending = r.Int(10);
  n.failures = r.Int(11);
  n.checkpoint_time = r.Int(12);
  n.checkpoint_completed = r.Int(13) != 0;
  n.checkpoint_completion_time = r.Int(14);
  n.updated_at = r.Int(15);
  n.status_reason = r.Text(16);
  n.lag_ms = r.Int(17);
  n.throughput_bps = r.Int(18);
  n.lag_grows = r.Int(19) != 0;
  return n;
}
Params NodeParams(const std::string& session_id, const SessionNodeStatus& n) {
  return {V(session_id),
          V(n.source_host),
          V(n.source_brick),
          V(n.set_index),
          V(n.destination_host),
          V(Name(n.status)),
          V(Name(n.crawl)),
          V(n.last_synced),
          V(n.entry_pending),
          V(n.data_pending),
          V(n.meta_pending),
          V(n.failures),
          V(n.checkpoint_time),
          V(n.checkpoint_completed),
          V(n.checkpoint_completion_time),
          V(n.updated_at),
          V(n.status_reason),
          V(n.lag_ms),
          V(n.throughput_bps),
          V(n.lag_grows)};
}

constexpr std::string_view kEventCols =
    "id, at, actor, action, object_type, object_id, result, message";
Event EventFrom(const SqlRow& r) {
  return Event{r.Int(0),  r.Int(1),  r.Text(2), r.Text(3),
               r.Text(4), r.Text(5), r.Text(6), r.Text(7)};
}

constexpr std::string_view kUserCols = "id, name, password_hash, role, created_at";
User UserFrom(const SqlRow& r) {
  // An unknown word (a newer engine's role, read by this one) grants the least.
  return User{r.Text(0), r.Text(1), r.Text(2), ParseRole(r.Text(3)).value_or(Role::kViewer),
              r.Int(4)};
}

constexpr std::string_view kTokenCols =
    "id, user_id, name, token_hash, created_at, expires_at, last_used";
ApiToken TokenFrom(const SqlRow& r) {
  return ApiToken{r.Text(0), r.Text(1), r.Text(2), r.Text(3), r.Int(4), r.Int(5), r.Int(6)};
}

class SqlStoreTx final : public StoreTx {
 public:
  explicit SqlStoreTx(SqlConnection& db) : db_(db), alerts_(db) {}

  // --- Clusters
  Status CreateCluster(const Cluster& c) override {
    return Exec(fmt::format("INSERT INTO clusters ({}) VALUES ($1, $2, $3, $4)", kClusterCols),
                {V(c.id), V(c.name), V(c.description), V(c.created_at)});
  }
  Result<Cluster> GetCluster(const std::string& id) override {
    return One<Cluster>(fmt::format("SELECT {} FROM clusters WHERE id = $1", kClusterCols), {V(id)},
                        ClusterFrom, "cluster", id);
  }
  Result<std::vector<Cluster>> ListClusters() override {
    return Many<Cluster>(fmt::format("SELECT {} FROM clusters ORDER BY name", kClusterCols), {},
                         ClusterFrom);
  }
  Status DeleteCluster(const std::string& id) override {
    return ExpectOne(db_.Execute("DELETE FROM clusters WHERE id = $1", {V(id)}), "cluster", id);
  }

  // --- Hosts
  Status CreateHost(const Host& h) override {
    return Exec(fmt::format("INSERT INTO hosts ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                            "$10, $11)",
                            kHostCols),
                HostParams(h));
  }
  Status UpdateHost(const Host& h) override {
    return ExpectOne(db_.Execute("UPDATE hosts SET cluster_id = $2, name = $3, address = $4, "
                                 "ssh_port = $5, ssh_user = $6, transport = $7, "
                                 "ssh_fingerprint = $8, status = $9, last_seen = $10, "
                                 "created_at = $11 WHERE id = $1",
                                 HostParams(h)),
                     "host", h.id);
  }
  Result<Host> GetHost(const std::string& id) override {
    return One<Host>(fmt::format("SELECT {} FROM hosts WHERE id = $1", kHostCols), {V(id)},
                     HostFrom, "host", id);
  }
  Result<std::vector<Host>> ListHosts(const std::string& cluster_id) override {
    return Many<Host>(
        fmt::format("SELECT {} FROM hosts WHERE cluster_id = $1 ORDER BY name", kHostCols),
        {V(cluster_id)}, HostFrom);
  }
  Status DeleteHost(const std::string& id) override {
    return ExpectOne(db_.Execute("DELETE FROM hosts WHERE id = $1", {V(id)}), "host", id);
  }

  // --- Volumes
  Status CreateVolume(const Volume& v) override {
    GEOREP_RETURN_IF_ERROR(
        Exec(fmt::format("INSERT INTO volumes ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                         "$10)",
                         kVolumeCols),
             VolumeParams(v)));
    return WriteBricks(v);
  }
  Status UpdateVolume(const Volume& v) override {
    GEOREP_RETURN_IF_ERROR(ExpectOne(
        db_.Execute("UPDATE volumes SET cluster_id = $2, name = $3, kind = $4, status = $5, "
                    "replica_count = $6, disperse_count = $7, size_bytes = $8, used_bytes = $9, "
                    "created_at = $10 WHERE id = $1",
                    VolumeParams(v)),
        "volume", v.id));
    GEOREP_RETURN_IF_ERROR(Exec("DELETE FROM bricks WHERE volume_id = $1", {V(v.id)}));
    return WriteBricks(v);
  }
  Result<Volume> GetVolume(const std::string& id) override {
    GEOREP_ASSIGN_OR_RETURN(
        Volume v, One<Volume>(fmt::format("SELECT {} FROM volumes WHERE id = $1", kVolumeCols),
                              {V(id)}, VolumeFrom, "volume", id));
    GEOREP_RETURN_IF_ERROR(ReadBricks(v));
    return v;
  }
  Result<std::vector<Volume>> ListVolumes(const std::string& cluster_id) override {
    auto vols = cluster_id.empty()
                    ? Many<Volume>(fmt::format("SELECT {} FROM volumes ORDER BY name", kVolumeCols),
                                   {}, VolumeFrom)
                    : Many<Volume>(fmt::format("SELECT {} FROM volumes WHERE cluster_id = $1 "
                                               "ORDER BY name",
                                               kVolumeCols),
                                   {V(cluster_id)}, VolumeFrom);
    if (!vols.ok()) return vols.status();
    for (auto& v : *vols) GEOREP_RETURN_IF_ERROR(ReadBricks(v));
    return vols;
  }
  Status DeleteVolume(const std::string& id) override {
    return ExpectOne(db_.Execute("DELETE FROM volumes WHERE id = $1", {V(id)}), "volume", id);
  }

  // --- Destinations
  Status CreateDestination(const Destination& d) override {
    return Exec(fmt::format("INSERT INTO destinations ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                            "$8, $9, $10, $11)",
                            kDestinationCols),
                DestinationParams(d));
  }
  Status UpdateDestination(const Destination& d) override {
    return ExpectOne(
        db_.Execute("UPDATE destinations SET source_cluster_id = $2, source_host_id = $3, "
                    "host = $4, ssh_port = $5, ssh_fingerprint = $6, remote_user = $7, "
                    "connection = $8, connection_reason = $9, last_checked = $10, "
                    "created_at = $11 WHERE id = $1",
                    DestinationParams(d)),
        "destination", d.id);
  }
  Result<Destination> GetDestination(const std::string& id) override {
    return One<Destination>(
        fmt::format("SELECT {} FROM destinations WHERE id = $1", kDestinationCols), {V(id)},
        DestinationFrom, "destination", id);
  }
  Result<std::vector<Destination>> ListDestinations(const std::string& cluster_id) override {
    return Many<Destination>(fmt::format("SELECT {} FROM destinations WHERE (CAST($1 AS TEXT) = "
                                         "'' OR source_cluster_id = $1) ORDER BY host, remote_user",
                                         kDestinationCols),
                             {V(cluster_id)}, DestinationFrom);
  }
  Status DeleteDestination(const std::string& id) override {
    return ExpectOne(db_.Execute("DELETE FROM destinations WHERE id = $1", {V(id)}), "destination",
                     id);
  }

  // --- Sessions
  Status CreateSession(const Session& s) override {
    return Exec(fmt::format("INSERT INTO sessions ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                            "$9, $10, $11)",
                            kSessionCols),
                SessionParams(s));
  }
  Status UpdateSession(const Session& s) override {
    return ExpectOne(
        db_.Execute("UPDATE sessions SET destination_id = $2, source_volume_id = $3, "
                    "destination_volume = $4, remote_user = $5, session_key = $6, status = $7, "
                    "created_at = $8, updated_at = $9, status_reason = $10, "
                    "checkpoint_announced = $11 WHERE id = $1",
                    SessionParams(s)),
        "session", s.id);
  }
  Result<Session> GetSession(const std::string& id) override {
    return One<Session>(fmt::format("SELECT {} FROM sessions WHERE id = $1", kSessionCols), {V(id)},
                        SessionFrom, "session", id);
  }
  Result<std::vector<Session>> ListSessions(const SessionFilter& f) override {
    // Empty filter fields match everything.
    return Many<Session>(
        fmt::format("SELECT {} FROM sessions WHERE (CAST($1 AS TEXT) = '' OR "
                    "source_volume_id = $1) AND (CAST($2 AS TEXT) = '' OR destination_id = $2) "
                    "ORDER BY created_at, id",
                    kSessionCols),
        {V(f.source_volume_id), V(f.destination_id)}, SessionFrom);
  }
  Status DeleteSession(const std::string& id) override {
    return ExpectOne(db_.Execute("DELETE FROM sessions WHERE id = $1", {V(id)}), "session", id);
  }

  // --- Node status
  Status ReplaceNodeStatuses(const std::string& session_id,
                             const std::vector<SessionNodeStatus>& nodes) override {
    GEOREP_RETURN_IF_ERROR(
        Exec("DELETE FROM session_nodes WHERE session_id = $1", {V(session_id)}));
    const std::string sql = fmt::format(
        "INSERT INTO session_nodes ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
        "$12, $13, $14, $15, $16, $17, $18, $19, $20)",
        kNodeCols);
    for (const auto& n : nodes) {
      GEOREP_RETURN_IF_ERROR(Exec(sql, NodeParams(session_id, n)));
    }
    return Status::Ok();
  }
  Result<std::vector<SessionNodeStatus>> ListNodeStatuses(const std::string& session_id) override {
    return Many<SessionNodeStatus>(
        fmt::format("SELECT {} FROM session_nodes WHERE session_id = $1 ORDER BY set_index, "
                    "source_host, source_brick",
                    kNodeCols),
        {V(session_id)}, NodeFrom);
  }

  // --- Config
  Status PutConfig(const SessionConfigEntry& e) override {
    return Exec(
        "INSERT INTO session_config (session_id, option_key, value, changed_by, changed_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session_id, option_key) DO UPDATE SET "
        "value = excluded.value, changed_by = excluded.changed_by, changed_at = "
        "excluded.changed_at",
        {V(e.session_id), V(e.key), V(e.value), V(e.changed_by), V(e.changed_at)});
  }
  Status DeleteConfig(const std::string& session_id, const std::string& key) override {
    return Exec("DELETE FROM session_config WHERE session_id = $1 AND option_key = $2",
                {V(session_id), V(key)});
  }
  Result<std::vector<SessionConfigEntry>> ListConfig(const std::string& session_id) override {
    return Many<SessionConfigEntry>(
        "SELECT session_id, option_key, value, changed_by, changed_at FROM session_config WHERE "
        "session_id = $1 ORDER BY option_key",
        {V(session_id)}, [](const SqlRow& r) {
          return SessionConfigEntry{r.Text(0), r.Text(1), r.Text(2), r.Text(3), r.Int(4)};
        });
  }

  // --- Alerts
  Status PutAlert(const SessionAlert& a) override {
    return Exec(
        "INSERT INTO session_alerts (session_id, kind, message, since, updated_at) VALUES ($1, "
        "$2, $3, $4, $5) ON CONFLICT (session_id, kind) DO UPDATE SET message = "
        "excluded.message, updated_at = excluded.updated_at",
        {V(a.session_id), V(a.kind), V(a.message), V(a.since), V(a.updated_at)});
  }
  Status DeleteAlert(const std::string& session_id, const std::string& kind) override {
    return Exec("DELETE FROM session_alerts WHERE session_id = $1 AND kind = $2",
                {V(session_id), V(kind)});
  }
  Result<std::vector<SessionAlert>> ListAlerts(const std::string& session_id) override {
    return Many<SessionAlert>(
        "SELECT session_id, kind, message, since, updated_at FROM session_alerts WHERE "
        "(CAST($1 AS TEXT) = '' OR session_id = $1) ORDER BY session_id, since, kind",
        {V(session_id)}, [](const SqlRow& r) {
          return SessionAlert{r.Text(0), r.Text(1), r.Text(2), r.Int(3), r.Int(4)};
        });
  }

  // --- Alerts, notifiers, deliveries and settings (sql_alert_tables.cc)
  Result<int64_t> CreateAlert(const Alert& a) override { return alerts_.CreateAlert(a); }
  Status UpdateAlert(const Alert& a) override { return alerts_.UpdateAlert(a); }
  Result<Alert> GetAlert(int64_t id) override { return alerts_.GetAlert(id); }
  Result<std::vector<Alert>> FindAlerts(const AlertFilter& f) override {
    return alerts_.FindAlerts(f);
  }
  Status CreateNotifier(const Notifier& n) override { return alerts_.CreateNotifier(n); }
  Status UpdateNotifier(const Notifier& n) override { return alerts_.UpdateNotifier(n); }
  Result<Notifier> GetNotifier(const std::string& id) override { return alerts_.GetNotifier(id); }
  Result<std::vector<Notifier>> ListNotifiers() override { return alerts_.ListNotifiers(); }
  Status DeleteNotifier(const std::string& id) override { return alerts_.DeleteNotifier(id); }
  Result<int64_t> CreateDelivery(const AlertDelivery& d) override {
    return alerts_.CreateDelivery(d);
  }
  Status UpdateDelivery(const AlertDelivery& d) override { return alerts_.UpdateDelivery(d); }
  Result<std::vector<AlertDelivery>> ListDeliveries(const DeliveryFilter& f) override {
    return alerts_.ListDeliveries(f);
  }
  Status PutSetting(const EngineSetting& s) override { return alerts_.PutSetting(s); }
  Status DeleteSetting(const std::string& key) override { return alerts_.DeleteSetting(key); }
  Result<std::vector<EngineSetting>> ListSettings() override { return alerts_.ListSettings(); }

  // --- Heartbeats
  Status PutHeartbeat(const SessionHeartbeat& h) override {
    return Exec(
        "INSERT INTO session_heartbeats (session_id, written_seq, written_at, pending_seq, "
        "pending_at, arrived_seq, arrived_written_at, arrived_seen_at, checked_at, problem, "
        "used_bytes, used_at, growth_bps, size_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
        "$10, $11, $12, $13, $14) ON CONFLICT (session_id) DO UPDATE "
        "SET written_seq = excluded.written_seq, written_at = excluded.written_at, "
        "pending_seq = excluded.pending_seq, pending_at = excluded.pending_at, arrived_seq = "
        "excluded.arrived_seq, arrived_written_at = excluded.arrived_written_at, "
        "arrived_seen_at = excluded.arrived_seen_at, checked_at = excluded.checked_at, problem "
        "= excluded.problem, used_bytes = excluded.used_bytes, used_at = excluded.used_at, "
        "growth_bps = excluded.growth_bps, size_bytes = excluded.size_bytes",
        {V(h.session_id), V(h.written_seq), V(h.written_at), V(h.pending_seq), V(h.pending_at),
         V(h.arrived_seq), V(h.arrived_written_at), V(h.arrived_seen_at), V(h.checked_at),
         V(h.problem), V(h.used_bytes), V(h.used_at), V(h.growth_bps), V(h.size_bytes)});
  }
  Result<EngineLease> ClaimLease(const std::string& name, const std::string& holder, int64_t now,
                                 int64_t expires_at, int64_t free_before) override {
    // One statement: the row lock makes concurrent claims take turns, and the WHERE sees the
    // latest holder, so two engines never both succeed.
    GEOREP_RETURN_IF_ERROR(Exec(
        "INSERT INTO engine_leases (name, holder, acquired_at, expires_at) VALUES ($1, $2, $3, "
        "$4) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, acquired_at = CASE WHEN "
        "engine_leases.holder = excluded.holder THEN engine_leases.acquired_at ELSE "
        "excluded.acquired_at END, expires_at = excluded.expires_at WHERE engine_leases.holder = "
        "excluded.holder OR engine_leases.expires_at < $5",
        {V(name), V(holder), V(now), V(expires_at), V(free_before)}));
    return One<EngineLease>(
        "SELECT name, holder, acquired_at, expires_at FROM engine_leases WHERE name = $1",
        {V(name)},
        [](const SqlRow& r) {
          return EngineLease{r.Text(0), r.Text(1), r.Int(2), r.Int(3)};
        },
        "engine lease", name);
  }
  Status ReleaseLease(const std::string& name, const std::string& holder) override {
    return Exec("DELETE FROM engine_leases WHERE name = $1 AND holder = $2", {V(name), V(holder)});
  }
  Result<SessionHeartbeat> GetHeartbeat(const std::string& session_id) override {
    return One<SessionHeartbeat>(
        "SELECT session_id, written_seq, written_at, pending_seq, pending_at, arrived_seq, "
        "arrived_written_at, arrived_seen_at, checked_at, problem, used_bytes, used_at, "
        "growth_bps, size_bytes FROM session_heartbeats WHERE session_id = $1",
        {V(session_id)},
        [](const SqlRow& r) {
          return SessionHeartbeat{r.Text(0), r.Int(1),  r.Int(2),  r.Int(3), r.Int(4),
                                  r.Int(5),  r.Int(6),  r.Int(7),  r.Int(8), r.Text(9),
                                  r.Int(10), r.Int(11), r.Int(12), r.Int(13)};
        },
        "heartbeat of session", session_id);
  }

  // --- Events
  Result<int64_t> AppendEvent(const Event& e) override {
    return sql::InsertReturningId(
        db_,
        "INSERT INTO events (at, actor, action, object_type, object_id, result, message) VALUES "
        "($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        {V(e.at), V(e.actor), V(e.action), V(e.object_type), V(e.object_id), V(e.result),
         V(e.message)});
  }
  Result<std::vector<Event>> ListEvents(const EventFilter& f) override {
    int limit = f.limit <= 0 || f.limit > 1000 ? 1000 : f.limit;
    return Many<Event>(
        fmt::format("SELECT {} FROM events WHERE id > $1 AND (CAST($2 AS TEXT) = '' "
                    "OR object_type = $2) AND "
                    "(CAST($3 AS TEXT) = '' OR object_id = $3) AND (CAST($4 AS "
                    "TEXT) = '' OR action LIKE $5 ESCAPE '\\') "
                    "AND ($7 <= 0 OR id < $7) AND (CAST($8 AS TEXT) = '' OR result = $8) "
                    "ORDER BY id DESC LIMIT $6",
                    kEventCols),
        {V(f.after_id), V(f.object_type), V(f.object_id), V(f.action_prefix),
         V(EscapeLike(f.action_prefix) + "%"), V(limit), V(f.before_id), V(f.result)},
        EventFrom);
  }

  // --- Users and tokens
  Status CreateUser(const User& u) override {
    return Exec(
        fmt::format("INSERT INTO users ({}, admin) VALUES ($1, $2, $3, $4, $5, $6)", kUserCols),
        {V(u.id), V(u.name), V(u.password_hash), V(std::string(Name(u.role))), V(u.created_at),
         V(u.role == Role::kAdmin)});
  }
  Status UpdateUser(const User& u) override {
    return ExpectOne(db_.Execute("UPDATE users SET name = $2, password_hash = $3, role = $4, "
                                 "admin = $5 WHERE id = $1",
                                 {V(u.id), V(u.name), V(u.password_hash),
                                  V(std::string(Name(u.role))), V(u.role == Role::kAdmin)}),
                     "user", u.id);
  }
  Result<User> GetUser(const std::string& id) override {
    return One<User>(fmt::format("SELECT {} FROM users WHERE id = $1", kUserCols), {V(id)},
                     UserFrom, "user", id);
  }
  Result<User> GetUserByName(const std::string& name) override {
    return One<User>(fmt::format("SELECT {} FROM users WHERE name = $1", kUserCols), {V(name)},
                     UserFrom, "user", name);
  }
  Result<std::vector<User>> ListUsers() override {
    return Many<User>(fmt::format("SELECT {} FROM users ORDER BY name", kUserCols), {}, UserFrom);
  }
  Status DeleteUser(const std::string& id) override {
    return ExpectOne(db_.Execute("DELETE FROM users WHERE id = $1", {V(id)}), "user", id);
  }
  Status CreateToken(const ApiToken& t) override {
    return Exec(
        fmt::format("INSERT INTO api_tokens ({}) VALUES ($1, $2, $3, $4, $5, $6, $7)", kTokenCols),
        {V(t.id), V(t.user_id), V(t.name), V(t.token_hash), V(t.created_at), V(t.expires_at),
         V(t.last_used)});
  }
  Result<ApiToken> GetTokenByHash(const std::string& hash) override {
    return One<ApiToken>(fmt::format("SELECT {} FROM api_tokens WHERE token_hash = $1", kTokenCols),
                         {V(hash)}, TokenFrom, "token", "(hidden)");
  }
  Result<std::vector<ApiToken>> ListTokens(const std::string& user_id) override {
    return Many<ApiToken>(fmt::format("SELECT {} FROM api_tokens WHERE user_id = $1 ORDER BY "
                                      "created_at, id",
                                      kTokenCols),
                          {V(user_id)}, TokenFrom);
  }
  Status TouchToken(const std::string& id, int64_t last_used) override {
    return ExpectOne(
        db_.Execute("UPDATE api_tokens SET last_used = $2 WHERE id = $1", {V(id), V(last_used)}),
        "token", id);
  }
  Status DeleteToken(const std::string& id) override {
    return ExpectOne(db_.Execute("DELETE FROM api_tokens WHERE id = $1", {V(id)}), "token", id);
  }

 private:
  static std::string EscapeLike(const std::string& s) {
    std::string out;
    for (char c : s) {
      // A prefix is matched literally: LIKE's wildcards and the escape itself are escaped.
      if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    return out;
  }

  Status Exec(std::string_view statement, const Params& params) {
    return sql::Exec(db_, statement, params);
  }
  template <typename T, typename From>
  Result<T> One(std::string_view statement, const Params& params, From from, std::string_view what,
                const std::string& id) {
    return sql::One<T>(db_, statement, params, from, what, id);
  }
  template <typename T, typename From>
  Result<std::vector<T>> Many(std::string_view statement, const Params& params, From from) {
    return sql::Many<T>(db_, statement, params, from);
  }

  Status WriteBricks(const Volume& v) {
    for (size_t i = 0; i < v.bricks.size(); ++i) {
      GEOREP_RETURN_IF_ERROR(
          Exec("INSERT INTO bricks (volume_id, position, host_id, path) VALUES ($1, $2, $3, $4)",
               {V(v.id), V(static_cast<int64_t>(i)), V(v.bricks[i].host_id), V(v.bricks[i].path)}));
    }
    return Status::Ok();
  }

  Status ReadBricks(Volume& v) {
    auto rows = db_.Query("SELECT host_id, path FROM bricks WHERE volume_id = $1 ORDER BY position",
                          {V(v.id)});
    if (!rows.ok()) return rows.status();
    v.bricks.clear();
    for (const auto& r : *rows) v.bricks.push_back(Brick{r.Text(0), r.Text(1)});
    return Status::Ok();
  }

  SqlConnection& db_;
  SqlAlertTables alerts_;
};

class SqlStore final : public Store {
 public:
  SqlStore(std::unique_ptr<SqlConnection> db, std::string backend)
      : db_(std::move(db)), backend_(std::move(backend)) {}

  Status Transaction(const std::function<Status(StoreTx&)>& fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    GEOREP_RETURN_IF_ERROR(db_->Begin());
    SqlStoreTx tx(*db_);
    Status st = fn(tx);
    if (!st.ok()) {
      // The callback's error is what the caller needs; a failed rollback only adds to the log.
      (void)db_->Rollback();
      return st;
    }
    Status commit = db_->Commit();
    if (!commit.ok()) (void)db_->Rollback();
    return commit;
  }

  int SchemaVersion() override {
    std::lock_guard<std::mutex> lock(mu_);
    auto rows = db_->Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
    return rows.ok() && !rows->empty() ? static_cast<int>((*rows)[0].Int(0)) : 0;
  }

  std::string Backend() const override { return backend_; }

  Status Migrate() {
    std::lock_guard<std::mutex> lock(mu_);
    GEOREP_RETURN_IF_ERROR(db_->ExecScript(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "description TEXT NOT NULL, applied_at BIGINT NOT NULL)"));
    GEOREP_RETURN_IF_ERROR(db_->Begin());
    Status st = ApplyPending();
    if (!st.ok()) {
      (void)db_->Rollback();
      return st.WithContext("schema migration failed");
    }
    return db_->Commit();
  }

 private:
  Status ApplyPending() {
    GEOREP_RETURN_IF_ERROR(db_->LockForMigration());
    auto rows = db_->Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
    if (!rows.ok()) return rows.status();
    int64_t current = (*rows)[0].Int(0);
    const auto& all = Migrations();
    if (!all.empty() && current > all.back().version) {
      return Status::FailedPrecondition(
          fmt::format("the database has schema version {}, newer than this georep knows ({}); "
                      "upgrade georep",
                      current, all.back().version));
    }
    for (const auto& m : all) {
      if (m.version <= current) continue;
      std::string sql(m.sql);
      const std::string serial = db_->dialect() == SqlDialect::kSqlite
                                     ? "INTEGER PRIMARY KEY AUTOINCREMENT"
                                     : "BIGSERIAL PRIMARY KEY";
      for (size_t pos; (pos = sql.find("{serial_pk}")) != std::string::npos;)
        sql.replace(pos, 11, serial);
      GEOREP_RETURN_IF_ERROR(db_->ExecScript(sql));
      auto ins = db_->Execute(
          "INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, "
          "$3)",
          {V(m.version), V(m.description), V(static_cast<int64_t>(time(nullptr)) * 1000)});
      if (!ins.ok()) return ins.status();
    }
    return Status::Ok();
  }

  std::mutex mu_;
  std::unique_ptr<SqlConnection> db_;  // GUARDED_BY(mu_)
  std::string backend_;
};

bool StartsWith(const std::string& s, std::string_view p) {
  return s.rfind(p, 0) == 0;
}

}  // namespace

std::string RedactStoreUrl(const std::string& url) {
  // postgresql://user:secret@host/db -> postgresql://user:***@host/db
  auto scheme = url.find("://");
  if (scheme != std::string::npos) {
    auto at = url.find('@', scheme + 3);
    auto colon = url.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at)
      return url.substr(0, colon + 1) + "***" + url.substr(at);
  }
  // key=value form: password=secret
  auto pw = url.find("password=");
  if (pw != std::string::npos) {
    auto end = url.find(' ', pw);
    return url.substr(0, pw + 9) + "***" + (end == std::string::npos ? "" : url.substr(end));
  }
  return url;
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& url) {
  std::unique_ptr<SqlConnection> conn;
  std::string backend;
  if (StartsWith(url, "postgresql://") || StartsWith(url, "postgres://") ||
      url.find("dbname=") != std::string::npos) {
    GEOREP_ASSIGN_OR_RETURN(conn, OpenPostgres(url));
    backend = "postgresql";
  } else {
    std::string path = url;
    if (StartsWith(path, "sqlite://")) {
      path = path.substr(9);
    } else if (StartsWith(path, "sqlite:")) {
      path = path.substr(7);
    }
    if (path.empty()) return Status::InvalidArgument("empty SQLite database path in " + url);
    GEOREP_ASSIGN_OR_RETURN(conn, OpenSqlite(path));
    backend = "sqlite";
  }
  auto store = std::make_unique<SqlStore>(std::move(conn), backend);
  GEOREP_RETURN_IF_ERROR(store->Migrate());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace georep
