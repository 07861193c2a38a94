#include "api/engine_metrics.h"

#include <algorithm>
#include <map>

#include "api/metrics_text.h"
#include "model/names.h"

namespace georep {
namespace {

using F = MetricsText::Family;

// Every family, declared in the order the page shows them.
struct Families {
  explicit Families(MetricsText& t)
      : build_info(t.Declare("georep_build_info", MetricType::kGauge,
                             "The engine's version (the value is always 1)")),
        start_time(t.Declare("georep_engine_start_time_seconds", MetricType::kGauge,
                             "When the engine started, seconds since the Unix epoch")),
        active(t.Declare("georep_engine_active", MetricType::kGauge,
                         "1 when this engine is the active one on its database (it runs the "
                         "sessions and answers for them), 0 when it stands by")),
        monitor_pass(t.Declare("georep_monitor_pass_duration_seconds", MetricType::kHistogram,
                               "How long the monitor's passes over every session took; pass is "
                               "full (discovery and config, at start and every 5 minutes) or "
                               "steady")),
        store_transaction(t.Declare("georep_store_transaction_duration_seconds",
                                    MetricType::kHistogram,
                                    "How long the engine's store transactions took, the wait "
                                    "for the store included")),
        workers_supervised(t.Declare("georep_workers_supervised", MetricType::kGauge,
                                     "Directory sessions whose worker the engine supervises")),
        workers_running(t.Declare("georep_workers_running", MetricType::kGauge,
                                  "Supervised workers whose process is running")),
        worker_restarts(t.Declare("georep_worker_restarts_total", MetricType::kCounter,
                                  "Workers restarted after they ended, since the engine "
                                  "started")),
        session_status(t.Declare("georep_session_status", MetricType::kGauge,
                                 "The session's status: 1 for the current one, 0 for the "
                                 "others")),
        session_lag(t.Declare("georep_session_lag_seconds", MetricType::kGauge,
                              "How far the destination is behind the source: the largest node "
                              "lag (directory sessions) or the end-to-end heartbeat's (gluster "
                              "sessions); absent when unknown")),
        session_throughput(t.Declare("georep_session_throughput_bytes_per_second",
                                     MetricType::kGauge,
                                     "The session's data rate: its nodes' last transfers "
                                     "(directory sessions) or the destination volume's growth "
                                     "(gluster sessions); absent when unknown")),
        session_pending(t.Declare("georep_session_pending_operations", MetricType::kGauge,
                                  "Entry, data or metadata operations not yet replicated, over "
                                  "the nodes that report them; absent when none does")),
        session_failures(t.Declare("georep_session_failures", MetricType::kGauge,
                                   "Failures the session's nodes report; absent when none "
                                   "does")),
        session_last_synced(t.Declare("georep_session_last_synced_timestamp_seconds",
                                      MetricType::kGauge,
                                      "The oldest of the nodes' last-synced times: everything "
                                      "changed before it is on the destination; absent when no "
                                      "node reports one")),
        session_heartbeat_age(t.Declare("georep_session_heartbeat_age_seconds", MetricType::kGauge,
                                        "Gluster sessions: how long ago the newest heartbeat "
                                        "that has arrived on the destination was written on "
                                        "the source; absent before the first arrives")),
        session_alert(t.Declare("georep_session_alert", MetricType::kGauge,
                                "A standing alert of the session (alert: data-at-risk, stalled, "
                                "heartbeat-mismatch, heartbeat-failing, verify-differs, "
                                "change-capture); only standing alerts are shown")),
        session_alert_since(t.Declare("georep_session_alert_since_timestamp_seconds",
                                      MetricType::kGauge,
                                      "When the standing alert was first seen, seconds since "
                                      "the Unix epoch")),
        node_status(t.Declare("georep_node_status", MetricType::kGauge,
                              "A node's status: 1 for the current one, 0 for the others")),
        node_lag(t.Declare("georep_node_lag_seconds", MetricType::kGauge,
                           "How far the node's destination is behind it; absent when "
                           "unknown")),
        node_throughput(t.Declare("georep_node_throughput_bytes_per_second", MetricType::kGauge,
                                  "The node's data rate in its last transfer; absent when "
                                  "unknown")),
        node_pending(t.Declare("georep_node_pending_operations", MetricType::kGauge,
                               "Entry, data or metadata operations the node has not yet "
                               "replicated; absent when it does not say (N/A)")),
        node_failures(t.Declare("georep_node_failures", MetricType::kGauge,
                                "Failures the node reports; absent when it does not say")),
        node_last_synced(t.Declare("georep_node_last_synced_timestamp_seconds", MetricType::kGauge,
                                   "The node's last-synced time, seconds since the Unix epoch; "
                                   "absent when it does not say")),
        destination_connection(t.Declare("georep_destination_connection", MetricType::kGauge,
                                         "A destination's connection as last tested: 1 for the "
                                         "current status, 0 for the others")),
        destination_last_checked(t.Declare("georep_destination_last_checked_timestamp_seconds",
                                           MetricType::kGauge,
                                           "When the destination was last tested, seconds "
                                           "since the Unix epoch")),
        alert_firing(t.Declare("georep_alert_firing", MetricType::kGauge,
                               "An alert of the engine's that is firing (rule, severity, the "
                               "object it is about); resolved alerts are not shown")),
        alert_started(t.Declare("georep_alert_started_timestamp_seconds", MetricType::kGauge,
                                "When the firing alert's condition was first seen, seconds "
                                "since the Unix epoch")),
        alert_acknowledged(t.Declare("georep_alert_acknowledged", MetricType::kGauge,
                                     "1 when someone has acknowledged the firing alert, else "
                                     "0")) {}

  F build_info, start_time, active, monitor_pass, store_transaction;
  F workers_supervised, workers_running, worker_restarts;
  F session_status, session_lag, session_throughput, session_pending, session_failures;
  F session_last_synced, session_heartbeat_age, session_alert, session_alert_since;
  F node_status, node_lag, node_throughput, node_pending, node_failures, node_last_synced;
  F destination_connection, destination_last_checked;
  F alert_firing, alert_started, alert_acknowledged;
};

MetricLabels With(MetricLabels labels, std::string_view name, std::string value) {
  labels.emplace_back(name, std::move(value));
  return labels;
}

// The sum of the nodes' known values of `field`; unknown when no node knows it.
std::optional<double> SumKnown(const std::vector<SessionNodeStatus>& nodes,
                               int64_t SessionNodeStatus::*field) {
  std::optional<double> sum;
  for (const auto& n : nodes)
    if (n.*field >= 0) sum = sum.value_or(0) + static_cast<double>(n.*field);
  return sum;
}

// A state set: one sample per word of the enum first..last, 1 for `current`.
template <typename E>
void StateSet(MetricsText& t, F f, const MetricLabels& labels, std::string_view label, E first,
              E last, E current) {
  for (int v = static_cast<int>(first); v <= static_cast<int>(last); ++v) {
    const E e = static_cast<E>(v);
    t.Add(f, With(labels, label, std::string(Name(e))), e == current ? 1 : 0);
  }
}

struct PendingField {
  const char* type;
  int64_t SessionNodeStatus::*field;
};
constexpr PendingField kPending[] = {{"entry", &SessionNodeStatus::entry_pending},
                                     {"data", &SessionNodeStatus::data_pending},
                                     {"meta", &SessionNodeStatus::meta_pending}};

void AddNode(MetricsText& t, const Families& f, const SessionDetail& d,
             const SessionNodeStatus& n) {
  const MetricLabels labels = {{"session_id", d.session.id},
                               {"session", d.session.session_key},
                               {"source_host", n.source_host},
                               {"source_brick", n.source_brick}};
  StateSet(t, f.node_status, labels, "status", NodeStatus::kUnknown, NodeStatus::kNotStarted,
           n.status);
  t.AddKnown(f.node_lag, labels, KnownSeconds(n.lag_ms));
  t.AddKnown(f.node_throughput, labels, KnownCount(n.throughput_bps));
  for (const auto& p : kPending)
    t.AddKnown(f.node_pending, With(labels, "type", p.type), KnownCount(n.*p.field));
  t.AddKnown(f.node_failures, labels, KnownCount(n.failures));
  t.AddKnown(f.node_last_synced, labels, KnownTimestamp(n.last_synced));
}

void AddSession(MetricsText& t, const Families& f, const SessionDetail& d, const Volume* v,
                const Destination* dest, int64_t now_ms) {
  const MetricLabels labels = {
      {"session_id", d.session.id},
      {"session", d.session.session_key},
      {"source_volume", v ? v->name : ""},
      {"destination", dest ? dest->host : ""},
      {"destination_volume", d.session.destination_volume},
      {"kind", v ? std::string(Name(v->kind)) : ""},
  };
  StateSet(t, f.session_status, labels, "status", SessionStatus::kUnknown, SessionStatus::kPaused,
           d.session.status);
  t.AddKnown(f.session_lag, labels, KnownSeconds(d.lag_ms));
  t.AddKnown(f.session_throughput, labels, KnownCount(d.throughput_bps));
  for (const auto& p : kPending)
    t.AddKnown(f.session_pending, With(labels, "type", p.type), SumKnown(d.nodes, p.field));
  t.AddKnown(f.session_failures, labels, SumKnown(d.nodes, &SessionNodeStatus::failures));
  int64_t oldest_synced = 0;
  for (const auto& n : d.nodes) {
    if (n.last_synced > 0 && (oldest_synced == 0 || n.last_synced < oldest_synced))
      oldest_synced = n.last_synced;
  }
  t.AddKnown(f.session_last_synced, labels, KnownTimestamp(oldest_synced));
  if (d.heartbeat && d.heartbeat->arrived_seq > 0 && d.heartbeat->arrived_written_at > 0) {
    t.Add(f.session_heartbeat_age, labels,
          static_cast<double>(std::max<int64_t>(0, now_ms - d.heartbeat->arrived_written_at)) /
              1000.0);
  }
  for (const auto& a : d.alerts) {
    const MetricLabels alert = With(labels, "alert", a.kind);
    t.Add(f.session_alert, alert, 1);
    t.AddKnown(f.session_alert_since, alert, KnownTimestamp(a.since));
  }
  for (const auto& n : d.nodes) AddNode(t, f, d, n);
}

void AddEngine(MetricsText& t, const Families& f, const MetricsSnapshot& s) {
  t.Add(f.build_info, {{"version", s.version}}, 1);
  t.AddKnown(f.start_time, {}, KnownTimestamp(s.started_at_ms));
  t.Add(f.active, {}, s.active ? 1 : 0);
  if (s.monitor_full_passes)
    t.AddHistogram(f.monitor_pass, {{"pass", "full"}}, *s.monitor_full_passes);
  if (s.monitor_steady_passes)
    t.AddHistogram(f.monitor_pass, {{"pass", "steady"}}, *s.monitor_steady_passes);
  if (s.store_transactions) t.AddHistogram(f.store_transaction, {}, *s.store_transactions);
  if (s.workers) {
    t.Add(f.workers_supervised, {}, s.workers->supervised);
    t.Add(f.workers_running, {}, s.workers->running);
    t.Add(f.worker_restarts, {}, static_cast<double>(s.workers->restarts));
  }
}

}  // namespace

std::string RenderMetrics(const MetricsSnapshot& s) {
  MetricsText t;
  const Families f(t);
  AddEngine(t, f, s);
  if (!s.active) return t.Text();
  std::map<std::string_view, const Volume*> volumes;
  for (const auto& v : s.volumes) volumes.emplace(v.id, &v);
  std::map<std::string_view, const Destination*> destinations;
  for (const auto& d : s.destinations) destinations.emplace(d.id, &d);
  for (const auto& d : s.sessions) {
    auto v = volumes.find(d.session.source_volume_id);
    auto dest = destinations.find(d.session.destination_id);
    AddSession(t, f, d, v == volumes.end() ? nullptr : v->second,
               dest == destinations.end() ? nullptr : dest->second, s.now_ms);
  }
  for (const auto& d : s.destinations) {
    const MetricLabels labels = {{"destination_id", d.id}, {"destination", d.host}};
    StateSet(t, f.destination_connection, labels, "status", ConnectionStatus::kUnknown,
             ConnectionStatus::kBroken, d.connection);
    t.AddKnown(f.destination_last_checked, labels, KnownTimestamp(d.last_checked));
  }
  for (const Alert& a : s.alerts) {
    if (a.state != AlertState::kFiring) continue;
    const MetricLabels labels = {{"alert_id", std::to_string(a.id)},
                                 {"rule", a.rule},
                                 {"severity", std::string(Name(a.severity))},
                                 {"object_type", a.object_type},
                                 {"object_id", a.object_id},
                                 {"object", a.object_name}};
    t.Add(f.alert_firing, labels, 1);
    t.AddKnown(f.alert_started, labels, KnownTimestamp(a.started_at));
    t.Add(f.alert_acknowledged, labels, a.acknowledged_at > 0 ? 1 : 0);
  }
  return t.Text();
}

std::vector<std::string> MetricFamilyNames() {
  MetricsText t;
  const Families declared(t);
  (void)declared;
  return t.Names();
}

}  // namespace georep
