// The OpenAPI 3 description of the REST API, served at GET /api/v1/openapi.json and printed by
// `georep openapi`: produced from the route table (api/routes.h), so it documents exactly the
// operations the engine serves, with the role each needs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace georep {

nlohmann::json OpenApiDocument(const std::string& version);

}  // namespace georep
