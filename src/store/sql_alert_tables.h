// SqlAlertTables: the store's alerts, notifiers, deliveries and engine settings
// (model/alerts.h) over one SqlConnection, in the SQL SQLite and PostgreSQL both accept.
// SqlStore's transaction hands its calls here; internal to src/store.
//
// Not thread-safe: used inside one transaction, as the connection is.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "model/alerts.h"
#include "store/sql.h"

namespace georep {

class SqlAlertTables {
 public:
  explicit SqlAlertTables(SqlConnection& db) : db_(db) {}

  Result<int64_t> CreateAlert(const Alert& a);
  Status UpdateAlert(const Alert& a);
  Result<Alert> GetAlert(int64_t id);
  Result<std::vector<Alert>> FindAlerts(const AlertFilter& f);

  Status CreateNotifier(const Notifier& n);
  Status UpdateNotifier(const Notifier& n);
  Result<Notifier> GetNotifier(const std::string& id);
  Result<std::vector<Notifier>> ListNotifiers();
  Status DeleteNotifier(const std::string& id);

  Result<int64_t> CreateDelivery(const AlertDelivery& d);
  Status UpdateDelivery(const AlertDelivery& d);
  Result<std::vector<AlertDelivery>> ListDeliveries(const DeliveryFilter& f);

  Status PutSetting(const EngineSetting& s);
  Status DeleteSetting(const std::string& key);
  Result<std::vector<EngineSetting>> ListSettings();

 private:
  SqlConnection& db_;
};

}  // namespace georep
