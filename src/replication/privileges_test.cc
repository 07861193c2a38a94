#include "replication/privileges.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace georep::replication {
namespace {

TEST(Privileges, HereTheUserNamespaceIsTheHostsAndRootIsRoot) {
  EXPECT_TRUE(InInitialUserNamespace());
  EXPECT_EQ(HostRoot(), ::geteuid() == 0);
}

// Root inside a user namespace of its own (uid 0 mapped to this process's uid) is not root on
// the host: it may not read trusted.* xattrs, nor make device nodes.
TEST(Privileges, RootInAUserNamespaceOfItsOwnIsNotHostRoot) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const uid_t outer = ::geteuid();
    if (::unshare(CLONE_NEWUSER) != 0) ::_exit(2);
    // This process's own uid, mapped to 0 inside (allowed without privileges).
    const std::string map = "0 " + std::to_string(outer) + " 1\n";
    const int fd = ::open("/proc/self/uid_map", O_WRONLY);
    if (fd < 0 || ::write(fd, map.data(), map.size()) != static_cast<ssize_t>(map.size()))
      ::_exit(3);
    ::close(fd);
    ::_exit(::geteuid() == 0 && !InInitialUserNamespace() && !HostRoot() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  // 2: unshare(CLONE_NEWUSER) failed -- in a chroot, or where the kernel forbids user
  // namespaces, there is none to test in; 3: the uid map could not be written.
  if (WEXITSTATUS(status) == 2)
    GTEST_SKIP() << "user namespaces cannot be made here (a chroot, or a kernel that forbids them)";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace georep::replication
