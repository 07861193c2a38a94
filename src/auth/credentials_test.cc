#include "auth/credentials.h"

#include <gtest/gtest.h>

namespace georep {
namespace {

TEST(Credentials, PasswordHashIsSaltedAndVerifies) {
  auto a = HashPassword("correct horse battery");
  auto b = HashPassword("correct horse battery");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);  // random salt
  EXPECT_EQ(a->rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(a->find("correct"), std::string::npos);
  EXPECT_TRUE(VerifyPassword("correct horse battery", *a));
  EXPECT_FALSE(VerifyPassword("correct horse batterx", *a));
  EXPECT_FALSE(VerifyPassword("anything", "not a hash"));
}

TEST(Credentials, TokensAreRandomAndDigested) {
  SystemRandom r;
  std::string t1 = NewTokenSecret(r), t2 = NewTokenSecret(r);
  EXPECT_NE(t1, t2);
  EXPECT_EQ(t1.rfind("grp_", 0), 0u);
  EXPECT_EQ(t1.size(), 4u + 43u);
  EXPECT_EQ(TokenDigest(t1), TokenDigest(t1));
  EXPECT_NE(TokenDigest(t1), TokenDigest(t2));
  EXPECT_EQ(TokenDigest(t1).size(), 64u);
}

TEST(Credentials, NewPasswordRules) {
  EXPECT_FALSE(ValidateNewPassword("short").ok());
  EXPECT_TRUE(ValidateNewPassword("long-enough-pw").ok());
}

}  // namespace
}  // namespace georep
