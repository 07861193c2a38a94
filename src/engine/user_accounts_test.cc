#include "engine/user_accounts.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/random.h"
#include "engine/engine_context.h"
#include "engine/object_locks.h"
#include "store/store.h"

namespace georep {
namespace {

// UserAccounts alone, on an EngineContext of its own: it needs nothing of Operations.
class UserAccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("georep-accounts-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    auto s = OpenStore("sqlite://" + (dir_ / "db").string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ctx_ = std::make_unique<EngineContext>(*store_, clock_, random_, locks_, nullptr);
    accounts_ = std::make_unique<UserAccounts>(*ctx_);
  }
  void TearDown() override {
    accounts_.reset();
    ctx_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  Actor admin_{"admin", Role::kAdmin};
  Actor viewer_{"viewer", Role::kViewer};
  Actor operator_{"operator", Role::kOperator};
  std::filesystem::path dir_;
  FakeClock clock_;
  SeededRandom random_{7};
  ObjectLocks locks_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<EngineContext> ctx_;
  std::unique_ptr<UserAccounts> accounts_;
};

TEST_F(UserAccountsTest, OnlyAdminsManageUsers) {
  EXPECT_EQ(accounts_->CreateUser(viewer_, "bob", "long-enough-pw", Role::kViewer).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(accounts_->CreateUser(operator_, "bob", "long-enough-pw", Role::kAdmin).status().code(),
            StatusCode::kPermissionDenied);
  auto bob = accounts_->CreateUser(admin_, "bob", "long-enough-pw", Role::kOperator);
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(bob->role, Role::kOperator);
  EXPECT_EQ(accounts_->CreateUser(admin_, "bob", "long-enough-pw", Role::kViewer).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(accounts_->CreateUser(admin_, "carol", "short", Role::kViewer).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(accounts_->ListUsers(viewer_).status().code(), StatusCode::kPermissionDenied);
  // An operator cannot make themself (or anyone) admin.
  EXPECT_EQ(
      accounts_->SetRole(Actor{"bob", Role::kOperator}, bob->id, Role::kAdmin).status().code(),
      StatusCode::kPermissionDenied);
  auto promoted = accounts_->SetRole(admin_, bob->id, Role::kAdmin);
  ASSERT_TRUE(promoted.ok()) << promoted.status().ToString();
  EXPECT_EQ(promoted->role, Role::kAdmin);
}

TEST_F(UserAccountsTest, TheLastAdministratorStaysOne) {
  auto only = accounts_->CreateUser(admin_, "root2", "long-enough-pw", Role::kAdmin);
  ASSERT_TRUE(only.ok());
  auto other = accounts_->CreateUser(admin_, "ops", "long-enough-pw", Role::kOperator);
  ASSERT_TRUE(other.ok());
  // root2 is the only admin in the store (admin_ is an actor, not a stored user).
  auto refused = accounts_->SetRole(admin_, only->id, Role::kOperator);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("only administrator"), std::string::npos);
  ASSERT_TRUE(accounts_->SetRole(admin_, other->id, Role::kAdmin).ok());
  EXPECT_TRUE(accounts_->SetRole(admin_, only->id, Role::kOperator).ok());
}

}  // namespace
}  // namespace georep
