// Every route of the API and the role it needs: the one place that says who may do what.
//
// The HTTP front registers a handler only for a route listed here (and aborts at start-up for
// one that is not), checks the caller's role before the handler runs, and the OpenAPI
// document is checked against this list by a test, as is every route x role.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "model/entities.h"

namespace georep {

struct RouteRole {
  std::string_view method;     // "GET", "POST", "PUT", "DELETE"
  std::string_view path;       // as the OpenAPI document writes it, below /api/v1
  std::optional<Role> role;    // nullopt: no authentication (health, login)
  std::string_view note = "";  // what the role does not say alone
};

const std::vector<RouteRole>& RouteRoles();

// The entry for `method` `path` (OpenAPI form), or nullptr.
const RouteRole* FindRoute(std::string_view method, std::string_view path);

}  // namespace georep
