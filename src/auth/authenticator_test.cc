#include "auth/authenticator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>

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

TEST_F(AuthenticatorTest, RepeatedFailuresLockTheUserOutForAWhile) {
  auto pw = auth_->EnsureInitialAdmin();
  ASSERT_TRUE(pw.ok() && pw->has_value());
  for (int i = 0; i < 5; ++i) (void)auth_->Login("admin", "wrong-password", "cli", 3600);
  auto locked = auth_->Login("admin", **pw, "cli", 3600);  // even the right password
  EXPECT_EQ(locked.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(locked.status().message().find("too many"), std::string::npos);
  clock_.Advance(5 * 60 * 1000 + 1);
  EXPECT_TRUE(auth_->Login("admin", **pw, "cli", 3600).ok());
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
