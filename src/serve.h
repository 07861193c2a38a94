// `georep serve`: the engine process -- store, authentication, REST API.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace georep {

struct ServeOptions {
  std::string data_dir = "/var/lib/georep";
  std::string listen = "127.0.0.1:8470";
  // The database: --db (no password in it: argv is public), else --db-file (a 0600 file
  // holding the URL), else $GEOREP_DB_URL; none: sqlite://<data_dir>/georep.db.
  std::string db_url;
  std::string db_file;
  std::string tls_cert;
  std::string tls_key;
  std::string web_root;
  // The URL users reach the engine by (behind a proxy, say): its host name is one the engine
  // answers to, and it is the URL printed.
  std::string public_url;
  std::vector<std::string> allowed_hosts;  // more host names the engine answers to
  // Directories under which directory volumes (sources and destinations) may lie; none: no
  // directory volume anywhere.
  std::vector<std::string> volume_roots;
  int max_connections_per_address = 256;
  // Several engines on one database: the active one renews its lease within this time, or
  // a standby takes over (engine/engine_lease.h).
  int lease_ttl_seconds = 30;
  std::string log_level = "info";
  int monitor_interval_seconds = 10;                        // 0: no background monitor
  int alert_interval_seconds = 2;                           // 0: alerts are not evaluated
  int64_t token_ttl_seconds = int64_t{12} * 3600;           // a login's token
  int64_t max_token_ttl_seconds = int64_t{90} * 24 * 3600;  // any token's
};

// Runs until SIGTERM or SIGINT; returns the process exit code.
int Serve(const ServeOptions& options);

// `georep admin reset-password`: opens the engine's store directly and prints a new password
// for `user`. Returns the process exit code.
int ResetPassword(const ServeOptions& options, const std::string& user);

}  // namespace georep
