// Entry operations: Mkdir, Symlink, MakeNode, Hardlink, Rename, Unlink/Rmdir, and SetMeta
// (owner, mode, xattrs, times) on an entry in place or on a new file before its rename.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "replication/applier.h"
#include "replication/applier_internal.h"

namespace georep::replication {

using namespace applier_internal;  // NOLINT(google-build-using-namespace): the applier's own

namespace {

constexpr std::string_view kAclAccess = "system.posix_acl_access";
constexpr std::string_view kAclDefault = "system.posix_acl_default";

// The xattrs this agent replicates, with the session's capabilities: user.* always; POSIX
// ACLs with kCapAcls; trusted.* and security.capability with kCapPrivilegedXattrs (root).
bool IsManagedXattr(std::string_view name, uint64_t capabilities) {
  if (name.starts_with("user.")) return true;
  if (name == kAclAccess || name == kAclDefault) return (capabilities & kCapAcls) != 0;
  if (name.starts_with("trusted.") || name == "security.capability")
    return (capabilities & kCapPrivilegedXattrs) != 0;
  return false;
}

std::string NotManaged(const std::string& name, const std::string& path) {
  const bool privileged = name.starts_with("trusted.") || name == "security.capability";
  return fmt::format("xattr '{}' of '{}' is in a namespace this agent does not replicate{}", name,
                     path,
                     privileged                                  ? " (needs root)"
                     : name == kAclAccess || name == kAclDefault ? " (ACLs not synced)"
                                                                 : "");
}

struct timespec ToTimespec(int64_t ns) {
  struct timespec ts {};
  int64_t sec = ns / 1'000'000'000;
  int64_t rem = ns % 1'000'000'000;
  if (rem < 0) {  // floor division, so times before 1970 keep a positive tv_nsec
    rem += 1'000'000'000;
    sec -= 1;
  }
  ts.tv_sec = static_cast<time_t>(sec);
  ts.tv_nsec = static_cast<long>(rem);
  return ts;
}

// SetMeta's times for utimensat/futimens: the ones it does not set are left alone.
void TimesOf(const SetMeta& m, struct timespec ts[2]) {
  ts[0] = ToTimespec(m.atime_ns);
  ts[1] = ToTimespec(m.mtime_ns);
  if (!(m.fields & kMetaAtime)) ts[0].tv_nsec = UTIME_OMIT;
  if (!(m.fields & kMetaMtime)) ts[1].tv_nsec = UTIME_OMIT;
}

}  // namespace

Status Applier::DoMkdir(const Mkdir& m) {
  GEOREP_VALIDATE_PATH(m.path, false);
  GEOREP_ASSIGN_OR_RETURN(Parent p, OpenParent(m.path));
  // Owner rwx so the tree can be filled even when the source's directory is read-only; the
  // directory's SetMeta (sent after its children) sets the final mode.
  mode_t mode = (m.mode & 07777) | S_IRWXU;
  if (calls_->Mkdirat(p.fd, p.leaf.c_str(), mode) != 0) {
    int err = errno;
    if (err != EEXIST) return FailErrno(err, "cannot create directory", m.path);
    struct stat st {};
    if (::fstatat(p.fd, p.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return FailErrno(errno, "cannot stat", m.path);
    }
    if (S_ISDIR(st.st_mode)) {
      // A replay meets the final (maybe read-only) mode; it must be fillable again.
      if ((st.st_mode & S_IRWXU) != S_IRWXU &&
          ::fchmodat(p.fd, p.leaf.c_str(), (st.st_mode & 07777) | S_IRWXU, 0) != 0) {
        return FailErrno(errno, "cannot change mode of", m.path);
      }
      return Status::Ok();
    }
    GEOREP_RETURN_IF_ERROR(RemoveTree(p.fd, p.leaf, m.path));
    if (calls_->Mkdirat(p.fd, p.leaf.c_str(), mode) != 0) {
      return FailErrno(errno, "cannot create directory", m.path);
    }
  }
  return SyncDirectory(p.fd, m.path);
}

Status Applier::DoSymlink(const Symlink& m) {
  GEOREP_VALIDATE_PATH(m.path, false);
  if (m.target.empty() || m.target.find('\0') != std::string::npos) {
    return Fail(ErrorCode::kInvalidPath,
                Status::InvalidArgument(fmt::format("symlink '{}' has an invalid target", m.path)));
  }
  GEOREP_ASSIGN_OR_RETURN(Parent p, OpenParent(m.path));
  if (::symlinkat(m.target.c_str(), p.fd, p.leaf.c_str()) == 0) return SyncDirectory(p.fd, m.path);
  if (errno != EEXIST) return FailErrno(errno, "cannot create symlink", m.path);
  std::string current(4096, '\0');
  ssize_t n = ::readlinkat(p.fd, p.leaf.c_str(), current.data(), current.size());
  if (n >= 0 && static_cast<size_t>(n) == m.target.size() &&
      current.compare(0, static_cast<size_t>(n), m.target) == 0) {
    return Status::Ok();  // already there (a replay)
  }
  std::string temp = NewTempName(p.leaf);
  if (::symlinkat(m.target.c_str(), p.fd, temp.c_str()) != 0) {
    return FailErrno(errno, "cannot create symlink", m.path);
  }
  Status st = RenameReplacing(p.fd, temp, p.fd, p.leaf, m.path);
  if (!st.ok()) {
    ::unlinkat(p.fd, temp.c_str(), 0);
    return st;
  }
  return SyncDirectory(p.fd, m.path);
}

Status Applier::DoMakeNode(const MakeNode& m) {
  GEOREP_VALIDATE_PATH(m.path, false);
  const bool device = S_ISCHR(m.mode) || S_ISBLK(m.mode);
  if (!device && !S_ISFIFO(m.mode)) {
    return Fail(ErrorCode::kUnsupported,
                Status::InvalidArgument(fmt::format(
                    "'{}': MakeNode makes FIFOs and devices, not mode {:o}", m.path, m.mode)));
  }
  if ((options_.capabilities & (device ? kCapDevices : kCapSpecialFiles)) == 0) {
    return Fail(ErrorCode::kUnsupported, Status::InvalidArgument(fmt::format(
                                             "'{}': this agent does not make {}", m.path,
                                             device ? "device nodes (it is not root)" : "FIFOs")));
  }
  const auto mode = static_cast<mode_t>(m.mode & (S_IFMT | 07777));
  const auto rdev = static_cast<dev_t>(device ? m.rdev : 0);
  GEOREP_ASSIGN_OR_RETURN(Parent p, OpenParent(m.path));
  if (::mknodat(p.fd, p.leaf.c_str(), mode, rdev) == 0) return SyncDirectory(p.fd, m.path);
  if (errno != EEXIST) return FailErrno(errno, "cannot make node", m.path);
  struct stat st {};
  if (::fstatat(p.fd, p.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      (st.st_mode & S_IFMT) == (mode & S_IFMT) && (!device || st.st_rdev == rdev)) {
    return Status::Ok();  // already there (a replay); its SetMeta sets the rest
  }
  std::string temp = NewTempName(p.leaf);
  if (::mknodat(p.fd, temp.c_str(), mode, rdev) != 0)
    return FailErrno(errno, "cannot make node", m.path);
  Status st2 = RenameReplacing(p.fd, temp, p.fd, p.leaf, m.path);
  if (!st2.ok()) {
    ::unlinkat(p.fd, temp.c_str(), 0);
    return st2;
  }
  return SyncDirectory(p.fd, m.path);
}

Status Applier::DoHardlink(const Hardlink& m) {
  GEOREP_VALIDATE_PATH(m.existing_path, false);
  GEOREP_VALIDATE_PATH(m.new_path, false);
  if (unwritten_.count(m.existing_path) != 0) {
    return Fail(ErrorCode::kIO,
                Status::IOError(fmt::format("cannot link '{}' to '{}': that file's new content "
                                            "was not written (see its own error)",
                                            m.new_path, m.existing_path)));
  }
  GEOREP_ASSIGN_OR_RETURN(Parent from, OpenParent(m.existing_path));
  GEOREP_ASSIGN_OR_RETURN(Parent to, OpenParent(m.new_path));
  struct stat src {};
  if (::fstatat(from.fd, from.leaf.c_str(), &src, AT_SYMLINK_NOFOLLOW) != 0) {
    return FailErrno(errno, "hard link source", m.existing_path);
  }
  MoveUnwritten(m.new_path, nullptr);  // replaced by the link (or, failing, kept as it was)
  if (::linkat(from.fd, from.leaf.c_str(), to.fd, to.leaf.c_str(), 0) == 0) {
    return SyncDirectory(to.fd, m.new_path);
  }
  if (errno != EEXIST) return FailErrno(errno, "cannot create hard link", m.new_path);
  struct stat dst {};
  if (::fstatat(to.fd, to.leaf.c_str(), &dst, AT_SYMLINK_NOFOLLOW) == 0 &&
      dst.st_dev == src.st_dev && dst.st_ino == src.st_ino) {
    return Status::Ok();  // already linked (a replay)
  }
  std::string temp = NewTempName(to.leaf);
  if (::linkat(from.fd, from.leaf.c_str(), to.fd, temp.c_str(), 0) != 0) {
    return FailErrno(errno, "cannot create hard link", m.new_path);
  }
  Status st = RenameReplacing(to.fd, temp, to.fd, to.leaf, m.new_path);
  if (!st.ok()) {
    ::unlinkat(to.fd, temp.c_str(), 0);
    return st;
  }
  return SyncDirectory(to.fd, m.new_path);
}

Status Applier::DoRename(const Rename& m) {
  GEOREP_VALIDATE_PATH(m.from, false);
  GEOREP_VALIDATE_PATH(m.to, false);
  if (m.from == m.to) return Status::Ok();
  // Replacing an ancestor of the source would delete the source with it; rename(2) refuses
  // this too, so no source ever asks for it.
  if (m.from.starts_with(m.to + "/") || m.to.starts_with(m.from + "/")) {
    return Fail(ErrorCode::kInvalidPath,
                Status::InvalidArgument(fmt::format(
                    "cannot rename '{}' to '{}': one contains the other", m.from, m.to)));
  }
  GEOREP_ASSIGN_OR_RETURN(Parent from, OpenParent(m.from));
  GEOREP_ASSIGN_OR_RETURN(Parent to, OpenParent(m.to));
  struct stat st {};
  if (::fstatat(from.fd, from.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return FailErrno(errno, "rename source", m.from);
  }
  // A moved directory takes the paths of everything in it along.
  ForgetParent();
  GEOREP_RETURN_IF_ERROR(RenameReplacing(from.fd, from.leaf, to.fd, to.leaf, m.to));
  MoveUnwritten(m.from, &m.to);
  GEOREP_RETURN_IF_ERROR(SyncDirectory(to.fd, m.to));
  return SyncDirectory(from.fd, m.from);
}

Status Applier::DoUnlink(const std::string& path, bool directory) {
  GEOREP_VALIDATE_PATH(path, false);
  MoveUnwritten(path, nullptr);
  Result<Parent> p = OpenParent(path);
  if (!p.ok()) {
    if (p.status().code() == StatusCode::kNotFound) return Status::Ok();  // already gone
    return p.status();
  }
  if (directory) ForgetParent();  // it may be the one removed
  int rc = ::unlinkat(p->fd, p->leaf.c_str(), directory ? AT_REMOVEDIR : 0);
  if (rc != 0) {
    int err = errno;
    if (err == ENOENT) return Status::Ok();
    // The destination holds something else (a non-empty or wrong-type entry): the source
    // says it is gone, so it goes.
    if (err != ENOTEMPTY && err != EEXIST && err != EISDIR && err != ENOTDIR) {
      return FailErrno(err, directory ? "cannot remove directory" : "cannot remove", path);
    }
    GEOREP_RETURN_IF_ERROR(RemoveTree(p->fd, p->leaf, path));
  }
  return SyncDirectory(p->fd, path);
}

Status Applier::DoSetMeta(const SetMeta& m) {
  GEOREP_VALIDATE_PATH(m.path, true);
  GEOREP_ASSIGN_OR_RETURN(Parent p, OpenParent(m.path));
  const char* leaf = p.leaf.c_str();
  struct stat st {};
  if (::fstatat(p.fd, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return FailErrno(errno, "cannot set metadata of", m.path);
  }
  // The SetMeta of a file whose new content was just refused leaves the old file be: it
  // describes the version that did not arrive (see HandleFileEndWithMeta). The content's own
  // error was reported.
  if (S_ISREG(st.st_mode) && !meta_skip_path_.empty() && m.path == meta_skip_path_) {
    meta_skip_path_.clear();
    return Status::Ok();
  }
  meta_skip_path_.clear();
  // Owner first: chown clears setuid/setgid bits, which the mode then restores.
  if ((m.fields & kMetaOwner) && privileged_) {
    if (::fchownat(p.fd, leaf, m.uid, m.gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return FailErrno(errno, "cannot change owner of", m.path);
    }
  }
  // Symlinks have no mode of their own on Linux.
  if ((m.fields & kMetaMode) && !S_ISLNK(st.st_mode)) {
    if (::fchmodat(p.fd, leaf, m.mode & 07777, AT_SYMLINK_NOFOLLOW) != 0) {
      return FailErrno(errno, "cannot change mode of", m.path);
    }
  }
  if (m.fields & kMetaXattrs) {
    // /proc/self/fd/N/leaf names the entry through the already-opened parent; the l*xattr
    // calls do not follow a symlink in the last component.
    GEOREP_RETURN_IF_ERROR(
        DoSetXattrs(fmt::format("/proc/self/fd/{}/{}", p.fd, p.leaf), m.path, m.xattrs));
  }
  if (m.fields & (kMetaAtime | kMetaMtime)) {
    struct timespec ts[2];
    TimesOf(m, ts);
    if (::utimensat(p.fd, leaf, ts, AT_SYMLINK_NOFOLLOW) != 0) {
      return FailErrno(errno, "cannot set times of", m.path);
    }
  }
  return Status::Ok();
}

Status Applier::CheckManagedXattrs(const std::vector<Xattr>& xattrs, const std::string& path) {
  for (const Xattr& x : xattrs) {
    if (!IsManagedXattr(x.name, managed_))
      return Fail(ErrorCode::kUnsupported, Status::InvalidArgument(NotManaged(x.name, path)));
  }
  return Status::Ok();
}

Status Applier::DoSetXattrs(const std::string& proc_path, const std::string& path,
                            const std::vector<Xattr>& xattrs) {
  GEOREP_RETURN_IF_ERROR(CheckManagedXattrs(xattrs, path));
  for (const Xattr& x : xattrs) {
    if (::lsetxattr(proc_path.c_str(), x.name.c_str(), x.value.data(), x.value.size(), 0) != 0) {
      return FailErrno(errno, fmt::format("cannot set xattr '{}' of", x.name), path);
    }
  }
  ssize_t size = ::llistxattr(proc_path.c_str(), nullptr, 0);
  if (size < 0) {
    if (errno == ENOTSUP && xattrs.empty()) return Status::Ok();
    return FailErrno(errno, "cannot list xattrs of", path);
  }
  std::string names(static_cast<size_t>(size), '\0');
  size = ::llistxattr(proc_path.c_str(), names.data(), names.size());
  if (size < 0) return FailErrno(errno, "cannot list xattrs of", path);
  names.resize(static_cast<size_t>(size));
  for (size_t pos = 0; pos < names.size();) {
    size_t end = names.find('\0', pos);
    if (end == std::string::npos) end = names.size();
    std::string name = names.substr(pos, end - pos);
    pos = end + 1;
    if (!IsManagedXattr(name, managed_)) continue;
    bool wanted =
        std::any_of(xattrs.begin(), xattrs.end(), [&](const Xattr& x) { return x.name == name; });
    if (!wanted && ::lremovexattr(proc_path.c_str(), name.c_str()) != 0 && errno != ENODATA) {
      return FailErrno(errno, fmt::format("cannot remove xattr '{}' of", name), path);
    }
  }
  return Status::Ok();
}

Status Applier::SetMetaOnNewFile(int fd, uint32_t mode, const SetMeta& m, ErrorCode* code) const {
  auto fail_errno = [&](int err, std::string_view what) {
    *code = CodeForErrno(err);
    return ErrnoStatus(err, what, m.path);
  };
  if ((m.fields & kMetaOwner) && privileged_ && ::fchown(fd, m.uid, m.gid) != 0) {
    return fail_errno(errno, "cannot change owner of");
  }
  // After the owner: chown clears setuid/setgid bits.
  if (::fchmod(fd, (m.fields & kMetaMode) ? m.mode & 07777 : mode) != 0) {
    return fail_errno(errno, "cannot change mode of");
  }
  if (m.fields & kMetaXattrs) {
    // A new file has no xattrs of its own -- but the access ACL it inherited from its
    // directory's default ACL, which goes unless the source's file has one.
    bool acl = false;
    for (const Xattr& x : m.xattrs) {
      if (!IsManagedXattr(x.name, managed_)) {
        *code = ErrorCode::kUnsupported;
        return Status::InvalidArgument(NotManaged(x.name, m.path));
      }
      acl = acl || x.name == kAclAccess;
    }
    // Set after the owner and the mode: chown clears security.capability, and chmod rewrites
    // the access ACL's mask.
    for (const Xattr& x : m.xattrs) {
      if (::fsetxattr(fd, x.name.c_str(), x.value.data(), x.value.size(), 0) != 0) {
        return fail_errno(errno, fmt::format("cannot set xattr '{}' of", x.name));
      }
    }
    if (!acl && (managed_ & kCapAcls) != 0 &&
        ::fremovexattr(fd, std::string(kAclAccess).c_str()) != 0 && errno != ENODATA &&
        errno != ENOTSUP) {
      return fail_errno(errno, "cannot remove the inherited ACL of");
    }
  }
  if (m.fields & (kMetaAtime | kMetaMtime)) {
    struct timespec ts[2];
    TimesOf(m, ts);
    if (::futimens(fd, ts) != 0) return fail_errno(errno, "cannot set times of");
  }
  return Status::Ok();
}

}  // namespace georep::replication
