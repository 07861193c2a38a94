// georep: geo-replication manager and engine. One binary: `georep serve` runs the engine;
// every other command is a client of its REST API.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "serve.h"

#ifndef GEOREP_VERSION
#define GEOREP_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
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
                        "Database URL: sqlite:///path.db or postgresql://... "
                        "(default: SQLite in the data directory)");
  serve_cmd->add_option("--tls-cert", serve.tls_cert, "PEM certificate: serve HTTPS");
  serve_cmd->add_option("--tls-key", serve.tls_key, "PEM private key for --tls-cert");
  serve_cmd->add_option("--web-root", serve.web_root, "Directory of the web console's assets");
  serve_cmd->add_option("--log-level", serve.log_level, "debug, info, warning, error")
      ->capture_default_str();
  serve_cmd->callback([&] { exit_code = georep::Serve(serve); });

  georep::AddClientCommands(app, &exit_code);

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
