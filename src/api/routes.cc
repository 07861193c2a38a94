#include "api/routes.h"

#include "api/api_reply.h"

namespace georep {

const std::vector<ApiRoute>& ApiRoutes() {
  static const std::vector<ApiRoute> kRoutes = [] {
    std::vector<ApiRoute> all;
    for (auto* resource : {SystemResource, ClusterResource, DestinationResource, SessionResource,
                           EventResource, MetricsResource, AlertResource}) {
      for (auto& route : resource().routes) all.push_back(std::move(route));
    }
    return all;
  }();
  return kRoutes;
}

const Json& ApiSchemas() {
  static const Json kSchemas = [] {
    Json all = Json::object();
    for (auto* resource : {SystemResource, ClusterResource, DestinationResource, SessionResource,
                           EventResource, MetricsResource, AlertResource}) {
      all.update(resource().schemas);
    }
    return all;
  }();
  return kSchemas;
}

const ApiRoute* FindRoute(std::string_view method, std::string_view path) {
  for (const auto& r : ApiRoutes())
    if (r.method == method && r.path == path) return &r;
  return nullptr;
}

namespace {

std::string BearerToken(const HttpRequest& req) {
  std::string h = req.get_header_value("Authorization");
  constexpr std::string_view kPrefix = "Bearer ";
  if (h.size() > kPrefix.size() && h.compare(0, kPrefix.size(), kPrefix) == 0)
    return h.substr(kPrefix.size());
  return "";
}

// Runs `route` for a caller whose token and role allow it.
void Authenticated(ApiContext& c, const ApiRoute& route, const HttpRequest& req,
                   HttpResponse& res) {
  std::string token = BearerToken(req);
  if (token.empty()) {
    return SendError(res, Status::Unauthenticated(
                              "authentication required: send 'Authorization: Bearer <token>' "
                              "(POST /api/v1/auth/login gives a token)"));
  }
  auto user = c.auth.Authenticate(token);
  if (!user.ok()) return SendError(res, user.status());
  ApiCaller caller{&*user, Actor{user->name, user->role}};
  if (Status allowed = Require(caller.actor, *route.role); !allowed.ok())
    return SendError(res, allowed);
  route.handle(c, req, res, caller);
}

}  // namespace

HttpHandler BoundHandler(ApiContext* context, const ApiRoute& route) {
  if (route.role) {
    return [context, &route](const HttpRequest& req, HttpResponse& res) {
      Authenticated(*context, route, req, res);
    };
  }
  return [context, &route](const HttpRequest& req, HttpResponse& res) {
    route.handle(*context, req, res, ApiCaller{});
  };
}

void BindApiRoutes(ApiContext* context, const RouteSink& sink) {
  for (const ApiRoute& route : ApiRoutes())
    sink(route.method, "/api/v1" + route.path, BoundHandler(context, route));
}

}  // namespace georep
