// The session routes: sessions (listed, created, removed), their actions (start, stop, pause,
// resume, verify, repair, refresh), their preflight and metrics, and their config options.
#include <fmt/format.h>

#include <algorithm>

#include "api/api_reply.h"
#include "api/api_route.h"
#include "base/clock.h"
#include "model/session_lifecycle.h"

namespace georep {
namespace {

void ListSessions(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller&) {
  SessionFilter f;
  if (req.has_param("volume_id")) f.source_volume_id = req.get_param_value("volume_id");
  if (req.has_param("destination_id")) f.destination_id = req.get_param_value("destination_id");
  SendList(res, c.ops.ListSessionDetails(f));
}

void CreateSession(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
  WithBody(req, res, [&](const Json& j) {
    auto spec = SessionSpecFrom(j);
    if (!spec.ok()) return SendError(res, spec.status());
    JsonFields f(j);
    auto force = f.Bool("force", false);
    auto method = f.Str("sync_method", false);
    Status st = FirstError({&force.status(), &method.status()});
    if (!st.ok()) return SendError(res, st);
    SessionCreateOptions options;
    options.force = *force;
    options.sync_method = *method;
    SendResult(res, c.ops.CreateSession(who.actor, *spec, options), 201);
  });
}

void VerifySession(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
  auto sample = QueryInt(req, "sample_percent", 100);
  if (!sample.ok()) return SendError(res, sample.status());
  if (*sample < 1 || *sample > 100)
    return SendError(res, Status::InvalidArgument("sample_percent must be 1-100"));
  SendResult(res,
             c.ops.verifier().VerifySession(who.actor, req.matches[1], static_cast<int>(*sample)));
}

void SessionMetrics(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller&) {
  auto session = c.ops.GetSession(req.matches[1]);
  if (!session.ok()) return SendError(res, session.status());
  Json items = Json::array();
  if (c.feed) {
    for (const auto& m : c.feed->Metrics(req.matches[1])) {
      items.push_back({{"at", FormatIsoMillis(m.at_ms)},
                       {"lag_seconds", m.lag_seconds < 0 ? Json(nullptr) : Json(m.lag_seconds)},
                       {"throughput_bytes_per_second",
                        m.throughput_bps < 0 ? Json(nullptr) : Json(m.throughput_bps)}});
    }
  }
  SendJson(res, 200, {{"items", items}});
}

void SetConfig(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
  WithBody(req, res, [&](const Json& j) {
    JsonFields f(j);
    Status known = f.OnlyKnown({"value", "force"});
    if (!known.ok()) return SendError(res, known);
    auto value = f.Str("value", true);
    if (!value.ok()) return SendError(res, value.status());
    auto force = f.Bool("force", false);
    if (!force.ok()) return SendError(res, force.status());
    SendResult(res, c.ops.SetConfig(who.actor, req.matches[1], req.matches[2], *value, *force));
  });
}

// GET: reads of sessions, for viewers.
std::vector<ApiRoute> ReadRoutes() {
  return {
      {.method = "GET",
       .path = "/sessions",
       .role = Role::kViewer,
       .summary = "List sessions, each with its per-node status",
       .tag = "sessions",
       .params = {"?volume_id", "?destination_id"},
       .response = "SessionDetail",
       .list = true,
       .handle = ListSessions},
      {.method = "GET",
       .path = "/volumes/{id}/sessions",
       .role = Role::kViewer,
       .summary = "A volume's sessions",
       .tag = "sessions",
       .params = {"id"},
       .response = "SessionDetail",
       .list = true,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller&) {
             SendList(res, c.ops.ListSessionDetails({req.matches[1], ""}));
           }},
      {.method = "GET",
       .path = "/destinations/{id}/sessions",
       .role = Role::kViewer,
       .summary = "Sessions to a destination",
       .tag = "sessions",
       .params = {"id"},
       .response = "SessionDetail",
       .list = true,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller&) {
             SendList(res, c.ops.ListSessionDetails({"", req.matches[1]}));
           }},
      {.method = "GET",
       .path = "/sessions/{id}",
       .role = Role::kViewer,
       .summary = "A session with its per-node status",
       .tag = "sessions",
       .params = {"id"},
       .response = "SessionDetail",
       .handle = [](ApiContext& c, const HttpRequest& req, HttpResponse& res,
                    const ApiCaller&) { SendResult(res, c.ops.GetSession(req.matches[1])); }},
      {.method = "GET",
       .path = "/sessions/{id}/preflight",
       .role = Role::kViewer,
       .summary = "The platform preflight of a gluster session's nodes: rsync and gluster "
                  "versions, and whether gsyncd's sync-method rsync copies file contents there",
       .tag = "sessions",
       .params = {"id"},
       .response = "Preflight",
       .handle = [](ApiContext& c, const HttpRequest& req, HttpResponse& res,
                    const ApiCaller&) { SendResult(res, c.ops.SessionPreflight(req.matches[1])); }},
      {.method = "GET",
       .path = "/sessions/{id}/metrics",
       .role = Role::kViewer,
       .summary = "The session's lag and throughput over the last hour, oldest first (one "
                  "sample per status report; kept in the engine's memory)",
       .tag = "sessions",
       .params = {"id"},
       .response = "MetricSample",
       .list = true,
       .handle = SessionMetrics},
  };
}

// What operators run on a session, and what admins create and remove.
std::vector<ApiRoute> ActionRoutes() {
  std::vector<ApiRoute> routes;
  for (SessionAction action : {SessionAction::kStart, SessionAction::kStop, SessionAction::kPause,
                               SessionAction::kResume}) {
    const std::string name(Name(action));
    routes.push_back({.method = "POST",
                      .path = "/sessions/{id}/" + name,
                      .role = Role::kOperator,
                      .summary = "Session " + name + " (valid only in the states gluster accepts)",
                      .tag = "sessions",
                      .params = {"id", "?force"},
                      .response = "SessionDetail",
                      .handle = [action](ApiContext& c, const HttpRequest& req, HttpResponse& res,
                                         const ApiCaller& who) {
                        SendResult(res, c.ops.RunSessionAction(who.actor, req.matches[1], action,
                                                               QueryFlag(req, "force")));
                      }});
  }
  std::vector<ApiRoute> more = {
      {.method = "POST",
       .path = "/sessions/{id}/verify",
       .role = Role::kOperator,
       .summary = "Compare the destination with the source: type, size, mode, owner, mtime "
                  "(directories too), symlink targets, hard-link structure, the xattrs the "
                  "session replicates (POSIX ACLs always), and the content of every file (or of "
                  "sample_percent of them); lists every difference and what was not compared",
       .tag = "sessions",
       .params = {"id", "?sample_percent"},
       .response = "VerifyReport",
       .handle = VerifySession},
      {.method = "POST",
       .path = "/sessions/{id}/repair",
       .role = Role::kOperator,
       .summary = "Repair a started directory session's destination: a full verify, then "
                  "exactly what differs sent again and what only the destination has deleted "
                  "(unless ignore-deletes) by the worker's next full pass, then a verify again. "
                  "409 for a session that is not started, a gluster session or a source on "
                  "another host",
       .tag = "sessions",
       .params = {"id"},
       .response = "RepairReport",
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             SendResult(res, c.ops.verifier().RepairSession(who.actor, req.matches[1]));
           }},
      {.method = "POST",
       .path = "/sessions/{id}/refresh",
       .role = Role::kOperator,
       .summary = "Read the session's status from the cluster now",
       .tag = "sessions",
       .params = {"id"},
       .response = "SessionDetail",
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             SendResult(res, c.ops.RefreshSession(who.actor, req.matches[1]));
           }},
      {.method = "POST",
       .path = "/sessions",
       .role = Role::kAdmin,
       .summary = "Create a session",
       .tag = "sessions",
       .request = "SessionSpec",
       .response = "SessionDetail",
       .ok = 201,
       .handle = CreateSession},
      {.method = "DELETE",
       .path = "/sessions/{id}",
       .role = Role::kAdmin,
       .summary = "Remove a session",
       .tag = "sessions",
       .params = {"id", "?force", "?reset_sync_time"},
       .ok = 204,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             SendStatus(res, c.ops.RemoveSession(who.actor, req.matches[1], QueryFlag(req, "force"),
                                                 QueryFlag(req, "reset_sync_time")));
           }},
  };
  for (auto& r : more) routes.push_back(std::move(r));
  return routes;
}

std::vector<ApiRoute> ConfigRoutes() {
  return {
      {.method = "GET",
       .path = "/sessions/{id}/config",
       .role = Role::kViewer,
       .summary = "Every config option with value, default and description",
       .tag = "config",
       .params = {"id"},
       .response = "ConfigItem",
       .list = true,
       .handle = [](ApiContext& c, const HttpRequest& req, HttpResponse& res,
                    const ApiCaller&) { SendList(res, c.ops.GetConfig(req.matches[1])); }},
      {.method = "PUT",
       .path = "/sessions/{id}/config/{key}",
       .role = Role::kOperator,
       .note = "operators set the checkpoint only; every other option needs admin",
       .summary = "Set an option (validated)",
       .tag = "config",
       .params = {"id", "key"},
       .request = "ConfigValue",
       .response = "ConfigItem",
       .handle = SetConfig},
      {.method = "DELETE",
       .path = "/sessions/{id}/config/{key}",
       .role = Role::kAdmin,
       .summary = "Reset an option to its default",
       .tag = "config",
       .params = {"id", "key"},
       .ok = 204,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             SendStatus(res, c.ops.ResetConfig(who.actor, req.matches[1], req.matches[2]));
           }},
  };
}

Json SessionSchemas() {
  Json schemas;
  schemas["MetricSample"] =
      AlwaysPresent(SchemaObject({{"at", "string"},
                                  {"lag_seconds", "number|null"},
                                  {"throughput_bytes_per_second", "integer|null"}}));
  schemas["Session"] = AlwaysPresent(SchemaObject({{"id", "string"},
                                                   {"destination_id", "string"},
                                                   {"source_volume_id", "string"},
                                                   {"destination_volume", "string"},
                                                   {"remote_user", "string"},
                                                   {"session_key", "string"},
                                                   {"status", "string"},
                                                   {"status_reason", "string"},
                                                   {"created_at", "string|null"},
                                                   {"updated_at", "string|null"}}));
  schemas["Session"]["properties"]["status"]["enum"] =
      EnumWords(SessionStatus::kUnknown, SessionStatus::kPaused);
  schemas["SessionSpec"] =
      SchemaObject({{"destination_id", "string"},
                    {"source_volume_id", "string"},
                    {"destination_volume", "string"},
                    {"remote_user", "string"},
                    {"force", "boolean"},
                    {"sync_method", "string"}},
                   {"destination_id", "source_volume_id", "destination_volume"});
  Json detail = schemas["Session"];
  Json& props = detail["properties"];
  props["nodes"] = {{"type", "array"}, {"items", SchemaRef("NodeStatus")}};
  props["warnings"] = {{"type", "array"}, {"items", {{"type", "string"}}}};
  props["alerts"] = {{"type", "array"}, {"items", SchemaRef("SessionAlert")}};
  props["last_synced"] = {
      {"type", "string"},
      {"nullable", true},
      {"description",
       "Every change made before it is applied at the destination: the oldest of the replica "
       "sets' (a set's: the newest of its nodes' last_synced); null when a set has none"}};
  props["lag_seconds"] = {
      {"type", "number"},
      {"nullable", true},
      {"description",
       "How long the oldest change not yet applied has waited, end to end: a gluster session's "
       "heartbeat, the largest node lag of georep's own engine; it keeps growing while a "
       "change waits (paused, stopped or Faulty included); 0 only when measured in step; null "
       "when it cannot be known (never started, the worker not reporting, nothing measured "
       "since it stopped)"}};
  props["throughput_bytes_per_second"] = {
      {"type", "integer"},
      {"nullable", true},
      {"description",
       "Bytes applied at the destination per second, over the last 10 s or so: the nodes' sum "
       "for georep's own engine (what each worker reports applied); a gluster session's "
       "destination volume growth. 0 when nothing was applied (idle, paused, stopped); null "
       "when it cannot be known (before two reports, a worker not reporting, a gluster volume "
       "that did not grow while changes wait)"}};
  props["heartbeat"] = {{"allOf", {SchemaRef("Heartbeat")}}, {"nullable", true}};
  props["preflight"] = SchemaRef("Preflight");
  props["allowed_actions"] = {
      {"type", "array"},
      {"items", SchemaRef("SessionActionAvailability")},
      {"description",
       "Each session action (start, stop, pause, resume, delete) and whether the engine accepts "
       "it in the session's status: the engine's own rules, for clients to offer only what "
       "will be accepted"}};
  // Every property but the preflight (a gluster session's, once run) is always there.
  detail = AlwaysPresent(detail);
  detail["required"].erase(
      std::find(detail["required"].begin(), detail["required"].end(), "preflight"));
  schemas["SessionDetail"] = detail;
  schemas["SessionActionAvailability"] = SchemaObject(
      {{"action", "string"}, {"mode", "string"}, {"reason", "string"}}, {"action", "mode"});
  Json& availability = schemas["SessionActionAvailability"]["properties"];
  availability["action"]["enum"] = EnumWords(SessionAction::kStart, SessionAction::kDelete);
  availability["mode"]["enum"] = {"ok", "force", "no"};
  availability["mode"]["description"] =
      "ok: accepted; force: accepted only with force; no: refused (reason says why)";
  availability["reason"]["description"] = "Why not, or why only with force; absent when ok";
  schemas["SessionAlert"] = AlwaysPresent(SchemaObject({{"kind", "string"},
                                                        {"message", "string"},
                                                        {"since", "string|null"},
                                                        {"updated_at", "string|null"}}));
  schemas["SessionAlert"]["properties"]["kind"]["description"] =
      "data-at-risk, stalled, heartbeat-mismatch, heartbeat-failing, or verify-differs (a verify "
      "found differences: a user's at once, the periodic verify (verify-interval) once re-checked)";
  schemas["Heartbeat"] = SchemaObject({{"interval_seconds", "integer"},
                                       {"stall_threshold_seconds", "integer"},
                                       {"last_written", "string|null"},
                                       {"last_arrived_written", "string|null"},
                                       {"last_arrived", "string|null"},
                                       {"on_its_way_since", "string|null"},
                                       {"last_checked", "string|null"},
                                       {"problem", "string|null"}},
                                      {"interval_seconds", "stall_threshold_seconds"});
  schemas["NodeStatus"] =
      AlwaysPresent(SchemaObject({{"source_host", "string"},
                                  {"source_brick", "string"},
                                  {"set_index", "integer"},
                                  {"destination_host", "string"},
                                  {"status", "string"},
                                  {"status_reason", "string"},
                                  {"crawl_status", "string"},
                                  {"last_synced", "string|null"},
                                  {"entry_pending", "integer"},
                                  {"data_pending", "integer"},
                                  {"meta_pending", "integer"},
                                  {"failures", "integer"},
                                  {"checkpoint_time", "string|null"},
                                  {"checkpoint_completed", "boolean"},
                                  {"checkpoint_completion_time", "string|null"},
                                  {"lag_seconds", "number|null"},
                                  {"throughput_bytes_per_second", "integer|null"},
                                  {"updated_at", "string|null"}}));
  Json& node = schemas["NodeStatus"]["properties"];
  node["status"]["enum"] = EnumWords(NodeStatus::kUnknown, NodeStatus::kNotStarted);
  node["crawl_status"]["enum"] = EnumWords(CrawlStatus::kNotApplicable, CrawlStatus::kChangelog);
  for (const char* count : {"entry_pending", "data_pending", "meta_pending", "failures"}) {
    node[count]["nullable"] = true;
    node[count]["description"] = "null: unknown (gluster says N/A, as for a Passive node)";
  }
  return schemas;
}

// What verify, repair and the preflight report, and the config options.
Json ReportSchemas() {
  Json schemas;
  schemas["VerifyDifference"] =
      SchemaObject({{"path", "string"}, {"difference", "string"}}, {"path", "difference"});
  schemas["VerifyReport"] = AlwaysPresent(SchemaObject({{"identical", "boolean"},
                                                        {"entries", "integer"},
                                                        {"content_checked", "integer"},
                                                        {"bytes_hashed", "integer"},
                                                        {"differences", "array"},
                                                        {"not_compared", "array"}}));
  Json& verify = schemas["VerifyReport"]["properties"];
  verify["differences"]["items"] = SchemaRef("VerifyDifference");
  verify["not_compared"]["items"] = {{"type", "string"}};
  verify["not_compared"]["description"] =
      "What this verify did not compare, each with why (not replicated by the session, not "
      "readable on one side, outside the sample...)";
  schemas["RepairReport"] =
      SchemaObject({{"identical", "boolean"},
                    {"differences_found", "integer"},
                    {"resent", "integer"},
                    {"deleted", "integer"}},
                   {"identical", "differences_found", "resent", "deleted", "before", "after"});
  schemas["RepairReport"]["properties"]["identical"]["description"] =
      "Whether the verify after the repair found the destination identical";
  schemas["RepairReport"]["properties"]["before"] = SchemaRef("VerifyReport");
  schemas["RepairReport"]["properties"]["after"] = SchemaRef("VerifyReport");
  schemas["PreflightNode"] = AlwaysPresent(SchemaObject({{"host", "string"},
                                                         {"role", "string"},
                                                         {"rsync", "string|null"},
                                                         {"gluster", "string|null"},
                                                         {"rsync_writes_empty_files", "boolean"},
                                                         {"problem", "string|null"}}));
  schemas["Preflight"] = AlwaysPresent(SchemaObject({{"nodes", "array"},
                                                     {"rsync_unsafe", "boolean"},
                                                     {"complete", "boolean"},
                                                     {"summary", "string"}}));
  schemas["Preflight"]["properties"]["nodes"]["items"] = SchemaRef("PreflightNode");
  schemas["ConfigItem"] =
      SchemaObject({{"key", "string"},
                    {"value", "string"},
                    {"default", "string"},
                    {"is_default", "boolean"},
                    {"type", "string"},
                    {"description", "string"},
                    {"allowed_values", "array"},
                    {"changed_by", "string|null"},
                    {"changed_at", "string|null"},
                    {"min", "integer"},
                    {"max", "integer"}},
                   {"key", "value", "default", "is_default", "type", "description",
                    "allowed_values", "changed_by", "changed_at"});
  schemas["ConfigItem"]["properties"]["min"]["description"] = "Integer options only";
  schemas["ConfigItem"]["properties"]["max"]["description"] = "Integer options only";
  schemas["ConfigItem"]["properties"]["allowed_values"]["items"] = {{"type", "string"}};
  schemas["ConfigValue"] = SchemaObject({{"value", "string"}, {"force", "boolean"}}, {"value"});
  schemas["ConfigValue"]["properties"]["force"]["description"] =
      "sync-method rsync where the preflight finds that gsyncd writes files without their "
      "content: set it anyway (the session then shows a data-at-risk alert)";
  return schemas;
}

}  // namespace

ApiResource SessionResource() {
  ApiResource r{ReadRoutes(), SessionSchemas()};
  r.schemas.update(ReportSchemas());
  for (auto* more : {ActionRoutes, ConfigRoutes})
    for (auto& route : more()) r.routes.push_back(std::move(route));
  return r;
}

}  // namespace georep
