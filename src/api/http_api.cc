#include "api/http_api.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include "api/json_model.h"
#include "api/openapi.h"
#include "api/routes.h"
#include "base/ascii.h"
#include "base/log.h"
#include "base/private_file.h"
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

void SendJson(Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void SendError(Response& res, const Status& st) {
  res.status = HttpStatusFor(st.code());
  if (st.code() == StatusCode::kUnauthenticated)
    res.set_header("WWW-Authenticate", "Bearer realm=\"georep\"");
  Json body = {{"error", {{"code", StatusCodeName(st.code())}, {"message", st.message()}}}};
  res.set_content(body.dump(), "application/json");
}

template <typename T>
void SendResult(Response& res, const Result<T>& r, int ok_status = 200) {
  if (!r.ok()) return SendError(res, r.status());
  SendJson(res, ok_status, ToJson(*r));
}

template <typename T>
void SendList(Response& res, const Result<std::vector<T>>& r) {
  if (!r.ok()) return SendError(res, r.status());
  Json arr = Json::array();
  for (const auto& x : *r) arr.push_back(ToJson(x));
  SendJson(res, 200, {{"items", arr}});
}

void SendStatus(Response& res, const Status& st) {
  if (!st.ok()) return SendError(res, st);
  res.status = 204;
}

bool QueryFlag(const Request& req, const char* name) {
  if (!req.has_param(name)) return false;
  std::string v = req.get_param_value(name);
  return v.empty() || v == "true" || v == "1" || v == "yes";
}

Result<int64_t> QueryInt(const Request& req, const char* name, int64_t fallback) {
  if (!req.has_param(name)) return fallback;
  std::string v = req.get_param_value(name);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n < 0) {
    return Status::InvalidArgument(
        fmt::format("query parameter '{}' must be a whole number", name));
  }
  return n;
}

// A user's role from "role" ("viewer", "operator", "admin"), or from "admin": true as
// clients written before roles say it; a new user is a viewer unless told otherwise.
Result<Role> RoleFrom(JsonFields& f) {
  auto word = f.Str("role", false);
  if (!word.ok()) return word.status();
  auto admin = f.Bool("admin", false);
  if (!admin.ok()) return admin.status();
  if (word->empty()) return *admin ? Role::kAdmin : Role::kViewer;
  auto role = ParseRole(*word);
  if (!role) {
    return Status::InvalidArgument(
        fmt::format("unknown role '{}': one of viewer, operator, admin", LogValue(*word)));
  }
  if (*admin && *role != Role::kAdmin)
    return Status::InvalidArgument("'admin': true contradicts the role given");
  return *role;
}

std::string BearerToken(const Request& req) {
  std::string h = req.get_header_value("Authorization");
  constexpr std::string_view kPrefix = "Bearer ";
  if (h.size() > kPrefix.size() && h.compare(0, kPrefix.size(), kPrefix) == 0)
    return h.substr(kPrefix.size());
  return "";
}

}  // namespace

HttpApi::HttpApi(Operations& ops, Authenticator& auth, Clock& clock, HttpApiOptions options,
                 StatusFeed* feed)
    : ops_(ops), auth_(auth), clock_(clock), options_(std::move(options)), feed_(feed) {
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
    // A standby engine: the active one, elsewhere, runs sessions and answers for them.
    if (options_.standby_reason && req.path.starts_with("/api/") && req.path != "/api/v1/health") {
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

  // Registers a handler for one route of the table in api/routes.cc: it runs only for an
  // authenticated user whose role is the route's or above. A route missing from the table is a
  // programming error, found at start-up.
  using Authed = std::function<void(const Request&, Response&, const User&, const Actor&)>;
  auto on = [this, &s](std::string_view method, std::string_view path, Authed h) {
    const RouteRole* route = FindRoute(method, path);
    if (route == nullptr || !route->role) {
      spdlog::critical("msg=\"route without a role\" method={} path={}", method, path);
      std::abort();
    }
    auto handler = [this, needed = *route->role, h = std::move(h)](const Request& req,
                                                                   Response& res) {
      std::string token = BearerToken(req);
      if (token.empty()) {
        return SendError(res, Status::Unauthenticated(
                                  "authentication required: send 'Authorization: Bearer <token>' "
                                  "(POST /api/v1/auth/login gives a token)"));
      }
      auto user = auth_.Authenticate(token);
      if (!user.ok()) return SendError(res, user.status());
      Actor actor{user->name, user->role};
      if (Status allowed = Require(actor, needed); !allowed.ok()) return SendError(res, allowed);
      h(req, res, *user, actor);
    };
    s.Route(method, "/api/v1" + std::string(path), std::move(handler));
  };
  auto with_body = [](const Request& req, Response& res, auto fn) {
    auto j = ParseBody(req.body);
    if (!j.ok()) return SendError(res, j.status());
    fn(*j);
  };

  const std::string v1 = "/api/v1";

  // --- public
  s.Route("GET", v1 + "/health", [this](const Request&, Response& res) {
    Json out = {{"status", "ok"}, {"version", options_.version}, {"active", true}};
    if (options_.standby_reason) {
      std::string why = options_.standby_reason();
      out["active"] = why.empty();
      if (!why.empty()) out["standby_reason"] = why;
    }
    SendJson(res, 200, out);
  });
  on("GET", "/openapi.json", [this](const Request&, Response& res, const User&, const Actor&) {
    SendJson(res, 200, OpenApiDocument(options_.version));
  });
  s.Route("POST", v1 + "/auth/login", [this, with_body](const Request& req, Response& res) {
    with_body(req, res, [&](const Json& j) {
      JsonFields f(j);
      Status known = f.OnlyKnown({"username", "password", "token_name", "ttl_seconds"});
      if (!known.ok()) return SendError(res, known);
      auto user = f.Str("username", true);
      auto pw = f.Str("password", true);
      auto name = f.Str("token_name", false, "login");
      auto ttl = f.Int("ttl_seconds", auth_.policy().login_ttl_seconds);
      for (const Status* st : {&user.status(), &pw.status(), &name.status(), &ttl.status()})
        if (!st->ok()) return SendError(res, *st);
      auto issued = auth_.Login(*user, *pw, *name, *ttl, req.remote_addr);
      if (!issued.ok()) return SendError(res, issued.status());
      SendJson(res, 200,
               {{"token", issued->secret},
                {"token_id", issued->token.id},
                {"expires_at", issued->token.expires_at == 0
                                   ? Json(nullptr)
                                   : Json(FormatIsoMillis(issued->token.expires_at))},
                {"username", *user}});
    });
  });

  // --- the caller and their tokens
  on("GET", "/me", [](const Request&, Response& res, const User& u, const Actor&) {
    SendJson(res, 200, ToJson(u));
  });
  on("GET", "/tokens", [this](const Request&, Response& res, const User& u, const Actor&) {
    SendList(res, ops_.ListTokens(u));
  });
  on("POST", "/tokens",
     [this, with_body](const Request& req, Response& res, const User& u, const Actor&) {
       with_body(req, res, [&](const Json& j) {
         JsonFields f(j);
         Status known = f.OnlyKnown({"name", "ttl_seconds"});
         if (!known.ok()) return SendError(res, known);
         auto name = f.Str("name", true);
         if (!name.ok()) return SendError(res, name.status());
         // A token for scripts lives as long as asked, and is asked for: there is no default.
         if (!j.contains("ttl_seconds")) {
           return SendError(res, Status::InvalidArgument(fmt::format(
                                     "ttl_seconds is required: how long the token lives, at most "
                                     "{} seconds",
                                     auth_.policy().max_ttl_seconds)));
         }
         auto ttl = f.Int("ttl_seconds", 0);
         if (!ttl.ok()) return SendError(res, ttl.status());
         auto issued = auth_.IssueToken(u, *name, *ttl);
         if (!issued.ok()) return SendError(res, issued.status());
         Json out = ToJson(issued->token);
         out["token"] = issued->secret;
         SendJson(res, 201, out);
       });
     });
  on("DELETE", "/tokens/{id}",
     [this](const Request& req, Response& res, const User& u, const Actor& a) {
       SendStatus(res, ops_.RevokeToken(a, u, req.matches[1]));
     });

  // --- users
  on("GET", "/users", [this](const Request&, Response& res, const User&, const Actor& a) {
    SendList(res, ops_.ListUsers(a));
  });
  on("POST", "/users",
     [this, with_body](const Request& req, Response& res, const User&, const Actor& a) {
       with_body(req, res, [&](const Json& j) {
         JsonFields f(j);
         Status known = f.OnlyKnown({"name", "password", "role", "admin"});
         if (!known.ok()) return SendError(res, known);
         auto name = f.Str("name", true);
         auto pw = f.Str("password", true);
         for (const Status* st : {&name.status(), &pw.status()})
           if (!st->ok()) return SendError(res, *st);
         auto role = RoleFrom(f);
         if (!role.ok()) return SendError(res, role.status());
         SendResult(res, ops_.CreateUser(a, *name, *pw, *role), 201);
       });
     });
  on("DELETE", "/users/{id}",
     [this](const Request& req, Response& res, const User&, const Actor& a) {
       SendStatus(res, ops_.DeleteUser(a, req.matches[1]));
     });
  on("PUT", "/users/{id}/password",
     [this, with_body](const Request& req, Response& res, const User&, const Actor& a) {
       with_body(req, res, [&](const Json& j) {
         JsonFields f(j);
         Status known = f.OnlyKnown({"password"});
         if (!known.ok()) return SendError(res, known);
         auto pw = f.Str("password", true);
         if (!pw.ok()) return SendError(res, pw.status());
         SendStatus(res, ops_.SetPassword(a, req.matches[1], *pw));
       });
     });

  on("PUT", "/users/{id}/role",
     [this, with_body](const Request& req, Response& res, const User&, const Actor& a) {
       with_body(req, res, [&](const Json& j) {
         JsonFields f(j);
         Status known = f.OnlyKnown({"role"});
         if (!known.ok()) return SendError(res, known);
         auto word = f.Str("role", true);
         if (!word.ok()) return SendError(res, word.status());
         auto role = RoleFrom(f);
         if (!role.ok()) return SendError(res, role.status());
         SendResult(res, ops_.SetRole(a, req.matches[1], *role));
       });
     });

  on("GET", "/users/{id}/tokens",
     [this](const Request& req, Response& res, const User&, const Actor& a) {
       SendList(res, ops_.ListUserTokens(a, req.matches[1]));
     });
  on("DELETE", "/users/{id}/tokens",
     [this](const Request& req, Response& res, const User&, const Actor& a) {
       SendStatus(res, ops_.RevokeUserTokens(a, req.matches[1]));
     });

  // --- clusters
  on("GET", "/clusters", [this](const Request&, Response& res, const User&, const Actor&) {
    SendList(res, ops_.ListClusters());
  });
  on("POST", "/clusters",
     [this, with_body](const Request& req, Response& res, const User&, const Actor& a) {
       with_body(req, res, [&](const Json& j) {
         auto spec = ClusterSpecFrom(j);
         if (!spec.ok()) return SendError(res, spec.status());
         SendResult(res, ops_.CreateCluster(a, *spec), 201);
       });
     });
  on("POST", "/clusters/import",
     [this, with_body](const Request& req, Response& res, const User&, const Actor& a) {
       with_body(req, res, [&](const Json& j) {
         JsonFields f(j);
         Status known = f.OnlyKnown(
             {"name", "address", "ssh_port", "ssh_user", "ssh_fingerprint", "password"});
         if (!known.ok()) return SendError(res, known);
         GlusterImportSpec spec;
         auto name = f.Str("name", true);
         auto address = f.Str("address", true);
         auto port = f.Int("ssh_port", 22);
         auto user = f.Str("ssh_user", false, "root");
         auto fp = f.Str("ssh_fingerprint", true);
         auto password = f.Str("password", false);
         for (const Status* st : {&name.status(), &address.status(), &port.status(), &user.status(),
                                  &fp.status(), &password.status()})
           if (!st->ok()) return SendError(res, *st);
         if (*port < 1 || *port > 65535)
           return SendError(res, Status::InvalidArgument("invalid ssh port: must be 1-65535"));
         spec.name = *name;
         spec.address = *address;
         spec.ssh_port = static_cast<int>(*port);
         spec.ssh_user = *user;
         spec.ssh_fingerprint = *fp;
         spec.one_time_password = *password;
         auto imported = ops_.ImportGlusterCluster(a, spec);
         if (!imported.ok()) return SendError(res, imported.status());
         Json hosts = Json::array(), vols = Json::array();
         for (const auto& h : imported->hosts) hosts.push_back(ToJson(h));
         for (const auto& v : imported->volumes) vols.push_back(ToJson(v));
         SendJson(res, 201,
                  {{"cluster", ToJson(imported->cluster)}, {"hosts", hosts}, {"volumes", vols}});
       });
     });
  on("GET", "/clusters/{id}", [this](const Request& req, Response& res, const User&, const Actor&) {
    SendResult(res, ops_.GetCluster(req.matches[1]));
  });
  on("DELETE", "/clusters/{id}",
     [this](const Request& req, Response& res, const User&, const Actor& a) {
       SendStatus(res, ops_.DeleteCluster(a, req.matches[1]));
     });

  // --- hosts
  on("GET", "/clusters/{id}/hosts",
     [this](const Request& req, Response& res, const User&, const Actor&) {
       SendList(res, ops_.ListHosts(req.matches[1]));
     });
  on("POST", "/clusters/{id}/hosts",
     [this, with_body](const Request& req, Response& res, const User&, const Actor& a) {
       with_body(req, res, [&](const Json& j) {
         auto spec = HostSpecFrom(j, req.matches[1]);
         if (!spec.ok()) return SendError(res, spec.status());
         SendResult(res, ops_.AddHost(a, *spec), 201);
       });
     });
  on("GET", "/hosts/{id}", [this](const Request& req, Response& res, const User&, const Actor&) {
    SendResult(res, ops_.GetHost(req.matches[1]));
  });
  on("POST", "/host-keys/scan",
     [this, with_body](const Request& req, Response& res, const User&, const Actor& a) {
       with_body(req, res, [&](const Json& j) {
         JsonFields f(j);
         Status known = f.OnlyKnown({"address", "port"});
         if (!known.ok()) return SendError(res, known);
         auto address = f.Str("address", true);
         if (!address.ok()) return SendError(res, address.status());
         auto port = f.Int("port", 22);
         if (!port.ok()) return SendError(res, port.status());
         if (*port < 1 || *port > 65535)
           return SendError(res, Status::InvalidArgument("invalid port: must be 1-65535"));
         auto keys = ops_.ScanHostKeys(a, *address, static_cast<int>(*port));
         if (!keys.ok()) return SendError(res, keys.status());
         Json items = Json::array();
         for (const auto& k : *keys)
           items.push_back({{"type", k.type}, {"fingerprint", k.fingerprint}});
         SendJson(res, 200, {{"items", items}});
       });
     });
  on("POST", "/hosts/{id}/check",
     [this](const Request& req, Response& res, const User&, const Actor& a) {
       auto c = ops_.CheckHost(a, req.matches[1]);
       if (!c.ok()) return SendError(res, c.status());
       Json out = ToJson(c->host);
       out["reachable"] = c->reachable;
       out["reason"] = c->reason;
       SendJson(res, 200, out);
     });
  on("PUT", "/hosts/{id}/fingerprint",
     [this, with_body](const Request& req, Response& res, const User&, const Actor& a) {
       with_body(req, res, [&](const Json& j) {
         JsonFields f(j);
         Status known = f.OnlyKnown({"fingerprint"});
         if (!known.ok()) return SendError(res, known);
         auto fp = f.Str("fingerprint", true);
         if (!fp.ok()) return SendError(res, fp.status());
         SendResult(res, ops_.RepinHost(a, req.matches[1], *fp));
       });
     });
  on("GET", "/engine/ssh-key", [this](const Request&, Response& res, const User&, const Actor&) {
    auto k = ops_.EngineSshKey();
    if (!k.ok()) return SendError(res, k.status());
    SendJson(res, 200, {{"public_key", k->first}, {"fingerprint", k->second}});
  });
  on("DELETE", "/hosts/{id}",
     [this](const Request& req, Response& res, const User&, const Actor& a) {
       SendStatus(res, ops_.RemoveHost(a, req.matches[1]));
     });

  // --- volumes
  on("GET", "/volumes", [this](const Request&, Response& res, const User&, const Actor&) {
    SendList(res, ops_.ListVolumes(""));
  });
  on("GET", "/clusters/{id}/volumes",
     [this](const Request& req, Response& res, const User&, const Actor&) {
       SendList(res, ops_.ListVolumes(req.matches[1]));
     });
  on("POST", "/clusters/{id}/volumes",
     [this, with_body](const Request& req, Response& res, const User&, const Actor& a) {
       with_body(req, res, [&](const Json& j) {
         auto spec = VolumeSpecFrom(j, req.matches[1]);
         if (!spec.ok()) return SendError(res, spec.status());
         SendResult(res, ops_.AddVolume(a, *spec), 201);
       });
     });
  on("GET", "/volumes/{id}", [this](const Request& req, Response& res, const User&, const Actor&) {
    SendResult(res, ops_.GetVolume(req.matches[1]));
  });
  on("DELETE", "/volumes/{id}",
     [this](const Request& req, Response& res, const User&, const Actor& a) {
       SendStatus(res, ops_.RemoveVolume(a, req.matches[1]));
     });

  // --- destinations
  on("GET", "/clusters/{id}/destinations",
     [this](const Request& req, Response& res, const User&, const Actor&) {
       SendList(res, ops_.ListDestinations(req.matches[1]));
     });
  on("POST", "/clusters/{id}/destinations",
     [this, with_body](const Request& req, Response& res, const User&, const Actor& a) {
       with_body(req, res, [&](const Json& j) {
         auto spec = DestinationSpecFrom(j, req.matches[1]);
         if (!spec.ok()) return SendError(res, spec.status());
         auto copy = JsonFields(j).Bool("copy_keys", false);
         if (!copy.ok()) return SendError(res, copy.status());
         auto password = JsonFields(j).Str("password", false);
         if (!password.ok()) return SendError(res, password.status());
         SendResult(res, ops_.CreateDestination(a, *spec, *copy, *password), 201);
       });
     });
  on("POST", "/destinations/{id}/reestablish",
     [this, with_body](const Request& req, Response& res, const User&, const Actor& a) {
       with_body(req, res, [&](const Json& j) {
         JsonFields f(j);
         Status known = f.OnlyKnown({"ssh_fingerprint", "password"});
         if (!known.ok()) return SendError(res, known);
         auto fp = f.Str("ssh_fingerprint", false);
         if (!fp.ok()) return SendError(res, fp.status());
         auto password = f.Str("password", false);
         if (!password.ok()) return SendError(res, password.status());
         SendResult(res, ops_.ReestablishDestination(a, req.matches[1], *fp, *password));
       });
     });
  on("POST", "/destinations/{id}/test",
     [this](const Request& req, Response& res, const User&, const Actor& a) {
       auto c = ops_.TestDestination(a, req.matches[1]);
       if (!c.ok()) return SendError(res, c.status());
       Json out = ToJson(c->destination);
       out["problems"] = c->problems;
       out["warnings"] = c->warnings;
       SendJson(res, 200, out);
     });
  on("GET", "/destinations/{id}",
     [this](const Request& req, Response& res, const User&, const Actor&) {
       SendResult(res, ops_.GetDestination(req.matches[1]));
     });
  on("DELETE", "/destinations/{id}",
     [this](const Request& req, Response& res, const User&, const Actor& a) {
       auto r = ops_.RemoveDestination(a, req.matches[1], QueryFlag(req, "force"));
       if (!r.ok()) return SendError(res, r.status());
       SendJson(res, 200, {{"message", *r}});
     });

  // --- sessions
  on("GET", "/sessions", [this](const Request& req, Response& res, const User&, const Actor&) {
    SessionFilter f;
    if (req.has_param("volume_id")) f.source_volume_id = req.get_param_value("volume_id");
    if (req.has_param("destination_id")) f.destination_id = req.get_param_value("destination_id");
    SendList(res, ops_.ListSessionDetails(f));
  });
  on("GET", "/volumes/{id}/sessions",
     [this](const Request& req, Response& res, const User&, const Actor&) {
       SendList(res, ops_.ListSessionDetails({req.matches[1], ""}));
     });
  on("GET", "/destinations/{id}/volumes",
     [this](const Request& req, Response& res, const User&, const Actor&) {
       if (!req.has_param("source_volume_id")) {
         return SendError(
             res, Status::InvalidArgument("source_volume_id is required: candidates are eligible "
                                          "for one source volume"));
       }
       SendList(res,
                ops_.ListCandidateVolumes(req.matches[1], req.get_param_value("source_volume_id")));
     });
  on("GET", "/destinations/{id}/sessions",
     [this](const Request& req, Response& res, const User&, const Actor&) {
       SendList(res, ops_.ListSessionDetails({"", req.matches[1]}));
     });
  on("POST", "/sessions",
     [this, with_body](const Request& req, Response& res, const User&, const Actor& a) {
       with_body(req, res, [&](const Json& j) {
         auto spec = SessionSpecFrom(j);
         if (!spec.ok()) return SendError(res, spec.status());
         JsonFields f(j);
         auto force = f.Bool("force", false);
         auto method = f.Str("sync_method", false);
         if (!force.ok()) return SendError(res, force.status());
         if (!method.ok()) return SendError(res, method.status());
         SessionCreateOptions options;
         options.force = *force;
         options.sync_method = *method;
         SendResult(res, ops_.CreateSession(a, *spec, options), 201);
       });
     });
  on("GET", "/sessions/{id}", [this](const Request& req, Response& res, const User&, const Actor&) {
    SendResult(res, ops_.GetSession(req.matches[1]));
  });
  on("DELETE", "/sessions/{id}",
     [this](const Request& req, Response& res, const User&, const Actor& a) {
       SendStatus(res, ops_.RemoveSession(a, req.matches[1], QueryFlag(req, "force"),
                                          QueryFlag(req, "reset_sync_time")));
     });

  for (SessionAction action : {SessionAction::kStart, SessionAction::kStop, SessionAction::kPause,
                               SessionAction::kResume}) {
    on("POST", "/sessions/{id}/" + std::string(Name(action)),
       [this, action](const Request& req, Response& res, const User&, const Actor& a) {
         SendResult(res, ops_.RunSessionAction(a, req.matches[1], action, QueryFlag(req, "force")));
       });
  }
  on("POST", "/sessions/{id}/verify",
     [this](const Request& req, Response& res, const User&, const Actor& a) {
       auto sample = QueryInt(req, "sample_percent", 100);
       if (!sample.ok()) return SendError(res, sample.status());
       if (*sample < 1 || *sample > 100)
         return SendError(res, Status::InvalidArgument("sample_percent must be 1-100"));
       auto r = ops_.VerifySession(a, req.matches[1], static_cast<int>(*sample));
       if (!r.ok()) return SendError(res, r.status());
       SendJson(res, 200, ToJson(*r));
     });
  on("POST", "/sessions/{id}/repair",
     [this](const Request& req, Response& res, const User&, const Actor& a) {
       auto r = ops_.RepairSession(a, req.matches[1]);
       if (!r.ok()) return SendError(res, r.status());
       SendJson(res, 200, ToJson(*r));
     });
  on("GET", "/sessions/{id}/preflight",
     [this](const Request& req, Response& res, const User&, const Actor&) {
       auto r = ops_.SessionPreflight(req.matches[1]);
       if (!r.ok()) return SendError(res, r.status());
       SendJson(res, 200, ToJson(*r));
     });
  on("POST", "/sessions/{id}/refresh",
     [this](const Request& req, Response& res, const User&, const Actor& a) {
       SendResult(res, ops_.RefreshSession(a, req.matches[1]));
     });

  // --- session config
  on("GET", "/sessions/{id}/config",
     [this](const Request& req, Response& res, const User&, const Actor&) {
       SendList(res, ops_.GetConfig(req.matches[1]));
     });
  on("PUT", "/sessions/{id}/config/{key}",
     [this, with_body](const Request& req, Response& res, const User&, const Actor& a) {
       with_body(req, res, [&](const Json& j) {
         JsonFields f(j);
         Status known = f.OnlyKnown({"value", "force"});
         if (!known.ok()) return SendError(res, known);
         auto value = f.Str("value", true);
         if (!value.ok()) return SendError(res, value.status());
         auto force = f.Bool("force", false);
         if (!force.ok()) return SendError(res, force.status());
         SendResult(res, ops_.SetConfig(a, req.matches[1], req.matches[2], *value, *force));
       });
     });
  on("DELETE", "/sessions/{id}/config/{key}",
     [this](const Request& req, Response& res, const User&, const Actor& a) {
       SendStatus(res, ops_.ResetConfig(a, req.matches[1], req.matches[2]));
     });

  // --- live updates and history
  on("GET", "/stream", [this](const Request&, Response& res, const User& u, const Actor&) {
    if (!feed_) return SendError(res, Status::Unavailable("live updates are not available"));
    bool mine_full = false;
    auto sub = feed_->Subscribe(u.name, &mine_full);
    if (!sub && mine_full) {
      res.status = 429;
      res.set_content(Json({{"error",
                             {{"code", "unavailable"},
                              {"message", fmt::format("you have {} live update streams open, the "
                                                      "most one user may; close a console tab",
                                                      StatusFeed::kMaxPerOwner)}}}})
                          .dump(),
                      "application/json");
      return;
    }
    if (!sub) {
      return SendError(res, Status::Unavailable("too many live update streams are open; close some "
                                                "console tabs or wait a minute"));
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    // A stream lasts ten minutes at most; the client reconnects (and re-authenticates:
    // a revoked token stops receiving within that time).
    const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(10);
    auto first = std::make_shared<bool>(true);
    res.set_stream(
        "text/event-stream",
        [sub, until, first](std::string* out) {
          if (*first) {
            *first = false;
            *out = "retry: 2000\nevent: hello\ndata: {}\n\n";
            return true;
          }
          std::vector<StatusFeed::Change> changes;
          bool open = sub->Next(std::chrono::seconds(15), &changes);
          if (!open || std::chrono::steady_clock::now() > until) return false;
          // A comment line every 15 s at least, so a gone client is noticed.
          if (changes.empty()) *out = ": keep-alive\n\n";
          for (const auto& c : changes) *out += "event: " + c.type + "\ndata: " + c.data + "\n\n";
          return true;
        },
        [this, sub] { feed_->Unsubscribe(sub); });
  });
  on("GET", "/sessions/{id}/metrics",
     [this](const Request& req, Response& res, const User&, const Actor&) {
       auto session = ops_.GetSession(req.matches[1]);
       if (!session.ok()) return SendError(res, session.status());
       Json items = Json::array();
       if (feed_) {
         for (const auto& m : feed_->Metrics(req.matches[1])) {
           items.push_back(
               {{"at", FormatIsoMillis(m.at_ms)},
                {"lag_seconds", m.lag_seconds < 0 ? Json(nullptr) : Json(m.lag_seconds)},
                {"throughput_bytes_per_second",
                 m.throughput_bps < 0 ? Json(nullptr) : Json(m.throughput_bps)}});
         }
       }
       SendJson(res, 200, {{"items", items}});
     });

  // --- events
  on("GET", "/events", [this](const Request& req, Response& res, const User&, const Actor&) {
    EventFilter f;
    auto after = QueryInt(req, "after_id", 0);
    auto before = QueryInt(req, "before_id", 0);
    auto limit = QueryInt(req, "limit", 100);
    if (!after.ok()) return SendError(res, after.status());
    if (!before.ok()) return SendError(res, before.status());
    f.before_id = *before;
    if (!limit.ok()) return SendError(res, limit.status());
    f.after_id = *after;
    f.limit = static_cast<int>(std::min<int64_t>(*limit, 1000));
    f.object_type = req.get_param_value("object_type");
    f.object_id = req.get_param_value("object_id");
    f.action_prefix = req.get_param_value("action");
    f.result = req.get_param_value("result");
    if (!f.result.empty() && f.result != "ok" && f.result != "failed")
      return SendError(res, Status::InvalidArgument("result must be ok or failed"));
    SendList(res, ops_.ListEvents(f));
  });

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
    auto file = ReadStaticFile(options_.web_root, req.path);
    if (file) {
      // Vite names built assets by their content hash: they never change under one name.
      res.set_header("Cache-Control", req.path.starts_with("/assets/")
                                          ? "public, max-age=31536000, immutable"
                                          : "no-cache");
      res.set_content(std::move(file->first), file->second);
      return;
    }
    // Any other path is one of the console's own routes: the page decides what it shows.
    res.set_header("Cache-Control", "no-cache");
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
