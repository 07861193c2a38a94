#include "api/openapi.h"

#include <cctype>

#include "api/routes.h"
#include "model/names.h"

namespace georep {
namespace {

using Json = nlohmann::json;

Json Ref(const std::string& name) {
  return {{"$ref", "#/components/schemas/" + name}};
}

Json Op(const std::string& summary, const std::string& tag,
        const std::vector<std::string>& params = {}, const std::string& body = "",
        const std::string& response = "", int ok = 200, bool list = false) {
  Json op = {{"summary", summary}, {"tags", {tag}}};
  Json ps = Json::array();
  for (const auto& p : params) {
    bool in_path = p.front() != '?';
    std::string name = in_path ? p : p.substr(1);
    ps.push_back({{"name", name},
                  {"in", in_path ? "path" : "query"},
                  {"required", in_path},
                  {"schema", {{"type", name == "force" ? "boolean" : "string"}}}});
  }
  if (!ps.empty()) op["parameters"] = ps;
  if (!body.empty()) {
    op["requestBody"] = {{"required", true},
                         {"content", {{"application/json", {{"schema", Ref(body)}}}}}};
  }
  Json responses;
  if (ok == 204) {
    responses["204"] = {{"description", "Done"}};
  } else {
    Json schema = response.empty() ? Json::object() : Ref(response);
    if (list) {
      schema = {{"type", "object"},
                {"properties", {{"items", {{"type", "array"}, {"items", Ref(response)}}}}}};
    }
    responses[std::to_string(ok)] = {{"description", "OK"},
                                     {"content", {{"application/json", {{"schema", schema}}}}}};
  }
  Json err = {{"description", "Error"},
              {"content", {{"application/json", {{"schema", Ref("Error")}}}}}};
  responses["400"] = err;
  responses["401"] = err;
  responses["404"] = err;
  responses["409"] = err;
  op["responses"] = responses;
  return op;
}

Json Obj(std::initializer_list<std::pair<const char*, const char*>> props,
         const std::vector<std::string>& required = {}) {
  Json p = Json::object();
  for (const auto& [name, type] : props) p[name] = {{"type", type}};
  Json o = {{"type", "object"}, {"properties", p}};
  if (!required.empty()) o["required"] = required;
  return o;
}

}  // namespace

Json OpenApiDocument(const std::string& version) {
  Json paths;
  paths["/health"]["get"] = Op("Liveness check (no authentication)", "system");
  paths["/health"]["get"]["security"] = Json::array();
  paths["/openapi.json"]["get"] = Op("This document", "system");
  paths["/auth/login"]["post"] =
      Op("Log in; returns a bearer token", "auth", {}, "Login", "LoginResult");
  paths["/auth/login"]["post"]["security"] = Json::array();
  paths["/me"]["get"] = Op("The authenticated user", "auth", {}, "", "User");
  paths["/tokens"]["get"] = Op("The caller's API tokens", "auth", {}, "", "Token", 200, true);
  paths["/tokens"]["post"] = Op("Issue an API token", "auth", {}, "TokenSpec", "Token", 201);
  paths["/tokens/{id}"]["delete"] = Op("Revoke a token", "auth", {"id"}, "", "", 204);
  paths["/users"]["get"] = Op("List users (administrators)", "users", {}, "", "User", 200, true);
  paths["/users"]["post"] =
      Op("Create a user (administrators)", "users", {}, "UserSpec", "User", 201);
  paths["/users/{id}"]["delete"] = Op("Delete a user", "users", {"id"}, "", "", 204);
  paths["/users/{id}/role"]["put"] = Op("Change a user's role (the last administrator stays one)",
                                        "users", {"id"}, "RoleSpec", "User");
  paths["/users/{id}/tokens"]["get"] =
      Op("A user's API tokens (administrators)", "users", {"id"}, "", "Token", 200, true);
  paths["/users/{id}/tokens"]["delete"] =
      Op("Revoke every token of a user (administrators)", "users", {"id"}, "", "", 204);
  paths["/users/{id}/password"]["put"] =
      Op("Change a password", "users", {"id"}, "PasswordSpec", "", 204);
  paths["/clusters"]["get"] = Op("List clusters", "clusters", {}, "", "Cluster", 200, true);
  paths["/clusters"]["post"] =
      Op("Create a cluster", "clusters", {}, "ClusterSpec", "Cluster", 201);
  paths["/clusters/import"]["post"] =
      Op("Import a Gluster cluster (peers, volumes, bricks) through one of its hosts", "clusters",
         {}, "ClusterImportSpec", "", 201);
  paths["/clusters/{id}"]["get"] = Op("Get a cluster", "clusters", {"id"}, "", "Cluster");
  paths["/clusters/{id}"]["delete"] = Op("Delete a cluster", "clusters", {"id"}, "", "", 204);
  paths["/clusters/{id}/hosts"]["get"] =
      Op("List a cluster's hosts", "hosts", {"id"}, "", "Host", 200, true);
  paths["/clusters/{id}/hosts"]["post"] =
      Op("Add a host", "hosts", {"id"}, "HostSpec", "Host", 201);
  paths["/hosts/{id}"]["get"] = Op("Get a host", "hosts", {"id"}, "", "Host");
  paths["/hosts/{id}"]["delete"] = Op("Remove a host", "hosts", {"id"}, "", "", 204);
  paths["/host-keys/scan"]["post"] =
      Op("Fetch a host's SSH host keys and fingerprints, to confirm one", "hosts", {}, "", "");
  paths["/hosts/{id}/check"]["post"] =
      Op("Reach the host; marks it Up or Down with the reason", "hosts", {"id"}, "", "Host");
  paths["/hosts/{id}/fingerprint"]["put"] =
      Op("Re-pin the host key fingerprint (after a real key change)", "hosts", {"id"}, "", "Host");
  paths["/engine/ssh-key"]["get"] = Op("The engine's SSH public key", "system");
  paths["/volumes"]["get"] = Op("List all volumes", "volumes", {}, "", "Volume", 200, true);
  paths["/clusters/{id}/volumes"]["get"] =
      Op("List a cluster's volumes", "volumes", {"id"}, "", "Volume", 200, true);
  paths["/clusters/{id}/volumes"]["post"] =
      Op("Add a volume", "volumes", {"id"}, "VolumeSpec", "Volume", 201);
  paths["/volumes/{id}"]["get"] = Op("Get a volume", "volumes", {"id"}, "", "Volume");
  paths["/volumes/{id}"]["delete"] = Op("Remove a volume", "volumes", {"id"}, "", "", 204);
  paths["/clusters/{id}/destinations"]["get"] =
      Op("List a cluster's geo-replication destinations", "destinations", {"id"}, "", "Destination",
         200, true);
  paths["/clusters/{id}/destinations"]["post"] =
      Op("Attach a destination", "destinations", {"id"}, "DestinationSpec", "Destination", 201);
  paths["/destinations/{id}/reestablish"]["post"] =
      Op("Redo the key exchange (optionally re-pinning a changed host key, and installing the "
         "engine's key first with a one-time root password)",
         "destinations", {"id"}, "Reestablish", "Destination");
  paths["/destinations/{id}/test"]["post"] =
      Op("Test a destination: reachability, gluster there, source-host preflight", "destinations",
         {"id"}, "", "Destination");
  paths["/destinations/{id}"]["get"] =
      Op("Get a destination", "destinations", {"id"}, "", "Destination");
  paths["/destinations/{id}"]["delete"] =
      Op("Detach a destination (force also removes its sessions). The source cluster's "
         "geo-replication keys leave the remote user's authorized_keys on every destination node "
         "georep reaches; the message says where they were removed and where they remain",
         "destinations", {"id", "?force"}, "", "Message", 200);
  paths["/destinations/{id}/volumes"]["get"] =
      Op("The destination cluster's volumes as destinations for a source volume: eligible first, "
         "each with its non-eligibility reasons (not-started, not-empty, too-small, in-use, "
         "source-volume, missing)",
         "sessions", {"id", "?source_volume_id"}, "", "CandidateVolume", 200, true);
  paths["/destinations/{id}/sessions"]["get"] =
      Op("Sessions to a destination", "sessions", {"id"}, "", "SessionDetail", 200, true);
  paths["/sessions"]["get"] = Op("List sessions, each with its per-node status", "sessions",
                                 {"?volume_id", "?destination_id"}, "", "SessionDetail", 200, true);
  paths["/sessions/{id}/metrics"]["get"] =
      Op("The session's lag and throughput over the last hour, oldest first (one sample per "
         "status report; kept in the engine's memory)",
         "sessions", {"id"}, "", "MetricSample", 200, true);
  paths["/stream"]["get"] =
      Op("Live changes as server-sent events (text/event-stream): session (a SessionDetail), "
         "session_removed ({id}), destination, destination_removed ({id}), audit (an Event), "
         "resync (reload everything). A stream lasts at most ten minutes; reconnect.",
         "events");
  paths["/sessions"]["post"] =
      Op("Create a session", "sessions", {}, "SessionSpec", "SessionDetail", 201);
  paths["/volumes/{id}/sessions"]["get"] =
      Op("A volume's sessions", "sessions", {"id"}, "", "SessionDetail", 200, true);
  paths["/sessions/{id}"]["get"] =
      Op("A session with its per-node status", "sessions", {"id"}, "", "SessionDetail");
  paths["/sessions/{id}"]["delete"] =
      Op("Remove a session", "sessions", {"id", "?force", "?reset_sync_time"}, "", "", 204);
  for (const char* action : {"start", "stop", "pause", "resume"}) {
    paths[std::string("/sessions/{id}/") + action]["post"] =
        Op(std::string("Session ") + action + " (valid only in the states gluster accepts)",
           "sessions", {"id", "?force"}, "", "SessionDetail");
  }
  paths["/sessions/{id}/preflight"]["get"] =
      Op("The platform preflight of a gluster session's nodes: rsync and gluster versions, and "
         "whether gsyncd's sync-method rsync copies file contents there",
         "sessions", {"id"}, "", "Preflight");
  paths["/sessions/{id}/verify"]["post"] =
      Op("Compare the destination with the source: type, size, mode, owner, mtime (directories "
         "too), symlink targets, hard-link structure, the xattrs the session replicates (POSIX "
         "ACLs always), and the content of every file (or of sample_percent of them); lists "
         "every difference and what was not compared",
         "sessions", {"id", "?sample_percent"}, "", "VerifyReport");
  paths["/sessions/{id}/repair"]["post"] =
      Op("Repair a started directory session's destination: a full verify, then exactly what "
         "differs sent again and what only the destination has deleted (unless ignore-deletes) "
         "by the worker's next full pass, then a verify again. 409 for a session that is not "
         "started, a gluster session or a source on another host",
         "sessions", {"id"}, "", "RepairReport");
  paths["/sessions/{id}/refresh"]["post"] =
      Op("Read the session's status from the cluster now", "sessions", {"id"}, "", "SessionDetail");
  paths["/sessions/{id}/config"]["get"] =
      Op("Every config option with value, default and description", "config", {"id"}, "",
         "ConfigItem", 200, true);
  paths["/sessions/{id}/config/{key}"]["put"] =
      Op("Set an option (validated)", "config", {"id", "key"}, "ConfigValue", "ConfigItem");
  paths["/sessions/{id}/config/{key}"]["delete"] =
      Op("Reset an option to its default", "config", {"id", "key"}, "", "", 204);
  paths["/events"]["get"] =
      Op("The audit trail, newest first (after_id: only newer; before_id: only older, for paging "
         "back)",
         "events",
         {"?after_id", "?before_id", "?object_type", "?object_id", "?action", "?result", "?limit"},
         "", "Event", 200, true);

  Json schemas;
  schemas["Error"] = {
      {"type", "object"},
      {"properties", {{"error", Obj({{"code", "string"}, {"message", "string"}})}}}};
  schemas["Login"] = Obj({{"username", "string"},
                          {"password", "string"},
                          {"token_name", "string"},
                          {"ttl_seconds", "integer"}},
                         {"username", "password"});
  schemas["LoginResult"] = Obj({{"token", "string"},
                                {"token_id", "string"},
                                {"expires_at", "string"},
                                {"username", "string"}});
  const Json roles = {"viewer", "operator", "admin"};
  schemas["User"] = Obj({{"id", "string"},
                         {"name", "string"},
                         {"role", "string"},
                         {"admin", "boolean"},
                         {"created_at", "string"}});
  schemas["User"]["properties"]["role"]["enum"] = roles;
  schemas["User"]["properties"]["admin"]["description"] = "role is admin (for older clients)";
  schemas["UserSpec"] =
      Obj({{"name", "string"}, {"password", "string"}, {"role", "string"}}, {"name", "password"});
  schemas["UserSpec"]["properties"]["role"]["enum"] = roles;
  schemas["UserSpec"]["properties"]["role"]["default"] = "viewer";
  schemas["RoleSpec"] = Obj({{"role", "string"}}, {"role"});
  schemas["RoleSpec"]["properties"]["role"]["enum"] = roles;
  schemas["Message"] = Obj({{"message", "string"}}, {"message"});
  schemas["PasswordSpec"] = Obj({{"password", "string"}}, {"password"});
  schemas["Token"] = Obj({{"id", "string"},
                          {"name", "string"},
                          {"created_at", "string"},
                          {"expires_at", "string"},
                          {"last_used", "string"},
                          {"token", "string"}});
  schemas["TokenSpec"] = Obj({{"name", "string"}, {"ttl_seconds", "integer"}}, {"name"});
  schemas["Cluster"] = Obj(
      {{"id", "string"}, {"name", "string"}, {"description", "string"}, {"created_at", "string"}});
  schemas["ClusterSpec"] = Obj({{"name", "string"}, {"description", "string"}}, {"name"});
  schemas["ClusterImportSpec"] = Obj({{"name", "string"},
                                      {"address", "string"},
                                      {"ssh_port", "integer"},
                                      {"ssh_user", "string"},
                                      {"ssh_fingerprint", "string"},
                                      {"password", "string"}},
                                     {"name", "address", "ssh_fingerprint"});
  schemas["ClusterImportSpec"]["properties"]["password"]["description"] =
      "Optional one-time password of ssh_user on the host asked, used once to install the "
      "engine's key there before the import; never stored or logged";
  schemas["ClusterImportSpec"]["properties"]["password"]["writeOnly"] = true;
  schemas["Host"] = Obj({{"id", "string"},
                         {"cluster_id", "string"},
                         {"name", "string"},
                         {"address", "string"},
                         {"ssh_port", "integer"},
                         {"ssh_user", "string"},
                         {"transport", "string"},
                         {"ssh_fingerprint", "string"},
                         {"status", "string"},
                         {"last_seen", "string"},
                         {"created_at", "string"}});
  schemas["HostSpec"] = Obj({{"name", "string"},
                             {"address", "string"},
                             {"ssh_port", "integer"},
                             {"ssh_user", "string"},
                             {"transport", "string"},
                             {"ssh_fingerprint", "string"},
                             {"password", "string"}},
                            {"name"});
  schemas["HostSpec"]["properties"]["password"]["description"] =
      "Optional one-time password of ssh_user, used once to install the engine's key in its "
      "authorized_keys; never stored or logged";
  schemas["HostSpec"]["properties"]["password"]["writeOnly"] = true;
  schemas["Volume"] = Obj({{"id", "string"},
                           {"cluster_id", "string"},
                           {"name", "string"},
                           {"kind", "string"},
                           {"status", "string"},
                           {"bricks", "array"},
                           {"replica_count", "integer"},
                           {"disperse_count", "integer"},
                           {"size_bytes", "integer"},
                           {"used_bytes", "integer"},
                           {"created_at", "string"}});
  schemas["VolumeSpec"] = Obj({{"name", "string"},
                               {"kind", "string"},
                               {"host_id", "string"},
                               {"path", "string"},
                               {"bricks", "array"},
                               {"replica_count", "integer"},
                               {"disperse_count", "integer"}},
                              {"name"});
  schemas["Destination"] = Obj({{"id", "string"},
                                {"source_cluster_id", "string"},
                                {"source_host_id", "string"},
                                {"host", "string"},
                                {"ssh_port", "integer"},
                                {"ssh_fingerprint", "string"},
                                {"remote_user", "string"},
                                {"connection", "string"},
                                {"connection_reason", "string"},
                                {"last_checked", "string"},
                                {"created_at", "string"}});
  schemas["DestinationSpec"] = Obj({{"source_host_id", "string"},
                                    {"host", "string"},
                                    {"ssh_port", "integer"},
                                    {"ssh_fingerprint", "string"},
                                    {"remote_user", "string"},
                                    {"copy_keys", "boolean"},
                                    {"password", "string"}},
                                   {"source_host_id", "host"});
  schemas["DestinationSpec"]["properties"]["password"]["description"] =
      "A one-time password of root on the destination host: installs the engine's key there "
      "(against the pinned host key). Never stored or logged.";
  schemas["Reestablish"] = Obj({{"ssh_fingerprint", "string"}, {"password", "string"}});
  schemas["MetricSample"] = Obj(
      {{"at", "string"}, {"lag_seconds", "number"}, {"throughput_bytes_per_second", "integer"}});
  schemas["Session"] = Obj({{"id", "string"},
                            {"destination_id", "string"},
                            {"source_volume_id", "string"},
                            {"destination_volume", "string"},
                            {"remote_user", "string"},
                            {"session_key", "string"},
                            {"status", "string"},
                            {"status_reason", "string"},
                            {"created_at", "string"},
                            {"updated_at", "string"}});
  schemas["SessionSpec"] = Obj({{"destination_id", "string"},
                                {"source_volume_id", "string"},
                                {"destination_volume", "string"},
                                {"remote_user", "string"},
                                {"force", "boolean"},
                                {"sync_method", "string"}},
                               {"destination_id", "source_volume_id", "destination_volume"});
  schemas["SessionDetail"] = schemas["Session"];
  schemas["SessionDetail"]["properties"]["nodes"] = {{"type", "array"},
                                                     {"items", Ref("NodeStatus")}};
  schemas["SessionDetail"]["properties"]["warnings"] = {{"type", "array"},
                                                        {"items", {{"type", "string"}}}};
  schemas["SessionDetail"]["properties"]["alerts"] = {{"type", "array"},
                                                      {"items", Ref("SessionAlert")}};
  schemas["SessionDetail"]["properties"]["lag_seconds"] = {
      {"type", "number"},
      {"nullable", true},
      {"description",
       "End to end: a gluster session's heartbeat, the largest node lag of georep's own "
       "engine; null when unknown"}};
  schemas["SessionDetail"]["properties"]["throughput_bytes_per_second"] = {
      {"type", "integer"},
      {"nullable", true},
      {"description",
       "A gluster session's destination volume growth; the nodes' sum for georep's own engine; "
       "null when unknown"}};
  schemas["SessionDetail"]["properties"]["heartbeat"] = Ref("Heartbeat");
  schemas["SessionDetail"]["properties"]["preflight"] = Ref("Preflight");
  schemas["SessionAlert"] = Obj(
      {{"kind", "string"}, {"message", "string"}, {"since", "string"}, {"updated_at", "string"}});
  schemas["SessionAlert"]["properties"]["kind"]["description"] =
      "data-at-risk, stalled, heartbeat-mismatch, heartbeat-failing, or verify-differs (a verify "
      "found differences: a user's at once, the periodic verify (verify-interval) once re-checked)";
  schemas["Heartbeat"] = Obj({{"interval_seconds", "integer"},
                              {"stall_threshold_seconds", "integer"},
                              {"last_written", "string"},
                              {"last_arrived_written", "string"},
                              {"last_arrived", "string"},
                              {"on_its_way_since", "string"},
                              {"last_checked", "string"},
                              {"problem", "string"}});
  schemas["VerifyDifference"] =
      Obj({{"path", "string"}, {"difference", "string"}}, {"path", "difference"});
  schemas["VerifyReport"] = Obj({{"identical", "boolean"},
                                 {"entries", "integer"},
                                 {"content_checked", "integer"},
                                 {"bytes_hashed", "integer"},
                                 {"differences", "array"},
                                 {"not_compared", "array"}},
                                {"identical", "entries", "differences", "not_compared"});
  schemas["VerifyReport"]["properties"]["differences"]["items"] = Ref("VerifyDifference");
  schemas["VerifyReport"]["properties"]["not_compared"]["items"] = {{"type", "string"}};
  schemas["VerifyReport"]["properties"]["not_compared"]["description"] =
      "What this verify did not compare, each with why (not replicated by the session, not "
      "readable on one side, outside the sample...)";
  schemas["RepairReport"] =
      Obj({{"identical", "boolean"},
           {"differences_found", "integer"},
           {"resent", "integer"},
           {"deleted", "integer"}},
          {"identical", "differences_found", "resent", "deleted", "before", "after"});
  schemas["RepairReport"]["properties"]["identical"]["description"] =
      "Whether the verify after the repair found the destination identical";
  schemas["RepairReport"]["properties"]["before"] = Ref("VerifyReport");
  schemas["RepairReport"]["properties"]["after"] = Ref("VerifyReport");
  schemas["PreflightNode"] = Obj({{"host", "string"},
                                  {"role", "string"},
                                  {"rsync", "string"},
                                  {"gluster", "string"},
                                  {"rsync_writes_empty_files", "boolean"},
                                  {"problem", "string"}});
  schemas["Preflight"] = Obj({{"nodes", "array"},
                              {"rsync_unsafe", "boolean"},
                              {"complete", "boolean"},
                              {"summary", "string"}});
  schemas["Preflight"]["properties"]["nodes"]["items"] = Ref("PreflightNode");
  schemas["NodeStatus"] = Obj({{"source_host", "string"},
                               {"source_brick", "string"},
                               {"set_index", "integer"},
                               {"destination_host", "string"},
                               {"status", "string"},
                               {"status_reason", "string"},
                               {"crawl_status", "string"},
                               {"last_synced", "string"},
                               {"entry_pending", "integer"},
                               {"data_pending", "integer"},
                               {"meta_pending", "integer"},
                               {"failures", "integer"},
                               {"checkpoint_time", "string"},
                               {"checkpoint_completed", "boolean"},
                               {"checkpoint_completion_time", "string"},
                               {"lag_seconds", "number"},
                               {"throughput_bytes_per_second", "integer"}});
  for (const char* count : {"entry_pending", "data_pending", "meta_pending", "failures"}) {
    schemas["NodeStatus"]["properties"][count]["nullable"] = true;
    schemas["NodeStatus"]["properties"][count]["description"] =
        "null: unknown (gluster says N/A, as for a Passive node)";
  }
  schemas["CandidateVolume"] = Obj({{"name", "string"},
                                    {"status", "string"},
                                    {"size_bytes", "integer"},
                                    {"eligible", "boolean"},
                                    {"reasons", "array"}});
  schemas["CandidateVolume"]["properties"]["reasons"]["items"] = {{"type", "string"}};
  schemas["ConfigItem"] = Obj({{"key", "string"},
                               {"value", "string"},
                               {"default", "string"},
                               {"is_default", "boolean"},
                               {"type", "string"},
                               {"description", "string"},
                               {"allowed_values", "array"},
                               {"changed_by", "string"},
                               {"changed_at", "string"}});
  schemas["ConfigValue"] = Obj({{"value", "string"}, {"force", "boolean"}}, {"value"});
  schemas["ConfigValue"]["properties"]["force"]["description"] =
      "sync-method rsync where the preflight finds that gsyncd writes files without their "
      "content: set it anyway (the session then shows a data-at-risk alert)";
  schemas["Event"] = Obj({{"id", "integer"},
                          {"at", "string"},
                          {"actor", "string"},
                          {"action", "string"},
                          {"object_type", "string"},
                          {"object_id", "string"},
                          {"result", "string"},
                          {"message", "string"}});

  // Who may call each operation, from the one table the engine enforces.
  for (auto& [path, ops] : paths.items()) {
    for (auto& [method, op] : ops.items()) {
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const RouteRole* route = FindRoute(upper, path);
      if (route == nullptr || !route->role) continue;
      op["x-georep-role"] = std::string(Name(*route->role));
      std::string needs = "Needs the " + std::string(Name(*route->role)) + " role";
      if (!route->note.empty()) needs += " (" + std::string(route->note) + ")";
      op["description"] = needs + ".";
      op["responses"]["403"] = {{"description", "The caller's role is not enough"},
                                {"content", {{"application/json", {{"schema", Ref("Error")}}}}}};
    }
  }

  return {{"openapi", "3.0.3"},
          {"info",
           {{"title", "georep API"},
            {"version", version},
            {"description", "Manage geo-replication destinations, sessions, config and status."}}},
          {"servers", {{{"url", "/api/v1"}}}},
          {"security", {{{"bearer", Json::array()}}}},
          {"components",
           {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
            {"schemas", schemas}}},
          {"paths", paths}};
}

}  // namespace georep
