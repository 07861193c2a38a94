#include "replication/scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "replication/path_beneath.h"

namespace georep::replication {
namespace {

int64_t Nanos(const struct statx_timestamp& t) {
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

EntryType TypeOfMode(uint32_t mode) {
  if (S_ISREG(mode)) return EntryType::kRegular;
  if (S_ISDIR(mode)) return EntryType::kDirectory;
  if (S_ISLNK(mode)) return EntryType::kSymlink;
  return EntryType::kOther;
}

ScanEntry EntryFromStatx(std::string path, const struct statx& sx) {
  ScanEntry e;
  e.path = std::move(path);
  e.mode = sx.stx_mode;
  e.type = TypeOfMode(sx.stx_mode);
  e.uid = sx.stx_uid;
  e.gid = sx.stx_gid;
  e.size = sx.stx_size;
  e.nlink = sx.stx_nlink;
  e.dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  e.ino = sx.stx_ino;
  e.rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
  e.atime_ns = Nanos(sx.stx_atime);
  e.mtime_ns = Nanos(sx.stx_mtime);
  e.ctime_ns = Nanos(sx.stx_ctime);
  return e;
}

// Reads the replicated xattrs through `list` (llistxattr/flistxattr-like) and `get`.
template <typename List, typename Get>
Status ReadXattrsWith(List list, Get get, const std::string& path, XattrNamespaces ns,
                      std::vector<Xattr>* out) {
  std::string names;
  for (int attempt = 0;; ++attempt) {  // the list can grow between the two calls
    ssize_t size = list(nullptr, 0);
    if (size < 0) {
      if (errno == ENOTSUP) return Status::Ok();  // the file system has none
      return ErrnoStatus(errno, "cannot list xattrs of", path);
    }
    names.assign(static_cast<size_t>(size), '\0');
    size = list(names.data(), names.size());
    if (size >= 0) {
      names.resize(static_cast<size_t>(size));
      break;
    }
    if (errno != ERANGE || attempt > 3) return ErrnoStatus(errno, "cannot list xattrs of", path);
  }
  for (size_t pos = 0; pos < names.size();) {
    size_t end = names.find('\0', pos);
    if (end == std::string::npos) end = names.size();
    std::string xname = names.substr(pos, end - pos);
    pos = end + 1;
    const bool wanted =
        xname.starts_with("user.") || (ns.privileged && IsPrivilegedXattr(xname)) ||
        (ns.acls && (xname == "system.posix_acl_access" || xname == "system.posix_acl_default"));
    if (!wanted) continue;
    std::string value;
    for (int attempt = 0;; ++attempt) {
      ssize_t size = get(xname.c_str(), nullptr, 0);
      if (size < 0) {
        if (errno == ENODATA) break;  // removed meanwhile
        return ErrnoStatus(errno, fmt::format("cannot read xattr '{}' of", xname), path);
      }
      value.assign(static_cast<size_t>(size), '\0');
      size = get(xname.c_str(), value.data(), value.size());
      if (size >= 0) {
        value.resize(static_cast<size_t>(size));
        out->push_back({xname, value});
        break;
      }
      if (errno != ERANGE || attempt > 3) {
        return ErrnoStatus(errno, fmt::format("cannot read xattr '{}' of", xname), path);
      }
    }
  }
  std::sort(out->begin(), out->end(),
            [](const Xattr& a, const Xattr& b) { return a.name < b.name; });
  return Status::Ok();
}

// Reads the replicated xattrs of `name` in `dir` without following a symlink.
Status ReadXattrs(int dir, const std::string& name, const std::string& path, XattrNamespaces ns,
                  std::vector<Xattr>* out) {
  const std::string proc = fmt::format("/proc/self/fd/{}/{}", dir, name);
  return ReadXattrsWith([&](char* buf, size_t n) { return ::llistxattr(proc.c_str(), buf, n); },
                        [&](const char* xname, void* buf, size_t n) {
                          return ::lgetxattr(proc.c_str(), xname, buf, n);
                        },
                        path, ns, out);
}

XattrNamespaces NamespacesOf(const ScanOptions& options) {
  return {.privileged = options.trusted_xattrs, .acls = options.acl_xattrs};
}

class TreeScan {
 public:
  TreeScan(int root_fd, uint64_t root_dev, const ScanOptions& options, ScanSink& sink)
      : root_fd_(root_fd), root_dev_(root_dev), options_(options), sink_(sink) {}

  // Delivers `first` (the entry of the directory `dir`, "" for the root) and everything
  // beneath it.
  ScanStats Run(std::vector<ScanEntry> first, const std::string& dir = "") {
    bool descend = !first.empty();
    Deliver(std::move(first), {},
            descend ? std::vector<std::string>{dir} : std::vector<std::string>{});
    int n = std::clamp(options_.threads, 1, 64);
    if (n == 1) {  // on the calling thread: no thread to start for a small scan
      Work();
      return stats_;
    }
    std::vector<std::thread> threads;
    threads.reserve(n);
    for (int i = 0; i < n; ++i) threads.emplace_back([this] { Work(); });
    for (std::thread& t : threads) t.join();
    return stats_;
  }

 private:
  void Work() {
    while (true) {
      std::string dir;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty() || busy_ == 0; });
        if (queue_.empty()) return;  // nothing queued and nobody can queue more
        dir = std::move(queue_.front());
        queue_.pop_front();
        ++busy_;
      }
      ReadDirectory(dir);
      {
        std::lock_guard lock(mu_);
        --busy_;
      }
      cv_.notify_all();
    }
  }

  // Reads one directory ("" is the root) and delivers its entries.
  void ReadDirectory(const std::string& dir) {
    std::vector<ScanEntry> batch;
    std::vector<ScanError> errors;
    std::vector<std::string> subdirs;
    ScanStats local;
    std::string shown = dir.empty() ? "." : dir;
    Result<UniqueFd> fd = OpenBeneath(root_fd_, dir, O_RDONLY | O_DIRECTORY);
    if (!fd.ok()) {
      errors.push_back({shown, fd.status().WithContext("cannot read directory")});
      Deliver({}, std::move(errors), {});
      return;
    }
    int dfd = fd->get();
    DIR* d = ::fdopendir(fd->Release());
    if (d == nullptr) {
      int err = errno;
      ::close(dfd);
      errors.push_back({shown, ErrnoStatus(err, "cannot read directory", shown)});
      Deliver({}, std::move(errors), {});
      return;
    }
    while (true) {
      errno = 0;
      struct dirent* de = ::readdir(d);
      if (de == nullptr) {
        if (errno != 0)
          errors.push_back({shown, ErrnoStatus(errno, "cannot read directory", shown)});
        break;
      }
      std::string name = de->d_name;
      if (name == "." || name == "..") continue;
      std::string path = JoinPath(dir, name);
      struct statx sx {};
      if (::statx(dfd, name.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS,
                  &sx) != 0) {
        if (errno == ENOENT) {
          ++local.vanished;
        } else {
          errors.push_back({path, ErrnoStatus(errno, "cannot stat", path)});
        }
        continue;
      }
      ScanEntry e = EntryFromStatx(path, sx);
      if (e.type == EntryType::kSymlink) {
        std::string target(4096, '\0');
        ssize_t n = ::readlinkat(dfd, name.c_str(), target.data(), target.size());
        if (n < 0) {
          if (errno == ENOENT) {
            ++local.vanished;
          } else {
            errors.push_back({path, ErrnoStatus(errno, "cannot read symlink", path)});
          }
          continue;
        }
        target.resize(static_cast<size_t>(n));
        e.symlink_target = std::move(target);
      }
      if (options_.read_xattrs) {
        Status st = ReadXattrs(dfd, name, path, NamespacesOf(options_), &e.xattrs);
        e.xattrs_read = st.ok();
        if (!st.ok()) {
          if (st.code() == StatusCode::kNotFound) {
            ++local.vanished;
          } else {
            errors.push_back({path, st});
          }
          continue;
        }
      }
      if (e.type == EntryType::kDirectory) {
        if (e.dev != root_dev_ && !options_.cross_mounts) {
          e.mount_point = true;
          ++local.mount_points;
        } else {
          subdirs.push_back(path);
        }
      }
      batch.push_back(std::move(e));
    }
    ::closedir(d);
    std::sort(batch.begin(), batch.end(),
              [](const ScanEntry& a, const ScanEntry& b) { return a.path < b.path; });
    {
      std::lock_guard lock(mu_);
      stats_.vanished += local.vanished;
    }
    Deliver(std::move(batch), std::move(errors), std::move(subdirs));
  }

  // Hands a batch to the sink, then queues its subdirectories: a directory is read only after
  // its own entry was delivered.
  void Deliver(std::vector<ScanEntry> batch, std::vector<ScanError> errors,
               std::vector<std::string> subdirs) {
    {
      std::lock_guard sink_lock(sink_mu_);
      uint64_t dirs = 0;
      for (const ScanEntry& e : batch) dirs += e.type == EntryType::kDirectory ? 1 : 0;
      uint64_t mounts = 0;
      for (const ScanEntry& e : batch) mounts += e.mount_point ? 1 : 0;
      {
        std::lock_guard lock(mu_);
        stats_.entries += batch.size();
        stats_.directories += dirs;
        stats_.mount_points += mounts;
        stats_.errors += errors.size();
      }
      for (ScanError& e : errors) sink_.OnError(std::move(e));
      if (!batch.empty()) sink_.OnEntries(std::move(batch));
    }
    if (subdirs.empty()) return;
    {
      std::lock_guard lock(mu_);
      for (std::string& s : subdirs) queue_.push_back(std::move(s));
    }
    cv_.notify_all();
  }

  const int root_fd_;
  const uint64_t root_dev_;
  const ScanOptions& options_;
  ScanSink& sink_;
  std::mutex sink_mu_;  // serialises sink calls
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // GUARDED_BY(mu_): directories waiting to be read
  int busy_ = 0;                   // GUARDED_BY(mu_): directories being read
  ScanStats stats_;                // GUARDED_BY(mu_)
};

class VectorSink final : public ScanSink {
 public:
  explicit VectorSink(ScanResult* out) : out_(out) {}
  void OnEntries(std::vector<ScanEntry> entries) override {
    for (ScanEntry& e : entries) out_->entries.push_back(std::move(e));
  }
  void OnError(ScanError error) override { out_->errors.push_back(std::move(error)); }

 private:
  ScanResult* out_;
};

}  // namespace

bool IsPrivilegedXattr(std::string_view name) {
  return name.starts_with("trusted.") || name == "security.capability";
}

Status ReadXattrsOfFd(int fd, const std::string& path, XattrNamespaces ns,
                      std::vector<Xattr>* out) {
  out->clear();
  return ReadXattrsWith(
      [&](char* buf, size_t n) { return ::flistxattr(fd, buf, n); },
      [&](const char* xname, void* buf, size_t n) { return ::fgetxattr(fd, xname, buf, n); }, path,
      ns, out);
}

Status ReadXattrsBeneath(int root_fd, const std::string& path, XattrNamespaces ns,
                         std::vector<Xattr>* out) {
  out->clear();
  if (path == ".") return ReadXattrs(root_fd, ".", path, ns, out);
  const auto [parent, leaf] = SplitParent(path);
  GEOREP_ASSIGN_OR_RETURN(UniqueFd dir, OpenBeneath(root_fd, parent, O_PATH | O_DIRECTORY));
  return ReadXattrs(dir.get(), std::string(leaf), path, ns, out);
}

Result<ScanStats> ScanTree(const std::string& root, const ScanOptions& options, ScanSink& sink) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open source root", root);
  UniqueFd root_fd(fd);
  struct statx sx {};
  if (::statx(root_fd.get(), "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) != 0) {
    return ErrnoStatus(errno, "cannot stat source root", root);
  }
  ScanEntry e = EntryFromStatx(".", sx);
  std::vector<ScanEntry> root_batch;
  if (options.read_xattrs) {
    Status st = ReadXattrs(root_fd.get(), ".", ".", NamespacesOf(options), &e.xattrs);
    if (!st.ok()) return st;
    e.xattrs_read = true;
  }
  root_batch.push_back(std::move(e));
  TreeScan scan(root_fd.get(), root_batch.front().dev, options, sink);
  return scan.Run(std::move(root_batch));
}

Result<ScanResult> ScanBeneath(int root_fd, const std::string& path, bool deep,
                               const ScanOptions& options) {
  struct statx root_sx {};
  if (::statx(root_fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &root_sx) != 0)
    return ErrnoStatus(errno, "cannot stat source root", ".");
  const uint64_t root_dev = makedev(root_sx.stx_dev_major, root_sx.stx_dev_minor);
  ScanResult result;
  ScanEntry e;
  if (path == ".") {
    e = EntryFromStatx(".", root_sx);
    if (options.read_xattrs) {
      GEOREP_RETURN_IF_ERROR(ReadXattrs(root_fd, ".", ".", NamespacesOf(options), &e.xattrs));
      e.xattrs_read = true;
    }
  } else {
    GEOREP_RETURN_IF_ERROR(ValidateRelativePath(path));
    const auto [parent, leaf] = SplitParent(path);
    Result<UniqueFd> dir = OpenBeneath(root_fd, parent, O_PATH | O_DIRECTORY);
    if (!dir.ok()) {
      // A directory above it is gone, or is no longer a directory: so is the entry, there.
      // (ELOOP and ENOTDIR come as InvalidArgument; the path itself was validated above.)
      if (dir.status().code() == StatusCode::kNotFound ||
          dir.status().code() == StatusCode::kInvalidArgument)
        return Status::NotFound("'" + path + "' is gone");
      return dir.status();
    }
    const std::string name(leaf);
    struct statx sx {};
    if (::statx(dir->get(), name.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS,
                &sx) != 0)
      return ErrnoStatus(errno, "cannot stat", path);
    e = EntryFromStatx(path, sx);
    if (e.type == EntryType::kSymlink) {
      std::string target(4096, '\0');
      ssize_t n = ::readlinkat(dir->get(), name.c_str(), target.data(), target.size());
      if (n < 0) return ErrnoStatus(errno, "cannot read symlink", path);
      target.resize(static_cast<size_t>(n));
      e.symlink_target = std::move(target);
    }
    if (options.read_xattrs) {
      GEOREP_RETURN_IF_ERROR(ReadXattrs(dir->get(), name, path, NamespacesOf(options), &e.xattrs));
      e.xattrs_read = true;
    }
    if (e.type == EntryType::kDirectory && e.dev != root_dev && !options.cross_mounts)
      e.mount_point = true;
  }
  const bool descend = deep && e.type == EntryType::kDirectory && !e.mount_point;
  if (!descend) {
    result.stats.entries = 1;
    result.stats.directories = e.type == EntryType::kDirectory ? 1 : 0;
    result.stats.mount_points = e.mount_point ? 1 : 0;
    result.entries.push_back(std::move(e));
    return result;
  }
  VectorSink sink(&result);
  std::vector<ScanEntry> first;
  first.push_back(std::move(e));
  TreeScan scan(root_fd, root_dev, options, sink);
  result.stats = scan.Run(std::move(first), path == "." ? "" : path);
  return result;
}

Result<ScanResult> ScanTreeToVector(const std::string& root, const ScanOptions& options) {
  ScanResult result;
  VectorSink sink(&result);
  GEOREP_ASSIGN_OR_RETURN(result.stats, ScanTree(root, options, sink));
  return result;
}

}  // namespace georep::replication
