// Relative paths inside a replicated tree, and opening them without ever leaving the tree.
//
// A replication path is relative to a root, '/'-separated, with no empty, "." or ".."
// components and no NUL bytes. Paths are opened with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS), or, where the kernel lacks openat2, by walking one component at a
// time with O_NOFOLLOW. Either way no symlink is followed, so a symlink planted inside the
// tree cannot redirect an access outside it.
//
// Thread-safety: free functions, safe to call concurrently.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "base/status.h"
#include "base/unique_fd.h"

namespace georep::replication {

// UniqueFd lives in base/ (every layer owns fds); replication code names it as before.
using georep::UniqueFd;

// OK when `path` is a normalised relative path (see above). With `allow_root`, "." (the
// root itself) is accepted too.
Status ValidateRelativePath(std::string_view path, bool allow_root = false);

// Splits "a/b/c" into {"a/b", "c"}; "c" into {"", "c"}.
std::pair<std::string_view, std::string_view> SplitParent(std::string_view path);

// "a/b" + "c" -> "a/b/c"; "" + "c" -> "c".
std::string JoinPath(std::string_view dir, std::string_view name);

// Opens `path` (validated; "" means the root itself) beneath `root_fd` with open(2) `flags`
// (O_NOFOLLOW and O_CLOEXEC are added). Fails with the errno of the failing step; ELOOP or
// ENOTDIR when a component is a symlink or not a directory.
Result<UniqueFd> OpenBeneath(int root_fd, std::string_view path, int flags, unsigned mode = 0);

// A Status for a failed system call: "<what> '<path>': <strerror>", with a code that fits
// the errno (ENOENT -> NotFound, EACCES/EPERM -> PermissionDenied, otherwise IOError).
// ENOSPC and EDQUOT say "destination file system is full".
Status ErrnoStatus(int err, std::string_view what, std::string_view path);

}  // namespace georep::replication
