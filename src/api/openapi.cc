#include "api/openapi.h"

#include "api/routes.h"
#include "base/ascii.h"
#include "model/names.h"

namespace georep {

Json SchemaRef(const std::string& name) {
  return {{"$ref", "#/components/schemas/" + name}};
}

Json SchemaObject(std::initializer_list<std::pair<const char*, const char*>> props,
                  const std::vector<std::string>& required) {
  Json p = Json::object();
  for (const auto& [name, type] : props) {
    std::string_view t = type;
    const bool nullable = t.ends_with("|null");
    if (nullable) t.remove_suffix(5);
    p[name] = {{"type", std::string(t)}};
    if (nullable) p[name]["nullable"] = true;
  }
  Json o = {{"type", "object"}, {"properties", p}};
  if (!required.empty()) o["required"] = required;
  return o;
}

Json AlwaysPresent(Json schema) {
  Json required = Json::array();
  for (const auto& [name, property] : schema["properties"].items()) required.push_back(name);
  schema["required"] = required;
  return schema;
}

namespace {

Json Parameters(const ApiRoute& route) {
  Json ps = Json::array();
  for (const auto& p : route.params) {
    const bool in_path = p.front() != '?';
    const std::string name = in_path ? p : p.substr(1);
    ps.push_back({{"name", name},
                  {"in", in_path ? "path" : "query"},
                  {"required", in_path},
                  {"schema", {{"type", name == "force" ? "boolean" : "string"}}}});
  }
  return ps;
}

Json Responses(const ApiRoute& route) {
  const Json error = {{"description", "Error"},
                      {"content", {{"application/json", {{"schema", SchemaRef("Error")}}}}}};
  Json responses;
  if (route.ok == 204) {
    responses["204"] = {{"description", "Done"}};
  } else {
    const std::string response(route.response);
    Json schema = response.empty() ? Json::object() : SchemaRef(response);
    if (route.list) {
      schema = {{"type", "object"},
                {"properties", {{"items", {{"type", "array"}, {"items", SchemaRef(response)}}}}}};
    }
    if (!route.content_type.empty()) {
      responses[std::to_string(route.ok)] = {
          {"description", "OK"},
          {"content", {{std::string(route.content_type), {{"schema", {{"type", "string"}}}}}}}};
    } else {
      responses[std::to_string(route.ok)] = {
          {"description", "OK"}, {"content", {{"application/json", {{"schema", schema}}}}}};
    }
  }
  for (const char* status : {"400", "401", "404", "409"}) responses[status] = error;
  if (route.role) {
    responses["403"] = {{"description", "The caller's role is not enough"},
                        {"content", {{"application/json", {{"schema", SchemaRef("Error")}}}}}};
  }
  return responses;
}

Json Operation(const ApiRoute& route) {
  Json op = {{"summary", route.summary}, {"tags", {std::string(route.tag)}}};
  if (Json ps = Parameters(route); !ps.empty()) op["parameters"] = ps;
  if (!route.request.empty()) {
    op["requestBody"] = {
        {"required", true},
        {"content", {{"application/json", {{"schema", SchemaRef(std::string(route.request))}}}}}};
  }
  op["responses"] = Responses(route);
  if (!route.role) {
    op["security"] = Json::array();  // no authentication
    return op;
  }
  // Who may call it, from the one table the engine enforces.
  const std::string role(Name(*route.role));
  op["x-georep-role"] = role;
  std::string needs = "Needs the " + role + " role";
  if (!route.note.empty()) needs += " (" + std::string(route.note) + ")";
  op["description"] = needs + ".";
  return op;
}

}  // namespace

Json OpenApiDocument(const std::string& version) {
  Json paths = Json::object();
  for (const ApiRoute& route : ApiRoutes())
    paths[route.path][AsciiLower(route.method)] = Operation(route);
  return {{"openapi", "3.0.3"},
          {"info",
           {{"title", "georep API"},
            {"version", version},
            {"description", "Manage geo-replication destinations, sessions, config and status."}}},
          {"servers", {{{"url", "/api/v1"}}}},
          {"security", {{{"bearer", Json::array()}}}},
          {"components",
           {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
            {"schemas", ApiSchemas()}}},
          {"paths", paths}};
}

}  // namespace georep
