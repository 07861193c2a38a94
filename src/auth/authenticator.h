// Authenticator: who is calling. Creates the first admin, logs users in (issuing API tokens),
// resolves bearer tokens to users, and slows down password guessing.
//
// Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

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

  // Checks a user's password and issues a new token named `token_name`.
  // After 5 failures for a user within 5 minutes, further attempts fail for 5 minutes.
  Result<IssuedToken> Login(const std::string& user, const std::string& password,
                            const std::string& token_name, int64_t ttl_seconds);

  // Resolves "grp_..." to its user. Expired and unknown tokens are Unauthenticated.
  Result<User> Authenticate(const std::string& secret);

  // Issues an extra token for an authenticated user (for scripts).
  Result<IssuedToken> IssueToken(const User& user, const std::string& token_name,
                                 int64_t ttl_seconds);

 private:
  Result<IssuedToken> IssueTokenTx(StoreTx& tx, const User& user, const std::string& token_name,
                                   int64_t ttl_seconds);

  struct Failures {
    int count = 0;
    int64_t first = 0;
    int64_t locked_until = 0;
  };

  Store& store_;
  Clock& clock_;
  Random& random_;
  const TokenPolicy policy_;
  std::mutex mu_;
  std::map<std::string, Failures> failures_;  // GUARDED_BY(mu_)
};

}  // namespace georep
