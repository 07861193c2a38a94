// Alerts: what georep tells people without being asked.
//
// An Alert is one rule's condition on one object (a session, a destination) from the moment the
// engine first saw it until it ended: firing, then resolved. At most one alert of a rule fires
// for an object at a time; when the condition comes back after it ended, that is a new alert.
// An operator may acknowledge a firing alert (someone is on it): it stays firing until the
// condition ends, and it is no longer counted in the console's badge.
//
// Notifiers carry alerts out of the engine -- a webhook (a signed JSON POST) or e-mail over
// SMTP -- and each message to one notifier is an AlertDelivery: kept with its attempts, retried
// with back-off until it is delivered or given up, so an admin can see what was sent, when,
// and why a receiver did not take it.
//
// Engine settings are the engine-wide values the rules start from (a session's config may
// override some); their catalogue, with defaults and limits, is EngineSettingsCatalog().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace georep {

enum class AlertSeverity { kWarning, kCritical };
enum class AlertState { kFiring, kResolved };

std::string_view Name(AlertSeverity v);
std::string_view Name(AlertState v);
std::optional<AlertSeverity> ParseAlertSeverity(std::string_view s);
std::optional<AlertState> ParseAlertState(std::string_view s);

// The rules, by the name an alert carries. Session rules: "session-faulty" (its status is
// Faulty or Partial faulty), "session-stalled" (the end-to-end heartbeat stopped arriving),
// "data-at-risk" (gsyncd would write files without their content), "heartbeat-mismatch" (a
// heartbeat arrived damaged), "heartbeat-failing" (it cannot be written or read),
// "verify-differs" (a verify found the destination different), "change-capture" (a directory
// session's worker cannot watch the source, and rescans), "lag-high" (the lag is over
// alert-lag-threshold), "checkpoint-overdue" (a checkpoint has not completed within
// alert-checkpoint-timeout), "destination-disk-full" (the destination volume is over
// alert-disk-usage percent full). Destination rules: "destination-broken" (the engine cannot
// reach it: the last test or re-establish failed).
struct AlertRule {
  std::string_view name;
  AlertSeverity severity;
  std::string_view object_type;  // "session" or "destination"
  std::string_view description;
};
const std::vector<AlertRule>& AlertRules();
const AlertRule* FindAlertRule(std::string_view name);

struct Alert {
  int64_t id = 0;
  std::string rule;
  AlertSeverity severity = AlertSeverity::kWarning;
  AlertState state = AlertState::kFiring;
  std::string object_type;  // "session" or "destination"
  std::string object_id;
  std::string object_name;  // what people call the object: a session's key, a destination's host
  std::string summary;      // one line: what is wrong (as last seen; when resolved, what was)
  int64_t started_at = 0;   // when the engine first saw the condition
  int64_t updated_at = 0;   // when its summary last changed, or it resolved
  int64_t resolved_at = 0;  // 0 while firing
  int64_t acknowledged_at = 0;  // 0: not acknowledged
  std::string acknowledged_by;
};

struct AlertFilter {
  std::optional<AlertState> state{};  // none: both
  std::string object_id{};            // empty: any
  int64_t before_id = 0;              // > 0: only older alerts (paging back, newest first)
  int limit = 100;                    // 0: all
};

enum class NotifierKind { kWebhook, kEmail };
std::string_view Name(NotifierKind v);
std::optional<NotifierKind> ParseNotifierKind(std::string_view s);

struct Notifier {
  std::string id;
  std::string name;
  NotifierKind kind = NotifierKind::kWebhook;
  // Webhook: the http:// or https:// URL it POSTs to. E-mail: the SMTP server, smtp://host:port
  // (STARTTLS required) or smtps://host:port.
  std::string url;
  // Webhook: the key of its HMAC-SHA256 signature. E-mail: the SMTP password (may be empty).
  // Shown once, when the engine makes it; never again, never logged.
  std::string secret;
  std::string smtp_user;  // e-mail only; empty: no SMTP authentication
  std::string mail_from;  // e-mail only
  std::string mail_to;    // e-mail only: addresses, comma-separated
  AlertSeverity min_severity = AlertSeverity::kWarning;  // alerts below it are not sent
  bool send_resolved = true;                             // also say when an alert ends
  bool enabled = true;
  int64_t created_at = 0;
};

enum class DeliveryState { kPending, kDelivered, kFailed };
std::string_view Name(DeliveryState v);
std::optional<DeliveryState> ParseDeliveryState(std::string_view s);

// One message to one notifier: an alert firing or resolved, or a test.
struct AlertDelivery {
  int64_t id = 0;
  std::string notifier_id;
  int64_t alert_id = 0;  // 0: a test message
  std::string event;     // "firing", "resolved" or "test"
  std::string body;      // what is sent: the webhook's JSON, the e-mail's text
  DeliveryState state = DeliveryState::kPending;
  int attempts = 0;
  int64_t created_at = 0;
  int64_t next_attempt_at = 0;  // pending: when it is tried (again)
  int64_t last_attempt_at = 0;  // 0: not tried yet
  int response_status = 0;      // the receiver's HTTP or SMTP answer to the last attempt; 0: none
  std::string last_error;       // why the last attempt failed; empty when it worked
};

struct DeliveryFilter {
  std::string notifier_id{};  // empty: any
  int64_t alert_id = -1;      // -1: any
  // > 0: only pending deliveries due by then (next_attempt_at <= due_by), oldest first.
  int64_t due_by = 0;
  int limit = 100;  // 0: all
};

// When a failed delivery is tried again: 10 s after the first attempt, then 30 s, 1.5 min ...
// times three each time up to an hour between attempts; after `kMaxDeliveryAttempts` attempts
// (about a day) it is given up. Returns 0 when there is no next attempt.
inline constexpr int kMaxDeliveryAttempts = 30;
int64_t NextDeliveryAttempt(int attempts_made, int64_t now_ms);

// --- engine settings
struct EngineSetting {
  std::string key;
  std::string value;
  std::string changed_by;
  int64_t changed_at = 0;
};

struct EngineSettingInfo {
  std::string_view key;
  int64_t default_value;
  int64_t min;
  int64_t max;
  std::string_view description;
};
const std::vector<EngineSettingInfo>& EngineSettingsCatalog();
const EngineSettingInfo* FindEngineSetting(std::string_view key);
// `value` checked against the setting's limits: a whole number in [min, max].
Result<int64_t> ParseEngineSetting(const EngineSettingInfo& info, std::string_view value);
// The value in force: the stored one, or the default.
int64_t EngineSettingValue(const std::vector<EngineSetting>& stored, std::string_view key);

}  // namespace georep
