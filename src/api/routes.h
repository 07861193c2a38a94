// Every route of the API, the role it needs and how the OpenAPI document describes it: the one
// place that says what the API is and who may do what. The routes come from the resource files
// (routes_*.cc, see api/api_route.h); the HTTP front serves exactly these (BindApiRoutes) and
// the OpenAPI document (api/openapi.h) describes exactly these.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/api_route.h"

namespace georep {

// Every route, resource by resource.
const std::vector<ApiRoute>& ApiRoutes();
// The schemas the routes name, by name.
const Json& ApiSchemas();

// The entry for `method` `path` (OpenAPI form), or nullptr.
const ApiRoute* FindRoute(std::string_view method, std::string_view path);

// Where BindApiRoutes puts each route: the server's method and full pattern ("/api/v1/...").
using RouteSink =
    std::function<void(std::string_view method, const std::string& pattern, HttpHandler handler)>;

// Hands every route of ApiRoutes() to `sink`, its handler wrapped so that it runs only for a
// caller authenticated by a bearer token whose role is the route's or above (routes without a
// role run for anyone). `context` is used when a request comes, and must outlive the handlers.
void BindApiRoutes(ApiContext* context, const RouteSink& sink);
// The handler BindApiRoutes gives `route` (one of ApiRoutes()), for serving it at another path
// too (GET /metrics, Prometheus's default, is GET /api/v1/metrics).
HttpHandler BoundHandler(ApiContext* context, const ApiRoute& route);

}  // namespace georep
