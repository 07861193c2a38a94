// The Applier's ground: opening the destination root, the file-system calls tests replace,
// error codes, temporary names and their sweep, and the directory primitives every operation
// uses (parents opened beneath the root, removal of whole trees, renames that replace what is
// in the way). The operations themselves live in applier_entries.cc (entries and metadata),
// applier_content.cc (file contents), applier_conversation.cc (the stream and its replies),
// applier_commit.cc (batches and syncs) and applier_file_threads.cc (small files on threads).
#include "replication/applier.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "base/random.h"
#include "replication/applier_internal.h"
#include "replication/privileges.h"

namespace georep::replication {
namespace applier_internal {

ErrorCode CodeForErrno(int err) {
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return ErrorCode::kNoSpace;
    case ENOENT:
      return ErrorCode::kNotFound;
    case EACCES:
    case EPERM:
      return ErrorCode::kPermission;
    case ELOOP:
    case ENOTDIR:
    case EXDEV:
      return ErrorCode::kInvalidPath;
    default:
      return ErrorCode::kIO;
  }
}

}  // namespace applier_internal

using namespace applier_internal;  // NOLINT(google-build-using-namespace): the applier's own

namespace {

// The wire ErrorCode for a failure reported as a Status.
ErrorCode CodeForStatus(const Status& st) {
  switch (st.code()) {
    case StatusCode::kNotFound:
      return ErrorCode::kNotFound;
    case StatusCode::kPermissionDenied:
      return ErrorCode::kPermission;
    case StatusCode::kInvalidArgument:
      return ErrorCode::kInvalidPath;
    case StatusCode::kIOError:
      return st.message().starts_with("destination file system is full") ? ErrorCode::kNoSpace
                                                                         : ErrorCode::kIO;
    default:
      return ErrorCode::kOther;
  }
}

constexpr std::string_view kTempPrefix = ".georep.";
constexpr std::string_view kTempSuffix = ".tmp";
constexpr size_t kTempHexDigits = 16;
// Keeps `.georep.<leaf>.<hex>.tmp` within NAME_MAX (255).
constexpr size_t kTempLeafBytes = 200;
// Deeper than any real tree (PATH_MAX allows ~2048 levels); stops runaway recursion.
constexpr int kMaxDepth = 4096;

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Names in `dir` other than "." and "..", read in full before the caller recurses, so that
// only one directory stream is open at a time.
Result<std::vector<std::pair<std::string, unsigned char>>> ListDirectory(int dir,
                                                                         std::string_view path) {
  int fd = ::dup(dir);
  if (fd < 0) return ErrnoStatus(errno, "cannot read directory", path);
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus(err, "cannot read directory", path);
  }
  ::rewinddir(d);  // the dup shares its offset with `dir`, which may have been read before
  std::vector<std::pair<std::string, unsigned char>> names;
  while (true) {
    errno = 0;
    struct dirent* e = ::readdir(d);
    if (e == nullptr) break;
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(std::string(n), e->d_type);
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return ErrnoStatus(err, "cannot read directory", path);
  return names;
}

}  // namespace

// ---- FileSystemCalls -----------------------------------------------------------------------

ssize_t FileSystemCalls::Pwrite(int fd, const void* buf, size_t count, off_t offset) {
  return ::pwrite(fd, buf, count, offset);
}
ssize_t FileSystemCalls::CopyFileRange(int in, off_t* in_offset, int out, off_t* out_offset,
                                       size_t count) {
  return ::copy_file_range(in, in_offset, out, out_offset, count, 0);
}
int FileSystemCalls::Ftruncate(int fd, off_t length) {
  return ::ftruncate(fd, length);
}
int FileSystemCalls::Fsync(int fd) {
  return ::fsync(fd);
}
int FileSystemCalls::Syncfs(int fd) {
  return ::syncfs(fd);
}
int FileSystemCalls::Renameat(int old_dir, const char* old_name, int new_dir,
                              const char* new_name) {
  return ::renameat(old_dir, old_name, new_dir, new_name);
}
int FileSystemCalls::Mkdirat(int dir, const char* name, mode_t mode) {
  return ::mkdirat(dir, name, mode);
}

// ---- Applier -------------------------------------------------------------------------------

Applier::Applier(UniqueFd root, ApplierOptions options, FileSystemCalls* calls)
    : root_(std::move(root)), options_(std::move(options)), calls_(calls), clock_(options_.clock) {
  if (calls_ == nullptr) {
    default_calls_ = std::make_unique<FileSystemCalls>();
    calls_ = default_calls_.get();
  }
  if (clock_ == nullptr) {
    default_clock_ = std::make_unique<SystemClock>();
    clock_ = default_clock_.get();
  }
  // Owners: root, also root of a user namespace (over the ids mapped into it). trusted.* and
  // security.capability xattrs and device nodes: only the host's root.
  privileged_ = options_.privileged.value_or(::geteuid() == 0);
  if (!options_.privileged.value_or(HostRoot()))
    options_.capabilities &= ~(kCapPrivilegedXattrs | kCapDevices);
  managed_ = options_.capabilities;
  if (options_.file_threads > 0) {
    try {
      file_queue_ = std::make_unique<WorkQueue>(options_.file_threads);
    } catch (const std::system_error&) {
      // No threads to be had: every file is written on the caller's thread.
    }
  }
  SystemRandom random;
  random.Fill(reinterpret_cast<uint8_t*>(&temp_salt_), sizeof temp_salt_);
}

Applier::~Applier() {
  if (file_queue_ != nullptr) StartFileGroup();  // each job is done, run or not
  {
    std::unique_lock<std::mutex> lock(jobs_mutex_);
    job_done_.wait(lock, [&] {
      return std::all_of(jobs_.begin(), jobs_.end(), [](const auto& job) { return job->done; });
    });
  }
  for (const auto& job : jobs_) {  // never acknowledged: the worker sends them again
    if (job->staged || job->in_the_way) ::unlinkat(job->parent.fd, job->temp.c_str(), 0);
  }
  file_queue_.reset();
  AbandonFile();
  if (sync_.valid()) sync_.wait();
  // Never acknowledged: the worker sends them again.
  for (const Staged& f : syncing_) ::unlinkat(f.parent, f.temp.c_str(), 0);
  for (const Staged& f : staged_) ::unlinkat(f.parent, f.temp.c_str(), 0);
}

Result<std::unique_ptr<Applier>> Applier::Open(const std::string& root, ApplierOptions options,
                                               FileSystemCalls* calls) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open destination root", root);
  UniqueFd root_fd(fd);
  struct stat st {};
  if (::fstat(root_fd.get(), &st) != 0) return ErrnoStatus(errno, "cannot stat", root);
  UniqueFd source_fd;
  if (!options.source_root.empty()) {
    int sfd = ::open(options.source_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sfd < 0) return ErrnoStatus(errno, "cannot open the source root", options.source_root);
    source_fd = UniqueFd(sfd);
  } else {
    options.capabilities &= ~kCapSourceCopy;
  }
  const bool sweep = options.sweep_temp_files;
  std::unique_ptr<Applier> a(new Applier(std::move(root_fd), std::move(options), calls));
  a->source_root_ = std::move(source_fd);
  a->root_dev_ = st.st_dev;
  if (sweep) {
    GEOREP_RETURN_IF_ERROR(a->SweepTempFiles(a->root_.get(), "", st.st_dev, 0)
                               .WithContext("sweeping stale temporary files"));
  }
  return a;
}

bool Applier::IsTempName(std::string_view name) {
  constexpr size_t kMin = kTempPrefix.size() + 1 + 1 + kTempHexDigits + kTempSuffix.size();
  if (name.size() < kMin || !name.starts_with(kTempPrefix) || !name.ends_with(kTempSuffix)) {
    return false;
  }
  std::string_view hex =
      name.substr(name.size() - kTempSuffix.size() - kTempHexDigits, kTempHexDigits);
  if (!std::all_of(hex.begin(), hex.end(),
                   [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
    return false;
  }
  return name[name.size() - kTempSuffix.size() - kTempHexDigits - 1] == '.';
}

std::string Applier::NewTempName(std::string_view leaf) {
  uint64_t r = SplitMix64(temp_salt_ + temp_counter_++);
  return fmt::format("{}{}.{:016x}{}", kTempPrefix, leaf.substr(0, kTempLeafBytes), r, kTempSuffix);
}

Status Applier::Fail(ErrorCode code, Status status) {
  last_error_code_ = code;
  return status;
}

Status Applier::FailErrno(int err, std::string_view what, std::string_view path) {
  return Fail(CodeForErrno(err), ErrnoStatus(err, what, path));
}

Status Applier::BreakStream(const std::string& message) {
  stream_broken_ = true;
  last_error_code_ = ErrorCode::kProtocol;
  return Status::Corruption("replication stream broke the protocol: " + message);
}

Result<Applier::Parent> Applier::OpenParent(std::string_view path) {
  Parent p;
  if (path == ".") {
    p.fd = root_.get();
    p.leaf = ".";
    return p;
  }
  auto [dir, leaf] = SplitParent(path);
  p.leaf = std::string(leaf);
  if (dir.empty()) {
    p.fd = root_.get();
    return p;
  }
  if (cached_parent_ && cached_parent_path_ == dir) {
    p.owned = cached_parent_;
    p.fd = p.owned->get();
    return p;
  }
  Result<UniqueFd> fd = OpenBeneath(root_.get(), dir, O_RDONLY | O_DIRECTORY);
  if (!fd.ok()) {
    return Fail(CodeForStatus(fd.status()),
                fd.status().WithContext(fmt::format("parent directory of '{}'", path)));
  }
  p.owned = std::make_shared<UniqueFd>(std::move(fd).value());
  p.fd = p.owned->get();
  cached_parent_ = p.owned;
  cached_parent_path_ = std::string(dir);
  return p;
}

Status Applier::SyncDirectory(int dir_fd, std::string_view path) {
  if (options_.durability != Durability::kFileAndDirectory) return Status::Ok();
  if (calls_->Fsync(dir_fd) != 0) return FailErrno(errno, "cannot fsync directory of", path);
  return Status::Ok();
}

Status Applier::RemoveTree(int dir, const std::string& name, const std::string& path) {
  ForgetParent();  // it may be inside
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return FailErrno(errno, "cannot stat", path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT) {
      return FailErrno(errno, "cannot remove", path);
    }
    return Status::Ok();
  }
  if (st.st_dev != root_dev_) {
    return Fail(ErrorCode::kIO,
                Status::IOError(fmt::format("'{}' is a mount point; it is not removed", path)));
  }
  int fd = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return FailErrno(errno, "cannot open directory", path);
  UniqueFd sub(fd);
  // A read-only directory (kept from the source's modes) cannot be emptied otherwise.
  if ((st.st_mode & S_IRWXU) != S_IRWXU) ::fchmod(sub.get(), (st.st_mode & 07777) | S_IRWXU);
  Result<std::vector<std::pair<std::string, unsigned char>>> names = ListDirectory(sub.get(), path);
  if (!names.ok()) return Fail(CodeForStatus(names.status()), names.status());
  for (const auto& [child, type] : *names) {
    GEOREP_RETURN_IF_ERROR(RemoveTree(sub.get(), child, JoinPath(path, child)));
  }
  if (::unlinkat(dir, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return FailErrno(errno, "cannot remove directory", path);
  }
  return Status::Ok();
}

Status Applier::RenameReplacing(int from_dir, const std::string& from_name, int to_dir,
                                const std::string& to_name, const std::string& to_path) {
  if (calls_->Renameat(from_dir, from_name.c_str(), to_dir, to_name.c_str()) == 0) {
    return Status::Ok();
  }
  int err = errno;
  if (err == ENOTEMPTY || err == EEXIST || err == EISDIR || err == ENOTDIR) {
    // Something of another type (or a directory the source no longer has) is in the way.
    GEOREP_RETURN_IF_ERROR(RemoveTree(to_dir, to_name, to_path));
    if (calls_->Renameat(from_dir, from_name.c_str(), to_dir, to_name.c_str()) == 0) {
      return Status::Ok();
    }
    err = errno;
  }
  return FailErrno(err, "cannot rename into place", to_path);
}

Status Applier::SweepTempFiles(int dir, const std::string& path, dev_t dev, int depth) {
  if (depth > kMaxDepth) return Status::IOError(fmt::format("'{}' is nested too deeply", path));
  GEOREP_ASSIGN_OR_RETURN(auto names, ListDirectory(dir, path.empty() ? "." : path));
  for (const auto& [name, type] : names) {
    std::string child = JoinPath(path, name);
    unsigned char t = type;
    struct stat st {};
    if (t == DT_UNKNOWN || t == DT_DIR) {
      if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        return ErrnoStatus(errno, "cannot stat", child);
      }
      t = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
    }
    if (t != DT_DIR) {
      if (IsTempName(name)) {
        if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT) {
          return ErrnoStatus(errno, "cannot remove stale temporary file", child);
        }
        ++swept_temp_files_;
      }
      continue;
    }
    if (st.st_dev != dev) continue;  // another file system mounted inside: not ours
    int fd = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "cannot open directory", child);
    UniqueFd sub(fd);
    GEOREP_RETURN_IF_ERROR(SweepTempFiles(sub.get(), child, dev, depth + 1));
  }
  return Status::Ok();
}

void Applier::AbandonFile() {
  if (!file_) return;
  file_->fd.Reset();
  ::unlinkat(file_->parent.fd, file_->temp_name.c_str(), 0);
  file_.reset();
}

}  // namespace georep::replication
