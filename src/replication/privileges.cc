#include "replication/privileges.h"

#include <sys/stat.h>
#include <unistd.h>

namespace georep::replication {

bool InInitialUserNamespace() {
  struct stat st {};
  if (::stat("/proc/self/ns/user", &st) != 0) return true;
  return st.st_ino == kInitialUserNamespaceInode;
}

bool HostRoot() {
  return ::geteuid() == 0 && InInitialUserNamespace();
}

}  // namespace georep::replication
