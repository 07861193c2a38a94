// The cluster routes: clusters (created or imported from gluster), their hosts and the host
// keys that pin them, and their volumes.
#include "api/api_reply.h"
#include "api/api_route.h"

namespace georep {
namespace {

// Reads a port ("ssh_port", "port") of 1-65535.
Status CheckPort(int64_t port, const char* what) {
  if (port < 1 || port > 65535)
    return Status::InvalidArgument(std::string("invalid ") + what + ": must be 1-65535")
        .WithField(what);
  return Status::Ok();
}

void ImportCluster(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
  WithBody(req, res, [&](const Json& j) {
    JsonFields f(j);
    Status known =
        f.OnlyKnown({"name", "address", "ssh_port", "ssh_user", "ssh_fingerprint", "password"});
    if (!known.ok()) return SendError(res, known);
    auto name = f.Str("name", true);
    auto address = f.Str("address", true);
    auto port = f.Int("ssh_port", 22);
    auto user = f.Str("ssh_user", false, "root");
    auto fp = f.Str("ssh_fingerprint", true);
    auto password = f.Str("password", false);
    Status st = FirstError({&name.status(), &address.status(), &port.status(), &user.status(),
                            &fp.status(), &password.status()});
    if (!st.ok()) return SendError(res, st);
    if (Status p = CheckPort(*port, "ssh port"); !p.ok()) return SendError(res, p);
    GlusterImportSpec spec;
    spec.name = *name;
    spec.address = *address;
    spec.ssh_port = static_cast<int>(*port);
    spec.ssh_user = *user;
    spec.ssh_fingerprint = *fp;
    spec.one_time_password = *password;
    auto imported = c.ops.ImportGlusterCluster(who.actor, spec);
    if (!imported.ok()) return SendError(res, imported.status());
    Json hosts = Json::array(), vols = Json::array();
    for (const auto& h : imported->hosts) hosts.push_back(ToJson(h));
    for (const auto& v : imported->volumes) vols.push_back(ToJson(v));
    SendJson(res, 201,
             {{"cluster", ToJson(imported->cluster)}, {"hosts", hosts}, {"volumes", vols}});
  });
}

void ScanHostKeys(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
  WithBody(req, res, [&](const Json& j) {
    JsonFields f(j);
    Status known = f.OnlyKnown({"address", "port"});
    if (!known.ok()) return SendError(res, known);
    auto address = f.Str("address", true);
    if (!address.ok()) return SendError(res, address.status());
    auto port = f.Int("port", 22);
    if (!port.ok()) return SendError(res, port.status());
    if (Status p = CheckPort(*port, "port"); !p.ok()) return SendError(res, p);
    auto keys = c.ops.ScanHostKeys(who.actor, *address, static_cast<int>(*port));
    if (!keys.ok()) return SendError(res, keys.status());
    Json items = Json::array();
    for (const auto& k : *keys) items.push_back({{"type", k.type}, {"fingerprint", k.fingerprint}});
    SendJson(res, 200, {{"items", items}});
  });
}

void CheckHost(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
  auto checked = c.ops.CheckHost(who.actor, req.matches[1]);
  if (!checked.ok()) return SendError(res, checked.status());
  Json out = ToJson(checked->host);
  out["reachable"] = checked->reachable;
  out["reason"] = checked->reason;
  SendJson(res, 200, out);
}

void RepinHost(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
  WithBody(req, res, [&](const Json& j) {
    JsonFields f(j);
    Status known = f.OnlyKnown({"fingerprint"});
    if (!known.ok()) return SendError(res, known);
    auto fp = f.Str("fingerprint", true);
    if (!fp.ok()) return SendError(res, fp.status());
    SendResult(res, c.ops.RepinHost(who.actor, req.matches[1], *fp));
  });
}

std::vector<ApiRoute> ClusterRoutes() {
  return {
      {.method = "GET",
       .path = "/clusters",
       .role = Role::kViewer,
       .summary = "List clusters",
       .tag = "clusters",
       .response = "Cluster",
       .list = true,
       .handle = [](ApiContext& c, const HttpRequest&, HttpResponse& res,
                    const ApiCaller&) { SendList(res, c.ops.ListClusters()); }},
      {.method = "GET",
       .path = "/clusters/{id}",
       .role = Role::kViewer,
       .summary = "Get a cluster",
       .tag = "clusters",
       .params = {"id"},
       .response = "Cluster",
       .handle = [](ApiContext& c, const HttpRequest& req, HttpResponse& res,
                    const ApiCaller&) { SendResult(res, c.ops.GetCluster(req.matches[1])); }},
      {.method = "POST",
       .path = "/clusters",
       .role = Role::kAdmin,
       .summary = "Create a cluster",
       .tag = "clusters",
       .request = "ClusterSpec",
       .response = "Cluster",
       .ok = 201,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             WithBody(req, res, [&](const Json& j) {
               auto spec = ClusterSpecFrom(j);
               if (!spec.ok()) return SendError(res, spec.status());
               SendResult(res, c.ops.CreateCluster(who.actor, *spec), 201);
             });
           }},
      {.method = "POST",
       .path = "/clusters/import",
       .role = Role::kAdmin,
       .summary = "Import a Gluster cluster (peers, volumes, bricks) through one of its hosts",
       .tag = "clusters",
       .request = "ClusterImportSpec",
       .ok = 201,
       .handle = ImportCluster},
      {.method = "DELETE",
       .path = "/clusters/{id}",
       .role = Role::kAdmin,
       .summary = "Delete a cluster",
       .tag = "clusters",
       .params = {"id"},
       .ok = 204,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             SendStatus(res, c.ops.DeleteCluster(who.actor, req.matches[1]));
           }},
  };
}

std::vector<ApiRoute> HostRoutes() {
  return {
      {.method = "GET",
       .path = "/clusters/{id}/hosts",
       .role = Role::kViewer,
       .summary = "List a cluster's hosts",
       .tag = "hosts",
       .params = {"id"},
       .response = "Host",
       .list = true,
       .handle = [](ApiContext& c, const HttpRequest& req, HttpResponse& res,
                    const ApiCaller&) { SendList(res, c.ops.ListHosts(req.matches[1])); }},
      {.method = "GET",
       .path = "/hosts/{id}",
       .role = Role::kViewer,
       .summary = "Get a host",
       .tag = "hosts",
       .params = {"id"},
       .response = "Host",
       .handle = [](ApiContext& c, const HttpRequest& req, HttpResponse& res,
                    const ApiCaller&) { SendResult(res, c.ops.GetHost(req.matches[1])); }},
      {.method = "GET",
       .path = "/engine/ssh-key",
       .role = Role::kViewer,
       .summary = "The engine's SSH public key",
       .tag = "system",
       .handle =
           [](ApiContext& c, const HttpRequest&, HttpResponse& res, const ApiCaller&) {
             auto k = c.ops.EngineSshKey();
             if (!k.ok()) return SendError(res, k.status());
             SendJson(res, 200, {{"public_key", k->first}, {"fingerprint", k->second}});
           }},
      {.method = "POST",
       .path = "/hosts/{id}/check",
       .role = Role::kOperator,
       .summary = "Reach the host; marks it Up or Down with the reason",
       .tag = "hosts",
       .params = {"id"},
       .response = "Host",
       .handle = CheckHost},
      {.method = "POST",
       .path = "/clusters/{id}/hosts",
       .role = Role::kAdmin,
       .summary = "Add a host",
       .tag = "hosts",
       .params = {"id"},
       .request = "HostSpec",
       .response = "Host",
       .ok = 201,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             WithBody(req, res, [&](const Json& j) {
               auto spec = HostSpecFrom(j, req.matches[1]);
               if (!spec.ok()) return SendError(res, spec.status());
               SendResult(res, c.ops.AddHost(who.actor, *spec), 201);
             });
           }},
      // It connects to any address and port the caller names.
      {.method = "POST",
       .path = "/host-keys/scan",
       .role = Role::kAdmin,
       .summary = "Fetch a host's SSH host keys and fingerprints, to confirm one",
       .tag = "hosts",
       .handle = ScanHostKeys},
      {.method = "PUT",
       .path = "/hosts/{id}/fingerprint",
       .role = Role::kAdmin,
       .summary = "Re-pin the host key fingerprint (after a real key change)",
       .tag = "hosts",
       .params = {"id"},
       .response = "Host",
       .handle = RepinHost},
      {.method = "DELETE",
       .path = "/hosts/{id}",
       .role = Role::kAdmin,
       .summary = "Remove a host",
       .tag = "hosts",
       .params = {"id"},
       .ok = 204,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             SendStatus(res, c.ops.RemoveHost(who.actor, req.matches[1]));
           }},
  };
}

std::vector<ApiRoute> VolumeRoutes() {
  return {
      {.method = "GET",
       .path = "/volumes",
       .role = Role::kViewer,
       .summary = "List all volumes",
       .tag = "volumes",
       .response = "Volume",
       .list = true,
       .handle = [](ApiContext& c, const HttpRequest&, HttpResponse& res,
                    const ApiCaller&) { SendList(res, c.ops.ListVolumes("")); }},
      {.method = "GET",
       .path = "/clusters/{id}/volumes",
       .role = Role::kViewer,
       .summary = "List a cluster's volumes",
       .tag = "volumes",
       .params = {"id"},
       .response = "Volume",
       .list = true,
       .handle = [](ApiContext& c, const HttpRequest& req, HttpResponse& res,
                    const ApiCaller&) { SendList(res, c.ops.ListVolumes(req.matches[1])); }},
      {.method = "GET",
       .path = "/volumes/{id}",
       .role = Role::kViewer,
       .summary = "Get a volume",
       .tag = "volumes",
       .params = {"id"},
       .response = "Volume",
       .handle = [](ApiContext& c, const HttpRequest& req, HttpResponse& res,
                    const ApiCaller&) { SendResult(res, c.ops.GetVolume(req.matches[1])); }},
      {.method = "POST",
       .path = "/clusters/{id}/volumes",
       .role = Role::kAdmin,
       .summary = "Add a volume",
       .tag = "volumes",
       .params = {"id"},
       .request = "VolumeSpec",
       .response = "Volume",
       .ok = 201,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             WithBody(req, res, [&](const Json& j) {
               auto spec = VolumeSpecFrom(j, req.matches[1]);
               if (!spec.ok()) return SendError(res, spec.status());
               SendResult(res, c.ops.AddVolume(who.actor, *spec), 201);
             });
           }},
      {.method = "DELETE",
       .path = "/volumes/{id}",
       .role = Role::kAdmin,
       .summary = "Remove a volume",
       .tag = "volumes",
       .params = {"id"},
       .ok = 204,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             SendStatus(res, c.ops.RemoveVolume(who.actor, req.matches[1]));
           }},
  };
}

Json Schemas() {
  Json schemas;
  schemas["Cluster"] = AlwaysPresent(SchemaObject({{"id", "string"},
                                                   {"name", "string"},
                                                   {"description", "string"},
                                                   {"created_at", "string|null"}}));
  schemas["ClusterSpec"] = SchemaObject({{"name", "string"}, {"description", "string"}}, {"name"});
  schemas["ClusterImportSpec"] = SchemaObject({{"name", "string"},
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
  schemas["Host"] = AlwaysPresent(SchemaObject({{"id", "string"},
                                                {"cluster_id", "string"},
                                                {"name", "string"},
                                                {"address", "string"},
                                                {"ssh_port", "integer"},
                                                {"ssh_user", "string"},
                                                {"transport", "string"},
                                                {"ssh_fingerprint", "string"},
                                                {"status", "string"},
                                                {"last_seen", "string|null"},
                                                {"created_at", "string|null"}}));
  schemas["Host"]["properties"]["transport"]["enum"] =
      EnumWords(HostTransport::kLocal, HostTransport::kSsh);
  schemas["Host"]["properties"]["status"]["enum"] =
      EnumWords(HostStatus::kUnknown, HostStatus::kDown);
  schemas["HostSpec"] = SchemaObject({{"name", "string"},
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
  schemas["Volume"] = AlwaysPresent(SchemaObject({{"id", "string"},
                                                  {"cluster_id", "string"},
                                                  {"name", "string"},
                                                  {"kind", "string"},
                                                  {"status", "string"},
                                                  {"bricks", "array"},
                                                  {"replica_count", "integer"},
                                                  {"disperse_count", "integer"},
                                                  {"size_bytes", "integer"},
                                                  {"used_bytes", "integer"},
                                                  {"created_at", "string|null"}}));
  schemas["Volume"]["properties"]["kind"]["enum"] =
      EnumWords(VolumeKind::kGluster, VolumeKind::kDirectory);
  schemas["Volume"]["properties"]["status"]["enum"] =
      EnumWords(VolumeStatus::kUnknown, VolumeStatus::kStopped);
  schemas["Volume"]["properties"]["bricks"]["items"] =
      AlwaysPresent(SchemaObject({{"host_id", "string"}, {"path", "string"}}));
  schemas["VolumeSpec"] = SchemaObject({{"name", "string"},
                                        {"kind", "string"},
                                        {"host_id", "string"},
                                        {"path", "string"},
                                        {"bricks", "array"},
                                        {"replica_count", "integer"},
                                        {"disperse_count", "integer"}},
                                       {"name"});
  return schemas;
}

}  // namespace

ApiResource ClusterResource() {
  ApiResource r{ClusterRoutes(), Schemas()};
  for (auto* more : {HostRoutes, VolumeRoutes})
    for (auto& route : more()) r.routes.push_back(std::move(route));
  return r;
}

}  // namespace georep
