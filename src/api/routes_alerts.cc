// The alert routes: alerts (list, one, acknowledge), the notifiers that carry them out (an
// admin's) with their delivery history, and the engine settings the rules read.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "api/api_reply.h"
#include "api/api_route.h"
#include "base/log.h"

namespace georep {
namespace {

Result<int64_t> AlertId(const std::string& text) {
  int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || id <= 0)
    return Status::NotFound(fmt::format("alert '{}' does not exist", LogValue(text)));
  return id;
}

void ListAlerts(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller&) {
  AlertFilter f;
  auto before = QueryInt(req, "before_id", 0);
  auto limit = QueryInt(req, "limit", 100);
  Status st = FirstError({&before.status(), &limit.status()});
  if (!st.ok()) return SendError(res, st);
  f.before_id = *before;
  f.limit = static_cast<int>(std::clamp<int64_t>(*limit, 1, 1000));
  f.object_id = req.get_param_value("object_id");
  if (const std::string state = req.get_param_value("state"); !state.empty()) {
    f.state = ParseAlertState(state);
    if (!f.state)
      return SendError(res, Status::InvalidArgument("state must be firing or resolved"));
  }
  SendList(res, c.ops.alerts().List(f));
}

void Acknowledge(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
  auto id = AlertId(req.matches[1]);
  if (!id.ok()) return SendError(res, id.status());
  SendResult(res, c.ops.alerts().Acknowledge(who.actor, *id));
}

void AlertDeliveries(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller&) {
  auto id = AlertId(req.matches[1]);
  if (!id.ok()) return SendError(res, id.status());
  if (auto a = c.ops.alerts().Get(*id); !a.ok()) return SendError(res, a.status());
  SendList(res, c.ops.notifications().Deliveries({.alert_id = *id, .limit = 0}));
}

Result<AlertSeverity> SeverityFrom(JsonFields& f, AlertSeverity fallback) {
  auto word = f.Str("min_severity", false, std::string(Name(fallback)));
  if (!word.ok()) return word.status();
  auto sev = ParseAlertSeverity(*word);
  if (!sev) return Status::InvalidArgument("min_severity must be warning or critical");
  return *sev;
}

void AddNotifier(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
  WithBody(req, res, [&](const Json& j) {
    JsonFields f(j);
    Status known = f.OnlyKnown({"name", "kind", "url", "secret", "smtp_user", "mail_from",
                                "mail_to", "min_severity", "send_resolved"});
    if (!known.ok()) return SendError(res, known);
    NotifierSpec spec;
    auto name = f.Str("name", true);
    auto kind = f.Str("kind", false, "webhook");
    auto url = f.Str("url", true);
    auto secret = f.Str("secret", false);
    auto user = f.Str("smtp_user", false);
    auto from = f.Str("mail_from", false);
    auto to = f.Str("mail_to", false);
    auto resolved = f.Bool("send_resolved", true);
    auto severity = SeverityFrom(f, AlertSeverity::kWarning);
    Status st =
        FirstError({&name.status(), &kind.status(), &url.status(), &secret.status(), &user.status(),
                    &from.status(), &to.status(), &resolved.status(), &severity.status()});
    if (!st.ok()) return SendError(res, st);
    auto k = ParseNotifierKind(*kind);
    if (!k) return SendError(res, Status::InvalidArgument("kind must be webhook or email"));
    spec.name = *name;
    spec.kind = *k;
    spec.url = *url;
    spec.secret = *secret;
    spec.smtp_user = *user;
    spec.mail_from = *from;
    spec.mail_to = *to;
    spec.send_resolved = *resolved;
    spec.min_severity = *severity;
    SendResult(res, c.ops.notifications().Add(who.actor, spec), 201);
  });
}

void ChangeNotifier(ApiContext& c, const HttpRequest& req, HttpResponse& res,
                    const ApiCaller& who) {
  WithBody(req, res, [&](const Json& j) {
    JsonFields f(j);
    Status known = f.OnlyKnown({"enabled", "min_severity", "send_resolved"});
    if (!known.ok()) return SendError(res, known);
    NotifierChange change;
    if (j.contains("enabled")) {
      auto v = f.Bool("enabled", true);
      if (!v.ok()) return SendError(res, v.status());
      change.enabled = *v;
    }
    if (j.contains("send_resolved")) {
      auto v = f.Bool("send_resolved", true);
      if (!v.ok()) return SendError(res, v.status());
      change.send_resolved = *v;
    }
    if (j.contains("min_severity")) {
      auto v = SeverityFrom(f, AlertSeverity::kWarning);
      if (!v.ok()) return SendError(res, v.status());
      change.min_severity = *v;
    }
    SendResult(res, c.ops.notifications().Change(who.actor, req.matches[1], change));
  });
}

void NotifierDeliveries(ApiContext& c, const HttpRequest& req, HttpResponse& res,
                        const ApiCaller& who) {
  auto n = c.ops.notifications().Get(who.actor, req.matches[1]);
  if (!n.ok()) return SendError(res, n.status());
  auto limit = QueryInt(req, "limit", 100);
  if (!limit.ok()) return SendError(res, limit.status());
  SendList(res, c.ops.notifications().Deliveries(
                    {.notifier_id = n->id,
                     .limit = static_cast<int>(std::clamp<int64_t>(*limit, 1, 1000))}));
}

void SetSetting(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
  WithBody(req, res, [&](const Json& j) {
    JsonFields f(j);
    Status known = f.OnlyKnown({"value"});
    if (!known.ok()) return SendError(res, known);
    // A number, or its text as the CLI sends it.
    std::string value;
    if (j.contains("value") && j["value"].is_number_integer()) {
      value = std::to_string(j["value"].get<int64_t>());
    } else {
      auto v = f.Str("value", true);
      if (!v.ok()) return SendError(res, v.status());
      value = *v;
    }
    SendResult(res, c.ops.alerts().SetSetting(who.actor, req.matches[1], value));
  });
}

// Alerts: read by viewers, acknowledged by operators.
std::vector<ApiRoute> AlertRoutes() {
  return {
      {.method = "GET",
       .path = "/alerts",
       .role = Role::kViewer,
       .summary = "Alerts, newest first: firing and resolved (state: one of them; object_id: "
                  "one session's or destination's; before_id: older ones, for paging back)",
       .tag = "alerts",
       .params = {"?state", "?object_id", "?before_id", "?limit"},
       .response = "Alert",
       .list = true,
       .handle = ListAlerts},
      {.method = "GET",
       .path = "/alerts/{id}",
       .role = Role::kViewer,
       .summary = "One alert",
       .tag = "alerts",
       .params = {"id"},
       .response = "Alert",
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller&) {
             auto id = AlertId(req.matches[1]);
             if (!id.ok()) return SendError(res, id.status());
             SendResult(res, c.ops.alerts().Get(*id));
           }},
      {.method = "POST",
       .path = "/alerts/{id}/acknowledge",
       .role = Role::kOperator,
       .summary = "Acknowledge a firing alert: someone is on it (it stays firing until its "
                  "condition ends)",
       .tag = "alerts",
       .params = {"id"},
       .response = "Alert",
       .handle = Acknowledge},
      {.method = "GET",
       .path = "/alerts/{id}/deliveries",
       .role = Role::kViewer,
       .summary = "The messages sent (or being sent) about an alert, newest first",
       .tag = "alerts",
       .params = {"id"},
       .response = "Delivery",
       .list = true,
       .handle = AlertDeliveries},
  };
}

// Notifiers and their deliveries: an admin's.
std::vector<ApiRoute> NotifierRoutes() {
  return {
      {.method = "GET",
       .path = "/notifiers",
       .role = Role::kAdmin,
       .summary = "The notifiers (webhooks, e-mail) that carry alerts out; secrets never shown",
       .tag = "alerts",
       .response = "Notifier",
       .list = true,
       .handle =
           [](ApiContext& c, const HttpRequest&, HttpResponse& res, const ApiCaller& who) {
             SendList(res, c.ops.notifications().List(who.actor));
           }},
      {.method = "POST",
       .path = "/notifiers",
       .role = Role::kAdmin,
       .summary = "Add a notifier. A webhook without a secret gets one made by the engine; "
                  "the answer shows it, the only time it is shown. An e-mail notifier's secret "
                  "is the SMTP password of smtp_user",
       .tag = "alerts",
       .request = "NotifierSpec",
       .response = "Notifier",
       .ok = 201,
       .handle = AddNotifier},
      {.method = "GET",
       .path = "/notifiers/{id}",
       .role = Role::kAdmin,
       .summary = "One notifier (by id or name)",
       .tag = "alerts",
       .params = {"id"},
       .response = "Notifier",
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             SendResult(res, c.ops.notifications().Get(who.actor, req.matches[1]));
           }},
      {.method = "PUT",
       .path = "/notifiers/{id}",
       .role = Role::kAdmin,
       .summary = "Enable or disable a notifier, or change which alerts it takes",
       .tag = "alerts",
       .params = {"id"},
       .request = "NotifierChange",
       .response = "Notifier",
       .handle = ChangeNotifier},
      {.method = "DELETE",
       .path = "/notifiers/{id}",
       .role = Role::kAdmin,
       .summary = "Remove a notifier and its delivery history",
       .tag = "alerts",
       .params = {"id"},
       .ok = 204,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             SendStatus(res, c.ops.notifications().Remove(who.actor, req.matches[1]));
           }},
      {.method = "POST",
       .path = "/notifiers/{id}/test",
       .role = Role::kAdmin,
       .summary = "Send a test message through a notifier now; its delivery shows the outcome",
       .tag = "alerts",
       .params = {"id"},
       .response = "Delivery",
       .ok = 202,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             SendResult(res, c.ops.notifications().Test(who.actor, req.matches[1]), 202);
           }},
      {.method = "GET",
       .path = "/notifiers/{id}/deliveries",
       .role = Role::kAdmin,
       .summary = "A notifier's delivery history, newest first",
       .tag = "alerts",
       .params = {"id", "?limit"},
       .response = "Delivery",
       .list = true,
       .handle = NotifierDeliveries},
  };
}

// The engine settings: read by viewers, changed by admins.
std::vector<ApiRoute> SettingRoutes() {
  return {
      {.method = "GET",
       .path = "/settings",
       .role = Role::kViewer,
       .summary = "The engine settings (the alerts' thresholds), with their defaults",
       .tag = "alerts",
       .response = "Setting",
       .list = true,
       .handle = [](ApiContext& c, const HttpRequest&, HttpResponse& res,
                    const ApiCaller&) { SendList(res, c.ops.alerts().Settings()); }},
      {.method = "PUT",
       .path = "/settings/{key}",
       .role = Role::kAdmin,
       .summary = "Set an engine setting",
       .tag = "alerts",
       .params = {"key"},
       .request = "SettingValue",
       .response = "Setting",
       .handle = SetSetting},
      {.method = "DELETE",
       .path = "/settings/{key}",
       .role = Role::kAdmin,
       .summary = "Put an engine setting back to its default",
       .tag = "alerts",
       .params = {"key"},
       .ok = 204,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             SendStatus(res, c.ops.alerts().ResetSetting(who.actor, req.matches[1]));
           }},
  };
}

// The schemas the routes above name.
Json AlertSchemas() {
  Json schemas = Json::object();
  Json severities = {"warning", "critical"};
  schemas["Alert"] = AlwaysPresent(SchemaObject({{"id", "integer"},
                                                 {"rule", "string"},
                                                 {"description", "string"},
                                                 {"severity", "string"},
                                                 {"state", "string"},
                                                 {"object_type", "string"},
                                                 {"object_id", "string"},
                                                 {"object_name", "string"},
                                                 {"summary", "string"},
                                                 {"started_at", "string"},
                                                 {"updated_at", "string"},
                                                 {"resolved_at", "string|null"},
                                                 {"acknowledged_at", "string|null"},
                                                 {"acknowledged_by", "string"}}));
  schemas["Alert"]["properties"]["severity"]["enum"] = severities;
  schemas["Alert"]["properties"]["state"]["enum"] = {"firing", "resolved"};
  schemas["Alert"]["properties"]["object_type"]["enum"] = {"session", "destination"};
  Json rules = Json::array();
  for (const auto& rule : AlertRules()) rules.push_back(rule.name);
  schemas["Alert"]["properties"]["rule"]["enum"] = rules;
  schemas["Notifier"] = SchemaObject(
      {{"id", "string"},
       {"name", "string"},
       {"kind", "string"},
       {"url", "string"},
       {"min_severity", "string"},
       {"send_resolved", "boolean"},
       {"enabled", "boolean"},
       {"created_at", "string"},
       {"smtp_user", "string"},
       {"mail_from", "string"},
       {"mail_to", "string"},
       {"secret", "string"}},
      {"id", "name", "kind", "url", "min_severity", "send_resolved", "enabled", "created_at"});
  schemas["Notifier"]["properties"]["kind"]["enum"] = {"webhook", "email"};
  schemas["Notifier"]["properties"]["min_severity"]["enum"] = severities;
  schemas["NotifierSpec"] = SchemaObject({{"name", "string"},
                                          {"kind", "string"},
                                          {"url", "string"},
                                          {"secret", "string"},
                                          {"smtp_user", "string"},
                                          {"mail_from", "string"},
                                          {"mail_to", "string"},
                                          {"min_severity", "string"},
                                          {"send_resolved", "boolean"}},
                                         {"name", "url"});
  schemas["NotifierSpec"]["properties"]["kind"]["enum"] = {"webhook", "email"};
  schemas["NotifierSpec"]["properties"]["min_severity"]["enum"] = severities;
  schemas["NotifierChange"] = SchemaObject(
      {{"enabled", "boolean"}, {"min_severity", "string"}, {"send_resolved", "boolean"}});
  schemas["NotifierChange"]["properties"]["min_severity"]["enum"] = severities;
  schemas["Delivery"] = AlwaysPresent(SchemaObject({{"id", "integer"},
                                                    {"notifier_id", "string"},
                                                    {"alert_id", "integer|null"},
                                                    {"event", "string"},
                                                    {"state", "string"},
                                                    {"attempts", "integer"},
                                                    {"created_at", "string"},
                                                    {"next_attempt_at", "string|null"},
                                                    {"last_attempt_at", "string|null"},
                                                    {"response_status", "integer|null"},
                                                    {"last_error", "string"},
                                                    {"body", "string"}}));
  schemas["Delivery"]["properties"]["state"]["enum"] = {"pending", "delivered", "failed"};
  schemas["Delivery"]["properties"]["event"]["enum"] = {"firing", "resolved", "test"};
  schemas["Setting"] = AlwaysPresent(SchemaObject({{"key", "string"},
                                                   {"value", "integer"},
                                                   {"default", "integer"},
                                                   {"is_default", "boolean"},
                                                   {"min", "integer"},
                                                   {"max", "integer"},
                                                   {"description", "string"},
                                                   {"changed_by", "string|null"},
                                                   {"changed_at", "string|null"}}));
  schemas["SettingValue"] = SchemaObject({{"value", "integer"}}, {"value"});
  return schemas;
}

}  // namespace

ApiResource AlertResource() {
  ApiResource r;
  for (auto* routes : {AlertRoutes, NotifierRoutes, SettingRoutes})
    for (auto& route : routes()) r.routes.push_back(std::move(route));
  r.schemas = AlertSchemas();
  return r;
}

}  // namespace georep
