#include "store/migrations.h"

namespace georep {

namespace {

// Version 1: the entities as first modelled (model/entities.h).
constexpr const char* kInitialModel = R"SQL(
CREATE TABLE clusters (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE hosts (
  id TEXT PRIMARY KEY,
  cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  address TEXT NOT NULL,
  ssh_port INTEGER NOT NULL,
  ssh_user TEXT NOT NULL,
  transport TEXT NOT NULL,
  ssh_fingerprint TEXT NOT NULL,
  status TEXT NOT NULL,
  last_seen BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (cluster_id, name)
);
CREATE TABLE volumes (
  id TEXT PRIMARY KEY,
  cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  replica_count INTEGER NOT NULL,
  disperse_count INTEGER NOT NULL,
  size_bytes BIGINT NOT NULL,
  used_bytes BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (cluster_id, name)
);
CREATE TABLE bricks (
  volume_id TEXT NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  host_id TEXT NOT NULL REFERENCES hosts(id),
  path TEXT NOT NULL,
  PRIMARY KEY (volume_id, position)
);
CREATE TABLE destinations (
  id TEXT PRIMARY KEY,
  source_cluster_id TEXT NOT NULL REFERENCES clusters(id),
  source_host_id TEXT NOT NULL REFERENCES hosts(id),
  host TEXT NOT NULL,
  ssh_port INTEGER NOT NULL,
  ssh_fingerprint TEXT NOT NULL,
  remote_user TEXT NOT NULL,
  connection TEXT NOT NULL,
  connection_reason TEXT NOT NULL,
  last_checked BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (source_cluster_id, host, remote_user)
);
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  destination_id TEXT NOT NULL REFERENCES destinations(id),
  source_volume_id TEXT NOT NULL REFERENCES volumes(id),
  destination_volume TEXT NOT NULL,
  remote_user TEXT NOT NULL,
  session_key TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (source_volume_id, destination_id, destination_volume)
);
CREATE TABLE session_nodes (
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  source_host TEXT NOT NULL,
  source_brick TEXT NOT NULL,
  set_index INTEGER NOT NULL,
  destination_host TEXT NOT NULL,
  status TEXT NOT NULL,
  crawl TEXT NOT NULL,
  last_synced BIGINT NOT NULL,
  entry_pending BIGINT NOT NULL,
  data_pending BIGINT NOT NULL,
  meta_pending BIGINT NOT NULL,
  failures BIGINT NOT NULL,
  checkpoint_time BIGINT NOT NULL,
  checkpoint_completed INTEGER NOT NULL,
  checkpoint_completion_time BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (session_id, source_host, source_brick)
);
CREATE TABLE session_config (
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  option_key TEXT NOT NULL,
  value TEXT NOT NULL,
  changed_by TEXT NOT NULL,
  changed_at BIGINT NOT NULL,
  PRIMARY KEY (session_id, option_key)
);
CREATE TABLE events (
  id {serial_pk},
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  object_type TEXT NOT NULL,
  object_id TEXT NOT NULL,
  result TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX events_object ON events (object_type, object_id);
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  admin INTEGER NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  last_used BIGINT NOT NULL
);
)SQL";

}  // namespace

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "initial model", kInitialModel},
      {2, "status reasons", R"SQL(
ALTER TABLE sessions ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE session_nodes ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
)SQL"},
      {3, "lag and throughput", R"SQL(
ALTER TABLE session_nodes ADD COLUMN lag_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE session_nodes ADD COLUMN throughput_bps BIGINT NOT NULL DEFAULT 0;
)SQL"},
      {4, "session alerts and heartbeats", R"SQL(
CREATE TABLE session_alerts (
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  message TEXT NOT NULL,
  since BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (session_id, kind)
);
CREATE TABLE session_heartbeats (
  session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
  written_seq BIGINT NOT NULL,
  written_at BIGINT NOT NULL,
  pending_seq BIGINT NOT NULL,
  pending_at BIGINT NOT NULL,
  arrived_seq BIGINT NOT NULL,
  arrived_written_at BIGINT NOT NULL,
  arrived_seen_at BIGINT NOT NULL,
  checked_at BIGINT NOT NULL,
  problem TEXT NOT NULL,
  used_bytes BIGINT NOT NULL,
  used_at BIGINT NOT NULL,
  growth_bps BIGINT NOT NULL
);
)SQL"},
      {5, "checkpoint completion announced once", R"SQL(
ALTER TABLE sessions ADD COLUMN checkpoint_announced BIGINT NOT NULL DEFAULT 0;
)SQL"},
      // Users who were not administrators could do everything but manage users; they become
      // operators (they keep running sessions, but no longer set options that name programs
      // run as root). The admin column stays, kept in step, for an older engine's rollback.
      {6, "user roles", R"SQL(
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'operator';
UPDATE users SET role = 'admin' WHERE admin <> 0;
)SQL"},
      {7, "engine leases", R"SQL(
CREATE TABLE engine_leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  acquired_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
)SQL"},
      // A node's lag as recorded goes on growing while a change was pending then. Rows of an
      // older engine show what they recorded (their lag did not grow).
      {8, "lag that grows", R"SQL(
ALTER TABLE session_nodes ADD COLUMN lag_grows INTEGER NOT NULL DEFAULT 0;
)SQL"},
      // Alerts with a history (firing, resolved, acknowledged), the notifiers that carry
      // them out, every message sent to one, and the engine-wide settings the rules read.
      // At most one alert of a rule fires for an object: a partial unique index.
      {9, "alerts and notifiers", R"SQL(
CREATE TABLE alerts (
  id {serial_pk},
  rule TEXT NOT NULL,
  severity TEXT NOT NULL,
  state TEXT NOT NULL,
  object_type TEXT NOT NULL,
  object_id TEXT NOT NULL,
  object_name TEXT NOT NULL,
  summary TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  resolved_at BIGINT NOT NULL,
  acknowledged_at BIGINT NOT NULL,
  acknowledged_by TEXT NOT NULL
);
CREATE UNIQUE INDEX alerts_one_firing ON alerts (rule, object_type, object_id)
  WHERE state = 'firing';
CREATE INDEX alerts_by_object ON alerts (object_id, id);
CREATE TABLE notifiers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  url TEXT NOT NULL,
  secret TEXT NOT NULL,
  smtp_user TEXT NOT NULL,
  mail_from TEXT NOT NULL,
  mail_to TEXT NOT NULL,
  min_severity TEXT NOT NULL,
  send_resolved INTEGER NOT NULL,
  enabled INTEGER NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE alert_deliveries (
  id {serial_pk},
  notifier_id TEXT NOT NULL REFERENCES notifiers(id) ON DELETE CASCADE,
  alert_id BIGINT NOT NULL,
  event TEXT NOT NULL,
  body TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  last_attempt_at BIGINT NOT NULL,
  response_status INTEGER NOT NULL,
  last_error TEXT NOT NULL
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (state, next_attempt_at);
ALTER TABLE session_heartbeats ADD COLUMN size_bytes BIGINT NOT NULL DEFAULT -1;
CREATE TABLE engine_settings (
  setting_key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  changed_by TEXT NOT NULL,
  changed_at BIGINT NOT NULL
);
)SQL"},
  };
  return kMigrations;
}

}  // namespace georep
