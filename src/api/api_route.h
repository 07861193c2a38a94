// ApiRoute: one operation of the REST API, said once -- its method and path, the role it needs,
// what the OpenAPI document says of it (summary, parameters, request and response schemas) and
// its handler. The HTTP routing (http_api.cc) and the OpenAPI document (openapi.cc) are both
// produced from the routes the resource files (routes_*.cc) give, so neither can name an
// operation the other does not.
//
// Handlers call Operations only; they hold no business rules.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_api.h"
#include "api/json_model.h"
#include "base/clock.h"
#include "engine/operations.h"
#include "http/http_server.h"
#include "model/entities.h"
#include "model/names.h"

namespace georep {

// What a handler may use; it outlives every request.
struct ApiContext {
  Operations& ops;
  Authenticator& auth;
  Clock& clock;
  StatusFeed* feed;  // null: no live stream, no session metrics history
  const HttpApiOptions& options;
};

// Who calls: for a route without a role (health, login) `user` is null.
struct ApiCaller {
  const User* user = nullptr;
  Actor actor;
};

using ApiHandler =
    std::function<void(ApiContext&, const HttpRequest&, HttpResponse&, const ApiCaller&)>;

struct ApiRoute {
  std::string_view method = "";             // "GET", "POST", "PUT", "DELETE"
  std::string path = "";                    // as the OpenAPI document writes it, below /api/v1
  std::optional<Role> role = std::nullopt;  // nullopt: no authentication (health, login)
  std::string_view note = "";               // what the role does not say alone
  std::string summary = "";                 // the OpenAPI summary
  std::string_view tag = "";                // the OpenAPI tag (the resource)
  // Path parameters by name, query parameters as "?name" ("?force" is a boolean).
  std::vector<std::string> params = {};
  std::string_view request = "";   // the request body's schema; "": no body
  std::string_view response = "";  // the response's schema; "": none named
  int ok = 200;                    // the status of success; 204: no body
  bool list = false;               // the response is {"items": [response...]}
  // The success response's media type when it is not JSON ("text/plain": a string).
  std::string_view content_type = "";
  ApiHandler handle = nullptr;
};

// One resource of the API: its routes and the schemas they name.
struct ApiResource {
  std::vector<ApiRoute> routes;
  Json schemas = Json::object();
};

// The resources, one per routes_*.cc.
ApiResource SystemResource();       // health, login, the caller, tokens, users, the document
ApiResource ClusterResource();      // clusters, hosts, volumes
ApiResource DestinationResource();  // destinations and their candidate volumes
ApiResource SessionResource();      // sessions, their actions and config
ApiResource EventResource();        // the live stream and the audit trail
ApiResource MetricsResource();      // the Prometheus metrics page
ApiResource AlertResource();        // alerts, notifiers and their deliveries, engine settings

// Schema building blocks for the resources.
Json SchemaRef(const std::string& name);
// An object of `props` (name, JSON type; "string|null" for one that may be null), `required`
// among them.
Json SchemaObject(std::initializer_list<std::pair<const char*, const char*>> props,
                  const std::vector<std::string>& required = {});
// `schema` (an object) with every property required: what the engine always sends.
Json AlwaysPresent(Json schema);
// The words of an enum, first..last by value, as Name() spells them.
template <typename E>
Json EnumWords(E first, E last) {
  Json words = Json::array();
  for (int v = static_cast<int>(first); v <= static_cast<int>(last); ++v)
    words.push_back(std::string(Name(static_cast<E>(v))));
  return words;
}

}  // namespace georep
