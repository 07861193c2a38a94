#include "replication/path_beneath.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace georep::replication {

Status ValidateRelativePath(std::string_view path, bool allow_root) {
  if (allow_root && path == ".") return Status::Ok();
  if (path.empty()) return Status::InvalidArgument("empty path");
  if (path.size() > 4096) {
    return Status::InvalidArgument(fmt::format("path of {} bytes is too long", path.size()));
  }
  if (path.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("path contains a NUL byte");
  }
  if (path.front() == '/') {
    return Status::InvalidArgument(fmt::format("path '{}' is absolute", path));
  }
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view comp =
        path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (comp.empty()) {
      return Status::InvalidArgument(fmt::format("path '{}' has an empty component", path));
    }
    if (comp == "." || comp == "..") {
      return Status::InvalidArgument(fmt::format("path '{}' has a '{}' component", path, comp));
    }
    if (comp.size() > 255) {
      return Status::InvalidArgument(fmt::format("path '{}' has a component over 255 bytes", path));
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Status::Ok();
}

std::pair<std::string_view, std::string_view> SplitParent(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view(), path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty()) out += '/';
  out += name;
  return out;
}

namespace {

std::atomic<bool> g_openat2_missing{false};

// One component at a time, never following a symlink: the portable way to stay beneath.
Result<UniqueFd> WalkBeneath(int root_fd, std::string_view path, int flags, unsigned mode) {
  UniqueFd cur;
  int dir = root_fd;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string comp(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) {
      int fd = ::openat(dir, comp.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
      if (fd < 0) return ErrnoStatus(errno, "cannot open", path);
      return UniqueFd(fd);
    }
    int fd = ::openat(dir, comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "cannot open", path);
    cur = UniqueFd(fd);
    dir = cur.get();
    start = slash + 1;
  }
}

}  // namespace

Result<UniqueFd> OpenBeneath(int root_fd, std::string_view path, int flags, unsigned mode) {
  if (path.empty()) {
    int fd = ::openat(root_fd, ".", flags | O_CLOEXEC, mode);
    if (fd < 0) return ErrnoStatus(errno, "cannot open", ".");
    return UniqueFd(fd);
  }
  GEOREP_RETURN_IF_ERROR(ValidateRelativePath(path));
  if (!g_openat2_missing.load(std::memory_order_relaxed)) {
    struct open_how how;
    std::memset(&how, 0, sizeof how);
    how.flags = static_cast<uint64_t>(flags | O_NOFOLLOW | O_CLOEXEC);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    std::string p(path);
    long fd = ::syscall(SYS_openat2, root_fd, p.c_str(), &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    // ENOSYS: an old kernel; EPERM can be a seccomp filter that does not know openat2.
    if (errno != ENOSYS && errno != EPERM) return ErrnoStatus(errno, "cannot open", path);
    if (errno == ENOSYS) g_openat2_missing.store(true, std::memory_order_relaxed);
  }
  return WalkBeneath(root_fd, path, flags, mode);
}

Status ErrnoStatus(int err, std::string_view what, std::string_view path) {
  const char* why = std::strerror(err);
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return Status::IOError(
          fmt::format("destination file system is full ({}): {} '{}'", why, what, path));
    case ENOENT:
      return Status::NotFound(fmt::format("{} '{}': {}", what, path, why));
    case EACCES:
    case EPERM:
      return Status::PermissionDenied(fmt::format("{} '{}': {}", what, path, why));
    case ELOOP:
    case ENOTDIR:
    case EXDEV:
      return Status::InvalidArgument(fmt::format(
          "{} '{}': {} (a component is a symlink or not a directory; symlinks are never "
          "followed)",
          what, path, why));
    default:
      return Status::IOError(fmt::format("{} '{}': {}", what, path, why));
  }
}

}  // namespace georep::replication
