#include "engine/alert_manager.h"

#include <fmt/format.h>

#include <cstdlib>
#include <map>
#include <set>

#include "engine/alert_rules.h"

namespace georep {
namespace {

// The session's own value of an engine option, 0 when unset or not a number.
int64_t ConfigNumber(const std::vector<SessionConfigEntry>& config, std::string_view key,
                     int64_t* changed_at = nullptr) {
  for (const auto& c : config) {
    if (c.key != key) continue;
    if (changed_at != nullptr) *changed_at = c.changed_at;
    return std::atoll(c.value.c_str());
  }
  return 0;
}

using Key = std::tuple<std::string, std::string, std::string>;  // rule, object type, object id

}  // namespace

Result<AlertPass> AlertManager::Evaluate() {
  std::lock_guard lock(evaluate_mu_);
  AlertPass pass;
  const int64_t now = ctx_.clock.NowMillis();
  Status st = ctx_.store.Transaction([&](StoreTx& tx) -> Status {
    pass = AlertPass{};
    GEOREP_ASSIGN_OR_RETURN(auto settings, tx.ListSettings());
    const int64_t lag_default = EngineSettingValue(settings, "alert-lag-threshold") * 1000;
    const int64_t checkpoint_default =
        EngineSettingValue(settings, "alert-checkpoint-timeout") * 1000;
    const int disk_percent = static_cast<int>(EngineSettingValue(settings, "alert-disk-usage"));

    std::map<Key, AlertCondition> now_true;
    GEOREP_ASSIGN_OR_RETURN(auto sessions, tx.ListSessions({}));
    for (Session& s : sessions) {
      SessionDetail d;
      GEOREP_ASSIGN_OR_RETURN(d.nodes, tx.ListNodeStatuses(s.id));
      d.session = std::move(s);
      GEOREP_RETURN_IF_ERROR(ctx_.FillHealth(tx, d));
      GEOREP_ASSIGN_OR_RETURN(auto config, tx.ListConfig(d.session.id));
      SessionAlertInput in;
      in.detail = &d;
      const int64_t own_lag = ConfigNumber(config, "alert-lag-threshold") * 1000;
      in.lag_threshold_ms = own_lag > 0 ? own_lag : lag_default;
      const int64_t own_cp = ConfigNumber(config, "alert-checkpoint-timeout") * 1000;
      in.checkpoint_timeout_ms = own_cp > 0 ? own_cp : checkpoint_default;
      in.checkpoint_ms = ConfigNumber(config, "checkpoint", &in.checkpoint_set_at) * 1000;
      in.disk_percent = disk_percent;
      if (d.heartbeat) {
        in.destination_used_bytes = d.heartbeat->used_bytes;
        in.destination_size_bytes = d.heartbeat->size_bytes;
      }
      for (auto& c : SessionConditions(in, now))
        now_true.emplace(Key{c.rule, c.object_type, c.object_id}, std::move(c));
    }
    GEOREP_ASSIGN_OR_RETURN(auto destinations, tx.ListDestinations(""));
    for (const auto& dest : destinations) {
      for (auto& c : DestinationConditions(dest))
        now_true.emplace(Key{c.rule, c.object_type, c.object_id}, std::move(c));
    }

    GEOREP_ASSIGN_OR_RETURN(auto firing, tx.FindAlerts({.state = AlertState::kFiring, .limit = 0}));
    std::set<Key> still;
    for (Alert& a : firing) {
      const Key key{a.rule, a.object_type, a.object_id};
      auto it = now_true.find(key);
      if (it != now_true.end()) {
        still.insert(key);
        if (it->second.summary != a.summary || it->second.object_name != a.object_name) {
          a.summary = it->second.summary;
          a.object_name = it->second.object_name;
          a.updated_at = now;
          GEOREP_RETURN_IF_ERROR(tx.UpdateAlert(a));
        }
        continue;
      }
      a.state = AlertState::kResolved;
      a.resolved_at = a.updated_at = now;
      GEOREP_RETURN_IF_ERROR(tx.UpdateAlert(a));
      GEOREP_RETURN_IF_ERROR(
          tx
              .AppendEvent(Event{
                  0, now, "monitor", "alert.resolved", a.object_type, a.object_id, "ok",
                  fmt::format("{} {}: {} resolved after {} (was: {})", a.object_type, a.object_name,
                              a.rule, HumanDuration(now - a.started_at), a.summary)})
              .status());
      GEOREP_ASSIGN_OR_RETURN(int q, notifications_.QueueFor(tx, a, "resolved", now));
      pass.queued += q;
      ++pass.resolved;
    }
    for (auto& [key, c] : now_true) {
      if (still.count(key) != 0) continue;
      const AlertRule* rule = FindAlertRule(c.rule);
      Alert a;
      a.rule = c.rule;
      a.severity = rule != nullptr ? rule->severity : AlertSeverity::kWarning;
      a.object_type = c.object_type;
      a.object_id = c.object_id;
      a.object_name = c.object_name;
      a.summary = c.summary;
      a.started_at = a.updated_at = now;
      GEOREP_ASSIGN_OR_RETURN(a.id, tx.CreateAlert(a));
      GEOREP_RETURN_IF_ERROR(
          tx.AppendEvent(Event{0, now, "monitor", "alert.firing", a.object_type, a.object_id,
                               "failed",
                               fmt::format("{} {}: {} ({}): {}", a.object_type, a.object_name,
                                           a.rule, Name(a.severity), a.summary)})
              .status());
      GEOREP_ASSIGN_OR_RETURN(int q, notifications_.QueueFor(tx, a, "firing", now));
      pass.queued += q;
      ++pass.fired;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return pass;
}

Result<std::vector<Alert>> AlertManager::List(const AlertFilter& filter) {
  return Read<std::vector<Alert>>(ctx_.store, [&](StoreTx& tx) { return tx.FindAlerts(filter); });
}

Result<Alert> AlertManager::Get(int64_t id) {
  return Read<Alert>(ctx_.store, [&](StoreTx& tx) { return tx.GetAlert(id); });
}

Result<Alert> AlertManager::Acknowledge(const Actor& a, int64_t id) {
  Alert out;
  std::string oid = std::to_string(id), msg;
  Status st = ctx_.Audited(a, "alert.acknowledge", "alert", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
    GEOREP_ASSIGN_OR_RETURN(out, tx.GetAlert(id));
    if (out.state != AlertState::kFiring) {
      return Status::FailedPrecondition(
          fmt::format("alert {} is resolved: only a firing alert is acknowledged", id));
    }
    msg = fmt::format("alert {} ({} on {} {}) acknowledged", id, out.rule, out.object_type,
                      out.object_name);
    if (out.acknowledged_at != 0) {
      msg += fmt::format(" again; {} did first", out.acknowledged_by);
      return Status::Ok();
    }
    out.acknowledged_at = ctx_.clock.NowMillis();
    out.acknowledged_by = a.name;
    return tx.UpdateAlert(out);
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<SettingItem>> AlertManager::Settings() {
  GEOREP_ASSIGN_OR_RETURN(
      auto stored,
      Read<std::vector<EngineSetting>>(ctx_.store, [](StoreTx& tx) { return tx.ListSettings(); }));
  std::vector<SettingItem> out;
  for (const auto& info : EngineSettingsCatalog()) {
    SettingItem item{&info, EngineSettingValue(stored, info.key), true, "", 0};
    for (const auto& s : stored) {
      if (s.key != info.key) continue;
      item.is_default = false;
      item.changed_by = s.changed_by;
      item.changed_at = s.changed_at;
    }
    out.push_back(item);
  }
  return out;
}

Result<SettingItem> AlertManager::SetSetting(const Actor& a, const std::string& key,
                                             const std::string& value) {
  const EngineSettingInfo* info = FindEngineSetting(key);
  Status valid = Require(a, Role::kAdmin);
  if (valid.ok() && info == nullptr)
    valid = Status::NotFound(fmt::format("there is no engine setting '{}'", key));
  int64_t n = 0;
  if (valid.ok() && info != nullptr) {
    auto parsed = ParseEngineSetting(*info, value);
    if (parsed.ok()) {
      n = *parsed;
    } else {
      valid = parsed.status();
    }
  }
  if (!valid.ok()) {
    (void)ctx_.RecordFailure(a, "setting.set", "setting", key, valid);
    return valid;
  }
  const int64_t now = ctx_.clock.NowMillis();
  std::string oid = key;
  std::string msg = fmt::format("engine setting {} set to {}", key, n);
  GEOREP_RETURN_IF_ERROR(ctx_.Audited(a, "setting.set", "setting", oid, msg, [&](StoreTx& tx) {
    return tx.PutSetting({key, std::to_string(n), a.name, now});
  }));
  return SettingItem{info, n, false, a.name, now};
}

Status AlertManager::ResetSetting(const Actor& a, const std::string& key) {
  std::string oid = key;
  std::string msg = fmt::format("engine setting {} back to its default", key);
  return ctx_.Audited(a, "setting.reset", "setting", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
    if (FindEngineSetting(key) == nullptr)
      return Status::NotFound(fmt::format("there is no engine setting '{}'", key));
    return tx.DeleteSetting(key);
  });
}

}  // namespace georep
