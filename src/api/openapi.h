// The OpenAPI 3 description of the REST API, served at GET /api/v1/openapi.json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace georep {

nlohmann::json OpenApiDocument(const std::string& version);

}  // namespace georep
