// The system and account routes: health, log-in, the OpenAPI document, the caller and their
// tokens, and the users an administrator manages.
#include <fmt/format.h>

#include "api/api_reply.h"
#include "api/api_route.h"
#include "api/openapi.h"
#include "base/clock.h"
#include "base/log.h"

namespace georep {
namespace {

// A user's role from "role" ("viewer", "operator", "admin"), or from "admin": true as
// clients written before roles say it; a new user is a viewer unless told otherwise.
Result<Role> RoleFrom(JsonFields& f) {
  auto word = f.Str("role", false);
  if (!word.ok()) return word.status();
  auto admin = f.Bool("admin", false);
  if (!admin.ok()) return admin.status();
  if (word->empty()) return *admin ? Role::kAdmin : Role::kViewer;
  auto role = ParseRole(*word);
  if (!role) {
    return Status::InvalidArgument(
        fmt::format("unknown role '{}': one of viewer, operator, admin", LogValue(*word)));
  }
  if (*admin && *role != Role::kAdmin)
    return Status::InvalidArgument("'admin': true contradicts the role given");
  return *role;
}

void Health(ApiContext& c, const HttpRequest&, HttpResponse& res, const ApiCaller&) {
  Json out = {{"status", "ok"}, {"version", c.options.version}, {"active", true}};
  if (c.options.standby_reason) {
    std::string why = c.options.standby_reason();
    out["active"] = why.empty();
    if (!why.empty()) out["standby_reason"] = why;
  }
  SendJson(res, 200, out);
}

void Login(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller&) {
  WithBody(req, res, [&](const Json& j) {
    JsonFields f(j);
    Status known = f.OnlyKnown({"username", "password", "token_name", "ttl_seconds"});
    if (!known.ok()) return SendError(res, known);
    auto user = f.Str("username", true);
    auto pw = f.Str("password", true);
    auto name = f.Str("token_name", false, "login");
    auto ttl = f.Int("ttl_seconds", c.auth.policy().login_ttl_seconds);
    Status st = FirstError({&user.status(), &pw.status(), &name.status(), &ttl.status()});
    if (!st.ok()) return SendError(res, st);
    auto issued = c.auth.Login(*user, *pw, *name, *ttl, req.remote_addr);
    if (!issued.ok()) return SendError(res, issued.status());
    SendJson(res, 200,
             {{"token", issued->secret},
              {"token_id", issued->token.id},
              {"expires_at", issued->token.expires_at == 0
                                 ? Json(nullptr)
                                 : Json(FormatIsoMillis(issued->token.expires_at))},
              {"username", *user}});
  });
}

void IssueToken(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
  WithBody(req, res, [&](const Json& j) {
    JsonFields f(j);
    Status known = f.OnlyKnown({"name", "ttl_seconds"});
    if (!known.ok()) return SendError(res, known);
    auto name = f.Str("name", true);
    if (!name.ok()) return SendError(res, name.status());
    // A token for scripts lives as long as asked, and is asked for: there is no default.
    if (!j.contains("ttl_seconds")) {
      return SendError(res,
                       Status::InvalidArgument(
                           fmt::format("ttl_seconds is required: how long the token lives, at most "
                                       "{} seconds",
                                       c.auth.policy().max_ttl_seconds))
                           .WithField("ttl_seconds"));
    }
    auto ttl = f.Int("ttl_seconds", 0);
    if (!ttl.ok()) return SendError(res, ttl.status());
    auto issued = c.auth.IssueToken(*who.user, *name, *ttl);
    if (!issued.ok()) return SendError(res, issued.status());
    Json out = ToJson(issued->token);
    out["token"] = issued->secret;
    SendJson(res, 201, out);
  });
}

void CreateUser(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
  WithBody(req, res, [&](const Json& j) {
    JsonFields f(j);
    Status known = f.OnlyKnown({"name", "password", "role", "admin"});
    if (!known.ok()) return SendError(res, known);
    auto name = f.Str("name", true);
    auto pw = f.Str("password", true);
    Status st = FirstError({&name.status(), &pw.status()});
    if (!st.ok()) return SendError(res, st);
    auto role = RoleFrom(f);
    if (!role.ok()) return SendError(res, role.status());
    SendResult(res, c.ops.accounts().CreateUser(who.actor, *name, *pw, *role), 201);
  });
}

void SetPassword(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
  WithBody(req, res, [&](const Json& j) {
    JsonFields f(j);
    Status known = f.OnlyKnown({"password"});
    if (!known.ok()) return SendError(res, known);
    auto pw = f.Str("password", true);
    if (!pw.ok()) return SendError(res, pw.status());
    SendStatus(res, c.ops.accounts().SetPassword(who.actor, req.matches[1], *pw));
  });
}

void SetRole(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
  WithBody(req, res, [&](const Json& j) {
    JsonFields f(j);
    Status known = f.OnlyKnown({"role"});
    if (!known.ok()) return SendError(res, known);
    auto word = f.Str("role", true);
    if (!word.ok()) return SendError(res, word.status());
    auto role = RoleFrom(f);
    if (!role.ok()) return SendError(res, role.status());
    SendResult(res, c.ops.accounts().SetRole(who.actor, req.matches[1], *role));
  });
}

std::vector<ApiRoute> Routes() {
  constexpr Role kViewer = Role::kViewer;
  constexpr Role kAdmin = Role::kAdmin;
  return {
      {.method = "GET",
       .path = "/health",
       .summary = "Liveness check (no authentication)",
       .tag = "system",
       .handle = Health},
      {.method = "POST",
       .path = "/auth/login",
       .summary = "Log in; returns a bearer token",
       .tag = "auth",
       .request = "Login",
       .response = "LoginResult",
       .handle = Login},
      {.method = "GET",
       .path = "/openapi.json",
       .role = kViewer,
       .summary = "This document",
       .tag = "system",
       .handle = [](ApiContext& c, const HttpRequest&, HttpResponse& res,
                    const ApiCaller&) { SendJson(res, 200, OpenApiDocument(c.options.version)); }},

      // The caller: their own account and tokens.
      {.method = "GET",
       .path = "/me",
       .role = kViewer,
       .summary = "The authenticated user",
       .tag = "auth",
       .response = "User",
       .handle = [](ApiContext&, const HttpRequest&, HttpResponse& res,
                    const ApiCaller& who) { SendJson(res, 200, ToJson(*who.user)); }},
      {.method = "GET",
       .path = "/tokens",
       .role = kViewer,
       .summary = "The caller's API tokens",
       .tag = "auth",
       .response = "Token",
       .list = true,
       .handle =
           [](ApiContext& c, const HttpRequest&, HttpResponse& res, const ApiCaller& who) {
             SendList(res, c.ops.accounts().ListTokens(*who.user));
           }},
      {.method = "POST",
       .path = "/tokens",
       .role = kViewer,
       .summary = "Issue an API token",
       .tag = "auth",
       .request = "TokenSpec",
       .response = "Token",
       .ok = 201,
       .handle = IssueToken},
      {.method = "DELETE",
       .path = "/tokens/{id}",
       .role = kViewer,
       .summary = "Revoke a token",
       .tag = "auth",
       .params = {"id"},
       .ok = 204,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             SendStatus(res, c.ops.accounts().RevokeToken(who.actor, *who.user, req.matches[1]));
           }},
      {.method = "PUT",
       .path = "/users/{id}/password",
       .role = kViewer,
       .note = "a user's own; an admin's for anyone",
       .summary = "Change a password",
       .tag = "users",
       .params = {"id"},
       .request = "PasswordSpec",
       .ok = 204,
       .handle = SetPassword},

      {.method = "GET",
       .path = "/users",
       .role = kAdmin,
       .summary = "List users (administrators)",
       .tag = "users",
       .response = "User",
       .list = true,
       .handle =
           [](ApiContext& c, const HttpRequest&, HttpResponse& res, const ApiCaller& who) {
             SendList(res, c.ops.accounts().ListUsers(who.actor));
           }},
      {.method = "POST",
       .path = "/users",
       .role = kAdmin,
       .summary = "Create a user (administrators)",
       .tag = "users",
       .request = "UserSpec",
       .response = "User",
       .ok = 201,
       .handle = CreateUser},
      {.method = "DELETE",
       .path = "/users/{id}",
       .role = kAdmin,
       .summary = "Delete a user",
       .tag = "users",
       .params = {"id"},
       .ok = 204,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             SendStatus(res, c.ops.accounts().DeleteUser(who.actor, req.matches[1]));
           }},
      {.method = "PUT",
       .path = "/users/{id}/role",
       .role = kAdmin,
       .summary = "Change a user's role (the last administrator stays one)",
       .tag = "users",
       .params = {"id"},
       .request = "RoleSpec",
       .response = "User",
       .handle = SetRole},
      {.method = "GET",
       .path = "/users/{id}/tokens",
       .role = kAdmin,
       .summary = "A user's API tokens (administrators)",
       .tag = "users",
       .params = {"id"},
       .response = "Token",
       .list = true,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             SendList(res, c.ops.accounts().ListUserTokens(who.actor, req.matches[1]));
           }},
      {.method = "DELETE",
       .path = "/users/{id}/tokens",
       .role = kAdmin,
       .summary = "Revoke every token of a user (administrators)",
       .tag = "users",
       .params = {"id"},
       .ok = 204,
       .handle =
           [](ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller& who) {
             SendStatus(res, c.ops.accounts().RevokeUserTokens(who.actor, req.matches[1]));
           }},
  };
}

Json Schemas() {
  Json schemas;
  schemas["Error"] = {
      {"type", "object"},
      {"properties",
       {{"error", SchemaObject({{"code", "string"}, {"message", "string"}, {"field", "string"}},
                               {"code", "message"})}}}};
  schemas["Login"] = SchemaObject({{"username", "string"},
                                   {"password", "string"},
                                   {"token_name", "string"},
                                   {"ttl_seconds", "integer"}},
                                  {"username", "password"});
  schemas["LoginResult"] = AlwaysPresent(SchemaObject({{"token", "string"},
                                                       {"token_id", "string"},
                                                       {"expires_at", "string|null"},
                                                       {"username", "string"}}));
  const Json roles = EnumWords(Role::kViewer, Role::kAdmin);
  schemas["User"] = AlwaysPresent(SchemaObject({{"id", "string"},
                                                {"name", "string"},
                                                {"role", "string"},
                                                {"admin", "boolean"},
                                                {"created_at", "string|null"}}));
  schemas["User"]["properties"]["role"]["enum"] = roles;
  schemas["User"]["properties"]["admin"]["description"] = "role is admin (for older clients)";
  schemas["UserSpec"] = SchemaObject(
      {{"name", "string"}, {"password", "string"}, {"role", "string"}}, {"name", "password"});
  schemas["UserSpec"]["properties"]["role"]["enum"] = roles;
  schemas["UserSpec"]["properties"]["role"]["default"] = "viewer";
  schemas["RoleSpec"] = SchemaObject({{"role", "string"}}, {"role"});
  schemas["RoleSpec"]["properties"]["role"]["enum"] = roles;
  schemas["Message"] = SchemaObject({{"message", "string"}}, {"message"});
  schemas["PasswordSpec"] = SchemaObject({{"password", "string"}}, {"password"});
  schemas["Token"] = SchemaObject({{"id", "string"},
                                   {"name", "string"},
                                   {"created_at", "string|null"},
                                   {"expires_at", "string|null"},
                                   {"last_used", "string|null"},
                                   {"token", "string"}},
                                  {"id", "name", "created_at", "expires_at", "last_used"});
  schemas["Token"]["properties"]["token"]["description"] = "The secret: only when issued";
  // A token's lifetime is always chosen: none lives long by omission.
  schemas["TokenSpec"] =
      SchemaObject({{"name", "string"}, {"ttl_seconds", "integer"}}, {"name", "ttl_seconds"});
  return schemas;
}

}  // namespace

ApiResource SystemResource() {
  return {Routes(), Schemas()};
}

}  // namespace georep
