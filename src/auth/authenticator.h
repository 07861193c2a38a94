// Authenticator: who is calling. Creates the first admin, logs users in (issuing API tokens),
// resolves bearer tokens to users, and slows down password guessing.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "model/entities.h"
#include "store/store.h"

namespace georep {

struct IssuedToken {
  ApiToken token;
  std::string secret;  // shown once, never stored
};

// How long tokens live. Every token expires.
struct TokenPolicy {
  int64_t login_ttl_seconds = int64_t{12} * 3600;     // a login's, unless asked otherwise
  int64_t max_ttl_seconds = int64_t{90} * 24 * 3600;  // any token's, at most
};

class Authenticator {
 public:
  Authenticator(Store& store, Clock& clock, Random& random, TokenPolicy policy = {})
      : store_(store), clock_(clock), random_(random), policy_(policy) {}

  const TokenPolicy& policy() const { return policy_; }

  // When there are no users at all, creates "admin" with a generated password and returns the
  // password (to be shown once). Otherwise returns nullopt.
  Result<std::optional<std::string>> EnsureInitialAdmin();

  // Gives `user` a new generated password and returns it (for `georep admin reset-password`,
  // run on the engine's host by whoever can read its data directory). The user's tokens are
  // revoked.
  Result<std::string> ResetPassword(const std::string& user);

  // Checks a user's password and issues a new token named `token_name`. `address`: where the
  // attempt comes from (the client's IP address).
  //
  // Guessing is slowed per (user, address) and per address: after 3 failures of a pair (10 of
  // an address, whatever the user) each further one doubles a wait, 1 s up to 5 min, forgotten
  // after 15 quiet minutes -- a back-off, so a stranger failing as 'admin' elsewhere never
  // locks the real admin out. One check per user at a time, so parallel guesses cannot race
  // past the count; at most two password checks at once engine-wide, outside any store
  // transaction. Failures are audited: the first of a pair at once, then one event a minute
  // with the count.
  Result<IssuedToken> Login(const std::string& user, const std::string& password,
                            const std::string& token_name, int64_t ttl_seconds,
                            const std::string& address = "local");

  // Resolves "grp_..." to its user. Expired and unknown tokens are Unauthenticated.
  Result<User> Authenticate(const std::string& secret);

  // Issues an extra token for an authenticated user (for scripts).
  Result<IssuedToken> IssueToken(const User& user, const std::string& token_name,
                                 int64_t ttl_seconds);

 private:
  Result<IssuedToken> IssueTokenTx(StoreTx& tx, const User& user, const std::string& token_name,
                                   int64_t ttl_seconds);

  struct Throttle {
    int failures = 0;
    int64_t last_failure = 0;
    int64_t next_allowed = 0;
  };
  struct AuditWindow {
    int pending = 0;    // failures not yet in the audit trail
    int throttled = 0;  // of which refused by the back-off
    int64_t first_pending = 0;
    int64_t last_written = 0;
  };
  void NoteFailureLocked(const std::string& user, const std::string& address, int64_t now,
                         bool throttled);
  void FlushAudit(int64_t now);

  Store& store_;
  Clock& clock_;
  Random& random_;
  const TokenPolicy policy_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Throttle> pairs_;     // GUARDED_BY(mu_)
  std::map<std::string, Throttle> addresses_;                         // GUARDED_BY(mu_)
  std::set<std::string> verifying_;                                   // GUARDED_BY(mu_)
  std::map<std::pair<std::string, std::string>, AuditWindow> audit_;  // GUARDED_BY(mu_)
  std::mutex hash_mu_;
  std::condition_variable hash_free_;
  int hashing_ = 0;  // GUARDED_BY(hash_mu_)
};

}  // namespace georep
