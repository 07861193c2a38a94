// Whether this process holds root's privileges over the host's files: what reading and writing
// trusted.* and security.capability xattrs, and making device nodes, need.
//
// Root in a user namespace of its own (a container, `unshare --user`) has euid 0 and every
// capability within that namespace, but the kernel checks those operations against the
// initial user namespace: there it is nobody. Asking only geteuid() would offer what such a
// process cannot do -- and, reading, it would not even see trusted.* names (listxattr leaves
// them out), so they would go unreplicated without a word.
#pragma once

namespace georep::replication {

// The initial user namespace's /proc/PID/ns/user inode number (the kernel's PROC_USER_INIT_INO).
inline constexpr unsigned long kInitialUserNamespaceInode = 0xEFFFFFFDUL;

// euid 0 in the initial user namespace (where /proc cannot tell, euid 0 alone).
bool HostRoot();

// Whether this process runs in the initial user namespace (true where /proc cannot tell).
bool InInitialUserNamespace();

}  // namespace georep::replication
