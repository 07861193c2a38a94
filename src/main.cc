// georep: geo-replication manager and engine. One binary: `georep serve` runs the engine;
// every other command is a client of its REST API.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "serve.h"
#include "worker/commands.h"

#ifndef GEOREP_VERSION
#define GEOREP_VERSION "0.0.0"
#endif

namespace {

int Main(int argc, char** argv) {
  CLI::App app{"georep: geo-replication manager and engine"};
  app.set_version_flag("--version", GEOREP_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;

  georep::ServeOptions serve;
  auto* serve_cmd = app.add_subcommand("serve", "Run the engine: REST API, monitor, console");
  serve_cmd->add_option("--data", serve.data_dir, "Data directory (database, keys)")
      ->capture_default_str();
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT to listen on (port 0: any free)")
      ->capture_default_str();
  serve_cmd->add_option("--db", serve.db_url,
                        "Database URL: sqlite:///path.db or postgresql://... without a password "
                        "(default: SQLite in the data directory)");
  serve_cmd->add_option("--db-file", serve.db_file,
                        "File (mode 0600) holding the database URL, password included; or set "
                        "GEOREP_DB_URL");
  serve_cmd->add_option("--tls-cert", serve.tls_cert, "PEM certificate: serve HTTPS");
  serve_cmd->add_option("--tls-key", serve.tls_key, "PEM private key for --tls-cert");
  serve_cmd->add_option("--web-root", serve.web_root, "Directory of the web console's assets");
  serve_cmd->add_option("--public-url", serve.public_url,
                        "URL users reach the engine by (e.g. behind a proxy): printed, and its "
                        "host name is answered to");
  serve_cmd->add_option("--allowed-host", serve.allowed_hosts,
                        "Another host name the engine answers to (repeatable); IP addresses, "
                        "localhost and this machine's name always are");
  serve_cmd->add_option("--volume-root", serve.volume_roots,
                        "A directory under which directory volumes may lie (repeatable; none: "
                        "no directory volumes)");
  serve_cmd
      ->add_option("--lease-ttl", serve.lease_ttl_seconds,
                   "Seconds an active engine's lease lasts unless renewed (engines sharing one "
                   "database: a standby takes over after it)")
      ->capture_default_str()
      ->check(CLI::Range(3, 600));
  serve_cmd
      ->add_option("--max-connections-per-address", serve.max_connections_per_address,
                   "Open connections one client address may hold")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  serve_cmd->add_option("--log-level", serve.log_level, "debug, info, warning, error")
      ->capture_default_str();
  serve_cmd
      ->add_option("--monitor-interval", serve.monitor_interval_seconds,
                   "Seconds between status polls of every session (0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  serve_cmd
      ->add_option("--alert-interval", serve.alert_interval_seconds,
                   "Seconds between evaluations of the alert rules (0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  serve_cmd
      ->add_option("--token-ttl", serve.token_ttl_seconds,
                   "Seconds a login's token lives (unless the login asks for less or more)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{60}, int64_t{10} * 365 * 24 * 3600));
  serve_cmd
      ->add_option("--max-token-ttl", serve.max_token_ttl_seconds,
                   "Seconds any token may live, at most (every token expires)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{60}, int64_t{10} * 365 * 24 * 3600));
  serve_cmd->callback([&] { exit_code = georep::Serve(serve); });

  georep::ServeOptions admin_opts;
  std::string admin_user = "admin";
  auto* admin = app.add_subcommand("admin", "Engine-host maintenance (needs the data directory)");
  admin->require_subcommand(1);
  auto* reset = admin->add_subcommand("reset-password", "Print a new password for a user");
  reset->add_option("--data", admin_opts.data_dir, "Data directory")->capture_default_str();
  reset->add_option("--db", admin_opts.db_url, "Database URL (default: SQLite in --data)");
  reset->add_option("--db-file", admin_opts.db_file, "File (mode 0600) holding the database URL");
  reset->add_option("--user", admin_user, "User name")->capture_default_str();
  reset->callback([&] { exit_code = georep::ResetPassword(admin_opts, admin_user); });

  georep::AddClientCommands(app, &exit_code);
  georep::AddReplicationCommands(app, &exit_code);

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    // Library code reports errors as values; anything thrown here is a bug worth printing.
    std::cerr << "georep: unexpected error: " << e.what() << "\n";
    return 1;
  }
}
