// The destination routes: a source cluster's geo-replication destinations, their key exchange
// and test, and the destination volumes a new session may use.
#include "api/api_reply.h"
#include "api/api_route.h"

namespace georep {
namespace {

void CreateDestination(ApiContext& c, const HttpRequest& req, HttpResponse& res,
                       const ApiCaller& who) {
  WithBody(req, res, [&](const Json& j) {
    auto spec = DestinationSpecFrom(j, req.matches[1]);
    if (!spec.ok()) return SendError(res, spec.status());
    auto copy = JsonFields(j).Bool("copy_keys", false);
    if (!copy.ok()) return SendError(res, copy.status());
    auto password = JsonFields(j).Str("password", false);
    if (!password.ok()) return SendError(res, password.status());
    SendResult(res, c.ops.CreateDestination(who.actor, *spec, *copy, *password), 201);
  });
}

void Reestablish(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
  WithBody(req, res, [&](const Json& j) {
    JsonFields f(j);
    Status known = f.OnlyKnown({"ssh_fingerprint", "password"});
    if (!known.ok()) return SendError(res, known);
    auto fp = f.Str("ssh_fingerprint", false);
    if (!fp.ok()) return SendError(res, fp.status());
    auto password = f.Str("password", false);
    if (!password.ok()) return SendError(res, password.status());
    SendResult(res, c.ops.ReestablishDestination(who.actor, req.matches[1], *fp, *password));
  });
}

void TestDestination(ApiContext& c, const HttpRequest& req, HttpResponse& res,
                     const ApiCaller& who) {
  auto tested = c.ops.TestDestination(who.actor, req.matches[1]);
  if (!tested.ok()) return SendError(res, tested.status());
  Json out = ToJson(tested->destination);
  out["problems"] = tested->problems;
  out["warnings"] = tested->warnings;
  SendJson(res, 200, out);
}

void CandidateVolumes(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller&) {
  if (!req.has_param("source_volume_id")) {
    return SendError(res, Status::InvalidArgument("source_volume_id is required: candidates are "
                                                  "eligible for one source volume"));
  }
  SendList(res,
           c.ops.ListCandidateVolumes(req.matches[1], req.get_param_value("source_volume_id")));
}

std::vector<ApiRoute> Routes() {
  return {
      {.method = "GET",
       .path = "/destinations",
       .role = Role::kViewer,
       .summary = "List every cluster's geo-replication destinations",
       .tag = "destinations",
       .response = "Destination",
       .list = true,
       .handle = [](ApiContext& c, const HttpRequest&, HttpResponse& res,
                    const ApiCaller&) { SendList(res, c.ops.ListDestinations("")); }},
      {.method = "GET",
       .path = "/clusters/{id}/destinations",
       .role = Role::kViewer,
       .summary = "List a cluster's geo-replication destinations",
       .tag = "destinations",
       .params = {"id"},
       .response = "Destination",
       .list = true,
       .handle = [](ApiContext& c, const HttpRequest& req, HttpResponse& res,
                    const ApiCaller&) { SendList(res, c.ops.ListDestinations(req.matches[1])); }},
      {.method = "GET",
       .path = "/destinations/{id}",
       .role = Role::kViewer,
       .summary = "Get a destination",
       .tag = "destinations",
       .params = {"id"},
       .response = "Destination",
       .handle = [](ApiContext& c, const HttpRequest& req, HttpResponse& res,
                    const ApiCaller&) { SendResult(res, c.ops.GetDestination(req.matches[1])); }},
      {.method = "GET",
       .path = "/destinations/{id}/volumes",
       .role = Role::kViewer,
       .summary = "The destination cluster's volumes as destinations for a source volume: "
                  "eligible first, each with its non-eligibility reasons (not-started, "
                  "not-empty, too-small, in-use, source-volume, missing)",
       .tag = "sessions",
       .params = {"id", "?source_volume_id"},
       .response = "CandidateVolume",
       .list = true,
       .handle = CandidateVolumes},
      {.method = "POST",
       .path = "/destinations/{id}/test",
       .role = Role::kOperator,
       .summary = "Test a destination: reachability, gluster there, source-host preflight",
       .tag = "destinations",
       .params = {"id"},
       .response = "Destination",
       .handle = TestDestination},
      {.method = "POST",
       .path = "/clusters/{id}/destinations",
       .role = Role::kAdmin,
       .summary = "Attach a destination",
       .tag = "destinations",
       .params = {"id"},
       .request = "DestinationSpec",
       .response = "Destination",
       .ok = 201,
       .handle = CreateDestination},
      {.method = "POST",
       .path = "/destinations/{id}/reestablish",
       .role = Role::kAdmin,
       .summary = "Redo the key exchange (optionally re-pinning a changed host key, and "
                  "installing the engine's key first with a one-time root password)",
       .tag = "destinations",
       .params = {"id"},
       .request = "Reestablish",
       .response = "Destination",
       .handle = Reestablish},
      {.method = "DELETE",
       .path = "/destinations/{id}",
       .role = Role::kAdmin,
       .summary = "Detach a destination (force also removes its sessions). The source "
                  "cluster's geo-replication keys leave the remote user's authorized_keys on "
                  "every destination node georep reaches; the message says where they were "
                  "removed and where they remain",
       .tag = "destinations",
       .params = {"id", "?force"},
       .response = "Message",
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             auto r = c.ops.RemoveDestination(who.actor, req.matches[1], QueryFlag(req, "force"));
             if (!r.ok()) return SendError(res, r.status());
             SendJson(res, 200, {{"message", *r}});
           }},
  };
}

Json Schemas() {
  Json schemas;
  schemas["Destination"] = AlwaysPresent(SchemaObject({{"id", "string"},
                                                       {"source_cluster_id", "string"},
                                                       {"source_host_id", "string"},
                                                       {"host", "string"},
                                                       {"ssh_port", "integer"},
                                                       {"ssh_fingerprint", "string"},
                                                       {"remote_user", "string"},
                                                       {"connection", "string"},
                                                       {"connection_reason", "string"},
                                                       {"last_checked", "string|null"},
                                                       {"created_at", "string|null"}}));
  schemas["Destination"]["properties"]["connection"]["enum"] =
      EnumWords(ConnectionStatus::kUnknown, ConnectionStatus::kBroken);
  schemas["DestinationSpec"] = SchemaObject({{"source_host_id", "string"},
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
  schemas["Reestablish"] = SchemaObject({{"ssh_fingerprint", "string"}, {"password", "string"}});
  schemas["CandidateVolume"] = AlwaysPresent(SchemaObject({{"name", "string"},
                                                           {"status", "string"},
                                                           {"size_bytes", "integer"},
                                                           {"eligible", "boolean"},
                                                           {"reasons", "array"}}));
  schemas["CandidateVolume"]["properties"]["reasons"]["items"] = {{"type", "string"}};
  return schemas;
}

}  // namespace

ApiResource DestinationResource() {
  return {Routes(), Schemas()};
}

}  // namespace georep
