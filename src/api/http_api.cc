#include "api/http_api.h"

#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include "api/api_reply.h"
#include "api/routes.h"
#include "base/ascii.h"
#include "base/log.h"
#include "base/private_file.h"
#include "http/content_coding.h"
#include "http/http_server.h"
#include "http/static_file.h"
#include "model/names.h"

namespace georep {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kIOError:
    case StatusCode::kCorruption:
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

namespace {

using Request = HttpRequest;
using Response = HttpResponse;

}  // namespace

HttpApi::HttpApi(Operations& ops, Authenticator& auth, Clock& clock, HttpApiOptions options,
                 StatusFeed* feed)
    : ops_(ops), auth_(auth), clock_(clock), options_(std::move(options)), feed_(feed) {
  context_ = std::make_unique<ApiContext>(ApiContext{ops_, auth_, clock_, feed_, options_});
  HttpServerOptions o = options_.server;
  // Each live stream holds a worker thread while it waits for news: room for all of them and
  // the ordinary requests beside.
  o.worker_threads = StatusFeed::kMaxSubscribers + 16;
  server_ = std::make_unique<HttpServer>(std::move(o));
  Routes();
}

HttpApi::~HttpApi() = default;

Result<int> HttpApi::Bind() {
  if (!options_.server.tls_key.empty()) {
    // The key is the engine's identity to every browser and script: it stays the engine's.
    GEOREP_RETURN_IF_ERROR(CheckPrivateFile("the TLS key", options_.server.tls_key));
  }
  auto port = server_->Bind();
  if (!port.ok()) return port.status();
  return *port;
}

Status HttpApi::Serve() {
  return server_->Serve();
}

void HttpApi::Stop() {
  // Live streams end first: the server waits for every request in flight.
  if (feed_) feed_->Stop();
  server_->Stop();
}

HttpServerStats HttpApi::server_stats() const {
  return server_->stats();
}

void HttpApi::Routes() {
  HttpServer& s = *server_;
  s.OnLog([](const Request& req, const Response& res, double ms) {
    // Query strings are not logged: they are short here, but nothing secret should ever be
    // one step from a log line.
    spdlog::info("msg=request method={} path={} status={} remote={} ms={:.1f}",
                 LogValue(req.method), LogValue(req.path), res.status, req.remote_addr, ms);
  });
  s.OnError([](int status, std::string_view message, Response& res) {
    StatusCode code = status == 404   ? StatusCode::kNotFound
                      : status == 421 ? StatusCode::kPermissionDenied
                      : status >= 500
                          ? (status == 500 ? StatusCode::kInternal : StatusCode::kUnavailable)
                          : StatusCode::kInvalidArgument;
    res.set_content(
        Json({{"error", {{"code", StatusCodeName(code)}, {"message", message}}}}).dump(),
        "application/json");
  });
  // Checks on the header alone, before a body is read.
  s.OnHeader([this](const Request& req, Response& res) {
    // DNS rebinding: a page of another site, its name pointed at this engine's address, would
    // reach the API as a same-origin page. Only names this engine was told it has are served.
    if (!HostAllowed(req.get_header_value("Host"))) {
      res.status = 421;
      res.set_content(
          Json({{"error",
                 {{"code", "permission_denied"},
                  {"message",
                   fmt::format("this engine does not answer to the host name '{}'; "
                               "start it with --allowed-host {} (or --public-url) "
                               "if that name is its own",
                               LogValue(req.get_header_value("Host")).substr(0, 200), "NAME")}}}})
              .dump(),
          "application/json");
      return true;
    }
    // A standby engine: the active one, elsewhere, runs sessions and answers for them. Its
    // metrics stay readable (they say it stands by), so that both engines can be scraped.
    if (options_.standby_reason && req.path.starts_with("/api/") && req.path != "/api/v1/health" &&
        req.path != "/api/v1/metrics") {
      if (std::string why = options_.standby_reason(); !why.empty()) {
        res.status = 503;
        res.set_header("Retry-After", "5");
        res.set_content(Json({{"error", {{"code", "unavailable"}, {"message", why}}}}).dump(),
                        "application/json");
        return true;
      }
    }
    // Writes take JSON only: a body in any other type (text/plain, a form) is what a page on
    // another site can make a browser send without asking, a login attempt included.
    const std::string length = req.get_header_value("Content-Length");
    const bool body = req.has_header("Transfer-Encoding") || (!length.empty() && length != "0");
    if (!body || !req.path.starts_with("/api/")) return false;
    std::string type = req.get_header_value("Content-Type");
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') type.pop_back();
    if (AsciiLower(type) == "application/json") return false;
    res.status = 415;
    res.set_content(R"({"error":{"code":"invalid_argument","message":"send the body as JSON, )"
                    R"(with Content-Type: application/json"}})",
                    "application/json");
    return true;
  });
  s.OnResponse([tls = !options_.server.tls_cert.empty()](const Request& req, Response& res) {
    // The API's large JSON answers (lists) gzipped for clients that take it; never the live
    // stream. (The console's files have their own copies, compressed at build time.)
    if (req.path.starts_with("/api/")) CompressApiResponse(req, res);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    // Browsers that have seen the engine over TLS never try it in plain text again.
    if (tls) res.set_header("Strict-Transport-Security", "max-age=31536000");
    if (!req.path.starts_with("/api/")) {
      res.set_header("X-Frame-Options", "DENY");
      // Inline styles: PatternFly's charts set them. Nothing else is allowed from elsewhere.
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                     "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                     "base-uri 'none'; form-action 'self'");
    }
  });

  // Every route of the table in api/routes.h, and nothing else.
  BindApiRoutes(context_.get(),
                [&s](std::string_view method, const std::string& pattern, HttpHandler handler) {
                  s.Route(method, pattern, std::move(handler));
                });
  // Prometheus scrapes /metrics unless told otherwise: the same route, the same token.
  if (const ApiRoute* metrics = FindRoute("GET", "/metrics"))
    s.Route("GET", "/metrics", BoundHandler(context_.get(), *metrics));
  WebConsole();
}

// The web console: the built assets of web/ under "/", any other path outside /api/ answered
// with index.html (the console's own routes), and headers that keep the pages from being
// framed, sniffed or talking to anything but this engine.
void HttpApi::WebConsole() {
  HttpServer& s = *server_;
  auto index = std::make_shared<std::string>();
  if (!options_.web_root.empty()) {
    std::ifstream in(options_.web_root + "/index.html", std::ios::binary);
    if (in) {
      index->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      serves_console_ = true;
    } else {
      spdlog::warn("msg=\"web console not served\" web_root={} reason=\"no index.html\"",
                   LogValue(options_.web_root));
    }
  }
  s.OnUnmatched([this, index](const Request& req, Response& res) {
    if (req.path.starts_with("/api/") || !serves_console_) {
      return SendError(res, Status::NotFound(fmt::format("no such endpoint: {} {}", req.method,
                                                         req.path.substr(0, 200))));
    }
    if (req.method != "GET" && req.method != "HEAD") {
      res.set_header("Allow", "GET, HEAD");
      res.status = 405;
      res.set_content(
          R"({"error":{"code":"invalid_argument","message":"the console is read with GET"}})",
          "application/json");
      return;
    }
    // A built file, or, for any other path, index.html: the path is one of the console's own
    // routes, and the page decides what it shows. Sent as the precompressed copy the request
    // accepts, if the build wrote one (web/precompress.mjs).
    auto file = FindStaticFile(options_.web_root, req.path);
    // Vite names built assets by their content hash: they never change under one name. The
    // rest (index.html above all, which names the assets of the current build) is revalidated
    // on every use, by its ETag.
    const bool hashed = file && req.path.starts_with("/assets/");
    if (!file) file = FindStaticFile(options_.web_root, "/index.html");
    res.set_header("Cache-Control", hashed ? "public, max-age=31536000, immutable" : "no-cache");
    if (file && ServeStaticFile(*file, req, res)) return;
    // index.html went away since the start (a rebuild under way): the copy read then.
    res.set_content(*index, "text/html; charset=utf-8");
  });
}

bool HttpApi::HostAllowed(const std::string& header) const {
  if (header.empty()) return true;  // HTTP/1.0: no name was used to reach us
  std::string host = AsciiLower(header);
  if (host.starts_with('[')) {
    size_t close = host.find(']');
    if (close == std::string::npos) return false;
    host = host.substr(1, close - 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string::npos) {
    host.resize(colon);
  }
  while (!host.empty() && host.back() == '.') host.pop_back();
  // An address cannot be rebound to another machine: only names can.
  if (IsIpLiteral(host) || host == "localhost") return true;
  return std::find(options_.allowed_hosts.begin(), options_.allowed_hosts.end(), host) !=
         options_.allowed_hosts.end();
}

}  // namespace georep
