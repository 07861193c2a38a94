#include "auth/authenticator.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "auth/credentials.h"
#include "model/validation.h"

namespace georep {
namespace {
// Failures free of any wait: per (user, address), and per address whatever the user.
constexpr int kFreePairFailures = 3;
constexpr int kFreeAddressFailures = 10;
constexpr int64_t kBackOffFirstMs = 1000;
constexpr int64_t kBackOffMaxMs = int64_t{5} * 60 * 1000;
// Failures older than this are forgotten.
constexpr int64_t kFailureMemoryMs = int64_t{15} * 60 * 1000;
constexpr size_t kMaxTracked = 10000;
// Password checks at once (each a good part of a second of CPU and 64 MiB of memory).
constexpr int kMaxHashing = 2;
constexpr int64_t kAuditEveryMs = int64_t{60} * 1000;
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

// What one failure costs a (user, address) pair and an address: the first few are free, then
// the wait doubles, up to a cap. A back-off, not a lock: it ends by itself, and it is per
// address -- a stranger elsewhere failing as 'admin' slows down only that stranger.
namespace {
int64_t BackOffMs(int failures, int free) {
  if (failures < free) return 0;
  const int doublings = std::min(failures - free, 16);
  return std::min(kBackOffFirstMs << doublings, kBackOffMaxMs);
}
}  // namespace

Result<IssuedToken> Authenticator::Login(const std::string& user, const std::string& password,
                                         const std::string& token_name, int64_t ttl_seconds,
                                         const std::string& address) {
  const int64_t now = clock_.NowMillis();
  const std::pair<std::string, std::string> key{user, address};
  Status throttled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pairs_.size() > kMaxTracked) pairs_.clear();  // bounded under a name-spraying attack
    if (addresses_.size() > kMaxTracked) addresses_.clear();
    const int64_t until = std::max(pairs_[key].next_allowed, addresses_[address].next_allowed);
    if (until > now) {
      NoteFailureLocked(user, address, now, /*throttled=*/true);
      throttled = Status::Unauthenticated(
          fmt::format("too many failed logins from this address; try again in {} s",
                      (until - now + 999) / 1000));
    }
    // One check per user at a time: parallel guesses cannot all pass the count above before
    // the first of them fails.
    if (throttled.ok() && !verifying_.insert(user).second) {
      return Status::Unauthenticated(
          "a login for this user is being checked; try again in a moment");
    }
  }
  if (!throttled.ok()) {
    FlushAudit(now);
    return throttled;
  }
  struct Done {
    Authenticator* a;
    const std::string& user;
    ~Done() {
      std::lock_guard<std::mutex> lock(a->mu_);
      a->verifying_.erase(user);
    }
  } done{this, user};

  // The user, read in a short transaction; the password hash checked outside any (Argon2id
  // takes a good part of a second of CPU: under the store's lock it stalled every request).
  Result<User> u = Status::NotFound("");
  Status read = store_.Transaction([&](StoreTx& tx) -> Status {
    u = tx.GetUserByName(user);
    return u.ok() || u.status().code() == StatusCode::kNotFound ? Status::Ok() : u.status();
  });
  if (!read.ok()) return read;
  bool right = false;
  {
    std::unique_lock<std::mutex> lock(hash_mu_);
    if (!hash_free_.wait_for(lock, std::chrono::seconds(10),
                             [&] { return hashing_ < kMaxHashing; }))
      return Status::Unavailable("the engine is busy checking logins; try again in a moment");
    ++hashing_;
  }
  if (u.ok()) {
    right = VerifyPassword(password, u->password_hash);
  } else {
    // Same cost as a real check, so timing does not reveal which user names exist.
    static const std::string kDummyHash = HashPassword("georep-no-such-user").value();
    (void)VerifyPassword(password, kDummyHash);
  }
  {
    std::lock_guard<std::mutex> lock(hash_mu_);
    --hashing_;
  }
  hash_free_.notify_one();

  if (!right) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      Throttle& p = pairs_[key];
      Throttle& a = addresses_[address];
      for (Throttle* t : {&p, &a}) {
        if (now - t->last_failure > kFailureMemoryMs) t->failures = 0;
        ++t->failures;
        t->last_failure = now;
      }
      p.next_allowed = now + BackOffMs(p.failures, kFreePairFailures);
      a.next_allowed = now + BackOffMs(a.failures, kFreeAddressFailures);
      NoteFailureLocked(user, address, now, /*throttled=*/false);
    }
    FlushAudit(now);
    return Status::Unauthenticated("wrong user name or password");
  }

  Result<IssuedToken> issued = Status::Internal("not issued");
  Status st = store_.Transaction([&](StoreTx& tx) -> Status {
    issued = IssueTokenTx(tx, *u, token_name, ttl_seconds);
    if (!issued.ok()) return issued.status();
    auto ev = tx.AppendEvent(Event{0, now, u->name, "auth.login", "user", u->id, "ok",
                                   fmt::format("token '{}' issued", token_name)});
    return ev.ok() ? Status::Ok() : ev.status();
  });
  if (!st.ok()) return st;
  std::lock_guard<std::mutex> lock(mu_);
  pairs_.erase(key);
  return issued;
}

// Failed logins go to the audit trail: the first of a (user, address) pair at once, then one
// event a minute with how many followed -- a flood leaves a few lines, never none.
void Authenticator::NoteFailureLocked(const std::string& user, const std::string& address,
                                      int64_t now, bool throttled) {
  AuditWindow& w = audit_[{user, address}];
  ++w.pending;
  if (throttled) ++w.throttled;
  if (w.first_pending == 0) w.first_pending = now;
  if (audit_.size() > kMaxTracked) audit_.clear();
}

void Authenticator::FlushAudit(int64_t now) {
  std::vector<Event> events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [k, w] : audit_) {
      if (w.pending == 0 || (w.last_written != 0 && now - w.last_written < kAuditEveryMs)) continue;
      // The name as typed can be anything: shown only when it is a valid user name.
      const std::string who = ValidateObjectName("user name", k.first).ok()
                                  ? "'" + k.first + "'"
                                  : std::string("an invalid user name");
      std::string msg =
          w.pending == 1
              ? fmt::format("failed login for {} from {}", who, k.second)
              : fmt::format(
                    "{} failed logins for {} from {} since {}{}", w.pending, who, k.second,
                    FormatIsoMillis(w.first_pending),
                    w.throttled ? fmt::format(" ({} refused by the back-off)", w.throttled) : "");
      events.push_back(Event{0, now, "system", "auth.login", "user", "", "failed", msg});
      w.pending = 0;
      w.throttled = 0;
      w.first_pending = 0;
      w.last_written = now;
    }
  }
  if (events.empty()) return;
  (void)store_.Transaction([&](StoreTx& tx) -> Status {
    for (const auto& e : events) GEOREP_RETURN_IF_ERROR(tx.AppendEvent(e).status());
    return Status::Ok();
  });
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
