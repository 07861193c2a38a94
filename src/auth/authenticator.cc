#include "auth/authenticator.h"

#include <fmt/format.h>

#include "auth/credentials.h"
#include "model/validation.h"

namespace georep {
namespace {
constexpr int kMaxFailures = 5;
constexpr int64_t kFailureWindowMs = int64_t{5} * 60 * 1000;
constexpr int64_t kLockoutMs = int64_t{5} * 60 * 1000;
// Token last-use times are written at most this often, so a busy client does not turn every
// read into a database write.
constexpr int64_t kTouchIntervalMs = int64_t{60} * 1000;
}  // namespace

Result<std::optional<std::string>> Authenticator::EnsureInitialAdmin() {
  std::optional<std::string> password;
  Status st = store_.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(auto users, tx.ListUsers());
    if (!users.empty()) return Status::Ok();
    std::string pw = random_.NewPassword(20);
    GEOREP_ASSIGN_OR_RETURN(std::string hash, HashPassword(pw));
    User admin{random_.NewUuid(), "admin", hash, Role::kAdmin, clock_.NowMillis()};
    GEOREP_RETURN_IF_ERROR(tx.CreateUser(admin));
    auto ev = tx.AppendEvent(Event{0, clock_.NowMillis(), "system", "user.create", "user", admin.id,
                                   "ok", "initial administrator 'admin' created"});
    if (!ev.ok()) return ev.status();
    password = pw;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return password;
}

Result<std::string> Authenticator::ResetPassword(const std::string& user) {
  std::string pw = random_.NewPassword(20);
  GEOREP_ASSIGN_OR_RETURN(std::string hash, HashPassword(pw));
  Status st = store_.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(User u, tx.GetUserByName(user));
    u.password_hash = hash;
    GEOREP_RETURN_IF_ERROR(tx.UpdateUser(u));
    GEOREP_ASSIGN_OR_RETURN(auto tokens, tx.ListTokens(u.id));
    for (const auto& t : tokens) GEOREP_RETURN_IF_ERROR(tx.DeleteToken(t.id));
    auto ev = tx.AppendEvent(
        Event{0, clock_.NowMillis(), "system", "user.password", "user", u.id, "ok",
              fmt::format("password of '{}' reset on the engine host; {} token(s) revoked", u.name,
                          tokens.size())});
    return ev.ok() ? Status::Ok() : ev.status();
  });
  if (!st.ok()) return st;
  return pw;
}

Result<IssuedToken> Authenticator::Login(const std::string& user, const std::string& password,
                                         const std::string& token_name, int64_t ttl_seconds) {
  const int64_t now = clock_.NowMillis();
  {
    std::lock_guard<std::mutex> lock(mu_);
    Failures& f = failures_[user];
    if (f.locked_until > now) {
      return Status::Unauthenticated(
          fmt::format("too many failed logins for this user; try again in {} s",
                      (f.locked_until - now + 999) / 1000));
    }
  }
  Status bad = Status::Unauthenticated("wrong user name or password");
  Result<IssuedToken> issued = bad;
  Status st = store_.Transaction([&](StoreTx& tx) -> Status {
    auto u = tx.GetUserByName(user);
    if (!u.ok()) {
      // Same cost as a real check, so timing does not reveal which user names exist.
      static const std::string kDummyHash = HashPassword("georep-no-such-user").value();
      (void)VerifyPassword(password, kDummyHash);
      return u.status().code() == StatusCode::kNotFound ? bad : u.status();
    }
    if (!VerifyPassword(password, u->password_hash)) return bad;
    issued = IssueTokenTx(tx, *u, token_name, ttl_seconds);
    if (!issued.ok()) return issued.status();
    auto ev = tx.AppendEvent(Event{0, now, u->name, "auth.login", "user", u->id, "ok",
                                   fmt::format("token '{}' issued", token_name)});
    return ev.ok() ? Status::Ok() : ev.status();
  });
  std::lock_guard<std::mutex> lock(mu_);
  if (st.ok()) {
    failures_.erase(user);
    return issued;
  }
  if (st.code() == StatusCode::kUnauthenticated) {
    Failures& f = failures_[user];
    if (now - f.first > kFailureWindowMs) f = Failures{0, now, 0};
    if (++f.count >= kMaxFailures) f.locked_until = now + kLockoutMs;
    if (failures_.size() > 10000) failures_.clear();  // bound memory under a name-spraying attack
  }
  return st;
}

Result<User> Authenticator::Authenticate(const std::string& secret) {
  if (secret.rfind("grp_", 0) != 0 || secret.size() > 128) {
    return Status::Unauthenticated("invalid API token");
  }
  const std::string digest = TokenDigest(secret);
  const int64_t now = clock_.NowMillis();
  Result<User> user = Status::Unauthenticated("invalid API token");
  Status st = store_.Transaction([&](StoreTx& tx) -> Status {
    auto t = tx.GetTokenByHash(digest);
    if (!t.ok()) {
      return t.status().code() == StatusCode::kNotFound
                 ? Status::Unauthenticated("invalid or revoked API token")
                 : t.status();
    }
    if (t->expires_at != 0 && t->expires_at <= now) {
      return Status::Unauthenticated("API token expired; log in again");
    }
    user = tx.GetUser(t->user_id);
    if (!user.ok()) return Status::Unauthenticated("the token's user no longer exists");
    if (now - t->last_used > kTouchIntervalMs) return tx.TouchToken(t->id, now);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return user;
}

Result<IssuedToken> Authenticator::IssueToken(const User& user, const std::string& token_name,
                                              int64_t ttl_seconds) {
  Result<IssuedToken> issued = Status::Internal("not issued");
  Status st = store_.Transaction([&](StoreTx& tx) -> Status {
    issued = IssueTokenTx(tx, user, token_name, ttl_seconds);
    if (!issued.ok()) return issued.status();
    auto ev =
        tx.AppendEvent(Event{0, clock_.NowMillis(), user.name, "token.create", "token",
                             issued->token.id, "ok", fmt::format("token '{}' issued", token_name)});
    return ev.ok() ? Status::Ok() : ev.status();
  });
  if (!st.ok()) return st;
  return issued;
}

Result<IssuedToken> Authenticator::IssueTokenTx(StoreTx& tx, const User& user,
                                                const std::string& token_name,
                                                int64_t ttl_seconds) {
  GEOREP_RETURN_IF_ERROR(ValidateObjectName("token name", token_name));
  // Every token expires: lifetimes are bounded, and overflow nothing.
  if (ttl_seconds < 1 || ttl_seconds > policy_.max_ttl_seconds) {
    return Status::InvalidArgument(
        fmt::format("a token's lifetime is 1 to {} seconds ({} days), not {}",
                    policy_.max_ttl_seconds, policy_.max_ttl_seconds / 86400, ttl_seconds));
  }
  const int64_t now = clock_.NowMillis();
  IssuedToken out;
  out.secret = NewTokenSecret(random_);
  out.token = ApiToken{random_.NewUuid(),        user.id, token_name, TokenDigest(out.secret), now,
                       now + ttl_seconds * 1000, now};
  GEOREP_RETURN_IF_ERROR(tx.CreateToken(out.token));
  return out;
}

}  // namespace georep
