#include "replication/applier.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <system_error>
#include <type_traits>

#include "base/random.h"
#include "replication/content_hash.h"
#include "replication/privileges.h"

namespace georep::replication {
namespace {

constexpr std::string_view kTempPrefix = ".georep.";
constexpr std::string_view kTempSuffix = ".tmp";
constexpr size_t kTempHexDigits = 16;
// Keeps `.georep.<leaf>.<hex>.tmp` within NAME_MAX (255).
constexpr size_t kTempLeafBytes = 200;
// Deeper than any real tree (PATH_MAX allows ~2048 levels); stops runaway recursion.
constexpr int kMaxDepth = 4096;
// FileData of at least this size starts its writeback at once (unless durability is none).
constexpr size_t kWritebackBytes = 256u << 10;
// kBatch: a batch ends at the latest after this many files.
constexpr size_t kMaxStagedFiles = 4096;
// Files in flight on the file threads at most, and their bytes: what the applier holds
// beyond the read-ahead.
constexpr size_t kMaxFileJobs = 256;
constexpr uint64_t kMaxFileJobBytes = 16u << 20;
// Files go to a thread in groups: one hand-over costs about what writing a small file does.
constexpr size_t kFileGroupFiles = 16;
constexpr uint64_t kFileGroupBytes = 256u << 10;

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

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
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

// Feeds the `n` bytes at `offset` of `fd` to `hasher`: through a read-only mapping (no copy;
// `fd` is the applier's own temporary file, which nothing else truncates while it is mapped),
// or with reads into `buffer` where mapping fails.
Status HashFileBytes(int fd, uint64_t offset, size_t n, ContentHasher* hasher,
                     std::string* buffer) {
  static const auto kPage = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t start = offset - offset % kPage;
  const size_t span = static_cast<size_t>(offset - start) + n;
  void* mapped =
      ::mmap(nullptr, span, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, static_cast<off_t>(start));
  if (mapped != MAP_FAILED) {
    hasher->Update(std::string_view(static_cast<const char*>(mapped) + (offset - start), n));
    ::munmap(mapped, span);
    return Status::Ok();
  }
  for (size_t done = 0; done < n;) {
    const size_t want = std::min(buffer->size(), n - done);
    ssize_t got = ::pread(fd, buffer->data(), want, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return ErrnoStatus(got < 0 ? errno : EIO, "cannot read back", "a copied file");
    hasher->Update(std::string_view(buffer->data(), static_cast<size_t>(got)));
    done += static_cast<size_t>(got);
  }
  return Status::Ok();
}

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

// A path of `paths` above `path` (a directory it would be in).
bool BeneathOneOf(const std::set<std::string>& paths, const std::string& path) {
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    if (paths.count(path.substr(0, slash)) != 0) return true;
  }
  return false;
}

// `path` itself in `paths`, a path of `paths` beneath it, or one above it.
bool MeetsOneOf(const std::set<std::string>& paths, const std::string& path) {
  if (paths.count(path) != 0) return true;
  const std::string below = path + "/";
  auto it = paths.lower_bound(below);
  return (it != paths.end() && it->starts_with(below)) || BeneathOneOf(paths, path);
}

// The one or two paths an entry operation works on; `other` for what is not one (a
// Barrier...). A file's data and end work on the path of its FileBegin: none here.
struct PathsOf {
  explicit PathsOf(const Message& message) {
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, Hardlink>) {
            first = &m.existing_path;
            second = &m.new_path;
          } else if constexpr (std::is_same_v<T, Rename>) {
            first = &m.from;
            second = &m.to;
          } else if constexpr (std::is_same_v<T, Mkdir> || std::is_same_v<T, Symlink> ||
                               std::is_same_v<T, MakeNode> || std::is_same_v<T, Unlink> ||
                               std::is_same_v<T, Rmdir> || std::is_same_v<T, SetMeta> ||
                               std::is_same_v<T, FileBegin>) {
            first = &m.path;
          } else if constexpr (!std::is_same_v<T, FileData> && !std::is_same_v<T, FileEnd> &&
                               !std::is_same_v<T, FileAbort> && !std::is_same_v<T, BlockCopy> &&
                               !std::is_same_v<T, SourceCopy>) {
            other = true;
          }
        },
        message);
  }
  template <typename Pred>
  bool Any(Pred pred) const {
    return (first != nullptr && pred(*first)) || (second != nullptr && pred(*second));
  }
  const std::string* first = nullptr;
  const std::string* second = nullptr;
  bool other = false;
};

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

struct Applier::OpenFile {
  uint64_t begin_seq = 0;
  std::string path;
  Parent parent;
  std::string temp_name;
  UniqueFd fd;
  uint32_t mode = 0;
  uint64_t next_offset = 0;
  ContentHasher hasher;
  UniqueFd basis;   // the old version BlockCopy copies from, opened at the first one
  UniqueFd source;  // the source file SourceCopy copies from, opened at the first one
  bool source_copied = false;
};

struct Applier::FileJob {
  Parent parent;
  std::string temp;
  std::string path;
  uint32_t mode = 0;
  uint64_t begin_seq = 0;
  std::vector<FileData> data;
  FileEnd end;
  std::optional<SetMeta> meta;
  uint64_t bytes = 0;
  // The outcome. A failure is the one of message `failed_seq`; the file was left as it was.
  bool done = false;  // guarded by jobs_mutex_
  Status status = Status::Ok();
  ErrorCode code = ErrorCode::kOther;
  uint64_t failed_seq = 0;
  // The SetMeta's own failure: the content went in all the same.
  Status meta_status = Status::Ok();
  ErrorCode meta_code = ErrorCode::kOther;
  bool staged = false;  // kBatch: verified, under `temp`
  // The rename found another entry at `path`: the applier's thread removes it, and renames.
  bool in_the_way = false;
};

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

bool Applier::EndsBatch(const Message& message, const std::set<std::string>& paths,
                        const std::set<std::string>& dirs) {
  const PathsOf of(message);
  if (of.other) return true;  // a Barrier, or anything else: the batch ends
  // A file staged twice is renamed in twice, in order; but a file beneath a staged one must
  // find it in place (and fail on it), or the outcome would depend on when the batch ends.
  if (std::holds_alternative<FileBegin>(message)) return BeneathOneOf(paths, *of.first);
  // What works on a staged file, above one or beneath one, must find it in place. A
  // directory's times are set after the staged files are renamed into it (each rename
  // changes its mtime).
  if (std::holds_alternative<SetMeta>(message) && dirs.count(*of.first) != 0) return true;
  return of.Any([&](const std::string& path) { return MeetsOneOf(paths, path); });
}

void Applier::FlushStaged() {
  (void)FinishSync();  // an earlier batch's files go in first (failures are replied)
  if (staged_.empty()) return;
  syncing_ = std::exchange(staged_, {});
  syncing_paths_ = std::exchange(staged_paths_, {});
  syncing_dirs_ = std::exchange(staged_dirs_, {});
  syncing_barrier_ = 0;
  StartSync(false);
  (void)FinishSync();
}

void Applier::EmitBefore(uint64_t barrier, Message m) {
  if (barrier != 0) {
    for (auto it = out_.begin(); it != out_.end(); ++it) {
      if (it->hold != Hold::kNone && it->barrier == barrier) {
        out_.insert(it, Out{std::move(m)});
        return;
      }
    }
  }
  Emit(std::move(m));
}

void Applier::FailAck(size_t i, const Status& why, ErrorCode code) {
  out_[i].hold = Hold::kNone;
  std::get<Ack>(out_[i].message).durable = false;
  const uint64_t barrier = out_[i].barrier;
  out_.insert(out_.begin() + static_cast<ptrdiff_t>(i), Out{Error{barrier, code, why.ToString()}});
}

void Applier::StartSync(bool async) {
  ++syncs_started_;
  for (Out& o : out_) {
    if (o.hold == Hold::kNextSync) {
      o.hold = Hold::kSync;
      o.sync = syncs_started_;
    }
  }
  FileSystemCalls* calls = calls_;
  const int root = root_.get();
  auto sync = [calls, root] { return calls->Syncfs(root) == 0 ? 0 : errno; };
  if (async) {
    try {
      sync_ = std::async(std::launch::async, sync);
      return;
    } catch (const std::system_error&) {
      // No thread to be had: the sync is made here.
    }
  }
  std::promise<int> done;
  done.set_value(sync());
  sync_ = done.get_future();
}

Status Applier::FinishSync() {
  if (!sync_.valid()) return Status::Ok();
  const int err = sync_.get();
  const uint64_t number = syncs_started_;
  Status synced = Status::Ok();
  ErrorCode code = ErrorCode::kOther;
  if (err != 0) {
    synced = FailErrno(err, "cannot sync the destination file system at", ".");
    code = last_error_code_;
  }
  // The files whose data it put on stable storage go into place; a failure is the file's own.
  const std::vector<Staged> files = std::exchange(syncing_, {});
  const bool distinct = syncing_paths_.size() == files.size();
  syncing_paths_.clear();
  syncing_dirs_.clear();
  const uint64_t barrier = std::exchange(syncing_barrier_, 0);
  std::vector<char> renamed(files.size(), 0);
  if (synced.ok() && distinct) RenameOnFileThreads(files, &renamed);
  for (size_t i = 0; i < files.size(); ++i) {
    if (renamed[i] != 0) continue;
    const Staged& f = files[i];
    Status st = synced;
    ErrorCode file_code = code;
    if (st.ok()) {
      st = RenameReplacing(f.parent, f.temp, f.parent, f.leaf, f.path);
      file_code = last_error_code_;
    }
    if (!st.ok()) {
      ::unlinkat(f.parent, f.temp.c_str(), 0);
      NoteUnwritten(f.path);
      EmitBefore(barrier, Error{f.seq, file_code, st.ToString()});
    }
  }
  // The Acks it served: the ones waiting for it, and the one of those files' batch (whose
  // renames now wait for the next sync).
  for (size_t i = 0; i < out_.size(); ++i) {
    Out& o = out_[i];
    const bool served = o.hold == Hold::kSync && o.sync == number;
    const bool renamed = o.hold == Hold::kRenames && o.barrier == barrier;
    if (!served && !renamed) continue;
    if (!synced.ok()) {
      FailAck(i, synced, code);
      ++i;  // past the Error put before it
    } else {
      o.hold = served ? Hold::kNone : Hold::kNextSync;
    }
  }
  if (!synced.ok()) last_error_code_ = code;
  return synced;
}

void Applier::RenameOnFileThreads(const std::vector<Staged>& files, std::vector<char>* renamed) {
  constexpr size_t kMinFiles = 64;  // fewer: not worth a hand-over
  if (file_queue_ == nullptr || files.size() < kMinFiles) return;
  const size_t parts = std::min(file_queue_->threads(), files.size() / (kMinFiles / 2));
  std::vector<std::future<void>> done;
  done.reserve(parts);
  for (size_t part = 0; part < parts; ++part) {
    auto task = std::make_shared<std::packaged_task<void()>>([&, part] {
      for (size_t i = part; i < files.size(); i += parts) {
        const Staged& f = files[i];
        if (calls_->Renameat(f.parent, f.temp.c_str(), f.parent, f.leaf.c_str()) == 0) {
          (*renamed)[i] = 1;
        }
      }
    });
    done.push_back(task->get_future());
    file_queue_->Run(part, [task] { (*task)(); });
  }
  for (std::future<void>& d : done) d.wait();
}

void Applier::SyncEverything() {
  (void)FinishSync();
  const bool waiting =
      std::any_of(out_.begin(), out_.end(), [](const Out& o) { return o.hold != Hold::kNone; });
  if (!waiting) return;
  StartSync(false);
  (void)FinishSync();
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

// ---- the conversation ----------------------------------------------------------------------

Status Applier::Handle(const Message& message, std::vector<Message>* replies) {
  return HandleAll(std::vector<Message>{message}, replies);
}

void Applier::PrepareFor(const Message& message) {
  const auto* barrier = std::get_if<Barrier>(&message);
  // A durable Barrier commits the batch itself (DoBarrier); anything else that needs files
  // in place -- an earlier batch's, whose sync is in flight, or this batch's -- waits for them.
  if (barrier != nullptr && barrier->durable) return;
  if (!syncing_.empty() && EndsBatch(message, syncing_paths_, syncing_dirs_)) (void)FinishSync();
  if (!staged_.empty() &&
      (EndsBatch(message, staged_paths_, staged_dirs_) || staged_.size() >= kMaxStagedFiles))
    FlushStaged();
}

Status Applier::HandleOne(const Message& message) {
  if (stream_broken_) return Status::FailedPrecondition("the stream already broke the protocol");
  // What needs the files in flight finds them in place (or staged), their failures replied.
  if (!jobs_.empty() && NeedsFileJobs(message)) FinishFileJobs();
  if (const auto* hello = std::get_if<Hello>(&message)) {
    if (handshake_done_) {
      Status st = BreakStream("a second Hello");
      Emit(Error{0, ErrorCode::kProtocol, st.message()});
      return st;
    }
    HelloReply reply = AnswerHello(*hello, options_.capabilities);
    Emit(reply);
    if (!reply.accepted) {
      stream_broken_ = true;
      return Status::FailedPrecondition("refused the peer: " + reply.reason);
    }
    handshake_done_ = true;
    managed_ = reply.capabilities;  // what the worker sends is what this agent manages
    return Status::Ok();
  }
  if (!handshake_done_) {
    Status st = BreakStream(fmt::format("{} before Hello", MessageTypeName(TypeOf(message))));
    Emit(Error{0, ErrorCode::kProtocol, st.message()});
    return st;
  }
  PrepareFor(message);
  const auto* barrier = std::get_if<Barrier>(&message);
  barrier_hold_ = Hold::kNone;
  Status st = Apply(message);
  if (stream_broken_) {
    Emit(Error{SeqOf(message), ErrorCode::kProtocol, st.message()});
    return st;
  }
  bool durable = false;
  if (!st.ok()) {
    Emit(Error{SeqOf(message), last_error_code_, st.ToString()});
  } else if (barrier != nullptr) {
    durable = barrier->durable;
  }
  if (barrier != nullptr) {
    Out ack{Ack{applied_seq_, durable}};
    ack.barrier = barrier->seq;
    if (durable) {
      ack.hold = barrier_hold_;
      ack.sync = syncs_started_;
      if (ack.hold != Hold::kNone) ack.held_at_ms = clock_->MonotonicMillis();
    }
    out_.push_back(std::move(ack));
  }
  return Status::Ok();
}

Status Applier::Apply(const Message& operation) {
  if (stream_broken_) return Status::FailedPrecondition("the stream already broke the protocol");
  if (!collecting_) FinishFileJobs();
  MessageType type = TypeOf(operation);
  if (type == MessageType::kHello || type == MessageType::kHelloReply ||
      type == MessageType::kAck || type == MessageType::kError) {
    return BreakStream(fmt::format("{} is not an operation", MessageTypeName(type)));
  }
  uint64_t seq = SeqOf(operation);
  if (seq <= applied_seq_) {
    return BreakStream(fmt::format("sequence number {} does not follow {} ({})", seq, applied_seq_,
                                   MessageTypeName(type)));
  }
  const bool transfer = type == MessageType::kFileBegin || type == MessageType::kFileData ||
                        type == MessageType::kFileEnd || type == MessageType::kBlockCopy ||
                        type == MessageType::kSourceCopy || type == MessageType::kFileAbort;
  // Only the SetMeta that comes with a refused transfer is skipped (DoSetMeta).
  if (!transfer && type != MessageType::kSetMeta) meta_skip_path_.clear();
  Status st = ApplyOne(operation);
  if (!st.ok() && transfer && type != MessageType::kFileAbort) {
    NoteUnwritten(transfer_path_);
    meta_skip_path_ = transfer_path_;
  }
  applied_seq_ = seq;  // processed, successfully or with its failure reported
  return st;
}

void Applier::MoveUnwritten(const std::string& from, const std::string* to) {
  if (unwritten_.empty()) return;
  // `top` and what is beneath it (`top/...`; not a sibling such as `top-2`, which sorts between).
  auto take = [&](const std::string& top) {
    std::vector<std::string> out;
    if (unwritten_.erase(top) != 0) out.push_back(top);
    const std::string below = top + "/";
    for (auto it = unwritten_.lower_bound(below);
         it != unwritten_.end() && it->starts_with(below);) {
      out.push_back(*it);
      it = unwritten_.erase(it);
    }
    return out;
  };
  const std::vector<std::string> moved = take(from);
  if (to == nullptr) return;
  (void)take(*to);  // replaced
  for (const std::string& p : moved) unwritten_.insert(*to + p.substr(from.size()));
}

Status Applier::ApplyOne(const Message& operation) {
  bool in_file = file_ != nullptr || skipping_file_;
  MessageType type = TypeOf(operation);
  if (in_file && type != MessageType::kFileData && type != MessageType::kFileEnd &&
      type != MessageType::kFileAbort && type != MessageType::kBlockCopy &&
      type != MessageType::kSourceCopy) {
    return BreakStream(fmt::format("{} in the middle of a file transfer", MessageTypeName(type)));
  }
  return std::visit(
      [&](const auto& m) -> Status {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Mkdir>) {
          return DoMkdir(m);
        } else if constexpr (std::is_same_v<T, Symlink>) {
          return DoSymlink(m);
        } else if constexpr (std::is_same_v<T, MakeNode>) {
          return DoMakeNode(m);
        } else if constexpr (std::is_same_v<T, Hardlink>) {
          return DoHardlink(m);
        } else if constexpr (std::is_same_v<T, Rename>) {
          return DoRename(m);
        } else if constexpr (std::is_same_v<T, Unlink>) {
          return DoUnlink(m.path, false);
        } else if constexpr (std::is_same_v<T, Rmdir>) {
          return DoUnlink(m.path, true);
        } else if constexpr (std::is_same_v<T, SetMeta>) {
          return DoSetMeta(m);
        } else if constexpr (std::is_same_v<T, FileBegin>) {
          return DoFileBegin(m);
        } else if constexpr (std::is_same_v<T, FileData>) {
          return DoFileData(m);
        } else if constexpr (std::is_same_v<T, FileEnd>) {
          return DoFileEnd(m);
        } else if constexpr (std::is_same_v<T, BlockCopy>) {
          return DoBlockCopy(m);
        } else if constexpr (std::is_same_v<T, SourceCopy>) {
          return DoSourceCopy(m);
        } else if constexpr (std::is_same_v<T, FileAbort>) {
          if (skipping_file_) {
            skipping_file_ = false;
            return Status::Ok();
          }
          if (!file_) return BreakStream("FileAbort without FileBegin");
          AbandonFile();
          return Status::Ok();
        } else if constexpr (std::is_same_v<T, Barrier>) {
          return DoBarrier(m);
        } else {
          return BreakStream("not an operation");
        }
      },
      operation);
}

// ---- operations ----------------------------------------------------------------------------

#define GEOREP_VALIDATE_PATH(path, allow_root)                               \
  do {                                                                       \
    Status georep_path_status_ = ValidateRelativePath((path), (allow_root)); \
    if (!georep_path_status_.ok()) {                                         \
      return Fail(ErrorCode::kInvalidPath, georep_path_status_);             \
    }                                                                        \
  } while (false)

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
    ts[0] = ToTimespec(m.atime_ns);
    ts[1] = ToTimespec(m.mtime_ns);
    if (!(m.fields & kMetaAtime)) ts[0].tv_nsec = UTIME_OMIT;
    if (!(m.fields & kMetaMtime)) ts[1].tv_nsec = UTIME_OMIT;
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

Status Applier::DoFileBegin(const FileBegin& m) {
  // Until FileEnd/FileAbort, the data of a file that cannot be written is skipped; its
  // failure is reported once, here.
  skipping_file_ = true;
  transfer_path_ = m.path;
  GEOREP_VALIDATE_PATH(m.path, false);
  unwritten_.erase(m.path);
  GEOREP_ASSIGN_OR_RETURN(Parent p, OpenParent(m.path));
  std::string temp = NewTempName(p.leaf);
  // Readable too: bytes copied in the kernel are hashed from it (CopyIntoFile).
  int fd = ::openat(p.fd, temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return FailErrno(errno, "cannot create temporary file for", m.path);
  file_ = std::make_unique<OpenFile>();
  file_->begin_seq = m.seq;
  file_->path = m.path;
  file_->parent = std::move(p);
  file_->temp_name = std::move(temp);
  file_->fd = UniqueFd(fd);
  file_->mode = m.mode & 07777;
  skipping_file_ = false;
  return Status::Ok();
}

Status Applier::WriteFileBytes(std::string_view bytes, uint64_t offset) {
  OpenFile& f = *file_;
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = calls_->Pwrite(f.fd.get(), bytes.data() + done, bytes.size() - done,
                               static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return FailErrno(n < 0 ? errno : EIO, "cannot write", f.path);
    done += static_cast<size_t>(n);
  }
  // Large writes are put on their way to the disk now, so that the sync before the rename
  // (per file or per batch) finds little left to do and the transfer overlaps the writeback.
  if (options_.durability != Durability::kNone && bytes.size() >= kWritebackBytes) {
    (void)::sync_file_range(f.fd.get(), static_cast<off_t>(offset),
                            static_cast<off_t>(bytes.size()), SYNC_FILE_RANGE_WRITE);
  }
  return Status::Ok();
}

Status Applier::CopyIntoFile(int from, uint64_t from_offset, uint64_t offset, uint64_t length,
                             std::string_view what, ErrorCode short_code,
                             std::string_view short_read) {
  OpenFile& f = *file_;
  std::string& buffer = copy_buffer_;
  buffer.resize(static_cast<size_t>(std::min<uint64_t>(length, 1u << 20)));
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = 0;
    if (copy_in_kernel_) {
      auto in_off = static_cast<off_t>(from_offset + done);
      auto out_off = static_cast<off_t>(offset + done);
      n = calls_->CopyFileRange(from, &in_off, f.fd.get(), &out_off,
                                static_cast<size_t>(std::min<uint64_t>(length - done, 8u << 20)));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS ||
                    errno == EBADF)) {
        copy_in_kernel_ = false;  // not between these files here: read and write instead
        continue;
      }
      if (n > 0) {
        // Hashed where it landed: what the file now holds is what FileEnd verifies.
        if (Status h = HashFileBytes(f.fd.get(), offset + done, static_cast<size_t>(n), &f.hasher,
                                     &buffer);
            !h.ok()) {
          AbandonFile();
          skipping_file_ = true;
          return Fail(ErrorCode::kIO, std::move(h));
        }
        if (options_.durability != Durability::kNone) {
          (void)::sync_file_range(f.fd.get(), static_cast<off_t>(offset + done), n,
                                  SYNC_FILE_RANGE_WRITE);
        }
        done += static_cast<uint64_t>(n);
        continue;
      }
    } else {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), length - done));
      n = ::pread(from, buffer.data(), want, static_cast<off_t>(from_offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) {
        const std::string_view bytes(buffer.data(), static_cast<size_t>(n));
        f.hasher.Update(bytes);
        if (Status w = WriteFileBytes(bytes, offset + done); !w.ok()) {
          AbandonFile();
          skipping_file_ = true;
          return w;
        }
        done += static_cast<uint64_t>(n);
        continue;
      }
    }
    // Nothing copied: a failure, or `from` ended before the range did.
    const int err = errno;
    const std::string path = f.path;
    AbandonFile();
    skipping_file_ = true;
    if (n < 0) {
      return FailErrno(err,
                       copy_in_kernel_ ? fmt::format("cannot copy {} into", what)
                                       : fmt::format("cannot read {}", what),
                       path);
    }
    return Fail(short_code, Status::Corruption(std::string(short_read)));
  }
  f.next_offset = offset + length;
  return Status::Ok();
}

Status Applier::DoFileData(const FileData& m) {
  if (skipping_file_) return Status::Ok();
  if (!file_) return BreakStream("FileData without FileBegin");
  OpenFile& f = *file_;
  if (m.offset < f.next_offset) {
    return BreakStream(fmt::format("FileData for '{}' at offset {} overlaps data up to {}", f.path,
                                   m.offset, f.next_offset));
  }
  f.hasher.UpdateZeros(m.offset - f.next_offset);  // a hole
  f.hasher.Update(m.data);
  if (Status w = WriteFileBytes(m.data, m.offset); !w.ok()) {
    AbandonFile();
    skipping_file_ = true;
    return w;
  }
  f.next_offset = m.offset + m.data.size();
  return Status::Ok();
}

Status Applier::DoBlockCopy(const BlockCopy& m) {
  if (skipping_file_) return Status::Ok();
  if (!file_) return BreakStream("BlockCopy without FileBegin");
  if ((options_.capabilities & kCapBlockDelta) == 0)
    return BreakStream("BlockCopy without the block-delta capability");
  OpenFile& f = *file_;
  if (m.offset < f.next_offset) {
    return BreakStream(fmt::format("BlockCopy for '{}' at offset {} overlaps data up to {}", f.path,
                                   m.offset, f.next_offset));
  }
  if (!f.basis.valid()) {
    int fd = ::openat(f.parent.fd, f.parent.leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
      ::close(fd);
      fd = -1;
      errno = ENOENT;
    }
    if (fd < 0) {
      const int err = errno;
      const std::string path = f.path;
      AbandonFile();
      skipping_file_ = true;
      return Fail(ErrorCode::kNotFound,
                  ErrnoStatus(err, "no earlier version to copy blocks from at", path));
    }
    f.basis = UniqueFd(fd);
  }
  f.hasher.UpdateZeros(m.offset - f.next_offset);  // a hole
  return CopyIntoFile(
      f.basis.get(), m.base_offset, m.offset, m.length, "the earlier version of",
      ErrorCode::kHashMismatch,
      fmt::format("the earlier version of '{}' at the destination is shorter than the worker "
                  "knew it; the file was left unchanged",
                  f.path));
}

Status Applier::DoSourceCopy(const SourceCopy& m) {
  if (skipping_file_) return Status::Ok();
  if (!file_) return BreakStream("SourceCopy without FileBegin");
  if ((options_.capabilities & kCapSourceCopy) == 0 || !source_root_.valid())
    return BreakStream("SourceCopy without the source-copy capability");
  OpenFile& f = *file_;
  if (m.offset < f.next_offset) {
    return BreakStream(fmt::format("SourceCopy for '{}' at offset {} overlaps data up to {}",
                                   f.path, m.offset, f.next_offset));
  }
  f.source_copied = true;
  if (!f.source.valid()) {
    Result<UniqueFd> opened = OpenBeneath(source_root_.get(), f.path, O_RDONLY);
    struct stat st {};
    int err = opened.ok() ? 0 : ENOENT;
    if (opened.ok() && (::fstat(opened->get(), &st) != 0 || !S_ISREG(st.st_mode))) err = ENOENT;
    if (err != 0) {
      const std::string path = f.path;
      AbandonFile();
      skipping_file_ = true;
      return Fail(
          ErrorCode::kSourceChanged,
          Status::NotFound(fmt::format(
              "'{}' is no longer a file at the source; the file was left unchanged", path)));
    }
    f.source = std::move(*opened);
  }
  f.hasher.UpdateZeros(m.offset - f.next_offset);  // a hole
  return CopyIntoFile(f.source.get(), m.offset, m.offset, m.length, "the source file",
                      ErrorCode::kSourceChanged,
                      fmt::format("'{}' shrank at the source while being copied; the file was "
                                  "left unchanged",
                                  f.path));
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
    ts[0] = ToTimespec(m.atime_ns);
    ts[1] = ToTimespec(m.mtime_ns);
    if (!(m.fields & kMetaAtime)) ts[0].tv_nsec = UTIME_OMIT;
    if (!(m.fields & kMetaMtime)) ts[1].tv_nsec = UTIME_OMIT;
    if (::futimens(fd, ts) != 0) return fail_errno(errno, "cannot set times of");
  }
  return Status::Ok();
}

Status Applier::HandleAll(const std::vector<Message>& messages, std::vector<Message>* replies,
                          bool more_input) {
  collecting_ = true;
  Status st = Status::Ok();
  for (size_t i = 0; i < messages.size() && st.ok(); ++i) {
    may_defer_ = more_input || i + 1 < messages.size();
    if (file_queue_ != nullptr && std::holds_alternative<FileBegin>(messages[i])) {
      if (const size_t last = StartFileJob(messages, i); last != 0) {
        i = last;
        continue;
      }
    }
    const auto* end = std::get_if<FileEnd>(&messages[i]);
    const auto* meta = end != nullptr && i + 1 < messages.size()
                           ? std::get_if<SetMeta>(&messages[i + 1])
                           : nullptr;
    if (meta != nullptr && file_ && !skipping_file_ && handshake_done_ && !stream_broken_ &&
        meta->path == file_->path && end->seq > applied_seq_ && meta->seq > end->seq) {
      st = HandleFileEndWithMeta(*end, *meta);
      ++i;
      continue;
    }
    st = HandleOne(messages[i]);
  }
  may_defer_ = false;
  // The oldest Ack held: a stream that goes on without a Barrier (a large file) would keep
  // the batch before it unacknowledged until the file ends.
  auto held =
      std::find_if(out_.begin(), out_.end(), [](const Out& o) { return o.hold != Hold::kNone; });
  const bool stale =
      held != out_.end() && clock_->MonotonicMillis() - held->held_at_ms > kMaxHoldMillis;
  if (file_queue_ != nullptr) StartFileGroup();  // the next call may be a while
  if (!more_input || !st.ok() || stale) {
    FinishFileJobs();
    SyncEverything();
  }
  while (!out_.empty() && out_.front().hold == Hold::kNone) {
    replies->push_back(std::move(out_.front().message));
    out_.pop_front();
  }
  collecting_ = false;
  return st;
}

Status Applier::HandleFileEndWithMeta(const FileEnd& end, const SetMeta& meta) {
  Status meta_status;
  Status st = DoFileEnd(end, &meta, &meta_status);
  applied_seq_ = end.seq;
  if (!st.ok()) {
    // The file stays as it was, its metadata too: the SetMeta describes the version that did
    // not arrive, and its mtime on the old bytes would make them pass for that version in any
    // quick check of size and mtime (a reconciliation's, rsync's) -- for ever. The refusal
    // has the worker send both again.
    NoteUnwritten(transfer_path_);
    meta_skip_path_ = transfer_path_;
    Emit(Error{end.seq, last_error_code_, st.ToString()});
    return HandleOne(Message(meta));  // in order, as on its own: DoSetMeta leaves the file be
  }
  applied_seq_ = meta.seq;
  if (!meta_status.ok()) Emit(Error{meta.seq, meta_error_code_, meta_status.ToString()});
  return Status::Ok();
}

Status Applier::CloseNewFile(UniqueFd* fd, ContentHasher* hasher, uint64_t received,
                             bool source_copied, uint32_t mode, const std::string& path,
                             const FileEnd& m, const SetMeta* meta, Status* meta_status,
                             ErrorCode* meta_code, ErrorCode* code) const {
  auto fail = [&](ErrorCode c, Status st) {
    *code = c;
    return st;
  };
  auto fail_errno = [&](int err, std::string_view what) {
    return fail(CodeForErrno(err), ErrnoStatus(err, what, path));
  };
  if (m.size < received) {
    return fail(ErrorCode::kHashMismatch,
                Status::Corruption(fmt::format(
                    "FileEnd for '{}' gives size {} but {} bytes were received; the file was "
                    "left unchanged",
                    path, m.size, received)));
  }
  hasher->UpdateZeros(m.size - received);
  const Hash128 got = hasher->Finish();
  if (!(got == m.hash) && source_copied) {
    // The agent read the source at another moment than the worker did.
    return fail(
        ErrorCode::kSourceChanged,
        Status::Corruption(fmt::format(
            "'{}' changed at the source while being copied; the file was left unchanged", path)));
  }
  if (!(got == m.hash)) {
    return fail(ErrorCode::kHashMismatch,
                Status::Corruption(fmt::format(
                    "content hash mismatch for '{}' (sent {}, received {}); the file was left "
                    "unchanged",
                    path, m.hash.ToHex(), got.ToHex())));
  }
  // The temporary file is new: it already has the size of the data written, unless the file
  // ends in a hole.
  if (m.size != received && calls_->Ftruncate(fd->get(), static_cast<off_t>(m.size)) != 0) {
    return fail_errno(errno, "cannot set the size of");
  }
  if (meta != nullptr) {
    // A metadata failure is the SetMeta's own; the content still goes into place.
    *meta_status = SetMetaOnNewFile(fd->get(), mode, *meta, meta_code);
  } else if (::fchmod(fd->get(), mode) != 0) {
    return fail_errno(errno, "cannot change mode of");
  }
  if ((options_.durability == Durability::kFile ||
       options_.durability == Durability::kFileAndDirectory) &&
      calls_->Fsync(fd->get()) != 0) {
    return fail_errno(errno, "cannot fsync");
  }
  // close() can report a deferred write error (NFS and the like).
  if (::close(fd->Release()) != 0) return fail_errno(errno, "cannot close");
  return Status::Ok();
}

Status Applier::DoFileEnd(const FileEnd& m, const SetMeta* meta, Status* meta_status) {
  if (skipping_file_) {
    skipping_file_ = false;
    return Status::Ok();
  }
  if (!file_) return BreakStream("FileEnd without FileBegin");
  OpenFile& f = *file_;
  std::string path = f.path;
  ErrorCode code = ErrorCode::kOther;
  if (Status st = CloseNewFile(&f.fd, &f.hasher, f.next_offset, f.source_copied, f.mode, path, m,
                               meta, meta_status, &meta_error_code_, &code);
      !st.ok()) {
    AbandonFile();
    return Fail(code, std::move(st));
  }
  if (options_.durability == Durability::kBatch) {
    Staged staged;
    staged.parent_owned = f.parent.owned;
    staged.parent = f.parent.fd;
    staged.temp = f.temp_name;
    staged.leaf = f.parent.leaf;
    staged.path = path;
    staged.seq = meta != nullptr ? meta->seq : m.seq;
    staged_paths_.insert(path);
    const auto slash = path.rfind('/');
    staged_dirs_.insert(slash == std::string::npos ? "." : path.substr(0, slash));
    staged_.push_back(std::move(staged));
    file_.reset();
    return Status::Ok();
  }
  Status st = RenameReplacing(f.parent.fd, f.temp_name, f.parent.fd, f.parent.leaf, path);
  if (!st.ok()) {
    AbandonFile();
    return st;
  }
  st = SyncDirectory(f.parent.fd, path);
  file_.reset();
  return st;
}

Status Applier::DoBarrier(const Barrier& m) {
  if (!m.durable) return Status::Ok();
  if (!collecting_) {  // Apply() alone: a sync of its own (staged files wait for Handle())
    if (calls_->Syncfs(root_.get()) != 0)
      return FailErrno(errno, "cannot sync the destination file system at", ".");
    return Status::Ok();
  }
  (void)FinishSync();  // the previous batch's files go in
  const bool files = !staged_.empty();
  if (files) {
    syncing_ = std::exchange(staged_, {});
    syncing_paths_ = std::exchange(staged_paths_, {});
    syncing_dirs_ = std::exchange(staged_dirs_, {});
    syncing_barrier_ = m.seq;
  }
  // This batch's data, and every rename before it.
  StartSync(may_defer_);
  if (may_defer_) {
    barrier_hold_ = files ? Hold::kRenames : Hold::kSync;
    return Status::Ok();
  }
  // Nothing more at hand: durable now -- the files in place, and their renames synced too.
  GEOREP_RETURN_IF_ERROR(FinishSync());
  if (!files) return Status::Ok();
  StartSync(false);
  return FinishSync();
}

// ---- whole small files on the file threads -------------------------------------------------

size_t Applier::StartFileJob(const std::vector<Message>& messages, size_t i) {
  const auto& begin = std::get<FileBegin>(messages[i]);
  if (!collecting_ || !handshake_done_ || stream_broken_ || file_ || skipping_file_ ||
      begin.seq <= applied_seq_ || !ValidateRelativePath(begin.path, false).ok()) {
    return 0;
  }
  // The whole file, in order, here: its data (no BlockCopy or SourceCopy), its FileEnd.
  uint64_t seq = begin.seq;
  uint64_t next = 0;
  uint64_t bytes = 0;
  size_t j = i + 1;
  for (; j < messages.size(); ++j) {
    const auto* data = std::get_if<FileData>(&messages[j]);
    if (data == nullptr) break;
    if (data->seq <= seq || data->offset < next || data->offset > kFileJobBytes) return 0;
    bytes += data->data.size();
    if (bytes > kFileJobBytes) return 0;
    seq = data->seq;
    next = data->offset + data->data.size();
  }
  const auto* end = j < messages.size() ? std::get_if<FileEnd>(&messages[j]) : nullptr;
  if (end == nullptr || end->seq <= seq || end->size > kFileJobBytes) return 0;
  const SetMeta* meta = j + 1 < messages.size() ? std::get_if<SetMeta>(&messages[j + 1]) : nullptr;
  if (meta != nullptr && (meta->path != begin.path || meta->seq <= end->seq)) meta = nullptr;

  // A file in flight at the same path (or above or below it) goes in first; so do the oldest,
  // past the bounds.
  if (TouchesFileJobs(begin.path)) FinishFileJobs();
  while (!jobs_.empty() &&
         (jobs_.size() >= kMaxFileJobs || job_bytes_ + bytes > kMaxFileJobBytes)) {
    FinishFileJobs(std::min(jobs_.size() - 1, kMaxFileJobs / 2));
  }
  // As HandleOne does before a FileBegin, the files in flight counted as staged.
  if (!staged_.empty() && staged_.size() + jobs_.size() >= kMaxStagedFiles) FinishFileJobs();
  PrepareFor(messages[i]);
  unwritten_.erase(begin.path);
  Result<Parent> parent = OpenParent(begin.path);
  if (!parent.ok()) return 0;  // HandleOne replies the failure

  auto job = std::make_unique<FileJob>();
  job->parent = std::move(parent).value();
  job->temp = NewTempName(job->parent.leaf);
  job->path = begin.path;
  job->mode = begin.mode & 07777;
  job->begin_seq = begin.seq;
  job->data.reserve(j - i - 1);
  for (size_t k = i + 1; k < j; ++k) job->data.push_back(std::get<FileData>(messages[k]));
  job->end = *end;
  if (meta != nullptr) job->meta = *meta;
  job->bytes = bytes;
  applied_seq_ = meta != nullptr ? meta->seq : end->seq;
  job_paths_.insert(job->path);
  job_bytes_ += bytes;
  // A group stays in one directory, and a directory on one thread while its files come in a
  // row: two threads creating files in one directory mostly wait for each other.
  const std::string_view dir = SplitParent(job->path).first;
  if (dir != lane_dir_) {
    StartFileGroup();
    lane_dir_ = std::string(dir);
    ++lane_;
  }
  forming_.push_back(job.get());
  forming_bytes_ += bytes;
  jobs_.push_back(std::move(job));
  if (forming_.size() >= kFileGroupFiles || forming_bytes_ >= kFileGroupBytes) StartFileGroup();
  return meta != nullptr ? j + 1 : j;
}

bool Applier::TouchesFileJobs(const std::string& path) const {
  if (job_paths_.empty()) return false;
  return path == "." || MeetsOneOf(job_paths_, path);  // all is beneath the root
}

bool Applier::NeedsFileJobs(const Message& message) const {
  // A Barrier: its Ack follows every reply of the batch. A file's data: of the file HandleOne
  // is writing, whose FileBegin was looked at. A directory's times: set after the files in it
  // are written (or renamed in).
  const PathsOf of(message);
  return of.other || of.Any([&](const std::string& path) { return TouchesFileJobs(path); });
}

void Applier::StartFileGroup() {
  if (forming_.empty()) return;
  file_queue_->Run(lane_, [this, group = std::exchange(forming_, {})] {
    for (FileJob* job : group) RunFileJob(*job);
    std::lock_guard<std::mutex> lock(jobs_mutex_);
    for (FileJob* job : group) job->done = true;
    job_done_.notify_all();  // under the lock: the applier may go once it is released
  });
  forming_bytes_ = 0;
}

void Applier::RunFileJob(FileJob& job) const {
  const int dir = job.parent.fd;
  auto fail = [&](uint64_t seq, ErrorCode code, Status st) {
    job.failed_seq = seq;
    job.code = code;
    job.status = std::move(st);
  };
  auto fail_errno = [&](uint64_t seq, int err, std::string_view what) {
    fail(seq, CodeForErrno(err), ErrnoStatus(err, what, job.path));
  };
  // Readable too, as DoFileBegin makes it.
  const int raw =
      ::openat(dir, job.temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (raw < 0) return fail_errno(job.begin_seq, errno, "cannot create temporary file for");
  UniqueFd fd(raw);
  // Removed on the way out, unless kept (in place, staged, or for the applier's thread).
  class TempFile {
   public:
    TempFile(int dir, const std::string& name, UniqueFd* fd) : dir_(dir), name_(name), fd_(fd) {}
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
      if (kept_) return;
      fd_->Reset();
      ::unlinkat(dir_, name_.c_str(), 0);
    }
    void Keep() { kept_ = true; }

   private:
    int dir_;
    const std::string& name_;
    UniqueFd* fd_;
    bool kept_ = false;
  } temp(dir, job.temp, &fd);

  ContentHasher hasher;
  uint64_t next = 0;
  for (const FileData& d : job.data) {
    hasher.UpdateZeros(d.offset - next);  // a hole
    hasher.Update(d.data);
    for (size_t done = 0; done < d.data.size();) {
      const ssize_t n = calls_->Pwrite(fd.get(), d.data.data() + done, d.data.size() - done,
                                       static_cast<off_t>(d.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail_errno(d.seq, n < 0 ? errno : EIO, "cannot write");
      done += static_cast<size_t>(n);
    }
    if (options_.durability != Durability::kNone && d.data.size() >= kWritebackBytes) {
      (void)::sync_file_range(fd.get(), static_cast<off_t>(d.offset),
                              static_cast<off_t>(d.data.size()), SYNC_FILE_RANGE_WRITE);
    }
    next = d.offset + d.data.size();
  }
  const FileEnd& m = job.end;
  if (Status st = CloseNewFile(&fd, &hasher, next, false, job.mode, job.path, m,
                               job.meta ? &*job.meta : nullptr, &job.meta_status, &job.meta_code,
                               &job.code);
      !st.ok()) {
    job.failed_seq = m.seq;
    job.status = std::move(st);
    return;
  }
  if (options_.durability == Durability::kBatch) {
    job.staged = true;
    temp.Keep();
    return;
  }
  if (calls_->Renameat(dir, job.temp.c_str(), dir, job.parent.leaf.c_str()) != 0) {
    const int err = errno;
    if (err == ENOTEMPTY || err == EEXIST || err == EISDIR || err == ENOTDIR) {
      job.in_the_way = true;
      temp.Keep();
      return;
    }
    return fail_errno(m.seq, err, "cannot rename into place");
  }
  temp.Keep();  // it is in place
  if (options_.durability == Durability::kFileAndDirectory && calls_->Fsync(dir) != 0) {
    return fail_errno(m.seq, errno, "cannot fsync directory of");
  }
}

void Applier::FinishFileJobs(size_t keep) {
  if (jobs_.size() > keep) StartFileGroup();
  while (jobs_.size() > keep) {
    {
      std::unique_lock<std::mutex> lock(jobs_mutex_);
      job_done_.wait(lock, [&] { return jobs_.front()->done; });
    }
    const std::unique_ptr<FileJob> job = std::move(jobs_.front());
    jobs_.pop_front();
    job_paths_.erase(job->path);
    job_bytes_ -= job->bytes;
    Status st = job->status;
    ErrorCode code = job->code;
    uint64_t failed_seq = job->failed_seq;
    if (st.ok() && job->in_the_way) {
      st = RenameReplacing(job->parent.fd, job->temp, job->parent.fd, job->parent.leaf, job->path);
      if (!st.ok()) {
        ::unlinkat(job->parent.fd, job->temp.c_str(), 0);
      } else {
        st = SyncDirectory(job->parent.fd, job->path);
      }
      code = last_error_code_;
      failed_seq = job->end.seq;
    }
    if (!st.ok()) {
      // The file stays as it was, its metadata too (as HandleFileEndWithMeta says); its
      // SetMeta still takes its turn, as on one thread -- taken with the file, or, when the
      // file's FileEnd ended what HandleAll had, the next message, which leaves it be too (the
      // file is the last of the files in flight: nothing else comes in between).
      NoteUnwritten(job->path);
      Emit(Error{failed_seq, code, st.ToString()});
      if (job->meta) {
        const Message meta(*job->meta);
        PrepareFor(meta);
        meta_skip_path_ = job->path;
        if (Status m = DoSetMeta(*job->meta); !m.ok()) {
          Emit(Error{job->meta->seq, last_error_code_, m.ToString()});
        }
      } else {
        meta_skip_path_ = job->path;
      }
      continue;
    }
    if (job->staged) {
      Staged staged;
      staged.parent_owned = job->parent.owned;
      staged.parent = job->parent.fd;
      staged.temp = job->temp;
      staged.leaf = job->parent.leaf;
      staged.path = job->path;
      staged.seq = job->meta ? job->meta->seq : job->end.seq;
      staged_paths_.insert(job->path);
      const auto slash = job->path.rfind('/');
      staged_dirs_.insert(slash == std::string::npos ? "." : job->path.substr(0, slash));
      staged_.push_back(std::move(staged));
    }
    if (!job->meta_status.ok())
      Emit(Error{job->meta->seq, job->meta_code, job->meta_status.ToString()});
  }
}

}  // namespace georep::replication
