// The JSON shape of the model in the REST API: entities out, specs in.
//
// Request bodies are read strictly: unknown fields, wrong types and missing required fields
// are InvalidArgument errors that name the field, so a typo never silently does nothing.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/operations.h"
#include "model/entities.h"

namespace georep {

using Json = nlohmann::json;

Json ToJson(const Cluster& c);
Json ToJson(const Host& h);
Json ToJson(const Volume& v);
Json ToJson(const Destination& d);
Json ToJson(const Session& s);
Json ToJson(const SessionNodeStatus& n);
Json ToJson(const SessionDetail& d);
Json ToJson(const Preflight& p);
Json ToJson(const ConfigItem& c);
Json ToJson(const Event& e);
Json ToJson(const CandidateVolume& c);
Json ToJson(const replication::VerifyReport& r);
Json ToJson(const RepairReport& r);
Json ToJson(const User& u);      // never includes the password hash
Json ToJson(const ApiToken& t);  // never includes the digest
Json ToJson(const Alert& a);
Json ToJson(const Notifier& n);  // the secret only when it is set (the one time it is shown)
Json ToJson(const AlertDelivery& d);
Json ToJson(const SettingItem& s);

// Each session action and whether a session in `status` may run it: "ok", "force" (only with
// force) or "no", with the reason (model/session_lifecycle.h's rules, so that clients need no
// copy of them).
Json AllowedActions(SessionStatus status);

Result<ClusterSpec> ClusterSpecFrom(const Json& j);
Result<HostSpec> HostSpecFrom(const Json& j, const std::string& cluster_id);
Result<VolumeSpec> VolumeSpecFrom(const Json& j, const std::string& cluster_id);
Result<DestinationSpec> DestinationSpecFrom(const Json& j, const std::string& cluster_id);
Result<SessionSpec> SessionSpecFrom(const Json& j);

// Parses a request body; empty bodies are "{}".
Result<Json> ParseBody(const std::string& body);

// Strict reader of one JSON object.
class JsonFields {
 public:
  explicit JsonFields(const Json& j) : j_(j) {}
  Result<std::string> Str(const char* key, bool required, std::string fallback = "");
  Result<int64_t> Int(const char* key, int64_t fallback);
  Result<bool> Bool(const char* key, bool fallback);
  // Fails naming the first field not in `known`.
  Status OnlyKnown(std::initializer_list<const char*> known) const;

 private:
  const Json& j_;
};

}  // namespace georep
