// AlertManager: keeps the alerts (model/alerts.h) true to what the engine knows. Evaluate reads
// every session (status, standing alerts, lag, checkpoint, the destination's disk) and every
// destination, runs the rules (alert_rules.h), and in one transaction fires the conditions that
// have no alert yet, resolves the alerts whose condition ended (or whose object is gone), and
// queues their notifications (Notifications::QueueFor) -- each change with an event
// ("alert.firing", "alert.resolved"). The AlertMonitor calls it every few seconds, so an alert
// fires within one status refresh of its cause.
//
// Also: listing and acknowledging alerts, and the engine settings the rules read.
// Roles: viewers read alerts and settings; operators acknowledge; admins change settings.
//
// Thread-safe: Evaluate runs one at a time (its own mutex), everything else in one store
// transaction each.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "engine/engine_context.h"
#include "engine/notifications.h"
#include "model/alerts.h"

namespace georep {

struct AlertPass {
  int fired = 0;
  int resolved = 0;
  int queued = 0;  // deliveries queued
};

// A setting as the API shows it: its catalogue entry and the value in force.
struct SettingItem {
  const EngineSettingInfo* info = nullptr;
  int64_t value = 0;
  bool is_default = true;
  std::string changed_by;
  int64_t changed_at = 0;
};

class AlertManager {
 public:
  AlertManager(EngineContext& ctx, Notifications& notifications)
      : ctx_(ctx), notifications_(notifications) {}

  Result<AlertPass> Evaluate();

  Result<std::vector<Alert>> List(const AlertFilter& filter);
  Result<Alert> Get(int64_t id);
  // Marks a firing alert as seen by `a` (an operator); acknowledging twice keeps the first.
  Result<Alert> Acknowledge(const Actor& a, int64_t id);

  Result<std::vector<SettingItem>> Settings();
  Result<SettingItem> SetSetting(const Actor& a, const std::string& key, const std::string& value);
  Status ResetSetting(const Actor& a, const std::string& key);

 private:
  EngineContext& ctx_;
  Notifications& notifications_;
  std::mutex evaluate_mu_;  // one Evaluate at a time
};

}  // namespace georep
