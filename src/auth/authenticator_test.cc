#include "auth/authenticator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace georep {
namespace {

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("georep-auth-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    auto s = OpenStore("sqlite://" + (dir_ / "db").string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    auth_ = std::make_unique<Authenticator>(*store_, clock_, random_);
  }
  void TearDown() override {
    auth_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  FakeClock clock_;
  SystemRandom random_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(AuthenticatorTest, InitialAdminOnceThenLoginAndTokens) {
  auto pw = auth_->EnsureInitialAdmin();
  ASSERT_TRUE(pw.ok());
  ASSERT_TRUE(pw->has_value());
  EXPECT_GE((*pw)->size(), 20u);
  auto again = auth_->EnsureInitialAdmin();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());  // shown once: never regenerated

  auto issued = auth_->Login("admin", **pw, "cli", 3600);
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  auto user = auth_->Authenticate(issued->secret);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->name, "admin");
  EXPECT_EQ(user->role, Role::kAdmin);

  clock_.Advance(3601 * 1000);
  auto expired = auth_->Authenticate(issued->secret);
  EXPECT_EQ(expired.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos);
}

TEST_F(AuthenticatorTest, WrongPasswordAndUnknownTokenAreRejected) {
  auto pw = auth_->EnsureInitialAdmin();
  ASSERT_TRUE(pw.ok() && pw->has_value());
  auto bad = auth_->Login("admin", "wrong-password", "cli", 3600);
  EXPECT_EQ(bad.status().code(), StatusCode::kUnauthenticated);
  auto nouser = auth_->Login("mallory", "whatever", "cli", 3600);
  EXPECT_EQ(nouser.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(bad.status().message(), nouser.status().message());  // no user enumeration
  EXPECT_EQ(auth_->Authenticate("grp_forged").status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(auth_->Authenticate("").status().code(), StatusCode::kUnauthenticated);
}

// V5: a fixed 5-minute lock after 5 failures let anyone lock the admin out (and renew it).
// Now a back-off per (user, address): 3 failures free, then 1 s, 2 s, 4 s...; the real admin
// elsewhere is not slowed at all.
TEST_F(AuthenticatorTest, FailuresBackOffPerAddressAndNeverLockTheOwnerOut) {
  auto pw = auth_->EnsureInitialAdmin();
  ASSERT_TRUE(pw.ok() && pw->has_value());
  for (int i = 0; i < 3; ++i) {
    auto r = auth_->Login("admin", "wrong-password", "cli", 3600, "10.0.0.66");
    EXPECT_NE(r.status().message().find("wrong user name or password"), std::string::npos);
  }
  // The 4th failure starts the back-off: even the right password waits, from that address.
  (void)auth_->Login("admin", "wrong-password", "cli", 3600, "10.0.0.66");
  auto waiting = auth_->Login("admin", **pw, "cli", 3600, "10.0.0.66");
  EXPECT_EQ(waiting.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(waiting.status().message().find("too many failed logins"), std::string::npos);
  // The admin, elsewhere, logs in at once.
  EXPECT_TRUE(auth_->Login("admin", **pw, "cli", 3600, "192.0.2.10").ok());
  // It ends by itself.
  clock_.Advance(1001);
  EXPECT_TRUE(auth_->Login("admin", **pw, "cli", 3600, "10.0.0.66").ok());
  // Each further failure doubles the wait.
  for (int i = 0; i < 4; ++i) (void)auth_->Login("admin", "wrong", "cli", 3600, "10.0.0.66");
  clock_.Advance(1001);
  (void)auth_->Login("admin", "wrong", "cli", 3600, "10.0.0.66");  // the 5th: 2 s now
  clock_.Advance(1001);
  EXPECT_FALSE(auth_->Login("admin", **pw, "cli", 3600, "10.0.0.66").ok());
  clock_.Advance(1001);
  EXPECT_TRUE(auth_->Login("admin", **pw, "cli", 3600, "10.0.0.66").ok());
}

// V5: 60 parallel guesses beat the count (35 were checked). One check per user at a time, and
// the back-off counted before the next: at most the free failures and one more are checked.
TEST_F(AuthenticatorTest, ParallelGuessesCannotRaceTheCount) {
  auto pw = auth_->EnsureInitialAdmin();
  ASSERT_TRUE(pw.ok() && pw->has_value());
  std::atomic<int> checked{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 24; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 3; ++j) {
        auto r =
            auth_->Login("admin", "guess-" + std::to_string(i * 3 + j), "cli", 3600, "10.0.0.66");
        if (r.status().message().find("wrong user name or password") != std::string::npos)
          ++checked;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(checked.load(), 4) << "guesses checked in parallel past the back-off";
  EXPECT_GE(checked.load(), 1);
}

// Every failed login is in the audit trail; a flood leaves a few lines with counts, and a name
// that is not a valid user name (U+202E here) is not echoed.
TEST_F(AuthenticatorTest, FailedLoginsAreAuditedAndAFloodIsAggregated) {
  auto pw = auth_->EnsureInitialAdmin();
  ASSERT_TRUE(pw.ok() && pw->has_value());
  (void)auth_->Login("admin", "wrong", "cli", 3600, "10.0.0.66");
  (void)auth_->Login(
      "\xe2\x80\xae"
      "evil",
      "x", "cli", 3600, "10.0.0.67");
  for (int i = 0; i < 200; ++i) {
    clock_.Advance(700);
    (void)auth_->Login("admin", "wrong", "cli", 3600, "10.0.0.66");
  }
  std::vector<Event> failed;
  ASSERT_TRUE(store_
                  ->Transaction([&](StoreTx& tx) -> Status {
                    EventFilter f;
                    f.action_prefix = "auth.login";
                    f.result = "failed";
                    f.limit = 1000;
                    GEOREP_ASSIGN_OR_RETURN(failed, tx.ListEvents(f));
                    return Status::Ok();
                  })
                  .ok());
  // 140 s of failures: the first of each pair at once, then one a minute.
  EXPECT_GE(failed.size(), 3u);
  EXPECT_LE(failed.size(), 6u);
  bool counted = false, hidden = false;
  for (const auto& e : failed) {
    if (e.message.find("failed logins for 'admin' from 10.0.0.66") != std::string::npos)
      counted = true;
    if (e.message.find("an invalid user name from 10.0.0.67") != std::string::npos) hidden = true;
    EXPECT_EQ(e.message.find("\xe2\x80\xae"), std::string::npos) << e.message;
  }
  EXPECT_TRUE(counted);
  EXPECT_TRUE(hidden);
}

// V6: `ttl_seconds: 0` gave a token that never expired and a huge one overflowed. Every token
// expires, within the engine's bound; a password reset on the engine host revokes the user's
// tokens.
TEST_F(AuthenticatorTest, EveryTokenExpiresWithinTheBoundAndAResetRevokesThem) {
  auto pw = auth_->EnsureInitialAdmin();
  ASSERT_TRUE(pw.ok() && pw->has_value());
  const int64_t max = auth_->policy().max_ttl_seconds;
  for (int64_t bad : {int64_t{0}, int64_t{-1}, max + 1, INT64_MAX}) {
    auto r = auth_->Login("admin", **pw, "cli", bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  auto longest = auth_->Login("admin", **pw, "cli", max);
  ASSERT_TRUE(longest.ok()) << longest.status().ToString();
  EXPECT_EQ(longest->token.expires_at, longest->token.created_at + max * 1000);

  auto reset = auth_->ResetPassword("admin");
  ASSERT_TRUE(reset.ok());
  auto after = auth_->Authenticate(longest->secret);
  EXPECT_EQ(after.status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(auth_->Login("admin", *reset, "cli", 60).ok());
}

}  // namespace
}  // namespace georep
