// UniqueFd: closes what it owns, and only that, once.
#include "base/unique_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>

namespace georep {
namespace {

bool IsOpen(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

int OpenNull() {
  return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

TEST(UniqueFd, ClosesOnDestruction) {
  int raw = -1;
  {
    UniqueFd fd(OpenNull());
    raw = fd.get();
    ASSERT_TRUE(fd.valid());
    EXPECT_TRUE(IsOpen(raw));
  }
  EXPECT_FALSE(IsOpen(raw));
}

TEST(UniqueFd, ReleaseGivesUpOwnership) {
  int raw = -1;
  {
    UniqueFd fd(OpenNull());
    raw = fd.Release();
    EXPECT_FALSE(fd.valid());
    EXPECT_EQ(fd.get(), -1);
  }
  EXPECT_TRUE(IsOpen(raw));
  ::close(raw);
}

TEST(UniqueFd, ResetClosesTheOldAndHoldsTheNew) {
  UniqueFd fd(OpenNull());
  const int first = fd.get();
  const int second = OpenNull();
  fd.Reset(second);
  EXPECT_FALSE(IsOpen(first));
  EXPECT_EQ(fd.get(), second);
  fd.Reset();
  EXPECT_FALSE(IsOpen(second));
  EXPECT_FALSE(fd.valid());
}

TEST(UniqueFd, MovingTransfersOwnership) {
  UniqueFd a(OpenNull());
  const int raw = a.get();
  UniqueFd b(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): a moved-from fd is empty
  EXPECT_EQ(b.get(), raw);
  UniqueFd c(OpenNull());
  const int other = c.get();
  c = std::move(b);
  EXPECT_FALSE(IsOpen(other));
  EXPECT_EQ(c.get(), raw);
  EXPECT_TRUE(IsOpen(raw));
}

}  // namespace
}  // namespace georep
