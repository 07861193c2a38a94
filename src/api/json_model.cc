#include "api/json_model.h"

#include <fmt/format.h>

#include "base/clock.h"
#include "engine/alert_payload.h"
#include "model/names.h"
#include "model/session_lifecycle.h"

namespace georep {
namespace {

Json Time(int64_t ms) {
  return ms == 0 ? Json(nullptr) : Json(FormatIsoMillis(ms));
}

// Unknown figures (-1) are null, never 0.
Json Known(int64_t v) {
  return v < 0 ? Json(nullptr) : Json(v);
}
Json Seconds(int64_t ms) {
  return ms < 0 ? Json(nullptr) : Json(static_cast<double>(ms) / 1000.0);
}

}  // namespace

Json AllowedActions(SessionStatus status) {
  Json out = Json::array();
  for (SessionAction action : {SessionAction::kStart, SessionAction::kStop, SessionAction::kPause,
                               SessionAction::kResume, SessionAction::kDelete}) {
    Json entry = {{"action", Name(action)}, {"mode", "ok"}};
    if (Status plain = CheckSessionAction(status, action, false); !plain.ok()) {
      entry["mode"] = CheckSessionAction(status, action, true).ok() ? "force" : "no";
      entry["reason"] = plain.message();
    }
    out.push_back(entry);
  }
  return out;
}

Json ToJson(const Cluster& c) {
  return {{"id", c.id},
          {"name", c.name},
          {"description", c.description},
          {"created_at", Time(c.created_at)}};
}

Json ToJson(const Host& h) {
  return {{"id", h.id},
          {"cluster_id", h.cluster_id},
          {"name", h.name},
          {"address", h.address},
          {"ssh_port", h.ssh_port},
          {"ssh_user", h.ssh_user},
          {"transport", Name(h.transport)},
          {"ssh_fingerprint", h.ssh_fingerprint},
          {"status", Name(h.status)},
          {"last_seen", Time(h.last_seen)},
          {"created_at", Time(h.created_at)}};
}

Json ToJson(const Volume& v) {
  Json bricks = Json::array();
  for (const auto& b : v.bricks) bricks.push_back({{"host_id", b.host_id}, {"path", b.path}});
  return {{"id", v.id},
          {"cluster_id", v.cluster_id},
          {"name", v.name},
          {"kind", Name(v.kind)},
          {"status", Name(v.status)},
          {"bricks", bricks},
          {"replica_count", v.replica_count},
          {"disperse_count", v.disperse_count},
          {"size_bytes", v.size_bytes},
          {"used_bytes", v.used_bytes},
          {"created_at", Time(v.created_at)}};
}

Json ToJson(const Destination& d) {
  return {{"id", d.id},
          {"source_cluster_id", d.source_cluster_id},
          {"source_host_id", d.source_host_id},
          {"host", d.host},
          {"ssh_port", d.ssh_port},
          {"ssh_fingerprint", d.ssh_fingerprint},
          {"remote_user", d.remote_user},
          {"connection", Name(d.connection)},
          {"connection_reason", d.connection_reason},
          {"last_checked", Time(d.last_checked)},
          {"created_at", Time(d.created_at)}};
}

Json ToJson(const Session& s) {
  return {{"id", s.id},
          {"destination_id", s.destination_id},
          {"source_volume_id", s.source_volume_id},
          {"destination_volume", s.destination_volume},
          {"remote_user", s.remote_user},
          {"session_key", s.session_key},
          {"status", Name(s.status)},
          {"status_reason", s.status_reason},
          {"created_at", Time(s.created_at)},
          {"updated_at", Time(s.updated_at)}};
}

Json ToJson(const SessionNodeStatus& n) {
  return {{"source_host", n.source_host},
          {"source_brick", n.source_brick},
          {"set_index", n.set_index},
          {"destination_host", n.destination_host},
          {"status", Name(n.status)},
          {"status_reason", n.status_reason},
          {"crawl_status", Name(n.crawl)},
          {"last_synced", Time(n.last_synced)},
          {"entry_pending", Known(n.entry_pending)},
          {"data_pending", Known(n.data_pending)},
          {"meta_pending", Known(n.meta_pending)},
          {"failures", Known(n.failures)},
          {"checkpoint_time", Time(n.checkpoint_time)},
          {"checkpoint_completed", n.checkpoint_completed},
          {"checkpoint_completion_time", Time(n.checkpoint_completion_time)},
          {"lag_seconds", Seconds(n.lag_ms)},
          {"throughput_bytes_per_second", Known(n.throughput_bps)},
          {"updated_at", Time(n.updated_at)}};
}

Json ToJson(const replication::VerifyReport& r) {
  Json diffs = Json::array();
  for (const auto& d : r.differences) diffs.push_back({{"path", d.path}, {"difference", d.what}});
  return {{"identical", r.differences.empty()},
          {"entries", r.entries},
          {"content_checked", r.content_checked},
          {"bytes_hashed", r.bytes_hashed},
          {"differences", diffs},
          {"not_compared", r.not_compared}};
}

Json ToJson(const RepairReport& r) {
  return {{"identical", r.after.differences.empty()},
          {"differences_found", r.before.differences.size()},
          {"resent", r.resent},
          {"deleted", r.deleted},
          {"before", ToJson(r.before)},
          {"after", ToJson(r.after)}};
}

Json ToJson(const CandidateVolume& c) {
  return {{"name", c.name},
          {"status", c.status},
          {"size_bytes", c.size_bytes},
          {"eligible", c.eligible},
          {"reasons", c.reasons}};
}

Json ToJson(const Preflight& p) {
  Json nodes = Json::array();
  for (const auto& n : p.nodes) {
    nodes.push_back({{"host", n.host},
                     {"role", n.role},
                     {"rsync", n.rsync.empty() ? Json(nullptr) : Json(n.rsync)},
                     {"gluster", n.gluster.empty() ? Json(nullptr) : Json(n.gluster)},
                     {"rsync_writes_empty_files", n.rsync_writes_empty_files},
                     {"problem", n.problem.empty() ? Json(nullptr) : Json(n.problem)}});
  }
  return {{"nodes", nodes},
          {"rsync_unsafe", p.rsync_unsafe},
          {"complete", p.complete},
          {"summary", p.Summary()}};
}

Json ToJson(const SessionDetail& d) {
  Json j = ToJson(d.session);
  Json nodes = Json::array();
  for (const auto& n : d.nodes) nodes.push_back(ToJson(n));
  j["nodes"] = nodes;
  j["warnings"] = d.warnings;
  Json alerts = Json::array();
  for (const auto& a : d.alerts) {
    alerts.push_back({{"kind", a.kind},
                      {"message", a.message},
                      {"since", Time(a.since)},
                      {"updated_at", Time(a.updated_at)}});
  }
  j["alerts"] = alerts;
  j["last_synced"] = Time(d.last_synced);
  j["lag_seconds"] = Seconds(d.lag_ms);
  j["throughput_bytes_per_second"] = Known(d.throughput_bps);
  if (d.heartbeat_interval_ms > 0 || d.heartbeat) {
    Json hb = {{"interval_seconds", d.heartbeat_interval_ms / 1000},
               {"stall_threshold_seconds", d.stall_threshold_ms / 1000}};
    if (d.heartbeat) {
      const SessionHeartbeat& h = *d.heartbeat;
      hb["last_written"] = Time(h.written_at);
      hb["last_arrived_written"] = Time(h.arrived_written_at);
      hb["last_arrived"] = Time(h.arrived_seen_at);
      hb["on_its_way_since"] = Time(h.pending_at);
      hb["last_checked"] = Time(h.checked_at);
      hb["problem"] = h.problem.empty() ? Json(nullptr) : Json(h.problem);
    }
    j["heartbeat"] = hb;
  } else {
    j["heartbeat"] = nullptr;
  }
  if (d.preflight) j["preflight"] = ToJson(*d.preflight);
  j["allowed_actions"] = AllowedActions(d.session.status);
  return j;
}

Json ToJson(const ConfigItem& c) {
  Json allowed = Json::array();
  for (auto a : c.option->allowed) allowed.push_back(a);
  Json j = {{"key", c.option->key},
            {"value", c.value},
            {"default", c.option->default_value},
            {"is_default", c.is_default},
            {"type", Name(c.option->type)},
            {"description", c.option->description},
            {"allowed_values", allowed},
            {"changed_by", c.changed_by.empty() ? Json(nullptr) : Json(c.changed_by)},
            {"changed_at", Time(c.changed_at)}};
  if (c.option->type == ConfigType::kInt) {
    j["min"] = c.option->min;
    j["max"] = c.option->max;
  }
  return j;
}

Json ToJson(const Event& e) {
  return {{"id", e.id},
          {"at", Time(e.at)},
          {"actor", e.actor},
          {"action", e.action},
          {"object_type", e.object_type},
          {"object_id", e.object_id},
          {"result", e.result},
          {"message", e.message}};
}

Json ToJson(const User& u) {
  // "admin" stays for clients written before roles.
  return {{"id", u.id},
          {"name", u.name},
          {"role", Name(u.role)},
          {"admin", u.role == Role::kAdmin},
          {"created_at", Time(u.created_at)}};
}

Json ToJson(const ApiToken& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"created_at", Time(t.created_at)},
          {"expires_at", Time(t.expires_at)},
          {"last_used", Time(t.last_used)}};
}

Json ToJson(const Alert& a) {
  return AlertJson(a);
}

Json ToJson(const Notifier& n) {
  Json j = {{"id", n.id},
            {"name", n.name},
            {"kind", Name(n.kind)},
            {"url", n.url},
            {"min_severity", Name(n.min_severity)},
            {"send_resolved", n.send_resolved},
            {"enabled", n.enabled},
            {"created_at", Time(n.created_at)}};
  if (n.kind == NotifierKind::kEmail) {
    j["smtp_user"] = n.smtp_user;
    j["mail_from"] = n.mail_from;
    j["mail_to"] = n.mail_to;
  }
  if (!n.secret.empty()) j["secret"] = n.secret;
  return j;
}

Json ToJson(const AlertDelivery& d) {
  return {{"id", d.id},
          {"notifier_id", d.notifier_id},
          {"alert_id", d.alert_id == 0 ? Json(nullptr) : Json(d.alert_id)},
          {"event", d.event},
          {"state", Name(d.state)},
          {"attempts", d.attempts},
          {"created_at", Time(d.created_at)},
          {"next_attempt_at", Time(d.next_attempt_at)},
          {"last_attempt_at", Time(d.last_attempt_at)},
          {"response_status", d.response_status == 0 ? Json(nullptr) : Json(d.response_status)},
          {"last_error", d.last_error},
          {"body", d.body}};
}

Json ToJson(const SettingItem& s) {
  return {{"key", s.info->key},
          {"value", s.value},
          {"default", s.info->default_value},
          {"is_default", s.is_default},
          {"min", s.info->min},
          {"max", s.info->max},
          {"description", s.info->description},
          {"changed_by", s.changed_by.empty() ? Json(nullptr) : Json(s.changed_by)},
          {"changed_at", Time(s.changed_at)}};
}

Result<Json> ParseBody(const std::string& body) {
  if (body.empty()) return Json::object();
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("request body is not valid JSON");
  if (!j.is_object()) return Status::InvalidArgument("request body must be a JSON object");
  return j;
}

Result<std::string> JsonFields::Str(const char* key, bool required, std::string fallback) {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) {
    if (required) {
      return Status::InvalidArgument(fmt::format("field '{}' is required", key)).WithField(key);
    }
    return fallback;
  }
  if (!it->is_string())
    return Status::InvalidArgument(fmt::format("field '{}' must be a string", key)).WithField(key);
  return it->get<std::string>();
}

Result<int64_t> JsonFields::Int(const char* key, int64_t fallback) {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return fallback;
  if (!it->is_number_integer())
    return Status::InvalidArgument(fmt::format("field '{}' must be a whole number", key))
        .WithField(key);
  return it->get<int64_t>();
}

Result<bool> JsonFields::Bool(const char* key, bool fallback) {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return fallback;
  if (!it->is_boolean())
    return Status::InvalidArgument(fmt::format("field '{}' must be true or false", key))
        .WithField(key);
  return it->get<bool>();
}

Status JsonFields::OnlyKnown(std::initializer_list<const char*> known) const {
  for (auto it = j_.begin(); it != j_.end(); ++it) {
    bool found = false;
    for (const char* k : known) found = found || it.key() == k;
    if (!found) {
      return Status::InvalidArgument(fmt::format("unknown field '{}'", it.key().substr(0, 64)));
    }
  }
  return Status::Ok();
}

Result<ClusterSpec> ClusterSpecFrom(const Json& j) {
  JsonFields f(j);
  GEOREP_RETURN_IF_ERROR(f.OnlyKnown({"name", "description"}));
  ClusterSpec s;
  GEOREP_ASSIGN_OR_RETURN(s.name, f.Str("name", true));
  GEOREP_ASSIGN_OR_RETURN(s.description, f.Str("description", false));
  return s;
}

Result<HostSpec> HostSpecFrom(const Json& j, const std::string& cluster_id) {
  JsonFields f(j);
  GEOREP_RETURN_IF_ERROR(f.OnlyKnown(
      {"name", "address", "ssh_port", "ssh_user", "transport", "ssh_fingerprint", "password"}));
  HostSpec s;
  s.cluster_id = cluster_id;
  GEOREP_ASSIGN_OR_RETURN(s.name, f.Str("name", true));
  GEOREP_ASSIGN_OR_RETURN(s.address, f.Str("address", false));
  GEOREP_ASSIGN_OR_RETURN(int64_t port, f.Int("ssh_port", 22));
  if (port < 0 || port > 65535) {
    return Status::InvalidArgument("invalid ssh port: must be 1-65535").WithField("ssh_port");
  }
  s.ssh_port = static_cast<int>(port);
  GEOREP_ASSIGN_OR_RETURN(s.ssh_user, f.Str("ssh_user", false, "root"));
  GEOREP_ASSIGN_OR_RETURN(std::string transport, f.Str("transport", false, "ssh"));
  auto t = ParseHostTransport(transport);
  if (!t) {
    return Status::InvalidArgument("field 'transport' must be 'local' or 'ssh'")
        .WithField("transport");
  }
  s.transport = *t;
  GEOREP_ASSIGN_OR_RETURN(s.ssh_fingerprint, f.Str("ssh_fingerprint", false));
  GEOREP_ASSIGN_OR_RETURN(s.one_time_password, f.Str("password", false));
  return s;
}

Result<VolumeSpec> VolumeSpecFrom(const Json& j, const std::string& cluster_id) {
  JsonFields f(j);
  GEOREP_RETURN_IF_ERROR(f.OnlyKnown(
      {"name", "kind", "bricks", "host_id", "path", "replica_count", "disperse_count"}));
  VolumeSpec s;
  s.cluster_id = cluster_id;
  GEOREP_ASSIGN_OR_RETURN(s.name, f.Str("name", true));
  GEOREP_ASSIGN_OR_RETURN(std::string kind, f.Str("kind", false, "directory"));
  auto k = ParseVolumeKind(kind);
  if (!k) {
    return Status::InvalidArgument("field 'kind' must be 'gluster' or 'directory'")
        .WithField("kind");
  }
  s.kind = *k;
  GEOREP_ASSIGN_OR_RETURN(int64_t replica, f.Int("replica_count", 1));
  GEOREP_ASSIGN_OR_RETURN(int64_t disperse, f.Int("disperse_count", 0));
  if (replica < 0 || replica > 1024 || disperse < 0 || disperse > 1024)
    return Status::InvalidArgument("replica and disperse counts must be small positive numbers");
  s.replica_count = static_cast<int>(replica);
  s.disperse_count = static_cast<int>(disperse);
  // A directory volume may be given as {host_id, path} instead of a one-brick list.
  GEOREP_ASSIGN_OR_RETURN(std::string host_id, f.Str("host_id", false));
  GEOREP_ASSIGN_OR_RETURN(std::string path, f.Str("path", false));
  if (!host_id.empty() || !path.empty()) s.bricks.push_back(Brick{host_id, path});
  if (auto it = j.find("bricks"); it != j.end()) {
    if (!it->is_array()) return Status::InvalidArgument("field 'bricks' must be a list");
    for (const auto& b : *it) {
      if (!b.is_object()) return Status::InvalidArgument("each brick must be an object");
      JsonFields bf(b);
      GEOREP_RETURN_IF_ERROR(bf.OnlyKnown({"host_id", "path"}));
      Brick brick;
      GEOREP_ASSIGN_OR_RETURN(brick.host_id, bf.Str("host_id", true));
      GEOREP_ASSIGN_OR_RETURN(brick.path, bf.Str("path", true));
      s.bricks.push_back(brick);
    }
  }
  return s;
}

Result<DestinationSpec> DestinationSpecFrom(const Json& j, const std::string& cluster_id) {
  JsonFields f(j);
  GEOREP_RETURN_IF_ERROR(f.OnlyKnown({"source_host_id", "host", "ssh_port", "ssh_fingerprint",
                                      "remote_user", "copy_keys", "password"}));
  DestinationSpec s;
  s.source_cluster_id = cluster_id;
  GEOREP_ASSIGN_OR_RETURN(s.source_host_id, f.Str("source_host_id", true));
  GEOREP_ASSIGN_OR_RETURN(s.host, f.Str("host", true));
  GEOREP_ASSIGN_OR_RETURN(int64_t port, f.Int("ssh_port", 22));
  if (port < 0 || port > 65535) {
    return Status::InvalidArgument("invalid ssh port: must be 1-65535").WithField("ssh_port");
  }
  s.ssh_port = static_cast<int>(port);
  GEOREP_ASSIGN_OR_RETURN(s.ssh_fingerprint, f.Str("ssh_fingerprint", false));
  GEOREP_ASSIGN_OR_RETURN(s.remote_user, f.Str("remote_user", false, "root"));
  return s;
}

Result<SessionSpec> SessionSpecFrom(const Json& j) {
  JsonFields f(j);
  GEOREP_RETURN_IF_ERROR(f.OnlyKnown({"destination_id", "source_volume_id", "destination_volume",
                                      "remote_user", "force", "sync_method"}));
  SessionSpec s;
  GEOREP_ASSIGN_OR_RETURN(s.destination_id, f.Str("destination_id", true));
  GEOREP_ASSIGN_OR_RETURN(s.source_volume_id, f.Str("source_volume_id", true));
  GEOREP_ASSIGN_OR_RETURN(s.destination_volume, f.Str("destination_volume", true));
  GEOREP_ASSIGN_OR_RETURN(s.remote_user, f.Str("remote_user", false));
  return s;
}

}  // namespace georep
