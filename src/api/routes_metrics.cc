// The metrics route: GET /api/v1/metrics, the engine's sessions, nodes, destinations and own
// health in the Prometheus text format (api/engine_metrics.h). HttpApi serves the same route at
// /metrics too, Prometheus's default path, with the same authentication.
#include "api/api_reply.h"
#include "api/api_route.h"
#include "api/engine_metrics.h"
#include "engine/session_monitor.h"

namespace georep {
namespace {

void Metrics(ApiContext& c, const HttpRequest&, HttpResponse& res, const ApiCaller&) {
  MetricsSnapshot s;
  s.now_ms = c.clock.NowMillis();
  s.version = c.options.version;
  const EngineTelemetry& t = c.options.telemetry;
  s.started_at_ms = t.started_at_ms;
  s.active = !c.options.standby_reason || c.options.standby_reason().empty();
  if (t.store_transactions) s.store_transactions = t.store_transactions->Take();
  if (t.monitor) {
    s.monitor_full_passes = t.monitor->PassDurations(true);
    s.monitor_steady_passes = t.monitor->PassDurations(false);
  }
  if (t.workers) s.workers = t.workers->Counts();
  if (s.active) {
    // A scrape the store cannot answer fails whole (Prometheus's `up` says so) rather than
    // showing sessions as gone.
    auto sessions = c.ops.ListSessionDetails({});
    if (!sessions.ok()) return SendError(res, sessions.status());
    s.sessions = std::move(*sessions);
    auto volumes = c.ops.ListVolumes("");
    if (!volumes.ok()) return SendError(res, volumes.status());
    s.volumes = std::move(*volumes);
    auto destinations = c.ops.ListDestinations("");  // every cluster's
    if (!destinations.ok()) return SendError(res, destinations.status());
    s.destinations = std::move(*destinations);
    AlertFilter firing;
    firing.state = AlertState::kFiring;
    firing.limit = 0;
    auto alerts = c.ops.alerts().List(firing);
    if (!alerts.ok()) return SendError(res, alerts.status());
    s.alerts = std::move(*alerts);
  }
  res.set_header("Cache-Control", "no-store");
  res.set_content(RenderMetrics(s), kMetricsContentType);
}

}  // namespace

ApiResource MetricsResource() {
  return {{{.method = "GET",
            .path = "/metrics",
            .role = Role::kViewer,
            .note = "a scrape token is a viewer's API token",
            .summary = "Every session, node and destination, and the engine's own health, in "
                       "the Prometheus text format 0.0.4 (also served at /metrics)",
            .tag = "system",
            .content_type = "text/plain",
            .handle = Metrics}},
          Json::object()};
}

}  // namespace georep
