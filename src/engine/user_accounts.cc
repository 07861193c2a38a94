#include "engine/user_accounts.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "auth/credentials.h"
#include "model/names.h"
#include "model/validation.h"

namespace georep {
namespace {

Status RequireAdmin(const Actor& a) {
  return Require(a, Role::kAdmin);
}

}  // namespace

Result<User> UserAccounts::CreateUser(const Actor& a, const std::string& name,
                                      const std::string& password, Role role) {
  Status valid = RequireAdmin(a);
  if (valid.ok()) valid = ValidateObjectName("user name", name).WithField("name");
  if (valid.ok()) valid = ValidateNewPassword(password).WithField("password");
  if (!valid.ok()) {
    (void)ctx_.RecordFailure(a, "user.create", "user", "", valid);
    return valid;
  }
  GEOREP_ASSIGN_OR_RETURN(std::string hash, HashPassword(password));
  User u{ctx_.random.NewUuid(), name, hash, role, ctx_.clock.NowMillis()};
  std::string msg = fmt::format("user '{}' created with the {} role", name, Name(role));
  Status st = ctx_.Audited(a, "user.create", "user", u.id, msg, [&](StoreTx& tx) {
    Status s = tx.CreateUser(u);
    if (s.code() == StatusCode::kAlreadyExists)
      return Status::AlreadyExists(fmt::format("a user named '{}' already exists", name));
    return s;
  });
  if (!st.ok()) return st;
  return u;
}

Result<std::vector<User>> UserAccounts::ListUsers(const Actor& a) {
  GEOREP_RETURN_IF_ERROR(RequireAdmin(a));
  return Read<std::vector<User>>(ctx_.store, [](StoreTx& tx) { return tx.ListUsers(); });
}

Status UserAccounts::DeleteUser(const Actor& a, const std::string& id) {
  std::string oid = id, msg;
  return ctx_.Audited(a, "user.delete", "user", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(RequireAdmin(a));
    GEOREP_ASSIGN_OR_RETURN(User u, tx.GetUser(id));
    if (u.name == a.name) return Status::FailedPrecondition("you cannot delete yourself");
    msg = fmt::format("user '{}' deleted", u.name);
    return tx.DeleteUser(id);
  });
}

Result<User> UserAccounts::SetRole(const Actor& a, const std::string& user_id, Role role) {
  std::string oid = user_id, msg;
  User changed;
  Status st = ctx_.Audited(a, "user.role", "user", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(RequireAdmin(a));
    GEOREP_ASSIGN_OR_RETURN(User u, tx.GetUser(user_id));
    if (u.role == Role::kAdmin && role != Role::kAdmin) {
      GEOREP_ASSIGN_OR_RETURN(std::vector<User> all, tx.ListUsers());
      if (std::count_if(all.begin(), all.end(),
                        [](const User& x) { return x.role == Role::kAdmin; }) < 2) {
        return Status::FailedPrecondition(
            fmt::format("'{}' is the only administrator; make another user admin first", u.name));
      }
    }
    msg = fmt::format("role of '{}' changed from {} to {}", u.name, Name(u.role), Name(role));
    u.role = role;
    changed = u;
    return tx.UpdateUser(u);
  });
  if (!st.ok()) return st;
  return changed;
}

Status UserAccounts::SetPassword(const Actor& a, const std::string& user_id,
                                 const std::string& password) {
  GEOREP_RETURN_IF_ERROR(ValidateNewPassword(password));
  GEOREP_ASSIGN_OR_RETURN(std::string hash, HashPassword(password));
  std::string oid = user_id, msg;
  return ctx_.Audited(a, "user.password", "user", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(User u, tx.GetUser(user_id));
    if (u.name != a.name) GEOREP_RETURN_IF_ERROR(RequireAdmin(a));
    u.password_hash = hash;
    GEOREP_RETURN_IF_ERROR(tx.UpdateUser(u));
    // Whoever held the old password may hold a token: they all go (the user logs in again).
    GEOREP_ASSIGN_OR_RETURN(auto tokens, tx.ListTokens(u.id));
    for (const auto& t : tokens) GEOREP_RETURN_IF_ERROR(tx.DeleteToken(t.id));
    msg = fmt::format("password of '{}' changed; {} token(s) revoked", u.name, tokens.size());
    return Status::Ok();
  });
}

Result<std::vector<ApiToken>> UserAccounts::ListUserTokens(const Actor& a,
                                                           const std::string& user_id) {
  GEOREP_RETURN_IF_ERROR(RequireAdmin(a));
  return Read<std::vector<ApiToken>>(ctx_.store, [&](StoreTx& tx) -> Result<std::vector<ApiToken>> {
    GEOREP_RETURN_IF_ERROR(tx.GetUser(user_id).status());
    return tx.ListTokens(user_id);
  });
}

Status UserAccounts::RevokeUserTokens(const Actor& a, const std::string& user_id) {
  std::string oid = user_id, msg;
  return ctx_.Audited(a, "token.revoke", "user", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(RequireAdmin(a));
    GEOREP_ASSIGN_OR_RETURN(User u, tx.GetUser(user_id));
    GEOREP_ASSIGN_OR_RETURN(auto tokens, tx.ListTokens(u.id));
    for (const auto& t : tokens) GEOREP_RETURN_IF_ERROR(tx.DeleteToken(t.id));
    msg = fmt::format("{} token(s) of '{}' revoked", tokens.size(), u.name);
    return Status::Ok();
  });
}

Result<std::vector<ApiToken>> UserAccounts::ListTokens(const User& u) {
  return Read<std::vector<ApiToken>>(ctx_.store, [&](StoreTx& tx) { return tx.ListTokens(u.id); });
}

Status UserAccounts::RevokeToken(const Actor& a, const User& u, const std::string& token_id) {
  std::string oid = token_id, msg;
  return ctx_.Audited(a, "token.revoke", "token", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(auto tokens, tx.ListTokens(u.id));
    for (const auto& t : tokens) {
      if (t.id == token_id) {
        msg = fmt::format("token '{}' revoked", t.name);
        return tx.DeleteToken(token_id);
      }
    }
    return Status::NotFound(fmt::format("token '{}' does not exist", token_id));
  });
}

}  // namespace georep
