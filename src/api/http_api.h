// HttpApi: the REST API under /api/v1 (JSON in and out) and the web console, served by
// HttpServer (http/http_server.h).
//
// Every endpoint but GET /api/v1/health and POST /api/v1/auth/login needs
// "Authorization: Bearer <token>"; GET /metrics is GET /api/v1/metrics (Prometheus's default
// path), with the same authentication. Errors are {"error": {"code", "message"}} with the
// HTTP status that fits (400 bad input, 401, 403, 404, 409 conflict/state, 413, 503).
// The routes themselves are in api/routes.h; this file adds what applies to every request
// (host and content-type checks, standby, security headers, the request log) and the console.
//
// Thread-safety: handlers run on the server's worker threads; Operations and Authenticator
// are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/engine_metrics.h"
#include "api/status_feed.h"
#include "auth/authenticator.h"
#include "base/clock.h"
#include "base/status.h"
#include "engine/operations.h"
#include "http/http_server.h"

namespace georep {

struct HttpApiOptions {
  // Where and how to listen, and the limits on clients (http/http_server.h); the server's
  // worker threads are set by HttpApi (one per live stream, and the ordinary requests').
  HttpServerOptions server;
  std::string version = "0.0.0";
  std::string web_root;  // directory of the web console's built assets; empty: none
  // Host names (lower case) the engine answers to besides IP addresses and "localhost": the
  // names in --public-url and --allowed-host, and this machine's.
  std::vector<std::string> allowed_hosts;
  // Why this engine is standby (another engine on the database is active), or "" when it is
  // active: a standby answers /health and refuses the rest of the API with 503 and the reason.
  std::function<std::string()> standby_reason;
  // What GET /api/v1/metrics tells of the engine itself (its monitor, store and workers).
  EngineTelemetry telemetry;
};

struct ApiContext;

class HttpApi {
 public:
  // `feed` (may be null: no live stream, no metrics) must outlive the HttpApi.
  HttpApi(Operations& ops, Authenticator& auth, Clock& clock, HttpApiOptions options,
          StatusFeed* feed = nullptr);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Binds the listening socket; returns the bound port.
  Result<int> Bind();
  // Serves until Stop(); call after Bind().
  Status Serve();
  // Stops accepting and returns from Serve() once in-flight requests finish. Thread-safe.
  void Stop();
  // Whether the web console's assets were found and are served.
  bool serves_console() const { return serves_console_; }
  HttpServerStats server_stats() const;

 private:
  void Routes();
  void WebConsole();
  bool HostAllowed(const std::string& header) const;

  Operations& ops_;
  Authenticator& auth_;
  Clock& clock_;
  HttpApiOptions options_;
  StatusFeed* feed_;
  std::unique_ptr<ApiContext> context_;  // what the route handlers use
  bool serves_console_ = false;
  std::unique_ptr<HttpServer> server_;
};

// The HTTP status for a Status code.
int HttpStatusFor(StatusCode code);

}  // namespace georep
