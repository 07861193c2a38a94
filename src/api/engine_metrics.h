// The engine's metrics page (GET /api/v1/metrics, also at /metrics): every session, each of its
// nodes and every destination as the store holds them, and the engine's own health, in the
// Prometheus text format (api/metrics_text.h). README.md ("Monitoring with Prometheus") lists
// the families; docs/prometheus/ has alerting rules and a Grafana dashboard built on them.
//
// Sessions carry the labels session_id, session (its name: gluster's key), source_volume,
// destination (the host), destination_volume and kind (gluster, directory); a node's series
// carry session_id, session, source_host and source_brick. A value the engine does not know
// (gluster's N/A, nothing reported yet) is left out, never written as 0. Statuses are state
// sets: one series per status word, 1 for the current one and 0 for the others.
//
// RenderMetrics is a pure function of a MetricsSnapshot, which the route fills
// (api/routes_metrics.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/histogram.h"
#include "engine/operation_types.h"
#include "engine/worker_supervisor.h"
#include "model/alerts.h"
#include "model/entities.h"

namespace georep {

class SessionMonitor;

// What the engine tells of itself besides what the store holds; `georep serve` fills it, and
// what is left null is not shown (an API in a unit test has none of it).
struct EngineTelemetry {
  int64_t started_at_ms = 0;                      // 0: unknown
  const Histogram* store_transactions = nullptr;  // TimedStore's
  const SessionMonitor* monitor = nullptr;
  WorkerSupervisor* workers = nullptr;
};

// One scrape's worth, read at one moment.
struct MetricsSnapshot {
  int64_t now_ms = 0;
  std::string version;
  int64_t started_at_ms = 0;
  // Whether this engine is the active one on its database. A standby shows only its own
  // families: the active engine answers for sessions and destinations.
  bool active = true;
  std::vector<SessionDetail> sessions;
  std::vector<Volume> volumes;  // to name the sessions' source volumes and kinds
  std::vector<Destination> destinations;
  std::vector<Alert> alerts;  // the firing ones (others are left out)
  std::optional<Histogram::Snapshot> store_transactions;
  std::optional<Histogram::Snapshot> monitor_full_passes;
  std::optional<Histogram::Snapshot> monitor_steady_passes;
  std::optional<WorkerCounts> workers;
};

// The page, in the text format 0.0.4.
std::string RenderMetrics(const MetricsSnapshot& s);

// Every family RenderMetrics may write, whether or not a snapshot has samples for it.
std::vector<std::string> MetricFamilyNames();

// The Content-Type of the page.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace georep
