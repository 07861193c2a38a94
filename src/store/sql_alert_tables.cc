#include "store/sql_alert_tables.h"

#include <fmt/format.h>

#include <algorithm>

#include "store/sql_statements.h"

namespace georep {
namespace {

using sql::Params;
using sql::V;

constexpr std::string_view kAlertCols =
    "id, rule, severity, state, object_type, object_id, object_name, summary, started_at, "
    "updated_at, resolved_at, acknowledged_at, acknowledged_by";
Alert AlertFrom(const SqlRow& r) {
  Alert a;
  a.id = r.Int(0);
  a.rule = r.Text(1);
  a.severity = ParseAlertSeverity(r.Text(2)).value_or(AlertSeverity::kWarning);
  a.state = ParseAlertState(r.Text(3)).value_or(AlertState::kFiring);
  a.object_type = r.Text(4);
  a.object_id = r.Text(5);
  a.object_name = r.Text(6);
  a.summary = r.Text(7);
  a.started_at = r.Int(8);
  a.updated_at = r.Int(9);
  a.resolved_at = r.Int(10);
  a.acknowledged_at = r.Int(11);
  a.acknowledged_by = r.Text(12);
  return a;
}

constexpr std::string_view kNotifierCols =
    "id, name, kind, url, secret, smtp_user, mail_from, mail_to, min_severity, send_resolved, "
    "enabled, created_at";
Notifier NotifierFrom(const SqlRow& r) {
  Notifier n;
  n.id = r.Text(0);
  n.name = r.Text(1);
  n.kind = ParseNotifierKind(r.Text(2)).value_or(NotifierKind::kWebhook);
  n.url = r.Text(3);
  n.secret = r.Text(4);
  n.smtp_user = r.Text(5);
  n.mail_from = r.Text(6);
  n.mail_to = r.Text(7);
  n.min_severity = ParseAlertSeverity(r.Text(8)).value_or(AlertSeverity::kWarning);
  n.send_resolved = r.Int(9) != 0;
  n.enabled = r.Int(10) != 0;
  n.created_at = r.Int(11);
  return n;
}
Params NotifierParams(const Notifier& n) {
  return {V(n.id),
          V(n.name),
          V(Name(n.kind)),
          V(n.url),
          V(n.secret),
          V(n.smtp_user),
          V(n.mail_from),
          V(n.mail_to),
          V(Name(n.min_severity)),
          V(n.send_resolved),
          V(n.enabled),
          V(n.created_at)};
}

constexpr std::string_view kDeliveryCols =
    "id, notifier_id, alert_id, event, body, state, attempts, created_at, next_attempt_at, "
    "last_attempt_at, response_status, last_error";
AlertDelivery DeliveryFrom(const SqlRow& r) {
  AlertDelivery d;
  d.id = r.Int(0);
  d.notifier_id = r.Text(1);
  d.alert_id = r.Int(2);
  d.event = r.Text(3);
  d.body = r.Text(4);
  d.state = ParseDeliveryState(r.Text(5)).value_or(DeliveryState::kPending);
  d.attempts = static_cast<int>(r.Int(6));
  d.created_at = r.Int(7);
  d.next_attempt_at = r.Int(8);
  d.last_attempt_at = r.Int(9);
  d.response_status = static_cast<int>(r.Int(10));
  d.last_error = r.Text(11);
  return d;
}

// 0 or less: no limit (the engine's own reads); the API bounds what clients ask for.
int64_t Limit(int limit) {
  return limit <= 0 ? int64_t{1} << 40 : limit;
}

}  // namespace

Result<int64_t> SqlAlertTables::CreateAlert(const Alert& a) {
  return sql::InsertReturningId(
      db_,
      "INSERT INTO alerts (rule, severity, state, object_type, object_id, object_name, summary, "
      "started_at, updated_at, resolved_at, acknowledged_at, acknowledged_by) VALUES ($1, $2, "
      "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
      {V(a.rule), V(Name(a.severity)), V(Name(a.state)), V(a.object_type), V(a.object_id),
       V(a.object_name), V(a.summary), V(a.started_at), V(a.updated_at), V(a.resolved_at),
       V(a.acknowledged_at), V(a.acknowledged_by)});
}

Status SqlAlertTables::UpdateAlert(const Alert& a) {
  return sql::ExpectOne(
      db_.Execute("UPDATE alerts SET severity = $2, state = $3, object_name = $4, summary = $5, "
                  "updated_at = $6, resolved_at = $7, acknowledged_at = $8, acknowledged_by = "
                  "$9 WHERE id = $1",
                  {V(a.id), V(Name(a.severity)), V(Name(a.state)), V(a.object_name), V(a.summary),
                   V(a.updated_at), V(a.resolved_at), V(a.acknowledged_at), V(a.acknowledged_by)}),
      "alert", std::to_string(a.id));
}

Result<Alert> SqlAlertTables::GetAlert(int64_t id) {
  return sql::One<Alert>(db_, fmt::format("SELECT {} FROM alerts WHERE id = $1", kAlertCols),
                         {V(id)}, AlertFrom, "alert", std::to_string(id));
}

Result<std::vector<Alert>> SqlAlertTables::FindAlerts(const AlertFilter& f) {
  const std::string state = f.state ? std::string(Name(*f.state)) : "";
  return sql::Many<Alert>(
      db_,
      fmt::format("SELECT {} FROM alerts WHERE (CAST($1 AS TEXT) = '' OR state = $1) AND "
                  "(CAST($2 AS TEXT) = '' OR object_id = $2) AND ($3 <= 0 OR id < $3) ORDER BY "
                  "id DESC LIMIT $4",
                  kAlertCols),
      {V(state), V(f.object_id), V(f.before_id), V(Limit(f.limit))}, AlertFrom);
}

Status SqlAlertTables::CreateNotifier(const Notifier& n) {
  return sql::Exec(db_,
                   fmt::format("INSERT INTO notifiers ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                               "$8, $9, $10, $11, $12)",
                               kNotifierCols),
                   NotifierParams(n));
}

Status SqlAlertTables::UpdateNotifier(const Notifier& n) {
  return sql::ExpectOne(
      db_.Execute("UPDATE notifiers SET name = $2, kind = $3, url = $4, secret = $5, smtp_user = "
                  "$6, mail_from = $7, mail_to = $8, min_severity = $9, send_resolved = $10, "
                  "enabled = $11, created_at = $12 WHERE id = $1",
                  NotifierParams(n)),
      "notifier", n.id);
}

Result<Notifier> SqlAlertTables::GetNotifier(const std::string& id) {
  return sql::One<Notifier>(
      db_, fmt::format("SELECT {} FROM notifiers WHERE id = $1 OR name = $1", kNotifierCols),
      {V(id)}, NotifierFrom, "notifier", id);
}

Result<std::vector<Notifier>> SqlAlertTables::ListNotifiers() {
  return sql::Many<Notifier>(
      db_, fmt::format("SELECT {} FROM notifiers ORDER BY name", kNotifierCols), {}, NotifierFrom);
}

Status SqlAlertTables::DeleteNotifier(const std::string& id) {
  // The deliveries first: SQLite enforces the reference only with its foreign-key pragma.
  GEOREP_RETURN_IF_ERROR(
      sql::Exec(db_, "DELETE FROM alert_deliveries WHERE notifier_id = $1", {V(id)}));
  return sql::ExpectOne(db_.Execute("DELETE FROM notifiers WHERE id = $1", {V(id)}), "notifier",
                        id);
}

Result<int64_t> SqlAlertTables::CreateDelivery(const AlertDelivery& d) {
  return sql::InsertReturningId(
      db_,
      "INSERT INTO alert_deliveries (notifier_id, alert_id, event, body, state, attempts, "
      "created_at, next_attempt_at, last_attempt_at, response_status, last_error) VALUES ($1, "
      "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
      {V(d.notifier_id), V(d.alert_id), V(d.event), V(d.body), V(Name(d.state)), V(d.attempts),
       V(d.created_at), V(d.next_attempt_at), V(d.last_attempt_at), V(d.response_status),
       V(d.last_error)});
}

Status SqlAlertTables::UpdateDelivery(const AlertDelivery& d) {
  return sql::ExpectOne(
      db_.Execute("UPDATE alert_deliveries SET state = $2, attempts = $3, next_attempt_at = $4, "
                  "last_attempt_at = $5, response_status = $6, last_error = $7 WHERE id = $1",
                  {V(d.id), V(Name(d.state)), V(d.attempts), V(d.next_attempt_at),
                   V(d.last_attempt_at), V(d.response_status), V(d.last_error)}),
      "delivery", std::to_string(d.id));
}

Result<std::vector<AlertDelivery>> SqlAlertTables::ListDeliveries(const DeliveryFilter& f) {
  if (f.due_by > 0) {
    return sql::Many<AlertDelivery>(
        db_,
        fmt::format("SELECT {} FROM alert_deliveries WHERE state = 'pending' AND "
                    "next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
                    kDeliveryCols),
        {V(f.due_by), V(Limit(f.limit))}, DeliveryFrom);
  }
  return sql::Many<AlertDelivery>(
      db_,
      fmt::format("SELECT {} FROM alert_deliveries WHERE (CAST($1 AS TEXT) = '' OR notifier_id = "
                  "$1) AND ($2 < 0 OR alert_id = $2) ORDER BY id DESC LIMIT $3",
                  kDeliveryCols),
      {V(f.notifier_id), V(f.alert_id), V(Limit(f.limit))}, DeliveryFrom);
}

Status SqlAlertTables::PutSetting(const EngineSetting& s) {
  return sql::Exec(db_,
                   "INSERT INTO engine_settings (setting_key, value, changed_by, changed_at) "
                   "VALUES ($1, $2, $3, $4) ON CONFLICT (setting_key) DO UPDATE SET value = "
                   "excluded.value, changed_by = excluded.changed_by, changed_at = "
                   "excluded.changed_at",
                   {V(s.key), V(s.value), V(s.changed_by), V(s.changed_at)});
}

Status SqlAlertTables::DeleteSetting(const std::string& key) {
  return sql::Exec(db_, "DELETE FROM engine_settings WHERE setting_key = $1", {V(key)});
}

Result<std::vector<EngineSetting>> SqlAlertTables::ListSettings() {
  return sql::Many<EngineSetting>(
      db_,
      "SELECT setting_key, value, changed_by, changed_at FROM engine_settings ORDER BY "
      "setting_key",
      {}, [](const SqlRow& r) {
        return EngineSetting{r.Text(0), r.Text(1), r.Text(2), r.Int(3)};
      });
}

}  // namespace georep
