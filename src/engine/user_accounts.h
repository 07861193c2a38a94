// UserAccounts: georep's users and their API tokens. Administrators create and delete users,
// change their roles and revoke their tokens; every user changes their own password and
// revokes their own tokens. Each change is validated before anything is written and recorded
// as an Event, "ok" or "failed", through EngineContext's audit trail (Audited, RecordFailure),
// as Operations' are.
//
// It needs the store, the clock, randomness (user ids) and the audit trail -- EngineContext --
// and nothing of sessions, hosts or drivers. Operations owns the one UserAccounts, on its own
// EngineContext, and hands it out as Operations::accounts(): whatever holds an Operations (the
// API's route handlers, tests) reaches users without another constructor parameter, and the
// users' events share the audit trail, clock and randomness of every other change. A test may
// build one alone on an EngineContext.
//
// Thread-safe, as EngineContext is.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "engine/engine_context.h"
#include "engine/operation_types.h"
#include "model/entities.h"

namespace georep {

class UserAccounts {
 public:
  // `ctx` must outlive the UserAccounts.
  explicit UserAccounts(EngineContext& ctx) : ctx_(ctx) {}
  UserAccounts(const UserAccounts&) = delete;
  UserAccounts& operator=(const UserAccounts&) = delete;

  // Users (admins only)
  Result<User> CreateUser(const Actor& a, const std::string& name, const std::string& password,
                          Role role);
  Result<std::vector<User>> ListUsers(const Actor& a);
  Status DeleteUser(const Actor& a, const std::string& id);
  // An administrator changes a user's role; the last administrator stays one.
  Result<User> SetRole(const Actor& a, const std::string& user_id, Role role);
  // A user changes their own password; admins may change anyone's. The user's tokens are
  // revoked.
  Status SetPassword(const Actor& a, const std::string& user_id, const std::string& password);

  // A user's tokens, and revoking them all (admins: a lost laptop, a user who left).
  Result<std::vector<ApiToken>> ListUserTokens(const Actor& a, const std::string& user_id);
  Status RevokeUserTokens(const Actor& a, const std::string& user_id);

  // Tokens of the acting user.
  Result<std::vector<ApiToken>> ListTokens(const User& u);
  Status RevokeToken(const Actor& a, const User& u, const std::string& token_id);

 private:
  EngineContext& ctx_;
};

}  // namespace georep
